"""`oms worker` / `python -m entrypoints.worker`: the worker process (order engine, position manager,
post-trade risk) with its routing and risk options.

`--venues` is the venue catalogue (an order for a venue outside it is denied
with UNKNOWN_VENUE instead of waiting for a gateway that does not exist) and
`--risk-defaults` the fail-closed default limits, `--external-orders` the
policy for reports of orders the OMS did not create (reject or adopt); each
overrides its setting (`OMS_VENUES`, `OMS_RISK_DEFAULTS`, `OMS_EXTERNAL_ORDERS`) and is checked before anything connects.
It connects to the cluster the settings name, creates the topics if missing
and runs `processors.worker.run_worker` until SIGTERM or SIGINT; the exit
status is the worker's.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional, Sequence

import typer
from pydantic import ValidationError

from entrypoints.context import configure_logging, entry, run
from oms.commands import CommandError
from oms.routing import StaticRouter

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command("worker")
def worker(
    ctx: typer.Context,
    route: Annotated[str, typer.Option(help="venue per instrument, e.g. AAPL=SIM-A,MSFT=SIM-B")] = "",
    default_venue: Annotated[str, typer.Option(help="venue of every instrument --route does not name")] = "SIM",
    venues: Annotated[Optional[str], typer.Option(
        help="the venue catalogue, e.g. SIM-A,SIM-B; an order for another venue is denied "
             "(default: OMS_VENUES, else the default venue plus the routed ones)")] = None,
    risk_defaults: Annotated[Optional[str], typer.Option(
        help="default limits of an account with none of its own, e.g. max_order_qty=50000 "
             "(default: OMS_RISK_DEFAULTS, else the built-in ones)")] = None,
    external_orders: Annotated[Optional[str], typer.Option(
        help="reports of orders the OMS did not create: reject (an UNKNOWN_ORDER anomaly) or adopt "
             "(an external order, its fills booked) (default: OMS_EXTERNAL_ORDERS, else reject)")] = None,
    instance: Annotated[Optional[str], typer.Option(
        help="this worker's name among several sharing the partitions (transactional and static member id, "
             "its own state stores) (default: OMS_WORKER_INSTANCE, else 0)")] = None,
    loglevel: Annotated[str, typer.Option(help="debug, info, warning or error")] = "warning",
) -> None:
    """Run the order engine, position manager and post-trade risk (one worker process)."""
    from processors.app import WorkerOptions
    from processors.worker import run_worker
    from streams.runtime import connect

    e = entry(ctx)
    settings = e.settings
    try:
        settings = settings.with_(**{k: v for k, v in (("venues", venues), ("risk_defaults", risk_defaults),
                                                                   ("external_orders", external_orders),
                                                                   ("worker_instance", instance))
                                     if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CommandError(str(first["loc"][0]).replace("_", "-"), str(first["msg"]).removeprefix("Value error, ")
                           ) from None
    try:
        router = StaticRouter.parse(route, default_venue, venues=settings.venues)
    except ValueError as exc:
        if str(exc).startswith("route "):
            raise CommandError("route", f"{route!r} is not INSTRUMENT=VENUE,...") from None
        raise CommandError("venues", str(exc)) from None
    configure_logging(loglevel)
    rt = connect(settings)
    rt.ensure_topics()
    code = run_worker(settings, rt.bootstrap_servers, WorkerOptions(router=router), loglevel, clock=e.clock)
    if code:
        raise typer.Exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    return run(app, argv, prog_name="python -m entrypoints.worker")


if __name__ == "__main__":
    sys.exit(main())

"""`oms worker` / `python -m entrypoints.worker`: the worker process (order engine, position manager,
post-trade risk) with its routing options.

It connects to the cluster the settings name, creates the topics if missing
and runs `processors.worker.run_worker` until SIGTERM or SIGINT; the exit
status is the worker's.
"""

from __future__ import annotations

import sys
from typing import Annotated, Sequence

import typer

from entrypoints.context import configure_logging, entry, run
from oms.commands import CommandError
from oms.routing import StaticRouter

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command("worker")
def worker(
    ctx: typer.Context,
    route: Annotated[str, typer.Option(help="venue per instrument, e.g. AAPL=SIM-A,MSFT=SIM-B")] = "",
    default_venue: Annotated[str, typer.Option(help="venue of every instrument --route does not name")] = "SIM",
    loglevel: Annotated[str, typer.Option(help="debug, info, warning or error")] = "warning",
) -> None:
    """Run the order engine, position manager and post-trade risk (one worker process)."""
    from processors.app import WorkerOptions
    from processors.worker import run_worker
    from streams.runtime import connect

    try:
        router = StaticRouter.parse(route, default_venue)
    except ValueError:
        raise CommandError("route", f"{route!r} is not INSTRUMENT=VENUE,...") from None
    configure_logging(loglevel)
    settings = entry(ctx).settings
    rt = connect(settings)
    rt.ensure_topics()
    code = run_worker(settings, rt.bootstrap_servers, WorkerOptions(router=router), loglevel)
    if code:
        raise typer.Exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    return run(app, argv, prog_name="python -m entrypoints.worker")


if __name__ == "__main__":
    sys.exit(main())

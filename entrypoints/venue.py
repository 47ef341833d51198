"""`oms venue` / `python -m entrypoints.venue`: the simulated venue gateway process.

The options become a `SimulatedVenueConfig` and a venue rate limit
(`oms.domain.tokens.RateLimit`, none with `--rate-limit 0`), checked before
anything connects; then `processors.venue_gateway.run_gateway` runs the
venues until SIGTERM or SIGINT, on the entry point's clock.
"""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from typing import Annotated, Optional, Sequence

import typer

from entrypoints.context import configure_logging, entry, refused, run, stopping
from oms.commands import CommandError
from oms.domain.tokens import RateLimit
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig

DEFAULT_RATE_LIMIT = 1_000
"""Requests per second per venue when `--rate-limit` is not given."""

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def decimal_option(text: str) -> Decimal:
    """A finite decimal option value (a usage error otherwise)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise typer.BadParameter(f"{text!r} is not a decimal") from None
    if not value.is_finite():
        raise typer.BadParameter(f"{text!r} is not a finite decimal")
    return value


@app.command("venue")
def venue(
    ctx: typer.Context,
    venues: Annotated[str, typer.Option(help="comma-separated venue names, e.g. SIM-A,SIM-B")],
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    reject_prob: Annotated[float, typer.Option(help="probability that a NEW is rejected")] = 0.0,
    late_fill_prob: Annotated[float, typer.Option(
        help="probability that a cancel crosses an execution: a late fill follows the CANCELED")] = 0.0,
    latency_ms: Annotated[Decimal, typer.Option(parser=decimal_option, help="mean simulated latency in milliseconds")
                          ] = Decimal(1),
    jitter_ms: Annotated[Decimal, typer.Option(parser=decimal_option, help="uniform latency jitter in milliseconds")
                         ] = Decimal(0),
    max_fill_fraction: Annotated[Decimal, typer.Option(
        parser=decimal_option, help="most of a quote's displayed size one order takes")] = Decimal(1),
    fill_on_trades: Annotated[bool, typer.Option("--fill-on-trades", help="trade prints fill resting limit orders")
                              ] = False,
    rate_limit: Annotated[int, typer.Option(help="requests per second per venue, 0 for no limit")
                          ] = DEFAULT_RATE_LIMIT,
    burst: Annotated[Optional[int], typer.Option(help="rate limit burst (default: the rate)")] = None,
    group_id: Annotated[Optional[str], typer.Option(help="consumer group (default: <prefix>venue-gateway)")] = None,
    no_create_topics: Annotated[bool, typer.Option("--no-create-topics", help="do not create missing topics first")
                                ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="log warnings only")] = False,
) -> None:
    """Run the simulated venue gateway: venue.requests and marketdata in, exec.reports out."""
    from processors.venue_gateway import run_gateway
    from streams.runtime import connect

    names = [v.strip() for v in venues.split(",") if v.strip()]
    if not names:
        raise CommandError("venues", "give at least one venue name")
    try:
        config = SimulatedVenueConfig(
            latency_ns=int(latency_ms * 1_000_000),
            latency_jitter_ns=int(jitter_ms * 1_000_000),
            reject_probability=reject_prob,
            late_fill_probability=late_fill_prob,
            max_fill_fraction=max_fill_fraction,
            fill_on_trades=fill_on_trades,
        )
        limit = None if rate_limit <= 0 else RateLimit.of(rate_limit, burst)
        for name in names:
            SimulatedExchange(name, seed, config)  # validate the names before connecting
    except ValueError as exc:
        raise refused(exc, "venues") from None
    configure_logging("warning" if quiet else "info")
    e = entry(ctx)
    with stopping() as stop:
        rt = connect(e.settings)
        if not no_create_topics:
            rt.ensure_topics()
        run_gateway(e.settings, names, seed, config, stop=stop, clock=e.clock, group_id=group_id,
                    rate_limit=limit, runtime=rt)


def main(argv: Sequence[str] | None = None) -> int:
    return run(app, argv, prog_name="python -m entrypoints.venue")


if __name__ == "__main__":
    sys.exit(main())

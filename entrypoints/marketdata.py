"""`oms marketdata` / `python -m entrypoints.marketdata`: publish quotes and trades to `marketdata`.

Two sources, exactly one per run: `--synthetic` steps a seeded random walk per
instrument (`processors.marketdata_handler.run_synthetic`) until `--duration`
seconds of steps are done or SIGTERM/SIGINT; `--csv FILE` publishes a CSV or Parquet file of
quotes and trades (`publish_csv`, through `connectors.marketdata_files`: `--columns`,
`--time-format`, `--kind`, `--instrument`, `--venue`, `--skip-bad`). With `--venues
SIM-A:0,SIM-B:offset=0.01,spread=0.02,size=300,...` the synthetic feed is fanned out to several
venues, each quote and trade published once per venue, tagged with it and shaped by it
(`oms.marketdata.VenueDepth`: price offset, spread, level size); every quote shows `--depth`
levels a side (default 5): the simulated venues and the smart router's consolidated book then see
different prices and depth per venue. Arguments are checked before anything
connects; a bad CSV row is refused naming the row, and nothing is published.
"""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Optional, Sequence

import typer

from entrypoints.context import configure_logging, entry, refused, run, stopping
from oms.commands import CommandError
from oms.events import is_identifier
from oms.marketdata import VenueDepth, VenueShape

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def parse_instruments(text: str) -> dict[str, Decimal]:
    """`AAPL:187.00,MSFT:411.50` -> {"AAPL": Decimal("187.00"), "MSFT": Decimal("411.50")}."""
    out: dict[str, Decimal] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, price = part.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"instruments: {part!r} is not INSTRUMENT:START_PRICE")
        try:
            value = Decimal(price.strip())
        except InvalidOperation:
            raise ValueError(f"instruments: start price {price!r} of {name} is not a decimal") from None
        if not value.is_finite() or value <= 0:
            raise ValueError(f"instruments: start price {price!r} of {name} is not positive")
        out[name.strip()] = value
    if not out:
        raise ValueError("instruments: give at least one INSTRUMENT:START_PRICE")
    return out


SYNTHETIC_DEPTH = 5
"""Levels a side in every synthetic quote unless `--depth` says otherwise."""

VENUE_KEYS = ("offset", "spread", "size")
"""What `--venues` may set per venue (`oms.marketdata.VenueShape`)."""


def parse_venues(text: str) -> dict[str, VenueShape]:
    """`SIM-A:0,SIM-B:offset=0.01,spread=0.02,size=300,SIM-C` -> each venue's `VenueShape`: a bare
    `VENUE:OFFSET` is its price offset, `VENUE:KEY=VALUE` followed by `KEY=VALUE` parts sets the keys
    of `VENUE_KEYS`, a bare `VENUE` shows the feed as it is. `ValueError` ("venues: ...") naming the part
    for anything else: an unknown or repeated key, a value that is not a decimal, a venue named twice."""
    specs: dict[str, dict[str, Decimal]] = {}
    current: str | None = None

    def put(venue: str, key: str, value: str) -> None:
        key, value = key.strip(), value.strip()
        if key not in VENUE_KEYS:
            raise ValueError(f"venues: {venue}: unknown key {key!r} (keys: {', '.join(VENUE_KEYS)})")
        if key in specs[venue]:
            raise ValueError(f"venues: {venue}: {key} given twice")
        try:
            specs[venue][key] = Decimal(value)
        except InvalidOperation:
            what = "price offset" if key == "offset" else key
            raise ValueError(f"venues: {what} {value!r} of {venue} is not a decimal") from None

    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if ":" not in part and "=" in part:  # KEY=VALUE: one more key of the venue before it
            if current is None:
                raise ValueError(f"venues: {part!r} names no venue: write VENUE:KEY=VALUE,KEY=VALUE")
            put(current, *part.split("=", 1))
            continue
        name, sep, rest = (x.strip() for x in part.partition(":"))
        if not name:
            raise ValueError(f"venues: {part!r} is not VENUE:PRICE_OFFSET or VENUE:KEY=VALUE,...")
        if name in specs:
            raise ValueError(f"venues: {name} named twice")
        if not is_identifier(name):
            raise ValueError(f"venues: {name!r} is not a venue name (letters, digits and ._/@-)")
        current, specs[name] = name, {}
        if sep:
            put(name, *(rest.split("=", 1) if "=" in rest else ("offset", rest)))
    if not specs:
        raise ValueError("venues: give at least one VENUE:PRICE_OFFSET or VENUE:KEY=VALUE,...")
    shapes = {}
    for venue, keys in specs.items():
        try:
            shapes[venue] = VenueShape(**keys)
        except ValueError as exc:
            raise ValueError(f"venues: {venue}: {exc}") from None
    return shapes


@app.command("marketdata")
def marketdata(
    ctx: typer.Context,
    synthetic: Annotated[bool, typer.Option("--synthetic", help="a seeded random walk per instrument")] = False,
    csv: Annotated[Optional[Path], typer.Option("--csv", metavar="FILE", help="a CSV or Parquet file of quotes and trades to publish")
                   ] = None,
    columns: Annotated[str, typer.Option(help="file: FIELD=COLUMN,... where the file's columns differ "
                                              "(ts, instrument, type, bid_price, bid_size, ask_price, ask_size, "
                                              "price, size, side, venue; level column templates bid_price_n, "
                                              "bid_size_n, ask_price_n, ask_size_n, default bid_price_{n}, ..., "
                                              "level 1 the top)")] = "",
    time_format: Annotated[str, typer.Option(help="file: auto, iso, compact (YYYYMMDD HHMMSSfff), s, ms, us, ns")
                           ] = "auto",
    kind: Annotated[Optional[str], typer.Option(help="file: quote or trade when it has no type column")] = None,
    instrument: Annotated[Optional[str], typer.Option(help="file: its instrument when it has no instrument column")
                          ] = None,
    venue: Annotated[Optional[str], typer.Option(help="file: its venue when it has no venue column")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="file: skip bad rows (reported and counted)")] = False,
    instruments: Annotated[str, typer.Option(help="synthetic: INSTRUMENT:START_PRICE,...")] = "AAPL:187.00,MSFT:411.50",
    rate: Annotated[float, typer.Option(help="synthetic: steps per second")] = 10.0,
    seed: Annotated[int, typer.Option(help="synthetic: random seed")] = 0,
    duration: Annotated[Optional[float], typer.Option(
        help="synthetic: seconds of steps to publish (default: until stopped)")] = None,
    tick: Annotated[str, typer.Option(help="synthetic: price tick")] = "0.01",
    spread_ticks: Annotated[int, typer.Option(help="synthetic: spread in ticks")] = 2,
    venues: Annotated[Optional[str], typer.Option(
        help="synthetic: publish every quote and trade once per venue, shifted by its price offset, "
             "e.g. SIM-A:0,SIM-B:0.01,SIM-C:-0.01, or shaped by keys offset, spread (ask - bid, on the tick) "
             "and size (top size, the unit of deeper levels), e.g. SIM-A:0,SIM-B:offset=0.01,spread=0.02,size=300 "
             "(default: one feed with no venue)")] = None,
    depth: Annotated[Optional[int], typer.Option(
        help=f"synthetic: price levels a side in every quote, one tick apart (1: top of book only; "
             f"default {SYNTHETIC_DEPTH})")
                     ] = None,
    no_create_topics: Annotated[bool, typer.Option("--no-create-topics", help="do not create missing topics first")
                                ] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="log at INFO level")] = False,
) -> None:
    """Publish market data to the marketdata topic, keyed by instrument: a synthetic feed or a CSV file."""
    from connectors.marketdata_files import ColumnMap, LoadReport, TimeFormat
    from processors.marketdata_handler import publish_csv, run_synthetic
    from streams.runtime import connect

    if synthetic == (csv is not None):
        raise CommandError("source", "give exactly one of --synthetic and --csv FILE")
    if synthetic:
        try:
            prices = parse_instruments(instruments)
        except ValueError as exc:
            raise refused(exc, "instruments") from None
        try:
            tick_size = Decimal(tick)
        except InvalidOperation:
            raise CommandError("tick", f"{tick!r} is not a decimal") from None
        if rate <= 0:
            raise CommandError("rate", f"{rate} is not positive")
        depth = SYNTHETIC_DEPTH if depth is None else depth
        try:
            shapes = parse_venues(venues) if venues is not None else None
        except ValueError as exc:
            raise refused(exc, "venues") from None
        try:
            VenueDepth(shapes, seed, depth=depth, tick=tick_size)  # refuses a depth or spread it cannot show
        except ValueError as exc:
            raise refused(exc, "synthetic") from None
    else:
        if venues is not None:
            raise CommandError("venues", "--venues fans out the synthetic feed; a file names its venue "
                                         "with --venue or a venue column")
        if depth is not None:
            raise CommandError("depth", "--depth shapes the synthetic feed; a file's depth is its level columns "
                                        "(bid_price_1, bid_size_1, ...)")
        try:
            column_map = ColumnMap.parse(columns)
        except ValueError as exc:
            raise refused(exc, "columns") from None
        try:
            form = TimeFormat(time_format)
        except ValueError:
            raise CommandError("time_format", f"{time_format!r} is not one of "
                               f"{', '.join(f.value for f in TimeFormat)}") from None
        report = LoadReport()
    configure_logging("info" if verbose else "warning")
    e = entry(ctx)
    with stopping() as stop:
        rt = connect(e.settings)
        if not no_create_topics:
            rt.ensure_topics()
        try:
            if synthetic:
                count = run_synthetic(e.settings, prices, seed=seed, rate_hz=rate, duration_s=duration, stop=stop,
                                      clock=e.clock, tick=tick_size, spread_ticks=spread_ticks, runtime=rt,
                                      venues=shapes, depth=depth)
            else:
                count = publish_csv(e.settings, csv, e.clock, stop=stop, runtime=rt, columns=column_map,
                                    time_format=form, skip_bad=skip_bad, report=report, kind=kind,
                                    instrument=instrument, venue=venue)
                for bad in report.bad:
                    e.console.print(f"skipped {bad}")
        except ValueError as exc:  # a bad CSV row or argument: say where
            raise refused(exc, "csv" if csv is not None else "synthetic") from None
    skipped = f" ({report.skipped} bad rows skipped)" if csv is not None and report.skipped else ""
    e.console.print(f"published {count} market data events to {rt.topics.marketdata}{skipped}")


def main(argv: Sequence[str] | None = None) -> int:
    return run(app, argv, prog_name="python -m entrypoints.marketdata")


if __name__ == "__main__":
    sys.exit(main())

"""`oms backtest` and `oms whatif` (`python -m entrypoints.backtest backtest|whatif`): backtests and what-ifs.

Reads the market data files (`connectors.marketdata_files`, CSV or Parquet, merged by time;
by default the generated two-venue sample `replay/data/backtest/`), runs
`replay.backtest.run_backtest` with the chosen strategy (`maker`: the passive
market maker of `replay.strategies`; `observer`: sends nothing; `recorded`: the
commands of a JSON-lines file, one command record with its `type` per line) and
the venue models given by `--venue` (`replay.models.parse_venue`) charging the fee
schedules of `--fees` or `OMS_VENUE_FEES` (`fee_schedules`), prints the
summary and per-venue tables, and writes the results, plots and `report.html`
under `--out` (`replay.report.write_report`). With `--kafka-prefix`, the journal
is also published to the journal topic under that sandbox topic prefix.
`oms whatif` replays recorded commands (a JSON-lines file, or the commands topic) with other default limits (`--limits`) or
routes (`--routes`, `--default-venue`) and prints the orders that changed and the
P&L delta (`replay.whatif`): in process by default, or with `--kafka-prefix P`
decided by a live worker and venue gateway under the sandbox topic prefix P
(`entrypoints.whatif_sandbox`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, List, Optional, Sequence

import typer

from entrypoints.context import entry, refused, run
from oms.commands import CommandError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

SAMPLE = Path(__file__).resolve().parent.parent / "replay" / "data" / "backtest"
DEFAULT_VENUES = ["SIM-A:entry=150us+-50us,md=50us", "SIM-B:entry=1ms~0.3,md=200us,reject=0.02"]
DEFAULT_FEES = "SIM-A=taker:0.3bps,maker:-0.2bps;SIM-B=taker:0.2bps,maker:-0.1bps"
"""The sample venues' fee schedules (the `OMS_VENUE_FEES` form), used when neither `--venue` nor `--fees`
nor `OMS_VENUE_FEES` says otherwise."""


def _text(value) -> str:
    """A table cell: decimals in plain notation (a zero commission is 0.00000000, not 0E-8)."""
    from decimal import Decimal

    return format(value, "f") if isinstance(value, Decimal) else str(value)


def fee_schedules(fees: str | None, configured: str, sample_venues: bool) -> dict:
    """The fee schedules a backtest charges (`oms.domain.sor.parse_fees`): `--fees` when given, else
    `OMS_VENUE_FEES` (`configured`, the schedules the router weighs) when set, else the sample's for the
    sample venues, else none (a venue spec's own maker_bps/taker_bps still apply)."""
    from oms.domain.sor.fees import parse_fees

    if fees is not None:
        return parse_fees(fees)
    if configured.strip():
        return parse_fees(configured)
    return parse_fees(DEFAULT_FEES) if sample_venues else {}


def load_commands(path: Path) -> list:
    """The commands of a JSON-lines file: each line a command record with `type` (NewOrder, AmendOrder,
    CancelOrder); a bad line raises `ValueError` naming it."""
    from pydantic import ValidationError

    from oms.events import AmendOrder, CancelOrder, NewOrder

    kinds = {"NewOrder": NewOrder, "AmendOrder": AmendOrder, "CancelOrder": CancelOrder}
    out = []
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            record = json.loads(text)
            kind = kinds[record.pop("type")]
            out.append(kind(**record))
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise ValueError(f"{path}:line {line}: {str(exc).splitlines()[0]}") from None
    return out


@app.command("backtest")
def backtest(
    ctx: typer.Context,
    data: Annotated[Optional[List[Path]], typer.Option("--data", metavar="FILE",
                    help="market data files (CSV/Parquet; repeat); default: the generated sample")] = None,
    strategy: Annotated[str, typer.Option(help="maker, observer or recorded")] = "maker",
    instrument: Annotated[str, typer.Option(help="maker: the instrument it quotes")] = "AAPL",
    commands: Annotated[Optional[Path], typer.Option(help="recorded: a JSON-lines file of commands")] = None,
    venue: Annotated[Optional[List[str]], typer.Option("--venue", metavar="SPEC",
                     help="NAME:entry=200us+-50us,md=100us,reject=0.01,fail=0,fail_after=0.5,outage=START/END,"
                          "slippage_bps=..,impact_bps=.. (repeat; fees: --fees)")] = None,
    seed: Annotated[int, typer.Option(help="the seed of every model's draws")] = 0,
    out: Annotated[Path, typer.Option(help="where results, plots and report.html go")] = Path("backtest-out"),
    columns: Annotated[str, typer.Option(help="data: FIELD=COLUMN,... where the files' columns differ")] = "",
    time_format: Annotated[str, typer.Option(help="data: auto, iso, compact, s, ms, us, ns")] = "auto",
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="data: skip bad rows (counted)")] = False,
    generate: Annotated[bool, typer.Option("--generate", help="regenerate the sample data set first")] = False,
    kafka_prefix: Annotated[Optional[str], typer.Option(help="also publish the journal under this topic prefix")
                            ] = None,
    fees: Annotated[Optional[str], typer.Option(
        help="fee schedules, VENUE=taker:RATE,maker:RATE;... (RATE per share, or NUMBERbps); "
             "default: OMS_VENUE_FEES, else the sample's")] = None,
) -> None:
    """Backtest a strategy over market data files through the engine, risk, routing and simulated venues."""
    from rich.table import Table

    from connectors.marketdata_files import ColumnMap, LoadReport, TimeFormat, load_files
    from replay.backtest import BacktestConfig, Recorded, run_backtest
    from replay.models import parse_venue
    from replay.report import write_report
    from replay.strategies import Observer, PassiveMaker

    e = entry(ctx)
    try:
        models = dict(parse_venue(spec) for spec in (venue or DEFAULT_VENUES))
        config = BacktestConfig(venues=models, seed=seed,
                                fees=fee_schedules(fees, e.settings.venue_fees, sample_venues=not venue))
        column_map = ColumnMap.parse(columns)
        form = TimeFormat(time_format)
    except ValueError as exc:
        raise refused(exc, "venue") from None
    if strategy == "maker":
        chosen = PassiveMaker(instrument)
    elif strategy == "observer":
        chosen = Observer()
    elif strategy == "recorded":
        if commands is None:
            raise CommandError("commands", "the recorded strategy needs --commands FILE")
        try:
            chosen = Recorded(load_commands(commands))
        except (OSError, ValueError) as exc:
            raise CommandError("commands", str(exc)) from None
    else:
        raise CommandError("strategy", f"{strategy!r} is not maker, observer or recorded")
    if generate:
        from replay.sample_data import generate as make_sample

        make_sample(SAMPLE)
    files = list(data) if data else sorted(SAMPLE.glob("*.csv"))
    if not files:
        raise CommandError("data", f"no market data files (the sample is made by --generate under {SAMPLE})")
    report = LoadReport()
    try:
        market_data = list(load_files(files, column_map, time_format=form, skip_bad=skip_bad, report=report))
        result = run_backtest(market_data, chosen, config)
    except ValueError as exc:
        raise refused(exc, "data") from None
    paths = write_report(result, out)
    table = Table(title="backtest summary")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in result.summary().items():
        table.add_row(name, _text(value))
    e.console.print(table)
    stats = result.venue_stats()
    venues = Table(title="per venue")
    for name in stats[0]:
        venues.add_column(name, justify="right")
    for row in stats:
        venues.add_row(*(_text(v) for v in row.values()))
    e.console.print(venues)
    if report.skipped:
        e.console.print(f"skipped {report.skipped} bad rows: " + "; ".join(str(b) for b in report.bad[:5]))
    if kafka_prefix is not None:
        from streams.runtime import connect

        from replay.backtest import publish_journal

        rt = connect(e.settings.model_copy(update={"topic_prefix": kafka_prefix}))
        rt.ensure_topics()
        count = publish_journal(result, rt)
        e.console.print(f"published {count} journal events to {rt.topics.journal}")
    e.console.print(f"report: {paths['report']}")


@app.command("whatif")
def whatif(
    ctx: typer.Context,
    commands: Annotated[Optional[Path], typer.Option(
        help="the recorded commands: a JSON-lines file (default: the commands topic)")] = None,

    data: Annotated[Optional[List[Path]], typer.Option("--data", metavar="FILE",
                    help="market data files (repeat); default: the generated sample")] = None,
    venue: Annotated[Optional[List[str]], typer.Option("--venue", metavar="SPEC", help="venue models, as backtest")
                     ] = None,
    journal: Annotated[Optional[Path], typer.Option(
        help="what happened: a recorded journal file (default: the commands replayed with unchanged settings)")
                       ] = None,
    kafka_prefix: Annotated[Optional[str], typer.Option(
        help="decide the what-if in a live worker and venue gateway under this sandbox topic prefix "
             "(default: in process)")] = None,
    settle_ms: Annotated[int, typer.Option(help="sandbox: wait for market data to reach the venues before a command")
                         ] = 300,
    limits: Annotated[str, typer.Option(help="what-if default limits: name=value,... (e.g. max_order_qty=100)")
                      ] = "",
    routes: Annotated[str, typer.Option(help="what-if routing: INSTRUMENT=VENUE,...")] = "",
    default_venue: Annotated[Optional[str], typer.Option(help="what-if default venue")] = None,
    seed: Annotated[int, typer.Option(help="the seed of every model's draws")] = 0,
    fees: Annotated[Optional[str], typer.Option(help="fee schedules, as backtest")] = None,
) -> None:
    """Replay recorded commands with other risk limits or routing rules and show what changes."""
    from rich.table import Table

    from connectors.marketdata_files import load_files
    from oms.domain.risk import Controls, parse_default_limits
    from oms.routing import StaticRouter
    from replay.backtest import BacktestConfig
    from replay.models import parse_venue
    from replay.whatif import what_if

    try:
        models = dict(parse_venue(spec) for spec in (venue or DEFAULT_VENUES))
        if commands is not None:
            recorded = load_commands(commands)
        else:
            from replay.export import commands_from_topic
            from streams.runtime import connect

            recorded = commands_from_topic(connect(entry(ctx).settings))
        files = list(data) if data else sorted(SAMPLE.glob("*.csv"))
        actual = BacktestConfig(venues=models, seed=seed,
                                fees=fee_schedules(fees, entry(ctx).settings.venue_fees, sample_venues=not venue))
        changes: dict = {}
        if limits:
            changes["controls"] = Controls(defaults=parse_default_limits(limits))
        if routes or default_venue:
            changes["router"] = StaticRouter.parse(routes, default_venue or next(iter(models)), venues=models)
        happened = None
        if journal is not None:
            from replay.export import journal_from_file

            happened = list(journal_from_file(journal))
        market_data = list(load_files(files))
        if kafka_prefix is not None:
            result = _sandboxed(entry(ctx), kafka_prefix, recorded, market_data, actual, happened, seed, limits,
                                routes, default_venue, settle_ms)
        elif happened is not None:
            from dataclasses import replace as changed

            from replay.whatif import against_journal

            result = against_journal(happened, recorded, market_data, changed(actual, **changes))
        else:
            result = what_if(recorded, market_data, actual, **changes)
    except (OSError, ValueError) as exc:
        raise refused(exc, "whatif") from None
    e = entry(ctx)
    table = Table(title="what-if: orders that changed")
    for name in ("client order id", "change", "actual", "what-if"):
        table.add_column(name)
    for c in result.changes:
        table.add_row(c.client_order_id, c.what, c.actual, c.whatif)
    e.console.print(table)
    e.console.print(f"changes: {result.counts()}; fees {result.fees_actual} -> {result.fees_whatif}; "
                    f"P&L {result.pnl_actual} -> {result.pnl_whatif} (delta {result.pnl_delta})")


def _sandboxed(e, prefix: str, recorded: list, market_data: list, actual, happened: list | None, seed: int,
               limits: str, routes: str, default_venue: str | None, settle_ms: int):
    """The what-if decided by a live worker and gateway under `prefix` (`entrypoints.whatif_sandbox`),
    diffed against what happened: the recorded journal when given, else the commands run in process
    with the unchanged settings."""
    from entrypoints.whatif_sandbox import Sandbox, SandboxError, run_sandbox
    from replay.backtest import Recorded, run_backtest
    from replay.whatif import against_sandbox
    from streams.runtime import connect

    sandbox = Sandbox(prefix, actual.venues, seed, risk_defaults=limits, routes=routes,
                      default_venue=default_venue, settle_s=settle_ms / 1000)
    rt = connect(e.settings)
    try:
        journal = run_sandbox(e.settings, rt.bootstrap_servers, sandbox, recorded, market_data, e.console.print)
    except SandboxError as exc:
        raise CommandError("kafka-prefix", str(exc)) from None
    if happened is None:
        happened = run_backtest(market_data, Recorded(recorded), actual)
    return against_sandbox(happened, journal, market_data)


def main(argv: Sequence[str] | None = None) -> int:
    return run(app, argv, prog_name="python -m entrypoints.backtest")


if __name__ == "__main__":
    sys.exit(main())

"""`oms export` / `python -m entrypoints.export`: the journal's orders, fills, positions and events as files.

Reads the journal from the journal topic (the configured broker and prefix) or
from a backtest's `journal.bin` (`--journal FILE`), keeps what is as of
`--as-of` for `--account` and `--instrument`, and writes `orders`, `fills`,
`positions` and `journal` tables as Parquet or CSV under `--out`
(`replay.export.export_files`: the journal and fills tables are written a
chunk at a time, so memory does not grow with the journal). Shows a progress bar while it reads (`--no-progress`: none) and
prints how many rows each table has.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional, Sequence

import typer

from entrypoints.context import entry, run
from oms.commands import CommandError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command("export")
def export_command(
    ctx: typer.Context,
    journal: Annotated[Optional[Path], typer.Option(help="a backtest's journal.bin (default: the journal topic)")
                       ] = None,
    as_of: Annotated[Optional[str], typer.Option(help="only events up to this time (ISO 8601 or ns)")] = None,
    account: Annotated[Optional[str], typer.Option(help="only this account")] = None,
    instrument: Annotated[Optional[str], typer.Option(help="only this instrument")] = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
    out: Annotated[Path, typer.Option(help="the directory the tables go to")] = Path("export"),
    timeout: Annotated[float, typer.Option(help="topic: seconds without progress before giving up")] = 30.0,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="a progress bar while reading")] = True,
) -> None:
    """Export orders, fills, positions and the journal (as of a time, per account or instrument)."""
    from oms.clock import parse_time
    from replay.export import export_files, journal_from_file, journal_from_topic

    if fmt not in ("parquet", "csv"):
        raise CommandError("format", f"{fmt!r} is not parquet or csv")
    try:
        until = parse_time(as_of) if as_of is not None else None
    except ValueError as exc:
        raise CommandError("as_of", str(exc)) from None
    e = entry(ctx)
    errors: list[str] = []
    bar: Any = None

    def on_total(total: int, unit: str = "ev") -> None:
        nonlocal bar
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, unit=unit, unit_scale=unit == "B", desc="export", dynamic_ncols=True)

    def on_step(n: int) -> None:
        if bar is not None:
            bar.update(n)

    if journal is not None:
        if not journal.exists():
            raise CommandError("journal", f"{journal} does not exist")
        on_total(journal.stat().st_size, "B")
        events = journal_from_file(journal, on_bytes=on_step)
    else:
        from streams.runtime import connect

        events = journal_from_topic(connect(e.settings), timeout=timeout, errors=errors, until_ns=until,
                                    on_total=on_total, on_record=lambda _: on_step(1))
    try:
        written = export_files(events, out, fmt, as_of=until, account=account, instrument=instrument)
    except ValueError as exc:
        raise CommandError("journal", str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
    for name, (path, rows) in written.items():
        e.console.print(f"{name}: {rows} rows -> {path}")
    for error in errors[:10]:
        e.err_console.print(f"skipped undecodable record {error}")


def main(argv: Sequence[str] | None = None) -> int:
    return run(app, argv, prog_name="python -m entrypoints.export")


if __name__ == "__main__":
    sys.exit(main())

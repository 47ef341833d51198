"""`oms replay` / `python -m entrypoints.replay`: fold the journal back into state, verify it, or audit one order.

The command reads; it never produces. Without `--order` it folds
`order.events` into a fresh RocksDB store (`replay.journal.replay_journal`;
a temporary one unless `--store` names a new or empty directory), prints a
summary and, with `--verify`, compares the result with the live views
(`replay.journal.verify_live`: the orders and positions views, the engine's
account risk states and the risk controls it decided with). With `--order` it prints that order's audit trail
(`audit`). Exit status: 0 when everything folded (and verified), 1 on an
unfoldable event, a difference or an unknown order, 2 on bad input.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any, Optional, Sequence

import typer
from rich.console import Console
from entrypoints import tables
from entrypoints.context import entry, run
from oms.clock import ns_to_iso, parse_time
from oms.commands import CommandError
from oms.config import Settings

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def parse_until(text: str) -> int:
    """`--until`: integer nanoseconds or ISO-8601 (see `oms.clock.parse_time`)."""
    try:
        return parse_time(text)
    except ValueError as exc:
        raise CommandError("--until", str(exc)) from None


def _show(value: Any) -> str:
    return "-" if value is None else str(getattr(value, "value", value))


def replay(
    settings: Settings,
    console: Console,
    *,
    until: str | None = None,
    until_offset: int | None = None,
    verify: bool = False,
    store: Path | None = None,
    order: str | None = None,
    timeout: float = 30.0,
    progress: bool = True,
    strict: bool = False,
    workers: int = 1,
) -> int:
    """The `oms replay` command on `settings`, printing to `console`; returns the exit status."""
    from oms.state import RocksStore
    from replay.journal import audit, replay_journal, verify_live
    from streams.runtime import connect

    until_ns = parse_until(until) if until else None
    if store is not None and store.exists() and any(store.iterdir()):
        raise CommandError("--store", f"{store} is not empty; replay writes into a fresh store")
    runtime = connect(settings)
    if order:
        return _audit(console, runtime, audit(runtime, order, timeout=timeout), order)

    temporary = store is None
    path = Path(tempfile.mkdtemp(prefix="oms-replay-")) if temporary else store
    rocks = RocksStore(path)
    try:
        result = replay_journal(runtime, rocks, until_ns=until_ns, until_offset=until_offset,
                                progress=progress, timeout=timeout, strict=strict, workers=workers)
    finally:
        rocks.close()
        if temporary:
            shutil.rmtree(path, ignore_errors=True)

    table = tables.table("", "", title=f"replay of {runtime.topics.journal}", show_header=False)
    table.add_row("events", f"{result.events:,}")
    table.add_row("partitions", str(result.partitions))
    table.add_row("orders", f"{len(result.orders):,}")
    for status, count in sorted(result.by_status().items()):
        table.add_row(f"  {status}", f"{count:,}")
    table.add_row("positions", f"{len(result.positions):,}")
    table.add_row("anomalies", f"{result.anomalies:,}")
    if result.undecodable:
        table.add_row("undecodable or not admitted (skipped)", f"{result.undecodable:,}")
    if result.errors:
        table.add_row("[red]unfoldable events[/]", f"{len(result.errors):,}")
    table.add_row("elapsed", f"{result.elapsed_s:.2f}s")
    table.add_row("events/s", f"{result.events_per_s:,.0f}")
    table.add_row("store", "(temporary, removed)" if temporary else str(path))
    console.print(table)
    for error in result.errors[:10]:
        console.print(f"[red]unfoldable[/]: {error}")

    if not verify:
        return 1 if result.errors else 0
    if until_ns is not None or until_offset is not None:
        console.print("[yellow]note[/]: a partial replay is compared with the views as they are now")
    report = verify_live(runtime, result, timeout=timeout)
    diffs = list(report.differences)
    if not diffs:
        console.print(f"replay verified: {report.summary()} equal to the live state")
        return 1 if result.errors else 0
    table = tables.table("kind", "key", "field", "replayed", "live", title=f"{len(diffs)} differences")
    for d in diffs[:200]:
        if d.field == "missing":
            table.add_row(d.kind, d.key, d.field, "present" if d.replayed else "absent",
                          "present" if d.live else "absent")
        else:
            table.add_row(d.kind, d.key, d.field, _show(d.replayed), _show(d.live))
    console.print(table)
    if len(diffs) > 200:
        console.print(f"... and {len(diffs) - 200} more")
    return 1


AUDIT_COLUMNS = ("time (UTC)", "topic", "p", "offset", "type", "seq", "status / exec", "detail")
"""The columns of an order's audit trail (`oms replay --order`, and the web blotter's)."""


def audit_row(topics, received) -> tuple[str, ...]:
    """One audit trail record (a `replay.journal.audit` entry) as the `AUDIT_COLUMNS` texts."""
    e = received.event
    status = getattr(e, "exec_type", None) or getattr(e, "order_status", None)
    detail = " ".join(
        f"{name}={_show(getattr(e, name))}"
        for name in ("client_order_id", "quantity", "limit_price", "last_qty", "last_px", "cum_qty",
                     "leaves_qty", "reason_code", "reason")
        if getattr(e, name, None) is not None
    )
    return (ns_to_iso(e.ts_event)[:26], topics.short(received.topic), str(received.partition),
            str(received.offset), type(e).__name__, _show(getattr(e, "seq", None)), _show(status), detail)


def _audit(console: Console, runtime, trail: list, order_id: str) -> int:
    if not trail:
        console.print(f"no journal event for order [bold]{order_id}[/]")
        return 1
    out = tables.table(*AUDIT_COLUMNS, title=f"audit trail of {order_id}")
    for r in trail:
        out.add_row(*audit_row(runtime.topics, r))
    console.print(out)
    return 0


@app.command("replay")
def replay_command(
    ctx: typer.Context,
    until: Annotated[Optional[str], typer.Option(
        help="stop at this event time: ISO-8601 (UTC unless an offset is given) or ns")] = None,
    until_offset: Annotated[Optional[int], typer.Option(
        help="read offsets below N in every partition (exclusive)")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="compare with the live orders and positions views, account risk and controls")
                      ] = False,
    store: Annotated[Optional[Path], typer.Option(
        help="RocksDB directory to write (must be new or empty; default: temporary)")] = None,
    order: Annotated[Optional[str], typer.Option(help="print this order's audit trail instead of replaying")] = None,
    timeout: Annotated[float, typer.Option(help="seconds without progress before giving up")] = 30.0,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="a progress bar")] = True,
    strict: Annotated[bool, typer.Option(
        "--strict", help="validate every journal event as a command from outside would be (slower; by default "
                         "an event is validated only when the fold cannot take it)")] = False,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="processes that read and fold the journal's partitions in parallel")] = 1,
) -> None:
    """Fold the journal back into state; verify it against the live views, or audit one order."""
    e = entry(ctx)
    code = replay(e.settings, e.console, until=until, until_offset=until_offset, verify=verify, store=store,
                  order=order, timeout=timeout, progress=progress, strict=strict, workers=workers)
    if code:
        raise typer.Exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    return run(app, argv, prog_name="python -m entrypoints.replay")


if __name__ == "__main__":
    sys.exit(main())

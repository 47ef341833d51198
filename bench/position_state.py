"""Benchmark of a position's state as its fills grow: the position manager's cost and bytes per fill.

This module owns measuring whether the position manager's work per fill stays
flat over a trading day. For each row it writes `fills` fills of one account's
position in one instrument into a table the way the position manager does
(`processors.app` with `oms.state`: the state held in the process, each change appended to the
last block of the position's stored history) and times, for the last
`--timed` of them, what it does per fill besides Kafka: apply the fill
(`oms.domain.positions.changed_position`) and write the block (the bytes of
that write go to the table's changelog). It also times reading the position
back from the table, as after a restart (`load_held`). Beside it, in the same
run, the way before histories: read the whole state (`oms.state.load_position`),
apply the fill, write the whole state back (`dump_position`). No Kafka. Run
with `python -m bench.position_state [--fills 10,100,1000,5000] [--timed N] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal as D
from pathlib import Path

from rich.table import Table

from bench import show_rows
from oms.domain.positions import apply_fill, changed_position
from oms.events import OrderFilled, Side
from oms.state import block_write, dump_position, held_after, load_held, load_position

T0 = 1_767_258_000_000_000_000


def fill(n: int) -> OrderFilled:
    """The n-th fill of the position: alternately 3 bought and 2 sold, so it stays open and realizes P&L."""
    return OrderFilled(event_id=f"O{n:019d}.2", ts_event=T0 + n, ts_init=T0 + n, order_id=f"O{n:019d}",
                       account="ACC-001", trader="bench", client_order_id=f"c{n}", venue="XNAS",
                       instrument="AAPL", seq=2, fill_id=f"O{n:019d}.f1", exec_id=f"X{n}",
                       side=Side.BUY if n % 2 == 0 else Side.SELL, last_qty=D(3) if n % 2 == 0 else D(2),
                       last_px=D("100.00") + D(n % 50) / 100, commission=D("0.01"), cum_qty=D(3), leaves_qty=D(0),
                       avg_px=D("100.00"))


def measure(fills: int, timed: int) -> dict:
    """Per-fill microseconds (p50, p90) over the last `timed` of `fills` fills and the bytes the last
    write put on the changelog, for the history and for the whole state; the read after a restart."""
    events = [fill(n) for n in range(fills)]
    table: dict[bytes, bytes] = {}
    held, samples = None, []
    for n, event in enumerate(events):
        started = time.perf_counter_ns()
        after, change = changed_position(None if held is None else held.state, event)
        held = held_after(held, after, change)
        key, value = block_write(held)
        table[key] = value
        if n >= fills - timed:
            samples.append((time.perf_counter_ns() - started) / 1_000)
    started = time.perf_counter_ns()
    assert load_held(table, "ACC-001", "AAPL").state == held.state
    restart_us = (time.perf_counter_ns() - started) / 1_000
    whole, raw, whole_samples = None, None, []
    for n, event in enumerate(events):
        if n < fills - timed:
            whole = apply_fill(whole, event)
            raw = dump_position(whole)
            continue
        started = time.perf_counter_ns()
        whole = apply_fill(load_position(raw), event)
        raw = dump_position(whole)
        whole_samples.append((time.perf_counter_ns() - started) / 1_000)
    assert whole == held.state
    samples.sort()
    whole_samples.sort()
    return {"fills": fills, "timed": timed, "p50_us": samples[len(samples) // 2],
            "p90_us": samples[int(len(samples) * 0.9)], "bytes_per_write": len(value), "restart_read_us": restart_us,
            "whole_p50_us": whole_samples[len(whole_samples) // 2],
            "whole_p90_us": whole_samples[int(len(whole_samples) * 0.9)], "whole_bytes_per_write": len(raw)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", default="10,100,1000,5000", help="fills in the position, comma-separated")
    parser.add_argument("--timed", type=int, default=10, help="timed fills per row (the last ones)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    rows = [measure(int(n), min(args.timed, int(n))) for n in args.fills.split(",")]
    table = Table(title="Position manager per fill, by the position's fills so far (no Kafka)")
    for column in ("fills", "timed", "p50 µs", "p90 µs", "bytes written per fill", "read after restart µs",
                   "whole state: p50 µs", "p90 µs", "bytes per fill"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(f"{row['fills']:,}", str(row["timed"]), f"{row['p50_us']:,.0f}", f"{row['p90_us']:,.0f}",
                      f"{row['bytes_per_write']:,}", f"{row['restart_read_us']:,.0f}", f"{row['whole_p50_us']:,.0f}",
                      f"{row['whole_p90_us']:,.0f}", f"{row['whole_bytes_per_write']:,}")
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        table.caption = (f"history: p50 with {last['fills']:,} fills is {last['p50_us'] / first['p50_us']:.1f}x the p50 "
                         f"with {first['fills']:,}; whole state (before histories): "
                         f"{last['whole_p50_us'] / first['whole_p50_us']:.0f}x")
    return show_rows(table, rows, args.json, 100)


if __name__ == "__main__":
    main()

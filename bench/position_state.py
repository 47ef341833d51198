"""Benchmark of a position's state as its fills grow: the position manager's cost and bytes per fill.

This module owns measuring whether the position manager's work per fill stays
flat over a trading day. For each row it folds `fills` fills into one
account's position in one instrument (`oms.domain.positions.apply_fill`) and
times, for the last `--timed` of them, what the position manager does per fill
besides Kafka: read the state from its table (`oms.state.load_position`),
apply the fill, and write the state back (`dump_position`: the bytes of that
write go to the table's changelog). No Kafka. Run with
`python -m bench.position_state [--fills 10,100,1000,5000] [--timed N] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal as D
from pathlib import Path

from rich.console import Console
from rich.table import Table

from oms.domain.positions import apply_fill
from oms.events import OrderFilled, Side
from oms.state import dump_position, load_position

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
    """Per-fill microseconds (p50, p90) of read, apply and write over the last `timed` of `fills` fills,
    and the bytes the last write put on the changelog."""
    state = None
    raw = None
    for n in range(fills - timed):
        state = apply_fill(state, fill(n))
    raw = None if state is None else dump_position(state)
    events = [fill(n) for n in range(fills - timed, fills)]
    samples = []
    for event in events:
        started = time.perf_counter_ns()
        state = apply_fill(load_position(raw), event)
        raw = dump_position(state)
        samples.append((time.perf_counter_ns() - started) / 1_000)
    samples.sort()
    return {"fills": fills, "timed": timed, "p50_us": samples[len(samples) // 2],
            "p90_us": samples[int(len(samples) * 0.9)], "bytes_per_write": len(raw)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", default="10,100,1000,5000", help="fills in the position, comma-separated")
    parser.add_argument("--timed", type=int, default=10, help="timed fills per row (the last ones)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    rows = [measure(int(n), min(args.timed, int(n))) for n in args.fills.split(",")]
    table = Table(title="Position manager per fill, by the position's fills so far (read, apply, write; no Kafka)")
    for column in ("fills", "timed", "p50 µs", "p90 µs", "bytes written per fill"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(f"{row['fills']:,}", str(row["timed"]), f"{row['p50_us']:,.0f}", f"{row['p90_us']:,.0f}",
                      f"{row['bytes_per_write']:,}")
    if len(rows) >= 2:
        table.caption = (f"p50 with {rows[-1]['fills']:,} fills is {rows[-1]['p50_us'] / rows[0]['p50_us']:.0f}x "
                         f"the p50 with {rows[0]['fills']:,}")
    Console(width=max(Console().width, 100)).print(table)
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()

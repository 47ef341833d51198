"""Benchmark of the post-trade monitor's tables: the cost of an `orders` event and of a monitor tick
as the day's orders grow.

This module owns measuring whether the post-trade monitor's work stays flat
over a trading day. The monitor (`processors.risk.run_monitor`, a thread of
every worker, sharing the interpreter with the order engine) folds every
`orders` event into its orders table and, every half second, decides the
kill switch's cancels and the P&L limits over it. Each row builds the table a
day of `seen` orders leaves (`live` of them still open, the rest filled), then
times `events` further events (a new order, then its fill) and the tick's
decision (`oms.domain.risk.post_trade_actions` over the table, the kill switch
on). Beside today's code it runs, in the same run and a subprocess, the code
at `BASELINE`, whose table kept the latest view of every order of the day in a
dict copied on each event. No Kafka. Run with `python -m bench.monitor
[--days 10:10,10000:10,10000:10000] [-n N] [--baseline REV] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal as D
from pathlib import Path

from rich.table import Table

from bench import show_rows
from bench.baseline import measure_at

BASELINE = "08fee95"
"""The last commit whose monitor copied a dict of every order of the day on each `orders` event."""
T0 = 1_767_258_000_000_000_000


def measure(seen: int, live: int, events: int) -> dict:
    """Per-event and per-tick microseconds with a day of `seen` orders, `live` of them open. Imports the
    OMS here, so a subprocess with another tree first on `sys.path` measures that tree."""
    from oms.domain.risk import Controls, apply_control, post_trade_actions
    from oms.events import (ControlKind, OrderStatus, OrderType, OrderView, RiskControl, Side,
                            TimeInForce)
    from processors import risk

    def view(n: int, status: OrderStatus, seq: int) -> OrderView:
        done = status is OrderStatus.FILLED
        return OrderView(event_id=f"O{n:019d}.{seq}.view", ts_event=T0 + seq, ts_init=T0 + seq,
                         order_id=f"O{n:019d}", account=f"ACC-{n % 7}", trader="bench", client_order_id=f"c{n}",
                         instrument=f"SYM{n % 5:02d}", side=Side.BUY, order_type=OrderType.LIMIT,
                         time_in_force=TimeInForce.DAY, status=status, quantity=D(100), limit_price=D("100.00"),
                         cum_qty=D(100) if done else D(0), leaves_qty=D(0) if done else D(100),
                         avg_px=D("100.00") if done else D(0), venue="XNAS", seq=seq, reason=None)

    if hasattr(risk, "live_orders"):
        from immutables import Map
        fold, table = risk.live_orders, Map()
    else:  # the baseline: the latest view of every order, in a dict copied on each event
        fold, table = risk.fold_latest(lambda e: e.order_id), {}
    for n in range(seen):
        table = fold(table, view(n, OrderStatus.NEW, 2))
    for n in range(seen - live):
        table = fold(table, view(n, OrderStatus.FILLED, 3))
    samples = []
    for i in range(events):
        n = seen + i
        for update in (view(n, OrderStatus.NEW, 2), view(n, OrderStatus.FILLED, 3)):
            started = time.perf_counter_ns()
            table = fold(table, update)
            samples.append((time.perf_counter_ns() - started) / 1_000)
    samples.sort()
    killed = apply_control(Controls(), RiskControl(event_id="k", ts_event=T0, ts_init=T0, scope="*",
                                                   kind=ControlKind.KILL_SWITCH, name="kill_switch", value="on",
                                                   changed_by="bench"))
    ticks = []
    for _ in range(5):
        started = time.perf_counter_ns()
        actions = post_trade_actions(killed, [o for o in table.values() if isinstance(o, OrderView)], [], {}, {},
                                     frozenset(), T0)
        ticks.append((time.perf_counter_ns() - started) / 1_000)
    return {"seen": seen, "live": live, "events": len(samples), "table": len(table),
            "event_p50_us": samples[len(samples) // 2], "event_p90_us": samples[int(len(samples) * 0.9)],
            "tick_us": sorted(ticks)[len(ticks) // 2], "cancels": len(actions.cancels)}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", default="10:10,10000:10,10000:10000",
                        help="comma-separated SEEN:LIVE (orders of the day, of which open)")
    parser.add_argument("-n", "--events", type=int, default=500, help="timed new orders (two events each) per row")
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with ('' for none)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    days = [tuple(int(x) for x in d.split(":")) for d in args.days.split(",")]
    rows = [dict(measure(seen, live, args.events), code="today") for seen, live in days]
    if args.baseline:
        for seen, live in days:
            old = measure_at(args.baseline, "bench.monitor", f"measure({seen}, {live}, {args.events})")
            if old is not None:
                rows.append(dict(old, code=args.baseline))
    table = Table(title="Post-trade monitor: per orders event and per tick, by the day's orders (no Kafka)")
    for column in ("code", "orders today", "open", "table entries", "event p50 µs", "event p90 µs",
                   "tick µs", "kill cancels"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(row["code"], f"{row['seen']:,}", f"{row['live']:,}", f"{row['table']:,}",
                      f"{row['event_p50_us']:,.1f}", f"{row['event_p90_us']:,.1f}", f"{row['tick_us']:,.0f}",
                      f"{row['cancels']:,}")
    by = {(r["code"], r["seen"], r["live"]): r for r in rows}
    notes = []
    for code in dict.fromkeys(r["code"] for r in rows):
        small, big = by.get((code, *days[0])), by.get((code, *days[-1]))
        if small and big and small is not big:
            notes.append(f"{code}: event p50 with {days[-1][0]:,} orders ({days[-1][1]:,} open) is "
                         f"{big['event_p50_us'] / small['event_p50_us']:.1f}x the p50 with {days[0][0]:,}")
    table.caption = "; ".join(notes)
    return show_rows(table, rows, args.json, 120)


if __name__ == "__main__":
    main()

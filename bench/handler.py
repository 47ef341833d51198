"""Benchmark of the order engine's handler over whole orders: CPU per order, no Kafka.

This module owns measuring what the order engine's own code costs per order,
apart from the Kafka clients and transactions around it. It runs the
handler the worker runs (`processors.engine.OrderEngine`: decode, pre-trade
checks, decide, fold, state reads and writes) over an in-memory store for
`--orders` MARKET orders of 1 over 64 accounts: each order's command, then
the reports the simulated venue answers its venue request with (its
acknowledgement and its fill), as `exec.reports` records; each input's outputs
are encoded as the processor encodes them, and its state writes committed to
the store. It prints the thread CPU per order (`time.thread_time`: the
machine is shared) of the handler and of the encoding of its outputs, the
inputs and outputs per order, and the same at `BASELINE` (read from git with
`git archive`, in a subprocess, in the same run) with the ratio. The best of
`--repeat` runs is kept. Run with `python -m bench.handler [--orders N]
[--repeat R] [--baseline REV] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.table import Table

from bench import show_rows
from bench.baseline import measure_at

BASELINE = "ed4b276"
"""The engine before it kept the orders it wrote decoded and before the plain-decimal writer."""
T0 = 1_767_258_000_000_000_000
ACCOUNTS = 64


def measure(orders: int, repeat: int = 3) -> dict:
    """CPU µs per order of the handler and of encoding its outputs (the best of `repeat` runs), and the
    inputs and outputs per order. Imports the OMS here, so a subprocess with another tree first on
    `sys.path` measures that tree."""
    from decimal import Decimal as D

    from oms import commands
    from oms.clock import TestClock
    from oms.domain.risk import Controls
    from oms.events import Quote
    from oms.routing import StaticRouter
    from oms.state import MemoryStore
    from oms.venues import handle_request
    from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig
    from processors.engine import OrderEngine
    from streams.codec import SingleObjectCodec
    from streams.processor import PartitionState
    from streams.records import Record
    from streams.tables import StaticTable
    from streams.topics import Topics

    best: dict | None = None
    for _ in range(repeat):
        topics, codec, clock = Topics("bench."), SingleObjectCodec(), TestClock(T0)
        engine = OrderEngine(topics, codec, StaticRouter("SIM"), clock, controls=StaticTable(Controls()))
        venue = SimulatedExchange("SIM", 7, SimulatedVenueConfig(max_fill_fraction=D(1)))
        venue.on_quote(Quote(event_id="q", ts_event=T0, ts_init=T0, instrument="AAPL", venue="SIM",
                             bid_price=D("100.00"), bid_size=D(10 ** 7), ask_price=D("100.01"),
                             ask_size=D(10 ** 7)), T0)
        store = MemoryStore()
        handler_s = encode_s = 0.0
        inputs = outputs = offset = 0
        for n in range(orders):
            clock.advance(1_000)
            command = commands.new_order(clock, account=f"B{n % ACCOUNTS}", trader="bench",
                                         client_order_id=f"c{n}", instrument="AAPL", side="BUY", quantity="1")
            pending = [(topics.commands, command)]
            while pending:
                topic, event = pending.pop(0)
                record = Record(topic, 0, offset, event.account.encode(), codec.encode(topic, event),
                                clock.now_ns() // 1_000_000)
                offset += 1
                staged: dict[bytes, bytes] = {}
                state = PartitionState(store, 0, staged)
                t0 = time.thread_time()
                out = engine(state, record)
                t1 = time.thread_time()
                for out_topic, _, out_event in out:
                    codec.encode(out_topic, out_event)
                t2 = time.thread_time()
                state.keep()
                store.write_batch(list(staged.items()))
                handler_s += t1 - t0
                encode_s += t2 - t1
                inputs += 1
                outputs += len(out)
                for out_topic, _, out_event in out:
                    if out_topic == topics.venue_requests:
                        pending += [(topics.exec_reports, r) for r in handle_request(venue, out_event, clock.now_ns())]
        run = {"orders": orders, "handler_us": handler_s / orders * 1e6, "encode_us": encode_s / orders * 1e6,
               "inputs_per_order": inputs / orders, "outputs_per_order": outputs / orders}
        run["total_us"] = run["handler_us"] + run["encode_us"]
        if best is None or run["total_us"] < best["total_us"]:
            best = run
    assert best is not None
    return best


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000, help="market orders per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row (the best is kept)")
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with ('' for none)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    rows = [dict(measure(args.orders, args.repeat), code="today")]
    if args.baseline:
        old = measure_at(args.baseline, "bench.handler", f"measure({args.orders}, {args.repeat})")
        if old is not None:
            rows.append(dict(old, code=args.baseline))
    table = Table(title=f"Order engine handler, CPU per order (new order, acknowledgement, fill; memory store, "
                        f"no Kafka; best of {args.repeat})")
    for column in ("code", "orders", "inputs / order", "outputs / order", "handler µs", "encode outputs µs",
                   "total µs"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(row["code"], f"{row['orders']:,}", f"{row['inputs_per_order']:.1f}",
                      f"{row['outputs_per_order']:.1f}", f"{row['handler_us']:,.0f}", f"{row['encode_us']:,.0f}",
                      f"{row['total_us']:,.0f}")
    if len(rows) == 2:
        table.caption = f"today / {rows[1]['code']}: {rows[0]['total_us'] / rows[1]['total_us']:.2f}x CPU per order"
    return show_rows(table, rows, args.json, 110)


if __name__ == "__main__":
    main()

"""Benchmark of the order engine's state: the per-input cost with 10 and with 10,000 open orders.

This module owns measuring whether the engine's work per input stays flat as
one account's open orders grow. It runs the engine's handler
(`processors.engine.OrderEngine`, decode, pre-trade checks, decide, fold,
state reads and writes) over an in-memory store holding one account with N
open orders, and times each new order into that account (its state writes
committed to the store, as after a transaction); no Kafka. Beside today's
code it runs, in the same run and a subprocess, the code at `BASELINE`
(read from git with `git archive`), whose engine stored each account's whole
risk state as one value. Run with `python -m bench.state [--orders 10,10000]
[-n N] [--baseline REV]`.
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal as D
from pathlib import Path

from rich.table import Table

from bench import show_rows
from bench.baseline import measure_at

BASELINE = "873b09d"
"""The last commit whose engine wrote each account's whole risk state on every input."""
T0 = 1_767_258_000_000_000_000
ACCOUNT = "ACC-001"


def measure(open_orders: int, inputs: int) -> dict:
    """Per-input microseconds (p50, p90, mean) of `inputs` new orders into an account holding
    `open_orders` open orders, and the bytes the last input wrote. Imports the OMS here, so a
    subprocess with another tree first on `sys.path` measures that tree."""
    from oms import keys
    from oms.clock import TestClock
    from oms.domain.orders import Order
    from oms.domain.risk import AccountRisk, Controls, with_order
    from oms.events import NewOrder, OrderStatus, OrderType, Side, TimeInForce
    from oms.routing import StaticRouter
    from oms.state import MemoryStore, dump_account
    from processors.engine import OrderEngine
    from streams.codec import SingleObjectCodec
    from streams.idempotence import partition_key
    from streams.processor import PartitionState
    from streams.records import Record
    from streams.tables import StaticTable
    from streams.topics import Topics

    topics, codec = Topics("bench."), SingleObjectCodec()
    engine = OrderEngine(topics, codec, StaticRouter("XNAS"), TestClock(T0),
                         controls=StaticTable(Controls(defaults={})))
    store = MemoryStore()
    risk = AccountRisk()
    for n in range(open_orders):
        risk = with_order(risk, Order(
            order_id=f"O{n:020d}", account=ACCOUNT, trader="bench", client_order_id=f"rest-{n}",
            instrument=f"SYM{n % 5:02d}", side=Side.BUY if n % 2 else Side.SELL, order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.DAY, quantity=D(100), limit_price=D("100.00"), status=OrderStatus.NEW,
            cum_qty=D(0), leaves_qty=D(100), avg_px=D(0), venue="XNAS", request_id=f"r{n}", pending=None,
            fills=(), exec_ids=frozenset(), seq=2, ts_last=T0))
    store.put(partition_key(0, keys.account(ACCOUNT)), dump_account(risk))  # as an engine before the split kept it

    samples, written = [], 0
    warm = 3  # the first write moves a pre-split summary's orders into entries
    for n in range(warm + inputs):
        command = NewOrder(event_id=f"cmd-{n}", ts_event=T0, ts_init=T0, account=ACCOUNT, trader="bench",
                           client_order_id=f"new-{n}", instrument="SYM00", side=Side.BUY,
                           order_type=OrderType.LIMIT, quantity=D(10), limit_price=D("100.00"))
        record = Record(topics.commands, 0, n, ACCOUNT.encode(), codec.encode(topics.commands, command), T0)
        started = time.perf_counter_ns()
        staged: dict[bytes, bytes] = {}
        state = PartitionState(store, 0, staged)
        engine(state, record)
        state.keep()
        store.write_batch(list(staged.items()))
        elapsed = time.perf_counter_ns() - started
        if n >= warm:
            samples.append(elapsed / 1_000)
            written = sum(len(k) + len(v) for k, v in state.written)
    samples.sort()
    return {"open_orders": open_orders, "inputs": inputs, "p50_us": samples[len(samples) // 2],
            "p90_us": samples[int(len(samples) * 0.9)], "mean_us": sum(samples) / len(samples),
            "bytes_written": written}


def measure_baseline(rev: str, open_orders: int, inputs: int) -> dict | None:
    """`measure` over the code at `rev`, in a subprocess; None when git cannot give it."""
    return measure_at(rev, "bench.state", f"measure({open_orders}, {inputs})")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", default="10,10000", help="open orders in the account, comma-separated")
    parser.add_argument("-n", "--inputs", type=int, default=200, help="timed new orders per row")
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with ('' for none)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.orders.split(",")]
    rows = [dict(measure(n, args.inputs), code="today") for n in sizes]
    if args.baseline:
        for n in sizes:
            old = measure_baseline(args.baseline, n, max(20, args.inputs // 10))
            if old is not None:
                rows.append(dict(old, code=args.baseline))
    table = Table(title="Order engine per-input cost by open orders in one account (handler, memory store, no Kafka)")
    for column in ("code", "open orders", "inputs", "p50 µs", "p90 µs", "bytes written per input"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(row["code"], f"{row['open_orders']:,}", str(row["inputs"]), f"{row['p50_us']:,.0f}",
                      f"{row['p90_us']:,.0f}", f"{row['bytes_written']:,}")
    today = [r for r in rows if r["code"] == "today"]
    if len(today) >= 2:
        table.caption = (f"today: p50 with {today[-1]['open_orders']:,} open orders is "
                         f"{today[-1]['p50_us'] / today[0]['p50_us']:.2f}x the p50 with {today[0]['open_orders']:,}")
        old = [r for r in rows if r["code"] != "today"]
        if len(old) >= 2:
            table.caption += (f"; {old[0]['code']}: {old[-1]['p50_us'] / old[0]['p50_us']:.1f}x")
    return show_rows(table, rows, args.json, 110)


if __name__ == "__main__":
    main()

"""Benchmark of the position manager: how many position updates per second the worker's faust side
makes from a burst of fills on the journal.

Starts the worker as a real process (`entrypoints.supervisor.Processes`) on
topics under a unique prefix, warms it up with one fill per account (waiting
until each account's `Position` is published, so its journal partitions are
assigned and its tables restored), then writes `--fills` fills over
`--accounts` accounts and two instruments straight to the journal
(`order.events`) as fast as the producer goes, and times from the first send
until the `Position` of every fill is on the `positions` topic. Each fill is
one position update: its `Position` published and awaited, then its state and
applied offset written to the table (changelog). The order engine runs in the
worker too but has no commands to handle. Conditions are printed with the
figures: the broker and the load average before and after. `--json FILE`
writes them too. Run with
`python -m bench.positions [--fills N] [--accounts A] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from bench.pipeline import broker_condition, load_average, open_bench, print_conditions, tear_down
from entrypoints.supervisor import Processes
from oms.clock import LiveClock
from oms.events import OrderFilled, Side
from streams.views import TopicView

INSTRUMENTS = ("AAPL", "MSFT")


def fill(name: str, account: str, instrument: str, now_ns: int) -> OrderFilled:
    """Fill `name` of the run: a BUY of 1 at 100 on an order of its own."""
    order_id = f"B{account}-{name}"
    return OrderFilled(event_id=f"{order_id}:2", ts_event=now_ns, ts_init=now_ns, order_id=order_id,
                       account=account, seq=2, fill_id=f"f-{name}", exec_id=f"x-{name}", venue="SIM",
                       trader="bench", client_order_id=f"c-{name}", instrument=instrument, side=Side.BUY,
                       last_qty=Decimal(1), last_px=Decimal(100), cum_qty=Decimal(1), leaves_qty=Decimal(0),
                       avg_px=Decimal(100))


def published(view: TopicView, fill_ids: set[str], timeout: float, procs: Processes, what: str) -> float:
    """Read `positions` until a `Position` names each of `fill_ids` as its last fill; returns the
    monotonic time it was done."""
    seen: set[str] = set()

    def done() -> bool:
        view.refresh(idle=0.05, first_wait=0.5, max_seconds=1.0)
        seen.update(p.last_fill_id for p in view.all or [] if p.last_fill_id in fill_ids)
        view.all.clear()
        return fill_ids <= seen

    procs.wait_until(done, timeout=timeout, what=what, poll=0.0)
    return time.monotonic()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=2000, help="fills in the timed burst")
    parser.add_argument("--accounts", type=int, default=12, help="accounts the fills are spread over")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the burst's positions")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    console = Console(width=130)
    clock = LiveClock()
    settings, rt, external, broker_pid = open_bench("positions")
    conditions: dict = {"partitions": settings.partitions, "fills": args.fills, "accounts": args.accounts}
    procs = Processes(settings, rt.bootstrap_servers)
    view = producer = None
    try:
        procs.start_worker()
        producer = rt.event_producer()
        view = TopicView(rt, rt.topics.positions, keep_all=True)
        accounts = [f"P{n}" for n in range(args.accounts)]
        warm = [fill(f"w{n}", account, INSTRUMENTS[0], clock.now_ns()) for n, account in enumerate(accounts)]
        for event in warm:
            producer.send(rt.topics.journal, event.account, event)
        producer.flush()
        published(view, {e.fill_id for e in warm}, 300, procs, "the warm-up positions")

        burst = [fill(str(n), accounts[n % len(accounts)], INSTRUMENTS[n // len(accounts) % 2], clock.now_ns())
                 for n in range(args.fills)]
        conditions.update(broker=broker_condition(external, broker_pid, "the burst"), load_before=load_average())
        started = time.monotonic()
        for event in burst:
            producer.send(rt.topics.journal, event.account, event)
        producer.flush()
        sent = time.monotonic()
        finished = published(view, {e.fill_id for e in burst}, args.timeout, procs, "the burst's positions")
    finally:
        producer = None  # release the producer before the broker goes away
        if view is not None:
            view.close()
        tear_down(procs, (), settings, external)
    conditions["load_after"] = load_average()
    seconds = finished - started
    figures = {"fills": args.fills, "send_seconds": round(sent - started, 3), "seconds": round(seconds, 3),
               "updates_per_s": round(args.fills / seconds, 1)}
    print_conditions(console, conditions)
    console.print(f"{args.fills:,} fills: every position published {seconds:.2f}s after the first send "
                  f"(sending took {sent - started:.2f}s): {figures['updates_per_s']:,.0f} position updates/s")
    if args.json is not None:
        args.json.write_text(json.dumps({"conditions": conditions, "figures": figures}, indent=2, default=str))
        console.print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()

"""Benchmark of `oms.domain.sor.strategies`: the router's decision time on 5 venues with 10 levels each.

This module owns measuring one routing decision (`route(strategy, want, book,
stats, closed, fees)`) for each strategy on a consolidated book of 5 venues
with 10 price levels a side, fee schedules on every venue (one in basis
points, one with a maker rebate) and one venue behind an open breaker: a
marketable buy that sweeps a few levels across venues, and a large one that
walks most of the book; and the first decision after one venue's update
(what a book keeps for the router is worked out then, once per book update). Each call
is timed alone with `time.perf_counter_ns` after a warm-up, with the garbage
collector off; the table gives p50, p99 and p99.9 in microseconds and whether
p99 meets the target of 20 us, and the load average is printed at the start
(p99 is sensitive to what else the machine runs). A calibration row times,
the same way in the same run, fixed pure-Python work (an integer loop) sized
so that its p50 is the median decision's: its p99 is the tail this machine
gives any call of that length (timer interrupts, a virtual CPU descheduled),
so a decision whose p99 is near the calibration's has no tail of its own. Beside it, the engine's whole
pure step for a new order, routed (a parent: risk, the decision, the
`RoutingDecided` record and its children's events) and unrouted (static: one
venue), on the seeded what-if flow of `replay.routing_flow` (in process, no broker).
Run with `python -m bench.router [-n N] [--warmup N] [--orders N] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import time
from decimal import Decimal as D

from rich.console import Console
from rich.table import Table

from oms.domain.sor import STRATEGIES, ConsolidatedBook, Static, VenueStatistics, Want, parse_fees, route
from oms.events import Side

VENUES = ["V1", "V2", "V3", "V4", "V5"]
FEES = parse_fees("V1=taker:0.003,maker:-0.002;V2=taker:0.0025,maker:-0.001;V3=taker:3bps,maker:0;"
                  "V4=taker:0.001,maker:0.001;V5=taker:0,maker:0")


def market() -> ConsolidatedBook:
    book = ConsolidatedBook("AAPL")
    for n, venue in enumerate(VENUES):
        offset = D(n) / 100
        bids = [(D("99.99") - offset - D("0.01") * i, D(100 + 10 * i)) for i in range(10)]
        asks = [(D("100.01") + offset + D("0.01") * i, D(100 + 10 * i)) for i in range(10)]
        book = book.with_levels(venue, bids, asks)
    return book


TARGET_P99_US = 20.0
"""The issue's target for one routing decision on 5 venues x 10 levels."""


def _quantiles(samples_ns: list[int]) -> dict[str, float]:
    samples = sorted(samples_ns)
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] / 1000
    return {"p50_us": pick(0.5), "p99_us": pick(0.99), "p999_us": pick(0.999)}


def _timed(n: int, call, prepare=None) -> list[int]:
    """`n` samples of `call(arg)` in ns, the garbage collector off; `prepare()` (untimed) makes each
    call's argument (None: no argument is prepared, `call(None)`)."""
    samples = []
    gc.disable()
    try:
        for _ in range(n):
            arg = prepare() if prepare is not None else None
            t0 = time.perf_counter_ns()
            call(arg)
            samples.append(time.perf_counter_ns() - t0)
    finally:
        gc.enable()
    return samples


def measure(n: int, warmup: int = 2000) -> dict[str, dict[str, float]]:
    """Each strategy on each case, on one book (what the book keeps per value is worked out by the
    warm-up), and the best, cost and split sweeps each on a new book value, one venue's depth replaced
    (untimed): the first decision after a book update, which works out what the book keeps."""
    book, stats, closed = market(), VenueStatistics(), {"V5": "breaker open"}
    cases = {
        "sweep 300": Want("AAPL", Side.BUY, D("300"), D("100.05")),
        "walk 4000": Want("AAPL", Side.BUY, D("4000"), D("100.20")),
    }
    strategies = {**STRATEGIES, "static": Static(lambda w: "V1")}
    results = {}
    for case, want in cases.items():
        for name, strategy in strategies.items():
            decide = lambda _, strategy=strategy, want=want: route(strategy, want, book, stats, closed, FEES)
            _timed(min(n, warmup), decide)
            results[f"{case} {name}"] = _quantiles(_timed(n, decide))
    want = cases["sweep 300"]
    updates = itertools.cycle([(venue, venue_book.bids, venue_book.asks) for venue, venue_book in book.venues.items()])
    fresh = lambda: book.with_levels(*next(updates))  # one venue's depth replaced: a new book value
    for name in ("best", "cost", "split"):
        strategy = STRATEGIES[name]
        decide = lambda new, strategy=strategy: route(strategy, want, new, stats, closed, FEES)
        _timed(min(n, warmup), decide, fresh)
        results[f"sweep 300 {name}, after an update"] = _quantiles(_timed(n, decide, fresh))
    for r in results.values():
        r["target_met"] = r["p99_us"] <= TARGET_P99_US
    return results


def _loop(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def calibration(n: int, target_p50_us: float) -> dict[str, float]:
    """Quantiles of `_loop` sized so that its p50 is about `target_p50_us`, timed like a decision."""
    size = 100
    while True:
        p50 = _quantiles(_timed(2000, lambda _: _loop(size)))["p50_us"]
        if p50 >= target_p50_us or size > 1_000_000:
            break
        size = max(size + 1, int(size * target_p50_us / max(p50, 0.1)))
    result = _quantiles(_timed(n, lambda _: _loop(size)))
    result["loop"] = size
    return result


def measure_steps(orders: int) -> dict[str, dict[str, float]]:
    """p50/p99 of the engine step for each new order of the what-if flow, static and smart (cost)."""
    from oms.routing import RoutingRules
    from replay.routing_flow import run_flow

    out = {}
    for name, rules in (("step, unrouted (static)", None), ("step, routed (cost)", RoutingRules(default="cost"))):
        out[name] = _quantiles(run_flow(rules, 7, orders).step_ns)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="timed decisions per case")
    parser.add_argument("--warmup", type=int, default=2000, help="untimed decisions per case before (at most -n)")
    parser.add_argument("--orders", type=int, default=300, help="new orders of the what-if flow (step timing)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    console = Console()
    load = os.getloadavg()
    console.print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
                  f"({os.cpu_count()} CPUs; p99 grows with load)")
    decisions = measure(args.n, args.warmup)
    median = sorted(r["p50_us"] for r in decisions.values())[len(decisions) // 2]
    calibrated = calibration(args.n, median)
    steps = measure_steps(args.orders)
    table = Table(title=f"router decision (5 venues x 10 levels; target p99 <= {TARGET_P99_US:g} us) "
                        f"and engine step (us)")
    for column in ("case", "p50", "p99", "p99.9", "p99 target"):
        table.add_column(column, justify="right" if column != "case" else "left")
    for case, r in decisions.items():
        table.add_row(case, f"{r['p50_us']:.1f}", f"{r['p99_us']:.1f}", f"{r['p999_us']:.1f}",
                      "met" if r["target_met"] else "MISSED")
    table.add_row(f"calibration: a pure-Python loop of the median p50 ({calibrated['loop']:,} steps)",
                  f"{calibrated['p50_us']:.1f}", f"{calibrated['p99_us']:.1f}", f"{calibrated['p999_us']:.1f}", "")
    for case, r in steps.items():
        table.add_row(case, f"{r['p50_us']:.1f}", f"{r['p99_us']:.1f}", f"{r['p999_us']:.1f}", "")
    console.print(table)
    missed = [case for case, r in decisions.items() if not r["target_met"]]
    end = os.getloadavg()
    console.print(f"p99 <= {TARGET_P99_US:g} us: " + ("met by every decision case" if not missed else
                  f"missed by {len(missed)} of {len(decisions)}: {', '.join(missed)}")
                  + f"; load average at end: {end[0]:.2f}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"load_average_start": load, "load_average_end": end, "target_p99_us": TARGET_P99_US,
                       "decisions": decisions, "calibration": calibrated, "steps": steps}, out, indent=2)


if __name__ == "__main__":
    main()

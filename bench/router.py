"""Benchmark of `oms.domain.sor.strategies`: the router's decision time on 5 venues with 10 levels each.

This module owns measuring one routing decision (`route(strategy, want, book,
stats, closed, fees)`) for each strategy on a consolidated book of 5 venues
with 10 price levels a side, fee schedules on every venue (one in basis
points, one with a maker rebate) and one venue behind an open breaker: a
marketable buy that sweeps a few levels across venues, and a large one that
walks most of the book. Each call is timed alone with `time.perf_counter_ns`
after a warm-up, with the garbage collector off; the table gives p50, p99 and
p99.9 in microseconds (target: p99 <= 20 us). Beside it, the engine's whole
pure step for a new order, routed (a parent: risk, the decision, the
`RoutingDecided` record and its children's events) and unrouted (static: one
venue), on the seeded what-if flow of `replay.routing_flow` (in process, no broker).
Run with `python -m bench.router [-n N] [--orders N] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import gc
import json
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


def measure(n: int) -> dict[str, dict[str, float]]:
    book, stats, closed = market(), VenueStatistics(), {"V5": "breaker open"}
    cases = {
        "sweep 300": Want("AAPL", Side.BUY, D("300"), D("100.05")),
        "walk 4000": Want("AAPL", Side.BUY, D("4000"), D("100.20")),
    }
    strategies = {**STRATEGIES, "static": Static(lambda w: "V1")}
    results = {}
    for case, want in cases.items():
        for name, strategy in strategies.items():
            for _ in range(min(n, 2000)):
                route(strategy, want, book, stats, closed, FEES)
            samples = []
            gc.disable()
            try:
                for _ in range(n):
                    t0 = time.perf_counter_ns()
                    route(strategy, want, book, stats, closed, FEES)
                    samples.append(time.perf_counter_ns() - t0)
            finally:
                gc.enable()
            samples.sort()
            pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] / 1000
            results[f"{case} {name}"] = {"p50_us": pick(0.5), "p99_us": pick(0.99), "p999_us": pick(0.999)}
    return results


def measure_steps(orders: int) -> dict[str, dict[str, float]]:
    """p50/p99 of the engine step for each new order of the what-if flow, static and smart (cost)."""
    from oms.routing import RoutingRules
    from replay.routing_flow import run_flow

    out = {}
    for name, rules in (("step, unrouted (static)", None), ("step, routed (cost)", RoutingRules(default="cost"))):
        samples = sorted(run_flow(rules, 7, orders).step_ns)
        pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] / 1000
        out[name] = {"p50_us": pick(0.5), "p99_us": pick(0.99), "p999_us": pick(0.999)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000)
    parser.add_argument("--orders", type=int, default=300, help="new orders of the what-if flow (step timing)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    results = {**measure(args.n), **measure_steps(args.orders)}
    table = Table(title="router decision (5 venues x 10 levels) and engine step (us)")
    for column in ("case", "p50", "p99", "p99.9"):
        table.add_column(column, justify="right" if column != "case" else "left")
    for case, r in results.items():
        table.add_row(case, f"{r['p50_us']:.1f}", f"{r['p99_us']:.1f}", f"{r['p999_us']:.1f}")
    Console().print(table)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()

"""End-to-end latency of a smart-routed order beside an unrouted one, measured in the same run.

Starts, as real processes on topics under a unique prefix (`entrypoints.supervisor.Processes`),
the synthetic market data feed fanned out to three simulated venues with different prices
(`oms marketdata --venues SIM-A:0,SIM-B:0.01,SIM-C:-0.01`), one venue gateway serving the three
with different fee schedules (`OMS_VENUE_FEES`, which `oms venue` charges by default) and a worker
whose smart order routing (`OMS_ROUTING`) covers the routed accounts only
(`account:R0=best,...`): every other account is routed statically to SIM-A, as without smart
routing. Each order is a MARKET BUY of `--quantity`, and its latency is command -> first fill (the
fill's arrival at a consumer thread minus the send time, as `bench.pipeline` does).

The two flows are interleaved by default: one paced run alternates an unrouted and a routed order,
`--rate` per second each, so both meet the same broker, the same caches and the same load, and the
ratio routed / unrouted is the routing's own cost. A broker that has just started is about twice
as slow for its first minute or so, and measuring the flows one after the other (`--sequential`,
`--first` names the first) charges that warm-up to whichever runs first. Before measuring, a
warm-up sends `--warmup` interleaved orders and waits for their fills.

Figures: p50/p90/p99/max per flow, the ratio routed / unrouted, the per-hop split from the record
timestamps (a routed order's venue request and report are its first child's) and the CPU of the
worker, the gateway and the broker (one figure for both flows when interleaved). A smart-routed
MARKET parent sends IOC children at the prices the router saw; a piece whose price moved away comes
back canceled and is routed again. Orders with no fill within `--timeout` after the last send are
counted (filled x/y) and left out of the percentiles.

The broker is `KAFKA_BOOTSTRAP_SERVERS`, else a local one started under the temporary home and
stopped at the end. Conditions (load average before and after) are printed with the figures.
A benchmark, not a test: run `python -m bench.routed [--orders 300] [--rate 50] [--strategy best]
[--quantity 1] [--warmup 200] [--sequential [--first routed]] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.pipeline import (INSTRUMENT, CpuMeter, broker_condition, fill_arrivals, hop_table, latencies_ms,
                            load_average, open_bench, paced_run, percentile, pipeline_stamps, print_conditions,
                            tear_down)
from entrypoints.supervisor import Processes
from oms.clock import LiveClock
from streams.client import OrderClient

VENUE_OFFSETS = "SIM-A:0,SIM-B:0.01,SIM-C:-0.01"
"""The synthetic feed's venues and their price offsets: SIM-C shows the best ask, SIM-B the worst."""
VENUE_FEES = "SIM-A=taker:0.003,maker:-0.002;SIM-B=taker:0.0025,maker:-0.0015;SIM-C=taker:1bps,maker:0"
STATIC_VENUE = "SIM-A"
ACCOUNTS = 4
FLOWS = ("unrouted", "routed")


def routing_rules(strategy: str) -> str:
    """`OMS_ROUTING` that smart-routes the routed flow's accounts (R0..) only."""
    return ",".join(f"account:R{i}={strategy}" for i in range(ACCOUNTS))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300, help="orders in each flow")
    parser.add_argument("--rate", type=float, default=50.0, help="orders per second in each flow")
    parser.add_argument("--quantity", type=int, default=1, help="shares per order")
    parser.add_argument("--strategy", default="best", help="the routed flow's strategy (best, cost, split, passive)")
    parser.add_argument("--sequential", action="store_true",
                        help="measure the flows one after the other instead of interleaved")
    parser.add_argument("--first", choices=FLOWS, default="unrouted", help="with --sequential: which flow runs first")
    parser.add_argument("--warmup", type=int, default=200, help="interleaved orders sent and filled before measuring")
    parser.add_argument("--md-rate", type=float, default=5.0,
                        help="market data steps per second (each a quote per venue; see the module docstring)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for outstanding fills")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    console = Console(width=130)
    began = time.perf_counter()

    venues = ",".join(part.split(":")[0] for part in VENUE_OFFSETS.split(","))
    settings, rt, external, broker_pid = open_bench("benchr", venues=venues, routing=routing_rules(args.strategy),
                                                    venue_fees=VENUE_FEES)
    conditions = {
        "broker": broker_condition(external, broker_pid, "the warm-up"),
        "cores": os.cpu_count(), "load_before": load_average(), "orders_per_flow": args.orders,
        "marketdata_steps_per_s": args.md_rate,
        "rate_per_s": args.rate, "quantity": args.quantity, "strategy": args.strategy,
        "flows": "one after the other" if args.sequential else "interleaved (one run, alternating orders)",
        "warm-up orders": args.warmup,
        "venues (price offset)": VENUE_OFFSETS, "fees": VENUE_FEES, "static venue": STATIC_VENUE,
    }
    console.print(f"broker {rt.bootstrap_servers} ({conditions['broker']}), prefix {settings.topic_prefix}, "
                  f"load {conditions['load_before']}")

    procs = Processes(settings, rt.bootstrap_servers)
    fills = None
    client = None
    results: dict[str, dict] = {}
    try:
        procs.start("marketdata", "entrypoints.marketdata", "--synthetic", "--instruments", f"{INSTRUMENT}:100.00",
                    "--venues", VENUE_OFFSETS, "--seed", "1", "--rate", f"{args.md_rate:g}", "--no-create-topics")
        procs.start_gateway(venues, 7)  # fees from OMS_VENUE_FEES, the schedules the router weighs
        procs.start_worker("--default-venue", STATIC_VENUE)
        client = OrderClient(rt.event_producer(), rt.topics, trader="bench", clock=LiveClock())
        fills = fill_arrivals(rt)
        fills.start()

        def sender(flow: str):
            letter = flow[0].upper()

            def send(cid: str, i: int) -> None:
                client.new_order(account=f"{letter}{i % ACCOUNTS}", client_order_id=cid, instrument=INSTRUMENT,
                                 side="BUY", quantity=args.quantity)
            return send

        senders = [sender(flow) for flow in FLOWS]

        def alternating(cid: str, i: int) -> None:  # order i belongs to FLOWS[i % 2]
            senders[i % 2](cid, i // 2)

        def flow_of(cid: str) -> str:
            return FLOWS[int(cid.rsplit("-", 1)[1]) % 2]

        t = time.perf_counter()
        warm = paced_run(alternating, client.flush, fills, "w", args.warmup, 2 * args.rate, 180.0)[1]
        console.print(f"warm-up: {len(warm)}/{args.warmup} interleaved orders filled after "
                      f"{time.perf_counter() - t:.1f}s")

        pids = {"broker": broker_pid, "worker": procs.procs["worker"].pid, "gateway": procs.procs["venue"].pid}
        if args.sequential:
            for flow in (FLOWS if args.first == "unrouted" else tuple(reversed(FLOWS))):
                meter = CpuMeter(pids)
                meter.start()
                sent, lat, wall = paced_run(sender(flow), client.flush, fills, flow[0], args.orders, args.rate,
                                            args.timeout)
                results[flow] = {"sent": len(sent), "latencies": lat, "cpu": meter.read(),
                                 "hops": hop_table(pipeline_stamps(rt, sent, wall)), "load_after": load_average()}
        else:
            meter = CpuMeter(pids)
            meter.start()
            sent, _, wall = paced_run(alternating, client.flush, fills, "x", 2 * args.orders, 2 * args.rate,
                                      args.timeout)
            cpu, load_after = meter.read(), load_average()
            for flow in FLOWS:
                mine = {cid: ns for cid, ns in sent.items() if flow_of(cid) == flow}
                results[flow] = {"sent": len(mine), "latencies": latencies_ms(mine, fills.first), "cpu": cpu,
                                 "hops": hop_table(pipeline_stamps(rt, mine, wall)), "load_after": load_after}
        for flow, r in results.items():
            lat = r["latencies"]
            console.print(f"{flow}: {len(lat)}/{r['sent']} filled, p50 {percentile(lat, 50):.1f} ms, "
                          f"p99 {percentile(lat, 99):.1f} ms, load {r['load_after']}")
    finally:
        client = None  # release the producer before the broker goes away
        tear_down(procs, (fills,), settings, external)

    conditions["load_after"] = load_average()
    conditions["wall_s"] = round(time.perf_counter() - began, 1)
    figures = report(console, conditions, results)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
        console.print(f"figures written to {args.json}")


def figures_of(results: dict[str, dict]) -> dict:
    """Per flow p50/p90/p99/max (ms), filled/sent, hop medians, CPU; and routed / unrouted ratios."""
    out: dict = {"flows": {}, "ratios": {}}
    for flow, r in results.items():
        lat = r["latencies"]
        out["flows"][flow] = {
            "sent": r["sent"], "filled": len(lat), "p50_ms": percentile(lat, 50), "p90_ms": percentile(lat, 90),
            "p99_ms": percentile(lat, 99), "max_ms": max(lat) if lat else float("nan"),
            "hops_p50_ms": {k: percentile(v, 50) for k, v in r["hops"].items()},
            "hops_p99_ms": {k: percentile(v, 99) for k, v in r["hops"].items()},
            "cpu_percent": r["cpu"], "load_after": r["load_after"],
        }
    if set(FLOWS) <= set(results):
        routed, unrouted = out["flows"]["routed"], out["flows"]["unrouted"]
        for q in ("p50_ms", "p90_ms", "p99_ms"):
            base = unrouted[q]
            out["ratios"][f"{q[:3]} routed/unrouted"] = routed[q] / base if base else float("nan")
    return out


def report(console: Console, conditions: dict, results: dict[str, dict]) -> dict:
    figures = figures_of(results)
    print_conditions(console, conditions)

    table = Table(title=f"command -> first fill: smart-routed (3 venues) beside unrouted (static), same run, "
                        f"{conditions['flows']}")
    for col in ("flow", "filled", "p50 ms", "p90 ms", "p99 ms", "max ms", "CPU % (broker/worker/gw)", "load after"):
        table.add_column(col, justify="right")
    fmt = lambda v: "n/a" if v is None else f"{v:.0f}"  # noqa: E731
    for flow, f in figures["flows"].items():
        table.add_row(flow, f"{f['filled']}/{f['sent']}", f"{f['p50_ms']:.1f}", f"{f['p90_ms']:.1f}",
                      f"{f['p99_ms']:.1f}", f"{f['max_ms']:.1f}",
                      "/".join(fmt(f["cpu_percent"].get(w)) for w in ("broker", "worker", "gateway")), f["load_after"])
    console.print(table)

    hops = Table(title="per hop, from record timestamps (ms, p50 / p99)")
    hops.add_column("flow")
    names = list(next(iter(results.values()))["hops"]) if results else []
    for n in names:
        hops.add_column(n, justify="right")
    for flow, f in figures["flows"].items():
        hops.add_row(flow, *(f"{f['hops_p50_ms'][n]:.0f} / {f['hops_p99_ms'][n]:.0f}" for n in names))
    console.print(hops)

    ratios = Table(title="ratios (routed / unrouted, same run)")
    ratios.add_column("ratio")
    ratios.add_column("value", justify="right")
    for k, v in figures["ratios"].items():
        ratios.add_row(k, f"{v:.2f}x")
    console.print(ratios)
    return {"conditions": conditions, **figures}


if __name__ == "__main__":
    main()

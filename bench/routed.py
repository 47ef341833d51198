"""End-to-end latency of a smart-routed order beside an unrouted one: the same flow twice in one run.

Starts, as real processes on topics under a unique prefix (`entrypoints.supervisor.Processes`),
the synthetic market data feed fanned out to three simulated venues with different prices
(`oms marketdata --venues SIM-A:0,SIM-B:0.01,SIM-C:-0.01`), one venue gateway serving the three
with different fee schedules (`OMS_VENUE_FEES`, which `oms venue` charges by default) and a worker
whose smart order routing (`OMS_ROUTING`) covers the routed accounts only
(`account:R0=best,...`): every other account is routed statically to SIM-A, as without smart
routing. After a warm-up of both flows it sends `--orders` MARKET BUY orders of `--quantity` at
`--rate` per second from the unrouted accounts, then the same from the routed ones (`--first
routed` swaps them), and measures each order's command -> first fill (the fill's arrival at a
consumer thread minus the send time, as `bench.pipeline` does): p50/p90/p99/max per flow, their
ratio routed / unrouted, the per-hop split from the record timestamps (a routed order's venue
request and report are its first child's) and the CPU of the worker, the gateway and the broker.

Orders with no fill within `--timeout` after the last send are counted (filled x/y) and left out
of the percentiles. Unrouted orders are MARKET orders at the venue and always fill; a routed
MARKET parent sweeps the consolidated book with LIMIT children at the prices it saw, so a child
that reaches its venue after the venue's quote moved away rests until the market comes back.
The feed steps at `--md-rate` (default 5/s, a quote per venue per step) so that this race is
rare; at 50/s it leaves a few percent of routed orders resting for minutes.

The broker is `KAFKA_BOOTSTRAP_SERVERS`, else a local one started under the temporary home and
stopped at the end. Conditions (load average before and after) are printed with the figures.
A benchmark, not a test: run `python -m bench.routed [--orders 300] [--rate 50] [--strategy best]
[--quantity 1] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.pipeline import (INSTRUMENT, CpuMeter, fill_arrivals, hop_table, load_average, paced_run, percentile,
                            broker_condition, open_bench, pipeline_stamps, print_conditions, tear_down)
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
    parser.add_argument("--first", choices=FLOWS, default="unrouted", help="which flow runs first")
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
        "broker": broker_condition(external, broker_pid, "the first flow"),
        "cores": os.cpu_count(), "load_before": load_average(), "orders_per_flow": args.orders,
        "marketdata_steps_per_s": args.md_rate,
        "rate_per_s": args.rate, "quantity": args.quantity, "strategy": args.strategy,
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

        t = time.perf_counter()
        for flow in FLOWS:
            warm = [f"w{flow[0]}-{i}" for i in range(20)]
            send = sender(flow)
            for i, cid in enumerate(warm):
                send(cid, i)
            client.flush()
            # a routed child can rest (see the docstring): most of the warm-up filled is warm enough
            procs.wait_until(lambda: sum(c in fills.first for c in warm) >= 18, timeout=180,
                             what=f"{flow} warm-up fills", poll=0.05)
        console.print(f"warm-up: 20 orders of each flow after {time.perf_counter() - t:.1f}s")

        pids = {"broker": broker_pid, "worker": procs.procs["worker"].pid, "gateway": procs.procs["venue"].pid}
        order = FLOWS if args.first == "unrouted" else tuple(reversed(FLOWS))
        for flow in order:
            meter = CpuMeter(pids)
            meter.start()
            sent, lat, wall = paced_run(sender(flow), client.flush, fills, flow[0], args.orders, args.rate,
                                        args.timeout)
            cpu = meter.read()
            hops = hop_table(pipeline_stamps(rt, sent, wall))
            results[flow] = {"sent": len(sent), "latencies": lat, "hops": hops, "cpu": cpu,
                             "load_after": load_average()}
            console.print(f"{flow}: {len(lat)}/{len(sent)} filled, p50 {percentile(lat, 50):.1f} ms, "
                          f"p99 {percentile(lat, 99):.1f} ms, load {load_average()}")
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

    table = Table(title="command -> first fill: smart-routed (3 venues) beside unrouted (static), same run")
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

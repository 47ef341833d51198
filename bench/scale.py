"""Benchmark of scale-out: orders filled per second with one worker, then with two sharing the partitions.

This module owns the scale-out rows of `make bench`. It starts the synthetic
market data feed, the simulated venue gateway and worker instance 0 as real
processes on topics under a unique prefix, sends `--burst` MARKET orders over
twelve accounts (spread over every partition) as fast as it can and times
them until each has its fill; then it starts worker instance 1
(`--instance 1`: its own transactional and static member id, its own state
stores), waits until the order engine's consumer group has given each worker
a share of the partitions (`group_assignment`, from the broker's description
of the group), and times the same burst again. It prints orders filled per
second for one and two workers, their ratio, which partitions each worker
held, and the conditions (broker started by this run or external, partitions,
load average before and after). On one 2-core machine the two workers share
the cores with the broker: what a second worker adds there is a second
interpreter (a GIL of its own, shared with its own position manager) and the
time the first spends waiting on the broker, not cores; cores come with
machines. The first burst also runs on a younger broker (its JVM still
compiling), which favours the second row: quote the broker's age with it.
`--json FILE` writes the figures. Run with
`python -m bench.scale [--burst N] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from confluent_kafka.admin import AdminClient
from rich.console import Console
from rich.table import Table

from bench.pipeline import (INSTRUMENT, broker_condition, burst_run, fill_arrivals, load_average, open_bench,
                            tear_down)
from entrypoints.supervisor import Processes
from oms.clock import LiveClock
from streams.client import OrderClient

ACCOUNTS = 12
"""Accounts the burst is spread over: enough that every partition of a few gets orders."""


def group_assignment(bootstrap_servers: str, group: str) -> dict[str, set[tuple[str, int]]]:
    """The consumer group's members (by static instance id, else member id) and the (topic, partition)s
    each holds, as the broker describes the group; empty while it does not answer (e.g. rebalancing)."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    try:
        description = admin.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
    except Exception:  # the coordinator is rebalancing or not answering: no answer yet
        return {}
    return {(m.group_instance_id or m.member_id): {(tp.topic, tp.partition) for tp in m.assignment.topic_partitions}
            for m in description.members}


def wait_for_members(procs: Processes, bootstrap_servers: str, group: str, members: int, timeout: float
                     ) -> dict[str, set[tuple[str, int]]]:
    """The group's assignment once it has `members` members, each holding at least one partition."""
    def shared():
        assignment = group_assignment(bootstrap_servers, group)
        return assignment if len(assignment) == members and all(assignment.values()) else None

    return procs.wait_until(shared, timeout=timeout, what=f"{members} members sharing {group}'s partitions")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=2000, help="orders in each timed burst")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a burst's fills")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    console = Console(width=130)
    settings, rt, external, broker_pid = open_bench("scale")
    conditions = {
        "broker": broker_condition(external, broker_pid, "the first burst"),
        "partitions": settings.partitions, "burst": args.burst, "accounts": ACCOUNTS,
        "load_before": load_average(),
    }
    group = f"{settings.topic_prefix}order-engine"
    procs = Processes(settings, rt.bootstrap_servers)
    fills = client = None
    rows: list[dict] = []
    try:
        procs.start_marketdata(f"{INSTRUMENT}:100.00", seed=1, rate=50)
        procs.start_gateway("SIM", 7)
        procs.start_worker()
        client = OrderClient(rt.event_producer(), rt.topics, trader="bench", clock=LiveClock())
        fills = fill_arrivals(rt)
        fills.start()

        def send(cid: str, i: int) -> None:
            client.new_order(account=f"S{i % ACCOUNTS}", client_order_id=cid, instrument=INSTRUMENT, side="BUY",
                             quantity=1)

        warm = [f"w-{i}" for i in range(2 * ACCOUNTS)]
        for i, cid in enumerate(warm):
            send(cid, i)
        client.flush()
        fills.wait_for(warm, timeout=180, procs=procs, what="warm-up fills")
        for workers in (1, 2):
            if workers == 2:
                procs.start("worker-1", "entrypoints.worker", "--instance", "1")
            held = wait_for_members(procs, rt.bootstrap_servers, group, workers, timeout=180)
            if workers == 2:  # the new member's partitions restored; one order per account through both
                warm = [f"w2-{i}" for i in range(2 * ACCOUNTS)]
                for i, cid in enumerate(warm):
                    send(cid, i)
                client.flush()
                fills.wait_for(warm, timeout=180, procs=procs, what="warm-up fills with two workers")
            result = burst_run(send, client.flush, fills, f"x{workers}", args.burst, args.timeout)
            result.update(workers=workers, load=load_average(),
                          partitions={member: sorted(f"{t.removeprefix(settings.topic_prefix)}[{p}]" for t, p in tps)
                                      for member, tps in held.items()})
            rows.append(result)
            console.print(f"{workers} worker(s): {result['filled']}/{result['orders']} filled in "
                          f"{result['seconds']:.2f}s ({result['filled_per_s']:.0f}/s), load {result['load']}")
    finally:
        client = None  # release the producer before the broker goes away
        tear_down(procs, (fills,), settings, external)
    conditions["load_after"] = load_average()

    table = Table(title=f"Scale-out: {args.burst:,} market orders filled, one worker then two in one group")
    for column in ("workers", "filled", "seconds", "filled/s", "partitions held (engine inputs)"):
        table.add_column(column, justify="left" if column.startswith("partitions") else "right")
    for row in rows:
        table.add_row(str(row["workers"]), f"{row['filled']:,}/{row['orders']:,}", f"{row['seconds']:.2f}",
                      f"{row['filled_per_s']:,.0f}",
                      "; ".join(f"{m.removeprefix(group + '-')}: {', '.join(p)}" for m, p in row["partitions"].items()))
    ratio = rows[1]["filled_per_s"] / rows[0]["filled_per_s"] if len(rows) == 2 and rows[0]["filled_per_s"] else None
    table.caption = (f"two / one worker: {ratio:.2f}x; " if ratio is not None else "") + (
        f"broker {conditions['broker']}, {settings.partitions} partitions, {ACCOUNTS} accounts; load average "
        f"{conditions['load_before']} before, {conditions['load_after']} after")
    console.print(table)
    if args.json is not None:
        args.json.write_text(json.dumps({"conditions": conditions, "rows": rows, "two_over_one": ratio},
                                        indent=2, default=str))
        console.print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()

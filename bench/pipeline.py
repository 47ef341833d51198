"""End-to-end benchmark of the OMS pipeline: order command to first fill, against raw Kafka.

Starts the synthetic market data feed, the simulated venue gateway and the
worker as real processes (`entrypoints.supervisor.Processes`) on topics under a
unique prefix, warms up with 20 market orders, then measures:

* latency at a fixed rate: `--orders` MARKET BUY orders of quantity 1 sent at
  `--rate` per second with `OrderClient`; latency is the arrival of the first
  `Fill` on the `fills` topic (seen by a consumer thread) minus the send time;
* sustained rate: `--burst` market orders sent as fast as possible, timed
  until every one of them has a fill; reported as orders fully filled per second;
* a raw Kafka baseline in the same run: the same encoded NewOrder bytes
  produced to a scratch topic with the OMS producer config and consumed with
  the OMS (read_committed) consumer config, at the same rate and count.

The broker is the one from `KAFKA_BOOTSTRAP_SERVERS`, else a local broker
started under the temporary home and stopped at the end. It is a benchmark, not a test: numbers depend on the
machine and its load. Run with
`python -m bench.pipeline [--orders N] [--rate R] [--burst B]`.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import threading
import time
from pathlib import Path
from uuid import uuid4

from confluent_kafka import KafkaError, TopicPartition
from confluent_kafka.admin import NewTopic
from rich.console import Console
from rich.table import Table

from oms import commands
from oms.clock import LiveClock
from oms.config import Settings
from entrypoints.supervisor import Processes
from streams.broker import LocalBroker
from streams.client import OrderClient
from streams.codec import encode_key
from streams.runtime import Runtime, connect

INSTRUMENT = "AAPL"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def assign_all(consumer, topic: str) -> None:
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])


class Arrivals(threading.Thread):
    """Polls a topic in the background and records the first arrival time per key."""

    def __init__(self, poll_one) -> None:
        super().__init__(daemon=True)
        self._poll_one = poll_one  # returns an id (str) or None
        self.first: dict[str, int] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            ident = self._poll_one()
            if ident is not None:
                now = time.perf_counter_ns()
                self.first.setdefault(ident, now)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)

    def have(self, ids) -> bool:
        return all(i in self.first for i in ids)

    def wait_for(self, ids, timeout: float, procs: Processes | None = None, what: str = "") -> bool:
        ids = list(ids)
        if procs is not None:
            procs.wait_until(lambda: self.have(ids), timeout=timeout, what=what, poll=0.05)
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.have(ids):
                return True
            time.sleep(0.05)
        return False


def fill_arrivals(rt: Runtime) -> Arrivals:
    consumer = rt.event_consumer(f"bench-fills-{uuid4().hex[:8]}", "bench", deadletter=False)
    assign_all(consumer.consumer, rt.topics.fills)

    def poll_one():
        received = consumer.poll(0.1)
        if received is None:
            return None
        return getattr(received.event, "client_order_id", None)

    arrivals = Arrivals(poll_one)
    arrivals.consumer = consumer  # closed by the caller
    return arrivals


def raw_arrivals(rt: Runtime, topic: str) -> Arrivals:
    consumer = rt.consumer(f"bench-raw-{uuid4().hex[:8]}")
    assign_all(consumer, topic)

    def poll_one():
        msg = consumer.poll(0.1)
        if msg is None or msg.error() is not None:
            if msg is not None and msg.error().code() != KafkaError._PARTITION_EOF:
                print(f"raw consumer error: {msg.error()}")
            return None
        return msg.key().decode()

    arrivals = Arrivals(poll_one)
    arrivals.consumer = consumer
    return arrivals


def paced(count: int, rate: float):
    """Yields 0..count-1, each no earlier than its slot at `rate` per second."""
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        yield i


def send_order(client: OrderClient, cid: str, i: int) -> None:
    client.new_order(account=f"B{i % 4}", client_order_id=cid, instrument=INSTRUMENT, side="BUY", quantity=1)


def latencies_ms(sent: dict[str, int], arrived: dict[str, int]) -> list[float]:
    return [(arrived[c] - t) / 1e6 for c, t in sent.items() if c in arrived]


def histogram(series: dict[str, list[float]], buckets_ms=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)) -> Table:
    """Latency distribution per series as bars: the shape of the tail at a glance."""
    table = Table(title="latency distribution (share of orders per bucket)")
    table.add_column("up to ms", justify="right")
    for name in series:
        table.add_column(name)
    edges = [*buckets_ms, float("inf")]
    for i, edge in enumerate(edges):
        low = edges[i - 1] if i else 0.0
        cells = []
        for values in series.values():
            share = sum(1 for v in values if low < v <= edge) / len(values) if values else 0.0
            cells.append(f"{'█' * round(share * 24):<24} {share:6.1%}")
        table.add_row("more" if edge == float("inf") else f"{edge:g}", *cells)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500, help="orders in the fixed-rate latency runs")
    parser.add_argument("--rate", type=float, default=50.0, help="orders per second in the latency runs")
    parser.add_argument("--burst", type=int, default=2000, help="orders in the sustained-rate run")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for outstanding fills")
    args = parser.parse_args(argv)
    console = Console(width=120)
    began = time.perf_counter()

    settings = Settings.from_env().with_(topic_prefix=f"bench{uuid4().hex[:6]}.",
                                         home=Path(tempfile.mkdtemp(prefix="oms-bench-")))
    rt = connect(settings)
    rt.ensure_topics()
    console.print(f"broker {rt.bootstrap_servers}, prefix {settings.topic_prefix}, home {settings.home}")

    procs = Processes(settings, rt.bootstrap_servers)
    fills: Arrivals | None = None
    raw: Arrivals | None = None
    client = producer = None
    rows: list[tuple[str, str]] = []
    pipe: list[float] = []
    base: list[float] = []
    try:
        procs.start_marketdata(f"{INSTRUMENT}:100.00", seed=1, rate=50)
        procs.start_gateway("SIM", 7)
        procs.start_worker()

        client = OrderClient(rt.event_producer(), rt.topics, trader="bench", clock=LiveClock())
        fills = fill_arrivals(rt)
        fills.start()

        # warm-up
        t = time.perf_counter()
        warm = [f"w-{i}" for i in range(20)]
        for i, cid in enumerate(warm):
            send_order(client, cid, i)
        client.flush()
        fills.wait_for(warm, timeout=180, procs=procs, what="warm-up fills")
        console.print(f"warm-up: 20 orders filled after {time.perf_counter() - t:.1f}s")

        # latency at a fixed rate
        sent: dict[str, int] = {}
        for i in paced(args.orders, args.rate):
            cid = f"b-{i}"
            sent[cid] = time.perf_counter_ns()
            send_order(client, cid, i)
            client.flush()
        fills.wait_for(sent, timeout=args.timeout)
        pipe = latencies_ms(sent, fills.first)
        console.print(f"latency run: {len(pipe)}/{len(sent)} filled")

        # sustained rate
        burst = [f"x-{i}" for i in range(args.burst)]
        t0 = time.perf_counter_ns()
        for i, cid in enumerate(burst):
            send_order(client, cid, i)
        client.flush()
        sent_done = time.perf_counter_ns()
        complete = fills.wait_for(burst, timeout=max(args.timeout, args.burst / 5))
        got = [fills.first[c] for c in burst if c in fills.first]
        burst_end = max(got) if got else time.perf_counter_ns()
        burst_s = (burst_end - t0) / 1e9
        console.print(f"burst: {len(got)}/{len(burst)} filled in {burst_s:.2f}s "
                      f"(sending took {(sent_done - t0) / 1e9:.2f}s)")

        # raw Kafka baseline: same bytes, same producer/consumer config, same rate and count
        scratch = f"{settings.topic_prefix}rawbench"
        admin = rt.admin()  # keep a reference: the futures fail if the client is destroyed
        for fut in admin.create_topics([NewTopic(scratch, 3, 1)]).values():
            fut.result()
        producer = rt.producer()
        raw = raw_arrivals(rt, scratch)
        raw.start()
        clock = LiveClock()
        payloads = []
        for i in range(args.orders):
            event = commands.new_order(clock, account=f"B{i % 4}", client_order_id=f"r-{i}",
                                       instrument=INSTRUMENT, side="BUY", quantity=1, trader="bench")
            payloads.append(rt.codec.encode(rt.topics.commands, event))
        warm_raw = [f"rw-{i}" for i in range(20)]  # warm up the raw path too (new topic, cold consumer)
        for i, cid in enumerate(warm_raw):
            producer.produce(scratch, key=encode_key(cid), value=payloads[i])
        producer.flush(30)
        raw.wait_for(warm_raw, timeout=60)
        raw_sent: dict[str, int] = {}
        for i in paced(args.orders, args.rate):
            cid = f"r-{i}"
            raw_sent[cid] = time.perf_counter_ns()
            producer.produce(scratch, key=encode_key(cid), value=payloads[i])
            producer.flush(30)
        raw.wait_for(raw_sent, timeout=args.timeout)
        base = latencies_ms(raw_sent, raw.first)
        for fut in admin.delete_topics([scratch]).values():
            fut.result()

        ms = lambda v: f"{v:.1f}"  # noqa: E731
        rows += [
            ("fixed rate", f"{args.orders} orders at {args.rate:g}/s"),
            ("pipeline fills received", f"{len(pipe)}/{len(sent)}"),
            ("pipeline p50 ms", ms(percentile(pipe, 50))),
            ("pipeline p99 ms", ms(percentile(pipe, 99))),
            ("pipeline p99.9 ms", ms(percentile(pipe, 99.9))),
            ("pipeline max ms", ms(max(pipe) if pipe else float("nan"))),
            ("raw received", f"{len(base)}/{len(raw_sent)}"),
            ("raw p50 ms", ms(percentile(base, 50))),
            ("raw p99 ms", ms(percentile(base, 99))),
            ("raw p99.9 ms", ms(percentile(base, 99.9))),
            ("raw max ms", ms(max(base) if base else float("nan"))),
            ("ratio pipeline/raw p50", f"{percentile(pipe, 50) / percentile(base, 50):.1f}x"),
            ("ratio pipeline/raw p99", f"{percentile(pipe, 99) / percentile(base, 99):.1f}x"),
            ("burst orders", f"{len(got)}/{len(burst)} filled" + ("" if complete else " (timed out)")),
            ("burst first send -> last first fill s", f"{burst_s:.2f}"),
            ("burst orders fully filled / s", f"{len(got) / burst_s:.0f}" if burst_s > 0 else "n/a"),
        ]
    finally:
        procs.stop_all()
        for arrivals in (fills, raw):
            if arrivals is not None:
                arrivals.stop()
                arrivals.consumer.close()
        client = producer = None  # release the producers before the broker goes away
        gc.collect()
        if not settings.bootstrap_servers:
            # the home is fresh, so the local broker under it was started by this run: stop it
            LocalBroker(settings.home / "broker", settings.cache_dir).stop()

    rows.append(("wall time s", f"{time.perf_counter() - began:.1f}"))
    table = Table(title="OMS pipeline: command -> first fill (vs raw Kafka round trip)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if pipe and base:
        console.print(histogram({"pipeline": pipe, "raw Kafka": base}))


if __name__ == "__main__":
    main()

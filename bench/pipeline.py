"""End-to-end benchmark of the OMS pipeline: order command to first fill, against a no-work floor.

Starts the synthetic market data feed, the simulated venue gateway and the
worker as real processes (`entrypoints.supervisor.Processes`) on topics under a
unique prefix, and beside them the floor (`bench.floor`): a relay chain with
the pipeline's topology (commands -> transactional hop -> requests -> plain
hop -> reports -> transactional hop -> fills) that does no work, on the same
client settings, each hop in a process of its own. After a warm-up of both it measures, in the same run:

* latency at fixed rates (`--rates`, default 50/s): `--orders` MARKET BUY
  orders sent at each rate, first to the floor, then to the pipeline; latency
  is the arrival of the first fill (seen by a consumer thread) minus the send
  time; p50/p90/p99/max, and the CPU of the broker, the worker and the gateway
  (or the floor's hops) over the run, read from /proc;
* per hop, from the record timestamps on the topics: command -> venue request,
  -> execution report -> fill -> seen by the bench;
* sustained rate: `--burst` orders sent as fast as possible, timed until every
  one has its fill, for both chains, with the CPU of each process and, for the
  pipeline, of each thread of the worker and the gateway (by the names the OMS
  gives its threads, `hostio.name_thread`) per order filled;
* ratios pipeline / floor (p50, p99 per rate; throughput);
* where each loop's time goes, per rate: the mean time of each phase of a
  transaction of the order engine (`oms_loop_phase_seconds` of the worker:
  wait for the first input, fetch the rest, begin, apply, send the offsets,
  commit, store) and of a turn of the gateway that did work (market data, wait,
  requests, tick, settle), beside the same phases of the floor's hops.

Conditions are printed with the figures: the broker (started by this run, and
how long before the first measurement, or external), the load average before
and after. `--json FILE` writes every figure too, to compare runs.

The broker is the one from `KAFKA_BOOTSTRAP_SERVERS`, else a local broker
started under the temporary home and stopped at the end (a fresh broker: its
JVM is still compiling during the first minute). It is a benchmark, not a
test: numbers depend on the machine and its load, which is why the floor runs
in the same run. Run with
`python -m bench.pipeline [--orders N] [--rates 50,1000] [--burst B] [--json FILE]`.
The same flow routed by the smart order router beside the unrouted one is `bench.routed`.
Profile a process of a run with py-spy (`pip install py-spy`), e.g.
`py-spy record -p <worker pid> -d 10 --threads --idle -f raw -o worker.txt`
(the pids are those of `python -m entrypoints.worker` / `entrypoints.venue`), or
`py-spy record ... --gil` to see which thread holds the GIL.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

from confluent_kafka import KafkaError, TopicPartition
from rich.console import Console
from rich.table import Table

from oms import commands
from oms.clock import LiveClock
from oms.config import Settings
from oms.ids import parent_of
from bench.floor import Floor
from entrypoints.supervisor import Processes
from streams import metrics
from streams.broker import LocalBroker
from streams.client import OrderClient
from streams.codec import encode_key
from streams.runtime import Runtime, connect

INSTRUMENT = "AAPL"
ACCOUNTS = 64
"""Accounts the orders are spread over (by their number): a burst must stay under each account's open
orders limit (500 by default), or its last orders are denied and never fill."""


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
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
        self.wall: dict[str, int] = {}
        """Wall-clock arrival (ns), to compare with record timestamps."""
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            ident = self._poll_one()
            if ident is not None and ident not in self.first:
                self.first[ident] = time.perf_counter_ns()
                self.wall[ident] = time.time_ns()

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
    client.new_order(account=f"B{i % ACCOUNTS}", client_order_id=cid, instrument=INSTRUMENT, side="BUY", quantity=1)


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


# ------------------------------------------------------------------ conditions


def _stat(path: Path) -> list[str]:
    """The fields of a /proc `stat` file after the command name (field 3 on): the name, in
    parentheses, may hold spaces. `OSError` when the process or thread is gone."""
    return path.read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process (and its reaped children) from /proc, None if unreadable."""
    if pid is None:
        return None
    try:
        fields = _stat(Path(f"/proc/{pid}/stat"))
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(f) for f in fields[11:15]) / ticks  # utime stime cutime cstime


def thread_cpu_seconds(pid: int | None) -> dict[str, float]:
    """User + system CPU seconds of each thread of a process by its operating-system name, threads of
    one name summed: the OMS names its own threads (`hostio.name_thread`: order-engine, t-orders, ...);
    the main thread is "main" (the worker's faust event loop, the gateway's loop), librdkafka's
    threads are "librdkafka", any other unnamed Python thread "other". Empty if unreadable."""
    out: dict[str, float] = {}
    if pid is None:
        return out
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            fields = _stat(task / "stat")
            comm = (task / "comm").read_text().strip()
        except OSError:
            continue  # the thread ended
        name = ("main" if task.name == str(pid) else "librdkafka" if comm.startswith("rdk:")
                else "other" if comm.startswith("python") else comm)
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return out


class ThreadMeter:
    """CPU seconds of each named thread of some processes between `start()` and `read()`."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids
        self._c0: dict[str, dict[str, float]] = {}

    def start(self) -> None:
        self._c0 = {name: thread_cpu_seconds(pid) for name, pid in self.pids.items()}

    def read(self) -> dict[str, dict[str, float]]:
        out = {}
        for name, pid in self.pids.items():
            before = self._c0.get(name, {})
            out[name] = {thread: seconds - before.get(thread, 0.0)
                         for thread, seconds in sorted(thread_cpu_seconds(pid).items(), key=lambda kv: -kv[1])}
        return out


def process_age_s(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        start_ticks = int(_stat(Path(f"/proc/{pid}/stat"))[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def tear_down(procs, followers, settings: Settings, external: bool) -> None:
    """Stop a bench's processes and fill followers, then the local broker if the bench started it
    (the home is fresh, so a local broker under it is this run's). The caller drops its producers
    first, so none outlives the broker."""
    procs.stop_all()
    for arrivals in followers:
        if arrivals is not None:
            arrivals.stop()
            arrivals.consumer.close()
    gc.collect()
    if not external:
        LocalBroker(settings.home / "broker", settings.cache_dir).stop()


def print_conditions(console: Console, conditions: dict) -> None:
    """The conditions a bench ran under (broker, load, sizes), one row each."""
    cond = Table(title="conditions")
    cond.add_column("what")
    cond.add_column("value")
    for k, v in conditions.items():
        cond.add_row(k, str(v))
    console.print(cond)


def first_market_fill(send, flush, arrivals, procs: Processes, timeout: float) -> None:
    """Send one market order a second until one fills: the simulated venue reads market data from
    its end when it starts, and refuses a market order ("no market") until its first quote."""
    deadline = time.monotonic() + timeout
    n = 0
    while True:
        probe = f"probe-{n}"
        send(probe, n)
        flush()
        if arrivals.wait_for([probe], timeout=1.0):
            return
        procs.wait_until(lambda: True, timeout=1, what="the processes")  # raises if one of them exited
        n += 1
        if time.monotonic() > deadline:
            raise TimeoutError(f"no market order filled within {timeout:.0f}s ({n} sent)")


def open_bench(prefix: str, **overrides) -> tuple[Settings, object, bool, int | None]:
    """A bench's settings (topic prefix `prefix` plus a random suffix, a fresh home, `overrides`), its
    runtime with the topics made, whether the broker is external, and the local broker's pid (None:
    external or unknown)."""
    settings = Settings.from_env().with_(topic_prefix=f"{prefix}{uuid4().hex[:6]}.",
                                         home=Path(tempfile.mkdtemp(prefix=f"oms-bench-{prefix}-")), **overrides)
    external = bool(settings.bootstrap_servers)
    rt = connect(settings)
    rt.ensure_topics()
    broker_pid = None if external else getattr(LocalBroker(settings.home / "broker", settings.cache_dir).status(),
                                                "pid", None)
    return settings, rt, external, broker_pid


def broker_condition(external: bool, broker_pid: int | None, before: str) -> str:
    """The broker row of a bench's conditions: external, or local with its age `before` the runs."""
    age = process_age_s(broker_pid)
    if external:
        return "external (KAFKA_BOOTSTRAP_SERVERS)"
    return f"local, started by this run ({age:.0f}s before {before})" if age else "local"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


class CpuMeter:
    """CPU share (in % of one core) of named processes between `start()` and `read()`."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids
        self._t0 = 0.0
        self._c0: dict[str, float | None] = {}

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._c0 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def read(self) -> dict[str, float | None]:
        elapsed = time.perf_counter() - self._t0
        out = {}
        for name, pid in self.pids.items():
            c1, c0 = cpu_seconds(pid), self._c0.get(name)
            out[name] = None if c1 is None or c0 is None or elapsed <= 0 else 100 * (c1 - c0) / elapsed
        return out


# ------------------------------------------------------------------ per hop


def hop_table(stamps: dict[str, list[int | None]]) -> dict[str, list[float]]:
    """Per-hop latencies (ms) from the record timestamps of each order's command, venue request,
    execution report and fill, and its arrival at the bench (wall clock, ms)."""
    names = ["command -> request", "request -> report", "report -> fill", "fill -> seen"]
    hops: dict[str, list[float]] = {n: [] for n in names}
    for chain in stamps.values():
        for i, name in enumerate(names):
            a, b = chain[i], chain[i + 1]
            if a is not None and b is not None:
                hops[name].append(b - a)
    return hops


def pipeline_stamps(rt: Runtime, cids: dict[str, int], seen_wall: dict[str, int]) -> dict[str, list]:
    """cid -> [command ts, venue request ts, first fill-report ts, fill ts, seen] (ms) from the topics. A
    smart-routed order's venue requests and reports are its children's: the first child's count for it."""
    reader = rt.reader()
    topics = rt.topics
    cmd, req, rep, fill, order_of = {}, {}, {}, {}, {}
    try:
        for topic in (topics.commands, topics.venue_requests, topics.exec_reports, topics.fills):
            reader.assign(topic)
        for record in reader.records(idle_timeout=30):
            try:
                event = rt.codec.decode(record.topic, record.value)
            except Exception:
                continue
            ts = record.timestamp_ms
            if record.topic == topics.commands:
                cmd.setdefault(getattr(event, "client_order_id", None), ts)
            elif record.topic == topics.venue_requests:
                req.setdefault(parent_of(event.order_id) or event.order_id, ts)
            elif record.topic == topics.exec_reports:
                if getattr(event, "last_qty", 0):
                    rep.setdefault(parent_of(event.order_id) or event.order_id, ts)
            elif record.topic == topics.fills:
                fill.setdefault(event.client_order_id, ts)
                order_of.setdefault(event.client_order_id, event.order_id)
    finally:
        reader.close()
    out = {}
    for cid in cids:
        oid = order_of.get(cid)
        out[cid] = [cmd.get(cid), req.get(oid), rep.get(oid), fill.get(cid),
                    seen_wall[cid] // 1_000_000 if cid in seen_wall else None]
    return out


def floor_stamps(rt: Runtime, floor: Floor, cids: dict[str, int], seen_wall: dict[str, int]) -> dict[str, list]:
    reader = rt.reader()
    order = [floor.topics.commands, floor.topics.requests, floor.topics.reports, floor.topics.fills]
    found: dict[str, dict[str, int]] = {t: {} for t in order}
    try:
        for topic in order:
            reader.assign(topic)
        for record in reader.records(idle_timeout=30):
            found[record.topic].setdefault(record.text_key, record.timestamp_ms)
    finally:
        reader.close()
    return {cid: [*(found[t].get(cid) for t in order),
                  seen_wall[cid] // 1_000_000 if cid in seen_wall else None] for cid in cids}


# ------------------------------------------------------------------ phases

Phases = dict[str, dict[str, tuple[int, float]]]
"""loop -> phase -> (count, seconds)."""


def pipeline_phases(home: Path) -> Phases:
    """`oms_loop_phase_seconds` of every live process of the run (order engine, venue gateway), by processor."""
    out: Phases = {}
    for endpoint in metrics.endpoints(home):
        if not endpoint.alive:
            continue
        try:
            samples = metrics.scrape(endpoint.url)
        except OSError:
            continue
        sums = {(labels["processor"], labels["phase"]): value
                for labels, value in samples.get("oms_loop_phase_seconds_sum", [])}
        for labels, count in samples.get("oms_loop_phase_seconds_count", []):
            key = (labels["processor"], labels["phase"])
            out.setdefault(key[0], {})[key[1]] = (int(count), sums.get(key, 0.0))
    return out


def phase_means(before: Phases, after: Phases, names: dict[str, str]) -> dict[str, dict[str, float]]:
    """Loop (renamed by `names`, others left out) -> phase -> mean ms between two readings, with
    "count": the transactions or turns in between (of the loop's first phase)."""
    out: dict[str, dict[str, float]] = {}
    for loop, name in names.items():
        phases = after.get(loop, {})
        row: dict[str, float] = {}
        for phase, (count, seconds) in phases.items():
            count0, seconds0 = before.get(loop, {}).get(phase, (0, 0.0))
            if count > count0:
                row.setdefault("count", count - count0)
                row[phase] = 1000 * (seconds - seconds0) / (count - count0)
        if row:
            out[name] = row
    return out


# ------------------------------------------------------------------ the runs


@dataclass
class RunResult:
    name: str
    rate: float
    sent: int
    latencies: list[float]
    hops: dict[str, list[float]]
    cpu: dict[str, float | None]
    phases: dict[str, dict[str, float]]

    def figures(self) -> dict:
        lat = self.latencies
        return {
            "name": self.name, "rate_per_s": self.rate, "sent": self.sent, "received": len(lat),
            "p50_ms": percentile(lat, 50), "p90_ms": percentile(lat, 90), "p99_ms": percentile(lat, 99),
            "max_ms": max(lat) if lat else float("nan"),
            "hops_p50_ms": {k: percentile(v, 50) for k, v in self.hops.items()},
            "hops_p99_ms": {k: percentile(v, 99) for k, v in self.hops.items()},
            "cpu_percent": self.cpu, "phases_mean_ms": self.phases,
        }


def paced_run(send, flush, arrivals: Arrivals, prefix: str, count: int, rate: float, timeout: float
              ) -> tuple[dict[str, int], list[float], dict[str, int]]:
    """Send `count` orders at `rate`; (sent perf ns, latencies ms, seen wall ns)."""
    sent: dict[str, int] = {}
    flush_each = rate <= 200  # at high rates the producer's linger batches, as a client's would
    for i in paced(count, rate):
        cid = f"{prefix}-{i}"
        sent[cid] = time.perf_counter_ns()
        send(cid, i)
        if flush_each:
            flush()
    flush()
    arrivals.wait_for(sent, timeout=timeout)
    return sent, latencies_ms(sent, arrivals.first), arrivals.wall


def burst_run(send, flush, arrivals: Arrivals, prefix: str, count: int, timeout: float) -> dict:
    ids = [f"{prefix}-{i}" for i in range(count)]
    t0 = time.perf_counter_ns()
    for i, cid in enumerate(ids):
        send(cid, i)
    flush()
    sent_done = time.perf_counter_ns()
    complete = arrivals.wait_for(ids, timeout=timeout)
    got = [arrivals.first[c] for c in ids if c in arrivals.first]
    end = max(got) if got else time.perf_counter_ns()
    seconds = (end - t0) / 1e9
    return {"orders": count, "filled": len(got), "complete": complete, "seconds": seconds,
            "sending_s": (sent_done - t0) / 1e9, "filled_per_s": len(got) / seconds if seconds > 0 else 0.0}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500, help="orders in each fixed-rate latency run")
    parser.add_argument("--rates", default="50", help="comma-separated rates (orders/s) of the latency runs")
    parser.add_argument("--rate", type=float, default=None, help="one rate (same as --rates R)")
    parser.add_argument("--burst", type=int, default=2000, help="orders in the sustained-rate run (0: none)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for outstanding fills")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    rates = [args.rate] if args.rate else [float(r) for r in args.rates.split(",") if r]
    console = Console(width=130)
    began = time.perf_counter()

    settings, rt, external, broker_pid = open_bench("bench")
    conditions = {
        "broker": broker_condition(external, broker_pid, "the first run"),
        "bootstrap": rt.bootstrap_servers, "cores": os.cpu_count(), "load_before": load_average(),
        "orders_per_run": args.orders, "rates": rates, "burst": args.burst,
    }
    console.print(f"broker {rt.bootstrap_servers} ({conditions['broker']}), prefix {settings.topic_prefix}, "
                  f"load {conditions['load_before']}")

    procs = Processes(settings, rt.bootstrap_servers)
    fills: Arrivals | None = None
    floor_fills: Arrivals | None = None
    floor: Floor | None = None
    client = producer = None
    runs: list[RunResult] = []
    bursts: dict[str, dict] = {}
    try:
        procs.start_marketdata(f"{INSTRUMENT}:100.00", seed=1, rate=50)
        procs.start_gateway("SIM", 7)
        procs.start_worker()
        floor = Floor.start(rt.bootstrap_servers, settings.topic_prefix, settings.partitions)

        client = OrderClient(rt.event_producer(), rt.topics, trader="bench", clock=LiveClock())
        fills = fill_arrivals(rt)
        fills.start()
        producer = rt.producer()
        floor_fills = raw_arrivals(rt, floor.topics.fills)
        floor_fills.start()
        clock = LiveClock()

        def floor_send(cid: str, i: int) -> None:
            event = commands.new_order(clock, account=f"B{i % ACCOUNTS}", client_order_id=cid, instrument=INSTRUMENT,
                                       side="BUY", quantity=1, trader="bench")
            producer.produce(floor.topics.commands, key=encode_key(cid), value=rt.codec.encode(rt.topics.commands,
                                                                                                   event))
            producer.poll(0)

        pipe_send = lambda cid, i: send_order(client, cid, i)  # noqa: E731
        pipe_flush = client.flush
        floor_flush = lambda: producer.flush(30)  # noqa: E731

        # warm-up, both chains
        t = time.perf_counter()
        for name, send, flush, arrivals in (("pipeline", pipe_send, pipe_flush, fills),
                                            ("floor", floor_send, floor_flush, floor_fills)):
            if arrivals is fills:  # the venue answers a market order "no market" until it has seen a quote
                first_market_fill(send, flush, arrivals, procs, timeout=180)
            warm = [f"w-{i}" for i in range(20)]
            for i, cid in enumerate(warm):
                send(cid, i)
            flush()
            if arrivals is fills:
                arrivals.wait_for(warm, timeout=180, procs=procs, what="warm-up fills")
            elif not arrivals.wait_for(warm, timeout=60):
                raise RuntimeError("floor warm-up fills did not arrive")
        console.print(f"warm-up: 20 orders through each chain after {time.perf_counter() - t:.1f}s")

        loops = {"floor": {"transactional": "floor txn hop", "plain": "floor plain hop"},
                 "pipeline": {f"{settings.topic_prefix}order-engine": "order engine", "venue-gateway": "gateway"}}
        read_phases = {"floor": floor.phases, "pipeline": lambda: pipeline_phases(settings.home)}
        pids = {"broker": broker_pid, "worker": procs.procs["worker"].pid, "gateway": procs.procs["venue"].pid,
                "floor txn hop": floor.pids.get("floor-transactional"), "floor plain hop": floor.pids.get("floor-plain")}
        for rate in rates:
            for name, send, flush, arrivals, stamps in (
                ("floor", floor_send, floor_flush, floor_fills,
                 lambda s, w: floor_stamps(rt, floor, s, w)),
                ("pipeline", pipe_send, pipe_flush, fills, lambda s, w: pipeline_stamps(rt, s, w)),
            ):
                meter = CpuMeter(pids)
                meter.start()
                phases_before = read_phases[name]()
                sent, lat, wall = paced_run(send, flush, arrivals, f"{name[0]}{rate:g}", args.orders, rate,
                                            args.timeout)
                cpu = meter.read()
                phases = phase_means(phases_before, read_phases[name](), loops[name])
                hops = hop_table(stamps(sent, wall))
                runs.append(RunResult(name, rate, len(sent), lat, hops, cpu, phases))
                console.print(f"{name} at {rate:g}/s: {len(lat)}/{len(sent)} filled, p50 "
                              f"{percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f} ms, load {load_average()}")

        if args.burst:
            for name, send, flush, arrivals in (("floor", floor_send, floor_flush, floor_fills),
                                                ("pipeline", pipe_send, pipe_flush, fills)):
                meter = CpuMeter(pids)
                meter.start()
                threads = ThreadMeter({"worker": pids["worker"], "gateway": pids["gateway"]}
                                      if name == "pipeline" else {})
                threads.start()
                phases_before = read_phases[name]()
                bursts[name] = burst_run(send, flush, arrivals, f"{name[0]}x", args.burst,
                                         max(args.timeout, args.burst / 5))
                bursts[name]["cpu_percent"] = meter.read()
                bursts[name]["thread_cpu_s"] = threads.read()
                bursts[name]["phases_mean_ms"] = phase_means(phases_before, read_phases[name](), loops[name])
                b = bursts[name]
                console.print(f"{name} burst: {b['filled']}/{b['orders']} filled in {b['seconds']:.2f}s "
                              f"({b['filled_per_s']:.0f}/s; sending took {b['sending_s']:.2f}s)")
    finally:
        if floor is not None:
            floor.stop()
        client = producer = None  # release the producers before the broker goes away
        tear_down(procs, (fills, floor_fills), settings, external)

    conditions["load_after"] = load_average()
    conditions["wall_s"] = round(time.perf_counter() - began, 1)
    report(console, conditions, runs, bursts)
    if args.json is not None:
        ratios = ratio_rows(runs, bursts)
        args.json.write_text(json.dumps({"conditions": conditions, "runs": [r.figures() for r in runs],
                                         "bursts": bursts, "ratios": ratios}, indent=2, default=str))
        console.print(f"figures written to {args.json}")


def ratio_rows(runs: list[RunResult], bursts: dict[str, dict]) -> dict[str, float]:
    out = {}
    by = {(r.name, r.rate): r for r in runs}
    for (name, rate), run in by.items():
        base = by.get(("floor", rate))
        if name != "pipeline" or base is None:
            continue
        for q in (50, 99):
            f = percentile(base.latencies, q)
            out[f"p{q} pipeline/floor at {rate:g}/s"] = percentile(run.latencies, q) / f if f else float("nan")
    if "pipeline" in bursts and "floor" in bursts and bursts["floor"]["filled_per_s"]:
        out["throughput pipeline/floor"] = bursts["pipeline"]["filled_per_s"] / bursts["floor"]["filled_per_s"]
    return out


def phase_table(runs: list[RunResult], bursts: dict[str, dict]) -> Table:
    """Mean ms of each phase of a transaction (transactional hops) or a turn that did work (plain hops)."""
    table = Table(title="where each loop's time goes: mean ms per transaction or turn (n: how many)")
    for col in ("chain", "rate/s", "loop", "n", "phases (mean ms)"):
        table.add_column(col, justify="left" if col == "phases (mean ms)" else "right")
    rows = [(r.name, f"{r.rate:g}", r.phases) for r in runs]
    rows += [(name, "burst", b.get("phases_mean_ms", {})) for name, b in bursts.items()]
    for chain, rate, phases in rows:
        for loop, row in phases.items():
            text = "  ".join(f"{phase} {ms:.2f}" for phase, ms in row.items() if phase != "count")
            table.add_row(chain, rate, loop, f"{row.get('count', 0):.0f}", text)
    return table


def _metered(chain: str) -> tuple[str, str, str]:
    """The processes whose CPU a row of `chain` shows: the broker and the chain's two hops."""
    return ("broker", "floor txn hop", "floor plain hop") if chain == "floor" else ("broker", "worker", "gateway")


def thread_table(burst: dict) -> Table:
    """Where the pipeline's Python processes spend their CPU in a burst: each thread's share of a core
    and its CPU per order filled (threads under 1% of a core are summed as "rest")."""
    table = Table(title="pipeline burst: CPU by process and thread (% of one core; CPU ms per order filled)")
    for col in ("process", "thread", "CPU %", "CPU ms per order"):
        table.add_column(col, justify="left" if col in ("process", "thread") else "right")
    seconds, filled = burst["seconds"], max(burst["filled"], 1)
    for process, threads in burst["thread_cpu_s"].items():
        rest = 0.0
        for thread, cpu in threads.items():
            if cpu / seconds < 0.01:
                rest += cpu
                continue
            table.add_row(process, thread, f"{100 * cpu / seconds:.0f}", f"{1000 * cpu / filled:.2f}")
        total = sum(threads.values())
        table.add_row(process, "rest", f"{100 * rest / seconds:.0f}", f"{1000 * rest / filled:.2f}")
        table.add_row(process, "all", f"{100 * total / seconds:.0f}", f"{1000 * total / filled:.2f}",
                      end_section=True)
    return table


def report(console: Console, conditions: dict, runs: list[RunResult], bursts: dict[str, dict]) -> None:
    print_conditions(console, conditions)

    table = Table(title="command -> first fill, pipeline vs floor (relay chain, same topology, no work)")
    for col in ("chain", "rate/s", "filled", "p50 ms", "p90 ms", "p99 ms", "max ms", "CPU % (broker/worker/gw)"):
        table.add_column(col, justify="right")
    fmt = lambda v: "n/a" if v is None else f"{v:.0f}"  # noqa: E731
    for r in runs:
        f = r.figures()
        cpu = r.cpu
        who = _metered(r.name)
        table.add_row(r.name, f"{r.rate:g}", f"{f['received']}/{f['sent']}", f"{f['p50_ms']:.1f}",
                      f"{f['p90_ms']:.1f}", f"{f['p99_ms']:.1f}", f"{f['max_ms']:.1f}",
                      "/".join(fmt(cpu.get(w)) for w in who))
    console.print(table)

    hops = Table(title="per hop, from record timestamps (ms, p50 / p99)")
    hops.add_column("chain")
    hops.add_column("rate/s", justify="right")
    names = list(runs[0].hops) if runs else []
    for n in names:
        hops.add_column(n, justify="right")
    for r in runs:
        hops.add_row(r.name, f"{r.rate:g}", *(f"{percentile(r.hops[n], 50):.0f} / {percentile(r.hops[n], 99):.0f}"
                                              for n in names))
    console.print(hops)

    if bursts:
        bt = Table(title="sustained: a burst sent as fast as possible, until every order has its fill")
        for col in ("chain", "filled", "seconds", "orders filled/s", "CPU % (broker/worker/gw or hops)"):
            bt.add_column(col, justify="right")
        for name, b in bursts.items():
            who = _metered(name)
            bt.add_row(name, f"{b['filled']}/{b['orders']}", f"{b['seconds']:.2f}", f"{b['filled_per_s']:.0f}",
                       "/".join(fmt(b["cpu_percent"].get(w)) for w in who))
        console.print(bt)
        if bursts.get("pipeline", {}).get("thread_cpu_s"):
            console.print(thread_table(bursts["pipeline"]))

    console.print(phase_table(runs, bursts))

    rt = Table(title="ratios (pipeline / floor, same run)")
    rt.add_column("ratio")
    rt.add_column("value", justify="right")
    for k, v in ratio_rows(runs, bursts).items():
        rt.add_row(k, f"{v:.2f}x")
    console.print(rt)
    for rate in sorted({r.rate for r in runs}):
        series = {f"{r.name} {rate:g}/s": r.latencies for r in runs if r.rate == rate}
        console.print(histogram(series))


if __name__ == "__main__":
    main()

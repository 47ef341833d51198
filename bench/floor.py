"""The floor of the pipeline benchmark: a relay chain with the pipeline's topology that does no work.

    commands -> transactional hop -> requests -> plain hop -> reports -> transactional hop -> fills

The transactional hop is the order engine's loop without the engine
(`streams.processor`'s client settings, `transactional_consumer_config` and
`transactional_producer_config`; wait for one record, take what is already
fetched, then begin / produce / send the offsets / commit), relaying each
record's bytes unchanged to the next topic. The plain hop is the venue
gateway's loop without the venues (`streams.kafka`'s `consumer_config` and
`producer_config`; poll, produce, wait for delivery, commit the offsets
synchronously). Each hop runs in a process of its own, as the worker and the
gateway do, so the floor pays the same process and client costs and nothing
else: what the pipeline takes beyond it is the OMS's own work and waiting.
Each hop adds up the time of each phase of its loop (`TXN_PHASES`, `PLAIN_PHASES`:
the order engine's and the gateway's phase names) in shared memory, and
`Floor.phases()` reads them, to compare with the pipeline's `oms_loop_phase_seconds`.
`Floor.start(...)` creates its four topics and starts both hops; `stop()` ends them.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streams.kafka import consumer_config, producer_config
from streams.processor import transactional_consumer_config, transactional_producer_config

POLL_TIMEOUT_S = 0.05
"""The transactional processor's default wait for its first record."""
GATEWAY_POLL_S = 0.02
"""The venue gateway's default wait for a request."""
BATCH = 500
TXN_PHASES = ("wait", "fetch", "begin", "apply", "send_offsets", "commit")
PLAIN_PHASES = ("wait", "requests", "settle")


class PhaseTotals:
    """Count and seconds per phase of a hop's loop, in a shared array the bench reads."""

    def __init__(self, phases: tuple[str, ...], shared) -> None:
        self.phases = phases
        self._shared = shared  # [count, seconds] per phase

    def add(self, *durations: float) -> None:
        for i, seconds in enumerate(durations):
            self._shared[2 * i] += 1
            self._shared[2 * i + 1] += seconds

    def read(self) -> dict[str, tuple[int, float]]:
        values = list(self._shared)
        return {phase: (int(values[2 * i]), values[2 * i + 1]) for i, phase in enumerate(self.phases)}


@dataclass(frozen=True)
class FloorTopics:
    commands: str
    requests: str
    reports: str
    fills: str

    @classmethod
    def under(cls, prefix: str) -> "FloorTopics":
        return cls(*(f"{prefix}floor.{name}" for name in ("commands", "requests", "reports", "fills")))


def transactional_hop(bootstrap: str, topics: FloorTopics, group: str, stop, ready, settings: dict,
                      shared) -> None:
    """commands -> requests and reports -> fills, in transactions, as the order engine's processor."""
    consumer = Consumer(transactional_consumer_config(bootstrap, group, **settings.get("consumer", {})))
    producer = Producer(transactional_producer_config(bootstrap, f"{group}-0", **settings.get("producer", {})))
    producer.init_transactions(30)
    route = {topics.commands: topics.requests, topics.reports: topics.fills}
    consumer.subscribe(list(route))
    totals = PhaseTotals(TXN_PHASES, shared)
    ready.set()
    try:
        while not stop.is_set():
            t0 = time.perf_counter()
            messages = consumer.consume(1, POLL_TIMEOUT_S)
            t1 = time.perf_counter()
            if messages:
                messages += consumer.consume(BATCH - 1, 0)
            messages = [m for m in messages if m.error() is None]
            if not messages:
                continue
            t2 = time.perf_counter()
            producer.begin_transaction()
            t3 = time.perf_counter()
            for m in messages:
                producer.produce(route[m.topic()], key=m.key(), value=m.value())
            producer.poll(0)
            t4 = time.perf_counter()
            producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                                 consumer.consumer_group_metadata(), 10)
            t5 = time.perf_counter()
            producer.commit_transaction(10)
            totals.add(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, time.perf_counter() - t5)
    finally:
        consumer.close()


def plain_hop(bootstrap: str, topics: FloorTopics, group: str, stop, ready, settings: dict, shared) -> None:
    """requests -> reports, at least once, as the venue gateway: deliver, then commit."""
    consumer = Consumer(consumer_config(bootstrap, group, **settings.get("consumer", {})))
    producer = Producer(producer_config(bootstrap, **settings.get("producer", {})))
    consumer.subscribe([topics.requests])
    totals = PhaseTotals(PLAIN_PHASES, shared)
    ready.set()
    try:
        while not stop.is_set():
            offsets = {}
            t0 = time.perf_counter()
            msg = consumer.poll(GATEWAY_POLL_S)
            t1 = time.perf_counter()
            for n in range(BATCH):
                if n:  # poll only what this turn handles: a message polled is never dropped
                    msg = consumer.poll(0)
                if msg is None:
                    break
                if msg.error() is None:
                    producer.produce(topics.reports, key=msg.key(), value=msg.value())
                    offsets[(msg.topic(), msg.partition())] = msg.offset() + 1
                elif msg.error().code() != KafkaError._PARTITION_EOF:
                    print(f"floor plain hop: {msg.error()}")
            if offsets:
                t2 = time.perf_counter()
                producer.flush(10)
                consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                                asynchronous=False)
                totals.add(t1 - t0, t2 - t1, time.perf_counter() - t2)
    finally:
        consumer.close()


class Floor:
    """The two relay hops, each in a process of its own, on topics under `prefix`."""

    def __init__(self, bootstrap: str, topics: FloorTopics, procs: list, stop,
                 totals: dict[str, PhaseTotals]) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.procs = procs
        self._stop = stop
        self._totals = totals

    @classmethod
    def start(cls, bootstrap: str, prefix: str, partitions: int, settings: dict | None = None) -> "Floor":
        """Create the topics and start both hops; `settings` are extra client settings per hop kind
        ({"transactional": {"consumer": {...}, "producer": {...}}, "plain": {...}}), as the pipeline's."""
        settings = settings or {}
        topics = FloorTopics.under(prefix)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for fut in admin.create_topics([NewTopic(t, partitions, 1) for t in vars(topics).values()]).values():
            fut.result()
        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        procs = []
        totals = {}
        for target, name, phases in ((transactional_hop, "transactional", TXN_PHASES),
                                     (plain_hop, "plain", PLAIN_PHASES)):
            ready = ctx.Event()
            shared = ctx.Array("d", 2 * len(phases))
            totals[name] = PhaseTotals(phases, shared)
            proc = ctx.Process(target=target, name=f"floor-{name}", daemon=True,
                               args=(bootstrap, topics, f"{prefix}floor-{name}", stop, ready,
                                     settings.get(name, {}), shared))
            proc.start()
            if not ready.wait(60):
                raise RuntimeError(f"floor {name} hop did not start")
            procs.append(proc)
        return cls(bootstrap, topics, procs, stop, totals)

    def phases(self) -> dict[str, dict[str, tuple[int, float]]]:
        """Hop ("transactional", "plain") -> phase -> (count, seconds) so far."""
        return {hop: totals.read() for hop, totals in self._totals.items()}

    @property
    def pids(self) -> dict[str, int]:
        return {p.name: p.pid for p in self.procs}

    def stop(self) -> None:
        self._stop.set()
        deadline = time.monotonic() + 15
        for proc in self.procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()

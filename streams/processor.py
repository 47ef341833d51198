"""An exactly-once stream processor on Kafka transactions, with its state in RocksDB.

    consume a batch → handler(state, message) for each → produce outputs and
    state changes → send the consumed offsets → commit, all in one transaction
    → then write the state changes to RocksDB in one batch.

The state store is a local RocksDB cache of a compacted changelog topic. Each
state change is written to the changelog partition of the input that caused
it, in the same transaction as the outputs and the consumed offsets, so the
changelog holds exactly the committed state. When a partition is assigned, its
slice of the store is rebuilt from the changelog (read_committed), so a worker
killed at any point restarts from committed state only. On top of the
transaction, the last applied input offset per partition is kept in the state
itself (in the same RocksDB write as the state change; `streams.idempotence`,
the same mechanism the faust position manager uses): an input delivered twice
is skipped. Handlers receive neutral `streams.records.Record`s; a handler that
raises has its input dead-lettered (`streams.records.dead_letter`) and the
processor goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from confluent_kafka import Consumer, Message, Producer, TopicPartition

from oms.clock import Clock
from oms.events import Event
from oms.state import RocksStore
from streams.codec import Codec, encode_key
from streams.idempotence import already_applied, mark_applied, partition_key
from streams.reader import TopicReader
from streams.records import Record, dead_letter

log = logging.getLogger("oms.processor")

Output = tuple[str, str, Event]
"""(topic, key, event) to produce."""


class PartitionState:
    """The state of one input partition as the handler sees it: reads fall through
    staged writes to the store; writes are staged until the transaction commits."""

    def __init__(self, store: RocksStore, partition: int, staged: dict[bytes, bytes]) -> None:
        self._store = store
        self._partition = partition
        self._staged = staged
        self._own: dict[bytes, bytes] = {}
        self.written: list[tuple[bytes, bytes]] = []

    def get(self, key: str) -> bytes | None:
        full = partition_key(self._partition, key)
        for layer in (self._own, self._staged):
            if full in layer:
                return layer[full]
        return self._store.get(full)

    def put(self, key: str, value: bytes) -> None:
        self._own[partition_key(self._partition, key)] = value
        self.written.append((key.encode(), value))

    def keep(self) -> None:
        """Make this input's writes visible to the rest of the batch (the handler succeeded)."""
        self._staged.update(self._own)


Handler = Callable[[PartitionState, Record], list[Output]]


@dataclass
class ProcessorStats:
    inputs: int = 0
    skipped: int = 0
    outputs: int = 0
    transactions: int = 0
    restored: int = 0
    started: float = field(default_factory=time.monotonic)


class TransactionalProcessor:
    def __init__(
        self,
        *,
        name: str,
        bootstrap_servers: str,
        group_id: str,
        transactional_id: str,
        inputs: list[str],
        changelog: str,
        store: RocksStore,
        codec: Codec,
        handler: Handler,
        deadletter: str | None = None,
        clock: Clock,
        batch_size: int = 500,
        poll_timeout: float = 0.05,
    ) -> None:
        self.name = name
        self.inputs = inputs
        self.changelog = changelog
        self.store = store
        self.codec = codec
        self.handler = handler
        self.deadletter = deadletter
        self.clock = clock
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.stats = ProcessorStats()
        self._bootstrap = bootstrap_servers
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap_servers,
            "group.id": group_id,
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "range",
        })
        self._producer = Producer({
            "bootstrap.servers": bootstrap_servers,
            "transactional.id": transactional_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 1,
            "partitioner": "murmur2_random",
        })
        self._to_restore: set[int] = set()

    # ---------------------------------------------------------- partitions

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._to_restore |= {tp.partition for tp in partitions}

    def _restore(self, partitions: set[int]) -> None:
        """Rebuild the store's slice of each partition from the changelog (committed records only)."""
        started = time.monotonic()
        for p in partitions:
            self.store.delete_prefix(partition_key(p, ""))
        reader = TopicReader.connect(self._bootstrap, f"{self.name}-restore")
        try:
            reader.assign(self.changelog, partitions=partitions, skip_empty=True)
            batch: list[tuple[bytes, bytes]] = []
            for record in reader.records(idle_timeout=120):
                batch.append((partition_key(record.partition, "") + (record.key or b""), record.value))
                self.stats.restored += 1
                if len(batch) >= 10_000:
                    self.store.write_batch(batch)
                    batch = []
            self.store.write_batch(batch)
        finally:
            reader.close()
        log.info("%s: restored partitions %s from %s (%d records) in %.1fs", self.name, sorted(partitions),
                 self.changelog, self.stats.restored, time.monotonic() - started)

    # ---------------------------------------------------------------- loop

    def run(self, stop: threading.Event) -> ProcessorStats:
        self._producer.init_transactions(60)
        self._consumer.subscribe(self.inputs, on_assign=self._on_assign)
        log.info("%s: consuming %s", self.name, ", ".join(self.inputs))
        try:
            while not stop.is_set():
                # wait for the first message only, then take what is already fetched: a batch
                # never waits to fill up, so latency stays low at low rates
                messages = self._consumer.consume(1, self.poll_timeout)
                if messages:
                    messages += self._consumer.consume(self.batch_size - 1, 0)
                if self._to_restore:
                    partitions, self._to_restore = self._to_restore, set()
                    self._restore(partitions)
                messages = [m for m in messages if m.error() is None]
                if messages:
                    self._process(messages)
        finally:
            self._consumer.close()
            self._producer.flush(10)
        return self.stats

    def _process(self, messages: list[Message]) -> None:
        staged: dict[bytes, bytes] = {}
        self._producer.begin_transaction()
        try:
            for message in messages:
                self._apply(message, staged)
            positions = self._consumer.position(self._consumer.assignment())
            self._producer.send_offsets_to_transaction(positions, self._consumer.consumer_group_metadata())
            self._producer.commit_transaction()
        except Exception:
            log.exception("%s: transaction failed; aborting and rewinding", self.name)
            self._producer.abort_transaction()
            self._rewind()
            return
        self.store.write_batch(list(staged.items()))
        self.stats.transactions += 1

    def _apply(self, message: Message, staged: dict[bytes, bytes]) -> None:
        record = Record.of(message)
        state = PartitionState(self.store, record.partition, staged)
        self.stats.inputs += 1
        if already_applied(state, record):
            self.stats.skipped += 1
            return
        try:
            outputs = self.handler(state, record)
            encoded = [(topic, encode_key(key), self.codec.encode(topic, event)) for topic, key, event in outputs]
        except Exception as exc:  # a handler bug must not stop the processor: keep the input, move on
            log.exception("%s: %s[%d]@%d failed; dead-lettered", self.name, record.topic, record.partition,
                          record.offset)
            state = PartitionState(self.store, record.partition, staged)  # drop the failed input's writes
            encoded = []
            if self.deadletter is not None:
                letter = dead_letter(record, f"{type(exc).__name__}: {exc}", self.name, self.clock.now_ns())
                encoded.append((self.deadletter, record.key, self.codec.encode(self.deadletter, letter)))
        for topic, key, value in encoded:
            self._producer.produce(topic, key=key, value=value)
            self.stats.outputs += 1
        mark_applied(state, record)
        state.keep()
        for key, value in state.written:
            self._producer.produce(self.changelog, key=key, value=value, partition=record.partition)
        self._producer.poll(0)

    def _rewind(self) -> None:
        """After an aborted transaction, consume again from the last committed offsets."""
        assignment = self._consumer.assignment()
        committed = self._consumer.committed(assignment, timeout=30)
        for tp in committed:
            self._consumer.seek(TopicPartition(tp.topic, tp.partition, max(tp.offset, 0)))



"""Kafka clients with the OMS defaults, and the event producer and consumer built on them.

Producers are idempotent with `acks=all`; consumers read only committed data
(`isolation.level=read_committed`) and commit offsets explicitly; every client
connects with the process's SASL/TLS settings (`streams.security.connection`). The
`EventProducer` encodes events with the configured codec; the `EventConsumer`
decodes what its `streams.reader.TopicReader` returns and sends what it
cannot decode to the dead-letter topic with topic, partition, offset and the
error (`streams.records.dead_letter`), then keeps going. `read_all` reads
topics to their end, decoded.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from oms.clock import Clock
from oms.events import Event
from streams.codec import Codec, DecodeError, encode_key
from streams.reader import TopicReader
from streams import metrics
from streams.security import connection
from streams.records import Record, dead_letter
from streams.topics import Topics

__all__ = [
    "DeliveryError", "EventConsumer", "EventProducer", "Received", "Record", "admin_client", "consumer_config",
    "dead_letter", "producer_config", "read_all",
]

log = logging.getLogger("oms.kafka")


def producer_config(bootstrap_servers: str, **extra) -> dict:
    return {
        **connection(bootstrap_servers),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "partitioner": "murmur2_random",  # the Java client's partitioner, as faust uses
        **extra,
    }


def consumer_config(bootstrap_servers: str, group_id: str, **extra) -> dict:
    return {
        **connection(bootstrap_servers),
        "group.id": group_id,
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
        **extra,
    }


def admin_client(bootstrap_servers: str) -> AdminClient:
    return AdminClient(connection(bootstrap_servers))


class DeliveryError(RuntimeError):
    """The broker did not accept a record."""


class EventProducer:
    """Encodes events and produces them; `flush()` raises if any delivery failed."""

    def __init__(self, producer: Producer, codec: Codec) -> None:
        self._producer = producer
        self._codec = codec
        self._errors: list[str] = []

    @classmethod
    def connect(cls, bootstrap_servers: str, codec: Codec, **extra) -> "EventProducer":
        """An event producer on a new idempotent producer (`producer_config`)."""
        return cls(Producer(producer_config(bootstrap_servers, **extra)), codec)

    @property
    def producer(self) -> Producer:
        return self._producer

    def _on_delivery(self, err, msg) -> None:
        if err is not None:
            self._errors.append(f"{msg.topic()}: {err}")

    def _tell(self, on_delivery: Callable[[str | None], None], err, msg) -> None:
        self._on_delivery(err, msg)
        on_delivery(None if err is None else str(err))

    def send(self, topic: str, key: str, event: Event,
             on_delivery: Callable[[str | None], None] | None = None) -> None:
        """Encode and produce `event` (not flushed). `on_delivery`, if given, is called once the broker
        took the record (with None) or refused it for good (with the reason), from `send`, `flush` or
        `deliver`; a refusal also makes the next `flush`/`deliver` raise."""
        callback = self._on_delivery if on_delivery is None else functools.partial(self._tell, on_delivery)
        self._producer.produce(topic, key=encode_key(key), value=self._codec.encode(topic, event),
                               on_delivery=callback)
        self._producer.poll(0)

    def flush(self, timeout: float = 30.0) -> None:
        if not self.deliver(timeout):
            raise DeliveryError(f"{len(self._producer)} records not delivered within {timeout}s")

    def deliver(self, timeout: float) -> bool:
        """Wait up to `timeout` for every record sent so far: True when all were delivered, False
        when some are still queued (the client keeps retrying them, e.g. while the broker is away);
        raises `DeliveryError` if the broker refused any or their message timeout ran out."""
        remaining = self._producer.flush(timeout)
        if self._errors:
            errors, self._errors = self._errors, []
            raise DeliveryError("; ".join(errors[:5]))
        return remaining == 0


@dataclass(frozen=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: str | None
    timestamp_ms: int
    event: Event


class EventConsumer:
    """Polls a `TopicReader`, decodes and yields events; undecodable records go to the dead-letter topic.

    With `deadletter=None` (e.g. a read-only `tail`) undecodable records are
    reported through `on_error` instead of being written anywhere. A consumer
    that dead-letters needs the `clock` that stamps the dead letters.
    """

    def __init__(
        self,
        reader: TopicReader,
        codec: Codec,
        *,
        processor: str,
        deadletter: tuple[Producer, Topics] | None = None,
        on_error: Callable[[Record, str], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if deadletter is not None and clock is None:
            raise TypeError("a consumer that dead-letters needs the clock that stamps the dead letters")
        self.reader = reader
        self._codec = codec
        self._processor = processor
        self._deadletter = deadletter
        self._on_error = on_error
        self._clock = clock
        self.dead_lettered = 0
        self.rejected: list[tuple[str, int, int]] = []
        """(topic, partition, offset) of records that could not be decoded, for the caller to
        count as handled (so its committed offsets move past them); the caller clears it."""

    @property
    def consumer(self) -> Consumer:
        return self.reader.consumer

    @property
    def at_end(self) -> set[tuple[str, int]]:
        """Partitions whose end was reached and nothing read since (partition EOF)."""
        return self.reader.eof

    @property
    def idle(self) -> bool:
        """Whether the last poll found nothing at all (the local queue is drained)."""
        return self.reader.idle

    def decode(self, record: Record) -> Received | None:
        """The record decoded, or None when it is undecodable (then rejected) or a tombstone."""
        if record.value is None:
            return None
        try:
            event = self._codec.decode(record.topic, record.value)
        except DecodeError as exc:
            self._reject(record, str(exc))
            return None
        return Received(record.topic, record.partition, record.offset, record.text_key, record.timestamp_ms, event)

    def poll(self, timeout: float = 1.0) -> Received | None:
        """The next decodable event, or None if none arrived within `timeout`."""
        record = self.reader.poll(timeout)
        return None if record is None else self.decode(record)

    def _reject(self, record: Record, error: str) -> None:
        self.rejected.append((record.topic, record.partition, record.offset))
        if self._on_error is not None:
            self._on_error(record, error)
        if self._deadletter is None:
            return
        producer, topics = self._deadletter
        letter = dead_letter(record, error, self._processor, self._clock.now_ns())
        producer.produce(topics.deadletter, key=record.key, value=self._codec.encode(topics.deadletter, letter))
        producer.flush(10)
        self.dead_lettered += 1
        metrics.dead_lettered(self._processor)
        log.warning("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, error)

    def __iter__(self) -> Iterator[Received]:
        while True:
            received = self.poll()
            if received is not None:
                yield received

    # ------------------------------------------------ what processors need

    def subscribe(self, topics: list[str]) -> None:
        self.reader.subscribe(topics)

    def assign_at_end(self, topic: str) -> None:
        """Every partition of `topic` from its current end on (only what arrives from now)."""
        if not self.reader.partitions(topic):
            raise RuntimeError(f"topic {topic} has no partitions: does it exist? (`oms topics create`)")
        self.reader.assign(topic, from_end=True)

    def assign_near_end(self, topic: str, back: int) -> None:
        """Every partition of `topic` from `back` records before its current end (or its start), then
        on: the recent past, then what arrives (`reader.caught_up` tells when the past is read)."""
        if not self.reader.partitions(topic):
            raise RuntimeError(f"topic {topic} has no partitions: does it exist? (`oms topics create`)")
        ends = self.reader.end_offsets(topic)
        self.reader.assign(topic, from_offsets={p: max(end - back, 0) for p, end in ends.items()})

    def commit(self, offsets: list[tuple[str, int, int]]) -> bool:
        """Commit (topic, partition, next offset) for the group; False (logged) if refused."""
        return self.reader.commit(offsets)

    def end_offsets(self, topic: str, timeout: float = 10.0) -> dict[int, int]:
        return self.reader.end_offsets(topic, timeout)

    def close(self) -> None:
        self.reader.close()


def read_all(
    consumer: EventConsumer, topics: list[str], timeout: float = 10.0, from_beginning: bool = True
) -> list[Received]:
    """Read the given topics from the beginning (or their end) to the end offsets at start
    (committed data only), decoded; `timeout` bounds the whole read, which returns what it has."""
    for topic in topics:
        consumer.reader.assign(topic, from_end=not from_beginning)
    out: list[Received] = []
    deadline = time.monotonic() + timeout
    try:
        for record in consumer.reader.records(idle_timeout=timeout):
            received = consumer.decode(record)
            if received is not None:
                out.append(received)
            if time.monotonic() > deadline:
                break
    except TimeoutError:
        pass
    return out

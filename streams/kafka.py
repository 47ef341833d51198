"""Kafka clients with the OMS defaults, and the event producer and consumer built on them.

Producers are idempotent with `acks=all`; consumers read only committed data
(`isolation.level=read_committed`) and commit offsets explicitly. The
`EventProducer` encodes events with the configured codec; the `EventConsumer`
decodes them and sends what it cannot decode to the dead-letter topic with
topic, partition, offset and the error, then keeps going.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterator

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from oms.clock import Clock, LiveClock
from oms.events import DeadLetter, Event
from streams.codec import Codec, DecodeError, encode_key
from streams.topics import Topics

log = logging.getLogger("oms.kafka")


def producer_config(bootstrap_servers: str, **extra) -> dict:
    return {
        "bootstrap.servers": bootstrap_servers,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 2,
        "partitioner": "murmur2_random",  # the Java client's partitioner, as faust uses
        **extra,
    }


def consumer_config(bootstrap_servers: str, group_id: str, **extra) -> dict:
    return {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
        **extra,
    }


def admin_client(bootstrap_servers: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap_servers})


def dead_letter(message: Message, error: str, processor: str, now: int) -> DeadLetter:
    """The dead-letter record of a consumed message: where it came from, its bytes, and why."""
    return DeadLetter(
        event_id=f"dl.{message.topic()}.{message.partition()}.{message.offset()}"[:64],
        ts_event=max(message.timestamp()[1], 0) * 1_000_000,
        ts_init=now,
        source_topic=message.topic(),
        partition=message.partition(),
        offset=message.offset(),
        key=message.key(),
        value=message.value(),
        error=error[:1024],
        processor=processor,
    )


class DeliveryError(RuntimeError):
    """The broker did not accept a record."""


class EventProducer:
    """Encodes events and produces them; `flush()` raises if any delivery failed."""

    def __init__(self, producer: Producer, codec: Codec) -> None:
        self._producer = producer
        self._codec = codec
        self._errors: list[str] = []

    @property
    def producer(self) -> Producer:
        return self._producer

    def _on_delivery(self, err, msg) -> None:
        if err is not None:
            self._errors.append(f"{msg.topic()}: {err}")

    def send(self, topic: str, key: str, event: Event) -> None:
        self._producer.produce(
            topic, key=encode_key(key), value=self._codec.encode(topic, event), on_delivery=self._on_delivery
        )
        self._producer.poll(0)

    def flush(self, timeout: float = 30.0) -> None:
        remaining = self._producer.flush(timeout)
        if remaining:
            raise DeliveryError(f"{remaining} records not delivered within {timeout}s")
        if self._errors:
            errors, self._errors = self._errors, []
            raise DeliveryError("; ".join(errors[:5]))


@dataclass(frozen=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: str | None
    timestamp_ms: int
    event: Event


class EventConsumer:
    """Polls, decodes and yields events; undecodable records go to the dead-letter topic.

    With `deadletter=None` (e.g. a read-only `tail`) undecodable records are
    reported through `on_error` instead of being written anywhere.
    """

    def __init__(
        self,
        consumer: Consumer,
        codec: Codec,
        *,
        processor: str,
        deadletter: tuple[Producer, Topics] | None = None,
        on_error: Callable[[Message, str], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._consumer = consumer
        self._codec = codec
        self._processor = processor
        self._deadletter = deadletter
        self._on_error = on_error
        self._clock = clock or LiveClock()
        self.dead_lettered = 0
        self.at_end: set[tuple[str, int]] = set()
        """Partitions whose end was reached and nothing read since (partition EOF)."""
        self.idle = False
        """Whether the last poll found nothing at all (the local queue is drained)."""
        self.rejected: list[tuple[str, int, int]] = []
        """(topic, partition, offset) of records that could not be decoded, for the caller to
        count as handled (so its committed offsets move past them); the caller clears it."""

    @property
    def consumer(self) -> Consumer:
        return self._consumer

    def poll(self, timeout: float = 1.0) -> Received | None:
        """The next decodable event, or None if none arrived within `timeout`."""
        msg = self._consumer.poll(timeout)
        self.idle = msg is None
        if msg is None:
            return None
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                self.at_end.add((msg.topic(), msg.partition()))
            else:
                log.warning("consumer error: %s", msg.error())
            return None
        self.at_end.discard((msg.topic(), msg.partition()))
        try:
            event = self._codec.decode(msg.topic(), msg.value() or b"")
        except DecodeError as exc:
            self._reject(msg, str(exc))
            return None
        key = msg.key()
        return Received(
            msg.topic(), msg.partition(), msg.offset(), key.decode("utf-8", "replace") if key else None,
            msg.timestamp()[1], event,
        )

    def _reject(self, msg: Message, error: str) -> None:
        self.rejected.append((msg.topic(), msg.partition(), msg.offset()))
        if self._on_error is not None:
            self._on_error(msg, error)
        if self._deadletter is None:
            return
        producer, topics = self._deadletter
        letter = dead_letter(msg, error, self._processor, self._clock.now_ns())
        producer.produce(
            topics.deadletter, key=msg.key(), value=self._codec.encode(topics.deadletter, letter)
        )
        producer.flush(10)
        self.dead_lettered += 1
        log.warning("dead-lettered %s[%d]@%d: %s", msg.topic(), msg.partition(), msg.offset(), error)

    def __iter__(self) -> Iterator[Received]:
        while True:
            received = self.poll()
            if received is not None:
                yield received

    def end_offsets(self, topic: str, timeout: float = 10.0) -> dict[int, int]:
        meta = self._consumer.list_topics(topic, timeout=timeout).topics[topic]
        out = {}
        for p in meta.partitions:
            low, high = self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            out[p] = high
        return out

    def close(self) -> None:
        self._consumer.close()


def read_all(
    consumer: EventConsumer, topics: list[str], timeout: float = 10.0, from_beginning: bool = True
) -> list[Received]:
    """Read the given topics from the beginning to their end (committed data only).

    The end of a partition is the consumer's partition-EOF event, which also
    steps over transaction markers; `timeout` bounds the whole read.
    """
    import time

    assignments = []
    for topic in topics:
        for p, high in consumer.end_offsets(topic).items():
            assignments.append(TopicPartition(topic, p, 0 if from_beginning else high))
    consumer.at_end.clear()
    consumer.idle = False
    consumer.consumer.assign(assignments)
    wanted = {(tp.topic, tp.partition) for tp in assignments}
    out: list[Received] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (consumer.idle and wanted <= consumer.at_end):
        received = consumer.poll(0.2)
        if received is not None:
            out.append(received)
    return out

"""The compacted schemas topic that makes single-object encoding self-describing.

This module owns writing the current schemas to that topic (key: fingerprint
hex, value: schema JSON) and reading it back so a `SingleObjectCodec` can
decode data written with schema versions it was not built with. Creating the
topic is `streams.topics`' job.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from streams.codec import SingleObjectCodec
from streams.kafka import DeliveryError, consumer_config

log = logging.getLogger("oms.schemas")


def publish_schemas(producer: Producer, topic: str, codec: SingleObjectCodec, timeout: float = 30.0) -> None:
    """Produce every current schema of `codec` to `topic` and wait for delivery."""
    errors: list[str] = []

    def on_delivery(err, msg) -> None:
        if err is not None:
            errors.append(f"{msg.key()!r}: {err}")

    for key, value in codec.schema_records():
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
    remaining = producer.flush(timeout)
    if remaining or errors:
        failed = "; ".join(errors[:5]) or "no error reported"
        raise DeliveryError(f"schemas to {topic}: {remaining} undelivered after {timeout}s, {failed}")


def learn_schemas(bootstrap_servers: str, topic: str, codec: SingleObjectCodec, timeout: float = 10.0) -> int:
    """Read `topic` from the beginning to its current end, teaching `codec` every schema.

    Returns how many schemas were read. A value that is not a usable schema is
    logged and skipped, so one bad record cannot stop every consumer starting.
    """
    deadline = time.monotonic() + timeout
    consumer = Consumer(consumer_config(bootstrap_servers, "oms.schemas-reader"))
    try:
        ends = _end_offsets(consumer, topic, deadline)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])

        def unread() -> bool:
            positions = consumer.position([TopicPartition(topic, p) for p in ends])
            return any(tp.offset < ends[tp.partition] for tp in positions)

        learned = 0
        while unread():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} not read to its end within {timeout}s ({learned} schemas so far)")
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            if msg.value() is None:  # a tombstone
                continue
            try:
                codec.learn(msg.value().decode("utf-8"))
                learned += 1
            except Exception as exc:
                where = f"{topic}[{msg.partition()}]@{msg.offset()}"
                log.warning("skipping %s, not a usable schema: %s", where, exc)
        return learned
    finally:
        consumer.close()


def _end_offsets(consumer: Consumer, topic: str, deadline: float) -> dict[int, int]:
    """High watermark of each non-empty partition, retried while a new topic has no leader yet."""
    while True:
        left = max(deadline - time.monotonic(), 0.1)
        try:
            meta = consumer.list_topics(topic, timeout=left).topics[topic]
            if meta.error is not None:
                raise KafkaException(meta.error)
            ends = {}
            for p in meta.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=left)
                if high > low:
                    ends[p] = high
            return ends
        except KafkaException as exc:
            if not exc.args[0].retriable() or time.monotonic() > deadline:
                raise
            time.sleep(0.1)

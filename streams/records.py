"""The neutral consumed record and the one dead-letter builder.

A `Record` is what a handler receives from any runtime (the transactional
processor, the event consumer, faust): topic, partition, offset, raw key and
value bytes and the broker timestamp in milliseconds. It carries no client
type, so nothing above `streams/` imports a Kafka client. `dead_letter` turns
a record that could not be handled into the `DeadLetter` event written to the
`deadletter` topic: where it came from, its bytes and why, with `ts_event`
the record's broker time in nanoseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from oms.events import DeadLetter

__all__ = ["Record", "dead_letter"]


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    """Broker (create or log-append) time in milliseconds; -1 or 0 when unknown."""

    @property
    def text_key(self) -> str | None:
        return None if self.key is None else self.key.decode("utf-8", "replace")

    @classmethod
    def of(cls, message) -> "Record":
        """From a confluent-kafka `Message` (streams only)."""
        return cls(message.topic(), message.partition(), message.offset(), message.key(), message.value(),
                   message.timestamp()[1])

    @classmethod
    def of_faust(cls, message) -> "Record":
        """From a faust `Message` (its timestamp is in seconds, a float)."""
        timestamp_ms = round(message.timestamp * 1000) if message.timestamp else 0
        return cls(message.topic, message.partition, message.offset, message.key, message.value, timestamp_ms)


def dead_letter(record: Record, error: str, processor: str, now: int) -> DeadLetter:
    """The dead-letter event of a record: where it came from, its bytes, and why."""
    return DeadLetter(
        event_id=f"dl.{record.topic}.{record.partition}.{record.offset}"[:64],
        ts_event=max(record.timestamp_ms, 0) * 1_000_000,
        ts_init=now,
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        error=error[:1024],
        processor=processor,
    )

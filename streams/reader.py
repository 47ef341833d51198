"""The one topic reader: partitions read to their end, or followed, as neutral `Record`s.

Every "read a topic to its end" and "follow a topic" need in the code base is
a `TopicReader`: the event consumer's reads (`read_all`), the compacted views
(`TopicView`), the global tables (`FollowedTopic`, in a thread), the
transactional processor's state restore (raw bytes) and replay (offset ranges,
`until_offset`, stopping a partition at an event, partition subsets).

A reader owns one consumer (read_committed: transactional data only once
committed; partition EOF events on; no group offsets). `assign` adds the
partitions of a topic from their low watermark (or their end, `from_end`) and
takes their *end*: the high watermark at that moment, or `until_offset`
(exclusive) when lower. A partition has *reached its end* when a record at
`end - 1` was read or the consumer reports partition EOF at or past `end` (so
transaction markers and aborted records are stepped over). Then:

- `poll(timeout)` returns the next record, whatever its offset (following);
  `caught_up` tells whether every assigned partition has reached its end.
- `records(idle_timeout)` yields the records below each partition's end and
  stops when all have reached it (reading to the end); it raises `TimeoutError`
  when no record arrives for `idle_timeout` seconds before that.
- `finish(topic, partition)` ends one partition early (replay's stop predicate).
- `latest(records)` keeps the last value per key, a tombstone removing the key.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from typing import Callable, Hashable, Iterable, Iterator, Mapping, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from streams.records import Record
from streams.security import connection

log = logging.getLogger("oms.reader")

__all__ = ["ReadError", "TopicReader", "latest", "reader_config"]

T = TypeVar("T")

_NO_LEADER_YET = {
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_PARTITION, KafkaError._TRANSPORT,
}

FETCH = 500
"""Most records taken from the client per fetch."""


class ReadError(RuntimeError):
    """The broker reported an error for a partition being read to its end."""


def reader_config(bootstrap_servers: str, group_id: str | None = None, **extra) -> dict:
    """A reader's consumer: committed data only, EOF events, no offsets of its own committed."""
    return {
        **connection(bootstrap_servers),
        "group.id": group_id or f"oms-reader-{uuid.uuid4().hex[:8]}",
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
        **extra,
    }


class TopicReader:
    def __init__(self, consumer: Consumer) -> None:
        self._consumer = consumer
        self._ends: dict[tuple[str, int], int] = {}
        self._open: set[tuple[str, int]] = set()
        """Assigned partitions that have not reached their end."""
        self._assigned: list[TopicPartition] = []
        self._buffer: deque = deque()
        self.idle = False
        """Whether the last `poll` found nothing at all (the local queue is drained)."""
        self.eof: set[tuple[str, int]] = set()
        """Partitions at the consumer's current end (partition EOF, nothing read since)."""
        self.positions: dict[tuple[str, int], int] = {}
        """Next offset to read per partition, as far as records were returned."""

    @classmethod
    def connect(cls, bootstrap_servers: str, group_id: str | None = None, **extra) -> "TopicReader":
        return cls(Consumer(reader_config(bootstrap_servers, group_id, **extra)))

    @property
    def consumer(self) -> Consumer:
        return self._consumer

    # ----------------------------------------------------------- assignment

    def partitions(self, topic: str, timeout: float = 30.0) -> list[int]:
        meta = self._consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if meta is None or meta.error is not None:
            raise ReadError(f"{topic}: {meta.error if meta is not None else 'no such topic'}")
        return sorted(meta.partitions)

    def watermarks(self, topic: str, partitions: Iterable[int] | None = None,
                   timeout: float = 30.0) -> dict[int, tuple[int, int]]:
        """(low, high) watermark per partition of `topic` (all partitions when None)."""
        wanted = self.partitions(topic, timeout) if partitions is None else sorted(partitions)
        return {p: self._watermark(topic, p, timeout) for p in wanted}

    def _watermark(self, topic: str, partition: int, timeout: float) -> tuple[int, int]:
        """One partition's watermarks, retried while its leader is not known yet (a new topic)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout,
                                                            cached=False)
            except KafkaException as exc:
                if exc.args[0].code() not in _NO_LEADER_YET or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def end_offsets(self, topic: str, timeout: float = 30.0) -> dict[int, int]:
        return {p: high for p, (_, high) in self.watermarks(topic, timeout=timeout).items()}

    def assign(self, topic: str, *, partitions: Iterable[int] | None = None, from_end: bool = False,
               until_offset: int | None = None, skip_empty: bool = False, timeout: float = 30.0,
               from_offsets: Mapping[int, int] | None = None) -> int:
        """Add `topic`'s partitions (all, or `partitions`) from the beginning, from their end, or
        from `from_offsets` (partition -> first offset to read, for the partitions it names);
        returns how many records lie between the starts and the ends. `skip_empty` leaves out
        partitions with nothing to read (a read to the end; a follower keeps them)."""
        total = 0
        added = []
        for p, (low, high) in self.watermarks(topic, partitions, timeout).items():
            end = high if until_offset is None else min(high, max(until_offset, 0))
            start = high if from_end else low
            if from_offsets is not None and p in from_offsets:
                start = min(max(low, from_offsets[p]), high)
            if skip_empty and end <= start:
                continue
            self._ends[(topic, p)] = end
            if end > start:
                self._open.add((topic, p))
                total += end - start
            self.positions[(topic, p)] = start
            added.append(TopicPartition(topic, p, start))
        replaced = {(tp.topic, tp.partition) for tp in added}
        self._assigned = [tp for tp in self._assigned if (tp.topic, tp.partition) not in replaced] + added
        self._buffer = deque(m for m in self._buffer if (m.topic(), m.partition()) not in replaced)
        self.eof.clear()
        self.idle = False
        self._consumer.assign(self._assigned)
        return total

    def finish(self, topic: str, partition: int) -> None:
        """End one partition's read here: nothing more of it is returned by `records`."""
        self._open.discard((topic, partition))
        self._consumer.pause([TopicPartition(topic, partition)])

    @property
    def caught_up(self) -> bool:
        """Every assigned partition has reached the end taken when it was assigned."""
        return not self._open

    # -------------------------------------------------------------- reading

    def _fetch(self, timeout: float) -> None:
        """Wait up to `timeout` for the first message only, then take what is already fetched."""
        first = self._consumer.poll(timeout)
        if first is None:
            return
        self._buffer.append(first)
        self._buffer.extend(self._consumer.consume(FETCH - 1, 0))

    def _next(self, timeout: float) -> Record | None:
        """The next record or None; tracks EOF and ends; raises ReadError on a partition error."""
        while True:
            if not self._buffer:
                self._fetch(timeout)
                if not self._buffer:
                    self.idle = True
                    return None
                timeout = 0
            message = self._buffer.popleft()
            tp = (message.topic(), message.partition())
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    self.eof.add(tp)
                    if tp in self._open and message.offset() >= self._ends.get(tp, 0):
                        self._open.discard(tp)
                    continue
                raise ReadError(f"{tp[0]}[{tp[1]}]: {error}")
            self.idle = False
            self.eof.discard(tp)
            record = Record.of(message)
            self.positions[tp] = record.offset + 1
            if tp in self._open and record.offset + 1 >= self._ends.get(tp, 0):
                self._open.discard(tp)
            return record

    def poll(self, timeout: float = 1.0) -> Record | None:
        """The next record of any assigned partition (following: past the ends too), or None.
        A partition error is logged, not raised: a follower keeps going."""
        try:
            return self._next(timeout)
        except ReadError as exc:
            log.warning("reader: %s", exc)
            return None

    def records(self, idle_timeout: float = 30.0) -> Iterator[Record]:
        """The records below each partition's end, until every partition has reached it."""
        last = time.monotonic()
        while self._open:
            was_open = set(self._open)
            record = self._next(0.2)
            if record is None:
                if self._open != was_open:
                    last = time.monotonic()
                elif time.monotonic() - last > idle_timeout:
                    raise TimeoutError(f"partitions {sorted(self._open)} not read to their end within "
                                       f"{idle_timeout}s")
                continue
            last = time.monotonic()
            tp = (record.topic, record.partition)
            if tp not in was_open or record.offset >= self._ends[tp]:
                continue  # past the end, or a finished partition's prefetched records
            yield record

    def commit(self, offsets: Iterable[tuple[str, int, int]]) -> bool:
        """Commit (topic, partition, next offset) for the consumer's group; False if the broker refused."""
        tps = [TopicPartition(t, p, o) for t, p, o in offsets]
        if not tps:
            return True
        try:
            self._consumer.commit(offsets=tps, asynchronous=False)
            return True
        except KafkaException as exc:  # e.g. partitions revoked meanwhile: they will be read again
            log.warning("offset commit failed: %s", exc)
            return False

    def subscribe(self, topics: list[str]) -> None:
        """Join the consumer group for `topics` (group-managed partitions, committed offsets)."""
        self._consumer.subscribe(topics)

    def close(self) -> None:
        self._consumer.close()


def latest(records: Iterable[T], key: Callable[[T], Hashable | None], value: Callable[[T], object]) -> dict:
    """The last value per key; a None value (a tombstone) removes the key; None keys are skipped."""
    out: dict = {}
    for item in records:
        k = key(item)
        if k is None:
            continue
        v = value(item)
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


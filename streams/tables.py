"""Global tables: a topic followed from the beginning by a background thread, folded into a value.

Every engine instance reads `risk.controls` and `marketdata` in full, whatever
partitions it owns. `FollowedTopic` keeps a folded value (controls, latest
quotes) current; readers take `value` (replaced atomically, never mutated)
and can wait until the table has caught up with the topic's end at start.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Callable, Generic, TypeVar

from confluent_kafka import Consumer, KafkaError, TopicPartition

from oms.events import Event
from streams.codec import Codec, DecodeError

log = logging.getLogger("oms.tables")

T = TypeVar("T")


class FollowedTopic(Generic[T]):
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        codec: Codec,
        initial: T,
        fold: Callable[[T, Event], T],
        *,
        from_end: bool = False,
    ) -> None:
        self.topic = topic
        self.value: T = initial
        self.version = 0
        self._codec = codec
        self._fold = fold
        self._from_end = from_end
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"{topic}-table-{uuid.uuid4().hex[:8]}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        })
        self._stop = threading.Event()
        self._caught_up = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"table-{topic}", daemon=True)

    def start(self) -> "FollowedTopic[T]":
        self._thread.start()
        return self

    def wait_caught_up(self, timeout: float = 30.0) -> bool:
        return self._caught_up.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        meta = self._consumer.list_topics(self.topic, timeout=30).topics[self.topic]
        assignment = []
        for p in meta.partitions:
            low, high = self._consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=30)
            assignment.append(TopicPartition(self.topic, p, high if self._from_end else 0))
        self._consumer.assign(assignment)
        at_end: set[int] = set()
        try:
            while not self._stop.is_set():
                msg = self._consumer.poll(0.2)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        at_end.add(msg.partition())
                        if len(at_end) == len(assignment):
                            self._caught_up.set()
                    continue
                at_end.discard(msg.partition())
                try:
                    event = self._codec.decode(msg.topic(), msg.value() or b"")
                    self.value = self._fold(self.value, event)
                    self.version += 1
                except (DecodeError, ValueError) as exc:
                    log.warning("%s[%d]@%d not applied: %s", msg.topic(), msg.partition(), msg.offset(), exc)
        finally:
            self._consumer.close()


class StaticTable(Generic[T]):
    """A fixed value behind the same interface (tests, replays, what-if runs)."""

    def __init__(self, value: T) -> None:
        self.value = value
        self.version = 0

    def wait_caught_up(self, timeout: float = 30.0) -> bool:
        return True

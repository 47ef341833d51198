"""Latest event per key of a topic, kept current by polling: the compacted views as dicts.

`TopicView` assigns every partition of one topic from the beginning and keeps
the last decoded event of each key. `refresh()` reads whatever arrived since
the last call, so a caller can poll it cheaply while waiting for a condition.
"""

from __future__ import annotations

import uuid

from confluent_kafka import TopicPartition

from oms.events import Event
from streams.runtime import Runtime


class TopicView:
    def __init__(self, runtime: Runtime, topic: str, *, keep_all: bool = False) -> None:
        self.topic = topic
        self.latest: dict[str, Event] = {}
        self.all: list[Event] | None = [] if keep_all else None
        self.count = 0
        self._consumer = runtime.event_consumer(f"{topic}-view-{uuid.uuid4().hex[:8]}", "view", deadletter=False)
        partitions = self._consumer.end_offsets(topic)
        self._consumer.consumer.assign([TopicPartition(topic, p, 0) for p in partitions])

    def refresh(self, idle: float = 0.3, budget: int = 100_000) -> int:
        """Read until nothing arrives for `idle` seconds (or `budget` records); returns how many were read."""
        read = 0
        while read < budget:
            received = self._consumer.poll(idle)
            if received is None:
                break
            self.latest[received.key or received.event.event_id] = received.event
            if self.all is not None:
                self.all.append(received.event)
            read += 1
        self.count += read
        return read

    def close(self) -> None:
        self._consumer.close()

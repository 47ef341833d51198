"""Latest event per key of a topic, kept current by polling: the compacted views as dicts.

`TopicView` follows every partition of one topic from the beginning with the
one topic reader (`streams.reader.TopicReader`, through a decoding
`EventConsumer`) and keeps the last decoded event of each key. `refresh()`
reads whatever arrived since the last call, so a caller can poll it cheaply
while waiting for a condition.
"""

from __future__ import annotations

import time
import uuid

from oms.events import Event
from streams.runtime import Runtime


class TopicView:
    def __init__(self, runtime: Runtime, topic: str, *, keep_all: bool = False) -> None:
        self.topic = topic
        self.latest: dict[str, Event] = {}
        self.all: list[Event] | None = [] if keep_all else None
        self.count = 0
        self._consumer = runtime.event_consumer(f"{topic}-view-{uuid.uuid4().hex[:8]}", "view", deadletter=False)
        self._consumer.reader.assign(topic)
        self._caught_up = False

    def refresh(self, idle: float = 0.3, budget: int = 100_000, first_wait: float = 5.0,
                max_seconds: float = 10.0) -> int:
        """Read until nothing has arrived for `idle` seconds (`first_wait` on the first call,
        while the consumer connects), or `budget` records or `max_seconds` have gone (a busy
        topic such as market data never goes quiet); returns how many were read."""
        read = 0
        quiet_until = time.monotonic() + (idle if self._caught_up else first_wait)
        stop_at = time.monotonic() + max_seconds
        self._caught_up = True
        while read < budget and time.monotonic() < stop_at:
            received = self._consumer.poll(0.05)
            if received is None:
                if time.monotonic() > quiet_until:
                    break
                continue
            quiet_until = time.monotonic() + idle
            self.latest[received.key or received.event.event_id] = received.event
            if self.all is not None:
                self.all.append(received.event)
            read += 1
        self.count += read
        return read

    def close(self) -> None:
        self._consumer.close()

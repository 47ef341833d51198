"""Several topics followed live by one background thread, each decoded event handed to a callback.

The blotter (and any other live screen) needs the compacted views and the
journal as they change, not folded into one value (`streams.tables.FollowedTopic`)
nor polled by the caller (`streams.views.TopicView`). A `TopicFollower` reads
every partition of its topics from the beginning (or from their end) with the
one topic reader, through a decoding `EventConsumer` that writes nothing (an
undecodable record is logged and counted, never dead-lettered twice), and calls
`on_event(received)` in its own thread for every decoded event, in partition
order. `wait_caught_up` tells when it has read up to the ends the topics had at
start.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Callable

from hostio import name_thread
from streams.kafka import Received
from streams.records import Record
from streams.runtime import Runtime

log = logging.getLogger("oms.follow")


class TopicFollower:
    def __init__(self, runtime: Runtime, topics: list[str], on_event: Callable[[Received], None], *,
                 name: str = "follower", from_end: bool = False) -> None:
        self.topics = list(topics)
        self.undecodable = 0
        self._runtime = runtime
        self._on_event = on_event
        self._from_end = from_end
        self._name = name
        self._stop = threading.Event()
        self._caught_up = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"follow-{name}", daemon=True)

    def start(self) -> "TopicFollower":
        self._thread.start()
        return self

    def wait_caught_up(self, timeout: float = 30.0) -> bool:
        """Whether every partition reached the end it had at start within `timeout` seconds."""
        return self._caught_up.wait(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _undecodable(self, record: Record, error: str) -> None:
        self.undecodable += 1
        log.warning("%s: %s[%d]@%d undecodable: %s", self._name, record.topic, record.partition, record.offset, error)

    def _run(self) -> None:
        name_thread(f"f-{self._name}")
        self._runtime.learn_schemas()
        consumer = self._runtime.event_consumer(f"oms-{self._name}-{uuid.uuid4().hex[:8]}", self._name,
                                                deadletter=False, on_error=self._undecodable)
        try:
            for topic in self.topics:
                consumer.reader.assign(topic, from_end=self._from_end)
            while not self._stop.is_set():
                if consumer.reader.caught_up:
                    self._caught_up.set()
                received = consumer.poll(0.2)
                if received is None:
                    continue
                try:
                    self._on_event(received)
                except Exception:  # a screen's bug must not stop the feed
                    log.exception("%s: %s[%d]@%d not shown", self._name, received.topic, received.partition,
                                  received.offset)
        finally:
            consumer.close()

"""Global tables: a topic followed from the beginning by a background thread, folded into a value.

Every engine instance reads `risk.controls` and `marketdata` in full, whatever
partitions it owns. `FollowedTopic` keeps a folded value (controls, latest
quotes) current with the one topic reader (`streams.reader.TopicReader`);
readers take `value` (replaced atomically, never mutated), or `snapshot()`:
the value together with the offsets it folded (the next offset per
partition), so a user can record exactly which prefix of the topic it decided
with. A caller can wait until the table has caught up with the topic's end at
start. A topic only this OMS writes, from validated events (`orders`,
`positions`), can be followed `trusted`: decoded without the checks meant for
outside input (`streams.codec`, as replay reads the journal); a body that
does not parse is still logged and not folded.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable, Generic, Mapping, TypeVar

from hostio import name_thread
from oms.events import Event
from streams.codec import Codec, DecodeError
from streams.reader import TopicReader

log = logging.getLogger("oms.tables")

T = TypeVar("T")


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    value: T
    version: int
    """Records folded since the table started (0: the initial value)."""
    offsets: Mapping[int, int] = field(default_factory=dict)
    """Partition -> the next offset to fold: the value is the fold of every record below."""


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
        trusted: bool = False,
    ) -> None:
        self.topic = topic
        self._checked = not trusted
        self._snapshot: Snapshot[T] = Snapshot(initial, 0)
        self._codec = codec
        self._fold = fold
        self._from_end = from_end
        self._reader = TopicReader.connect(bootstrap_servers)
        self._stop = threading.Event()
        self._caught_up = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"table-{topic}", daemon=True)

    @property
    def value(self) -> T:
        return self._snapshot.value

    @property
    def version(self) -> int:
        return self._snapshot.version

    def snapshot(self) -> Snapshot[T]:
        """The value and the offsets it folded, read together."""
        return self._snapshot

    def start(self) -> "FollowedTopic[T]":
        self._thread.start()
        return self

    def wait_caught_up(self, timeout: float = 30.0) -> bool:
        return self._caught_up.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        name_thread(f"t-{self.topic.rsplit('.', 1)[-1]}")  # the OS name keeps 15 bytes: the topic without its prefix
        reader = self._reader
        try:
            reader.assign(self.topic, from_end=self._from_end)
            current = self._snapshot
            offsets = {p: o for (t, p), o in reader.positions.items() if t == self.topic}
            self._snapshot = current = Snapshot(current.value, current.version, offsets)
            while not self._stop.is_set():
                if reader.caught_up:
                    self._caught_up.set()
                record = reader.poll(0.2)
                if record is None:
                    continue
                value, version = current.value, current.version
                try:
                    event = self._codec.decode(record.topic, record.value or b"", canonical=self._checked,
                                               validate=self._checked)
                    value = self._fold(value, event)
                    version += 1
                except (DecodeError, ValueError) as exc:
                    log.warning("%s[%d]@%d not applied: %s", record.topic, record.partition, record.offset, exc)
                offsets = {**current.offsets, record.partition: record.offset + 1}
                self._snapshot = current = Snapshot(value, version, offsets)
                if reader.caught_up:
                    self._caught_up.set()
        finally:
            reader.close()


class StaticTable(Generic[T]):
    """A fixed value behind the same interface (tests, replays, what-if runs)."""

    def __init__(self, value: T) -> None:
        self.value = value
        self.version = 0

    def snapshot(self) -> Snapshot[T]:
        return Snapshot(self.value, 0)

    def wait_caught_up(self, timeout: float = 30.0) -> bool:
        return True

"""The one clock: every timestamp in the OMS comes from a `Clock` passed in.

`LiveClock` is the only place in the code base that reads the wall clock.
`TestClock` is set and advanced by hand in tests, simulations and replays.
Timestamps are integer nanoseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int: ...


class LiveClock:
    """Wall-clock time."""

    def now_ns(self) -> int:
        return time.time_ns()


class TestClock:
    """A clock that moves only when told to."""

    __test__ = False  # not a pytest test class

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def set(self, ns: int) -> None:
        if ns < self._now:
            raise ValueError(f"time cannot go backwards: {ns} < {self._now}")
        self._now = ns

    def advance(self, ns: int) -> int:
        self.set(self._now + ns)
        return self._now


def ns_to_iso(ns: int) -> str:
    """Render nanoseconds since the epoch as an ISO-8601 UTC string (microsecond precision)."""
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="microseconds")

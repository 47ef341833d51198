"""The one clock, and the one way time is written and read as text.

Every timestamp in the OMS comes from a `Clock` passed in. `LiveClock` is the
only place in the code base that reads the wall clock; `TestClock` is set and
advanced by hand in tests, simulations and replays. Timestamps are integer
nanoseconds since the Unix epoch, UTC. `ns_to_iso` renders one, `parse_time`
reads one back (integer nanoseconds or ISO-8601, exact to the nanosecond).
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
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


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?:[.,](?P<frac>\d{1,9}))?(?P<tz>Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_time(text: str) -> int:
    """Integer nanoseconds since the epoch, or an ISO-8601 time converted exactly.

    ISO forms: date and time separated by `T` or a space, seconds optional, up
    to nine fractional digits (`.` or `,`), and `Z`, `+hh:mm`, `+hhmm` or no
    offset (UTC). Raises `ValueError` naming the text otherwise, and for times
    before 1970."""
    text = text.strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    m = _ISO.match(text)
    if m is None:
        raise ValueError(f"{text!r} is neither integer nanoseconds nor an ISO-8601 timestamp")
    tz = m["tz"]
    if tz is None or tz in ("Z", "z"):
        tz = "+00:00"
    elif ":" not in tz:
        tz = f"{tz[:3]}:{tz[3:]}"
    try:
        whole = datetime.fromisoformat(f"{m['date']}T{m['time']}{tz}")
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid timestamp: {exc}") from None
    seconds = (whole - _EPOCH) // timedelta(seconds=1)
    ns = seconds * 1_000_000_000 + int((m["frac"] or "").ljust(9, "0"))
    if ns < 0:
        raise ValueError(f"{text!r} is before 1970-01-01")
    return ns

"""The venue adapter contract's new names, for as long as this branch predates them in `oms.venues`.

`VenueUnavailable`, `ConnectionState` and `ConnectionChange` are defined by the
adapter contract in `oms.venues` (issue 11, the gateway branch); the FIX
adapter imports them from there and falls back to these identical definitions
only when `oms.venues` does not have them yet. Delete this module once both
branches are merged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class VenueUnavailable(Exception):
    """The venue cannot take a request now (disconnected, not logged on)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConnectionState(str, Enum):
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"


@dataclass(frozen=True)
class ConnectionChange:
    """A venue session went up or down (returned by `VenueAdapter.poll`)."""

    venue: str
    state: ConnectionState
    ts: int
    reason: str

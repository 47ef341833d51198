"""Requests in flight at one venue: every request sent has a deadline, and silence is acted on.

This module owns what the gateway knows about requests a venue has not
answered yet. `sent(request, now)` starts the clock (`deadline_ns`); any
report naming the request id (`answered`) clears it. Past the deadline,
`overdue(now)` hands back, once per request, a STATUS request for its order
(request id derived from the original's, so the answer - which names the
STATUS request id - clears the original too) and the gateway counts a
breaker failure; if that is not answered within `status_deadline_ns` either,
`overdue` hands the request back as unanswered, once: the gateway publishes a
`VenueAlert` and the order stays pending in the engine, visible, until a
report comes (then `answered` clears it like any other). Pure: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from oms import ids
from oms.events import VenueAction, VenueRequest

__all__ = ["InFlight", "Overdue", "OverdueKind", "Stage", "status_probe"]


class Stage(str, Enum):
    WAITING = "WAITING"
    """Sent; no answer yet, deadline not passed."""
    ASKED = "ASKED"
    """Past its deadline; a STATUS for its order was issued."""
    UNANSWERED = "UNANSWERED"
    """The STATUS went unanswered too; alerted."""


class OverdueKind(str, Enum):
    ASK_STATUS = "ASK_STATUS"
    ALERT = "ALERT"


@dataclass
class _Entry:
    request: VenueRequest
    sent_at: int
    due: int
    stage: Stage = Stage.WAITING
    probe_id: str | None = None


@dataclass(frozen=True)
class Overdue:
    """What to do about a silent request: ask (`probe` is the STATUS to send) or alert."""

    kind: OverdueKind
    request: VenueRequest
    sent_at: int
    probe: VenueRequest | None = None


def status_probe(request: VenueRequest, now: int) -> VenueRequest:
    """The STATUS request the gateway sends for the order of an unanswered `request`."""
    probe_id = ids.record_id(request.order_id, request.request_id, "status-probe")
    return request.model_copy(update={
        "event_id": probe_id, "ts_event": now, "ts_init": now, "action": VenueAction.STATUS,
        "request_id": probe_id, "orig_request_id": request.request_id,
    })


class InFlight:
    """One venue's unanswered requests (see the module docstring); times in UTC ns."""

    def __init__(self, deadline_ns: int, status_deadline_ns: int) -> None:
        if deadline_ns <= 0 or status_deadline_ns <= 0:
            raise ValueError("in-flight deadlines must be > 0")
        self.deadline_ns = deadline_ns
        self.status_deadline_ns = status_deadline_ns
        self._entries: dict[str, _Entry] = {}
        self._probes: dict[str, str] = {}  # probe request id -> original request id

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, request_id: str) -> bool:
        return request_id in self._entries or request_id in self._probes

    @property
    def unanswered(self) -> int:
        return sum(1 for e in self._entries.values() if e.stage is Stage.UNANSWERED)

    def sent(self, request: VenueRequest, now: int) -> None:
        """`request` went to the venue at `now` (a probe the gateway issued is tracked by its original)."""
        if request.request_id in self._probes or request.request_id in self._entries:
            return
        self._entries[request.request_id] = _Entry(request, now, now + self.deadline_ns)

    def answered(self, request_id: str) -> VenueRequest | None:
        """A report named `request_id`: clear it (a probe's answer clears its original); returns the
        request it answered, None if it was not in flight."""
        original = self._probes.pop(request_id, request_id)
        entry = self._entries.pop(original, None)
        if entry is None:
            return None
        if entry.probe_id is not None:
            self._probes.pop(entry.probe_id, None)
        return entry.request

    def overdue(self, now: int) -> list[Overdue]:
        """The requests whose deadline passed at `now`, each acted on once per stage, oldest first."""
        out = []
        for entry in sorted(self._entries.values(), key=lambda e: e.sent_at):
            if now < entry.due or entry.stage is Stage.UNANSWERED:
                continue
            if entry.stage is Stage.WAITING:
                probe = status_probe(entry.request, now)
                entry.stage, entry.probe_id, entry.due = Stage.ASKED, probe.request_id, now + self.status_deadline_ns
                self._probes[probe.request_id] = entry.request.request_id
                out.append(Overdue(OverdueKind.ASK_STATUS, entry.request, entry.sent_at, probe))
            else:
                entry.stage = Stage.UNANSWERED
                out.append(Overdue(OverdueKind.ALERT, entry.request, entry.sent_at))
        return out

    def next_due(self) -> int | None:
        dues = [e.due for e in self._entries.values() if e.stage is not Stage.UNANSWERED]
        return min(dues) if dues else None

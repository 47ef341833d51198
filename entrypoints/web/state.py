"""What the blotter shows, kept current from the followed topics, as JSON-ready values with a change log.

`BlotterState.apply(received)` takes every decoded event of the followed topics
(called by `streams.follow.TopicFollower` in its thread) and keeps: the orders
and positions views (latest per key), the risk controls folded the way the
engine folds them (`oms.domain.risk.apply_control`, from the settings' default
limits) with their audit trail, each venue's latest `VenueStatus`, the operator
overrides and alerts, and the most recent denials, rejects, anomalies and dead
letters. Every change gets the next sequence number and goes to a bounded log
of updates `{"seq", "kind", "data"}`; `snapshot()` is everything at once with
the last sequence number, and `since(seq)` the updates after it (None when the
log no longer reaches back that far: the reader takes a new snapshot).
Money and quantities stay exact: decimals are sent as strings.
"""

from __future__ import annotations

import threading
from collections import deque
from decimal import Decimal
from typing import Any

from oms.clock import ns_to_iso
from oms.domain.risk import Controls, apply_control, killed, limits_in_force, trading_state
from oms.events import (
    DeadLetter, Event, OrderAnomaly, OrderCancelRejected, OrderDenied, OrderRejected, OrderView, Position,
    RiskControl, VenueAlert, VenueControl, VenueStatus,
)
from streams.kafka import Received
from streams.topics import Topics

RECENT = 200
"""How many of each kind of recent event (denials, rejects, anomalies, dead letters, audits) are kept."""
LOG_SIZE = 20_000
"""How many updates a reader may fall behind before it needs a new snapshot."""


def event_json(event: Event) -> dict[str, Any]:
    """An event as JSON values: its type, every field (decimals as exact strings, enums as their values,
    bytes left out: a dead letter's original bytes are not for a screen), and `time` in ISO-8601 UTC."""
    data = event.model_dump(mode="json", exclude={name for name, value in event if isinstance(value, bytes)})
    data.update({name: _plain(value) for name, value in event if isinstance(value, Decimal)})
    data["type"] = type(event).__name__
    data["time"] = ns_to_iso(event.ts_event)[:26]
    return data


def _plain(value: Decimal) -> str:
    """The exact decimal without trailing zeros or exponent: 50.00000000 -> "50", 0E-8 -> "0"."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class BlotterState:
    def __init__(self, topics: Topics, default_limits: dict[str, Decimal]) -> None:
        self._topics = topics
        self._lock = threading.Lock()
        self._seq = 0
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self.orders: dict[str, dict] = {}
        self.positions: dict[str, dict] = {}
        self.venues: dict[str, dict] = {}
        self.controls = Controls(defaults=default_limits)
        self.recent: dict[str, deque[dict]] = {
            kind: deque(maxlen=RECENT)
            for kind in ("denials", "rejects", "anomalies", "deadletters", "control_audit", "venue_controls", "alerts")
        }

    # ------------------------------------------------------------ folding

    def apply(self, received: Received) -> None:
        """Fold one decoded event of a followed topic (unknown kinds are ignored)."""
        topic = self._topics.short(received.topic)
        event = received.event
        with self._lock:
            if topic == "orders" and isinstance(event, OrderView):
                self._put("order", self.orders, event.order_id, event)
            elif topic == "positions" and isinstance(event, Position):
                self._put("position", self.positions, received.key or f"{event.account}|{event.instrument}", event)
            elif topic == "venue.status" and isinstance(event, VenueStatus):
                self._put("venue", self.venues, event.venue, event)
            elif topic == "venue.status" and isinstance(event, VenueControl):
                self._add("venue_controls", event)
            elif topic == "venue.status" and isinstance(event, VenueAlert):
                self._add("alerts", event)
            elif topic == "risk.controls" and isinstance(event, RiskControl):
                self._control(event)
            elif topic == "journal" or topic == "order.events":
                kind = self._journal_kind(event)
                if kind is not None:
                    self._add(kind, event)
            elif topic == "deadletter" and isinstance(event, DeadLetter):
                self._add("deadletters", event)

    @staticmethod
    def _journal_kind(event: Event) -> str | None:
        if isinstance(event, OrderDenied):
            return "denials"
        if isinstance(event, (OrderRejected, OrderCancelRejected)):
            return "rejects"
        if isinstance(event, OrderAnomaly):
            return "anomalies"
        return None

    def _control(self, event: RiskControl) -> None:
        if self._topics.admitted(self._topics.risk_controls, event) is not None:
            return
        try:
            self.controls = apply_control(self.controls, event)
        except ValueError:
            return  # the engine refuses it too (`oms risk show` says why)
        self._add("control_audit", event, emit=False)
        self._emit("controls", self._controls_json())

    def _put(self, kind: str, table: dict, key: str, event: Event) -> None:
        data = event_json(event)
        data["key"] = key
        table[key] = data
        self._emit(kind, data)

    def _add(self, kind: str, event: Event, *, emit: bool = True) -> None:
        data = event_json(event)
        self.recent[kind].append(data)
        if emit:
            self._emit(kind, data)

    def _emit(self, kind: str, data: Any) -> None:
        self._seq += 1
        self._log.append({"seq": self._seq, "kind": kind, "data": data})

    def _controls_json(self) -> dict[str, Any]:
        controls = self.controls
        own = {*controls.limits, *controls.states, *controls.kill} - {"*"}
        scopes = []
        for scope in ["*", *sorted(own)]:
            scopes.append({
                "scope": scope,
                "trading_state": trading_state(controls, scope).value,
                "kill_switch": killed(controls, scope),
                "limits": [{"name": shown.name, "value": _plain(shown.value), "source": shown.source}
                           for shown in limits_in_force(controls, scope)],
            })
        return {"scopes": scopes, "audit": list(self.recent["control_audit"])}

    # ------------------------------------------------------------ reading

    @property
    def seq(self) -> int:
        return self._seq

    def snapshot(self) -> dict[str, Any]:
        """Everything the page shows, with the sequence number of the last update it includes."""
        with self._lock:
            return {
                "seq": self._seq,
                "orders": list(self.orders.values()),
                "positions": list(self.positions.values()),
                "venues": list(self.venues.values()),
                "controls": self._controls_json(),
                **{kind: list(items) for kind, items in self.recent.items() if kind != "control_audit"},
            }

    def since(self, seq: int) -> list[dict[str, Any]] | None:
        """The updates after `seq`, oldest first; None when the log no longer reaches back to it."""
        with self._lock:
            if seq >= self._seq:
                return []
            if not self._log or self._log[0]["seq"] > seq + 1:
                return None
            return [u for u in self._log if u["seq"] > seq]

"""What the OMS measures, in trading terms: the latency stages of an order and the outcome counts.

Pure: no I/O and no clock reads — the timestamps come from the events. An
order passes the stages command → accepted → routed → acknowledged → filled;
`stage_latencies(cause, journal)` gives, for each journal event the engine
wrote for one input, the stage it marks and the seconds from the cause's
`ts_event` (the trader's command, or the venue's execution report) to the
journal event's `ts_init` (when the engine decided it). So `accepted`,
`routed` and `denied` are measured from the command, and `acknowledged`,
`filled`, `rejected` and `canceled` from the venue's report. `outcomes(journal)`
names the denials, venue rejects and anomalies by reason code.
`breaker_level` maps a breaker state to the number a gauge shows.
`parse_tokens` reads a `VenueStatus.tokens` text (`orders=12.5 cancels=40`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Iterable

from oms.events import (
    Event, JournalEvent, OrderAccepted, OrderAcknowledged, OrderAnomaly, OrderCanceled, OrderDenied,
    OrderFilled, OrderRejected, OrderRouted,
)

STAGES: dict[type, str] = {
    OrderAccepted: "accepted",
    OrderDenied: "denied",
    OrderRouted: "routed",
    OrderAcknowledged: "acknowledged",
    OrderFilled: "filled",
    OrderRejected: "rejected",
    OrderCanceled: "canceled",
}
"""The journal event types that mark a latency stage, and the stage's name."""

BREAKER_LEVELS = {"CLOSED": 0, "HALF_OPEN": 1, "OPEN": 2}
"""The gauge value of each circuit-breaker state."""


def stage_latencies(cause: Event, journal: Iterable[JournalEvent]) -> list[tuple[str, float]]:
    """(stage, seconds from `cause.ts_event` to the event's `ts_init`) per stage-marking event;
    a negative span (clocks of two machines apart) counts as zero."""
    out = []
    for event in journal:
        stage = STAGES.get(type(event))
        if stage is not None:
            out.append((stage, max(0, event.ts_init - cause.ts_event) / 1e9))
    return out


def outcomes(journal: Iterable[JournalEvent]) -> list[tuple[str, str]]:
    """("denial" | "reject" | "anomaly", reason code) for each such event."""
    out = []
    for event in journal:
        if isinstance(event, OrderDenied):
            out.append(("denial", event.reason_code))
        elif isinstance(event, OrderRejected):
            out.append(("reject", getattr(event.reject_reason, "value", str(event.reject_reason))))
        elif isinstance(event, OrderAnomaly):
            out.append(("anomaly", event.reason_code))
    return out


def breaker_level(state: object) -> int:
    """0 closed, 1 half-open, 2 open (an unknown state counts as open)."""
    return BREAKER_LEVELS.get(getattr(state, "value", str(state)), 2)


def parse_tokens(text: str) -> dict[str, Decimal]:
    """`orders=12.5 cancels=40` -> {"orders": 12.5, "cancels": 40}; malformed parts are skipped."""
    tokens = {}
    for part in (text or "").replace(",", " ").split():
        name, _, value = part.partition("=")
        try:
            tokens[name] = Decimal(value)
        except InvalidOperation:
            continue
    return tokens

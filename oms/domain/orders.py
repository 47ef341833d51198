"""The order aggregate: one FIX order state machine, its pure fold and its decisions.

This module owns the life of an order. `TRANSITIONS` is the one table
`(status, trigger) -> next status` (FIX OrdStatus semantics; a missing key is an
error naming both). `Order` is the frozen state; `evolve(order, event)` folds one
journal event into it (applied only if its seq is exactly `order.seq + 1`) and
`fold(events)` replays a journal. The decisions `decide_new`, `decide_amend`,
`decide_cancel` and `decide_report` turn a client command or a venue execution
report plus the current state into the events to publish (journal events,
`VenueRequest`s, `Fill`s); they never raise on bad input and never mutate.
`view(order)` is the row of the compacted orders topic. Everything here is
pure: no Kafka, no clock, no I/O, no randomness; time comes in as `now`
(integer UTC nanoseconds) and money is `Decimal`, exact.

Design decisions (the contract other modules rely on):

- Sequencing. Journal events that change an order carry seq 1, 2, 3, ...
  Records that do not change it carry seq 0 and are never applied: an
  `OrderDenied` for a command naming no order or a duplicate client order id,
  an `OrderCancelRejected` decided by the engine (order not live, request
  pending, nothing to change), and every `OrderAnomaly`. Their ids come from
  `ids.record_id(order_id, input event id, kind)`, so a redelivered input yields
  the same record. `evolve` refuses them like any gap; `fold` skips them.
  An anomaly's `source` is the venue of the report it is about.
- A new order is `OrderAccepted` (seq 1, PENDING_NEW: the engine has recorded
  it), then either `OrderRouted` (seq 2, with a `VenueRequest` NEW) or, when
  pre-trade risk passes a denial to `decide_new`, `OrderDenied` (seq 2,
  PENDING_NEW -> REJECTED). So a denied order exists, is REJECTED with the
  reason, consumes its client order id and has a complete view; this mirrors
  nautilus_trader's OrderInitialized -> OrderDenied and needs no extra fields
  on `OrderDenied`.
- Order ids are `ids.order_id(account, client_order_id)` of the NewOrder. An
  amend or cancel finds its order through `orig_client_order_id`, which must
  name the original client order id; `Order.client_order_id` stays the
  original (the amend's own client order id travels in `pending` and in the
  `OrderReplaced` event).
- Triggers whose outcome depends on quantities carry the outcome in their name
  (like FIX's PARTIAL_FILL vs FILL): `_UNFILLED` (no fills standing),
  `_PARTIAL` (fills standing, order not complete), `_COMPLETE` (cum_qty >=
  quantity). So a cancel reject returns PENDING_CANCEL to NEW or
  PARTIALLY_FILLED as the table says, with no hidden rule. `trigger_of(order,
  event)` derives the trigger of a journal event.
- REPLACED is FIX's ExecType-like status of a replace report, never a resting
  state: after OrderReplaced the order is NEW, PARTIALLY_FILLED or FILLED by
  its new quantity and cum_qty (no key of the table has REPLACED on either side).
  A replace to a quantity at or below cum_qty is accepted: the order is then
  FILLED with leaves 0 and, below, cum_qty > quantity (FIX: done).
- Quantities. For a live order (PENDING_NEW, NEW, PARTIALLY_FILLED,
  PENDING_CANCEL, PENDING_REPLACE) cum_qty + leaves_qty == quantity; any other
  status has leaves_qty 0. cum_qty and avg_px are recomputed by the OMS from
  the standing fills (`Order.fills`), never taken from the venue:
  avg_px = sum(q*p) / sum(q) computed exactly and quantized to 8 places
  half-even (the only rounding). A venue whose cum/leaves disagree gets a
  seq-0 `OrderAnomaly` VENUE_MISMATCH next to the fill, which still applies.
- Pending requests. `pending` holds the cancel or replace awaiting the venue
  from the request until the venue answers it (CANCELED for a cancel,
  REPLACED, or a cancel reject); it survives a terminal status so a late reject
  (e.g. a fill completed the order while a cancel was pending) still finds it
  and applies with no status change. A bust or correction that reopens a
  FILLED order drops it (the venue answers "too late"; a later answer finds no
  request and is recorded as an anomaly instead of blocking the order).
- Busts and corrections name the fill by the venue exec id in `ref_exec_id`:
  the original exec id or that of the correction that last changed it. A
  correction replaces the standing fill under its own fill id; the `Fill` of
  kind CORRECTION carries the corrected quantity and price (not a delta), the
  `Fill` of kind BUST the busted quantity negated at the busted price.
- Idempotence: a report whose exec id was applied before yields no events.
- DONE_FOR_DAY: the venue stops working the order for today (OrderDoneForDay);
  it may still be canceled or expire later.
- Timestamps: every event decided here has ts_event = ts_init = `now`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Context, Decimal, DecimalException, Inexact, InvalidOperation, Rounded
from enum import Enum
from fractions import Fraction
from typing import Iterable, NamedTuple

from pydantic import ValidationError

from oms import ids
from oms.events import (
    SCALE,
    AmendOrder,
    CancelOrder,
    CancelRejectResponseTo,
    Event,
    ExecType,
    ExecutionReport,
    Fill,
    FillKind,
    JournalEvent,
    NewOrder,
    OrderAccepted,
    OrderAcknowledged,
    OrderAnomaly,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderDoneForDay,
    OrderExpired,
    OrderFillBusted,
    OrderFillCorrected,
    OrderFilled,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderRejected,
    OrderReplaced,
    OrderRouted,
    OrderStatus,
    OrderType,
    OrderView,
    Side,
    TimeInForce,
    VenueAction,
    VenueRequest,
)

__all__ = [
    "DomainError",
    "FillLevel",
    "FillRecord",
    "InvalidEvent",
    "InvalidTransition",
    "LIVE_STATUSES",
    "Order",
    "PendingRequest",
    "SequenceError",
    "TRANSITIONS",
    "Trigger",
    "decide_amend",
    "decide_cancel",
    "decide_new",
    "decide_report",
    "evolve",
    "fill_level",
    "fold",
    "is_live",
    "next_status",
    "trigger_of",
    "view",
]

ZERO = Decimal(0)
MAX_TEXT = 1024
_EXACT = Context(prec=200, rounding=ROUND_HALF_EVEN, traps=[Inexact, Rounded, InvalidOperation])
"""Sums of quantities are exact: any rounding would raise instead of hiding."""

# ------------------------------------------------------------------- errors


class DomainError(ValueError):
    """A journal event that cannot be applied to an order."""


class InvalidTransition(DomainError):
    """`(status, trigger)` is not a key of `TRANSITIONS`."""

    def __init__(self, status: OrderStatus, trigger: "Trigger") -> None:
        self.status = status
        self.trigger = trigger
        super().__init__(f"no transition from {status.value} on {trigger.value}")


class SequenceError(DomainError):
    """An event whose seq is not exactly the order's seq + 1."""


class InvalidEvent(DomainError):
    """An event that does not fit the order (wrong order, unknown fill, not first)."""


# ------------------------------------------------------------ state machine


class Trigger(str, Enum):
    """What happens to an order. Suffixes name the fill level after the event."""

    DENY = "DENY"  # pre-trade risk refused the new order (engine)
    ROUTE = "ROUTE"  # the engine sent the new order to a venue
    ACK = "ACK"  # venue accepted the order (ExecType NEW)
    REJECT = "REJECT"  # venue refused the order (ExecType REJECTED)
    PARTIAL_FILL = "PARTIAL_FILL"  # a fill after which the order is not complete
    FILL = "FILL"  # a fill after which the order is complete
    CANCEL_REQUEST = "CANCEL_REQUEST"  # the engine sent a cancel
    REPLACE_REQUEST = "REPLACE_REQUEST"  # the engine sent a cancel/replace
    CANCELED = "CANCELED"  # venue canceled the order (requested or unsolicited)
    CANCEL_REJECT_UNFILLED = "CANCEL_REJECT_UNFILLED"  # venue refused a cancel
    CANCEL_REJECT_PARTIAL = "CANCEL_REJECT_PARTIAL"
    CANCEL_REJECT_COMPLETE = "CANCEL_REJECT_COMPLETE"
    REPLACED_UNFILLED = "REPLACED_UNFILLED"  # venue replaced the order
    REPLACED_PARTIAL = "REPLACED_PARTIAL"
    REPLACED_COMPLETE = "REPLACED_COMPLETE"
    REPLACE_REJECT_UNFILLED = "REPLACE_REJECT_UNFILLED"  # venue refused a replace
    REPLACE_REJECT_PARTIAL = "REPLACE_REJECT_PARTIAL"
    REPLACE_REJECT_COMPLETE = "REPLACE_REJECT_COMPLETE"
    EXPIRE = "EXPIRE"  # venue expired the order (time in force, IOC/FOK rest)
    DONE_FOR_DAY = "DONE_FOR_DAY"  # venue stops working the order for the day
    BUST_UNFILLED = "BUST_UNFILLED"  # venue busted a fill
    BUST_PARTIAL = "BUST_PARTIAL"
    BUST_COMPLETE = "BUST_COMPLETE"
    CORRECT_PARTIAL = "CORRECT_PARTIAL"  # venue corrected a fill (never leaves it unfilled)
    CORRECT_COMPLETE = "CORRECT_COMPLETE"


S = OrderStatus
T = Trigger

TRANSITIONS: dict[tuple[OrderStatus, Trigger], OrderStatus] = {
    # --- PENDING_NEW: recorded by the engine, sent (or about to be) to the venue.
    (S.PENDING_NEW, T.DENY): S.REJECTED,
    (S.PENDING_NEW, T.ROUTE): S.PENDING_NEW,  # routing sets venue and request id, status unchanged
    (S.PENDING_NEW, T.ACK): S.NEW,
    (S.PENDING_NEW, T.REJECT): S.REJECTED,
    (S.PENDING_NEW, T.PARTIAL_FILL): S.PARTIALLY_FILLED,  # fill before the ack: the fill implies it
    (S.PENDING_NEW, T.FILL): S.FILLED,  # e.g. a marketable IOC filled at once, no separate ack
    (S.PENDING_NEW, T.CANCELED): S.CANCELED,  # IOC with nothing to match, canceled without ack
    (S.PENDING_NEW, T.EXPIRE): S.EXPIRED,  # IOC/FOK with nothing to match, expired without ack
    # --- NEW: working, nothing filled.
    (S.NEW, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.NEW, T.FILL): S.FILLED,
    (S.NEW, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.NEW, T.REPLACE_REQUEST): S.PENDING_REPLACE,
    (S.NEW, T.CANCELED): S.CANCELED,  # unsolicited: the venue canceled on its own
    (S.NEW, T.EXPIRE): S.EXPIRED,
    (S.NEW, T.DONE_FOR_DAY): S.DONE_FOR_DAY,
    # --- PARTIALLY_FILLED: working, some filled.
    (S.PARTIALLY_FILLED, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, T.REPLACE_REQUEST): S.PENDING_REPLACE,
    (S.PARTIALLY_FILLED, T.CANCELED): S.CANCELED,  # unsolicited, or the IOC rest canceled
    (S.PARTIALLY_FILLED, T.EXPIRE): S.EXPIRED,  # IOC/FOK rest expired after a partial fill
    (S.PARTIALLY_FILLED, T.DONE_FOR_DAY): S.DONE_FOR_DAY,
    (S.PARTIALLY_FILLED, T.BUST_UNFILLED): S.NEW,  # the only fill busted
    (S.PARTIALLY_FILLED, T.BUST_PARTIAL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.CORRECT_PARTIAL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.CORRECT_COMPLETE): S.FILLED,  # corrected up to the full quantity
    # --- PENDING_CANCEL: a cancel is at the venue; the order still works until answered.
    (S.PENDING_CANCEL, T.PARTIAL_FILL): S.PENDING_CANCEL,  # fill raced the cancel: still pending
    (S.PENDING_CANCEL, T.FILL): S.FILLED,  # fill completed it first: FILLED, a cancel reject follows
    (S.PENDING_CANCEL, T.CANCELED): S.CANCELED,
    (S.PENDING_CANCEL, T.CANCEL_REJECT_UNFILLED): S.NEW,  # back to the prior state, from cum_qty
    (S.PENDING_CANCEL, T.CANCEL_REJECT_PARTIAL): S.PARTIALLY_FILLED,  # ditto (fills may have come meanwhile)
    (S.PENDING_CANCEL, T.EXPIRE): S.EXPIRED,  # expired (e.g. at the close) before the cancel
    (S.PENDING_CANCEL, T.DONE_FOR_DAY): S.DONE_FOR_DAY,
    (S.PENDING_CANCEL, T.BUST_UNFILLED): S.PENDING_CANCEL,  # quantities change, the cancel stays pending
    (S.PENDING_CANCEL, T.BUST_PARTIAL): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.CORRECT_PARTIAL): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.CORRECT_COMPLETE): S.FILLED,  # like FILL: complete wins over the pending cancel
    # --- PENDING_REPLACE: a cancel/replace is at the venue; the old terms apply until answered.
    (S.PENDING_REPLACE, T.PARTIAL_FILL): S.PENDING_REPLACE,  # fill under the old terms, still pending
    (S.PENDING_REPLACE, T.FILL): S.FILLED,  # old quantity filled first: a replace reject follows
    (S.PENDING_REPLACE, T.REPLACED_UNFILLED): S.NEW,  # REPLACED is never resting: status by quantities
    (S.PENDING_REPLACE, T.REPLACED_PARTIAL): S.PARTIALLY_FILLED,
    (S.PENDING_REPLACE, T.REPLACED_COMPLETE): S.FILLED,  # new quantity <= cum_qty: done (FIX)
    (S.PENDING_REPLACE, T.REPLACE_REJECT_UNFILLED): S.NEW,  # back to the prior state, from cum_qty
    (S.PENDING_REPLACE, T.REPLACE_REJECT_PARTIAL): S.PARTIALLY_FILLED,
    (S.PENDING_REPLACE, T.CANCELED): S.CANCELED,  # unsolicited cancel while the replace was pending
    (S.PENDING_REPLACE, T.EXPIRE): S.EXPIRED,
    (S.PENDING_REPLACE, T.DONE_FOR_DAY): S.DONE_FOR_DAY,
    (S.PENDING_REPLACE, T.BUST_UNFILLED): S.PENDING_REPLACE,
    (S.PENDING_REPLACE, T.BUST_PARTIAL): S.PENDING_REPLACE,
    (S.PENDING_REPLACE, T.CORRECT_PARTIAL): S.PENDING_REPLACE,
    (S.PENDING_REPLACE, T.CORRECT_COMPLETE): S.FILLED,
    # --- FILLED: complete. Only late answers and trade busts/corrections arrive.
    (S.FILLED, T.CANCEL_REJECT_COMPLETE): S.FILLED,  # late reject of a cancel the final fill overtook
    (S.FILLED, T.REPLACE_REJECT_COMPLETE): S.FILLED,  # late reject of a replace the final fill overtook
    (S.FILLED, T.BUST_UNFILLED): S.NEW,  # every fill busted: the order works again, unfilled
    (S.FILLED, T.BUST_PARTIAL): S.PARTIALLY_FILLED,  # the busted quantity is open again
    (S.FILLED, T.BUST_COMPLETE): S.FILLED,  # replaced below cum_qty: still at or above quantity
    (S.FILLED, T.CORRECT_PARTIAL): S.PARTIALLY_FILLED,  # corrected down: the difference is open again
    (S.FILLED, T.CORRECT_COMPLETE): S.FILLED,
    # --- CANCELED: terminal. Busts/corrections change quantities, never the status.
    (S.CANCELED, T.CANCEL_REJECT_UNFILLED): S.CANCELED,  # late reject of a request overtaken by the cancel
    (S.CANCELED, T.CANCEL_REJECT_PARTIAL): S.CANCELED,
    (S.CANCELED, T.REPLACE_REJECT_UNFILLED): S.CANCELED,  # replace pending when the venue canceled
    (S.CANCELED, T.REPLACE_REJECT_PARTIAL): S.CANCELED,
    (S.CANCELED, T.BUST_UNFILLED): S.CANCELED,
    (S.CANCELED, T.BUST_PARTIAL): S.CANCELED,
    (S.CANCELED, T.CORRECT_PARTIAL): S.CANCELED,
    (S.CANCELED, T.CORRECT_COMPLETE): S.CANCELED,  # corrected up to the quantity: still canceled
    # --- EXPIRED: terminal, like CANCELED.
    (S.EXPIRED, T.CANCEL_REJECT_UNFILLED): S.EXPIRED,  # "too late": expired while the cancel was pending
    (S.EXPIRED, T.CANCEL_REJECT_PARTIAL): S.EXPIRED,
    (S.EXPIRED, T.REPLACE_REJECT_UNFILLED): S.EXPIRED,
    (S.EXPIRED, T.REPLACE_REJECT_PARTIAL): S.EXPIRED,
    (S.EXPIRED, T.BUST_UNFILLED): S.EXPIRED,
    (S.EXPIRED, T.BUST_PARTIAL): S.EXPIRED,
    (S.EXPIRED, T.CORRECT_PARTIAL): S.EXPIRED,
    (S.EXPIRED, T.CORRECT_COMPLETE): S.EXPIRED,
    # --- DONE_FOR_DAY: not working today; the venue may still end it, nothing else.
    (S.DONE_FOR_DAY, T.CANCELED): S.CANCELED,  # e.g. a GTC order canceled by the venue overnight
    (S.DONE_FOR_DAY, T.EXPIRE): S.EXPIRED,  # e.g. a GTD/GTC order reaching its expiry
    (S.DONE_FOR_DAY, T.CANCEL_REJECT_UNFILLED): S.DONE_FOR_DAY,  # late answers, as for CANCELED
    (S.DONE_FOR_DAY, T.CANCEL_REJECT_PARTIAL): S.DONE_FOR_DAY,
    (S.DONE_FOR_DAY, T.REPLACE_REJECT_UNFILLED): S.DONE_FOR_DAY,
    (S.DONE_FOR_DAY, T.REPLACE_REJECT_PARTIAL): S.DONE_FOR_DAY,
    (S.DONE_FOR_DAY, T.BUST_UNFILLED): S.DONE_FOR_DAY,
    (S.DONE_FOR_DAY, T.BUST_PARTIAL): S.DONE_FOR_DAY,
    (S.DONE_FOR_DAY, T.CORRECT_PARTIAL): S.DONE_FOR_DAY,
    (S.DONE_FOR_DAY, T.CORRECT_COMPLETE): S.DONE_FOR_DAY,
    # --- REJECTED: terminal, nothing applies (it never had fills).
    # --- REPLACED: never a resting state (see the module docstring).
}

del S, T

LIVE_STATUSES: frozenset[OrderStatus] = frozenset(
    {
        OrderStatus.PENDING_NEW,
        OrderStatus.NEW,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PENDING_CANCEL,
        OrderStatus.PENDING_REPLACE,
    }
)
"""Statuses in which the order can still execute: cum_qty + leaves_qty == quantity."""


def next_status(status: OrderStatus, trigger: Trigger) -> OrderStatus:
    """The status after `trigger`; raises `InvalidTransition` naming both if none."""
    try:
        return TRANSITIONS[(status, trigger)]
    except KeyError:
        raise InvalidTransition(status, trigger) from None


class FillLevel(str, Enum):
    UNFILLED = "UNFILLED"  # cum_qty == 0
    PARTIAL = "PARTIAL"  # 0 < cum_qty < quantity
    COMPLETE = "COMPLETE"  # cum_qty >= quantity


def fill_level(quantity: Decimal, cum_qty: Decimal) -> FillLevel:
    if cum_qty <= 0:
        return FillLevel.UNFILLED
    if cum_qty >= quantity:
        return FillLevel.COMPLETE
    return FillLevel.PARTIAL


_BY_LEVEL: dict[str, dict[FillLevel, Trigger]] = {
    "FILL": {FillLevel.PARTIAL: Trigger.PARTIAL_FILL, FillLevel.COMPLETE: Trigger.FILL},
    "CANCEL_REJECT": {
        FillLevel.UNFILLED: Trigger.CANCEL_REJECT_UNFILLED,
        FillLevel.PARTIAL: Trigger.CANCEL_REJECT_PARTIAL,
        FillLevel.COMPLETE: Trigger.CANCEL_REJECT_COMPLETE,
    },
    "REPLACE_REJECT": {
        FillLevel.UNFILLED: Trigger.REPLACE_REJECT_UNFILLED,
        FillLevel.PARTIAL: Trigger.REPLACE_REJECT_PARTIAL,
        FillLevel.COMPLETE: Trigger.REPLACE_REJECT_COMPLETE,
    },
    "REPLACED": {
        FillLevel.UNFILLED: Trigger.REPLACED_UNFILLED,
        FillLevel.PARTIAL: Trigger.REPLACED_PARTIAL,
        FillLevel.COMPLETE: Trigger.REPLACED_COMPLETE,
    },
    "BUST": {
        FillLevel.UNFILLED: Trigger.BUST_UNFILLED,
        FillLevel.PARTIAL: Trigger.BUST_PARTIAL,
        FillLevel.COMPLETE: Trigger.BUST_COMPLETE,
    },
    "CORRECT": {FillLevel.PARTIAL: Trigger.CORRECT_PARTIAL, FillLevel.COMPLETE: Trigger.CORRECT_COMPLETE},
}


def _leveled(family: str, quantity: Decimal, cum_qty: Decimal) -> Trigger:
    return _BY_LEVEL[family][fill_level(quantity, cum_qty)]


# -------------------------------------------------------------------- state


class FillRecord(NamedTuple):
    """A fill still standing: busts remove it, corrections replace it."""

    fill_id: str
    exec_id: str
    qty: Decimal
    px: Decimal
    supersedes: tuple[str, ...] = ()
    """Exec ids of the fills this one corrected (a bust may still name them)."""


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A cancel or replace sent to the venue and not answered yet."""

    kind: VenueAction  # CANCEL or REPLACE
    request_id: str
    client_order_id: str
    command_id: str
    quantity: Decimal | None = None  # the replace's new terms
    limit_price: Decimal | None = None

    @property
    def response_to(self) -> CancelRejectResponseTo:
        return CancelRejectResponseTo.CANCEL if self.kind is VenueAction.CANCEL else CancelRejectResponseTo.REPLACE


@dataclass(frozen=True, slots=True)
class Order:
    """One order as of journal event `seq`."""

    order_id: str
    account: str
    trader: str
    client_order_id: str
    instrument: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    limit_price: Decimal | None
    status: OrderStatus
    cum_qty: Decimal
    leaves_qty: Decimal
    avg_px: Decimal
    venue: str | None
    request_id: str | None
    """The live request id at the venue (the last routed NEW or accepted REPLACE)."""
    pending: PendingRequest | None
    fills: tuple[FillRecord, ...]
    exec_ids: frozenset[str]
    seq: int
    ts_last: int
    reason: str | None = None
    """Why the order last left the normal path (denial, reject, cancel, expiry)."""


def is_live(order: Order) -> bool:
    return order.status in LIVE_STATUSES


def _sum(values: Iterable[Decimal]) -> Decimal:
    total = ZERO
    for value in values:
        total = _EXACT.add(total, value)
    return total


def _totals(fills: tuple[FillRecord, ...]) -> tuple[Decimal, Decimal]:
    """(cum_qty, avg_px) of standing fills; avg_px exact, then 8 places half-even."""
    cum = _sum(f.qty for f in fills)
    if cum == 0:
        return cum, ZERO
    notional = sum((Fraction(f.qty) * Fraction(f.px) for f in fills), Fraction(0))
    scaled = round(notional / Fraction(cum) * 10**SCALE)  # Fraction rounds half to even
    return cum, Decimal(scaled).scaleb(-SCALE, _EXACT)


def _leaves(status: OrderStatus, quantity: Decimal, cum_qty: Decimal) -> Decimal:
    if status not in LIVE_STATUSES:
        return ZERO
    return max(_EXACT.subtract(quantity, cum_qty), ZERO)


def _find_fill(order: Order, exec_id: str | None) -> FillRecord | None:
    if exec_id is None:
        return None
    for f in order.fills:
        if f.exec_id == exec_id or exec_id in f.supersedes:
            return f
    return None


# --------------------------------------------------------------------- fold


def trigger_of(order: Order, event: JournalEvent) -> Trigger:
    """The trigger a journal event fires on `order` (after OrderAccepted)."""
    return _effect(order, event)[0]


def _effect(order: Order, event: JournalEvent) -> tuple[Trigger, dict]:
    """(trigger, changed fields other than status/leaves/seq) of `event` on `order`."""
    if isinstance(event, OrderDenied):
        return Trigger.DENY, {"reason": event.reason}
    if isinstance(event, OrderRouted):
        return Trigger.ROUTE, {"venue": event.venue, "request_id": event.request_id}
    if isinstance(event, OrderAcknowledged):
        return Trigger.ACK, {}
    if isinstance(event, OrderRejected):
        return Trigger.REJECT, {"reason": event.reason}
    if isinstance(event, OrderFilled):
        fills = order.fills + (FillRecord(event.fill_id, event.exec_id, event.last_qty, event.last_px),)
        cum, avg = _totals(fills)
        return _leveled("FILL", order.quantity, cum), {"fills": fills, "cum_qty": cum, "avg_px": avg}
    if isinstance(event, OrderPendingCancel):
        pending = PendingRequest(VenueAction.CANCEL, event.request_id, event.client_order_id, event.command_id)
        return Trigger.CANCEL_REQUEST, {"pending": pending}
    if isinstance(event, OrderPendingReplace):
        pending = PendingRequest(
            VenueAction.REPLACE,
            event.request_id,
            event.client_order_id,
            event.command_id,
            event.quantity,
            event.limit_price,
        )
        return Trigger.REPLACE_REQUEST, {"pending": pending}
    if isinstance(event, OrderCanceled):
        changes: dict = {"reason": event.reason}
        if order.pending is not None and order.pending.kind is VenueAction.CANCEL:
            changes["pending"] = None  # the answer to our cancel
        return Trigger.CANCELED, changes
    if isinstance(event, OrderExpired):
        return Trigger.EXPIRE, {"reason": event.reason}
    if isinstance(event, OrderDoneForDay):
        return Trigger.DONE_FOR_DAY, {"reason": event.reason}
    if isinstance(event, OrderReplaced):
        return _leveled("REPLACED", event.quantity, order.cum_qty), {
            "quantity": event.quantity,
            "limit_price": event.limit_price,
            "request_id": event.request_id,
            "pending": None,
        }
    if isinstance(event, OrderCancelRejected):
        family = "CANCEL_REJECT" if event.response_to is CancelRejectResponseTo.CANCEL else "REPLACE_REJECT"
        return _leveled(family, order.quantity, order.cum_qty), {"pending": None, "reason": event.reason}
    if isinstance(event, (OrderFillBusted, OrderFillCorrected)):
        ref = next((f for f in order.fills if f.fill_id == event.ref_fill_id), None)
        if ref is None:
            raise InvalidEvent(f"{event.event_id}: fill {event.ref_fill_id} is not standing on {order.order_id}")
        if isinstance(event, OrderFillBusted):
            fills = tuple(f for f in order.fills if f is not ref)
            family = "BUST"
        else:
            corrected = FillRecord(
                event.fill_id, event.exec_id, event.last_qty, event.last_px, ref.supersedes + (ref.exec_id,)
            )
            fills = tuple(corrected if f is ref else f for f in order.fills)
            family = "CORRECT"
        cum, avg = _totals(fills)
        return _leveled(family, order.quantity, cum), {"fills": fills, "cum_qty": cum, "avg_px": avg}
    raise InvalidEvent(f"{event.event_id}: a {type(event).__name__} is never applied to an order")


def _created(event: OrderAccepted) -> Order:
    return Order(
        order_id=event.order_id,
        account=event.account,
        trader=event.trader,
        client_order_id=event.client_order_id,
        instrument=event.instrument,
        side=event.side,
        order_type=event.order_type,
        time_in_force=event.time_in_force,
        quantity=event.quantity,
        limit_price=event.limit_price,
        status=OrderStatus.PENDING_NEW,
        cum_qty=ZERO,
        leaves_qty=event.quantity,
        avg_px=ZERO,
        venue=None,
        request_id=None,
        pending=None,
        fills=(),
        exec_ids=frozenset(),
        seq=event.seq,
        ts_last=event.ts_event,
    )


def evolve(order: Order | None, event: JournalEvent) -> Order:
    """`order` after `event`. Raises `SequenceError` unless event.seq == order.seq + 1
    (1 for the first, which must be OrderAccepted), `InvalidTransition` if the table
    has no edge, `InvalidEvent` if the event does not fit the order."""
    expected = 1 if order is None else order.seq + 1
    if event.seq != expected:
        name = event.order_id if order is None else order.order_id
        raise SequenceError(f"{event.event_id}: seq {event.seq} on {name}, expected {expected}")
    if order is None:
        if not isinstance(event, OrderAccepted):
            raise InvalidEvent(f"{event.event_id}: an order starts with OrderAccepted, not {type(event).__name__}")
        return _created(event)
    if event.order_id != order.order_id or event.account != order.account:
        raise InvalidEvent(f"{event.event_id}: belongs to {event.account}/{event.order_id}, not {order.order_id}")
    trigger, changes = _effect(order, event)
    status = next_status(order.status, trigger)
    if order.status is OrderStatus.FILLED and status in LIVE_STATUSES:
        changes["pending"] = None  # a bust/correction reopened it: an old request is moot
    exec_id = getattr(event, "exec_id", None)
    return replace(
        order,
        **changes,
        status=status,
        leaves_qty=_leaves(status, changes.get("quantity", order.quantity), changes.get("cum_qty", order.cum_qty)),
        exec_ids=order.exec_ids | {exec_id} if exec_id else order.exec_ids,
        seq=event.seq,
        ts_last=event.ts_event,
    )


def fold(events: Iterable[Event], orders: dict[str, Order] | None = None) -> dict[str, Order]:
    """Replay journal events into orders by id (a new dict; `orders` is not changed).

    Events with seq <= the order's current seq (already applied, and every
    seq-0 record) are skipped, as are events that are not journal events; a gap
    raises `SequenceError`.
    """
    state = dict(orders or {})
    for event in events:
        if not isinstance(event, JournalEvent):
            continue
        current = state.get(event.order_id)
        if event.seq <= (current.seq if current is not None else 0):
            continue
        state[event.order_id] = evolve(current, event)
    return state


def view(order: Order) -> OrderView:
    """The order's row on the compacted orders topic."""
    return OrderView(
        event_id=ids.view_event_id(order.order_id, order.seq),
        ts_event=order.ts_last,
        ts_init=order.ts_last,
        order_id=order.order_id,
        account=order.account,
        trader=order.trader,
        client_order_id=order.client_order_id,
        instrument=order.instrument,
        side=order.side,
        order_type=order.order_type,
        time_in_force=order.time_in_force,
        status=order.status,
        quantity=order.quantity,
        limit_price=order.limit_price,
        cum_qty=order.cum_qty,
        leaves_qty=order.leaves_qty,
        avg_px=order.avg_px,
        venue=order.venue,
        seq=order.seq,
        reason=_text(order.reason) if order.reason is not None else None,
    )


# ---------------------------------------------------------------- decisions


def _text(reason: str) -> str:
    return reason if len(reason) <= MAX_TEXT else reason[: MAX_TEXT - 3] + "..."


def _stamp(event_id: str, now: int) -> dict:
    return {"event_id": event_id, "ts_event": now, "ts_init": now}


def _journal(order: Order, seq: int, now: int) -> dict:
    return {
        **_stamp(ids.journal_event_id(order.order_id, seq), now),
        "order_id": order.order_id,
        "account": order.account,
        "seq": seq,
    }


def _venue_request(order: Order, action: VenueAction, request_id: str, now: int, **terms) -> VenueRequest:
    fields = {
        "quantity": order.quantity,
        "limit_price": order.limit_price,
        "orig_request_id": order.request_id,
        **terms,
    }
    return VenueRequest(
        **_stamp(ids.venue_request_event_id(request_id), now),
        action=action,
        venue=order.venue,
        account=order.account,
        order_id=order.order_id,
        request_id=request_id,
        instrument=order.instrument,
        side=order.side,
        order_type=order.order_type,
        time_in_force=order.time_in_force,
        **fields,
    )


def decide_new(
    cmd: NewOrder,
    existing: Order | None,
    venue: str,
    now: int,
    denial: tuple[str, str] | None = None,
) -> list[Event]:
    """Accept and route a new order, or deny it.

    `existing` is the order at `ids.order_id(cmd.account, cmd.client_order_id)`;
    if there is one the command is a duplicate: a seq-0 `OrderDenied`
    DUPLICATE_CLIENT_ORDER_ID naming it. `venue` is where to route when the
    command names none. `denial` = (reason_code, reason) from pre-trade risk:
    OrderAccepted (1) + OrderDenied (2), the order ends REJECTED. Otherwise
    OrderAccepted (1) + OrderRouted (2) + VenueRequest NEW.
    """
    if existing is not None:
        return [
            OrderDenied(
                **_stamp(ids.record_id(existing.order_id, cmd.event_id, "denied"), now),
                order_id=existing.order_id,
                account=existing.account,
                seq=0,
                trader=cmd.trader,
                client_order_id=cmd.client_order_id,
                command="NewOrder",
                reason_code="DUPLICATE_CLIENT_ORDER_ID",
                reason=_text(f"client order id {cmd.client_order_id} already names order {existing.order_id}"),
                command_id=cmd.event_id,
            )
        ]
    oid = ids.order_id(cmd.account, cmd.client_order_id)
    accepted = OrderAccepted(
        **_stamp(ids.journal_event_id(oid, 1), now),
        order_id=oid,
        account=cmd.account,
        seq=1,
        trader=cmd.trader,
        client_order_id=cmd.client_order_id,
        instrument=cmd.instrument,
        side=cmd.side,
        order_type=cmd.order_type,
        quantity=cmd.quantity,
        limit_price=cmd.limit_price,
        time_in_force=cmd.time_in_force,
        command_id=cmd.event_id,
    )
    order = _created(accepted)
    if denial is not None:
        code, reason = denial
        return [
            accepted,
            OrderDenied(
                **_journal(order, 2, now),
                trader=cmd.trader,
                client_order_id=cmd.client_order_id,
                command="NewOrder",
                reason_code=code,
                reason=_text(reason),
                command_id=cmd.event_id,
            ),
        ]
    target = cmd.venue or venue
    rid = ids.request_id(oid, 2)
    routed = OrderRouted(
        **_journal(order, 2, now),
        venue=target,
        request_id=rid,
        quantity=cmd.quantity,
        limit_price=cmd.limit_price,
    )
    request = _venue_request(replace(order, venue=target), VenueAction.NEW, rid, now, orig_request_id=None)
    return [accepted, routed, request]


def _denied_unknown(cmd: AmendOrder | CancelOrder, now: int) -> OrderDenied:
    oid = ids.order_id(cmd.account, cmd.orig_client_order_id)
    return OrderDenied(
        **_stamp(ids.record_id(oid, cmd.event_id, "denied"), now),
        order_id=oid,
        account=cmd.account,
        seq=0,
        trader=cmd.trader,
        client_order_id=cmd.client_order_id,
        command=type(cmd).__name__,
        reason_code="UNKNOWN_ORDER",
        reason=_text(f"no order {cmd.orig_client_order_id} in account {cmd.account}"),
        command_id=cmd.event_id,
    )


def _engine_cancel_reject(
    cmd: AmendOrder | CancelOrder, order: Order, to: CancelRejectResponseTo, code: str, reason: str, now: int
) -> OrderCancelRejected:
    return OrderCancelRejected(
        **_stamp(ids.record_id(order.order_id, cmd.event_id, "cancel-rejected"), now),
        order_id=order.order_id,
        account=order.account,
        seq=0,
        client_order_id=cmd.client_order_id,
        response_to=to,
        reason_code=code,
        reason=_text(reason),
    )


def _request_refusal(order: Order) -> tuple[str, str] | None:
    """Why no cancel or replace can be sent for `order` now, or None."""
    if not is_live(order):
        return "ORDER_NOT_LIVE", f"order {order.order_id} is {order.status.value}"
    if order.status is OrderStatus.PENDING_NEW:
        return "ORDER_NOT_ACKNOWLEDGED", f"order {order.order_id} is not acknowledged by the venue yet"
    if order.pending is not None:
        return "REQUEST_PENDING", f"a {order.pending.kind.value} ({order.pending.request_id}) is pending"
    return None


def _known(cmd: AmendOrder | CancelOrder, order: Order | None) -> bool:
    return order is not None and order.account == cmd.account


def decide_amend(
    cmd: AmendOrder, order: Order | None, now: int, denial: tuple[str, str] | None = None
) -> list[Event]:
    """Send a cancel/replace, or refuse it.

    Unknown order: seq-0 OrderDenied UNKNOWN_ORDER. Not live, not acknowledged,
    a request pending, nothing to change, a price on a market order, or a
    `denial` (reason_code, reason) from risk: seq-0 OrderCancelRejected
    (response_to REPLACE). Else OrderPendingReplace + VenueRequest REPLACE. A new
    quantity at or below cum_qty is sent: the venue then treats the order as done.
    """
    if order is None or not _known(cmd, order):
        return [_denied_unknown(cmd, now)]
    to = CancelRejectResponseTo.REPLACE
    refusal = _request_refusal(order)
    if refusal is None and order.order_type is OrderType.MARKET and cmd.limit_price is not None:
        refusal = ("INVALID_AMEND", "a market order takes no limit price")
    quantity = cmd.quantity if cmd.quantity is not None else order.quantity
    limit_price = cmd.limit_price if cmd.limit_price is not None else order.limit_price
    if refusal is None and quantity == order.quantity and limit_price == order.limit_price:
        refusal = ("NO_CHANGE", "the amend changes neither quantity nor limit price")
    if refusal is None and denial is not None:
        refusal = denial
    if refusal is not None:
        return [_engine_cancel_reject(cmd, order, to, refusal[0], refusal[1], now)]
    seq = order.seq + 1
    rid = ids.request_id(order.order_id, seq)
    return [
        OrderPendingReplace(
            **_journal(order, seq, now),
            client_order_id=cmd.client_order_id,
            request_id=rid,
            quantity=quantity,
            limit_price=limit_price,
            command_id=cmd.event_id,
        ),
        _venue_request(order, VenueAction.REPLACE, rid, now, quantity=quantity, limit_price=limit_price),
    ]


def decide_cancel(cmd: CancelOrder, order: Order | None, now: int) -> list[Event]:
    """Send a cancel, or refuse it (seq-0 OrderDenied UNKNOWN_ORDER, or seq-0
    OrderCancelRejected response_to CANCEL: not live, not acknowledged, pending)."""
    if order is None or not _known(cmd, order):
        return [_denied_unknown(cmd, now)]
    refusal = _request_refusal(order)
    if refusal is not None:
        return [_engine_cancel_reject(cmd, order, CancelRejectResponseTo.CANCEL, refusal[0], refusal[1], now)]
    seq = order.seq + 1
    rid = ids.request_id(order.order_id, seq)
    return [
        OrderPendingCancel(
            **_journal(order, seq, now),
            client_order_id=cmd.client_order_id,
            request_id=rid,
            command_id=cmd.event_id,
        ),
        _venue_request(order, VenueAction.CANCEL, rid, now),
    ]


# ------------------------------------------------------------------ reports


def _anomaly(report: ExecutionReport, order_id: str, account: str, code: str, reason: str, now: int) -> OrderAnomaly:
    return OrderAnomaly(
        **_stamp(ids.record_id(order_id, report.event_id, "anomaly"), now),
        order_id=order_id,
        account=account,
        seq=0,
        source=report.venue,
        reason_code=code,
        reason=_text(f"{reason} (report {report.event_id}, exec {report.exec_id}, {report.exec_type.value})"),
        exec_id=report.exec_id,
    )


def decide_report(report: ExecutionReport, order: Order | None, now: int) -> list[Event]:
    """The events a venue execution report causes; never raises.

    [] if its exec id was applied before. A seq-0 OrderAnomaly if the order is
    unknown (UNKNOWN_ORDER) or in another account (ACCOUNT_MISMATCH), the table
    has no edge (INVALID_TRANSITION), a fill is too large (OVERFILL) or not
    positive (INVALID_FILL), a bust/correction names no standing fill
    (UNKNOWN_FILL), a replace/cancel reject answers nothing pending
    (NO_PENDING_REQUEST), the exec type has no journal event (UNSUPPORTED_EXEC_TYPE)
    or the report cannot be represented (UNPROCESSABLE). Otherwise the journal
    event with seq order.seq + 1, plus a `Fill` for fills, busts, corrections.
    """
    if order is None:
        return [_anomaly(report, report.order_id, report.account, "UNKNOWN_ORDER", "no such order", now)]
    try:
        return _decide_report(report, order, now)
    except (ValidationError, DecimalException, ArithmeticError, DomainError) as exc:
        return [_anomaly(report, order.order_id, order.account, "UNPROCESSABLE", str(exc), now)]


def _decide_report(report: ExecutionReport, order: Order, now: int) -> list[Event]:
    def anomaly(code: str, reason: str) -> list[Event]:
        return [_anomaly(report, order.order_id, order.account, code, reason, now)]

    if report.account != order.account:
        return anomaly("ACCOUNT_MISMATCH", f"order {order.order_id} belongs to {order.account}")
    if report.exec_id in order.exec_ids:
        return []  # already applied: redelivery

    seq = order.seq + 1
    head = _journal(order, seq, now)
    kind = report.exec_type
    quantity, cum = order.quantity, order.cum_qty
    extra: list[Event] = []

    if kind is ExecType.NEW:
        trigger = Trigger.ACK
        event: JournalEvent = OrderAcknowledged(
            **head, venue=report.venue, exec_id=report.exec_id, venue_order_id=report.venue_order_id
        )
    elif kind is ExecType.REJECTED:
        trigger = Trigger.REJECT
        event = OrderRejected(
            **head, venue=report.venue, exec_id=report.exec_id, reason=_text(report.reason or "rejected by the venue")
        )
    elif kind in (ExecType.PARTIAL_FILL, ExecType.FILL):
        if report.last_qty <= 0 or report.last_px <= 0:
            return anomaly("INVALID_FILL", f"last_qty {report.last_qty} at {report.last_px}")
        fill_id = ids.fill_id(order.order_id, seq)
        fills = order.fills + (FillRecord(fill_id, report.exec_id, report.last_qty, report.last_px),)
        cum, avg = _totals(fills)
        trigger = _leveled("FILL", quantity, cum)
        if (order.status, trigger) not in TRANSITIONS:
            return anomaly("INVALID_TRANSITION", f"{InvalidTransition(order.status, trigger)}")
        if cum > quantity:
            return anomaly(
                "OVERFILL", f"fill of {report.last_qty} exceeds leaves {order.leaves_qty} of {order.order_id}"
            )
        leaves = _leaves(TRANSITIONS[(order.status, trigger)], quantity, cum)
        event = OrderFilled(
            **head,
            fill_id=fill_id,
            exec_id=report.exec_id,
            venue=report.venue,
            trader=order.trader,
            client_order_id=order.client_order_id,
            instrument=order.instrument,
            side=order.side,
            last_qty=report.last_qty,
            last_px=report.last_px,
            cum_qty=cum,
            leaves_qty=leaves,
            avg_px=avg,
            commission=report.commission,
        )
        extra.append(_fill(order, event, FillKind.FILL, report, report.last_qty, report.last_px, None, now))
        if report.cum_qty != cum or report.leaves_qty != leaves:
            extra.append(
                OrderAnomaly(
                    **_stamp(ids.record_id(order.order_id, report.event_id, "mismatch"), now),
                    order_id=order.order_id,
                    account=order.account,
                    seq=0,
                    source=report.venue,
                    reason_code="VENUE_MISMATCH",
                    reason=_text(
                        f"venue says cum {report.cum_qty} leaves {report.leaves_qty}, "
                        f"OMS has cum {cum} leaves {leaves} (fill {fill_id} applied)"
                    ),
                    exec_id=report.exec_id,
                )
            )
    elif kind is ExecType.CANCELED:
        trigger = Trigger.CANCELED
        solicited = order.pending is not None and order.pending.kind is VenueAction.CANCEL
        event = OrderCanceled(
            **head,
            exec_id=report.exec_id,
            unsolicited=not solicited,
            reason=_text(report.reason) if report.reason is not None else None,
        )
    elif kind is ExecType.EXPIRED:
        trigger = Trigger.EXPIRE
        event = OrderExpired(
            **head, exec_id=report.exec_id, reason=_text(report.reason) if report.reason is not None else None
        )
    elif kind is ExecType.REPLACED:
        pending = order.pending
        if pending is None or pending.kind is not VenueAction.REPLACE:
            return anomaly("NO_PENDING_REQUEST", f"no replace pending on {order.order_id}")
        quantity = pending.quantity if pending.quantity is not None else order.quantity
        trigger = _leveled("REPLACED", quantity, cum)
        if (order.status, trigger) not in TRANSITIONS:
            return anomaly("INVALID_TRANSITION", f"{InvalidTransition(order.status, trigger)}")
        event = OrderReplaced(
            **head,
            client_order_id=pending.client_order_id,
            request_id=pending.request_id,
            exec_id=report.exec_id,
            quantity=quantity,
            limit_price=pending.limit_price,
            leaves_qty=_leaves(TRANSITIONS[(order.status, trigger)], quantity, cum),
        )
    elif kind is ExecType.CANCEL_REJECTED:
        pending = order.pending
        if pending is None:
            return anomaly("NO_PENDING_REQUEST", f"no cancel or replace pending on {order.order_id}")
        family = "CANCEL_REJECT" if pending.kind is VenueAction.CANCEL else "REPLACE_REJECT"
        trigger = _leveled(family, quantity, cum)
        event = OrderCancelRejected(
            **head,
            client_order_id=pending.client_order_id,
            response_to=pending.response_to,
            reason_code="VENUE_REJECTED",
            reason=_text(report.reason or f"the venue rejected {pending.request_id}"),
            exec_id=report.exec_id,
        )
    elif kind in (ExecType.TRADE_BUST, ExecType.TRADE_CORRECT):
        ref = _find_fill(order, report.ref_exec_id)
        if ref is None:
            return anomaly("UNKNOWN_FILL", f"no standing fill with exec id {report.ref_exec_id}")
        fill_id = ids.fill_id(order.order_id, seq)
        if kind is ExecType.TRADE_BUST:
            fills = tuple(f for f in order.fills if f is not ref)
            cum, avg = _totals(fills)
            trigger = _leveled("BUST", quantity, cum)
        else:
            if report.last_qty <= 0 or report.last_px <= 0:
                return anomaly("INVALID_FILL", f"correction to {report.last_qty} at {report.last_px}")
            corrected = FillRecord(fill_id, report.exec_id, report.last_qty, report.last_px)
            fills = tuple(corrected if f is ref else f for f in order.fills)
            cum, avg = _totals(fills)
            trigger = _leveled("CORRECT", quantity, cum)
        if (order.status, trigger) not in TRANSITIONS:
            return anomaly("INVALID_TRANSITION", f"{InvalidTransition(order.status, trigger)}")
        if cum > max(quantity, order.cum_qty):
            return anomaly("OVERFILL", f"correction of {ref.fill_id} takes cum_qty to {cum} over {quantity}")
        leaves = _leaves(TRANSITIONS[(order.status, trigger)], quantity, cum)
        if kind is ExecType.TRADE_BUST:
            event = OrderFillBusted(
                **head,
                fill_id=fill_id,
                exec_id=report.exec_id,
                ref_fill_id=ref.fill_id,
                instrument=order.instrument,
                cum_qty=cum,
                leaves_qty=leaves,
                avg_px=avg,
            )
            extra.append(_fill(order, event, FillKind.BUST, report, -ref.qty, ref.px, ref.fill_id, now))
        else:
            event = OrderFillCorrected(
                **head,
                fill_id=fill_id,
                exec_id=report.exec_id,
                ref_fill_id=ref.fill_id,
                instrument=order.instrument,
                last_qty=report.last_qty,
                last_px=report.last_px,
                cum_qty=cum,
                leaves_qty=leaves,
                avg_px=avg,
            )
            extra.append(
                _fill(order, event, FillKind.CORRECTION, report, report.last_qty, report.last_px, ref.fill_id, now)
            )
    elif kind is ExecType.DONE_FOR_DAY:
        trigger = Trigger.DONE_FOR_DAY
        event = OrderDoneForDay(
            **head, exec_id=report.exec_id, reason=_text(report.reason) if report.reason is not None else None
        )
    else:
        return anomaly("UNSUPPORTED_EXEC_TYPE", f"no journal event for {kind.value}")

    if (order.status, trigger) not in TRANSITIONS:
        return anomaly("INVALID_TRANSITION", str(InvalidTransition(order.status, trigger)))
    return [event, *extra]


def _fill(
    order: Order,
    event: OrderFilled | OrderFillBusted | OrderFillCorrected,
    kind: FillKind,
    report: ExecutionReport,
    quantity: Decimal,
    price: Decimal,
    ref_fill_id: str | None,
    now: int,
) -> Fill:
    return Fill(
        **_stamp(event.fill_id, now),
        fill_id=event.fill_id,
        kind=kind,
        ref_fill_id=ref_fill_id,
        order_id=order.order_id,
        account=order.account,
        trader=order.trader,
        client_order_id=order.client_order_id,
        instrument=order.instrument,
        side=order.side,
        venue=order.venue or report.venue,
        exec_id=report.exec_id,
        quantity=quantity,
        price=price,
        commission=report.commission,
    )

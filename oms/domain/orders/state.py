"""The order's state and its fold: `Order`, `evolve(order, event)`, `fold(events)` and `view(order)`.

This module owns what a journal event does to an order. `evolve` applies one
event only if its seq is exactly `order.seq + 1` (1 for the first, which must
be `OrderAccepted`), finds the event's trigger and field changes (`_effect`),
asks the table for the next status and recomputes leaves; it raises a
`DomainError` (`SequenceError`, `InvalidTransition`, `InvalidEvent`) for an
event that does not apply. It is the one place that decides what an event
does: the decisions build candidate events and let `evolve` validate them.
cum_qty and avg_px are recomputed from the standing fills (`Order.fills`):
avg_px = sum(q*p) / sum(q) computed exactly, quantized to 8 places half-even
(the only rounding). Each applied venue report leaves an `ExecRecord` (what
it said, by exec id) so a later report reusing the exec id can be told a
redelivery or a conflict. `fold` replays a journal; `view` is the row of the
compacted orders topic. Pure: no Kafka, no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation, Rounded
from fractions import Fraction
from operator import attrgetter
from typing import Iterable, NamedTuple

from oms import ids
from oms.domain.orders.table import LIVE_STATUSES, DomainError, Trigger, leveled, next_status
from oms.events import (
    SCALE,
    CancelRejectResponseTo,
    Event,
    JournalEvent,
    OrderAccepted,
    OrderAcknowledged,
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
    OrderRestated,
    OrderRouted,
    OrderSuspended,
    OrderStatus,
    OrderType,
    OrderView,
    Side,
    TimeInForce,
    VenueAction,
)

__all__ = [
    "ExecRecord",
    "answered_request",
    "chained",
    "FillRecord",
    "InvalidEvent",
    "Order",
    "PendingRequest",
    "SequenceError",
    "evolve",
    "fold",
    "trigger_of",
    "view",
]

ZERO = Decimal(0)
MAX_TEXT = 1024
_EXACT = Context(prec=200, rounding=ROUND_HALF_EVEN, traps=[Inexact, Rounded, InvalidOperation])
"""Sums of quantities are exact: any rounding would raise instead of hiding."""


class SequenceError(DomainError):
    """An event whose seq is not exactly the order's seq + 1."""


class InvalidEvent(DomainError):
    """An event that does not fit the order (wrong order, unknown fill, not first)."""


def clip(text: str) -> str:
    """`text` cut to the journal's 1024-character limit."""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


class FillRecord(NamedTuple):
    """A fill still standing: busts remove it, corrections replace it."""

    fill_id: str
    exec_id: str
    qty: Decimal
    px: Decimal
    supersedes: tuple[str, ...] = ()
    """Exec ids of the fills this one corrected (a bust may still name them)."""


class ExecRecord(NamedTuple):
    """What the order keeps of one applied venue report, by exec id: enough to tell a
    redelivery (the same content again) from a report that reuses the exec id with other content.

    `kind` is the journal event the report became (`OrderFilled` for FILL and
    PARTIAL_FILL alike, as FIX's ExecType TRADE); `qty`, `px` and `commission`
    are the fill's (a correction: the corrected quantity and price), None for
    reports that carry none; `refs` are the exec ids that named the fill a bust
    or correction applied to (its current exec id and those it superseded), so
    a redelivered bust naming either is the same bust.
    """

    exec_id: str
    kind: str
    qty: Decimal | None = None
    px: Decimal | None = None
    commission: Decimal | None = None
    refs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A cancel or replace sent to the venue and not answered yet."""

    kind: VenueAction  # CANCEL or REPLACE
    request_id: str
    client_order_id: str
    command_id: str
    quantity: Decimal | None = None  # the replace's new terms
    limit_price: Decimal | None = None
    unacknowledged: bool = False
    """Sent before the venue acknowledged the order (FIX App. D B.1.d); its ack or a fill clears it, and a
    reject of the request while still set returns the order to PENDING_NEW."""

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
    """The oldest cancel or replace the venue has not answered: the one it answers next."""
    fills: tuple[FillRecord, ...]
    exec_ids: frozenset[str]
    seq: int
    ts_last: int
    reason: str | None = None
    """Why the order last left the normal path (denial, reject, cancel, expiry)."""
    execs: tuple[ExecRecord, ...] = ()
    """What each applied venue report said, in the order applied (one per exec id in `exec_ids`;
    a state stored before this field existed has none, and its exec ids count as plain redeliveries)."""
    queued: tuple[PendingRequest, ...] = ()
    """Requests sent after `pending` and not answered yet, oldest first (FIX request chains: a
    cancel while a replace is pending, queued replaces). Empty whenever `pending` is None."""
    external: bool = False
    """Adopted from a venue report, not created by the OMS (`decisions.decide_report` with
    `ExternalOrders.ADOPT`)."""

    @property
    def chain(self) -> tuple[PendingRequest, ...]:
        """Every unanswered request, oldest first (`pending` then `queued`)."""
        return () if self.pending is None else (self.pending, *self.queued)

    def request(self, request_id: str | None) -> PendingRequest | None:
        """The unanswered request with `request_id`, or None."""
        return next((r for r in self.chain if r.request_id == request_id), None)


_add, _multiply = _EXACT.add, _EXACT.multiply


def _totals(fills: tuple[FillRecord, ...]) -> tuple[Decimal, Decimal]:
    """(cum_qty, avg_px) of standing fills; avg_px exact, then 8 places half-even."""
    cum = notional = ZERO
    for fill in fills:
        cum = _add(cum, fill.qty)
        notional = _add(notional, _multiply(fill.qty, fill.px))
    if cum == 0:
        return cum, ZERO
    if notional.as_tuple().exponent >= -2 * SCALE and cum.as_tuple().exponent >= -SCALE:
        # integers at a common scale: avg * 10**SCALE = n / c, rounded half to even
        n, c = int(notional.scaleb(2 * SCALE, _EXACT)), int(cum.scaleb(SCALE, _EXACT))
        scaled, rest = divmod(n, c)
        if 2 * rest > c or (2 * rest == c and scaled % 2):
            scaled += 1
    else:  # finer than the wire's 8 places: exact fractions
        scaled = round(Fraction(notional) / Fraction(cum) * 10**SCALE)  # Fraction rounds half to even
    return cum, Decimal(scaled).scaleb(-SCALE, _EXACT)


def _leaves(status: OrderStatus, quantity: Decimal, cum_qty: Decimal, tif: TimeInForce) -> Decimal:
    gt_overnight = status is OrderStatus.DONE_FOR_DAY and tif is TimeInForce.GTC  # keeps leaves for tomorrow
    if status not in LIVE_STATUSES and not gt_overnight:
        return ZERO
    return max(_EXACT.subtract(quantity, cum_qty), ZERO)


def find_fill(order: Order, exec_id: str | None) -> FillRecord | None:
    if exec_id is None:
        return None
    for f in order.fills:
        if f.exec_id == exec_id or exec_id in f.supersedes:
            return f
    return None


def chained(requests: Iterable[PendingRequest]) -> dict:
    """The `pending` / `queued` fields holding `requests` (oldest first)."""
    requests = tuple(requests)
    return {"pending": requests[0] if requests else None, "queued": requests[1:]}


def _settled(order: Order, settled: PendingRequest | None) -> tuple[dict, tuple[PendingRequest, ...]]:
    """(the chain fields without `settled`, the requests left)."""
    left = tuple(r for r in order.chain if r is not settled)
    return chained(left), left


_HOLDS_REQUESTS = (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE)
_RESUMES = (OrderStatus.DONE_FOR_DAY, OrderStatus.SUSPENDED)


def _answered(order: Order, left: tuple[PendingRequest, ...], trigger: Trigger,
              statuses: tuple[OrderStatus, ...] = _HOLDS_REQUESTS) -> Trigger:
    """`trigger`, unless requests are still out (`left`) while the order is in one of `statuses`
    (an answer settled one request of a chain; a resting order resumed working): then it shows
    PENDING_CANCEL if a cancel is out (FIX OrdStatus precedence: Pending Cancel above Pending
    Replace), else PENDING_REPLACE."""
    if not left or order.status not in statuses:
        return trigger
    if any(r.kind is VenueAction.CANCEL for r in left):
        return Trigger.CHAIN_CANCEL
    return Trigger.CHAIN_REPLACE


def answered_request(order: Order, event: "OrderCancelRejected | OrderReplaced") -> PendingRequest | None:
    """The unanswered request a venue answer settles: the one its request id names; an answer
    journaled before answers named their request (request_id None) settles the oldest request
    of its kind."""
    request_id = event.request_id
    if request_id is not None:
        return order.request(request_id)
    kind = VenueAction.REPLACE if isinstance(event, OrderReplaced) or (
        event.response_to is CancelRejectResponseTo.REPLACE) else VenueAction.CANCEL
    return next((r for r in order.chain if r.kind is kind), order.pending)


# --------------------------------------------------------------------- fold


def trigger_of(order: Order, event: JournalEvent) -> Trigger:
    """The trigger a journal event fires on `order` (after OrderAccepted)."""
    return _effect(order, event)[0]


def _effect(order: Order, event: JournalEvent) -> tuple[Trigger, dict]:
    """(trigger, changed fields other than status/leaves/seq) of `event` on `order`: the one
    statement of what each journal event does (decisions build events and let `evolve` apply this)."""
    if isinstance(event, OrderDenied):
        return Trigger.DENY, {"reason": event.reason}
    if isinstance(event, OrderRouted):
        return Trigger.ROUTE, {"venue": event.venue, "request_id": event.request_id}
    if isinstance(event, OrderAcknowledged):
        return Trigger.ACK, _acknowledged(order)
    if isinstance(event, OrderRejected):
        return Trigger.REJECT, {"reason": event.reason}
    if isinstance(event, OrderFilled):
        fills = order.fills + (FillRecord(event.fill_id, event.exec_id, event.last_qty, event.last_px),)
        cum, avg = _totals(fills)
        return leveled("FILL", order.quantity, cum), {
            "fills": fills, "cum_qty": cum, "avg_px": avg, **_acknowledged(order)}
    if isinstance(event, OrderPendingCancel):
        pending = PendingRequest(
            VenueAction.CANCEL,
            event.request_id,
            event.client_order_id,
            event.command_id,
            unacknowledged=order.status is OrderStatus.PENDING_NEW,
        )
        return Trigger.CANCEL_REQUEST, chained((*order.chain, pending))
    if isinstance(event, OrderPendingReplace):
        pending = PendingRequest(
            VenueAction.REPLACE,
            event.request_id,
            event.client_order_id,
            event.command_id,
            event.quantity,
            event.limit_price,
        )
        return Trigger.REPLACE_REQUEST, chained((*order.chain, pending))
    if isinstance(event, OrderCanceled):
        # the answer to our cancel, if one is out; replaces before it await their (late) rejects
        left = tuple(r for r in order.chain if r.kind is not VenueAction.CANCEL)
        return Trigger.CANCELED, {"reason": event.reason, **chained(left)}
    if isinstance(event, OrderExpired):
        return Trigger.EXPIRE, {"reason": event.reason}
    if isinstance(event, OrderDoneForDay):
        return Trigger.DONE_FOR_DAY, {"reason": event.reason}
    if isinstance(event, OrderRestated):
        changes = {"quantity": event.quantity, "reason": event.reason}
        if event.limit_price is not None:
            changes["limit_price"] = event.limit_price
        return _answered(order, order.chain, leveled("RESTATE", event.quantity, order.cum_qty), _RESUMES), changes
    if isinstance(event, OrderSuspended):
        return Trigger.SUSPEND, {"reason": event.reason}
    if isinstance(event, OrderReplaced):
        settled = answered_request(order, event)
        fields, left = _settled(order, settled)
        return _answered(order, left, leveled("REPLACED", event.quantity, order.cum_qty)), {
            "quantity": event.quantity,
            "limit_price": event.limit_price,
            "request_id": event.request_id,
            **fields,
        }
    if isinstance(event, OrderCancelRejected):
        settled = answered_request(order, event)
        family = "CANCEL_REJECT" if event.response_to is CancelRejectResponseTo.CANCEL else "REPLACE_REJECT"
        trigger = leveled(family, order.quantity, order.cum_qty)
        if settled is not None and settled.unacknowledged and order.cum_qty == 0:
            trigger = Trigger.CANCEL_REJECT_UNACKED
        fields, left = _settled(order, settled)
        return _answered(order, left, trigger), {**fields, "reason": event.reason}
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
        return leveled(family, order.quantity, cum), {"fills": fills, "cum_qty": cum, "avg_px": avg}
    raise InvalidEvent(f"{event.event_id}: a {type(event).__name__} is never applied to an order")


def _acknowledged(order: Order) -> dict:
    """The change that marks the requests sent before the ack as acknowledged (an ack or a fill came)."""
    if order.pending is None:  # no request out (`queued` is empty too)
        return {}
    if any(r.unacknowledged for r in order.chain):
        return chained(replace(r, unacknowledged=False) for r in order.chain)
    return {}


def _exec_record(order: Order, event: JournalEvent, exec_id: str) -> ExecRecord:
    """What `order` keeps of the venue report behind `event` (see `ExecRecord`)."""
    kind = type(event).__name__
    if isinstance(event, OrderFilled):
        return ExecRecord(exec_id, kind, event.last_qty, event.last_px, event.commission)
    if isinstance(event, (OrderFillBusted, OrderFillCorrected)):
        ref = next(f for f in order.fills if f.fill_id == event.ref_fill_id)  # `_effect` found it
        refs = (ref.exec_id, *ref.supersedes)
        if isinstance(event, OrderFillCorrected):
            return ExecRecord(exec_id, kind, event.last_qty, event.last_px, refs=refs)
        return ExecRecord(exec_id, kind, refs=refs)
    return ExecRecord(exec_id, kind)


def exec_record(order: Order, exec_id: str) -> ExecRecord | None:
    """The record of the report with `exec_id` applied to `order`, or None."""
    return next((r for r in order.execs if r.exec_id == exec_id), None)


def created(event: OrderAccepted) -> Order:
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
        external=event.external,
    )


_LAST: tuple = (None, None, None)
"""(order, event, evolved) of the last `evolve` of an existing order, or `settled` by a decision:
one tuple, replaced whole, so a thread never reads another's half-written entry."""


def evolve(order: Order | None, event: JournalEvent) -> Order:
    """`order` after `event`. Raises `SequenceError` unless event.seq == order.seq + 1
    (1 for the first, which must be OrderAccepted), `InvalidTransition` if the table
    has no edge, `InvalidEvent` if the event does not fit the order.

    The engine decides a report by evolving the order with the candidate event and then folds
    the same event into the same order: the last result is kept by identity of both (they are
    frozen), so the fold takes it instead of deriving it again."""
    global _LAST
    last = _LAST
    if last[1] is event and last[0] is order and order is not None:
        return last[2]
    after = _evolve(order, event)
    if order is not None:
        _LAST = (order, event, after)
    return after


def settled(order: Order, event: JournalEvent, after: Order) -> None:
    """Tell `evolve` that `after` is `order` after `event`: for an event a decision restated from
    a candidate it evolved (`decisions._stated`: only cum_qty, leaves_qty and avg_px differ, which
    no effect reads), so the fold does not derive the same order again."""
    global _LAST
    _LAST = (order, event, after)


def _evolve(order: Order | None, event: JournalEvent) -> Order:
    expected = 1 if order is None else order.seq + 1
    if event.seq != expected:
        name = event.order_id if order is None else order.order_id
        raise SequenceError(f"{event.event_id}: seq {event.seq} on {name}, expected {expected}")
    if order is None:
        if not isinstance(event, OrderAccepted):
            raise InvalidEvent(f"{event.event_id}: an order starts with OrderAccepted, not {type(event).__name__}")
        return created(event)
    if event.order_id != order.order_id or event.account != order.account:
        raise InvalidEvent(f"{event.event_id}: belongs to {event.account}/{event.order_id}, not {order.order_id}")
    trigger, changes = _effect(order, event)
    status = next_status(order.status, trigger)
    if order.status is OrderStatus.FILLED and status in LIVE_STATUSES and trigger.value.startswith(("BUST", "CORRECT")):
        changes.update(chained(()))  # a bust/correction reopened it: old requests are moot
    exec_id = getattr(event, "exec_id", None)
    if exec_id:
        changes["exec_ids"] = order.exec_ids | {exec_id}
        changes["execs"] = order.execs + (_exec_record(order, event, exec_id),)
    changes["status"] = status
    changes["leaves_qty"] = _leaves(
        status, changes.get("quantity", order.quantity), changes.get("cum_qty", order.cum_qty), order.time_in_force
    )
    changes["seq"] = event.seq
    changes["ts_last"] = event.ts_event
    return _updated(order, changes)


_new = object.__new__
_FIELDS: tuple[str, ...] = Order.__slots__
assert set(_FIELDS) == set(Order.__dataclass_fields__), "_updated sets every field of Order"
_values = attrgetter(*_FIELDS)
_INDEX = {name: i for i, name in enumerate(_FIELDS)}
_SETTERS = tuple(getattr(Order, name).__set__ for name in _FIELDS)


def _updated(order: Order, changes: dict) -> Order:
    """`dataclasses.replace(order, **changes)` for the fields `_effect` and `evolve` change (a
    KeyError for any other name): every field read at once, the changed ones replaced, all set
    through the slots' own setters. The generated `__init__` of a frozen dataclass of 25 fields
    costs several times more, and the engine makes a new order per event."""
    values = list(_values(order))
    for name, value in changes.items():
        values[_INDEX[name]] = value
    new = _new(Order)
    for set_, value in zip(_SETTERS, values):
        set_(new, value)
    return new


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
        reason=clip(order.reason) if order.reason is not None else None,
    )


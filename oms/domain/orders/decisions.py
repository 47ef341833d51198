"""The order aggregate's decisions: a command or an execution report in, the events to publish out.

This module owns what the order engine answers. `decide_new`, `decide_amend`
and `decide_cancel` turn a client command plus the current order (and, for new
orders and amends, pre-trade risk's `Denial`) into journal events,
`VenueRequest`s and refusals; `decide_report` turns a venue execution report
into the journal event it causes plus its `Fill`. A report is decided once:
`decide_report` builds the candidate journal event and lets `state.evolve`
validate it against the table, so the effect of an event on an order is
written in one place (`state._effect`); the quantities the event states
(cum_qty, leaves_qty, avg_px) are read from the state `evolve` derives. No
decision raises on bad input or mutates anything: a refusal is an event
(seq-0 `OrderDenied`, `OrderCancelRejected` or `OrderAnomaly`, never applied).
Every event decided here has ts_event = ts_init = `now`. The events of the hot
path (a new order's accept, route and request; a report's ack and fill, and the
fill's `Fill`) are made with `oms.events.built` from the validated command,
report and order, guarded where a value is minted (an id's length, a stated
quantity, a router's venue); the others validate as they are built.
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum
from decimal import Decimal, DecimalException
from typing import NamedTuple

from pydantic import ValidationError

from oms import ids
from oms.domain.denial import Denial
from oms.domain.orders.state import ExecRecord, Order, clip, created, evolve, exec_record, find_fill, settled
from oms.domain.orders.table import DomainError, InvalidTransition, is_live
from oms.domain.route import SMART_VENUE, Route
from oms.events import (
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
    OrderMassStatusRequest,
    OrderStatusRequest,
    OrderExpired,
    OrderFillBusted,
    OrderFillCorrected,
    OrderFilled,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderRejected,
    OrderRejectReason,
    OrderReplaced,
    OrderRestated,
    OrderRouted,
    OrderSuspended,
    CancelRejectReason,
    RestatementReason,
    TimeInForce,
    OrderStatus,
    OrderType,
    VenueAction,
    VenueRequest,
    built,
    fits_wire,
    is_identifier,
)

__all__ = ["ExternalOrders", "decide_amend", "decide_cancel", "decide_child", "decide_new", "decide_new_day", "decide_report", "decide_status"]


def _validated(cls: type, /, **fields) -> Event:
    """`cls(**fields)`, validated: the twin of `oms.events.built` for values not known valid."""
    return cls(**fields)


def _stamp(event_id: str, now: int) -> dict:
    return {"event_id": event_id, "ts_event": now, "ts_init": now}


def _journal(order: Order, seq: int, now: int) -> dict:
    return _head(order.order_id, order.account, seq, now)


def _head(order_id: str, account: str, seq: int, now: int) -> dict:
    """The fields every journal event of order `order_id` with `seq` starts with."""
    return {"event_id": ids.journal_event_id(order_id, seq), "ts_event": now, "ts_init": now,
            "order_id": order_id, "account": account, "seq": seq}


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
    route: Route | str,
    now: int,
    denial: Denial | None = None,
    order_id: str | None = None,
) -> list[Event]:
    """Accept and route a new order, or deny it (`order_id`: the command's order id when the caller
    derived it already, `ids.order_id(cmd.account, cmd.client_order_id)`).

    `existing` is the order at `ids.order_id(cmd.account, cmd.client_order_id)`;
    if there is one the command is a duplicate: a seq-0 `OrderDenied`
    DUPLICATE_CLIENT_ORDER_ID naming it. `route` is the router's answer
    (`oms.domain.route.Route`): the venue to send to, or its refusal (UNKNOWN_VENUE);
    a bare venue name is a route chosen by the caller, used when the command
    names no venue. A refusal of the route or a `denial` from pre-trade risk:
    OrderAccepted (1) + OrderDenied (2), the order ends REJECTED (the route's
    refusal first: its code is the reason code, the reason names both).
    Otherwise OrderAccepted (1) + OrderRouted (2) + VenueRequest NEW.
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
                reason=clip(f"client order id {cmd.client_order_id} already names order {existing.order_id}"),
                command_id=cmd.event_id,
            )
        ]
    oid = order_id or ids.order_id(cmd.account, cmd.client_order_id)
    accepted = built(  # every field is the validated command's, or an id minted from it
        OrderAccepted,
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
    if isinstance(route, str):
        route = Route(cmd.venue or route)
    denial = _first_refusal(route.denial, denial)
    if denial is not None:
        return [
            accepted,
            OrderDenied(
                **_head(oid, cmd.account, 2, now),
                trader=cmd.trader,
                client_order_id=cmd.client_order_id,
                command="NewOrder",
                reason_code=denial.reason_code,
                reason=clip(denial.reason),
                command_id=cmd.event_id,
            ),
        ]
    target = route.venue
    rid = ids.request_id(oid, 2)
    make = built if is_identifier(target) else _validated  # a router's venue is checked once per name
    routed = make(
        OrderRouted,
        **_head(oid, cmd.account, 2, now),
        venue=target,
        request_id=rid,
        quantity=cmd.quantity,
        limit_price=cmd.limit_price,
    )
    request = make(
        VenueRequest,
        **_stamp(ids.venue_request_event_id(rid), now),
        action=VenueAction.NEW,
        venue=target,
        account=cmd.account,
        order_id=oid,
        request_id=rid,
        orig_request_id=None,
        instrument=cmd.instrument,
        side=cmd.side,
        order_type=cmd.order_type,
        quantity=cmd.quantity,
        limit_price=cmd.limit_price,
        time_in_force=cmd.time_in_force,
    )
    return [accepted, routed, request]


def decide_child(parent: Order, child_id: str, venue: str, quantity: Decimal, limit_price: Decimal | None,
                 command_id: str, now: int, time_in_force: TimeInForce | None = None) -> list[Event]:
    """A child order of `parent` (smart order routing, `oms.domain.sor`): its `OrderAccepted` (seq 1:
    the parent's trader, instrument, side and time in force unless `time_in_force` is given;
    `child_id` as its client order id; a limit order when it has a limit, else a market order;
    `command_id` the routing decision's id), its `OrderRouted` to `venue` (seq 2) and the
    `VenueRequest` NEW. The child's pre-trade approval is its parent's: no check runs here."""
    accepted = OrderAccepted(
        **_stamp(ids.journal_event_id(child_id, 1), now),
        order_id=child_id,
        account=parent.account,
        seq=1,
        trader=parent.trader,
        client_order_id=child_id,
        instrument=parent.instrument,
        side=parent.side,
        order_type=OrderType.LIMIT if limit_price is not None else OrderType.MARKET,
        quantity=quantity,
        limit_price=limit_price,
        time_in_force=time_in_force or parent.time_in_force,
        command_id=command_id,
    )
    child = created(accepted)
    rid = ids.request_id(child_id, 2)
    routed = OrderRouted(**_journal(child, 2, now), venue=venue, request_id=rid, quantity=quantity,
                         limit_price=limit_price)
    request = _venue_request(replace(child, venue=venue), VenueAction.NEW, rid, now, orig_request_id=None)
    return [accepted, routed, request]


def _first_refusal(first: Denial | None, then: Denial | None) -> Denial | None:
    """One denial of a command refused twice: `first`'s code, both reasons, both breaches."""
    if first is None or then is None:
        return first or then
    return Denial(first.reason_code, f"{first.reason}; {then.reason}", first.breaches + then.breaches)


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
        reason=clip(f"no order {cmd.orig_client_order_id} in account {cmd.account}"),
        command_id=cmd.event_id,
    )


def _engine_cancel_reject(
    cmd: AmendOrder | CancelOrder, order: Order, to: CancelRejectResponseTo, refusal: Denial, now: int
) -> OrderCancelRejected:
    return OrderCancelRejected(
        **_stamp(ids.record_id(order.order_id, cmd.event_id, "cancel-rejected"), now),
        order_id=order.order_id,
        account=order.account,
        seq=0,
        client_order_id=cmd.client_order_id,
        response_to=to,
        reason_code=refusal.reason_code,
        reason=clip(refusal.reason),
        cancel_reject_reason=_CXL_REJ_REASON.get(refusal.reason_code, CancelRejectReason.BROKER_OPTION),
    )


_CXL_REJ_REASON: dict[str, CancelRejectReason] = {
    "ORDER_NOT_LIVE": CancelRejectReason.TOO_LATE_TO_CANCEL,
    "REQUEST_PENDING": CancelRejectReason.ALREADY_PENDING,
    "ORDER_NOT_ACKNOWLEDGED": CancelRejectReason.OTHER,
    "NO_CHANGE": CancelRejectReason.OTHER,
    "INVALID_AMEND": CancelRejectReason.OTHER,
    "ORDER_SUSPENDED": CancelRejectReason.OTHER,
}
"""FIX CxlRejReason of the engine's own refusals (a pre-trade risk denial is BROKER_OPTION)."""


MAX_CHAIN = 8
"""The most cancel/replace requests one order may have out at once."""


def _request_refusal(order: Order, action: VenueAction, quantity: Decimal | None = None) -> Denial | None:
    """Why no cancel or replace (`action`, to `quantity`) can be sent for `order` now, or None.
    A cancel may chase an order the venue has not acknowledged yet (FIX App. D B.1.d); a replace may
    not. A replace may increase a FILLED order's quantity (FIX App. D C.1.c). Requests chain (FIX
    App. D group D): a cancel or a further replace may follow pending replaces; nothing follows a
    pending cancel (CxlRejReason ALREADY_PENDING), and at most `MAX_CHAIN` requests are out."""
    if order.status is OrderStatus.FILLED and action is VenueAction.REPLACE and quantity is not None:
        if quantity <= order.cum_qty:
            return Denial("ORDER_NOT_LIVE", f"order {order.order_id} is FILLED; only an increase reopens it")
        return None
    overnight = order.status is OrderStatus.DONE_FOR_DAY and action is VenueAction.CANCEL  # the venue holds it
    if not is_live(order) and not overnight:
        return Denial("ORDER_NOT_LIVE", f"order {order.order_id} is {order.status.value}")
    if order.status is OrderStatus.SUSPENDED and action is VenueAction.REPLACE:
        return Denial("ORDER_SUSPENDED", f"order {order.order_id} is suspended by the venue; it may only be canceled")
    if order.status is OrderStatus.PENDING_NEW and action is VenueAction.REPLACE:
        return Denial("ORDER_NOT_ACKNOWLEDGED", f"order {order.order_id} is not acknowledged by the venue yet")
    cancel = next((r for r in order.chain if r.kind is VenueAction.CANCEL), None)
    if cancel is not None:
        return Denial("REQUEST_PENDING", f"a CANCEL ({cancel.request_id}) is pending")
    if len(order.chain) >= MAX_CHAIN:
        return Denial("REQUEST_PENDING", f"{len(order.chain)} requests are pending (at most {MAX_CHAIN})")
    return None


def _tip(order: Order) -> tuple[Decimal, Decimal | None, str | None]:
    """(quantity, limit price, request id) the next request builds on: the latest pending
    replace's terms and request id (FIX chains OrigClOrdID to the last non-rejected ClOrdID), else
    the order's."""
    quantity, limit_price, request_id = order.quantity, order.limit_price, order.request_id
    for r in order.chain:
        request_id = r.request_id
        if r.kind is VenueAction.REPLACE:
            quantity = r.quantity if r.quantity is not None else quantity
            limit_price = r.limit_price if r.limit_price is not None else limit_price
    return quantity, limit_price, request_id


def _known(cmd: AmendOrder | CancelOrder, order: Order | None) -> bool:
    return order is not None and order.account == cmd.account


def decide_amend(
    cmd: AmendOrder, order: Order | None, now: int, denial: Denial | None = None
) -> list[Event]:
    """Send a cancel/replace, or refuse it.

    Unknown order: seq-0 OrderDenied UNKNOWN_ORDER. Not live, not acknowledged,
    a request pending, nothing to change, a price on a market order, or a
    `denial` from pre-trade risk: seq-0 OrderCancelRejected
    (response_to REPLACE). Else OrderPendingReplace + VenueRequest REPLACE. A new
    quantity at or below cum_qty is sent: the venue then sets the order quantity to
    cum_qty and the order is FILLED (FIX App. D C.3.b/C.3.c; `OrderReplaced.quantity` says so).
    """
    if order is None or not _known(cmd, order):
        return [_denied_unknown(cmd, now)]
    to = CancelRejectResponseTo.REPLACE
    tip_quantity, tip_price, tip_request = _tip(order)
    quantity = cmd.quantity if cmd.quantity is not None else tip_quantity
    limit_price = cmd.limit_price if cmd.limit_price is not None else tip_price
    refusal = _request_refusal(order, VenueAction.REPLACE, quantity)
    if refusal is None and order.order_type is OrderType.MARKET and cmd.limit_price is not None:
        refusal = Denial("INVALID_AMEND", "a market order takes no limit price")
    if refusal is None and quantity == tip_quantity and limit_price == tip_price:
        refusal = Denial("NO_CHANGE", "the amend changes neither quantity nor limit price")
    if refusal is None and denial is not None:
        refusal = denial
    if refusal is not None:
        return [_engine_cancel_reject(cmd, order, to, refusal, now)]
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
        _venue_request(order, VenueAction.REPLACE, rid, now, quantity=quantity, limit_price=limit_price,
                       orig_request_id=tip_request),
    ]


def decide_cancel(cmd: CancelOrder, order: Order | None, now: int) -> list[Event]:
    """Send a cancel, or refuse it (seq-0 OrderDenied UNKNOWN_ORDER, or seq-0
    OrderCancelRejected response_to CANCEL: not live, pending). A cancel may chase an
    order the venue has not acknowledged yet (FIX App. D B.1.d)."""
    if order is None or not _known(cmd, order):
        return [_denied_unknown(cmd, now)]
    refusal = _request_refusal(order, VenueAction.CANCEL)
    if refusal is not None:
        return [_engine_cancel_reject(cmd, order, CancelRejectResponseTo.CANCEL, refusal, now)]
    seq = order.seq + 1
    rid = ids.request_id(order.order_id, seq)
    tip_request = _tip(order)[2]
    return [
        OrderPendingCancel(
            **_journal(order, seq, now),
            client_order_id=cmd.client_order_id,
            request_id=rid,
            command_id=cmd.event_id,
        ),
        _venue_request(order, VenueAction.CANCEL, rid, now, orig_request_id=tip_request),
    ]




def decide_status(cmd: OrderStatusRequest | OrderMassStatusRequest, order: Order | None, now: int) -> list[Event]:
    """Ask the order's venue for its state: a `VenueRequest` STATUS (FIX OrderStatusRequest; for a
    mass status, one per order, its request id derived from the MassStatusReqID). The venue answers
    an ORDER_STATUS report (`decide_report`). Unknown order: seq-0 OrderDenied UNKNOWN_ORDER; an
    order never routed (denied by risk or the router): seq-0 OrderDenied NOT_ROUTED. Changes no order."""
    client_order_id = getattr(cmd, "client_order_id", None) or (order.client_order_id if order else "unknown")
    oid = order.order_id if order is not None else ids.order_id(cmd.account, client_order_id)

    def denied(code: str, reason: str) -> list[Event]:
        return [OrderDenied(
            **_stamp(ids.record_id(oid, cmd.event_id, "denied"), now), order_id=oid, account=cmd.account, seq=0,
            trader=cmd.trader, client_order_id=client_order_id, command=type(cmd).__name__, reason_code=code,
            reason=clip(reason), command_id=cmd.event_id)]

    if order is None or order.account != cmd.account:
        return denied("UNKNOWN_ORDER", f"no order {client_order_id} in account {cmd.account}")
    if order.venue is None:
        return denied("NOT_ROUTED", f"order {order.order_id} never reached a venue ({order.status.value})")
    rid = ids.record_id(order.order_id, cmd.event_id, "status")
    return [_venue_request(order, VenueAction.STATUS, rid, now)]


# ------------------------------------------------------------------ reports


def _anomaly(report: ExecutionReport, order_id: str, account: str, code: str, reason: str, now: int) -> OrderAnomaly:
    return OrderAnomaly(
        **_stamp(ids.record_id(order_id, report.event_id, "anomaly"), now),
        order_id=order_id,
        account=account,
        seq=0,
        source=report.venue,
        reason_code=code,
        reason=clip(f"{reason} (report {report.event_id}, exec {report.exec_id}, {report.exec_type.value})"),
        exec_id=report.exec_id,
    )


class ExternalOrders(str, Enum):
    """What the engine does with an execution report for an order it did not create."""

    REJECT = "reject"  # an UNKNOWN_ORDER anomaly, nothing booked (the default)
    ADOPT = "adopt"  # the order is adopted: OrderAccepted(external=True), then the report applies


ADOPTABLE = (ExecType.NEW, ExecType.PARTIAL_FILL, ExecType.FILL)
"""Reports that can start an external order's life: an ack or a fill (the money must not be lost)."""


def decide_report(report: ExecutionReport, order: Order | None, now: int,
                  external: ExternalOrders = ExternalOrders.REJECT) -> list[Event]:
    """The events a venue execution report causes; never raises.

    A report for an order the OMS does not have is an UNKNOWN_ORDER anomaly, unless `external`
    is ADOPT and it is an ack or a fill with an order quantity: then the order is adopted as an
    external order (`_adopt`: OrderAccepted external=True, OrderRouted, then the report itself).

    [] if the same report was applied before (its exec id, with the content the
    order kept of it: see `_conflict`). A seq-0 OrderAnomaly if the order is
    unknown (UNKNOWN_ORDER) or in another account (ACCOUNT_MISMATCH), the report
    reuses an applied exec id with other content (CONFLICTING_EXEC_ID), the table
    has no edge (INVALID_TRANSITION), a fill is too large (OVERFILL) or not
    positive (INVALID_FILL), a bust/correction names no standing fill
    (UNKNOWN_FILL), a replace/cancel reject answers nothing pending
    (NO_PENDING_REQUEST) or names another request than the pending one in its
    request id (UNKNOWN_REQUEST), the exec type has no journal event (UNSUPPORTED_EXEC_TYPE)
    or the report cannot be represented (UNPROCESSABLE). Otherwise the journal
    event with seq order.seq + 1, plus a `Fill` for fills, busts, corrections
    (and a seq-0 VENUE_MISMATCH anomaly beside a fill whose venue cum/leaves
    disagree with the OMS's).

    How: `_candidate` turns the report into the journal event it would be (or
    an anomaly when the report itself does not fit: nothing pending, no such
    fill, a non-positive fill); `evolve` applies it to the order, which is where
    the table is read; an `InvalidTransition` becomes INVALID_TRANSITION, any
    other `DomainError` UNPROCESSABLE; then the event states the quantities of
    the evolved order, and a fill or correction beyond the quantity is OVERFILL.
    """
    if order is None:
        if external is ExternalOrders.ADOPT and report.exec_type in ADOPTABLE and report.order_qty > 0:
            try:
                return _adopt(report, now)
            except (ValidationError, DecimalException, ArithmeticError, DomainError) as exc:
                return [_anomaly(report, report.order_id, report.account, "UNPROCESSABLE", str(exc), now)]
        return [_anomaly(report, report.order_id, report.account, "UNKNOWN_ORDER", "no such order", now)]
    try:
        return _decide_report(report, order, now)
    except (ValidationError, DecimalException, ArithmeticError, DomainError) as exc:
        return [_anomaly(report, order.order_id, order.account, "UNPROCESSABLE", str(exc), now)]


def _adopt(report: ExecutionReport, now: int) -> list[Event]:
    """An external order from the first report of it: OrderAccepted (seq 1, external=True, order id
    the report's, client order id the venue's order id or the report's order id, trader "external",
    terms from the report: LIMIT when it carries a limit price, DAY), OrderRouted (seq 2, the report's
    venue and request id), then what the report itself does to it (`_decide_report`: an ack, or a
    fill booked and published like any other)."""
    accepted = OrderAccepted(
        **_stamp(ids.journal_event_id(report.order_id, 1), now),
        order_id=report.order_id,
        account=report.account,
        seq=1,
        trader="external",
        client_order_id=report.venue_order_id or report.order_id,
        instrument=report.instrument,
        side=report.side,
        order_type=OrderType.LIMIT if report.limit_price is not None else OrderType.MARKET,
        quantity=report.order_qty,
        limit_price=report.limit_price,
        time_in_force=TimeInForce.DAY,
        command_id=report.event_id,
        external=True,
    )
    order = created(accepted)
    routed = OrderRouted(**_journal(order, 2, now), venue=report.venue, request_id=report.request_id,
                         quantity=report.order_qty, limit_price=report.limit_price)
    return [accepted, routed, *_decide_report(report, evolve(order, routed), now)]


def _decide_report(report: ExecutionReport, order: Order, now: int) -> list[Event]:
    def anomaly(code: str, reason: str) -> list[Event]:
        return [_anomaly(report, order.order_id, order.account, code, reason, now)]

    if report.account != order.account:
        return anomaly("ACCOUNT_MISMATCH", f"order {order.order_id} belongs to {order.account}")
    if report.exec_type is ExecType.ORDER_STATUS:
        return _status_disagreement(report, order, now)
    if report.exec_id in order.exec_ids:
        conflict = _conflict(exec_record(order, report.exec_id), report)
        if conflict is None:
            return []  # already applied: redelivery
        return anomaly("CONFLICTING_EXEC_ID", f"exec id {report.exec_id} was applied before; {conflict}")

    candidate = _candidate(report, order, now)
    if isinstance(candidate, _Unfit):
        return anomaly(candidate.code, candidate.reason)
    try:
        after = evolve(order, candidate)
    except InvalidTransition as exc:
        return anomaly("INVALID_TRANSITION", str(exc))
    event = _stated(candidate, after)
    if event is not candidate:
        settled(order, event, after)

    if isinstance(event, OrderFilled):
        if after.cum_qty > order.quantity:
            return anomaly(
                "OVERFILL", f"fill of {report.last_qty} exceeds leaves {order.leaves_qty} of {order.order_id}"
            )
        fill = _fill(order, event, FillKind.FILL, report, report.last_qty, report.last_px, None, now, event.late)
        return [event, fill, *_venue_mismatch(report, after, event, now)]
    if isinstance(event, (OrderFillBusted, OrderFillCorrected)):
        if after.cum_qty > max(order.quantity, order.cum_qty):
            return anomaly(
                "OVERFILL", f"correction of {event.ref_fill_id} takes cum_qty to {after.cum_qty} over {order.quantity}"
            )
        ref = next(f for f in order.fills if f.fill_id == event.ref_fill_id)
        if isinstance(event, OrderFillBusted):
            return [event, _fill(order, event, FillKind.BUST, report, -ref.qty, ref.px, ref.fill_id, now)]
        kind = FillKind.CORRECTION
        return [event, _fill(order, event, kind, report, report.last_qty, report.last_px, ref.fill_id, now)]
    if isinstance(event, OrderReplaced) and report.order_qty != after.quantity:
        return [event, _mismatch(report, after, f"order qty {report.order_qty}", f"quantity {after.quantity}", now)]
    return [event]


_JOURNAL_OF: dict[ExecType, type[JournalEvent]] = {
    ExecType.NEW: OrderAcknowledged,
    ExecType.REJECTED: OrderRejected,
    ExecType.PARTIAL_FILL: OrderFilled,
    ExecType.FILL: OrderFilled,
    ExecType.CANCELED: OrderCanceled,
    ExecType.EXPIRED: OrderExpired,
    ExecType.DONE_FOR_DAY: OrderDoneForDay,
    ExecType.REPLACED: OrderReplaced,
    ExecType.CANCEL_REJECTED: OrderCancelRejected,
    ExecType.TRADE_BUST: OrderFillBusted,
    ExecType.TRADE_CORRECT: OrderFillCorrected,
    ExecType.RESTATED: OrderRestated,
    ExecType.SUSPENDED: OrderSuspended,
}
"""The journal event each exec type becomes (the `ExecRecord.kind` a redelivery must match)."""


def _conflict(record: ExecRecord | None, report: ExecutionReport) -> str | None:
    """How `report` differs from the applied report its exec id names, or None when it is
    the same report again (a redelivery).

    Compared: what the report did (its exec type's journal event: FILL and
    PARTIAL_FILL are the same trade), and what the order kept of it: a fill's
    last_qty, last_px and commission, a correction's last_qty and last_px, the
    fill a bust or correction named. Numbers compare by value (100 == 100.00).
    Fields the order does not keep (timestamps, the venue's cum/leaves, text)
    may differ in a redelivery. A state with no record for the exec id (stored
    before records were kept) treats every report with it as a redelivery.
    """
    if record is None:
        return None
    kind = _JOURNAL_OF.get(report.exec_type)
    if kind is None or kind.__name__ != record.kind:
        return f"it was a {record.kind}, this report is {report.exec_type.value}"
    differences = [
        f"{name} {new} (was {old})"
        for name, old, new in (
            ("last_qty", record.qty, report.last_qty),
            ("last_px", record.px, report.last_px),
            ("commission", record.commission, report.commission),
        )
        if old is not None and new != old
    ]
    if record.refs and report.ref_exec_id not in record.refs:
        differences.append(f"ref_exec_id {report.ref_exec_id} (was {record.refs[0]})")
    return ", ".join(differences) or None


class _Unfit(NamedTuple):
    """A report that does not fit the order before any transition is looked up."""

    code: str
    reason: str


def _candidate(report: ExecutionReport, order: Order, now: int) -> JournalEvent | _Unfit:
    """The journal event (seq order.seq + 1) the report would be, not yet checked against the
    table; its stated quantities (cum_qty, leaves_qty, avg_px) are the order's current ones
    until `_stated` replaces them with the evolved order's."""
    seq = order.seq + 1
    head = _journal(order, seq, now)
    stated = {"cum_qty": order.cum_qty, "leaves_qty": order.leaves_qty, "avg_px": order.avg_px}
    kind = report.exec_type
    reason = clip(report.reason) if report.reason is not None else None
    # the report is validated and the order holds validated values: only the minted ids (an
    # adopted order's long id + ".seq") may not fit, and then validation decides as before
    make = built if len(head["event_id"]) <= ids.MAX_LEN else _validated

    if kind is ExecType.NEW:
        return make(
            OrderAcknowledged,
            **head, venue=report.venue, exec_id=report.exec_id, venue_order_id=report.venue_order_id
        )
    if kind is ExecType.REJECTED:
        return OrderRejected(
            **head,
            venue=report.venue,
            exec_id=report.exec_id,
            reason=clip(report.reason or "rejected by the venue"),
            reject_reason=report.ord_rej_reason or OrderRejectReason.OTHER,
        )
    if kind in (ExecType.PARTIAL_FILL, ExecType.FILL):
        if report.last_qty <= 0 or report.last_px <= 0:
            return _Unfit("INVALID_FILL", f"last_qty {report.last_qty} at {report.last_px}")
        return make(
            OrderFilled,
            **head,
            **stated,
            fill_id=ids.fill_id(order.order_id, seq),
            exec_id=report.exec_id,
            venue=report.venue,
            trader=order.trader,
            client_order_id=order.client_order_id,
            instrument=order.instrument,
            side=order.side,
            last_qty=report.last_qty,
            last_px=report.last_px,
            commission=report.commission,
            late=not is_live(order),
        )
    if kind is ExecType.CANCELED:
        solicited = any(r.kind is VenueAction.CANCEL for r in order.chain)
        return OrderCanceled(**head, exec_id=report.exec_id, unsolicited=not solicited, reason=reason)
    if kind is ExecType.EXPIRED:
        return OrderExpired(**head, exec_id=report.exec_id, reason=reason)
    if kind is ExecType.DONE_FOR_DAY:
        return OrderDoneForDay(**head, exec_id=report.exec_id, reason=reason)
    if kind is ExecType.REPLACED:
        # the replace the report names (its ClOrdID); a venue answering in turn answers the oldest
        pending = order.request(report.request_id)
        if pending is None or pending.kind is not VenueAction.REPLACE:
            pending = next((r for r in order.chain if r.kind is VenueAction.REPLACE), None)
        if pending is None:
            return _Unfit("NO_PENDING_REQUEST", f"no replace pending on {order.order_id}")
        requested = pending.quantity if pending.quantity is not None else order.quantity
        return OrderReplaced(
            **head,
            client_order_id=pending.client_order_id,
            request_id=pending.request_id,
            exec_id=report.exec_id,
            # FIX (Vol. 4 App. D C.3.b/C.3.c, replace to a quantity at or below the filled quantity): the
            # venue sets OrderQty to CumQty and the order is Filled; never more filled than ordered.
            quantity=max(requested, order.cum_qty),
            limit_price=pending.limit_price,
            leaves_qty=order.leaves_qty,
        )
    if kind is ExecType.CANCEL_REJECTED:
        if order.pending is None:
            return _Unfit("NO_PENDING_REQUEST", f"no cancel or replace pending on {order.order_id}")
        pending = order.request(report.request_id)
        if pending is None:
            # FIX: a cancel reject names the refused request in ClOrdID; one naming another
            # request answers nothing we have out, and must not settle a pending one.
            out = ", ".join(r.request_id for r in order.chain)
            return _Unfit("UNKNOWN_REQUEST", f"reject of request {report.request_id}; pending is {out}")
        return OrderCancelRejected(
            **head,
            client_order_id=pending.client_order_id,
            response_to=pending.response_to,
            reason_code="VENUE_REJECTED",
            reason=clip(report.reason or f"the venue rejected {pending.request_id}"),
            exec_id=report.exec_id,
            cancel_reject_reason=report.cxl_rej_reason or CancelRejectReason.OTHER,
            request_id=pending.request_id,
        )
    if kind is ExecType.RESTATED:
        if report.order_qty <= 0:
            return _Unfit("INVALID_RESTATEMENT", f"restated order qty {report.order_qty}")
        return _restated(order, head, report.exec_id, report.restatement_reason or RestatementReason.OTHER,
                         report.order_qty, report.limit_price, report.day_order_qty, report.day_cum_qty, reason)
    if kind is ExecType.SUSPENDED:
        return OrderSuspended(**head, exec_id=report.exec_id, reason=reason)
    if kind in (ExecType.TRADE_BUST, ExecType.TRADE_CORRECT):
        ref = find_fill(order, report.ref_exec_id)
        if ref is None:
            return _Unfit("UNKNOWN_FILL", f"no standing fill with exec id {report.ref_exec_id}")
        common = {
            **head,
            **stated,
            "fill_id": ids.fill_id(order.order_id, seq),
            "exec_id": report.exec_id,
            "ref_fill_id": ref.fill_id,
            "instrument": order.instrument,
        }
        if kind is ExecType.TRADE_BUST:
            return OrderFillBusted(**common)
        if report.last_qty <= 0 or report.last_px <= 0:
            return _Unfit("INVALID_FILL", f"correction to {report.last_qty} at {report.last_px}")
        return OrderFillCorrected(**common, last_qty=report.last_qty, last_px=report.last_px)
    return _Unfit("UNSUPPORTED_EXEC_TYPE", f"no journal event for {kind.value}")


def _restated(
    order: Order,
    head: dict,
    exec_id: str,
    why: RestatementReason,
    quantity: Decimal,
    limit_price: Decimal | None,
    day_order_qty: Decimal | None,
    day_cum_qty: Decimal | None,
    reason: str | None,
) -> OrderRestated:
    """The restatement of `order` to `quantity` (never below cum_qty: FIX, as for a replace) and
    `limit_price` (a market order keeps none; None keeps the order's)."""
    return OrderRestated(
        **head,
        exec_id=exec_id,
        restatement_reason=why,
        quantity=max(quantity, order.cum_qty),
        limit_price=None if order.order_type is OrderType.MARKET else (limit_price or order.limit_price),
        cum_qty=order.cum_qty,
        leaves_qty=order.leaves_qty,
        day_order_qty=day_order_qty,
        day_cum_qty=day_cum_qty,
        reason=reason,
    )


def decide_new_day(order: Order | None, trading_day: str, now: int) -> list[Event]:
    """The engine's session roll for one order: a GTC order DONE_FOR_DAY is renewed for
    `trading_day` (e.g. "2026-01-02") by an `OrderRestated` GT_RENEWAL (status back to NEW or
    PARTIALLY_FILLED by its fills; DayOrderQty = leaves, DayCumQty = 0); any other order: [].
    Idempotent: the exec id names the order and the day, so a second roll for the day is []."""
    if order is None or order.status is not OrderStatus.DONE_FOR_DAY or order.time_in_force is not TimeInForce.GTC:
        return []
    exec_id = ids.record_id(order.order_id, trading_day, "gt-renewal")
    if exec_id in order.exec_ids:
        return []
    head = _journal(order, order.seq + 1, now)
    leaves = order.quantity - order.cum_qty
    candidate = _restated(order, head, exec_id, RestatementReason.GT_RENEWAL, order.quantity, None,
                          leaves, Decimal(0), f"new trading day {trading_day}")
    return [_stated(candidate, evolve(order, candidate))]


_STATED = ("cum_qty", "leaves_qty", "avg_px")
_STATED_OF: dict[type, tuple[str, ...]] = {}


def _stated(candidate: JournalEvent, after: Order) -> JournalEvent:
    """`candidate` stating the quantities of `after`, the order `evolve` derived from it (validated)."""
    cls = type(candidate)
    names = _STATED_OF.get(cls)
    if names is None:
        names = _STATED_OF[cls] = tuple(name for name in _STATED if name in cls.model_fields)
    if not names:
        return candidate
    stated = {name: getattr(after, name) for name in names}
    fits = len(candidate.event_id) <= ids.MAX_LEN and all(fits_wire(value) for value in stated.values())
    return (built if fits else _validated)(cls, **{**candidate.__dict__, **stated})


_IN_FLIGHT = (OrderStatus.PENDING_NEW, OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE)


def _status_disagreement(report: ExecutionReport, order: Order, now: int) -> list[Event]:
    """An ORDER_STATUS report (FIX 150=I) changes nothing: [] when it agrees with the order, else a
    seq-0 VENUE_MISMATCH naming what differs (reconciliation acts on it). Compared: the order
    quantity, cum qty, and the status unless the OMS has a request in flight (PENDING_*: the venue
    may not have seen it yet)."""
    differences = []
    if report.order_qty != order.quantity:
        differences.append(("order qty", report.order_qty, order.quantity))
    if report.cum_qty != order.cum_qty:
        differences.append(("cum qty", report.cum_qty, order.cum_qty))
    if order.status not in _IN_FLIGHT and report.order_status is not order.status:
        differences.append(("status", report.order_status.value, order.status.value))
    if not differences:
        return []
    venue = ", ".join(f"{name} {theirs}" for name, theirs, _ in differences)
    oms = ", ".join(f"{name} {ours}" for name, _, ours in differences)
    return [_mismatch(report, order, venue, oms, now)]


def _venue_mismatch(report: ExecutionReport, after: Order, event: OrderFilled, now: int) -> list[OrderAnomaly]:
    """A seq-0 VENUE_MISMATCH beside a fill whose venue cum/leaves disagree with the OMS's (the fill applies)."""
    if report.cum_qty == after.cum_qty and report.leaves_qty == after.leaves_qty:
        return []
    venue = f"cum {report.cum_qty} leaves {report.leaves_qty}"
    oms = f"cum {after.cum_qty} leaves {after.leaves_qty} (fill {event.fill_id} applied)"
    return [_mismatch(report, after, venue, oms, now)]


def _mismatch(report: ExecutionReport, after: Order, venue: str, oms: str, now: int) -> OrderAnomaly:
    """A seq-0 VENUE_MISMATCH: the venue's numbers disagree with the OMS's (the OMS's apply)."""
    return OrderAnomaly(
        **_stamp(ids.record_id(after.order_id, report.event_id, "mismatch"), now),
        order_id=after.order_id,
        account=after.account,
        seq=0,
        source=report.venue,
        reason_code="VENUE_MISMATCH",
        reason=clip(f"venue says {venue}, OMS has {oms}"),
        exec_id=report.exec_id,
    )


def _fill(
    order: Order,
    event: OrderFilled | OrderFillBusted | OrderFillCorrected,
    kind: FillKind,
    report: ExecutionReport,
    quantity: Decimal,
    price: Decimal,
    ref_fill_id: str | None,
    now: int,
    late: bool = False,
) -> Fill:
    # every value is the validated report's, the order's or the journal event's (its fill id)
    return built(
        Fill,
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
        venue=report.venue if order.venue == SMART_VENUE else (order.venue or report.venue),  # a parent: its child's venue
        exec_id=report.exec_id,
        quantity=quantity,
        price=price,
        commission=report.commission,
        late=late,
    )

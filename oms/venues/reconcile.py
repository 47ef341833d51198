"""Reconciliation of one venue against the OMS's view: what diverged, and the reports that repair it.

This module owns the decision taken after every connect and reconnect of a
venue (and on demand): given the orders the OMS has at the venue
(`OmsOrder`: status, quantity, cum qty, and the exec ids it applied when
known), the venue's ORDER_STATUS reports (every working order, from
`mass_status`, plus the answers to status queries for orders it no longer
works), the venue's executions since the last known point (`fills(since)`),
the external-order policy and `now`, `reconcile` returns the execution reports
to publish on `exec.reports` so that the order engine repairs every divergence
with journal events carrying a reason, the cancel requests to send to the venue,
and a `VenueReconciliation` event saying what was found and what was done.

Cases, per order:

- fills the OMS missed: the venue's own fill reports (and busts, corrections)
  are sent again with the venue's exec ids - those the OMS has not applied
  when its exec ids are known, else every fill of an order whose cum qty
  differs from the venue's; the engine books each exec id once and ignores a
  copy, so a repeated reconciliation books nothing twice;
- orders canceled, expired or done for the day at the venue while the OMS was
  away: a report of that terminal state (deterministic exec id
  `ids.record_id(order_id, "<venue>:<status>", "reconcile-closed")`);
- orders the OMS believes live that the venue does not know (no status, or
  REJECTED): a CANCELED report, reason "unknown at venue on reconciliation",
  exec id `ids.record_id(order_id, venue, "reconcile-unknown")`, so a repeated
  reconciliation repeats it and the engine ignores the copy. An order still
  PENDING_NEW is left alone (counted `in_flight`): its NEW may not have reached
  the venue yet, and the in-flight deadline settles it;
- orders the venue works that the OMS does not have: with policy ADOPT an ack
  (exec type NEW, from the venue's status) so the engine adopts them as external
  orders, then their fills; with REJECT the venue's status report (the engine
  keeps an UNKNOWN_ORDER anomaly) AND a cancel request to the venue;
- orders the venue works that the OMS has closed: a cancel request;
- orders the venue works that the OMS still has PENDING_NEW with no fill missed: the
  venue's ack never arrived, so an ack (exec type NEW) is sent.

Pure: no I/O, no clock; every id is derived (`oms.ids`), so the same inputs
give the same reports and requests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Iterable, Sequence

from oms import ids
from oms.domain.orders import ExternalOrders, LIVE_STATUSES, Order
from oms.events import (
    ExecType,
    ExecutionReport,
    OrderStatus,
    OrderType,
    OrderView,
    Side,
    TimeInForce,
    VenueAction,
    VenueReconciliation,
    VenueRequest,
)

__all__ = ["OmsOrder", "Reconciliation", "UNKNOWN_AT_VENUE", "in_transit", "reconcile"]

UNKNOWN_AT_VENUE = "unknown at venue on reconciliation"
CLOSED_AT_VENUE = "{status} at venue while disconnected (reconciliation)"
NOT_OURS = "not an OMS order: canceled on reconciliation (external orders: reject)"
CLOSED_IN_OMS = "closed in the OMS, working at the venue: canceled on reconciliation"

FILL_TYPES = (ExecType.PARTIAL_FILL, ExecType.FILL, ExecType.TRADE_BUST, ExecType.TRADE_CORRECT)
"""Reports that change what was executed (the ones `fills(since)` lists)."""
WORKING = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_CANCEL,
                     OrderStatus.PENDING_REPLACE, OrderStatus.PENDING_NEW, OrderStatus.SUSPENDED})
"""Venue statuses of an order it still works."""
OPEN_IN_OMS = LIVE_STATUSES | {OrderStatus.DONE_FOR_DAY}
"""OMS statuses of an order the venue should still hold (a GT order done for the day rests there)."""
_CLOSING = {OrderStatus.CANCELED: ExecType.CANCELED, OrderStatus.EXPIRED: ExecType.EXPIRED,
            OrderStatus.DONE_FOR_DAY: ExecType.DONE_FOR_DAY}


@dataclass(frozen=True)
class OmsOrder:
    """What the OMS believes about one order at the venue."""

    order_id: str
    account: str
    instrument: str
    side: Side
    status: OrderStatus
    quantity: Decimal
    cum_qty: Decimal
    limit_price: Decimal | None = None
    exec_ids: frozenset[str] | None = None
    """The exec ids the OMS applied to the order, when known (None: compare cum qty instead)."""

    @classmethod
    def of_view(cls, view: OrderView) -> "OmsOrder":
        """From the compacted `orders` view (no exec ids there)."""
        return cls(view.order_id, view.account, view.instrument, view.side, view.status, view.quantity,
                   view.cum_qty, view.limit_price)

    @classmethod
    def of_order(cls, order: Order) -> "OmsOrder":
        """From the engine's state (exec ids known)."""
        return cls(order.order_id, order.account, order.instrument, order.side, order.status, order.quantity,
                   order.cum_qty, order.limit_price, frozenset(order.exec_ids))


def in_transit(oms: Sequence[OmsOrder], reports: Iterable[ExecutionReport]) -> list[OmsOrder]:
    """The OMS's view once it has applied `reports`: the venue's reports the gateway has published and
    the OMS may not have folded yet (an asynchronous venue's resent reports arrive just before its
    mass status answers). Each report moves its order to the report's status and cum qty (never
    back) and adds its exec id; ORDER_STATUS and CANCEL_REJECTED reports change nothing here."""
    by_id = {o.order_id: o for o in oms}
    for report in reports:
        order = by_id.get(report.order_id)
        if order is None or report.exec_type in (ExecType.ORDER_STATUS, ExecType.CANCEL_REJECTED):
            continue
        exec_ids = None if order.exec_ids is None else order.exec_ids | {report.exec_id}
        by_id[order.order_id] = replace(order, status=report.order_status, cum_qty=max(order.cum_qty, report.cum_qty),
                                        exec_ids=exec_ids)
    return list(by_id.values())


@dataclass(frozen=True)
class Reconciliation:
    reports: list[ExecutionReport]
    """To publish on `exec.reports`, in this order."""
    cancels: list[VenueRequest]
    """To send to the venue (their answers are published like any report)."""
    summary: VenueReconciliation
    """What was found and what was done."""


def _unknown(status: ExecutionReport | None) -> bool:
    """The venue does not hold the order: no status, or REJECTED (UNKNOWN_ORDER or any reject)."""
    return status is None or status.order_status is OrderStatus.REJECTED


def _stamped(exec_id: str, now: int) -> dict:
    return {"event_id": exec_id, "exec_id": exec_id, "ts_event": now, "ts_init": now}


def _closing_report(venue: str, order: OmsOrder, status: ExecutionReport | None, exec_type: ExecType,
                    exec_id: str, reason: str, now: int) -> ExecutionReport:
    """A terminal report of `order`: its terms from the venue's status when there is one, else the OMS's."""
    source = status if status is not None and not _unknown(status) else None
    return ExecutionReport(
        **_stamped(exec_id, now), venue=venue, account=order.account, order_id=order.order_id,
        request_id=source.request_id if source else exec_id, exec_type=exec_type,
        order_status=OrderStatus(exec_type.value), instrument=order.instrument, side=order.side,
        order_qty=source.order_qty if source else order.quantity,
        cum_qty=source.cum_qty if source else order.cum_qty, leaves_qty=Decimal(0),
        avg_px=source.avg_px if source else Decimal(0),
        limit_price=source.limit_price if source else order.limit_price,
        venue_order_id=source.venue_order_id if source else None, reason=reason,
    )


def _cancel_request(venue: str, status: ExecutionReport, reason_kind: str, now: int) -> VenueRequest:
    request_id = ids.record_id(status.order_id, status.venue_order_id or status.request_id, reason_kind)
    return VenueRequest(
        event_id=ids.venue_request_event_id(request_id)[:64], ts_event=now, ts_init=now, action=VenueAction.CANCEL,
        venue=venue, account=status.account, order_id=status.order_id, request_id=request_id,
        orig_request_id=status.request_id, instrument=status.instrument, side=status.side,
        order_type=OrderType.LIMIT if status.limit_price is not None else OrderType.MARKET,
        quantity=max(status.order_qty, Decimal(1).scaleb(-8)), limit_price=status.limit_price,
        time_in_force=TimeInForce.DAY,
    )


def _missed(order: OmsOrder, status: ExecutionReport | None, fills: list[ExecutionReport]) -> list[ExecutionReport]:
    """The venue's fill reports of `order` the OMS has not applied (see the module docstring)."""
    if not fills:
        return []
    if order.exec_ids is not None:
        return [f for f in fills if f.exec_id not in order.exec_ids]
    venue_cum = status.cum_qty if status is not None and not _unknown(status) else fills[-1].cum_qty
    return list(fills) if venue_cum != order.cum_qty else []


def _ids(order_ids: Iterable[str]) -> str:
    return " ".join(order_ids)


def reconcile(
    venue: str,
    oms: Sequence[OmsOrder],
    venue_status: Sequence[ExecutionReport],
    fills: Sequence[ExecutionReport],
    policy: ExternalOrders,
    now: int,
) -> Reconciliation:
    """Compare the OMS's orders at `venue` (every one it has there, open or not) with the venue's
    ORDER_STATUS reports and executions; see the module docstring for the cases."""
    by_id = {o.order_id: o for o in oms}
    status = {r.order_id: r for r in venue_status if r.exec_type is ExecType.ORDER_STATUS and r.venue == venue}
    fills_of: dict[str, list[ExecutionReport]] = {}
    for report in fills:
        if report.exec_type in FILL_TYPES and report.venue == venue:
            fills_of.setdefault(report.order_id, []).append(report)

    reports: list[ExecutionReport] = []
    cancels: list[VenueRequest] = []
    found: dict[str, list[str]] = {k: [] for k in (
        "missed_fills", "closed_at_venue", "unknown_at_venue", "adopted", "canceled_external", "closed_in_oms",
        "in_flight", "acknowledged")}
    resent = 0
    open_orders = 0

    for order in oms:
        st = status.get(order.order_id)
        missed = _missed(order, st, fills_of.get(order.order_id, []))
        if missed:
            found["missed_fills"].append(order.order_id)
            reports += missed
            resent += len(missed)
        if order.status not in OPEN_IN_OMS:
            if st is not None and st.order_status in WORKING:
                found["closed_in_oms"].append(order.order_id)
                cancels.append(_cancel_request(venue, st, "reconcile-cancel", now))
            continue
        open_orders += 1
        if _unknown(st):
            if order.status is OrderStatus.PENDING_NEW:
                found["in_flight"].append(order.order_id)
                continue
            found["unknown_at_venue"].append(order.order_id)
            exec_id = ids.record_id(order.order_id, venue, "reconcile-unknown")
            reports.append(_closing_report(venue, order, None, ExecType.CANCELED, exec_id, UNKNOWN_AT_VENUE, now))
        elif st.order_status in WORKING and order.status is OrderStatus.PENDING_NEW and not missed:
            # the venue's ack never reached the OMS (fills would have implied it)
            found["acknowledged"].append(order.order_id)
            exec_id = ids.record_id(order.order_id, st.venue_order_id or venue, "reconcile-ack")
            reports.append(st.model_copy(update={
                **_stamped(exec_id, now), "exec_type": ExecType.NEW, "order_status": OrderStatus.NEW,
                "reason": "acknowledged at the venue (reconciliation)"}))
        elif st.order_status in _CLOSING and st.order_status is not order.status:
            found["closed_at_venue"].append(order.order_id)
            exec_id = ids.record_id(order.order_id, f"{venue}:{st.order_status.value}", "reconcile-closed")
            reason = CLOSED_AT_VENUE.format(status=st.order_status.value.lower().replace("_", " "))
            reports.append(_closing_report(venue, order, st, _CLOSING[st.order_status], exec_id, reason, now))

    working = [r for r in status.values() if r.order_status in WORKING]
    for st in working:
        if st.order_id in by_id:
            continue
        if policy is ExternalOrders.ADOPT and st.order_qty > 0:
            found["adopted"].append(st.order_id)
            exec_id = ids.record_id(st.order_id, st.venue_order_id or st.request_id, "reconcile-adopt")
            reports.append(st.model_copy(update={
                **_stamped(exec_id, now), "exec_type": ExecType.NEW, "order_status": OrderStatus.NEW,
                "cum_qty": Decimal(0), "leaves_qty": st.order_qty, "avg_px": Decimal(0),
                "reason": "adopted as an external order on reconciliation"}))
            adopted_fills = fills_of.get(st.order_id, [])
            reports += adopted_fills
            resent += len(adopted_fills)
        else:
            found["canceled_external"].append(st.order_id)
            exec_id = ids.record_id(st.order_id, st.venue_order_id or st.request_id, "reconcile-external")
            reports.append(st.model_copy(update={**_stamped(exec_id, now), "reason": NOT_OURS}))
            cancels.append(_cancel_request(venue, st, "reconcile-cancel", now))
    if policy is ExternalOrders.ADOPT:  # executions of orders neither side has open: booked by adoption
        for order_id, executions in fills_of.items():
            if order_id not in by_id and order_id not in found["adopted"]:
                found["adopted"].append(order_id)
                reports += executions
                resent += len(executions)

    summary = VenueReconciliation(
        event_id=ids.record_id(venue, str(now), "reconciliation"), ts_event=now, ts_init=now, venue=venue,
        policy=policy.value, oms_open=open_orders, venue_working=len(working), reports=len(reports),
        cancels=len(cancels), fills_resent=resent,
        matched=open_orders - sum(len(found[k]) for k in ("closed_at_venue", "unknown_at_venue", "in_flight")),
        **{k: _ids(v) for k, v in found.items()},
    )
    return Reconciliation(reports, cancels, summary)


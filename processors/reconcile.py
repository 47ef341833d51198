"""Reconciliation of a venue at connect: read the OMS's view, ask the venue, run the pure comparison.

This processor owns the I/O around `oms.venues.reconcile`. `reconcile_venue`
(called by the venue gateway on every connect of an adapter, and on demand)
reads the OMS's view of the venue's orders from the compacted `orders` topic
(`streams.kafka.read_all` to the end offsets at start: every `OrderView` whose
venue is the adapter's), asks a synchronous adapter for its working orders
(`mass_status`), for the status of every order the OMS has open there that the
venue does not list (`status`: closed while the OMS was away, or unknown), and
for its executions (`fills(since_ns)`), runs `reconcile`, sends the cancel
requests it decides to the adapter, publishes the `VenueReconciliation` event
on `venue.reconciliations` and returns the reports to publish on
`exec.reports` (the repairs, then the venue's answers to the cancels).
`reconcile_collected` is the variant for an asynchronous adapter (FIX), whose
ORDER_STATUS answers to `mass_status` arrive later through `poll`: the caller
collects them and passes them in.

Why the `orders` view and not the engine's state: the gateway runs in its own
process and the view is the published contract of every order's state, readable
by any process; the engine's RocksDB store is private to the worker. The view
may lag the journal by a moment; every repair is safe under that lag (re-sent
fills are booked once by exec id, a repeated terminal report carries a
deterministic exec id the engine ignores).
"""

from __future__ import annotations

import logging
import uuid
from typing import Sequence

from oms.config import Settings
from oms import ids
from oms.events import ExecType, ExecutionReport, OrderType, OrderView, TimeInForce, VenueAction, VenueRequest
from oms.venues.reconcile import OPEN_IN_OMS, OmsOrder, Reconciliation, in_transit, reconcile
from streams.kafka import read_all

__all__ = ["RECONCILIATIONS", "oms_view", "reconcile_collected", "reconcile_venue"]

log = logging.getLogger("oms.reconcile")

RECONCILIATIONS = "venue.reconciliations"
"""The short name of the topic of `VenueReconciliation` events."""


def oms_view(runtime, venue: str, timeout: float = 30.0) -> list[OmsOrder]:
    """Every order the OMS has at `venue`, from the compacted `orders` topic read to its end."""
    consumer = runtime.event_consumer(f"reconcile-{uuid.uuid4().hex[:8]}", "reconcile", deadletter=False)
    try:
        latest: dict[str, OrderView] = {}
        for received in read_all(consumer, [runtime.topics.orders], timeout=timeout):
            view = received.event
            if isinstance(view, OrderView):
                latest[view.order_id] = view
    finally:
        consumer.close()
    return [OmsOrder.of_view(v) for v in latest.values() if v.venue == venue]


def _status_request(order: OmsOrder, venue: str, now: int) -> VenueRequest:
    request_id = ids.record_id(order.order_id, f"{venue}:{now}", "reconcile-status")
    return VenueRequest(
        event_id=f"{request_id}.req", ts_event=now, ts_init=now, action=VenueAction.STATUS, venue=venue,
        account=order.account, order_id=order.order_id, request_id=request_id, instrument=order.instrument,
        side=order.side, order_type=OrderType.LIMIT if order.limit_price is not None else OrderType.MARKET,
        quantity=order.quantity if order.quantity > 0 else 1, limit_price=order.limit_price, time_in_force=TimeInForce.DAY,
    )


def _publish(runtime, result: Reconciliation) -> None:
    producer = runtime.event_producer()
    producer.send(runtime.topics.venue_reconciliations, result.summary.venue, result.summary)
    producer.flush(30.0)


def _finish(runtime, adapter, result: Reconciliation, now: int, publish_summary: bool) -> list[ExecutionReport]:
    reports = list(result.reports)
    for request in result.cancels:
        reports += adapter.cancel(request, now)
    s = result.summary
    log.warning(
        "reconciliation of %s: %d open in the OMS, %d working at the venue, %d matched; %d fills re-sent; "
        "%d closed at the venue, %d unknown at the venue, %d adopted, %d external canceled, %d closed in the "
        "OMS, %d in flight; %d reports", s.venue, s.oms_open, s.venue_working, s.matched, s.fills_resent,
        *(len(getattr(s, k).split()) for k in ("closed_at_venue", "unknown_at_venue", "adopted",
                                               "canceled_external", "closed_in_oms", "in_flight")), len(reports))
    if publish_summary:
        _publish(runtime, result)
    return reports


def reconcile_venue(runtime, settings: Settings, adapter, now: int, *, since_ns: int = 0,
                    publish_summary: bool = True) -> list[ExecutionReport]:
    """Reconcile a synchronous adapter (its `mass_status` and `status` answer at once); returns the
    reports to publish on `exec.reports`, in order. Publishes the `VenueReconciliation` event."""
    oms = oms_view(runtime, adapter.name)
    statuses = [r for r in adapter.mass_status(now) if r.exec_type is ExecType.ORDER_STATUS]
    listed = {r.order_id for r in statuses}
    for order in oms:
        if order.status in OPEN_IN_OMS and order.order_id not in listed:
            statuses += [r for r in adapter.status(_status_request(order, adapter.name, now), now)
                         if r.exec_type is ExecType.ORDER_STATUS]
    result = reconcile(adapter.name, oms, statuses, adapter.fills(since_ns), settings.external_orders, now)
    return _finish(runtime, adapter, result, now, publish_summary)


def reconcile_collected(runtime, settings: Settings, adapter, statuses: Sequence[ExecutionReport], now: int, *,
                        since_ns: int = 0, publish_summary: bool = True,
                        transit: Sequence[ExecutionReport] = ()) -> list[ExecutionReport]:
    """Reconcile an asynchronous adapter from the ORDER_STATUS reports the caller collected through
    `poll` after `mass_status` (an open OMS order not among them counts as unknown at the venue);
    `transit`: the venue's reports published meanwhile, applied over the `orders` view first, which
    may not show them yet (`oms.venues.reconcile.in_transit`)."""
    oms = in_transit(oms_view(runtime, adapter.name), transit)
    result = reconcile(adapter.name, oms, list(statuses), adapter.fills(since_ns), settings.external_orders, now)
    return _finish(runtime, adapter, result, now, publish_summary)

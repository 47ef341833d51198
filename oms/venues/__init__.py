"""The venue boundary: the `VenueAdapter` protocol every execution venue implements.

This package owns the contract between the OMS and a venue (the simulated
exchange in `oms.venues.simulated` now, a FIX session later). An adapter is
pure: it is handed a `VenueRequest` or a market data event together with the
current time `now` (integer UTC nanoseconds) and answers with the
`ExecutionReport`s the venue sends back; it never reads a clock, does no I/O
and knows nothing of Kafka. The contract: requests are idempotent by
`request_id` (a repeated request returns the reports it got the first time, or
nothing, and never opens a second order); exec ids are deterministic and
unique per venue; reports of one adapter carry non-decreasing `ts_event`, so
they may be published in the order they are returned; `fills()` lists every
execution (and bust or correction) for reconciliation.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from oms.events import (
    ExecutionReport,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    TimeInForce,
    Trade,
    VenueAction,
    VenueRequest,
)

__all__ = ["OpenOrder", "VenueAdapter", "handle_request"]


@dataclass(frozen=True)
class OpenOrder:
    """A snapshot of one order working at a venue (what `open_orders()` returns)."""

    venue: str
    venue_order_id: str
    account: str
    order_id: str
    request_id: str
    """The order's live request id (the last accepted NEW or REPLACE)."""
    instrument: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    limit_price: Decimal | None
    cum_qty: Decimal
    leaves_qty: Decimal
    avg_px: Decimal
    status: OrderStatus


@runtime_checkable
class VenueAdapter(Protocol):
    """What the venue gateway needs from a venue.

    Every method takes `now` (UTC nanoseconds) and returns the reports it
    causes, in the order the venue sends them; an empty list means nothing
    happened. A request whose `request_id` was seen before returns the reports
    of its first answer (same exec ids) or nothing, never a second order.
    """

    name: str

    def submit(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        """A NEW: ack (NEW) or REJECTED, then any immediate fills and cancels."""
        ...

    def amend(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        """A REPLACE of the order named by `orig_request_id`: REPLACED or CANCEL_REJECTED."""
        ...

    def cancel(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        """A CANCEL of the order named by `orig_request_id`: CANCELED or CANCEL_REJECTED."""
        ...

    def status(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        """A STATUS of the order named by `order_id`: one ORDER_STATUS report (FIX 150=I) with the
        order's state here, or OrdStatus REJECTED (OrdRejReason UNKNOWN_ORDER) if it has none."""
        ...

    def open_orders(self) -> list[OpenOrder]:
        """Every order still working at the venue."""
        ...

    def fills(self, since_ns: int = 0) -> list[ExecutionReport]:
        """Execution reports of fills, busts and corrections with `ts_event >= since_ns`."""
        ...

    def on_quote(self, quote: Quote, now: int) -> list[ExecutionReport]:
        """Market data: a new top of book; may fill resting orders."""
        ...

    def on_trade(self, trade: Trade, now: int) -> list[ExecutionReport]:
        """Market data: a trade print; may fill resting orders."""
        ...


def handle_request(venue: VenueAdapter, request: VenueRequest, now: int) -> list[ExecutionReport]:
    """Dispatch a request to `submit`, `amend`, `cancel` or `status` by its action."""
    if request.action is VenueAction.NEW:
        return venue.submit(request, now)
    if request.action is VenueAction.REPLACE:
        return venue.amend(request, now)
    if request.action is VenueAction.CANCEL:
        return venue.cancel(request, now)
    if request.action is VenueAction.STATUS:
        return venue.status(request, now)
    raise ValueError(f"action: unknown venue action {request.action!r}")

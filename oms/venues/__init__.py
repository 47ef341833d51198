"""The venue boundary: the `VenueAdapter` protocol every execution venue implements.

This package owns the contract between the OMS and a venue (the simulated
exchange in `oms.venues.simulated`, the FIX session in `connectors/`), and
the values that cross it: `VenueUnavailable`, `ConnectionState`,
`ConnectionChange`, `OpenOrder`. An adapter is handed a `VenueRequest` or a
market data event together with the current time `now` (integer UTC
nanoseconds) and answers with the `ExecutionReport`s the venue sends back; it
never reads a clock and knows nothing of Kafka (a network adapter such as the FIX one in `connectors/` does
its I/O on its own thread and hands what arrived over through `poll`). A
synchronous adapter (the simulator) answers in the return value of `submit`
etc.; an asynchronous one returns `[]` there and its answers, together with
`ConnectionChange`s, come through `poll(now)` in arrival order. A request the
venue cannot take now (disconnected, not logged on) raises `VenueUnavailable`.
Every report carries the OMS's `account`, `order_id` and `request_id` of the
order it concerns (a report for a ClOrdID the adapter never sent uses
`order_id = request_id = ClOrdID`). The contract: requests are idempotent by
`request_id` (a repeated request returns the reports it got the first time, or
nothing, and never opens a second order); exec ids are deterministic and
unique per venue, forever (across restarts of the adapter and of the venue);
reports of one adapter carry non-decreasing `ts_event`, so they may be
published in the order they are returned; `fills()` lists every execution
(and bust or correction) for reconciliation; `mass_status(now)` asks for every
working order (ORDER_STATUS reports); `close()` releases the adapter's
resources. The gateway above (`oms.venues.gateway`) knows no adapter but
through this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from oms.events import (
    ConnectionState,
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

__all__ = [
    "ConnectionChange",
    "ConnectionState",
    "OpenOrder",
    "VenueAdapter",
    "VenueUnavailable",
    "handle_request",
]


class VenueUnavailable(Exception):
    """The venue cannot take a request now (disconnected, not logged on).

    Raised by `submit`, `amend`, `cancel`, `status` and `mass_status`; the
    request was not sent, so the gateway may queue and retry it, and counts it
    as a breaker failure.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# `ConnectionState` (CONNECTED, DISCONNECTED) is defined with the events (`oms.events`), since
# `VenueStatus` carries it on the wire; it is re-exported here as part of the adapter contract.


@dataclass(frozen=True)
class ConnectionChange:
    """A venue session went up or down (returned by `VenueAdapter.poll`)."""

    venue: str
    state: ConnectionState
    ts: int
    """When the change was seen, UTC nanoseconds."""
    reason: str


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
    synchronous: bool
    """True when every answer is the return value of the call that caused it (the simulator);
    False when answers arrive later through `poll` (FIX)."""

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

    def connected(self) -> bool:
        """Whether the venue can take requests now."""
        ...

    def poll(self, now: int) -> list[ExecutionReport | ConnectionChange]:
        """Whatever arrived asynchronously since the last poll, in arrival order
        (the simulator: `[]` or its own scheduled events; FIX: reports and
        connection changes drained from its session thread)."""
        ...

    def mass_status(self, now: int) -> list[ExecutionReport]:
        """Ask for every working order: ORDER_STATUS reports (the simulator at
        once in the return value; FIX later through `poll`)."""
        ...

    def mass_status_pending(self) -> bool:
        """Whether answers to the last `mass_status` are still to come (always False for a
        synchronous adapter)."""
        ...

    def close(self) -> None:
        """Release resources (the FIX adapter stops its initiator)."""
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

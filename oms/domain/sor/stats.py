"""Venue statistics: per venue and instrument, how orders sent there fared, folded from the journal.

This module owns the venue statistics the router reads and operators see. The
fold (`VenueStatistics.apply(event)`) reads journal events only, so live and
replay compute the same numbers: an `OrderAccepted` tells an order's
instrument and side, an `OrderRouted` to a real venue (not the smart router's
own `SMART_VENUE`) starts its record (time, quantity), `RoutingDecided` gives
a parent's arrival price (its children inherit it), and acknowledgements,
fills, rejects and cancels move the venue's counters. Per (venue, instrument)
`VenueStats` keeps counts and sums; its properties give fill rate (filled /
routed quantity), reject rate, mean acknowledgement latency and time to first
fill (nanoseconds of event time), and mean slippage per share against the
arrival price (positive: worse than arrival). An order leaves the working set
when it ends. Exact (`Decimal`); no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from oms.domain.route import SMART_VENUE
from oms.events import (
    JournalEvent,
    OrderAccepted,
    OrderAcknowledged,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderRouted,
    RoutingDecided,
    Side,
)
from oms.ids import parent_of

__all__ = ["VenueStatistics", "VenueStats"]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class VenueStats:
    routed: int = 0
    routed_qty: Decimal = ZERO
    acknowledged: int = 0
    rejected: int = 0
    canceled: int = 0
    fills: int = 0
    filled_qty: Decimal = ZERO
    latency_ns: int = 0
    """Sum over acknowledged orders of (ack time - routing time)."""
    to_first_fill_ns: int = 0
    first_fills: int = 0
    slippage: Decimal = ZERO
    """Sum over fills with an arrival price of qty * (px - arrival) (a sell: arrival - px)."""
    slipped_qty: Decimal = ZERO

    @property
    def fill_rate(self) -> Decimal:
        return self.filled_qty / self.routed_qty if self.routed_qty else ZERO

    @property
    def reject_rate(self) -> Decimal:
        return Decimal(self.rejected) / self.routed if self.routed else ZERO

    @property
    def mean_latency_ns(self) -> int | None:
        return self.latency_ns // self.acknowledged if self.acknowledged else None

    @property
    def mean_time_to_fill_ns(self) -> int | None:
        return self.to_first_fill_ns // self.first_fills if self.first_fills else None

    @property
    def mean_slippage(self) -> Decimal | None:
        return self.slippage / self.slipped_qty if self.slipped_qty else None


EMPTY = VenueStats()


@dataclass(slots=True)
class _Working:
    instrument: str
    side: Side
    venue: str | None = None
    routed_at: int = 0
    filled: bool = False


@dataclass
class VenueStatistics:
    """(venue, instrument) -> `VenueStats`, and the working set the fold needs (orders not yet ended,
    arrival prices of parents)."""

    stats: dict[tuple[str, str], VenueStats] = field(default_factory=dict)
    working: dict[str, _Working] = field(default_factory=dict)
    arrivals: dict[str, Decimal] = field(default_factory=dict)

    def get(self, venue: str, instrument: str) -> VenueStats:
        return self.stats.get((venue, instrument), EMPTY)

    def _bump(self, work: _Working, **changes) -> None:
        key = (work.venue, work.instrument)
        current = self.stats.get(key, EMPTY)
        self.stats[key] = replace(current, **{k: getattr(current, k) + v for k, v in changes.items()})

    def apply(self, event: JournalEvent) -> None:
        """Fold one journal event (seq-0 records other than `RoutingDecided` change nothing)."""
        if isinstance(event, RoutingDecided):
            if event.arrival_price is not None:
                self.arrivals[event.order_id] = event.arrival_price
            return
        if event.seq == 0:
            return
        if isinstance(event, OrderAccepted):
            self.working[event.order_id] = _Working(event.instrument, event.side)
            return
        work = self.working.get(event.order_id)
        if work is None:
            if event.order_id in self.arrivals and _ends(event):  # a parent ended: its arrival is spent
                del self.arrivals[event.order_id]
            return
        if isinstance(event, OrderRouted):
            if event.venue == SMART_VENUE:  # a parent: its children carry the venue statistics
                del self.working[event.order_id]
                return
            work.venue, work.routed_at = event.venue, event.ts_event
            self._bump(work, routed=1, routed_qty=event.quantity)
            return
        if work.venue is None:
            return
        if isinstance(event, OrderAcknowledged):
            self._bump(work, acknowledged=1, latency_ns=max(event.ts_event - work.routed_at, 0))
        elif isinstance(event, OrderFilled):
            changes = {"fills": 1, "filled_qty": event.last_qty}
            if not work.filled:
                work.filled = True
                changes.update(first_fills=1, to_first_fill_ns=max(event.ts_event - work.routed_at, 0))
            arrival = self.arrivals.get(parent_of(event.order_id) or event.order_id)
            if arrival is not None:
                worse = event.last_px - arrival if work.side is Side.BUY else arrival - event.last_px
                changes.update(slippage=worse * event.last_qty, slipped_qty=event.last_qty)
            self._bump(work, **changes)
            if event.leaves_qty == 0:
                self._end(event.order_id)
        elif isinstance(event, OrderRejected):
            self._bump(work, rejected=1)
            self._end(event.order_id)
        elif isinstance(event, OrderCanceled):
            self._bump(work, canceled=1)
            self._end(event.order_id)
        elif isinstance(event, OrderExpired):
            self._end(event.order_id)

    def _end(self, order_id: str) -> None:
        self.working.pop(order_id, None)

    def rows(self) -> list[tuple[str, str, VenueStats]]:
        """(venue, instrument, stats), sorted: what operators see."""
        return [(v, i, s) for (v, i), s in sorted(self.stats.items())]


def _ends(event: JournalEvent) -> bool:
    if isinstance(event, OrderFilled):
        return event.leaves_qty == 0
    return isinstance(event, (OrderRejected, OrderCanceled, OrderExpired))

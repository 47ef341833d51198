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
when it ends (fills, is rejected, canceled or expired, or is denied before
any venue). The three parts of the fold (`stats` per (venue, instrument),
`working` per order, `arrivals` per parent) are mutable mappings the caller
may give: plain dicts in memory (replay, backtests), or the engine's stored
tables (`oms.venue_state`), so the same fold keeps the statistics in the
engine's committed state, written only where an event changed them. Exact
(`Decimal`); no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from typing import MutableMapping, NamedTuple

from oms.domain.route import SMART_VENUE
from oms.events import (
    JournalEvent,
    OrderAccepted,
    OrderAcknowledged,
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderRouted,
    RoutingDecided,
    Side,
)
from oms.ids import parent_of

__all__ = ["VenueStatistics", "VenueStats", "Working"]

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

    def plus(self, other: "VenueStats") -> "VenueStats":
        """Both sets of counts together (the statistics of two partitions' orders at one venue)."""
        return VenueStats(*(getattr(self, name) + getattr(other, name) for name in _FIELDS))

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
_FIELDS = tuple(VenueStats.__dataclass_fields__)
_values = attrgetter(*_FIELDS)
_INDEX = {name: i for i, name in enumerate(_FIELDS)}


class Working(NamedTuple):
    """An order the fold follows until it ends: what it is, where it went, when, and whether it has filled."""

    instrument: str
    side: Side
    venue: str | None = None
    routed_at: int = 0
    filled: bool = False


@dataclass
class VenueStatistics:
    """(venue, instrument) -> `VenueStats`, and the working set the fold needs (orders not yet ended,
    arrival prices of parents)."""

    stats: MutableMapping[tuple[str, str], VenueStats] = field(default_factory=dict)
    working: MutableMapping[str, Working] = field(default_factory=dict)
    arrivals: MutableMapping[str, Decimal] = field(default_factory=dict)

    def get(self, venue: str, instrument: str) -> VenueStats:
        found = self.stats.get((venue, instrument))
        return EMPTY if found is None else found

    def _bump(self, work: Working, **changes) -> None:
        key = (work.venue, work.instrument)
        values = list(_values(self.get(*key)))
        for name, change in changes.items():
            index = _INDEX[name]
            values[index] = values[index] + change
        self.stats[key] = VenueStats(*values)

    def apply(self, event: JournalEvent) -> None:
        """Fold one journal event (seq-0 records other than `RoutingDecided` change nothing)."""
        if isinstance(event, RoutingDecided):
            if event.arrival_price is not None:
                self.arrivals[event.order_id] = event.arrival_price
            return
        if event.seq == 0:
            return
        order_id = event.order_id
        if isinstance(event, OrderAccepted):
            self.working[order_id] = Working(event.instrument, event.side)
            return
        work = self.working.get(order_id)
        if work is None:
            if _ends(event) and self.arrivals.get(order_id) is not None:  # a parent ended: its arrival is spent
                self.arrivals.pop(order_id, None)
            return
        if isinstance(event, OrderRouted):
            if event.venue == SMART_VENUE:  # a parent: its children carry the venue statistics
                self._end(order_id)
                return
            work = self.working[order_id] = work._replace(venue=event.venue, routed_at=event.ts_event)
            self._bump(work, routed=1, routed_qty=event.quantity)
            return
        if work.venue is None:
            if isinstance(event, OrderDenied):  # refused before any venue: nothing more to follow
                self._end(order_id)
            return
        if isinstance(event, OrderAcknowledged):
            self._bump(work, acknowledged=1, latency_ns=max(event.ts_event - work.routed_at, 0))
        elif isinstance(event, OrderFilled):
            changes = {"fills": 1, "filled_qty": event.last_qty}
            if not work.filled:
                changes.update(first_fills=1, to_first_fill_ns=max(event.ts_event - work.routed_at, 0))
            arrival = self.arrivals.get(parent_of(order_id) or order_id)
            if arrival is not None:
                worse = event.last_px - arrival if work.side is Side.BUY else arrival - event.last_px
                changes.update(slippage=worse * event.last_qty, slipped_qty=event.last_qty)
            self._bump(work, **changes)
            if event.leaves_qty == 0:
                self._end(order_id)
            elif not work.filled:
                self.working[order_id] = work._replace(filled=True)
        elif isinstance(event, OrderRejected):
            self._bump(work, rejected=1)
            self._end(order_id)
        elif isinstance(event, OrderCanceled):
            self._bump(work, canceled=1)
            self._end(order_id)
        elif isinstance(event, OrderExpired):
            self._end(order_id)

    def _end(self, order_id: str) -> None:
        self.working.pop(order_id, None)

    def rows(self) -> list[tuple[str, str, VenueStats]]:
        """(venue, instrument, stats), sorted: what operators see (of statistics held in memory)."""
        return [(v, i, s) for (v, i), s in sorted(self.stats.items())]


def _ends(event: JournalEvent) -> bool:
    if isinstance(event, OrderFilled):
        return event.leaves_qty == 0
    return isinstance(event, (OrderRejected, OrderCanceled, OrderExpired))

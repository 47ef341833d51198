"""The consolidated book: per instrument, every venue's depth, and the best bid and offer across them.

This module owns how venue-tagged market data becomes what the router reads. A
`VenueBook` is one venue's depth (bids best first, asks best first, each a
tuple of `Level(price, size)`); a `ConsolidatedBook` holds one `VenueBook` per
venue for one instrument and answers the best bid and offer across venues
(`best_bid`, `best_offer`) and each side's levels by venue (`side_levels`).
What the router reads of a side (`taking(side)`: each venue's levels with
its cumulative depth, to bisect a limit in, `VenueBook.depth`, worked out
once per venue book) and what strategies derive from the book
(`derived(key, compute)`: e.g. the levels of every venue in sweep order) is
worked out on first use and kept with the book value, so routing decisions on
the same book do not redo it. A top-of-book `oms.events.Quote` is depth one (`with_quote`); a depth feed
replaces a venue's levels (`with_levels`); `fold_quote`, what the engine and replay fold `marketdata`
with, takes a quote's levels on each side that shows them and its top of book otherwise. A quote
without a venue is filed under `UNTAGGED`. Values are frozen and exact (`Decimal`); updating returns a
new book. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Callable, Hashable, Iterable, Mapping, NamedTuple, TypeVar

from oms.events import Quote, Side

__all__ = ["UNTAGGED", "ConsolidatedBook", "Level", "SideDepth", "VenueBook", "fold_quote"]

T = TypeVar("T")
_MISSING = object()

UNTAGGED = "UNTAGGED"
"""The venue a quote without one is filed under."""


class Level(NamedTuple):
    """One price level: `size` shown at `price`."""

    price: Decimal
    size: Decimal


def _levels(levels: Iterable[tuple[Decimal, Decimal]], descending: bool) -> tuple[Level, ...]:
    """Levels with a positive size, best first; raises `ValueError` for a price <= 0 or a size < 0."""
    kept = []
    for price, size in levels:
        if price <= 0 or size < 0:
            raise ValueError(f"level {size} @ {price}: price must be > 0 and size >= 0")
        if size > 0:
            kept.append(Level(Decimal(price), Decimal(size)))
    kept.sort(key=lambda level: level.price, reverse=descending)
    return tuple(kept)


class SideDepth(NamedTuple):
    """One venue's levels on one side with what a limit is bisected in: `keys` are the prices ascending
    for asks and negated for bids (so that both ascend), `cumulative[i]` the size of levels 0..i."""

    levels: tuple[Level, ...]
    keys: tuple[Decimal, ...]
    cumulative: tuple[Decimal, ...]


def _side_depth(levels: tuple[Level, ...], buy: bool) -> SideDepth:
    running, cumulative = Decimal(0), []
    for level in levels:
        running += level.size
        cumulative.append(running)
    keys = tuple(level.price for level in levels) if buy else tuple(-level.price for level in levels)
    return SideDepth(levels, keys, tuple(cumulative))


@dataclass(frozen=True, slots=True)
class VenueBook:
    """One venue's depth for one instrument: `bids` highest first, `asks` lowest first."""

    venue: str
    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()
    ts_event: int = 0
    _depth: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    """Side -> `SideDepth`, worked out on first use (`depth`); never part of the value."""

    @classmethod
    def of(cls, venue: str, bids: Iterable[tuple[Decimal, Decimal]], asks: Iterable[tuple[Decimal, Decimal]],
           ts_event: int = 0) -> "VenueBook":
        """A venue book from unsorted levels (zero sizes dropped); raises `ValueError` when it is crossed."""
        book = cls(venue, _levels(bids, True), _levels(asks, False), ts_event)
        if book.bids and book.asks and book.bids[0].price > book.asks[0].price:
            raise ValueError(f"{venue}: bid {book.bids[0].price} is above ask {book.asks[0].price}")
        return book

    def levels(self, side: Side) -> tuple[Level, ...]:
        """The levels an order of `side` takes from: a buy takes the asks, a sell the bids."""
        return self.asks if side is Side.BUY else self.bids

    def depth(self, side: Side) -> SideDepth:
        """The levels an order of `side` takes from with their cumulative depth, worked out once per
        venue book (so a venue's update recomputes that venue's only)."""
        found = self._depth.get(side)
        if found is None:
            buy = side is Side.BUY
            found = self._depth[side] = _side_depth(self.asks if buy else self.bids, buy)
        return found


@dataclass(frozen=True, slots=True)
class ConsolidatedBook:
    """Every venue's book for one instrument."""

    instrument: str
    venues: Mapping[str, VenueBook] = field(default_factory=dict)
    _derived: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    """Values worked out from `venues` (see `derived`), kept with this book value; never part of it."""

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, worked out once per book value: kept under `key`, which must name everything
        besides this book that the value depends on. A book is replaced, never changed, on an update,
        so what is kept goes with the book it was worked out from."""
        found = self._derived.get(key, _MISSING)
        if found is _MISSING:
            found = self._derived[key] = compute()
        return found

    def taking(self, side: Side) -> dict[str, SideDepth]:
        """venue -> its `SideDepth` on the side an order of `side` takes from (only venues that show some,
        in book order), worked out once per book; read-only."""
        found = self._derived.get(side)
        if found is None:
            found = self._derived[side] = {venue: book.depth(side) for venue, book in self.venues.items()
                                           if (book.asks if side is Side.BUY else book.bids)}
        return found

    def with_levels(self, venue: str, bids: Iterable[tuple[Decimal, Decimal]],
                    asks: Iterable[tuple[Decimal, Decimal]], ts_event: int = 0) -> "ConsolidatedBook":
        """The book with `venue`'s depth replaced."""
        return replace(self, venues={**self.venues, venue: VenueBook.of(venue, bids, asks, ts_event)})

    def with_quote(self, quote: Quote) -> "ConsolidatedBook":
        """The book with the quote's venue at depth one (its bid and ask)."""
        if quote.instrument != self.instrument:
            raise ValueError(f"a {quote.instrument} quote does not belong in the {self.instrument} book")
        return self.with_levels(quote.venue or UNTAGGED, [(quote.bid_price, quote.bid_size)],
                                [(quote.ask_price, quote.ask_size)], quote.ts_event)

    def without(self, venue: str) -> "ConsolidatedBook":
        return replace(self, venues={v: b for v, b in self.venues.items() if v != venue})

    def side_levels(self, side: Side) -> dict[str, tuple[Level, ...]]:
        """venue -> the levels an order of `side` takes from (only venues that show some)."""
        out = {}
        for venue, book in self.venues.items():
            levels = book.levels(side)
            if levels:
                out[venue] = levels
        return out

    def best_bid(self) -> Level | None:
        """The highest bid across venues (its size summed over the venues at that price)."""
        return _best(self.side_levels(Side.SELL).values(), descending=True)

    def best_offer(self) -> Level | None:
        """The lowest ask across venues (its size summed over the venues at that price)."""
        return _best(self.side_levels(Side.BUY).values(), descending=False)

    def mid(self) -> Decimal | None:
        bid, offer = self.best_bid(), self.best_offer()
        if bid is None or offer is None:
            return None
        return (bid.price + offer.price) / 2

    def arrival_price(self, side: Side) -> Decimal | None:
        """What an order of `side` would pay right now at best: the best offer for a buy, the best bid
        for a sell (slippage is measured against it)."""
        best = self.best_offer() if side is Side.BUY else self.best_bid()
        return best.price if best is not None else None


def _best(books: Iterable[tuple[Level, ...]], descending: bool) -> Level | None:
    tops = [levels[0] for levels in books]
    if not tops:
        return None
    price = max(t.price for t in tops) if descending else min(t.price for t in tops)
    return Level(price, sum((t.size for t in tops if t.price == price), Decimal(0)))


def _quoted(levels, price: Decimal, size: Decimal) -> list[tuple[Decimal, Decimal]]:
    """A quote's side as (price, size) levels: its depth when it shows some, else its top of book."""
    return [(level.price, level.size) for level in levels] if levels else [(price, size)]


def fold_quote(books: Mapping[str, ConsolidatedBook], quote: Quote) -> dict[str, ConsolidatedBook]:
    """The consolidated books (instrument -> book) after one quote: its venue's depth replaced, on each
    side, by the quote's levels (`Quote.bid_levels`, `ask_levels`) when it shows them, else by its top
    of book (depth one)."""
    book = books.get(quote.instrument) or ConsolidatedBook(quote.instrument)
    return {**books, quote.instrument: book.with_levels(
        quote.venue or UNTAGGED, _quoted(quote.bid_levels, quote.bid_price, quote.bid_size),
        _quoted(quote.ask_levels, quote.ask_price, quote.ask_size), quote.ts_event)}

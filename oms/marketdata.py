"""Market data as events: the `MarketData` type, its event ids, and a seeded synthetic feed.

This module owns what a market data event is here (`MarketData`: a `Quote` or
a `Trade`), its deterministic event id (`md_event_id`: `md.{instrument}.{n}`, n
counting that instrument's events from 1), `SyntheticFeed`, a seeded random
walk per instrument with a fixed spread, always on the tick and positive, and
`VenueDepth`, which shows that feed as one or more venues do: each venue with
its price offset, spread and level size (`VenueShape`) and N levels a side,
sizes drawn from its own seeded `random.Random`.
Files (CSV and Parquet, any column layout and timestamp form) are read by the
one loader, `connectors.marketdata_files`, which uses these ids. Pure: no I/O,
no Kafka, no clock reads (time is passed in), randomness only from the feed's
own seeded `random.Random`.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Mapping, Sequence

from oms.events import MAX_QUOTE_LEVELS, SCALE, BookLevel, Quote, Side, Trade

__all__ = ["MarketData", "SyntheticFeed", "VenueDepth", "VenueShape", "md_event_id"]

MarketData = Quote | Trade

_MAX_ID = 64


def md_event_id(instrument: str, n: int) -> str:
    """f"md.{instrument}.{n}", kept within 64 characters (trimmed, with a digest, keeping n)."""
    head, tail = f"md.{instrument}", f".{n}"
    if len(head) + len(tail) <= _MAX_ID:
        return head + tail
    digest = hashlib.sha256(head.encode("utf-8")).hexdigest()[:10]
    return f"{head[:_MAX_ID - len(tail) - len(digest) - 1]}.{digest}{tail}"


# ------------------------------------------------------------ synthetic feed


@dataclass
class _Walk:
    bid_ticks: int
    n: int = 0


class SyntheticFeed:
    """A seeded random walk of quotes (one per instrument per step) and occasional trades.

    Prices are integers of ticks: the bid moves by up to `max_step_ticks` ticks
    per step and never goes below one tick; the ask is `spread_ticks` above it.
    Trades happen with probability `trade_probability` per instrument and step,
    at the ask (a buyer lifting it) or at the bid (a seller hitting it). Two
    feeds with the same arguments produce the same events for the same times.
    """

    def __init__(
        self,
        instruments: Mapping[str, Decimal],
        seed: int,
        tick: Decimal = Decimal("0.01"),
        spread_ticks: int = 2,
        sizes: Sequence[Decimal] = (Decimal(100), Decimal(200), Decimal(300), Decimal(500), Decimal(1000)),
        trade_sizes: Sequence[Decimal] = (Decimal(1), Decimal(10), Decimal(50), Decimal(100)),
        trade_probability: float = 0.2,
        max_step_ticks: int = 2,
        venue: str | None = None,
    ) -> None:
        if not instruments:
            raise ValueError("instruments: give at least one instrument and its start price")
        tick = Decimal(tick)
        if not tick.is_finite() or tick <= 0:
            raise ValueError(f"tick: {tick} is not a positive number")
        if spread_ticks < 1:
            raise ValueError(f"spread_ticks: {spread_ticks} must be at least 1 so that bid < ask")
        if max_step_ticks < 0:
            raise ValueError(f"max_step_ticks: {max_step_ticks} is negative")
        if not sizes or any(Decimal(s) <= 0 for s in sizes):
            raise ValueError("sizes: give at least one size, all positive")
        if not trade_sizes or any(Decimal(s) <= 0 for s in trade_sizes):
            raise ValueError("trade_sizes: give at least one size, all positive")
        if not 0 <= trade_probability <= 1:
            raise ValueError(f"trade_probability: {trade_probability} is not in [0, 1]")
        self.tick = tick
        self.spread_ticks = spread_ticks
        self.sizes = tuple(Decimal(s) for s in sizes)
        self.trade_sizes = tuple(Decimal(s) for s in trade_sizes)
        self.trade_probability = trade_probability
        self.max_step_ticks = max_step_ticks
        self.venue = venue
        self._rng = random.Random(seed)
        self._walks: dict[str, _Walk] = {}
        for instrument, start in instruments.items():
            start = Decimal(start)
            if not start.is_finite() or start <= 0:
                raise ValueError(f"instruments: start price {start} of {instrument} is not positive")
            # the start price is the mid: bid = start - half the spread, on the tick
            ticks = int((start / tick).to_integral_value(rounding=ROUND_HALF_EVEN)) - spread_ticks // 2
            self._walks[instrument] = _Walk(max(ticks, 1))

    @property
    def instruments(self) -> tuple[str, ...]:
        return tuple(self._walks)

    def next(self, now: int) -> list[MarketData]:
        """One step at time `now` (UTC ns): a quote per instrument, each maybe followed by a trade."""
        if now < 0:
            raise ValueError(f"now: {now} is negative")
        rng = self._rng
        out: list[MarketData] = []
        for instrument, walk in self._walks.items():
            step = rng.randint(-self.max_step_ticks, self.max_step_ticks)
            walk.bid_ticks = max(walk.bid_ticks + step, 1)
            bid = self.tick * walk.bid_ticks
            ask = self.tick * (walk.bid_ticks + self.spread_ticks)
            walk.n += 1
            out.append(
                Quote(
                    event_id=md_event_id(instrument, walk.n),
                    ts_event=now,
                    ts_init=now,
                    instrument=instrument,
                    venue=self.venue,
                    bid_price=bid,
                    bid_size=rng.choice(self.sizes),
                    ask_price=ask,
                    ask_size=rng.choice(self.sizes),
                )
            )
            if rng.random() < self.trade_probability:
                aggressor = rng.choice((Side.BUY, Side.SELL))
                walk.n += 1
                event_id = md_event_id(instrument, walk.n)
                out.append(
                    Trade(
                        event_id=event_id,
                        ts_event=now,
                        ts_init=now,
                        instrument=instrument,
                        venue=self.venue,
                        price=ask if aggressor is Side.BUY else bid,
                        size=rng.choice(self.trade_sizes),
                        aggressor=aggressor,
                        trade_id=event_id,
                    )
                )
        return out


# ------------------------------------------------------------ venues and depth


@dataclass(frozen=True)
class VenueShape:
    """How one venue shows the synthetic feed (see `VenueDepth`)."""

    offset: Decimal = Decimal(0)
    """Added to every price the venue shows."""
    spread: Decimal | None = None
    """The venue's ask minus its bid; None: the feed's."""
    size: Decimal | None = None
    """The venue's size at the top of each side, the unit of its deeper levels; None: the feed's top size."""

    def __post_init__(self) -> None:
        for name in ("offset", "spread", "size"):
            value = getattr(self, name)
            if value is None:
                continue
            value = Decimal(value)
            if not value.is_finite():
                raise ValueError(f"{name}: {getattr(self, name)} is not finite")
            if name != "offset" and value <= 0:
                raise ValueError(f"{name}: {getattr(self, name)} is not a positive number")
            if value.as_tuple().exponent < -SCALE:
                raise ValueError(f"{name}: {getattr(self, name)} has more than {SCALE} decimal places")
            object.__setattr__(self, name, value)


class VenueDepth:
    """The synthetic feed as venues show it: each quote and trade once per venue, with depth.

    For venue `v` with shape `(offset, spread, size)` and a feed quote `bid/ask`:
    the venue's bid is `bid + offset`, moved down by half the difference between
    its spread and the feed's (rounded down to the tick) so that its spread stays
    centred on the feed's, and its ask is that bid plus its spread (the feed's
    when it has none); a bid below one tick is raised to one tick, the ask with
    it. It shows `depth` levels a side, one tick apart (bid levels that would be
    at or below zero are left out): the first shows `size` (else the feed's top
    size on that side), each deeper one `size` times a draw from `size_steps`,
    from the venue's own `random.Random` seeded with `f"{seed}:{venue}"` (so
    venues do not change each other's sizes). With `depth` 1 a quote is top of
    book only (no levels). A trade is shown at its price plus the offset; at a
    venue with a spread of its own, at the venue's ask when a buyer lifted it and
    its bid when a seller hit it. Tagged events carry the venue and the event id
    suffixed `@venue`; the venue `None` (no venues given) leaves the feed
    untagged, with its ids.
    """

    def __init__(self, venues: Mapping[str | None, VenueShape] | None, seed: int, depth: int = 1,
                 tick: Decimal = Decimal("0.01"), size_steps: Sequence[int] = (1, 2, 3, 4)) -> None:
        if not 1 <= depth <= MAX_QUOTE_LEVELS:
            raise ValueError(f"depth: {depth} is not a number of levels from 1 to {MAX_QUOTE_LEVELS}")
        tick = Decimal(tick)
        if not tick.is_finite() or tick <= 0:
            raise ValueError(f"tick: {tick} is not a positive number")
        if not size_steps or any(int(k) != k or k < 1 for k in size_steps):
            raise ValueError("size_steps: give at least one multiple, all whole numbers from 1")
        self.venues: dict[str | None, VenueShape] = dict(venues) if venues else {None: VenueShape()}
        for venue, shape in self.venues.items():
            if not isinstance(shape, VenueShape):
                raise TypeError(f"venues: the shape of {venue} is a {type(shape).__name__}, not a VenueShape")
            if shape.spread is not None and shape.spread % tick:
                raise ValueError(f"spread: {shape.spread} of {venue} is not a multiple of the tick {tick}")
        self.depth = depth
        self.tick = tick
        self.size_steps = tuple(int(k) for k in size_steps)
        self._rngs = {venue: random.Random(f"{seed}:{venue}") for venue in self.venues}
        self._shown: dict[tuple[str | None, str], tuple[Decimal, Decimal]] = {}
        """(venue, instrument) -> the venue's last (bid, ask), where its trades print."""

    def tagged(self, event: MarketData) -> list[MarketData]:
        """`event` as each venue shows it, in the order the venues were given."""
        if isinstance(event, Quote):
            return [self._quote(event, venue, shape) for venue, shape in self.venues.items()]
        return [self._trade(event, venue, shape) for venue, shape in self.venues.items()]

    def _on_tick(self, value: Decimal) -> Decimal:
        return (value / self.tick).to_integral_value(rounding=ROUND_FLOOR) * self.tick

    def _envelope(self, event: MarketData, venue: str | None) -> dict:
        if venue is None:
            return dict(event_id=event.event_id, venue=event.venue)
        return dict(event_id=f"{event.event_id}@{venue}", venue=venue)

    def _quote(self, quote: Quote, venue: str | None, shape: VenueShape) -> Quote:
        spread = quote.ask_price - quote.bid_price if shape.spread is None else shape.spread
        bid = quote.bid_price + shape.offset + self._on_tick((quote.ask_price - quote.bid_price - spread) / 2)
        bid = max(bid, self.tick)
        ask = bid + spread
        self._shown[(venue, quote.instrument)] = (bid, ask)
        rng = self._rngs[venue]
        bids = self._side(rng, bid, -self.tick, shape.size or quote.bid_size)
        asks = self._side(rng, ask, self.tick, shape.size or quote.ask_size)
        return Quote(
            **self._envelope(quote, venue), ts_event=quote.ts_event, ts_init=quote.ts_init,
            instrument=quote.instrument, bid_price=bid, bid_size=shape.size or quote.bid_size, ask_price=ask,
            ask_size=shape.size or quote.ask_size,
            bid_levels=bids, ask_levels=asks,
        )

    def _side(self, rng: random.Random, top: Decimal, step: Decimal, unit: Decimal) -> tuple[BookLevel, ...]:
        """`depth` levels from `top`, `step` apart (none at depth 1, or without a size to show)."""
        if self.depth == 1 or unit <= 0:
            return ()
        levels = [BookLevel(price=top, size=unit)]
        for n in range(1, self.depth):
            size = unit * rng.choice(self.size_steps)  # drawn for every level, kept or not: same draws per step
            price = top + step * n
            if price > 0:
                levels.append(BookLevel(price=price, size=size))
        return tuple(levels)

    def _trade(self, trade: Trade, venue: str | None, shape: VenueShape) -> Trade:
        shown = self._shown.get((venue, trade.instrument)) if shape.spread is not None else None
        if shown is not None and trade.aggressor is not None:
            price = shown[1] if trade.aggressor is Side.BUY else shown[0]
        else:
            price = max(trade.price + shape.offset, self.tick)
        return Trade.model_validate({**dict(trade), **self._envelope(trade, venue), "price": price})

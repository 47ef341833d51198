"""Market data as events: the `MarketData` type, its event ids, and a seeded synthetic feed.

This module owns what a market data event is here (`MarketData`: a `Quote` or
a `Trade`), its deterministic event id (`md_event_id`: `md.{instrument}.{n}`, n
counting that instrument's events from 1) and `SyntheticFeed`, a seeded random
walk per instrument with a fixed spread, always on the tick and positive.
Files (CSV and Parquet, any column layout and timestamp form) are read by the
one loader, `connectors.marketdata_files`, which uses these ids. Pure: no I/O,
no Kafka, no clock reads (time is passed in), randomness only from the feed's
own seeded `random.Random`.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Mapping, Sequence

from oms.events import Quote, Side, Trade

__all__ = ["MarketData", "SyntheticFeed", "md_event_id"]

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

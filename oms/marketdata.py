"""Market data as events: a seeded synthetic feed and a CSV reader, both producing `Quote` and `Trade`.

This module owns turning market data sources into normalized `Quote` and
`Trade` events. `SyntheticFeed` is a seeded random walk per instrument with a
fixed spread, always on the tick and positive; `read_csv` parses a file of
quotes and trades and raises a `ValueError` naming the line and field of the
first bad row. It is pure apart from `read_csv` opening the file it is given:
no Kafka, no clock reads (time is passed in, or read from a `Clock` passed in),
randomness only from the feed's own seeded `random.Random`. Event ids are
deterministic: `md.{instrument}.{n}`, n counting that instrument's events from 1.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from pydantic import ValidationError

from oms.clock import Clock, parse_time
from oms.events import Quote, Side, Trade

__all__ = ["CSV_COLUMNS", "MarketData", "SyntheticFeed", "md_event_id", "read_csv"]

MarketData = Quote | Trade

CSV_COLUMNS = ("type", "ts", "instrument", "bid_price", "bid_size", "ask_price", "ask_size", "price", "size")
"""The header of a market data CSV, in this order. An optional `venue` column may follow."""
_OPTIONAL_COLUMNS = ("venue",)
_MAX_ID = 64
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@\-]*$")


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


# ------------------------------------------------------------------- CSV


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _instrument(text: str) -> str:
    if len(text) > _MAX_ID or not _IDENTIFIER.match(text):
        raise ValueError(f"{text!r} is not an identifier (letters, digits and ._:/@-, at most {_MAX_ID})")
    return text


class _RowError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _required(row: dict, name: str, convert):
    text = (row.get(name) or "").strip()
    if not text:
        raise _RowError(name, "missing")
    try:
        return convert(text)
    except ValueError as exc:
        raise _RowError(name, str(exc)) from None


def _row_event(row: dict, n: int, ts_init: int | None) -> MarketData:
    kind = (row.get("type") or "").strip().lower()
    instrument = _required(row, "instrument", _instrument)
    ts = _required(row, "ts", parse_time)
    venue = (row.get("venue") or "").strip() or None
    common = dict(
        event_id=md_event_id(instrument, n),
        ts_event=ts,
        ts_init=ts if ts_init is None else ts_init,
        instrument=instrument,
        venue=venue,
    )
    try:
        if kind == "quote":
            return Quote(
                **common,
                bid_price=_required(row, "bid_price", _decimal),
                bid_size=_required(row, "bid_size", _decimal),
                ask_price=_required(row, "ask_price", _decimal),
                ask_size=_required(row, "ask_size", _decimal),
            )
        if kind == "trade":
            return Trade(
                **common,
                price=_required(row, "price", _decimal),
                size=_required(row, "size", _decimal),
            )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if not field and ":" in message:  # model-level check: "field: reason"
            field, message = message.split(":", 1)
        raise _RowError(field or "row", message.strip()) from None
    raise _RowError("type", f"{row.get('type')!r} is not quote or trade")


def read_csv(path: str | Path, clock: Clock | None = None) -> Iterator[MarketData]:
    """The quotes and trades of a CSV file, in file order.

    The header is `type,ts,instrument,bid_price,bid_size,ask_price,ask_size,price,size`
    (an optional `venue` column may be added). `type` is `quote` or `trade`;
    `ts` is integer nanoseconds or ISO-8601 UTC and becomes `ts_event`;
    decimals are strings and never go through binary floats. `ts_init` is
    `clock.now_ns()` when a clock is given, else `ts_event`. Blank lines and
    lines starting with `#` are skipped. The first bad row raises a
    `ValueError` "path:line N: field: reason" (physical line numbers, header = 1).
    """
    path = Path(path)
    counters: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = None
        for cells in reader:
            line = reader.line_num
            if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [c.strip().lower() for c in cells]
                missing = [c for c in CSV_COLUMNS if c not in header]
                unknown = [c for c in header if c not in CSV_COLUMNS and c not in _OPTIONAL_COLUMNS]
                if missing or unknown or len(set(header)) != len(header):
                    raise ValueError(
                        f"{path}:line {line}: header: expected {','.join(CSV_COLUMNS)}"
                        f" (optionally venue), got {','.join(header)}"
                    )
                continue
            if len(cells) != len(header):
                raise ValueError(f"{path}:line {line}: row: {len(cells)} fields, the header has {len(header)}")
            row = dict(zip(header, cells))
            instrument = (row.get("instrument") or "").strip()
            n = counters.get(instrument, 0) + 1
            try:
                event = _row_event(row, n, None if clock is None else clock.now_ns())
            except _RowError as exc:
                raise ValueError(f"{path}:line {line}: {exc.field}: {exc}") from None
            counters[instrument] = n
            yield event
        if header is None:
            raise ValueError(f"{path}:line 1: header: the file is empty")

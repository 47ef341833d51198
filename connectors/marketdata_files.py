"""Historical market data files: CSV and Parquet quotes and trades, in the layouts people have.

This module owns reading market data files into `Quote` and `Trade` events. A
`ColumnMap` names the file's columns (timestamp, instrument, type, bid/ask
price and size, trade price, size, aggressor side, venue); a `TimeFormat` says
how its timestamps are written (ISO 8601 with or without a zone, the compact
`YYYYMMDD HHMMSSfff`, epoch seconds, milliseconds, microseconds or
nanoseconds) or `AUTO` detects it per value (ISO by shape, compact by shape,
epoch by the number of integer digits: <= 10 s, <= 13 ms, <= 16 µs, else ns; a
fractional epoch is seconds). Column names match exactly, or
case-insensitively when only one column has that name in any case. A file
holds one instrument (`instrument=`) or has an instrument column (each value an
`Identifier`); a file holds one kind (`kind=`) or has a type column, or
the kind follows from the columns mapped (bid/ask → quotes, price → trades).
A quote may show depth: level columns `bid_price_1`, `bid_size_1`, `ask_price_1`,
`ask_size_1`, `bid_price_2`, ... (level 1 is the top; the names are templates in
the column map, `bid_price_n=BP{n}` for a vendor's `BP1`, `BP2`, ...) become the
quote's `bid_levels` and `ask_levels`. Levels run from 1 while the file has a
price column for either side; a level whose price and size cells are both empty,
or whose size is 0, is left out (a thinner book on that row), one with only one
of them is a bad row.
Without top-of-book columns the top is level 1; with both, they must agree.
Every value goes through `Decimal` from its text (a Parquet float through its
shortest repr), never through binary arithmetic. A bad row raises `BadRow`
naming the file, the line (CSV: physical line, header = 1; Parquet: row number
from 1) and the reason, or, with `skip_bad=True`, is counted in the
`LoadReport` and skipped. Event ids are those of `oms.marketdata.md_event_id`
(per instrument, counting from 1 in file order). `load_files` merges several
files into one stream ordered by `ts_event` (stable: file order on ties).
"""

from __future__ import annotations

import csv
import heapq
import re
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Iterable, Iterator

from pydantic import ValidationError

from oms.clock import parse_time
from oms.events import MAX_QUOTE_LEVELS, Quote, Side, Trade, is_identifier
from oms.marketdata import MarketData, md_event_id

__all__ = ["BadRow", "ColumnMap", "LoadReport", "TimeFormat", "load_file", "load_files", "parse_timestamp"]


class TimeFormat(str, Enum):
    AUTO = "auto"
    ISO = "iso"
    COMPACT = "compact"
    """`YYYYMMDD HHMMSSfff` (also `YYYYMMDD-HHMMSS.ffffff` and without fraction); UTC."""
    EPOCH_S = "s"
    EPOCH_MS = "ms"
    EPOCH_US = "us"
    EPOCH_NS = "ns"


_SCALE = {TimeFormat.EPOCH_S: 1_000_000_000, TimeFormat.EPOCH_MS: 1_000_000, TimeFormat.EPOCH_US: 1_000,
          TimeFormat.EPOCH_NS: 1}
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})[ T\-_](\d{2})(\d{2})(\d{2})[.,]?(\d{0,9})$")
_EPOCH = re.compile(r"^\d+(\.\d+)?$")


def _compact(text: str) -> int:
    m = _COMPACT.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not YYYYMMDD HHMMSSfff")
    y, mo, d, h, mi, s, frac = m.groups()
    whole = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=timezone.utc)
    return int(whole.timestamp()) * 1_000_000_000 + int(frac.ljust(9, "0") or 0)


def _epoch(text: str, form: TimeFormat) -> int:
    if not _EPOCH.match(text):
        raise ValueError(f"{text!r} is not an epoch number")
    value = Decimal(text) * _SCALE[form]
    if value != value.to_integral_value():
        raise ValueError(f"{text!r} has more precision than nanoseconds")
    return int(value)


def detect(text: str) -> TimeFormat:
    """The form of one timestamp text (see the module docstring)."""
    text = text.strip()
    if _COMPACT.match(text):
        return TimeFormat.COMPACT
    if _EPOCH.match(text):
        if "." in text:
            return TimeFormat.EPOCH_S
        digits = len(text.lstrip("0")) or 1
        return (TimeFormat.EPOCH_S if digits <= 10 else TimeFormat.EPOCH_MS if digits <= 13
                else TimeFormat.EPOCH_US if digits <= 16 else TimeFormat.EPOCH_NS)
    return TimeFormat.ISO


def parse_timestamp(text: str, form: TimeFormat = TimeFormat.AUTO) -> int:
    """UTC nanoseconds of `text` written in `form` (`AUTO`: detected); `ValueError` naming it otherwise."""
    text = str(text).strip()
    if not text:
        raise ValueError("missing")
    if form is TimeFormat.AUTO:
        form = detect(text)
    if form is TimeFormat.ISO:
        if _EPOCH.match(text):
            raise ValueError(f"{text!r} is not an ISO 8601 time")
        return parse_time(text)
    if form is TimeFormat.COMPACT:
        return _compact(text)
    return _epoch(text, form)


LEVEL_FIELDS = ("bid_price_n", "bid_size_n", "ask_price_n", "ask_size_n")
"""The `ColumnMap` fields that are templates of level columns."""


@dataclass(frozen=True)
class ColumnMap:
    """The file's column name for each field (None: the file has no such column)."""

    ts: str = "ts"
    instrument: str | None = "instrument"
    type: str | None = "type"
    bid_price: str | None = "bid_price"
    bid_size: str | None = "bid_size"
    ask_price: str | None = "ask_price"
    ask_size: str | None = "ask_size"
    price: str | None = "price"
    size: str | None = "size"
    side: str | None = "side"
    venue: str | None = "venue"
    bid_price_n: str | None = "bid_price_{n}"
    """Level columns: templates where `{n}` is the level, from 1 (the top of book)."""
    bid_size_n: str | None = "bid_size_{n}"
    ask_price_n: str | None = "ask_price_{n}"
    ask_size_n: str | None = "ask_size_{n}"

    def __post_init__(self) -> None:
        for name in LEVEL_FIELDS:
            template = getattr(self, name)
            if template is not None and (template.count("{n}") != 1 or template.replace("{n}", "").count("{")
                                         or template.count("}") != 1):
                raise ValueError(f"columns: {name}={template!r} is not a column name template with one {{n}} "
                                 f"(the level, from 1)")

    @classmethod
    def parse(cls, spec: str) -> "ColumnMap":
        """`ts=time,bid_price=bid,ask_price=ask` → the default map with those names changed
        (`field=` with no name: the file has no such column)."""
        names = {f.name for f in fields(cls)}
        changes: dict[str, str | None] = {}
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            name, sep, column = part.partition("=")
            if not sep or name.strip() not in names:
                raise ValueError(f"columns: {part!r} is not FIELD=COLUMN with FIELD one of {', '.join(sorted(names))}")
            changes[name.strip()] = column.strip() or None
        return cls(**changes)


class BadRow(ValueError):
    """A row that is not a quote or trade: where it is and why."""

    def __init__(self, file: str, line: int, reason: str) -> None:
        super().__init__(f"{file}:line {line}: {reason}")
        self.file, self.line, self.reason = file, line, reason


@dataclass
class LoadReport:
    """What a load read: events yielded and bad rows skipped (each with file, line and reason)."""

    events: int = 0
    bad: list[BadRow] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.bad)


def _decimal(text) -> Decimal:
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _blank(value):
    """None for a missing or blank cell, else the cell."""
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _identifier(text: str) -> str:
    if not is_identifier(text):
        raise ValueError(f"{text!r} is not an identifier (letters, digits and ._:/@-, at most 64)")
    return text


def _side(text: str) -> Side | None:
    t = str(text).strip().upper()
    if t in ("B", "BUY", "BID", "1"):
        return Side.BUY
    if t in ("S", "SELL", "ASK", "OFFER", "2"):
        return Side.SELL
    if t in ("", "N", "NONE", "UNKNOWN"):
        return None
    raise ValueError(f"{text!r} is not a side (B/BUY, S/SELL)")


class _Parser:
    """Turns one row (column name → text) into an event; raises ValueError with the reason."""

    def __init__(self, columns: ColumnMap, header: list[str], kind: str | None, instrument: str | None,
                 venue: str | None, form: TimeFormat) -> None:
        self.form = form
        self.instrument, self.venue = instrument, venue
        present = set(header)

        folded: dict[str, str | None] = {}
        for column in header:  # a case-insensitive match when unique: "TS" is "ts"
            folded[column.lower()] = None if column.lower() in folded else column

        def col(name: str | None) -> str | None:
            if name is None:
                return None
            return name if name in present else folded.get(name.lower())

        self.c = {f.name: col(getattr(columns, f.name)) for f in fields(ColumnMap) if f.name not in LEVEL_FIELDS}
        self.levels = self._level_columns(columns, col)
        if self.c["ts"] is None:
            raise ValueError(f"no timestamp column {columns.ts!r} (columns: {', '.join(header)})")
        if instrument is None and self.c["instrument"] is None:
            raise ValueError(f"no instrument column {columns.instrument!r}: name the instrument of the file")
        if instrument is not None:
            _identifier(instrument)
        if kind is None and self.c["type"] is None:
            quotes = all(self.c[n] or self.levels for n in ("bid_price", "bid_size", "ask_price", "ask_size"))
            trades = all(self.c[n] for n in ("price", "size"))
            if quotes == trades:
                raise ValueError("no type column and the columns do not say quote or trade: name the kind")
            kind = "quote" if quotes else "trade"
        self.kind = kind
        self.counters: dict[str, int] = {}

    @staticmethod
    def _level_columns(columns: ColumnMap, col) -> list[dict[str, str | None]]:
        """Per level from 1: field (bid_price, bid_size, ask_price, ask_size) -> its column, while the
        file has a price column of the level; a side's price without its size (or the reverse) is refused."""
        levels = []
        for n in range(1, MAX_QUOTE_LEVELS + 2):
            level = {name.removesuffix("_n"): col(template.format(n=n)) if (template := getattr(columns, name))
                     else None for name in LEVEL_FIELDS}
            if level["bid_price"] is None and level["ask_price"] is None:
                break
            for side in ("bid", "ask"):
                if (level[f"{side}_price"] is None) != (level[f"{side}_size"] is None):
                    missing = f"{side}_size" if level[f"{side}_size"] is None else f"{side}_price"
                    raise ValueError(f"level {n}: the {side} side needs both price and size columns, "
                                     f"no {getattr(columns, missing + '_n').format(n=n)!r}")
            levels.append(level)
        if len(levels) > MAX_QUOTE_LEVELS:
            raise ValueError(f"level columns: more than {MAX_QUOTE_LEVELS} levels")
        return levels

    def _depth(self, row: dict, side: str) -> list[dict[str, Decimal]]:
        """The side's levels of a row: those with a price and a size, in level order."""
        out = []
        for n, level in enumerate(self.levels, start=1):
            price_column, size_column = level[f"{side}_price"], level[f"{side}_size"]
            if price_column is None:
                continue
            price, size = (_blank(row.get(price_column)), _blank(row.get(size_column)))
            if price is None and size is None:
                continue
            values = {}
            for name, value in (("price", price), ("size", size)):
                if value is None:
                    raise ValueError(f"{side}_{name}_{n}: missing")
                try:
                    values[name] = _decimal(value)
                except ValueError as exc:
                    raise ValueError(f"{side}_{name}_{n}: {exc}") from None
            if values["size"] < 0 or values["price"] <= 0 and values["size"] > 0:
                wrong = "size" if values["size"] < 0 else "price"
                raise ValueError(f"{side}_{wrong}_{n}: {values[wrong]} is not positive")
            if values["size"] != 0:  # a level of size 0 shows nothing (vendors pad thin books so)
                out.append(values)
        return out

    def _quote_fields(self, row: dict) -> dict:
        """A quote's prices, sizes and levels; the top from its columns, else from level 1."""
        out: dict = {}
        for side in ("bid", "ask"):
            levels = self._depth(row, side) if self.levels else []
            for name in ("price", "size"):
                field_name = f"{side}_{name}"
                if self.c[field_name] is not None or not levels:
                    out[field_name] = self._number(row, field_name)
                else:
                    out[field_name] = levels[0][name]
            out[f"{side}_levels"] = levels
        return out

    def _get(self, row: dict, name: str, required: bool = True):
        column = self.c[name]
        value = row.get(column) if column is not None else None
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise ValueError(f"{name}: missing")
            return None
        return value

    def _number(self, row: dict, name: str) -> Decimal:
        value = self._get(row, name)
        try:
            return _decimal(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None

    def event(self, row: dict) -> MarketData:
        kind = self.kind or str(self._get(row, "type")).strip().lower()
        instrument = self.instrument or str(self._get(row, "instrument")).strip()
        if instrument is not self.instrument:
            try:
                _identifier(instrument)
            except ValueError as exc:
                raise ValueError(f"instrument: {exc}") from None
        venue = self.venue or (str(v).strip() if (v := self._get(row, "venue", False)) is not None else None)
        try:
            ts = parse_timestamp(self._get(row, "ts"), self.form)
        except ValueError as exc:
            raise ValueError(f"ts: {exc}") from None
        n = self.counters.get(instrument, 0) + 1
        common = dict(event_id=md_event_id(instrument, n), ts_event=ts, ts_init=ts, instrument=instrument, venue=venue)
        try:
            if kind == "quote":
                event: MarketData = Quote(**common, **self._quote_fields(row))
            elif kind == "trade":
                side = self._get(row, "side", False)
                try:
                    aggressor = _side(side) if side is not None else None
                except ValueError as exc:
                    raise ValueError(f"side: {exc}") from None
                event = Trade(**common, price=self._number(row, "price"), size=self._number(row, "size"),
                              aggressor=aggressor)
            else:
                raise ValueError(f"type: {kind!r} is not quote or trade")
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = first["loc"]
            if len(loc) == 3 and loc[0] in ("bid_levels", "ask_levels"):  # the file's level columns count from 1
                loc = (f"{loc[0].split('_')[0]}_{loc[2]}_{loc[1] + 1}",)
            where = ".".join(str(x) for x in loc)
            message = first["msg"].removeprefix("Value error, ")
            if not where and ":" in message:  # a check across fields says "field: reason"
                where, message = (part.strip() for part in message.split(":", 1))
            raise ValueError(f"{where or 'row'}: {message}") from None
        self.counters[instrument] = n
        return event


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str] | None, dict | None]]:
    """(line, header, None) once, then (line, None, row); blank and `#` lines skipped."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = None
        for cells in reader:
            if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [c.strip() for c in cells]
                yield reader.line_num, header, None
                continue
            if len(cells) != len(header):
                yield reader.line_num, None, {"__error__": f"row: {len(cells)} fields, the header has {len(header)}"}
                continue
            yield reader.line_num, None, dict(zip(header, cells))
        if header is None:
            raise BadRow(str(path), 1, "header: the file is empty")


def _parquet_rows(path: Path) -> Iterator[tuple[int, list[str] | None, dict | None]]:
    import pyarrow.parquet as pq  # local: only Parquet needs it

    table = pq.read_table(path)
    yield 0, list(table.column_names), None
    line = 0
    for batch in table.to_batches():
        for row in batch.to_pylist():
            line += 1
            yield line, None, {k: (None if v is None else v if isinstance(v, str) else
                                   str(int(v.timestamp() * 1_000_000)) if isinstance(v, datetime) else repr(v)
                                   if isinstance(v, float) else str(v)) for k, v in row.items()}


def load_file(path: str | Path, columns: ColumnMap = ColumnMap(), *, kind: str | None = None,
              instrument: str | None = None, venue: str | None = None, time_format: TimeFormat = TimeFormat.AUTO,
              skip_bad: bool = False, report: LoadReport | None = None) -> Iterator[MarketData]:
    """The quotes and trades of one CSV or Parquet file (by suffix `.parquet`/`.pq`), in file order.

    `kind` ("quote"/"trade"), `instrument` and `venue` fix those for every row (else columns give them).
    A bad row raises `BadRow`, or with `skip_bad` is added to `report.bad` and skipped."""
    path = Path(path)
    report = report if report is not None else LoadReport()
    if kind is not None and kind not in ("quote", "trade"):
        raise ValueError(f"kind: {kind!r} is not quote or trade")
    rows = _parquet_rows(path) if path.suffix.lower() in (".parquet", ".pq") else _csv_rows(path)
    parser: _Parser | None = None
    for line, header, row in rows:
        if header is not None:
            try:
                parser = _Parser(columns, header, kind, instrument, venue, TimeFormat(time_format))
            except ValueError as exc:
                raise BadRow(str(path), line or 1, f"header: {exc}") from None
            continue
        assert parser is not None and row is not None
        try:
            if "__error__" in row:
                raise ValueError(row["__error__"])
            event = parser.event(row)
        except ValueError as exc:
            bad = BadRow(str(path), line, str(exc))
            if not skip_bad:
                raise bad from None
            report.bad.append(bad)
            continue
        report.events += 1
        yield event


def load_files(paths: Iterable[str | Path], columns: ColumnMap = ColumnMap(), *,
               report: LoadReport | None = None, **options) -> Iterator[MarketData]:
    """Several files (each as `load_file` with the same options) merged into one stream by `ts_event`;
    ties keep file order. With one instrument per file, pass `instrument=None` and name files
    `<INSTRUMENT>.csv`/`.parquet`: `per_instrument_files=True` takes the instrument from the file stem."""
    per_file = options.pop("per_instrument_files", False)
    report = report if report is not None else LoadReport()
    streams = []
    for i, path in enumerate(paths):
        opts = dict(options)
        if per_file:
            opts["instrument"] = Path(path).stem
        streams.append(((e.ts_event, i, e) for e in load_file(path, columns, report=report, **opts)))
    for _, _, event in heapq.merge(*streams, key=lambda t: (t[0], t[1])):
        yield event

"""Exports for analysts: orders, fills, positions and the journal as of a time, to Parquet, CSV or DataFrames.

This module owns turning a journal into tables. The journal comes from the
journal topic (`journal_from_topic`, through the one topic reader of
`replay.journal`), from a backtest's journal file (`journal_from_file`: Avro
single-object frames each prefixed by a 4-byte big-endian length, as
`replay.backtest.BacktestResult.journal_bytes` writes) or from any iterable of
events. `export(events, as_of=, account=, instrument=)` keeps the events up to
`as_of` (ts_event, inclusive) of that account and instrument and folds them with
the one journal fold (`oms.domain.projection.JournalProjection`): orders as
of then, positions, fills (every `OrderFilled`) and the journal itself (one row
per event: its schema name and fields). `Export.frames()` gives pandas
DataFrames (exact `Decimal` money), `write_export` writes them as Parquet
(decimal128(38, 10)) or CSV. Pure apart from the readers and writers.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import Callable, Iterable, Iterator, get_args

from pydantic.fields import FieldInfo

from oms.domain.projection import JournalProjection
from oms.events import Event, JournalEvent, OrderFilled

__all__ = ["CHUNK_ROWS", "Export", "JournalTable", "TableFile", "commands_from_topic", "export", "export_files",
           "fills_schema", "journal_from_file", "journal_from_topic", "journal_schema", "write_export", "write_parquet"]

_LENGTH = struct.Struct(">I")


def journal_from_file(path: str | Path, *, on_bytes: Callable[[int], None] | None = None) -> Iterator[Event]:
    """The events of a length-prefixed journal file; `ValueError` naming the byte offset of a bad frame.
    `on_bytes(n)` is called with each frame's length, prefix included (for a progress bar)."""
    from streams.codec import SingleObjectCodec

    codec = SingleObjectCodec()
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:  # pages of the file, not a copy of it
            yield from _frames(path, data, codec, on_bytes)


def _frames(path, data, codec, on_bytes: Callable[[int], None] | None) -> Iterator[Event]:
    """The events of the frames in `data` (the file's bytes); see `journal_from_file`."""
    from streams.codec import DecodeError

    at = 0
    while at < len(data):
        if at + 4 > len(data):
            raise ValueError(f"{path}: truncated frame length at byte {at}")
        (size,) = _LENGTH.unpack_from(data, at)
        frame = data[at + 4: at + 4 + size]
        if len(frame) != size:
            raise ValueError(f"{path}: truncated frame at byte {at}")
        try:
            yield codec.decode("order.events", frame, canonical=False)
        except DecodeError as exc:
            raise ValueError(f"{path}: byte {at}: {exc}") from None
        at += 4 + size
        if on_bytes is not None:
            on_bytes(4 + size)


def journal_from_topic(runtime, *, timeout: float = 30.0, errors: list[str] | None = None,
                       until_ns: int | None = None, on_total: Callable[[int], None] | None = None,
                       on_record: Callable[[int], None] | None = None) -> Iterator[Event]:
    """The events of the journal topic of `runtime` (every partition, to its end at start, or with
    `until_ns` to its first event after that time, as replay reads the state as of a time);
    undecodable records are appended to `errors` (when given) and skipped. `on_total(n)` is told
    how many records there are to read and `on_record(offset)` called per record (a progress bar)."""
    from replay.journal import read_topic  # the one journal reader (local: it loads the Kafka client)

    stop = None if until_ns is None else (lambda event: event.ts_event > until_ns)
    for _, _, _, _, event in read_topic(runtime, runtime.topics.journal, timeout=timeout, canonical=False,
                                   on_error=errors.append if errors is not None else None, stop=stop,
                                   on_total=on_total, on_record=on_record):
        if event is not None:
            yield event


def commands_from_topic(runtime, *, timeout: float = 30.0, errors: list[str] | None = None) -> list[Event]:
    """The recorded commands of the commands topic of `runtime` (every partition to its end at start),
    in `ts_event` order (stable); undecodable records go to `errors` (when given)."""
    from replay.journal import read_topic  # the one topic reader, with the topic's admission rules

    found = [event for _, _, _, _, event in read_topic(runtime, runtime.topics.commands, timeout=timeout,
                                                  on_error=errors.append if errors is not None else None)
             if event is not None]
    return sorted(found, key=lambda e: e.ts_event)


def _scalar(annotation) -> type | None:
    """The class a journal field holds, Optional and Annotated looked through (None: no one class)."""
    if isinstance(annotation, type):
        return annotation
    for arg in get_args(annotation):
        if arg is not type(None) and not isinstance(arg, FieldInfo):
            return _scalar(arg)
    return None


def _is_enum(annotation) -> bool:
    """True when a field holds an Enum."""
    held = _scalar(annotation)
    return held is not None and issubclass(held, Enum)


@dataclass(frozen=True)
class _Kind:
    """What the journal table takes of one event class: its field names in order, a getter of
    their values as one tuple, and the positions of the fields holding enums."""

    names: tuple[str, ...]
    values: Callable[[Event], tuple]
    enums: frozenset[int]

    @classmethod
    def of(cls, kind: type[Event]) -> "_Kind":
        names = tuple(kind.model_fields)
        get = attrgetter(*names)
        values = get if len(names) > 1 else (lambda event: (get(event),))
        return cls(names, values, frozenset(i for i, name in enumerate(names)
                                            if _is_enum(kind.model_fields[name].annotation)))


_KINDS: dict[type, _Kind] = {}


class JournalTable:
    """The journal as a table: a row per event, `type` (its class name) and its fields, enums
    as their values; columns in first-seen order, None where a row's event has no such field.
    Kept by event class as events come (a tuple of field values each, read at once) and turned
    into columns when asked: no dict is built per event."""

    def __init__(self) -> None:
        self._kinds: dict[type, tuple[_Kind, list[tuple], list[int]]] = {}
        self._count = 0

    def append(self, event: Event) -> None:
        kind = type(event)
        entry = self._kinds.get(kind)
        if entry is None:
            shape = _KINDS.get(kind) or _KINDS.setdefault(kind, _Kind.of(kind))
            entry = self._kinds[kind] = (shape, [], [])
        entry[1].append(entry[0].values(event))
        entry[2].append(self._count)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def drain(self) -> dict[str, list]:
        """The columns of the rows held, which are then let go (the table starts empty again)."""
        columns = self.columns()
        self._kinds, self._count = {}, 0
        return columns

    def columns(self) -> dict[str, list]:
        """The table by column: name -> a value per row."""
        n = self._count
        types: list = [None] * n
        columns: dict[str, list] = {"type": types} if n else {}
        for kind, (shape, rows, at) in self._kinds.items():
            whole = len(at) == n  # one class throughout: its columns are the rows' values as they are
            name = kind.__name__
            if whole:
                columns["type"] = [name] * n
            else:
                for i in at:
                    types[i] = name
            for j, values in enumerate(zip(*rows)):
                if j in shape.enums:
                    values = [v if v is None else v.value for v in values]
                column = columns.get(shape.names[j])
                if column is None and whole:
                    columns[shape.names[j]] = list(values)
                    continue
                if column is None:
                    column = columns[shape.names[j]] = [None] * n
                for i, v in zip(at, values):
                    column[i] = v
        return columns

    def __iter__(self) -> Iterator[dict]:
        """The rows, as dicts of every column."""
        columns = self.columns()
        return (dict(zip(columns, row)) for row in zip(*columns.values()))


@dataclass
class Export:
    journal: JournalTable = field(default_factory=JournalTable)
    orders: list[dict] = field(default_factory=list)
    fills: list[dict] = field(default_factory=list)
    positions: list[dict] = field(default_factory=list)

    def frames(self) -> dict:
        """The four tables as pandas DataFrames, by name."""
        import pandas as pd

        return {"journal": pd.DataFrame(self.journal.columns()),
                **{name: pd.DataFrame(getattr(self, name)) for name in ("orders", "fills", "positions")}}


CHUNK_ROWS = 65_536
"""Rows of the journal and fills tables a streaming export holds before it writes them (`export_files`)."""


def export(events: Iterable[Event], *, as_of: int | None = None, account: str | None = None,
           instrument: str | None = None, on_chunk: Callable[[str, dict[str, list]], None] | None = None,
           chunk_rows: int = CHUNK_ROWS) -> Export:
    """The tables of the journal `events` as of `as_of` (UTC ns), for `account` and `instrument` (None: all).
    With `on_chunk`, the journal and fills tables are handed to it (`on_chunk(name, columns)`) every
    `chunk_rows` rows and at the end, and let go (the returned journal and fills are then empty):
    memory holds a chunk of each, and the orders and positions of the fold."""
    projection = JournalProjection(project_accounts=False)
    instruments: dict[str, str] = {}
    journal, fills = JournalTable(), []
    for event in events:
        if not isinstance(event, JournalEvent):
            continue
        if as_of is not None and event.ts_event > as_of:
            continue
        if account is not None and event.account != account:
            continue
        known = getattr(event, "instrument", None)
        if known is not None:
            instruments.setdefault(event.order_id, known)
        if instrument is not None and instruments.get(event.order_id) != instrument:
            continue
        projection.apply(event)
        journal.append(event)
        if on_chunk is not None and len(journal) >= chunk_rows:
            on_chunk("journal", journal.drain())
        if isinstance(event, OrderFilled):
            fills.append(dict(ts_event=event.ts_event, order_id=event.order_id, account=event.account,
                              client_order_id=event.client_order_id, instrument=event.instrument,
                              side=event.side.value, venue=event.venue, quantity=event.last_qty,
                              price=event.last_px, commission=event.commission, exec_id=event.exec_id,
                              fill_id=event.fill_id))
            if on_chunk is not None and len(fills) >= chunk_rows:
                on_chunk("fills", _columns(fills))
                fills = []
    if on_chunk is not None:
        if len(journal):
            on_chunk("journal", journal.drain())
        if fills:
            on_chunk("fills", _columns(fills))
            fills = []
    orders = [dict(order_id=o.order_id, account=o.account, client_order_id=o.client_order_id,
                   instrument=o.instrument, side=o.side.value, order_type=o.order_type.value,
                   quantity=o.quantity, limit_price=o.limit_price, venue=o.venue, status=o.status.value,
                   cum_qty=o.cum_qty, leaves_qty=o.leaves_qty, avg_px=o.avg_px, seq=o.seq, ts_last=o.ts_last,
                   reason=o.reason) for o in projection.orders.values()]
    positions = [dict(account=p.account, instrument=p.instrument, quantity=p.quantity, cost=p.cost,
                      realized_pnl=p.realized_pnl, commissions=p.commissions, fills=p.fills)
                 for p in projection.positions.values()]
    return Export(journal, orders, fills, positions)


def export_files(events: Iterable[Event], directory: str | Path, fmt: str = "parquet", *,
                 as_of: int | None = None, account: str | None = None, instrument: str | None = None,
                 chunk_rows: int = CHUNK_ROWS) -> dict[str, tuple[Path, int]]:
    """`export` of `events` written under `directory` as it goes (what `oms export` runs): the journal
    and fills tables a chunk at a time, so memory holds a chunk of each, not the whole journal; orders
    and positions are written at the end. Returns name -> (path, rows)."""
    files = _files(directory, fmt)
    try:
        result = export(events, as_of=as_of, account=account, instrument=instrument,
                        on_chunk=lambda name, columns: files[name].write(columns), chunk_rows=chunk_rows)
    finally:
        for file in files.values():
            file.close()
    written = {name: (file.path, file.rows) for name, file in files.items()}
    for name, path in _write_rows(result, Path(directory), fmt).items():
        written[name] = (path, len(getattr(result, name)))
    return written


def write_export(result: Export, directory: str | Path, fmt: str = "parquet") -> dict[str, Path]:
    """Write each table of `result` as `<name>.parquet` or `<name>.csv` under `directory`; returns
    name -> path. The journal and fills files have fixed columns (`journal_schema`, `fills_schema`),
    as `export_files` writes them."""
    files = _files(directory, fmt)
    try:
        files["journal"].write(result.journal.columns())
        files["fills"].write(_columns(result.fills))
    finally:
        for file in files.values():
            file.close()
    return {"journal": files["journal"].path, "fills": files["fills"].path,
            **_write_rows(result, Path(directory), fmt)}


def _check_format(fmt: str) -> None:
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format: {fmt!r} is not parquet or csv")


def _files(directory: str | Path, fmt: str) -> dict[str, "TableFile"]:
    """The journal and fills files of an export under `directory` (created), not yet written."""
    _check_format(fmt)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return {"journal": TableFile(directory / f"journal.{fmt}", fmt, journal_schema()),
            "fills": TableFile(directory / f"fills.{fmt}", fmt, fills_schema())}


def _write_rows(result: Export, directory: Path, fmt: str) -> dict[str, Path]:
    """The orders and positions tables of `result` as files; name -> path."""
    paths = {}
    for name in ("orders", "positions"):
        paths[name] = directory / f"{name}.{fmt}"
        if fmt == "csv":
            import pandas as pd

            pd.DataFrame(getattr(result, name)).to_csv(paths[name], index=False)
        else:
            write_parquet(_columns(getattr(result, name)), paths[name])
    return paths


def _arrow_type(annotation):
    """The Arrow type a journal field's annotation is written as (Optional and Annotated looked through)."""
    import pyarrow as pa

    held = _scalar(annotation)
    if held is not None and (issubclass(held, Enum) or held is str):
        return pa.string()
    column = {bool: pa.bool_(), int: pa.int64(), Decimal: pa.decimal128(38, 10)}.get(held)
    if column is None:
        raise TypeError(f"a journal field of type {annotation!r} has no column type")
    return column


def _journal_classes(root: type = JournalEvent) -> Iterator[type]:
    for kind in root.__subclasses__():
        yield kind
        yield from _journal_classes(kind)


@lru_cache(maxsize=1)
def journal_schema():
    """The journal table's columns in files: `type` (the event's class), then every field of every
    journal event class, first declared first, each with one Arrow type (exact decimals as
    decimal128(38, 10), enums as their values). The same for every export, so files line up."""
    import pyarrow as pa

    fields: dict[str, object] = {"type": pa.string()}
    for kind in _journal_classes():
        for name, info in kind.model_fields.items():
            column = _arrow_type(info.annotation)
            if fields.setdefault(name, column) != column:
                raise TypeError(f"journal field {name} has two column types: {fields[name]} and {column}")
    return pa.schema([pa.field(name, column) for name, column in fields.items()])


@lru_cache(maxsize=1)
def fills_schema():
    """The fills table's columns in files (one row per `OrderFilled`)."""
    import pyarrow as pa

    money = pa.decimal128(38, 10)
    return pa.schema([("ts_event", pa.int64())] + [(name, pa.string()) for name in (
        "order_id", "account", "client_order_id", "instrument", "side", "venue")] + [
        (name, money) for name in ("quantity", "price", "commission")] + [
        (name, pa.string()) for name in ("exec_id", "fill_id")])


class TableFile:
    """A table written to one Parquet or CSV file, a chunk of columns at a time, with the columns of
    `schema` (None where a chunk has no such column). `close` ends the file; a file nothing was
    written to still gets the columns."""

    def __init__(self, path: Path, fmt: str, schema) -> None:
        _check_format(fmt)
        self.path, self.fmt, self.schema, self.rows = path, fmt, schema, 0
        self._parquet = None

    def write(self, columns: dict[str, list]) -> None:
        n = len(next(iter(columns.values()))) if columns else 0
        if not n:
            return
        schema = self.schema
        unknown = columns.keys() - set(schema.names)
        if unknown:
            raise ValueError(f"{self.path.name}: columns without a column type: {', '.join(sorted(unknown))}")
        conformed = {name: columns.get(name) or [None] * n for name in schema.names}
        if self.fmt == "csv":
            import pandas as pd

            pd.DataFrame(conformed).to_csv(self.path, mode="a" if self.rows else "w", header=not self.rows,
                                           index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, schema)
            self._parquet.write_table(pa.Table.from_pydict(conformed, schema=schema))
        self.rows += n

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        elif not self.rows:
            if self.fmt == "csv":
                self.path.write_text(",".join(self.schema.names) + "\n")
            else:
                import pyarrow.parquet as pq

                pq.write_table(self.schema.empty_table(), self.path)


def _columns(rows: list[dict]) -> dict[str, list]:
    """Rows of dicts as columns: every key of any row, in first-seen order, None where a row lacks it."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return {name: [row.get(name) for row in rows] for name in names}


def write_parquet(table, path: Path) -> None:
    """A DataFrame, or columns by name, as Parquet; exact decimals as decimal128(38, 10)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pydict(table) if isinstance(table, dict) else pa.Table.from_pandas(table, preserve_index=False)
    schema = pa.schema([pa.field(f.name, pa.decimal128(38, 10)) if pa.types.is_decimal(f.type) else f
                        for f in arrow.schema])
    pq.write_table(arrow.cast(schema), path)

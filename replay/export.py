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

import struct
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Iterable, Iterator

from oms.domain.projection import JournalProjection
from oms.events import Event, JournalEvent, OrderFilled

__all__ = ["Export", "commands_from_topic", "export", "journal_from_file", "journal_from_topic", "write_export", "write_parquet"]

_LENGTH = struct.Struct(">I")


def journal_from_file(path: str | Path) -> Iterator[Event]:
    """The events of a length-prefixed journal file; `ValueError` naming the byte offset of a bad frame."""
    from streams.codec import DecodeError, SingleObjectCodec

    codec = SingleObjectCodec()
    data = Path(path).read_bytes()
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


def journal_from_topic(runtime, *, timeout: float = 30.0, errors: list[str] | None = None) -> Iterator[Event]:
    """The events of the journal topic of `runtime` (every partition, to its end at start);
    undecodable records are appended to `errors` (when given) and skipped."""
    from replay.journal import read_topic  # the one journal reader (local: it loads the Kafka client)

    for _, _, _, _, event in read_topic(runtime, runtime.topics.journal, timeout=timeout, canonical=False,
                                   on_error=errors.append if errors is not None else None):
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


def _plain(value):
    return value.value if isinstance(value, Enum) else value


@dataclass
class Export:
    journal: list[dict] = field(default_factory=list)
    orders: list[dict] = field(default_factory=list)
    fills: list[dict] = field(default_factory=list)
    positions: list[dict] = field(default_factory=list)

    def frames(self) -> dict:
        """The four tables as pandas DataFrames, by name."""
        import pandas as pd

        return {name: pd.DataFrame(getattr(self, name)) for name in ("journal", "orders", "fills", "positions")}


def _rows(records: list[dict]) -> list[dict]:
    """The same columns in every row (missing ones None), in first-seen order."""
    columns: dict[str, None] = {}
    for r in records:
        columns.update(dict.fromkeys(r))
    return [{c: r.get(c) for c in columns} for r in records]


def export(events: Iterable[Event], *, as_of: int | None = None, account: str | None = None,
           instrument: str | None = None) -> Export:
    """The tables of the journal `events` as of `as_of` (UTC ns), for `account` and `instrument` (None: all)."""
    projection = JournalProjection(project_accounts=False)
    instruments: dict[str, str] = {}
    journal, fills = [], []
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
        journal.append({"type": type(event).__name__, **{k: _plain(v) for k, v in event.__dict__.items()}})
        if isinstance(event, OrderFilled):
            fills.append(dict(ts_event=event.ts_event, order_id=event.order_id, account=event.account,
                              client_order_id=event.client_order_id, instrument=event.instrument,
                              side=event.side.value, venue=event.venue, quantity=event.last_qty,
                              price=event.last_px, commission=event.commission, exec_id=event.exec_id,
                              fill_id=event.fill_id))
    orders = [dict(order_id=o.order_id, account=o.account, client_order_id=o.client_order_id,
                   instrument=o.instrument, side=o.side.value, order_type=o.order_type.value,
                   quantity=o.quantity, limit_price=o.limit_price, venue=o.venue, status=o.status.value,
                   cum_qty=o.cum_qty, leaves_qty=o.leaves_qty, avg_px=o.avg_px, seq=o.seq, ts_last=o.ts_last,
                   reason=o.reason) for o in projection.orders.values()]
    positions = [dict(account=p.account, instrument=p.instrument, quantity=p.quantity, cost=p.cost,
                      realized_pnl=p.realized_pnl, commissions=p.commissions, fills=p.fills)
                 for p in projection.positions.values()]
    return Export(_rows(journal), orders, fills, positions)


def write_export(result: Export, directory: str | Path, fmt: str = "parquet") -> dict[str, Path]:
    """Write each table as `<name>.parquet` or `<name>.csv` under `directory`; returns name -> path."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format: {fmt!r} is not parquet or csv")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in result.frames().items():
        path = directory / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            write_parquet(frame, path)
        paths[name] = path
    return paths


def write_parquet(frame, path: Path) -> None:
    """A DataFrame as Parquet, exact decimals as decimal128(38, 10)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    schema = pa.schema([pa.field(f.name, pa.decimal128(38, 10)) if pa.types.is_decimal(f.type) else f
                        for f in table.schema])
    pq.write_table(table.cast(schema), path)

"""The stored form of venue statistics: one entry per venue and instrument, per followed order, per parent.

This module owns how the venue statistics fold (`oms.domain.sor.stats.VenueStatistics`)
is kept in a key/value store: the engine's RocksDB slice of a partition and its
changelog, committed in the same transaction as the journal events they are folded
from, so a restart or a rebalance restores them with the rest of the engine's
state and an aborted transaction takes its counts away with it. Keys are
`oms.keys.venue_stats` (the counters of a venue in an instrument),
`venue_working` (an order followed until it ends) and `venue_arrival` (a
parent's arrival price); an empty value is an entry removed. `stored_statistics`
gives a `VenueStatistics` whose parts are `StoredTable`s over a store's `get`:
each entry is read once, when the fold or the router first asks for it, and
`statistics_writes` lists only the entries an input changed, each once.
Pure: bytes in and out, the store reached only through the function given.
"""

from __future__ import annotations

import json
from dataclasses import fields
from decimal import Decimal
from typing import Callable, Generic, Iterable, Iterator, MutableMapping, TypeVar

from oms import keys
from oms.domain.sor.stats import VenueStatistics, VenueStats, Working
from oms.events import JournalEvent, Side

__all__ = ["StoredTable", "dump_stats", "fold_writes", "load_stats", "statistics_writes", "stored_statistics"]

K = TypeVar("K")
V = TypeVar("V")
Get = Callable[[str], "bytes | None"]

_STATS_FIELDS = tuple(f.name for f in fields(VenueStats))
_DECIMAL_FIELDS = frozenset(f.name for f in fields(VenueStats) if f.type in ("Decimal", Decimal))


_KNOWN: dict[bytes, VenueStats] = {}
"""Entries lately written or read -> their counters (immutable values): the next input reading a
venue's entry back finds what the last one wrote without decoding it. Cleared when it grows past
`_KNOWN_MAX`, so it holds about the venues and instruments in use."""
_KNOWN_MAX = 4096


def _known(data: bytes, stats: VenueStats) -> VenueStats:
    if len(_KNOWN) >= _KNOWN_MAX:
        _KNOWN.clear()
    _KNOWN[data] = stats
    return stats


def dump_stats(stats: VenueStats) -> bytes:
    """The counters in field order (`Decimal`s as exact strings)."""
    values = [getattr(stats, name) for name in _STATS_FIELDS]
    data = json.dumps([str(v) if isinstance(v, Decimal) else v for v in values], separators=(",", ":")).encode()
    _known(data, stats)
    return data


def load_stats(data: bytes) -> VenueStats:
    found = _KNOWN.get(data)
    if found is not None:
        return found
    values = json.loads(data)
    if len(values) != len(_STATS_FIELDS):
        raise ValueError(f"venue statistics entry has {len(values)} values, expected {len(_STATS_FIELDS)}")
    return _known(data, VenueStats(**{name: Decimal(v) if name in _DECIMAL_FIELDS else int(v)
                                      for name, v in zip(_STATS_FIELDS, values)}))


def _dump_working(work: Working) -> bytes:
    return json.dumps([work.instrument, work.side.value, work.venue, work.routed_at, work.filled],
                      separators=(",", ":")).encode()


def _load_working(data: bytes) -> Working:
    instrument, side, venue, routed_at, filled = json.loads(data)
    return Working(instrument, Side(side), venue, int(routed_at), bool(filled))


def _dump_price(price: Decimal) -> bytes:
    return str(price).encode()


def _load_price(data: bytes) -> Decimal:
    return Decimal(data.decode())


class StoredTable(MutableMapping[K, V], Generic[K, V]):
    """A mapping over a key/value store for the length of one input: an entry is read (`get` of
    `key(k)`, decoded by `load`) the first time it is asked for, changes stay here until
    `writes()` lists them, encoded by `dump` (b"" for an entry removed). It is not listed: the
    store's other entries are not read (`iter` raises `TypeError`)."""

    __slots__ = ("_key", "_get", "_dump", "_load", "_seen", "_changed")

    def __init__(self, key: Callable[[K], str], get: Get, dump: Callable[[V], bytes],
                 load: Callable[[bytes], V]) -> None:
        self._key, self._get, self._dump, self._load = key, get, dump, load
        self._seen: dict[K, V | None] = {}
        self._changed: dict[K, None] = {}  # in the order changed: the writes are deterministic

    def get(self, k: K, default=None):  # type: ignore[override]
        try:
            found = self._seen[k]
        except KeyError:
            data = self._get(self._key(k))
            found = self._seen[k] = self._load(data) if data else None
        return default if found is None else found

    def __getitem__(self, k: K) -> V:
        found = self.get(k)
        if found is None:
            raise KeyError(k)
        return found

    def __setitem__(self, k: K, value: V) -> None:
        self._seen[k] = value
        self._changed[k] = None

    def __delitem__(self, k: K) -> None:
        if self.get(k) is None:
            raise KeyError(k)
        self._seen[k] = None
        self._changed[k] = None

    def __contains__(self, k: object) -> bool:
        return self.get(k) is not None  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[K]:
        raise TypeError("a stored table is read entry by entry, never listed")

    def __len__(self) -> int:
        raise TypeError("a stored table is read entry by entry, never counted")

    def writes(self) -> list[tuple[str, bytes]]:
        """(store key, value) of every entry changed since it was read, each once; b"" for one removed."""
        out = []
        for k in self._changed:
            value = self._seen[k]
            out.append((self._key(k), b"" if value is None else self._dump(value)))
        self._changed.clear()
        return out


def _stats_key(key: tuple[str, str]) -> str:
    return keys.venue_stats(*key)


def stored_statistics(get: Get) -> VenueStatistics:
    """The venue statistics held in a store (`get` reads one key), for one input: fold its journal
    events, route with it, then write `statistics_writes`."""
    return VenueStatistics(StoredTable(_stats_key, get, dump_stats, load_stats),
                           StoredTable(keys.venue_working, get, _dump_working, _load_working),
                           StoredTable(keys.venue_arrival, get, _dump_price, _load_price))


def statistics_writes(statistics: VenueStatistics) -> list[tuple[str, bytes]]:
    """The records to write after folding into `stored_statistics`: the entries that changed, each once."""
    out: list[tuple[str, bytes]] = []
    for table in (statistics.stats, statistics.working, statistics.arrivals):
        if isinstance(table, StoredTable):
            out += table.writes()
    return out


def fold_writes(statistics: VenueStatistics, journal: Iterable[JournalEvent]) -> list[tuple[str, bytes]]:
    """One input's journal events folded into `stored_statistics`, and the records to write then
    (`statistics_writes`)."""
    for event in journal:
        statistics.apply(event)
    return statistics_writes(statistics)

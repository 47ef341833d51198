"""Journal replay: the order journal folded back into state, verified against the live processors.

This module owns rebuilding state from the log and checking it. `Replayer`
folds journal events with the journal projection the live processors run
(`oms.domain.projection.JournalProjection`: orders by `orders.evolve`, skipping
seq <= current and every seq-0 record; positions by `evolve_position` on every
fill, bust and correction, keyed `oms.keys.position_id`; account risk by
`with_order` / `with_fill` as the engine step applies them). `replay_journal`
reads `order.events` from the first offset of every partition (read_committed,
up to the end offsets taken at start, or `until_offset` / `until_ns`) with the
one topic reader (`streams.reader.TopicReader`), decoding it without the checks
meant for outside input unless strict (`streams.codec`), optionally split among
processes (`workers`: whole partitions, or shares of the accounts), and writes
the final states into a fresh store (keys per `oms.keys`, `oms.state` dumps). `live_views` reads the
compacted `orders` and `positions` topics; `verify` compares them field for
field with the replay; `live_engine_state` reads the engine's `engine.state`
changelog (its account risk states and the risk controls it decided with);
`verify_accounts` and `verify_controls` compare those with the replay and with
the fold of `risk.controls`; the replay also folds the venue statistics
(`oms.domain.sor.stats`, the fold the engine keeps in its state) and
`verify_venue_stats` compares them with the engine's, summed over its
partitions; `verify_all` does all of it and returns one report. `audit` lists one order's journal, commands and execution reports.
`read_topic` is how every one of them reads a topic (decoded, admitted events
to the end offsets at start), public so that other readers (`replay.export`)
use the same path.
The `oms replay` command is `entrypoints.replay`. Reads only: it never
produces to any topic.
"""

from __future__ import annotations

import bisect
import gc
import time
import zlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

from pydantic import ValidationError

from oms import ids, keys
from oms.account_state import account_writes, materialized
from oms.domain.orders import DomainError, Order, view
from oms.domain.positions import PositionState, to_event
from oms.domain.projection import JournalProjection, fold_control
from oms.domain.risk import AccountRisk, Controls
from oms.domain.sor.stats import VenueStatistics, VenueStats
from oms.events import (
    AmendOrder,
    CancelOrder,
    Event,
    ExecutionReport,
    JournalEvent,
    NewOrder,
    OrderView,
    Position,
)
from oms.state import (
    ControlsSnapshot,
    MemoryStore,
    Store,
    dump_order,
    dump_position,
    load_controls,
)
from oms.venue_state import load_stats
from streams.codec import DecodeError
from streams.kafka import Received
from streams.reader import latest

__all__ = [
    "ACCOUNT_FIELDS",
    "CONTROLS_FIELDS",
    "Difference",
    "EngineState",
    "POSITION_FIELDS",
    "VENUE_FIELDS",
    "ReplayResult",
    "Replayer",
    "VerifyReport",
    "audit",
    "live_engine_state",
    "live_views",
    "read_topic",
    "replay_controls",
    "replay_events",
    "replay_journal",
    "verify",
    "verify_accounts",
    "verify_all",
    "verify_live",
    "verify_controls",
    "verify_venue_stats",
]

POSITION_FIELDS: tuple[str, ...] = (
    "account", "instrument", "quantity", "avg_price", "realized_pnl", "fills", "last_fill_id",
)
"""The fields of a `Position` that replay reproduces. The others (mark_price,
unrealized_pnl, gross_exposure, net_exposure) depend on the mark the position
manager held in its `marks` table when it published (the live mid of the last
quote, or none yet), which is not in the journal; and ts_event/ts_init are
those of the last fill the live manager applied. So they are not compared."""

ACCOUNT_FIELDS: tuple[str, ...] = ("positions", "open_orders", "open_qty", "marks", "open_count", "exposure")
"""The fields of an `AccountRisk` that replay reproduces. The throttle bucket
(`tokens`, `last_refill`) is left out: the engine takes a token for every new
order it checks while a rate is set, denied or not, at its own processing
time, with the rate in force at that moment; the journal records those
commands only partly (an order denied for several breaches carries only the
first reason, a command refused as invalid never reached the checks), so the
takes cannot be recounted from it."""

VENUE_FIELDS: tuple[str, ...] = tuple(VenueStats.__dataclass_fields__)
"""Every counter of `VenueStats`: the engine's venue statistics are a fold of its journal, all of it replayable."""

CONTROLS_FIELDS: tuple[str, ...] = ("limits", "states", "kill", "entitlements", "instruments", "defaults")
"""The fields of `Controls` compared (the default limits: replay starts from the configured ones,
`OMS_RISK_DEFAULTS`, as the engine does; a difference there is a configuration that differs). The audit trail is not: `risk.controls` is
compacted, so records an operator overwrote may be gone from the log while the
values in force (last writer wins per scope|kind|name, the record key) stay."""


# --------------------------------------------------------------------- fold


@dataclass
class Replayer:
    """Mutable fold state over the journal projection: apply journal events one by one, as live."""

    projection: JournalProjection = field(default_factory=JournalProjection)
    errors: list[str] = field(default_factory=list)
    """Events `evolve` refused (a gap or an impossible transition): the journal is not foldable there."""
    venues: VenueStatistics = field(default_factory=VenueStatistics)
    """The venue statistics of the journal, as the engine folds them into its state."""
    refused: list[str] = field(default_factory=list)
    """Events decoded without validation (`streams.codec`) that the fold could not take and that
    do not validate: counted as undecodable, as the validating path would have refused them."""

    @property
    def orders(self) -> dict[str, Order]:
        return self.projection.orders

    @property
    def positions(self) -> dict[str, PositionState]:
        return self.projection.positions

    @property
    def accounts(self) -> dict[str, AccountRisk]:
        return self.projection.accounts

    @property
    def events(self) -> int:
        return self.projection.events

    @property
    def anomalies(self) -> int:
        """OrderAnomaly records seen (seq 0, never applied)."""
        return self.projection.anomalies

    def apply(self, event: Event) -> None:
        try:
            self.projection.apply(event)
        except DomainError as exc:
            self.errors.append(str(exc))
        except Exception:
            reason = _invalid(event)
            if reason is None:
                raise  # a valid event the fold cannot take: a defect, not bad input
            self.refused.append(f"{event.event_id}: {reason}")
            return
        if isinstance(event, JournalEvent):
            self.venues.apply(event)

    def write(self, store: Store) -> None:
        for order_id, order in self.orders.items():
            store.put(keys.order(order_id).encode(), dump_order(order))
        for state in self.positions.values():
            store.put(keys.position(state.account, state.instrument).encode(), dump_position(state))
        for account, risk in self.accounts.items():
            for key, value in account_writes(account, risk):
                store.put(key.encode(), value)


def _invalid(event: Event) -> str | None:
    """Why `event` (built without validation) does not validate, or None when it does."""
    try:
        type(event).model_validate(dict(event.__dict__))
    except ValidationError as exc:
        return f"does not validate: {exc}"
    return None


@dataclass(frozen=True)
class ReplayResult:
    events: int
    """Journal events read (and folded)."""
    orders: dict[str, Order]
    positions: dict[str, PositionState]
    elapsed_s: float
    events_per_s: float
    anomalies: int
    partitions: int
    errors: tuple[str, ...] = ()
    undecodable: int = 0
    accounts: dict[str, AccountRisk] = field(default_factory=dict)
    venue_stats: dict[tuple[str, str], VenueStats] = field(default_factory=dict)
    """(venue, instrument) -> the venue statistics folded from the journal."""

    def by_status(self) -> Counter:
        return Counter(order.status.value for order in self.orders.values())


def _require_fresh(store: Store) -> None:
    for prefix in (keys.ORDER_PREFIX, keys.POSITION_PREFIX, keys.ACCOUNT_PREFIX):
        if next(iter(store.items(prefix.encode())), None) is not None:
            raise ValueError("replay writes into a fresh store; this one already holds orders or positions")


def _result(replayer: Replayer, started: float, partitions: int, undecodable: int = 0) -> ReplayResult:
    elapsed = time.perf_counter() - started
    return ReplayResult(
        events=replayer.events,
        orders=replayer.orders,
        positions=replayer.positions,
        elapsed_s=elapsed,
        events_per_s=replayer.events / elapsed if elapsed > 0 else 0.0,
        anomalies=replayer.anomalies,
        partitions=partitions,
        errors=tuple(replayer.errors),
        undecodable=undecodable + len(replayer.refused),
        accounts=replayer.accounts,
        venue_stats=dict(replayer.venues.stats),
    )


@contextmanager
def _folding() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a fold runs (as it was after). A fold creates
    hundreds of thousands of long-lived objects and no reference cycles, and each full collection
    traverses them all again: measured 6,700 -> 9,200 events/s on a 60,000-event fold."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def replay_events(events: Iterable[Event], store: Store) -> ReplayResult:
    """Fold in-memory journal events (one partition's order) and write the states into `store`."""
    _require_fresh(store)
    started = time.perf_counter()
    replayer = Replayer()
    with _folding():
        for event in events:
            replayer.apply(event)
    replayer.write(store)
    return _result(replayer, started, partitions=1)


# ------------------------------------------------------------- kafka reads


def read_topic(
    runtime,
    topic: str,
    *,
    partitions: Iterable[int] | None = None,
    until_offset: int | None = None,
    stop: Callable[[Event], bool] | None = None,
    timeout: float = 30.0,
    on_total: Callable[[int], None] | None = None,
    on_record: Callable[[int], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    canonical: bool = True,
    validate: bool = True,
    keep: Callable[[str | None], bool] | None = None,
) -> Iterator[tuple[int, int, str | None, int, Event | None]]:
    """The reading API of this module, public for the other readers of `replay/` (exports, what-if):
    yield (partition, offset, key, timestamp_ms, event or None for a tombstone) from `topic` of
    `runtime` (a `streams.runtime` connection) with the one topic reader: every partition (or
    `partitions`) from its first offset to its end offset at start, or `until_offset` (exclusive). A partition also stops at the first event for
    which `stop(event)` is true (that event is not yielded). Undecodable records, and events the
    topic does not admit (`streams.topics.admitted`, as every live consumer refuses them), go to
    `on_error` and are not yielded.
    `canonical=False` decodes without the re-encoding check and `validate=False` without pydantic
    validation (`streams.codec`): for the journal, which only this OMS's engine writes, from
    validated events. With `keep`, a record whose key it refuses is skipped without being decoded.
    Raises TimeoutError if the ends are not reached within `timeout` seconds without progress."""
    reader = runtime.reader(**{"fetch.max.bytes": 52428800})
    refusals: dict[type, str | None] = {}
    try:
        total = reader.assign(topic, partitions=partitions, until_offset=until_offset, skip_empty=True)
        if on_total is not None:
            on_total(total)
        for record in reader.records(idle_timeout=timeout):
            if on_record is not None:
                on_record(record.offset)
            if keep is not None and not keep(record.text_key):
                continue
            event = None
            if record.value is not None:
                try:
                    event = runtime.codec.decode(topic, record.value, canonical=canonical, validate=validate)
                except DecodeError as exc:
                    if on_error is not None:
                        on_error(f"{topic}[{record.partition}]@{record.offset}: {exc}")
                    continue
                kind = type(event)
                refusal = refusals[kind] if kind in refusals else refusals.setdefault(
                    kind, runtime.topics.admitted(topic, event))  # admission depends on the type alone
                if refusal is not None:  # the live consumer dead-lettered it: never folded
                    if on_error is not None:
                        on_error(f"{topic}[{record.partition}]@{record.offset}: {refusal}")
                    continue
                if stop is not None and stop(event):
                    reader.finish(topic, record.partition)
                    continue
            yield record.partition, record.offset, record.text_key, record.timestamp_ms, event
    finally:
        reader.close()


def replay_journal(
    runtime,
    store: Store,
    *,
    until_ns: int | None = None,
    until_offset: int | None = None,
    progress: bool = True,
    timeout: float = 30.0,
    strict: bool = False,
    workers: int = 1,
) -> ReplayResult:
    """Fold `order.events` from the beginning into `store` (which must be fresh).

    With `workers` > 1 the journal is split among that many processes, this one and
    `workers - 1` spawned from it, each reading, decoding
    and folding its part (`_replay_parallel`: groups of whole partitions of even record counts,
    or with fewer partitions than processes a share of the accounts; no progress bar): the
    journal is keyed by account, so their states never overlap and are merged as they are.

    Unless `strict`, the journal is decoded without the canonical re-encoding check and without
    pydantic validation (`streams.codec`: only the engine writes it, with this OMS's encoder,
    from validated events; the two checks cost more than half of the decoding). A body that
    does not parse or names an unknown symbol is still refused, and an event the fold cannot
    take that does not validate is counted with them (`Replayer.refused`), never folded on.

    Every partition is read from its first offset to its end offset at start
    (read_committed), or to `until_offset` (exclusive: records 0 .. until_offset-1
    of each partition), and a partition stops at its first event with
    `ts_event > until_ns` (the state as of that time: a prefix of each
    partition, so no order is left with a gap). Orders, positions and accounts
    never span partitions (the journal is keyed by account), so folding the
    partitions interleaved gives the same states as folding them one after the
    other. Undecodable records, and events that are not journal events, are
    counted and skipped (the live worker dead-letters them)."""
    _require_fresh(store)
    if workers > 1:
        return _replay_parallel(runtime, store, workers, until_ns, until_offset, timeout, strict)
    runtime.learn_schemas()
    started = time.perf_counter()
    bar: Any = None

    def on_total(total: int) -> None:
        nonlocal bar
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="ev", desc="replay", dynamic_ncols=True)

    def on_record(_: int) -> None:
        if bar is not None:
            bar.update(1)

    try:
        replayer, undecodable, seen = _fold_partitions(runtime, None, until_ns, until_offset, timeout, strict,
                                                       on_total=on_total, on_record=on_record)
    finally:
        if bar is not None:
            bar.close()
    replayer.write(store)
    return _result(replayer, started, partitions=len(seen), undecodable=undecodable)


def share_of(key: str | None, shares: int) -> int:
    """Which of `shares` parallel folds takes the journal records keyed `key` (an account):
    CRC-32 of the key modulo `shares`, the same in every process; records without a key go to 0."""
    return 0 if key is None else zlib.crc32(key.encode()) % shares


def _fold_partitions(runtime, partitions: list[int] | None, until_ns: int | None, until_offset: int | None,
                     timeout: float, strict: bool, share: tuple[int, int] | None = None,
                     **callbacks) -> tuple[Replayer, int, set[int]]:
    """`partitions` of the journal (all when None) read, decoded and folded: (the fold, records
    refused as undecodable, partitions seen). With `share` (index, shares), only the records whose
    key `share_of` gives to `index` are decoded and folded; an event whose account is another
    share's (its key is not its account) is folded and recorded as an error: its account's
    state is then split between folds."""
    replayer = Replayer()
    undecodable: list[str] = []
    seen: set[int] = set()
    stop = None if until_ns is None else (lambda event: event.ts_event > until_ns)
    keep = None if share is None else (lambda key: share_of(key, share[1]) == share[0])
    with _folding():
        for partition, offset, key, _, event in read_topic(
            runtime, runtime.topics.journal, partitions=partitions, until_offset=until_offset, stop=stop,
            timeout=timeout, on_error=undecodable.append, canonical=strict, validate=strict, keep=keep, **callbacks,
        ):
            seen.add(partition)
            if event is None:
                continue
            if share is not None and isinstance(event, JournalEvent) and share_of(event.account, share[1]) != share[0]:
                replayer.errors.append(f"{runtime.topics.journal}[{partition}]@{offset}: keyed {key!r}, "
                                       f"for account {event.account!r}: folded apart from the account's other events")
            replayer.apply(event)
    return replayer, len(undecodable), seen


def _replay_partitions(settings, bootstrap_servers: str, partitions: list[int] | None,
                       share: tuple[int, int] | None, until_ns: int | None, until_offset: int | None,
                       timeout: float, strict: bool) -> tuple:
    """One worker process of a parallel replay: `_fold_partitions` of `partitions` (or of its
    `share` of every partition) on its own consumer; returns (projection, errors, refused,
    undecodable, partitions seen, venue statistics)."""
    from streams.runtime import connect

    runtime = connect(settings.with_(bootstrap_servers=bootstrap_servers), start_broker=False)
    runtime.learn_schemas()
    replayer, undecodable, seen = _fold_partitions(runtime, partitions, until_ns, until_offset, timeout, strict,
                                                   share)
    return (replayer.projection, replayer.errors, replayer.refused, undecodable, seen,
            dict(replayer.venues.stats))


def _merge(into: Replayer, projection: JournalProjection, errors: list[str], refused: list[str],
           venue_stats: Mapping[tuple[str, str], VenueStats]) -> None:
    """Add the fold of other partitions to `into`. The journal is keyed by account: an order's
    events, hence its working set, are in one partition; the venue counts of several add up."""
    stats = into.venues.stats
    for key, counts in venue_stats.items():
        stats[key] = stats[key].plus(counts) if key in stats else counts
    into.projection.orders.update(projection.orders)
    into.projection.positions.update(projection.positions)
    into.projection.accounts.update(projection.accounts)
    into.projection.events += projection.events
    into.projection.anomalies += projection.anomalies
    into.errors.extend(errors)
    into.refused.extend(refused)


def _groups(counts: Mapping[int, int], workers: int) -> list[list[int]]:
    """The partitions with records (partition -> count) in `workers` groups of even record counts
    as far as whole partitions allow: the largest first, each to the group holding the fewest."""
    groups: list[list[int]] = [[] for _ in range(min(workers, len(counts)))]
    loads = [0] * len(groups)
    for partition in sorted(counts, key=lambda p: (-counts[p], p)):
        least = loads.index(min(loads))
        groups[least].append(partition)
        loads[least] += counts[partition]
    return [sorted(group) for group in groups]


def _replay_parallel(runtime, store: Store, workers: int, until_ns: int | None, until_offset: int | None,
                     timeout: float, strict: bool) -> ReplayResult:
    """`replay_journal` split among this process and `workers - 1` others, their states merged.

    With at least as many partitions holding records as workers, whole partitions are split,
    in groups of even record counts (`_groups`). With fewer, each process reads every partition
    and decodes and folds its share of the accounts (`share_of` on the record key, the account;
    skipping a record costs a reader a few microseconds), unless `until_ns` (a partition stops at
    its first later event, whichever account that is for: partitions are split then too). The
    others are spawned (a fresh interpreter, about a second to import the modules), never forked:
    a process with Kafka clients runs librdkafka threads, and a fork copies their locks in
    whatever state they are, so a forked child could hang creating its own client. Each opens
    its own consumer."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    started = time.perf_counter()
    runtime.learn_schemas()
    reader = runtime.reader()
    try:
        marks = reader.watermarks(runtime.topics.journal)
    finally:
        reader.close()
    counts = {p: min(high, until_offset if until_offset is not None else high) - low
              for p, (low, high) in marks.items()}
    counts = {p: n for p, n in counts.items() if n > 0}
    jobs: list[tuple[list[int] | None, tuple[int, int] | None]]
    if len(counts) >= workers or until_ns is not None:
        jobs = [(group, None) for group in _groups(counts, workers)] or [([], None)]
    else:
        jobs = [(None, (i, workers)) for i in range(workers)]
    with ProcessPoolExecutor(max(len(jobs) - 1, 1), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_replay_partitions, runtime.settings, runtime.bootstrap_servers, partitions,
                               share, until_ns, until_offset, timeout, strict) for partitions, share in jobs[1:]]
        replayer, undecodable, seen = _fold_partitions(runtime, jobs[0][0], until_ns, until_offset, timeout,
                                                       strict, jobs[0][1])
        for future in futures:
            projection, errors, refused, bad, got, venue_stats = future.result()
            _merge(replayer, projection, errors, refused, venue_stats)
            undecodable += bad
            seen |= got
    replayer.write(store)
    return _result(replayer, started, partitions=len(seen), undecodable=undecodable)


def live_views(runtime, timeout: float = 30.0) -> tuple[dict[str, OrderView], dict[str, Position]]:
    """The compacted `orders` and `positions` topics read to their end: the latest record per key
    (a tombstone removes the key). Keys are the record keys (order id; `oms.keys.position_id`)."""
    runtime.learn_schemas()

    def key_of(item) -> str | None:
        _, _, key, _, event = item
        if key is not None or event is None:
            return key
        return event.order_id if isinstance(event, OrderView) else keys.position_id(event.account, event.instrument)

    def read(topic: str, kind: type) -> dict:
        records = ((p, o, k, t, e) for p, o, k, t, e in read_topic(runtime, topic, timeout=timeout)
                   if e is None or isinstance(e, kind))
        return latest(records, key_of, lambda item: item[4])

    return read(runtime.topics.orders, OrderView), read(runtime.topics.positions, Position)


@dataclass(frozen=True)
class EngineState:
    """What the live engine holds besides its orders: per `oms.keys`, read from its changelog."""

    accounts: dict[str, AccountRisk]
    controls: dict[int, ControlsSnapshot]
    """Changelog partition -> the risk controls the engine last decided with there."""
    venue_stats: dict[tuple[str, str], VenueStats] = field(default_factory=dict)
    """(venue, instrument) -> the venue statistics the engine holds, summed over its partitions."""


def live_engine_state(runtime, timeout: float = 30.0) -> EngineState:
    """The engine's `engine.state` changelog read to its end (committed records only), the latest
    value per (partition, key): its account risk states and its risk-controls snapshots."""
    reader = runtime.reader()
    try:
        reader.assign(runtime.topics.engine_state, skip_empty=True)
        state = latest(reader.records(idle_timeout=timeout),
                       lambda r: (r.partition, r.text_key), lambda r: r.value)
    finally:
        reader.close()
    accounts: dict[str, AccountRisk] = {}
    controls: dict[int, ControlsSnapshot] = {}
    venue_stats: dict[tuple[str, str], VenueStats] = {}
    entries = sorted((key, value) for (_, key), value in state.items()
                     if key is not None and key.startswith(keys.OPEN_ORDER_PREFIX))
    for (partition, key), value in state.items():
        if key is None:
            continue
        if key.startswith(keys.ACCOUNT_PREFIX):
            account = key[len(keys.ACCOUNT_PREFIX):]
            prefix = keys.open_orders(account)
            accounts[account] = materialized(account, value, _under(entries, prefix))
        elif key == keys.controls_snapshot():
            controls[partition] = load_controls(value)
        elif key.startswith(keys.VENUE_STATS_PREFIX) and value:
            where, counts = keys.venue_stats_of(key), load_stats(value)
            venue_stats[where] = venue_stats[where].plus(counts) if where in venue_stats else counts
    return EngineState(accounts, controls, venue_stats)


def _under(entries: list[tuple[str, bytes]], prefix: str) -> list[tuple[str, bytes]]:
    """The (key, value) pairs of the sorted `entries` whose key starts with `prefix`."""
    start = bisect.bisect_left(entries, (prefix,))
    out = []
    for key, value in entries[start:]:
        if not key.startswith(prefix):
            break
        out.append((key, value))
    return out


def replay_controls(runtime, offsets: dict[int, int], timeout: float = 30.0) -> Controls:
    """The fold of `risk.controls` below `offsets` (partition -> next offset), as the engine's
    table folds it: `fold_control` over the configured default limits (`Settings.default_limits`),
    skipping undecodable and refused controls."""
    controls = Controls(defaults=runtime.settings.default_limits)
    for partition, end in sorted(offsets.items()):
        for _, _, _, _, event in read_topic(runtime, runtime.topics.risk_controls, partitions=[partition],
                                        until_offset=end, timeout=timeout):
            if event is None:
                continue
            try:
                controls = fold_control(controls, event)
            except ValueError:
                continue
    return controls


# ------------------------------------------------------------------ verify


@dataclass(frozen=True)
class Difference:
    kind: str
    """"order", "position", "account", "controls" or "venue"."""
    key: str
    field: str
    """The differing field, or "missing" when one side has no record."""
    replayed: Any
    live: Any


def _compare(kind: str, key: str, fields: Iterable[str], replayed: Any, live: Any) -> list[Difference]:
    out = []
    for name in fields:
        a, b = getattr(replayed, name), getattr(live, name)
        if a != b:
            out.append(Difference(kind, key, name, a, b))
    return out


def verify(
    result: ReplayResult, orders_view: dict[str, OrderView], positions_view: dict[str, Position]
) -> list[Difference]:
    """Every difference between the replay and the live views.

    Orders: `view(order)` of every replayed order against the live `OrderView`, every
    field (the view is a pure function of the order, so all of it is reproducible).
    Positions: the reproducible fields `POSITION_FIELDS` only — mark price, unrealized
    P&L and exposures depend on the live mark at publication time, which the journal
    does not hold, and the timestamps on when the live manager published.
    A key present on one side only is a difference with field "missing"."""
    diffs: list[Difference] = []
    for order_id in sorted(result.orders.keys() | orders_view.keys()):
        order, live = result.orders.get(order_id), orders_view.get(order_id)
        if order is None or live is None:
            diffs.append(Difference("order", order_id, "missing", order is not None, live is not None))
            continue
        diffs.extend(_compare("order", order_id, OrderView.model_fields, view(order), live))
    for key in sorted(result.positions.keys() | positions_view.keys()):
        state, live = result.positions.get(key), positions_view.get(key)
        if state is None or live is None:
            diffs.append(Difference("position", key, "missing", state is not None, live is not None))
            continue
        diffs.extend(_compare("position", key, POSITION_FIELDS, to_event(state, None, 0), live))
    return diffs


def verify_accounts(result: ReplayResult, live: dict[str, AccountRisk]) -> list[Difference]:
    """The replayed account risk states against the engine's, on `ACCOUNT_FIELDS`. An account
    one side lacks counts as empty (the engine keeps an account it only took a throttle token
    for; replay has none for an account whose every order was denied)."""
    diffs: list[Difference] = []
    for account in sorted(result.accounts.keys() | live.keys()):
        replayed, held = result.accounts.get(account, AccountRisk()), live.get(account, AccountRisk())
        diffs.extend(_compare("account", account, ACCOUNT_FIELDS, replayed, held))
    return diffs


def verify_venue_stats(replayed: Mapping[tuple[str, str], VenueStats],
                       live: Mapping[tuple[str, str], VenueStats]) -> list[Difference]:
    """Every counter of the venue statistics that differs between the replay and the engine, per
    (venue, instrument) (kind "venue", key "venue/instrument"); a venue one side lacks counts as none."""
    diffs: list[Difference] = []
    empty = VenueStats()
    for key in sorted(replayed.keys() | live.keys()):
        diffs.extend(_compare("venue", "/".join(key), VENUE_FIELDS, replayed.get(key, empty), live.get(key, empty)))
    return diffs


def verify_controls(runtime, snapshots: dict[int, ControlsSnapshot], timeout: float = 30.0) -> list[Difference]:
    """Each risk-controls snapshot the engine wrote (per changelog partition) against the fold of
    the same prefix of `risk.controls` (the offsets it records), on `CONTROLS_FIELDS`."""
    diffs: list[Difference] = []
    for partition, snapshot in sorted(snapshots.items()):
        replayed = replay_controls(runtime, dict(snapshot.offsets), timeout)
        diffs.extend(_compare("controls", f"engine.state[{partition}]", CONTROLS_FIELDS, replayed, snapshot.controls))
    return diffs


@dataclass(frozen=True)
class VerifyReport:
    """What `verify_all` compared and every difference it found."""

    result: ReplayResult
    orders: int
    positions: int
    accounts: int
    controls: int
    """Risk-controls snapshots of the engine checked (one per engine.state partition that has one)."""
    differences: tuple[Difference, ...]
    engine_state: bool = True
    """Whether the engine's changelog held any state to compare with. A journal written without
    an engine (imported, or a sandbox) has none: account risk, controls and venue statistics are
    then not compared."""
    venues: int = 0
    """Venue statistics compared (one per venue and instrument); none when the engine keeps none
    (it keeps them while it smart-routes, from the start of its journal)."""

    def summary(self) -> str:
        text = f"{self.orders} orders, {self.positions} positions"
        if not self.engine_state:
            return text + " (no engine state on engine.state: account risk, controls and venue statistics not compared)"
        venues = f", {self.venues} venue statistics (venue x instrument)" if self.venues else ""
        return text + f", {self.accounts} account risk states{venues} and {self.controls} risk-controls snapshots"

    @property
    def ok(self) -> bool:
        return not self.differences and not self.result.errors


def verify_live(runtime, result: ReplayResult, *, timeout: float = 30.0) -> VerifyReport:
    """Compare a replay with everything live: the `orders` and `positions` views (`verify`),
    the engine's account risk states (`verify_accounts`), the risk controls it decided
    with (`verify_controls`) and its venue statistics when it keeps them (`verify_venue_stats`)."""
    orders_view, positions_view = live_views(runtime, timeout=timeout)
    engine = live_engine_state(runtime, timeout=timeout)
    differences = verify(result, orders_view, positions_view)
    engine_ran = bool(engine.accounts or engine.controls or engine.venue_stats)
    if engine_ran:
        differences += verify_accounts(result, engine.accounts) + verify_controls(runtime, engine.controls, timeout)
        if engine.venue_stats:  # the engine keeps venue statistics while it smart-routes (`processors.engine`)
            differences += verify_venue_stats(result.venue_stats, engine.venue_stats)
    return VerifyReport(
        result=result,
        orders=len(result.orders.keys() | orders_view.keys()),
        positions=len(result.positions.keys() | positions_view.keys()),
        accounts=len(result.accounts.keys() | engine.accounts.keys()) if engine_ran else 0,
        controls=len(engine.controls),
        differences=tuple(differences),
        engine_state=engine_ran,
        venues=len(result.venue_stats.keys() | engine.venue_stats.keys()) if engine.venue_stats else 0,
    )


def verify_all(runtime, *, store: Store | None = None, timeout: float = 30.0,
               progress: bool = False) -> VerifyReport:
    """Replay the journal into a fresh store (in memory unless `store` is given) and
    `verify_live` the result."""
    result = replay_journal(runtime, store if store is not None else MemoryStore(), progress=progress,
                            timeout=timeout)
    return verify_live(runtime, result, timeout=timeout)


# ------------------------------------------------------------------- audit


_RANK = {"commands": 0, "exec.reports": 1, "order.events": 2}


def _names(event: Event, order_id: str) -> bool:
    if isinstance(event, (JournalEvent, ExecutionReport)):
        return event.order_id == order_id
    if isinstance(event, NewOrder):
        return ids.order_id(event.account, event.client_order_id) == order_id
    if isinstance(event, (AmendOrder, CancelOrder)):
        return ids.order_id(event.account, event.orig_client_order_id) == order_id
    return False


def audit(runtime, order_id: str, timeout: float = 30.0) -> list[Received]:
    """One order's audit trail: its journal events, and the commands and execution reports
    naming it, ordered by event time (inputs before the journal records they caused on a tie).

    The journal is read whole; the commands and execution reports only on the partition
    the order's journal events are on (the three topics are keyed by account and
    co-partitioned). Empty if the journal never mentions the order."""
    runtime.learn_schemas()
    found: list[Received] = []
    partition = None
    for p, offset, key, ts_ms, event in read_topic(runtime, runtime.topics.journal, timeout=timeout):
        if event is not None and _names(event, order_id):
            found.append(Received(runtime.topics.journal, p, offset, key, ts_ms, event))
            partition = p
    if partition is None:
        return []
    for topic in (runtime.topics.commands, runtime.topics.exec_reports):
        for p, offset, key, ts_ms, event in read_topic(runtime, topic, partitions=[partition], timeout=timeout):
            if event is not None and _names(event, order_id):
                found.append(Received(topic, p, offset, key, ts_ms, event))

    def order(r: Received):
        return r.event.ts_event, _RANK.get(runtime.topics.short(r.topic), 3), r.partition, r.offset

    return sorted(found, key=order)

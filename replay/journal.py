"""Journal replay: the order journal folded back into order and position state, verified against the live views.

This module owns rebuilding state from the log and checking it. `Replayer`
folds journal events with the same pure functions the live worker uses
(`oms.domain.orders.evolve`, skipping seq <= current and every seq-0 record,
and `oms.domain.positions.evolve_position` on every fill, bust and correction,
keyed f"{account}|{instrument}" like the position manager). `replay_journal`
reads `order.events` from offset 0 of every partition (read_committed, up to
the end offsets taken at start, or `until_offset` / `until_ns`) and writes the
final states into a fresh store (`o/{order_id}`, `p/{account}|{instrument}`,
`oms.state` dumps). `live_views` reads the compacted `orders` and `positions`
topics; `verify` compares them field for field with the replay; `audit` lists
one order's journal, commands and execution reports. The `oms replay` command
is `entrypoints.replay`. Reads only: it never produces to any topic.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from oms import ids
from oms.domain.orders import DomainError, Order, evolve, view
from oms.domain.positions import PositionState, evolve_position
from oms.events import (
    AmendOrder,
    CancelOrder,
    Event,
    ExecutionReport,
    JournalEvent,
    NewOrder,
    OrderAnomaly,
    OrderFillBusted,
    OrderFillCorrected,
    OrderFilled,
    OrderView,
    Position,
)
from oms.state import Store, dump_order, dump_position
from streams.codec import DecodeError
from streams.kafka import Received

__all__ = [
    "Difference",
    "POSITION_FIELDS",
    "ReplayResult",
    "Replayer",
    "audit",
    "live_views",
    "replay_events",
    "replay_journal",
    "verify",
]

POSITION_FIELDS: tuple[str, ...] = (
    "account", "instrument", "quantity", "avg_price", "realized_pnl", "fills", "last_fill_id",
)
"""The fields of a `Position` that replay reproduces. The others (mark_price,
unrealized_pnl, gross_exposure, net_exposure) depend on the mark the position
manager held in its `marks` table when it published (the live mid of the last
quote, or none yet), which is not in the journal; and ts_event/ts_init are
those of the last fill the live manager applied. So they are not compared."""

_FILL_TYPES = (OrderFilled, OrderFillBusted, OrderFillCorrected)


# --------------------------------------------------------------------- fold


@dataclass
class Replayer:
    """Mutable fold state: apply journal events one by one, as the live worker did."""

    orders: dict[str, Order] = field(default_factory=dict)
    positions: dict[str, PositionState] = field(default_factory=dict)
    events: int = 0
    anomalies: int = 0
    """OrderAnomaly records seen (seq 0, never applied)."""
    errors: list[str] = field(default_factory=list)
    """Events `evolve` refused (a gap or an impossible transition): the journal is not foldable there."""

    def apply(self, event: Event) -> None:
        if not isinstance(event, JournalEvent):
            return
        self.events += 1
        if isinstance(event, OrderAnomaly):
            self.anomalies += 1
        current = self.orders.get(event.order_id)
        if event.seq > (current.seq if current is not None else 0):
            try:
                self.orders[event.order_id] = evolve(current, event)
            except DomainError as exc:
                self.errors.append(str(exc))
        if isinstance(event, _FILL_TYPES):
            # Like the position manager: every fill-type record of the journal, whatever its seq.
            key = f"{event.account}|{event.instrument}"
            before = self.positions.get(key)
            after = evolve_position(before, event)
            if after is not None:
                self.positions[key] = after

    def write(self, store: Store) -> None:
        for order_id, order in self.orders.items():
            store.put(f"o/{order_id}".encode(), dump_order(order))
        for key, state in self.positions.items():
            store.put(f"p/{key}".encode(), dump_position(state))


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

    def by_status(self) -> Counter:
        return Counter(order.status.value for order in self.orders.values())


def _require_fresh(store: Store) -> None:
    for prefix in (b"o/", b"p/"):
        if next(iter(store.items(prefix)), None) is not None:
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
        undecodable=undecodable,
    )


def replay_events(events: Iterable[Event], store: Store) -> ReplayResult:
    """Fold in-memory journal events (one partition's order) and write the states into `store`."""
    _require_fresh(store)
    started = time.perf_counter()
    replayer = Replayer()
    for event in events:
        replayer.apply(event)
    replayer.write(store)
    return _result(replayer, started, partitions=1)


# ------------------------------------------------------------- kafka reads


def _reader(runtime) -> Consumer:
    return runtime.consumer(
        f"oms-replay-{uuid.uuid4().hex[:8]}", **{"enable.partition.eof": True, "fetch.max.bytes": 52428800}
    )


def _read(
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
):
    """Yield (partition, offset, key, timestamp_ms, event or None for a tombstone) from `topic`,
    partition by partition in offset order, from the low watermark to the end offset at start
    (read_committed: the last stable offset) or `until_offset` (exclusive). A partition also
    stops at the first event for which `stop(event)` is true (that event is not yielded).
    Raises TimeoutError if the ends are not reached within `timeout` seconds without progress."""
    consumer = _reader(runtime)
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        if meta.error is not None:
            raise RuntimeError(f"{topic}: {meta.error}")
        wanted = sorted(meta.partitions) if partitions is None else sorted(partitions)
        ends: dict[int, int] = {}
        starts: dict[int, int] = {}
        for p in wanted:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
            end = high if until_offset is None else min(high, max(until_offset, 0))
            if end > low:
                starts[p], ends[p] = low, end
        if on_total is not None:
            on_total(sum(ends[p] - starts[p] for p in ends))
        if not ends:
            return
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        open_ = set(ends)
        last = time.monotonic()
        while open_:
            batch = consumer.consume(1000, 0.2)
            if not batch:
                if time.monotonic() - last > timeout:
                    raise TimeoutError(f"{topic}: partitions {sorted(open_)} not read to their end within {timeout}s")
                continue
            last = time.monotonic()
            for msg in batch:
                p = msg.partition()
                if p not in open_:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        if msg.offset() >= ends[p]:
                            open_.discard(p)
                        continue
                    raise RuntimeError(f"{topic}[{p}]: {err}")
                offset = msg.offset()
                if offset >= ends[p]:
                    open_.discard(p)
                    continue
                if on_record is not None:
                    on_record(offset)
                raw_key = msg.key()
                key = raw_key.decode("utf-8", "replace") if raw_key is not None else None
                value = msg.value()
                event = None
                if value is not None:
                    try:
                        event = runtime.codec.decode(topic, value)
                    except DecodeError as exc:
                        if on_error is not None:
                            on_error(f"{topic}[{p}]@{offset}: {exc}")
                        if offset + 1 >= ends[p]:
                            open_.discard(p)
                        continue
                    if stop is not None and stop(event):
                        open_.discard(p)
                        consumer.pause([TopicPartition(topic, p)])
                        continue
                yield p, offset, key, msg.timestamp()[1], event
                if offset + 1 >= ends[p]:
                    open_.discard(p)
    finally:
        consumer.close()


def replay_journal(
    runtime,
    store: Store,
    *,
    until_ns: int | None = None,
    until_offset: int | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> ReplayResult:
    """Fold `order.events` from the beginning into `store` (which must be fresh).

    Every partition is read from its first offset to its end offset at start
    (read_committed), or to `until_offset` (exclusive: records 0 .. until_offset-1
    of each partition), and a partition stops at its first event with
    `ts_event > until_ns` (the state as of that time: a prefix of each
    partition, so no order is left with a gap). Orders and positions never span
    partitions (the journal is keyed by account), so folding the partitions
    interleaved gives the same states as folding them one after the other.
    Undecodable records are counted and skipped (the live worker dead-letters them)."""
    _require_fresh(store)
    runtime.learn_schemas()
    started = time.perf_counter()
    replayer = Replayer()
    undecodable: list[str] = []
    bar: Any = None

    def on_total(total: int) -> None:
        nonlocal bar
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="ev", desc="replay", dynamic_ncols=True)

    def on_record(_: int) -> None:
        if bar is not None:
            bar.update(1)

    stop = None if until_ns is None else (lambda event: event.ts_event > until_ns)
    seen: set[int] = set()
    try:
        for partition, _, _, _, event in _read(
            runtime, runtime.topics.journal, until_offset=until_offset, stop=stop, timeout=timeout,
            on_total=on_total, on_record=on_record, on_error=undecodable.append,
        ):
            seen.add(partition)
            if event is not None:
                replayer.apply(event)
    finally:
        if bar is not None:
            bar.close()
    replayer.write(store)
    return _result(replayer, started, partitions=len(seen), undecodable=len(undecodable))


def live_views(runtime, timeout: float = 30.0) -> tuple[dict[str, OrderView], dict[str, Position]]:
    """The compacted `orders` and `positions` topics read to their end: the latest record per key
    (a tombstone removes the key). Keys are the record keys (order id; f"{account}|{instrument}")."""
    runtime.learn_schemas()
    orders: dict[str, OrderView] = {}
    positions: dict[str, Position] = {}
    for topic, out, kind in ((runtime.topics.orders, orders, OrderView), (runtime.topics.positions, positions, Position)):
        for _, _, key, _, event in _read(runtime, topic, timeout=timeout):
            if event is None:
                if key is not None:
                    out.pop(key, None)
                continue
            if not isinstance(event, kind):
                continue
            if key is None:
                key = event.order_id if isinstance(event, OrderView) else f"{event.account}|{event.instrument}"
            out[key] = event
    return orders, positions


# ------------------------------------------------------------------ verify


@dataclass(frozen=True)
class Difference:
    kind: str
    """"order" or "position"."""
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
    from oms.domain.positions import to_event

    for key in sorted(result.positions.keys() | positions_view.keys()):
        state, live = result.positions.get(key), positions_view.get(key)
        if state is None or live is None:
            diffs.append(Difference("position", key, "missing", state is not None, live is not None))
            continue
        diffs.extend(_compare("position", key, POSITION_FIELDS, to_event(state, None, 0), live))
    return diffs


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
    for p, offset, key, ts_ms, event in _read(runtime, runtime.topics.journal, timeout=timeout):
        if event is not None and _names(event, order_id):
            found.append(Received(runtime.topics.journal, p, offset, key, ts_ms, event))
            partition = p
    if partition is None:
        return []
    for topic in (runtime.topics.commands, runtime.topics.exec_reports):
        for p, offset, key, ts_ms, event in _read(runtime, topic, partitions=[partition], timeout=timeout):
            if event is not None and _names(event, order_id):
                found.append(Received(topic, p, offset, key, ts_ms, event))

    def order(r: Received):
        return r.event.ts_event, _RANK.get(runtime.topics.short(r.topic), 3), r.partition, r.offset

    return sorted(found, key=order)

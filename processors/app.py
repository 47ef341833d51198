"""The faust side of the worker: the position manager and the table of marks.

The agents are thin adapters: they decode the journal and market data with
the project codec, apply the journal projection's position rule
(`oms.domain.projection.position_key` and `evolve_position`, the fold replay
runs too) and publish the compacted `positions` view. State lives in faust
tables on the rocksdict driver with changelog topics, under the keys of
`oms.keys`.

Why two runtimes with two guarantees. The order engine's outputs (journal,
venue requests, fills) must never repeat and never be lost, so it runs on
Kafka transactions directly (`processors/engine.py`: outputs, state and
consumed offsets commit as one). faust's own `exactly_once` mode cannot give
that here (it commits without flushing buffered table-changelog sends), so
the position manager is at-least-once and makes repetition harmless instead:
its output is a compacted view whose event id is deterministic
(`pos.<account>.<instrument>.<version>`), and its fold ignores a fill id it
has applied. What it must never do is lose an update, so each journal record
is handled in two phases. First everything is computed: decode, the new
position state, its `Position` event (which must fit the wire's
decimal(28,8): `UnrepresentablePosition` otherwise) and their bytes. Any
failure there (undecodable, unrepresentable, or any exception of the fold)
dead-letters the input (`streams.records.dead_letter`) with an ALERT (a
WARNING for undecodable bytes), leaves the state as it was, marks the input
applied and goes on. Then the effects, publish before commit: the `Position`
is sent and its delivery awaited, and only then is the change written to
the table together with the input's applied offset (`streams.idempotence`,
the guard the engine's processor uses). A position is stored as its history:
the changes its fills, busts and corrections made
(`oms.domain.positions.PositionChange`), `oms.state.HISTORY_BLOCK` to a block under
`oms.keys.position_history`, folded back in order when it is read; a change
rewrites only the last block, so a fill costs the same on the day's first
fill as on its thousandth. The process holds the positions it has read or
written since the last rebalance (`HeldPosition`) and reads a position from
the table only when it does not hold it (after a restart or a rebalance). A journal event that moves no position
(most of them: acknowledgements, routing, cancels) writes nothing, but for its
partition's applied offset once every `WorkerOptions.mark_passed_every` of them:
read again after a restart, it is a no-op again. It is passed by
on its header alone (`Codec.record_name`: an admitted journal event type that is
not a fill, bust or correction), its body neither read nor checked: the
engine, the journal's only writer, writes it from a validated event, and
replay counts a body that does not decode. Where a journal partition is
read from after a restart or a rebalance is the restored table's own applied
offset, plus one (`resume_offsets`), not the group's committed offset: the
applied offset is written after the state it covers, to the same changelog
partition, so whatever prefix of the changelog a successor restores, it reads
again every input that prefix lacks; faust's offset bookkeeping can commit past
an input no agent handled, and a position would then miss that fill for good.
No journal record reaches the agent before that seek (`resume_topics`: faust
would otherwise hand it records from the committed offset first, and those
would carry the applied offset past the inputs the seek goes back for), so
each partition is read in order from where its state ends.
A table write only queues its changelog record, and the app also runs on
`streams.faust_transport.durable_transport`, which commits an input offset
only once every changelog record queued before is acknowledged by the broker
(acks=all), so the committed offsets that monitoring reads as lag are sound
too. A crash between publish and store re-reads
the input and applies it again to the old state: the same event is published
again and the compacted view is unchanged. This stays inside faust's model (no
second consumer, no transactions): the wait runs in faust's commit task, so
the agent never waits for the changelog. A failed publish is not the input's
fault and is not dead-lettered: the agent halts (`Progress.halted`) without
advancing, and the worker's liveness check stops the process for its
supervisor to restart it from the committed state. A changelog write the
broker refused halts it the same way, and no offset is committed after it;
one limit remains: a later changelog write of the same partition that did
get through (a refusal of one batch only; a slow broker is waited for, up to
faust's 20-minute producer request timeout, far beyond the liveness check)
can carry an applied offset past the lost write, whose fill would then be
skipped on restart.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

import faust

from oms import keys
from oms.clock import Clock
from oms.config import Settings
from oms.domain.positions import UnrepresentablePosition, changed_position, reference_price, to_event
from oms.domain.projection import FILL_EVENTS, position_key
from oms.events import Event
from oms.routing import Router, StaticRouter
from oms.state import HeldPosition, block_write, held_after, load_held
from streams.codec import Codec, DecodeError, make_codec
from streams.faust_transport import durable_transport
from streams.idempotence import already_applied, last_applied, mark_applied, partition_scope
from streams.records import Record, dead_letter
from streams.topics import BY_NAME, Topics

log = logging.getLogger("oms.worker")
fill_log = logging.getLogger("oms.worker.fills")
"""At DEBUG, one line per fill-type journal record the position manager meets: its partition, offset and
fill id, and what became of it (applied, skipped as applied, moved nothing). Enable with
`OMS_DEBUG=oms.worker.fills` (`entrypoints.context.configure_logging`)."""
SESSION_TIMEOUT_S = 20.0
"""The position manager's consumer session: how long a killed worker's member holds its partitions."""

RAW = dict(key_type=bytes, value_type=bytes)
"""Keys and values stay bytes: the project codec, not faust's, decides the wire format."""

POSITION_MANAGER = "position-manager"

STILL: frozenset[str] = frozenset(kind.schema_name for kind in BY_NAME["order.events"].admits
                                  if not issubclass(kind, FILL_EVENTS))
"""The Avro record names of the journal's event types that move no position (all but fills, busts and
corrections): the position manager passes them by on their header."""


@dataclass(frozen=True)
class WorkerOptions:
    router: Router = StaticRouter()
    commit_interval_s: float = 0.5
    processing_guarantee: str = "at_least_once"
    replication_factor: int = 1
    liveness_timeout_s: float = 120.0
    """How long the journal may grow while the position manager handles nothing before the
    worker gives up and exits non-zero (`processors.worker.Liveness`); longer than a table recovery."""
    liveness_interval_s: float = 5.0
    """How often the liveness check looks."""
    mark_passed_every: int = 1000
    """The position manager writes a journal partition's applied offset at least once every this many
    events it passes by (those that move no position), so a restart reads at most this many again."""


@dataclass
class Progress:
    """What the position manager tells the worker's liveness check (read from another thread).

    `handled` counts the journal records it has finished with (applied, skipped
    or dead-lettered); `assigned` is the journal partitions faust gives it
    (refreshed each second on the event loop); `halted` is set, with the reason,
    when the agent stopped for good (a failed publish, a refused table changelog write)."""

    handled: int = 0
    assigned: frozenset[int] = field(default_factory=frozenset)
    halted: str | None = None


class PositionUpdate(NamedTuple):
    """Everything one journal record changes, computed before anything is written."""

    stored_key: bytes
    block_key: bytes
    block: bytes
    held: HeldPosition
    view_key: bytes
    view: bytes



def _fill_name(decoded: Event) -> str:
    """A journal event as the DEBUG log names it: its fill id, else its type."""
    return getattr(decoded, "fill_id", type(decoded).__name__)


def _fill_id(codec: Codec, record: Record) -> str:
    """The fill id of a journal record, for the DEBUG log (its error when it does not decode)."""
    try:
        return _fill_name(codec.decode(record.topic, record.value or b""))
    except DecodeError as exc:
        return f"undecodable ({exc})"


def app_id(topics: Topics) -> str:
    return f"{topics.prefix}worker".replace(".", "-")


def create_app(
    settings: Settings,
    bootstrap_servers: str,
    *,
    options: WorkerOptions = WorkerOptions(),
    clock: Clock,
    codec: Codec | None = None,
    progress: Progress | None = None,
) -> faust.App:
    codec = codec or make_codec(settings.schema_registry_url)
    topics = Topics(settings.topic_prefix)
    progress = progress if progress is not None else Progress()
    app = faust.App(
        app_id(topics),
        broker=[f"kafka://{server}" for server in bootstrap_servers.split(",")],
        store="rocksdb://",
        processing_guarantee=options.processing_guarantee,
        topic_partitions=settings.partitions,
        topic_replication_factor=options.replication_factor,
        datadir=str(settings.home / "worker" / app_id(topics)),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=options.commit_interval_s,
        broker_commit_every=1000,
        # a worker killed with SIGKILL leaves its member in the group until its session expires, and the
        # restarted worker's position manager waits for that rebalance (faust's default session is 60 s)
        broker_session_timeout=SESSION_TIMEOUT_S,
        table_standby_replicas=0,
        producer_linger_ms=1,
        key_serializer="raw",
        value_serializer="raw",
    )

    def halt(reason: str) -> None:
        if progress.halted is None:
            progress.halted = reason
            log.error("%s halted: %s", POSITION_MANAGER, reason)

    # read committed records only (never a fill of a transaction the engine aborted), and commit an
    # input offset only once the table writes made before are in their changelog topics
    # (`resume_offsets` is defined below, once the table it reads exists)
    durable_transport(app, on_changelog_failure=halt, resume_offsets=lambda tps: resume_offsets(tps),
                      resume_topics=[topics.journal])

    def topic(name: str, *more: str) -> faust.TopicT:
        return app.topic(name, *more, internal=False, **RAW)

    journal_in = topic(topics.journal)
    marketdata_in = topic(topics.marketdata)
    positions_out = topic(topics.positions)
    deadletter_out = topic(topics.deadletter)

    table_options = {"driver": "rocksdict"}
    position_state = app.Table("positions", partitions=settings.partitions, options=table_options, **RAW)
    marks = app.GlobalTable(
        "marks", partitions=BY_NAME["marketdata"].partition_count(settings.partitions), options=table_options, **RAW
    )

    async def send_dead_letter(record: Record, error: str, processor: str, *, alert: bool = False) -> None:
        letter = dead_letter(record, error, processor, clock.now_ns())
        if alert:
            log.error("ALERT %s: input %s[%d]@%d dead-lettered: %s", processor, record.topic, record.partition,
                      record.offset, error)
        else:
            log.warning("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, error)
        delivery = await deadletter_out.send(key=record.key, value=codec.encode(topics.deadletter, letter))
        await delivery  # delivered before the input is marked applied

    def mark_price(instrument: str) -> Decimal | None:
        raw = marks.get(instrument.encode())
        return None if raw is None else Decimal(raw.decode())

    held: dict[bytes, HeldPosition] = {}
    """The positions read or written since the last rebalance: a position is read from its table
    once, then changed here and in its last history block (a rebalance clears it)."""

    def position_update(decoded: Event) -> PositionUpdate | None:
        """The new state and the `Position` to publish for a journal event, or None when it moves
        no position (not a fill, or a fill already applied). Pure but for the table reads."""
        key = position_key(decoded)
        if key is None:
            return None
        stored = keys.position(decoded.account, decoded.instrument).encode()
        before = held.get(stored)
        if before is None:
            before = load_held(position_state, decoded.account, decoded.instrument)
        changed = changed_position(None if before is None else before.state, decoded)
        if changed is None:
            return None
        after, change = changed
        now = held_after(before, after, change)
        view = to_event(after, mark_price(decoded.instrument), decoded.ts_event)
        block_key, block = block_write(now)
        return PositionUpdate(stored, block_key, block, now, key.encode(), codec.encode(topics.positions, view))

    async def publish_then_store(update: PositionUpdate) -> None:
        delivery = await positions_out.send(key=update.view_key, value=update.view)
        await delivery  # delivered before the state (and the applied offset) is written
        position_state[update.block_key] = update.block
        held[update.stored_key] = update.held

    async def forget_held(sender, *args, **kwargs) -> None:
        """On revoke (the table may change under another owner) and on assign (it is restored)."""
        held.clear()

    app.on_partitions_revoked.connect(forget_held)
    app.on_partitions_assigned.connect(forget_held)

    async def manage_position(record: Record) -> bool:
        """Compute, then publish, then store; an input that cannot be handled is dead-lettered.
        True when it published (a position or a dead letter), False for a journal event that moves
        no position. Raises only when publishing (the position or the dead letter) failed."""
        try:
            decoded = codec.decode(record.topic, record.value or b"")
            refusal = topics.admitted(record.topic, decoded)
            if refusal is not None:
                await send_dead_letter(record, refusal, POSITION_MANAGER)
                return True
            update = position_update(decoded)
        except DecodeError as exc:
            await send_dead_letter(record, str(exc), POSITION_MANAGER)
            return True
        except UnrepresentablePosition as exc:
            await send_dead_letter(record, f"unrepresentable position: {exc}", POSITION_MANAGER, alert=True)
            return True
        except Exception as exc:  # any failure of the handler: dead-lettered, the state unchanged
            log.exception("%s failed on %s[%d]@%d", POSITION_MANAGER, record.topic, record.partition, record.offset)
            await send_dead_letter(record, f"{type(exc).__name__}: {exc}", POSITION_MANAGER, alert=True)
            return True
        if update is None:
            fill_log.debug("journal[%d]@%d %s: moves no position", record.partition, record.offset,
                           _fill_name(decoded))
            return False
        await publish_then_store(update)
        fill_log.debug("journal[%d]@%d %s: applied to %s (%d fills)", record.partition, record.offset,
                       _fill_name(decoded), update.stored_key.decode(), update.held.state.fills)
        return True

    def moves_nothing(value: bytes | None) -> bool:
        """Whether the record's header names a journal event type that moves no position (`STILL`):
        it is passed by unread. Anything else is handled in full."""
        try:
            return codec.record_name(value or b"") in STILL
        except DecodeError:
            return False  # decoded in full, and dead-lettered there

    def resume_offsets(tps) -> dict:
        """Where to read each assigned journal partition from: right after the last input the restored
        table marked applied, or from the start when it marked none. Never the group's committed
        offset: the state, not faust's offset bookkeeping, says which inputs it holds."""
        offsets = {}
        for tp in tps:
            if tp.topic == topics.journal:
                last = last_applied(partition_scope(position_state, tp.partition), tp.topic)
                offsets[tp] = 0 if last is None else last + 1
                fill_log.debug("journal[%d]: resuming at %d", tp.partition, offsets[tp])
        return offsets

    unmarked: dict[int, int] = {}
    """Per journal partition, the events passed by since its applied offset was last written."""

    @app.agent(journal_in, name=POSITION_MANAGER)
    async def position_manager(stream):
        async for event in stream.events():
            if progress.halted is not None:  # a changelog write failed: write nothing more
                await asyncio.Event().wait()  # the worker stops the process
            partition = event.message.partition
            if moves_nothing(event.message.value):  # most events: nothing built for them but a count
                passed = unmarked.get(partition, 0) + 1
                if passed >= options.mark_passed_every:  # bounds what a restart reads again
                    record = Record.of_faust(event.message)
                    applied = partition_scope(position_state, partition)
                    if not already_applied(applied, record):
                        mark_applied(applied, record)
                    passed = 0
                unmarked[partition] = passed
                progress.handled += 1
                continue
            record = Record.of_faust(event.message)
            applied = partition_scope(position_state, partition)
            if not already_applied(applied, record):
                try:
                    published = await manage_position(record)
                except Exception as exc:  # the broker refused a publish: not the input's fault
                    halt(f"publishing for {record.topic}[{record.partition}]@{record.offset} "
                         f"failed: {type(exc).__name__}: {exc}")
                    await asyncio.Event().wait()  # advance no further; the worker stops the process
                if published:  # an event that moved nothing is handled again as a no-op if read again
                    mark_applied(applied, record)
                    unmarked[partition] = 0
            elif fill_log.isEnabledFor(logging.DEBUG):
                fill_log.debug("journal[%d]@%d %s: skipped, applied up to %s", partition, record.offset,
                               _fill_id(codec, record), last_applied(applied, record.topic))
            progress.handled += 1

    @app.agent(marketdata_in, name="marks")
    async def mark_prices(stream):
        async for event in stream.events():
            record = Record.of_faust(event.message)
            try:
                decoded = codec.decode(record.topic, record.value or b"")
                refusal = topics.admitted(record.topic, decoded)
                if refusal is not None:
                    await send_dead_letter(record, refusal, "marks")
                    continue
                price = reference_price(decoded)
            except DecodeError as exc:
                await send_dead_letter(record, str(exc), "marks")
                continue
            except Exception as exc:  # any failure of the handler: dead-lettered, the marks unchanged
                log.exception("marks failed on %s[%d]@%d", record.topic, record.partition, record.offset)
                await send_dead_letter(record, f"{type(exc).__name__}: {exc}", "marks", alert=True)
                continue
            if price is not None:
                marks[decoded.instrument.encode()] = str(price).encode()

    @app.timer(1.0)
    async def note_assignment() -> None:
        progress.assigned = frozenset(tp.partition for tp in app.consumer.assignment()
                                      if tp.topic == topics.journal)

    return app

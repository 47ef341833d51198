"""The faust side of the worker: the position manager and the table of marks.

The agents are thin adapters: they decode the journal and market data with
the project codec, apply the journal projection's position rule
(`oms.domain.projection.position_key` and `evolve_position`, the fold replay
runs too) and publish the compacted `positions` view. State lives in faust
tables on the rocksdict driver with changelog topics, under the keys of
`oms.keys`. The processing guarantee is at-least-once, and effects are
exactly-once all the same: the fold ignores a fill id it has applied, the last
applied journal offset per partition is kept in the same table as the
positions (`streams.idempotence`, the mechanism the engine's processor uses),
a position event's id is deterministic and the view is compacted. (faust's `exactly_once` mode commits transactions without flushing
buffered table-changelog sends; the order engine, whose outputs must never
repeat, runs on Kafka transactions directly: see `processors/engine.py`.)

Undecodable input goes to the dead-letter topic (`streams.records.dead_letter`);
the agents keep going. faust stays here because it is this part's runtime:
tables with changelogs and standby-free recovery for a fold that may repeat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

import faust

from oms import keys
from oms.clock import Clock
from oms.config import Settings
from oms.domain.positions import evolve_position, reference_price, to_event
from oms.domain.projection import position_key
from oms.events import Event
from oms.routing import Router, StaticRouter
from oms.state import dump_position, load_position
from streams.codec import Codec, DecodeError, make_codec
from streams.idempotence import already_applied, mark_applied, partition_scope
from streams.records import Record, dead_letter
from streams.topics import BY_NAME, Topics

log = logging.getLogger("oms.worker")

RAW = dict(key_type=bytes, value_type=bytes)
"""Keys and values stay bytes: the project codec, not faust's, decides the wire format."""


@dataclass(frozen=True)
class WorkerOptions:
    router: Router = StaticRouter()
    commit_interval_s: float = 0.5
    processing_guarantee: str = "at_least_once"
    replication_factor: int = 1


def app_id(topics: Topics) -> str:
    return f"{topics.prefix}worker".replace(".", "-")


def create_app(
    settings: Settings,
    bootstrap_servers: str,
    *,
    options: WorkerOptions = WorkerOptions(),
    clock: Clock,
    codec: Codec | None = None,
) -> faust.App:
    codec = codec or make_codec(settings.schema_registry_url)
    topics = Topics(settings.topic_prefix)
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
        table_standby_replicas=0,
        producer_linger_ms=1,
        key_serializer="raw",
        value_serializer="raw",
    )

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

    async def send(out: faust.TopicT, key: str, event: Event) -> None:
        await out.send(key=key.encode(), value=codec.encode(out.get_topic_name(), event))

    async def send_dead_letter(record: Record, error: str, processor: str) -> None:
        letter = dead_letter(record, error, processor, clock.now_ns())
        log.warning("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, error)
        await deadletter_out.send(key=record.key, value=codec.encode(topics.deadletter, letter))

    @app.agent(journal_in, name="position-manager")
    async def position_manager(stream):
        async for event in stream.events():
            record = Record.of_faust(event.message)
            applied = partition_scope(position_state, record.partition)
            if already_applied(applied, record):
                continue
            try:
                decoded = codec.decode(record.topic, record.value or b"")
            except DecodeError as exc:
                await send_dead_letter(record, str(exc), "position-manager")
                mark_applied(applied, record)
                continue
            key = position_key(decoded)
            if key is not None:
                stored = keys.position(decoded.account, decoded.instrument).encode()
                before = load_position(position_state.get(stored))
                after = evolve_position(before, decoded)
                if after is not None and after != before:
                    position_state[stored] = dump_position(after)
                    raw_mark = marks.get(decoded.instrument.encode())
                    mark_price = None if raw_mark is None else Decimal(raw_mark.decode())
                    await send(positions_out, key, to_event(after, mark_price, decoded.ts_event))
            mark_applied(applied, record)

    @app.agent(marketdata_in, name="marks")
    async def mark_prices(stream):
        async for event in stream.events():
            try:
                decoded = codec.decode(event.message.topic, event.message.value or b"")
            except DecodeError as exc:
                await send_dead_letter(Record.of_faust(event.message), str(exc), "marks")
                continue
            price = reference_price(decoded)
            if price is not None:
                marks[decoded.instrument.encode()] = str(price).encode()

    return app

"""The topic catalogue: every topic the OMS reads or writes, with its key and policy.

Topic names carry a configurable prefix (`oms.` by default) so that several
environments can share one cluster. Creation is idempotent: existing topics
are left as they are and reported as such. Topics keyed by account share one
partition count so that commands, execution reports, the journal and fills
are co-partitioned: one engine instance owns an account's whole state.

The catalogue is also the admission table: each topic names the event types
it carries (`TopicSpec.admits`), and every consumer asks `admitted(topic,
event)` (or `Topics.admitted` with a full name) before acting on what it read:
an ExecutionReport on `commands` or a NewOrder on `exec.reports` is refused with
the reason and dead-lettered, never applied. `admitting(topic, fold)` applies the
same check to the fold of a followed topic (a refused event is not folded).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, TypeVar

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from oms.events import (
    JOURNAL_EVENTS,
    AmendOrder,
    CancelOrder,
    DeadLetter,
    Event,
    ExecutionReport,
    NewTradingDay,
    OrderMassStatusRequest,
    OrderStatusRequest,
    Fill,
    NewOrder,
    OrderView,
    VENUE_STATUS_EVENTS,
    VenueReconciliation,
    Position,
    Quote,
    RiskControl,
    Trade,
    VenueRequest,
)


T = TypeVar("T")

FOREVER = -1
DAY_MS = 24 * 3600 * 1000

ACCOUNT_PARTITIONS = "accounts"
"""Placeholder partition count: the configured account partition count."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    partitions: int | str
    cleanup: str  # "delete" or "compact"
    retention_ms: int
    written_by: str
    holds: str
    admits: tuple[type[Event], ...] = ()
    """The event types the topic carries; its consumers refuse (dead-letter) any other.
    Empty for a topic that carries no events (raw state, schemas)."""

    def partition_count(self, account_partitions: int) -> int:
        return account_partitions if self.partitions == ACCOUNT_PARTITIONS else int(self.partitions)

    def config(self) -> dict[str, str]:
        cfg = {"cleanup.policy": self.cleanup, "retention.ms": str(self.retention_ms)}
        if self.cleanup == "compact":
            cfg["min.cleanable.dirty.ratio"] = "0.1"
            cfg["segment.ms"] = str(3600 * 1000)
        return cfg


CATALOGUE: tuple[TopicSpec, ...] = (
    TopicSpec("commands", "account", ACCOUNT_PARTITIONS, "delete", FOREVER,
              "producers (client, CLI)",
              "NewOrder, AmendOrder, CancelOrder, OrderStatusRequest, OrderMassStatusRequest, NewTradingDay",
              (NewOrder, AmendOrder, CancelOrder, OrderStatusRequest, OrderMassStatusRequest, NewTradingDay)),
    TopicSpec("order.events", "account", ACCOUNT_PARTITIONS, "delete", FOREVER,
              "order engine (only)", "the journal: every decision and fact about an order", JOURNAL_EVENTS),
    TopicSpec("venue.requests", "venue", 3, "delete", 7 * DAY_MS,
              "order engine", "VenueRequest: child orders, replaces, cancels", (VenueRequest,)),
    TopicSpec("exec.reports", "account", ACCOUNT_PARTITIONS, "delete", FOREVER,
              "venue gateways", "ExecutionReport from venues", (ExecutionReport,)),
    TopicSpec("marketdata", "instrument", 3, "delete", 7 * DAY_MS,
              "market data handler", "Quote, Trade", (Quote, Trade)),
    TopicSpec("fills", "account", ACCOUNT_PARTITIONS, "delete", FOREVER,
              "order engine", "Fill: the downstream contract, one event per fill", (Fill,)),
    TopicSpec("orders", "order id", ACCOUNT_PARTITIONS, "compact", FOREVER,
              "order engine", "OrderView: latest state of each order", (OrderView,)),
    TopicSpec("positions", "account|instrument", ACCOUNT_PARTITIONS, "compact", FOREVER,
              "position manager", "Position: latest position of each account and instrument", (Position,)),
    TopicSpec("engine.state", "order id (partition of its account)", ACCOUNT_PARTITIONS, "compact", FOREVER,
              "order engine", "changelog of the engine's RocksDB state (orders, accounts, controls, applied offsets)"),
    TopicSpec("risk.controls", "scope|kind|name", 1, "compact", FOREVER,
              "operators, post-trade risk", "RiskControl: limits, states, kill switches", (RiskControl,)),
    TopicSpec("deadletter", "source key", 1, "delete", 30 * DAY_MS,
              "any processor", "DeadLetter: input that could not be decoded or validated", (DeadLetter,)),
    TopicSpec("schemas", "fingerprint", 1, "compact", FOREVER,
              "every producer", "Avro schemas by CRC-64-AVRO fingerprint"),
    TopicSpec("venue.status", "venue (VenueStatus), venue|control, venue|alert|request id", 1, "compact", FOREVER,
              "venue gateways, operators",
              "VenueStatus: connection, circuit breaker, queues, tokens; VenueControl: operator overrides; "
              "VenueAlert: requests a venue never answered", VENUE_STATUS_EVENTS),
    TopicSpec("venue.reconciliations", "venue", 1, "delete", FOREVER,
              "venue gateways", "VenueReconciliation: what each reconciliation of a venue found and did",
              (VenueReconciliation,)),
)

BY_NAME: dict[str, TopicSpec] = {spec.name: spec for spec in CATALOGUE}


def admitted(topic: str, event: Event | str) -> str | None:
    """None when `event` (an event, or its Avro schema name such as "oms.NewOrder") may be on
    the catalogue topic `topic` (its short name, e.g. "commands"); else why not, e.g.
    "ExecutionReport is not admitted on commands (it admits NewOrder, AmendOrder, CancelOrder)".
    The one admission check: every consumer of a topic calls it (through `Topics.admitted`
    with a full topic name, or `admitting` around a fold)."""
    spec = BY_NAME[topic]
    schema = event if isinstance(event, str) else event.schema_name
    if any(kind.schema_name == schema for kind in spec.admits):
        return None
    name = schema.rpartition(".")[2] if isinstance(event, str) else type(event).__name__
    if not spec.admits:
        return f"{name} is not admitted on {topic} (it carries no events)"
    if spec.admits == JOURNAL_EVENTS:
        return f"{name} is not admitted on {topic} (it admits journal events only)"
    return f"{name} is not admitted on {topic} (it admits {', '.join(k.__name__ for k in spec.admits)})"


def admitting(topic: str, fold: Callable[[T, Event], T]) -> Callable[[T, Event], T]:
    """`fold` over the catalogue topic `topic` that refuses (raises `ValueError` with the reason:
    a followed table logs it and folds nothing) every event the topic does not admit."""

    def admitted_fold(value: T, event: Event) -> T:
        reason = admitted(topic, event)
        if reason is not None:
            raise ValueError(reason)
        return fold(value, event)

    return admitted_fold


@dataclass(frozen=True)
class Topics:
    """Full topic names for one prefix: `Topics("oms.").commands == "oms.commands"`."""

    prefix: str = "oms."

    def name(self, short: str) -> str:
        if short not in BY_NAME:
            raise KeyError(f"unknown topic {short!r}; known: {', '.join(BY_NAME)}")
        return self.prefix + short

    def short(self, full: str) -> str:
        """The catalogue name of a full topic name (accepts a short name too)."""
        if full.startswith(self.prefix) and full[len(self.prefix):] in BY_NAME:
            return full[len(self.prefix):]
        if full in BY_NAME:
            return full
        raise KeyError(f"{full!r} is not an OMS topic under prefix {self.prefix!r}")

    def admitted(self, full: str, event: Event | str) -> str | None:
        """`admitted` for a full topic name (or a short one): None, or why `event` is refused there."""
        return admitted(self.short(full), event)

    @property
    def commands(self) -> str:
        return self.name("commands")

    @property
    def journal(self) -> str:
        return self.name("order.events")

    @property
    def venue_requests(self) -> str:
        return self.name("venue.requests")

    @property
    def exec_reports(self) -> str:
        return self.name("exec.reports")

    @property
    def marketdata(self) -> str:
        return self.name("marketdata")

    @property
    def fills(self) -> str:
        return self.name("fills")

    @property
    def orders(self) -> str:
        return self.name("orders")

    @property
    def positions(self) -> str:
        return self.name("positions")

    @property
    def engine_state(self) -> str:
        return self.name("engine.state")

    @property
    def risk_controls(self) -> str:
        return self.name("risk.controls")

    @property
    def deadletter(self) -> str:
        return self.name("deadletter")

    @property
    def schemas(self) -> str:
        return self.name("schemas")

    @property
    def venue_status(self) -> str:
        return self.name("venue.status")

    @property
    def venue_reconciliations(self) -> str:
        return self.name("venue.reconciliations")


@dataclass(frozen=True)
class TopicStatus:
    name: str
    created: bool
    partitions: int
    cleanup: str


def create_topics(
    admin: AdminClient,
    topics: Topics,
    account_partitions: int,
    specs: Iterable[TopicSpec] = CATALOGUE,
    timeout: float = 30.0,
) -> list[TopicStatus]:
    """Create every topic of the catalogue that does not exist yet; never alter existing ones."""
    specs = list(specs)
    existing = admin.list_topics(timeout=timeout).topics
    new = [
        NewTopic(
            topics.name(s.name),
            num_partitions=s.partition_count(account_partitions),
            replication_factor=-1,  # the broker's default
            config=s.config(),
        )
        for s in specs
        if topics.name(s.name) not in existing
    ]
    created: set[str] = set()
    if new:
        for name, future in admin.create_topics(new, operation_timeout=timeout).items():
            try:
                future.result()
                created.add(name)
            except KafkaException as exc:
                if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":  # a concurrent creator won
                    raise
    metadata = admin.list_topics(timeout=timeout).topics
    out = []
    for s in specs:
        full = topics.name(s.name)
        partitions = len(metadata[full].partitions) if full in metadata else 0
        out.append(TopicStatus(full, full in created, partitions, s.cleanup))
    return out


def describe_topics(admin: AdminClient, topics: Topics, timeout: float = 30.0) -> list[dict]:
    """Partitions, end offsets and effective configuration of every catalogue topic that exists."""
    metadata = admin.list_topics(timeout=timeout).topics
    present = [s for s in CATALOGUE if topics.name(s.name) in metadata]
    resources = [ConfigResource(ConfigResource.Type.TOPIC, topics.name(s.name)) for s in present]
    configs = {}
    if resources:
        for res, future in admin.describe_configs(resources).items():
            configs[res.name] = {k: v.value for k, v in future.result().items()}
    rows = []
    for s in CATALOGUE:
        full = topics.name(s.name)
        if full not in metadata:
            rows.append({"topic": full, "exists": False, "key": s.key, "spec": s})
            continue
        cfg = configs.get(full, {})
        rows.append({
            "topic": full,
            "exists": True,
            "key": s.key,
            "partitions": len(metadata[full].partitions),
            "cleanup": cfg.get("cleanup.policy", "?"),
            "retention_ms": int(cfg.get("retention.ms", "0") or 0),
            "spec": s,
        })
    return rows

"""The topic catalogue: every topic the OMS reads or writes, with its key and policy.

Topic names carry a configurable prefix (`oms.` by default) so that several
environments can share one cluster. Creation is idempotent: existing topics
are left as they are and reported as such. Topics keyed by account share one
partition count so that commands, execution reports, the journal and fills
are co-partitioned: one engine instance owns an account's whole state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

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
              "producers (client, CLI)", "NewOrder, AmendOrder, CancelOrder"),
    TopicSpec("order.events", "account", ACCOUNT_PARTITIONS, "delete", FOREVER,
              "order engine (only)", "the journal: every decision and fact about an order"),
    TopicSpec("venue.requests", "venue", 3, "delete", 7 * DAY_MS,
              "order engine", "VenueRequest: child orders, replaces, cancels"),
    TopicSpec("exec.reports", "account", ACCOUNT_PARTITIONS, "delete", FOREVER,
              "venue gateways", "ExecutionReport from venues"),
    TopicSpec("marketdata", "instrument", 3, "delete", 7 * DAY_MS,
              "market data handler", "Quote, Trade"),
    TopicSpec("fills", "account", ACCOUNT_PARTITIONS, "delete", FOREVER,
              "order engine", "Fill: the downstream contract, one event per fill"),
    TopicSpec("orders", "order id", ACCOUNT_PARTITIONS, "compact", FOREVER,
              "order engine", "OrderView: latest state of each order"),
    TopicSpec("positions", "account|instrument", ACCOUNT_PARTITIONS, "compact", FOREVER,
              "position manager", "Position: latest position of each account and instrument"),
    TopicSpec("engine.state", "order id (partition of its account)", ACCOUNT_PARTITIONS, "compact", FOREVER,
              "order engine", "changelog of the engine's RocksDB state (orders, accounts, controls, applied offsets)"),
    TopicSpec("risk.controls", "scope|kind|name", 1, "compact", FOREVER,
              "operators, post-trade risk", "RiskControl: limits, states, kill switches"),
    TopicSpec("deadletter", "source key", 1, "delete", 30 * DAY_MS,
              "any processor", "DeadLetter: input that could not be decoded or validated"),
    TopicSpec("schemas", "fingerprint", 1, "compact", FOREVER,
              "every producer", "Avro schemas by CRC-64-AVRO fingerprint"),
)

BY_NAME: dict[str, TopicSpec] = {spec.name: spec for spec in CATALOGUE}


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

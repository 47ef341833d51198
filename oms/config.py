"""Configuration: one frozen object, read from the environment once at the entry point.

Everything below the entry point receives a `Settings` value; nothing else in
the code base reads `os.environ`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping


@dataclass(frozen=True)
class Settings:
    """Where the OMS finds its cluster and keeps its local files."""

    bootstrap_servers: str | None = None
    """`KAFKA_BOOTSTRAP_SERVERS`; when unset the local broker is used."""
    schema_registry_url: str | None = None
    """`SCHEMA_REGISTRY_URL`; when set the Confluent wire format is used."""
    topic_prefix: str = "oms."
    """`OMS_TOPIC_PREFIX`; lets several environments share one cluster."""
    home: Path = Path(".oms")
    """`OMS_HOME`: local broker data, state stores, logs."""
    cache_dir: Path = Path.home() / ".cache" / "oms"
    """`OMS_CACHE_DIR`: downloaded Kafka jars (shared by every checkout)."""
    partitions: int = 3
    """`OMS_PARTITIONS`: partition count of the account-keyed topics."""

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        default = cls()
        return cls(
            bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            schema_registry_url=env.get("SCHEMA_REGISTRY_URL") or None,
            topic_prefix=env.get("OMS_TOPIC_PREFIX", default.topic_prefix),
            home=Path(env.get("OMS_HOME", str(default.home))).absolute(),
            cache_dir=Path(env.get("OMS_CACHE_DIR", str(default.cache_dir))),
            partitions=int(env.get("OMS_PARTITIONS", default.partitions)),
        )

"""Shared test fixtures: one real Kafka cluster per session, unique names per test.

The cluster is chosen by `streams.broker.resolve_bootstrap`: `KAFKA_BOOTSTRAP_SERVERS`
if set, else a Docker container when a Docker engine answers, else a local
broker in a fresh temporary data directory (jars cached in `OMS_CACHE_DIR`),
stopped when the session ends.
"""

from __future__ import annotations

import warnings
from typing import Iterator
from uuid import uuid4

# confluent_kafka.schema_registry imports authlib's httpx integration, which warns on import
warnings.filterwarnings("ignore", message="The httpx module is deprecated")

import pytest

from oms.config import Settings
from streams.broker import resolve_bootstrap


@pytest.fixture(scope="session")
def bootstrap_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of the session's Kafka cluster."""
    settings = Settings.from_env()
    if not settings.bootstrap_servers:
        # A fresh broker for this session: data in a temp dir, jars from the shared cache.
        settings = settings.with_(home=tmp_path_factory.mktemp("broker"))
    bootstrap, handle = resolve_bootstrap(settings, allow_docker=True)
    yield bootstrap
    if handle is not None:
        handle.stop()


@pytest.fixture
def unique_name() -> str:
    """A name no other test uses: prefix for topics, group ids, transactional ids."""
    return f"t{uuid4().hex[:10]}"

"""Shared test fixtures: one real Kafka cluster per session, unique names per test.

The cluster is chosen by `streams.broker.resolve_bootstrap`: `KAFKA_BOOTSTRAP_SERVERS`
if set, else a Docker container when a Docker engine answers, else a local
broker in a fresh temporary data directory (jars cached in `OMS_CACHE_DIR`),
stopped when the session ends. The FIX tests share one QuickFIX/J acceptor
per session (`fix_acceptor`, `connectors.fix_acceptor.LocalAcceptor`, started
on first use), each test with its own SenderCompID (`comp_id`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
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


REJECTED_SYMBOL = "BADSYM"
"""The acceptor rejects every NewOrderSingle for this symbol."""
MARKET_PRICE = "101.5"
"""The acceptor's price for market orders."""


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return Settings.from_env().cache_dir


@pytest.fixture(scope="session")
def fix_acceptor(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path):
    """The session's exchange: QuickFIX/J on loopback, any SenderCompID welcome."""
    from connectors.fix_acceptor import LocalAcceptor

    acceptor = LocalAcceptor(tmp_path_factory.mktemp("fix-acceptor"), cache_dir, reject_symbols=(REJECTED_SYMBOL,),
                             market_price=MARKET_PRICE)
    acceptor.start()
    yield acceptor
    acceptor.stop()


@pytest.fixture
def comp_id() -> str:
    """A SenderCompID of this test's own: its session, sequence numbers and book at the acceptor."""
    return f"OMS{uuid4().hex[:10].upper()}"

"""Fixtures of the FIX tests: one QuickFIX/J acceptor per session, and FIX adapters that are always closed.

Every test gets its own SenderCompID (so its session, sequence numbers and
book at the acceptor are its own) and its own data directory.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterator
from uuid import uuid4

import pytest

from connectors.fix_acceptor import LocalAcceptor
from oms.config import Settings

REJECTED_SYMBOL = "BADSYM"
MARKET_PRICE = "101.5"


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return Settings.from_env().cache_dir


@pytest.fixture(scope="session")
def fix_acceptor(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[LocalAcceptor]:
    """The session's exchange: QuickFIX/J on loopback, any SenderCompID welcome."""
    acceptor = LocalAcceptor(tmp_path_factory.mktemp("fix-acceptor"), cache_dir, reject_symbols=(REJECTED_SYMBOL,),
                             market_price=MARKET_PRICE)
    acceptor.start()
    yield acceptor
    acceptor.stop()


@pytest.fixture
def comp_id() -> str:
    return f"OMS{uuid4().hex[:10].upper()}"


@pytest.fixture
def make_venue(fix_acceptor: LocalAcceptor, tmp_path: Path, cache_dir: Path, comp_id: str) -> Iterator[Callable]:
    """`make_venue(**config)`: a connected `FixVenue` for this test's CompID (closed after the test)."""
    from connectors.fix.adapter import FixVenue
    from connectors.fix.config import FixVenueConfig

    made: list[FixVenue] = []

    def make(wait: bool = True, **overrides) -> FixVenue:
        config = FixVenueConfig(**{
            "venue": "FIXV", "sender_comp_id": comp_id, "target_comp_id": fix_acceptor.comp_id,
            "port": fix_acceptor.info.port, "data_dir": tmp_path / "fix", "cache_dir": cache_dir,
            "reconnect_interval": 1, "heartbeat": 5, **overrides,
        })
        venue = FixVenue(config)
        made.append(venue)
        if wait:
            assert venue.wait_connected(15), f"{comp_id} did not log on"
        return venue

    yield make
    for venue in made:
        venue.close()


def drain(venue, until: Callable[[list], bool], timeout: float = 10.0) -> list:
    """Poll `venue` until `until(everything polled so far)` holds; everything polled."""
    got: list = []
    deadline = time.monotonic() + timeout
    while True:
        got.extend(venue.poll(time.time_ns()))
        if until(got):
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s; polled {got!r}")
        time.sleep(0.02)

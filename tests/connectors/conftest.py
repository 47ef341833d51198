"""Fixtures of the FIX adapter tests: FIX adapters that are always closed.

The session's acceptor (`fix_acceptor`), `comp_id` and `cache_dir` are in
`tests/conftest.py`, shared with the OMS-level FIX tests. Every test gets its
own SenderCompID (so its session, sequence numbers and book at the acceptor
are its own) and its own data directory.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from connectors.fix_acceptor import LocalAcceptor
from tests.conftest import MARKET_PRICE, REJECTED_SYMBOL  # noqa: F401 - the tests import them from here


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

"""A local broker formats and starts whatever its random cluster id looks like.

A KRaft cluster id is base64url, so one in 64 begins with `-`; the storage
tool must not read such an id as an option."""

from __future__ import annotations

from pathlib import Path

import pytest

from oms.config import Settings
from streams import broker
from streams.broker import LocalBroker

pytestmark = pytest.mark.kafka


def test_a_cluster_id_starting_with_a_dash_formats_and_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(broker, "new_cluster_id", lambda: "-" + "A" * 21)
    local = LocalBroker(tmp_path / "broker", Settings.from_env().cache_dir)
    try:
        info = local.start()
        assert local.status() is not None
        assert info.bootstrap_servers.startswith("127.0.0.1:")
    finally:
        local.stop()
    assert "-" + "A" * 21 in (tmp_path / "broker" / "kraft" / "meta.properties").read_text()

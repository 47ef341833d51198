"""`oms demo-fix` (what `make demo-fix` runs): the simulator and a FIX venue side by side, a venue disconnect
with fills while away, the reconnect's reconciliation report, and positions equal to the fills per venue."""

from __future__ import annotations

import time

import pytest

from entrypoints.cli import main


@pytest.mark.kafka
def test_demo_fix_trades_on_both_venues_and_reconciles_after_a_disconnect(bootstrap_servers, unique_name, tmp_path,
                                                                          monkeypatch, capsys) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap_servers)
    monkeypatch.setenv("OMS_TOPIC_PREFIX", f"{unique_name}.")
    monkeypatch.setenv("OMS_HOME", str(tmp_path))
    monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)
    began = time.monotonic()
    assert main(["demo-fix", "--orders", "10"]) == 0
    took = time.monotonic() - began
    out = capsys.readouterr().out
    flat = " ".join(out.split())  # the console wraps long lines and table titles at its width
    for expected in ("logged on", "venue disconnect", "it filled 2 resting orders, part-filled 2 and canceled 1 itself",
                     "Reconciliation of FIX-DEMO after the reconnect", "working at the venue",
                     "Venue SIM: account ACC-SIM", "Venue FIX-DEMO: account ACC-FIX",
                     "positions equal the sum of fills on every venue"):
        assert expected in flat, expected
    assert "NO" not in out.split("Venue SIM")[1]
    assert took < 90, f"the demo took {took:.0f} s"

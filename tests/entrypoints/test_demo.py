"""`oms demo` (what `make demo` runs), on a short flow: every process starts, every order settles, the
kill switch cancels, and the replay verifies against the live views (exit status 0)."""

from __future__ import annotations

import pytest

from entrypoints.cli import main


@pytest.mark.kafka
@pytest.mark.slow
def test_demo_runs_end_to_end_and_verifies_the_replay(bootstrap_servers, unique_name, tmp_path, monkeypatch,
                                                      capsys) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap_servers)
    monkeypatch.setenv("OMS_TOPIC_PREFIX", f"{unique_name}.")
    monkeypatch.setenv("OMS_HOME", str(tmp_path))
    monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)
    assert main(["demo", "--orders", "40"]) == 0
    out = capsys.readouterr().out
    for expected in ("Orders by status", "Positions (marked to the latest mid)", "kill switch on",
                     "late fills after a cancel, booked and published on the fills topic", "replay verified"):
        assert expected in out
    assert f"{unique_name}.demo-" in out

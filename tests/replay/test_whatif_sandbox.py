"""What-if through a live engine: recorded commands decided by a worker and venue gateway under a sandbox prefix."""

from decimal import Decimal

import pytest

from oms.domain.risk import Controls, parse_default_limits
from oms.events import OrderDenied
from oms.domain.sor.fees import parse_fees
from replay.backtest import BacktestConfig, Recorded, run_backtest
from replay.models import VenueModel
from replay.whatif import against_sandbox, what_if
from tests.replay.test_export_whatif import VENUES, commands, quotes, whatif_files


def test_the_sandbox_passes_the_venue_models_fee_schedules_in_the_oms_venue_fees_form():
    from entrypoints.whatif_sandbox import Sandbox, fees_spec

    venues = {"SIM-A": VenueModel(fees=parse_fees("SIM-A=taker:0.003,maker:-0.002")["SIM-A"]),
              "SIM-B": VenueModel(taker_fee_bps=Decimal("0.2")), "SIM-C": VenueModel()}
    assert parse_fees(fees_spec(venues)) == {"SIM-A": venues["SIM-A"].schedule, "SIM-B": venues["SIM-B"].schedule}
    with pytest.raises(ValueError, match="prefix"):
        Sandbox("", venues)


def test_the_sandbox_refuses_the_live_topic_prefix(tmp_path):
    from entrypoints.whatif_sandbox import Sandbox, SandboxError, run_sandbox
    from oms.config import Settings

    settings = Settings(bootstrap_servers="127.0.0.1:1", topic_prefix="oms.", home=tmp_path)
    with pytest.raises(SandboxError, match="live topic prefix"):
        run_sandbox(settings, "127.0.0.1:1", Sandbox("oms.", VENUES), commands(), quotes())


@pytest.mark.kafka
def test_a_what_if_decided_by_a_live_worker_in_a_sandbox_prefix_gives_the_in_process_diff(
        bootstrap_servers, unique_name, tmp_path):
    from entrypoints.whatif_sandbox import Sandbox, SandboxError, run_sandbox
    from oms.config import Settings
    from replay.export import journal_from_topic
    from streams.runtime import connect

    settings = Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"{unique_name}.live.", home=tmp_path)
    sandbox = Sandbox(f"{unique_name}.whatif.", VENUES, risk_defaults="max_order_qty=1000")
    actual = BacktestConfig(venues=VENUES, account="ACC")

    journal = run_sandbox(settings, bootstrap_servers, sandbox, commands(), quotes())
    sandboxed = against_sandbox(run_backtest(quotes(), Recorded(commands()), actual), journal, quotes())

    in_process = what_if(commands(), quotes(), actual, controls=Controls(defaults=parse_default_limits(
        "max_order_qty=1000")))
    assert [c.what for c in sandboxed.changes] == ["denied_now", "fill_changed"]
    assert sandboxed.changes == in_process.changes
    assert sandboxed.pnl_actual == Decimal("-31.00") and sandboxed.pnl_whatif == Decimal("-3.00")
    [denied] = [e for e in journal if isinstance(e, OrderDenied)]
    assert denied.reason_code == "MAX_ORDER_QTY" and denied.client_order_id == "C0000002"
    written = list(journal_from_topic(connect(settings.with_(topic_prefix=sandbox.prefix))))
    assert sorted(e.event_id for e in written) == sorted(e.event_id for e in journal)
    with pytest.raises(SandboxError, match="already has"):  # a prefix is used once
        run_sandbox(settings, bootstrap_servers, sandbox, commands(), quotes())


@pytest.mark.kafka
def test_oms_whatif_with_a_kafka_prefix_prints_the_sandbox_diff(bootstrap_servers, unique_name, tmp_path, capsys,
                                                               monkeypatch):
    from entrypoints.backtest import main

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap_servers)
    monkeypatch.setenv("OMS_TOPIC_PREFIX", f"{unique_name}.live.")
    monkeypatch.setenv("OMS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OMS_VENUE_FEES", raising=False)

    status = main(whatif_files(tmp_path) + ["--kafka-prefix", f"{unique_name}.whatif."])

    out = capsys.readouterr().out
    assert status == 0, out
    assert "3 commands decided" in out  # by the sandbox worker
    assert "'denied_now': 1, 'fill_changed': 1" in out and "P&L -31.00 -> -3.00" in out

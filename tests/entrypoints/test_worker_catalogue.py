"""`oms worker --venues/--risk-defaults` (and OMS_VENUES, OMS_RISK_DEFAULTS): the venue catalogue and
the fail-closed default limits reach the worker, and bad values are refused before connecting;
`oms risk show`'s table of the limits in force."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from rich.console import Console

from entrypoints import worker
from entrypoints.cli import limits_table
from oms.config import Settings
from oms.domain.risk import DEFAULT_LIMITS, Controls, apply_control
from oms.routing import UNKNOWN_VENUE
from tests.builders import new_order, risk_control


@pytest.fixture
def captured(monkeypatch):
    """Run the worker command without a broker: what it would run the worker with."""
    import processors.worker
    import streams.runtime

    seen = {}

    class FakeRuntime:
        bootstrap_servers = "nowhere:1"

        def ensure_topics(self):
            return []

    monkeypatch.setattr(streams.runtime, "connect", lambda settings: FakeRuntime())

    def run_worker(settings, bootstrap_servers, options, loglevel, *, clock):
        seen.update(settings=settings, router=options.router)
        return 0

    monkeypatch.setattr(processors.worker, "run_worker", run_worker)
    for name in ("OMS_VENUES", "OMS_RISK_DEFAULTS"):
        monkeypatch.delenv(name, raising=False)
    return seen


def route(router, **fields) -> str | None:
    decided = router.route(new_order(**fields))
    return decided.denial.reason_code if decided.denial is not None else decided.venue


def test_the_catalogue_defaults_to_the_default_venue_and_the_routed_ones(captured):
    assert worker.main(["--route", "AAPL=SIM-A"]) == 0
    router = captured["router"]
    assert router.catalogue == {"SIM", "SIM-A"}
    assert route(router, instrument="AAPL", venue=None) == "SIM-A"
    assert route(router, instrument="MSFT", venue=None) == "SIM"
    assert route(router, instrument="MSFT", venue="SIM-Z") == UNKNOWN_VENUE
    assert captured["settings"].default_limits == dict(DEFAULT_LIMITS)


def test_venues_and_risk_defaults_options_reach_the_worker(captured):
    assert worker.main(["--venues", "SIM,SIM-B", "--risk-defaults", "max_order_qty=500"]) == 0
    assert captured["router"].catalogue == {"SIM", "SIM-B"}
    assert route(captured["router"], instrument="MSFT", venue="SIM-B") == "SIM-B"
    assert captured["settings"].default_limits["max_order_qty"] == D(500)
    assert captured["settings"].default_limits["max_open_orders"] == DEFAULT_LIMITS["max_open_orders"]


def test_the_environment_gives_the_catalogue_and_the_defaults(captured, monkeypatch):
    monkeypatch.setenv("OMS_VENUES", "SIM,SIM-C")
    monkeypatch.setenv("OMS_RISK_DEFAULTS", "max_order_notional=1000")
    assert worker.main([]) == 0
    assert captured["router"].catalogue == {"SIM", "SIM-C"}
    assert captured["settings"].default_limits["max_order_notional"] == D(1000)


@pytest.mark.parametrize("argv,field", [
    (["--venues", "SIM-A", "--route", "AAPL=SIM-B", "--default-venue", "SIM-A"], "venues"),
    (["--venues", "SIM-A"], "venues"),  # the default venue SIM is not in it
    (["--venues", " , "], "venues"),
    (["--risk-defaults", "max_banana=1"], "risk-defaults"),
    (["--risk-defaults", "max_order_qty=lots"], "risk-defaults"),
])
def test_bad_catalogue_or_defaults_are_refused_before_connecting(argv, field, captured, capsys):
    assert worker.main(argv) == 2
    assert f"error: {field}:" in capsys.readouterr().err
    assert not captured


def test_settings_refuse_bad_defaults_and_venues():
    with pytest.raises(ValueError, match="unknown limit"):
        Settings(risk_defaults="max_banana=1")
    with pytest.raises(ValueError, match="not a venue name"):
        Settings(venues="SIM,bad venue")
    assert Settings(risk_defaults="max_position=none").default_limits.get("max_position") is None


def test_risk_show_prints_each_limit_in_force_with_its_source():
    controls = Controls(defaults={**DEFAULT_LIMITS, "max_order_qty": D(50000)})
    controls = apply_control(controls, risk_control(scope="ACC1", kind="LIMIT", name="max_order_qty", value="500"))
    controls = apply_control(controls, risk_control(scope="*", kind="LIMIT", name="price_band_pct", value="2.5"))
    controls = apply_control(controls, risk_control(scope="ACC2", kind="KILL_SWITCH", name="kill_switch", value="on"))
    console = Console(width=200, record=True)
    console.print(limits_table(controls))
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in console.export_text().splitlines()
            if line.startswith("│")]
    scope, table = "", {}
    for row in rows:
        scope = row[0] or scope
        table[(scope, row[1])] = (row[2], row[3])
        if row[0]:
            table[(scope, "kill")] = row[5]
    assert table[("*", "max_order_qty")] == ("50,000", "default")
    assert table[("*", "price_band_pct")] == ("2.5", "*")
    assert table[("ACC1", "max_order_qty")] == ("500", "account")
    assert table[("ACC1", "max_open_orders")] == ("500", "default")
    assert table[("ACC2", "kill")] == "on" and table[("*", "kill")] == "off"

"""Per-venue simulator options of `oms venue` (`--fees`, `--venue-config`, `--resting-fill-prob`) and the
synthetic feed's venues (`oms marketdata --venues`): parsing, the configs each venue gets, and the
refusal of bad input before anything connects (exit status 2, the option and the bad key named)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from entrypoints import marketdata, venue
from entrypoints.marketdata import parse_venues
from entrypoints.venue import VENUE_CONFIG_KEYS, parse_venue_config, simulated_venue_configs
from oms.commands import CommandError
from oms.domain.sor.fees import FeeSchedule, FeeUnit
from oms.venues.simulated import SimulatedVenueConfig


@pytest.fixture(autouse=True)
def unreachable_cluster(monkeypatch):
    """Every refusal here happens before connecting: a connection attempt would fail the test."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.delenv("OMS_VENUE_FEES", raising=False)


BASE = SimulatedVenueConfig(latency_ns=1_000_000, reject_probability=0.0, resting_fill_probability=1.0)


def test_a_venue_config_becomes_simulator_fields() -> None:
    assert parse_venue_config("SIM-A:latency_ms=2.5, reject_prob=0.01,resting_fill_prob=0.5") == (
        "SIM-A", {"latency_ns": 2_500_000, "reject_probability": 0.01, "resting_fill_probability": 0.5})
    assert parse_venue_config("B:jitter_ms=0.2,late_fill_prob=1,max_fill_fraction=0.5,fill_on_trades=true") == (
        "B", {"latency_jitter_ns": 200_000, "late_fill_probability": 1.0, "max_fill_fraction": D("0.5"),
              "fill_on_trades": True})


@pytest.mark.parametrize("spec,says", [
    ("latency_ms=2", "is not VENUE:KEY=VALUE"),
    ("SIM-A:", "no KEY=VALUE"),
    ("SIM-A:latency=2", "unknown key 'latency' (known: latency_ms"),
    ("SIM-A:latency_ms", "latency_ms has no value"),
    ("SIM-A:latency_ms=-1", "latency_ms=-1 is negative"),
    ("SIM-A:latency_ms=fast", "latency_ms='fast' is not a finite decimal"),
    ("SIM-A:reject_prob=1.5", "reject_prob=1.5 is not in [0, 1]"),
    ("SIM-A:resting_fill_prob=nan", "is not a finite decimal"),
    ("SIM-A:fill_on_trades=maybe", "is not true or false"),
    ("SIM-A:reject_prob=0.1,reject_prob=0.2", "reject_prob given twice"),
])
def test_a_bad_venue_config_names_the_venue_and_the_key(spec, says) -> None:
    with pytest.raises(CommandError) as exc:
        parse_venue_config(spec)
    assert exc.value.field == "venue-config" and says in exc.value.message


def test_each_venue_gets_its_fees_and_overrides_over_the_plain_options() -> None:
    configs = simulated_venue_configs(
        ["SIM-A", "SIM-B", "SIM-C"], BASE, "SIM-A=taker:0.003,maker:-0.002;SIM-B=taker:1bps,maker:0",
        ["SIM-A:latency_ms=2,resting_fill_prob=0.5", "SIM-C:reject_prob=0.25"])
    a, b, c = configs["SIM-A"], configs["SIM-B"], configs["SIM-C"]
    assert a.fees == FeeSchedule(D("0.003"), D("-0.002"), FeeUnit.PER_SHARE)
    assert (a.latency_ns, a.resting_fill_probability, a.reject_probability) == (2_000_000, 0.5, 0.0)
    assert b.fees == FeeSchedule(D(1), D(0), FeeUnit.BPS) and b.latency_ns == 1_000_000
    assert c.fees is None and c.reject_probability == 0.25 and c.latency_ns == 1_000_000
    assert simulated_venue_configs(["SIM"], BASE) == {"SIM": BASE}


@pytest.mark.parametrize("fees,overrides,field,says", [
    ("SIM-Z=taker:0.001", [], "fees", "SIM-Z is not a simulated venue of --venues (SIM-A, SIM-B)"),
    ("SIM-A=taker:cheap", [], "fees", "SIM-A: fee 'cheap' is not a number"),
    ("SIM-A=taker:0.001,maker:1bps", [], "fees", "same unit"),
    ("", ["SIM-Z:latency_ms=1"], "venue-config", "SIM-Z is not a simulated venue"),
    ("", ["SIM-A:latency_ms=1", "SIM-A:reject_prob=0.1"], "venue-config", "SIM-A: given twice"),
    ("", ["SIM-B:max_fill_fraction=0"], "venue-config", "SIM-B: max_fill_fraction: 0 is not in (0, 1]"),
])
def test_configs_refuse_strays_and_values_the_simulator_refuses(fees, overrides, field, says) -> None:
    with pytest.raises(CommandError) as exc:
        simulated_venue_configs(["SIM-A", "SIM-B"], BASE, fees, overrides)
    assert exc.value.field == field and says in exc.value.message


def test_fees_from_the_environment_may_name_other_gateways_venues() -> None:
    configs = simulated_venue_configs(["SIM-A"], BASE, "SIM-A=taker:0.001;SIM-B=taker:0.002", [],
                                      other_venues_fees=True)
    assert configs["SIM-A"].fees == FeeSchedule(D("0.001"), D(0))


def test_venue_offsets_of_the_synthetic_feed() -> None:
    assert {v: shape.offset for v, shape in parse_venues("SIM-A:0, SIM-B:0.01,SIM-C:-0.01,SIM-D").items()} == {
        "SIM-A": D(0), "SIM-B": D("0.01"), "SIM-C": D("-0.01"), "SIM-D": D(0)}
    for bad, says in ((":0.01", "is not VENUE:PRICE_OFFSET"), ("A:x", "not a decimal"), ("A:inf", "not finite"),
                      ("A:0,A:1", "A named twice"), (" , ", "at least one")):
        with pytest.raises(ValueError, match="venues: ") as exc:
            parse_venues(bad)
        assert says in str(exc.value)


REFUSALS = [
    (venue.main, ["--venues", "SIM-A,SIM-B", "--venue-config", "SIM-A:speed=2"], "venue-config: SIM-A: unknown key"),
    (venue.main, ["--venues", "SIM-A", "--venue-config", "SIM-B:latency_ms=2"], "venue-config: SIM-B is not"),
    (venue.main, ["--venues", "SIM-A", "--fees", "SIM-A=fast:1"], "fees: SIM-A: 'fast:1' is not"),
    (venue.main, ["--venues", "SIM-A", "--resting-fill-prob", "2"], "resting_fill_probability"),
    (venue.main, ["stats", "--json", "--instrument", "AAPL", "--bogus"], "No such option"),
    (marketdata.main, ["--synthetic", "--venues", "A:x"], "venues: price offset 'x' of A"),
    (marketdata.main, ["--csv", "x.csv", "--venues", "A:0"], "venues: --venues fans out the synthetic feed"),
]


@pytest.mark.parametrize("main,argv,says", REFUSALS, ids=[s for _, _, s in REFUSALS])
def test_bad_options_are_refused_before_connecting(main, argv, says, capsys) -> None:
    assert main(argv) == 2
    assert says in " ".join(capsys.readouterr().err.split())


def test_every_venue_config_key_is_documented_in_the_help(capsys) -> None:
    assert venue.main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--fees", "--venue-config", "--resting-fill-prob", "--json", "--instrument"):
        assert option in text
    assert set(VENUE_CONFIG_KEYS) <= set(text.replace(",", " ").replace(")", " ").split())

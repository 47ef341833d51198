"""`oms marketdata --synthetic --venues ... --depth N`: per-venue shapes parsed, bad ones refused before connecting."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from entrypoints import marketdata
from entrypoints.marketdata import SYNTHETIC_DEPTH, VENUE_KEYS, parse_venues
from oms.marketdata import VenueShape


def test_offsets_and_keys_mix_in_one_list():
    assert parse_venues("SIM-A:0,SIM-B:offset=0.01,spread=0.02,size=300, SIM-C:-0.01,SIM-D,SIM-E:size=10") == {
        "SIM-A": VenueShape(),
        "SIM-B": VenueShape(offset=D("0.01"), spread=D("0.02"), size=D(300)),
        "SIM-C": VenueShape(offset=D("-0.01")),
        "SIM-D": VenueShape(),
        "SIM-E": VenueShape(size=D(10)),
    }


@pytest.mark.parametrize(("text", "says"), [
    ("SIM-B:offset=0.01,sped=0.02", "venues: SIM-B: unknown key 'sped' (keys: offset, spread, size)"),
    ("SIM-B:speed=1", "venues: SIM-B: unknown key 'speed'"),
    ("SIM-B:size=1,size=2", "venues: SIM-B: size given twice"),
    ("size=1,SIM-B:0", "venues: 'size=1' names no venue"),
    ("SIM-B:spread=wide", "venues: spread 'wide' of SIM-B is not a decimal"),
    ("SIM-B:spread=-0.01", "venues: SIM-B: spread: -0.01 is not a positive number"),
    ("SIM-B:size=0", "venues: SIM-B: size: 0 is not a positive number"),
    ("SIM-B:0,SIM-B:size=1", "venues: SIM-B named twice"),
    ("SIM B:0", "venues: 'SIM B' is not a venue name"),
])
def test_a_bad_venue_shape_is_refused_naming_venue_and_key(text, says):
    with pytest.raises(ValueError) as caught:
        parse_venues(text)
    assert says in str(caught.value)


REFUSALS = [
    (["--synthetic", "--venues", "SIM-A:0,SIM-B:offset=0.01,depth=3"], "venues: SIM-B: unknown key 'depth'"),
    (["--synthetic", "--venues", "SIM-B:spread=0.015"], "spread: 0.015 of SIM-B is not a multiple of the tick 0.01"),
    (["--synthetic", "--depth", "0"], "depth: 0 is not a number of levels from 1 to 50"),
    (["--synthetic", "--depth", "51"], "depth: 51 is not a number of levels"),
    (["--csv", "x.csv", "--depth", "3"], "depth: --depth shapes the synthetic feed"),
]


@pytest.mark.parametrize(("argv", "says"), REFUSALS, ids=[s for _, s in REFUSALS])
def test_bad_depth_options_are_refused_before_connecting(argv, says, capsys, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing listens: a connect would fail, not refuse
    assert marketdata.main(argv) == 2
    assert says in " ".join(capsys.readouterr().err.split())


def test_the_help_names_depth_its_default_and_every_venue_key(capsys):
    assert marketdata.main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "--depth" in text and f"default {SYNTHETIC_DEPTH})" in text
    assert all(f"{key}" in text for key in VENUE_KEYS) and "bid_price_n" in text

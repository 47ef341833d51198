"""The venue models' own rules: latency draws, venue specs, outages and fees."""

import random
from decimal import Decimal

import pytest

from replay.models import Latency, Outage, VenueModel, parse_venue


def test_latency_draws_are_fixed_jittered_or_lognormal_and_seeded():
    assert Latency(500).draw(random.Random(1)) == 500
    jittered = [Latency(1000, 100).draw(random.Random(i)) for i in range(50)]
    assert min(jittered) >= 900 and max(jittered) <= 1100 and len(set(jittered)) > 1
    a = [Latency(1000, sigma=0.5).draw(random.Random(7)) for _ in range(3)]
    assert a == [Latency(1000, sigma=0.5).draw(random.Random(7)) for _ in range(3)]
    assert Latency.parse("2ms+-1ms") == Latency(2_000_000, 1_000_000)
    assert Latency.parse("1ms~0.5") == Latency(1_000_000, 0, 0.5)
    assert Latency.parse("250us") == Latency(250_000)


def test_a_venue_spec_sets_every_model_field():
    name, model = parse_venue("SIM-A:entry=100us,md=2ms,reject=0.1,fail=0.2,fail_after=0.7,outage=10/20,slippage_bps=0.5,"
                              "impact_bps=0.01,maker_bps=-0.2,taker_bps=0.3,tick=0.05,queue=off")
    assert name == "SIM-A"
    assert (model.entry, model.market_data) == (Latency(100_000), Latency(2_000_000))
    assert (model.reject_probability, model.api_failure_probability, model.failure_after_venue) == (0.1, 0.2, 0.7)
    assert model.outages == (Outage(10, 20),) and model.down(10) and not model.down(20)
    assert (model.slippage_bps, model.impact_bps_per_unit, model.tick) == (Decimal("0.5"), Decimal("0.01"),
                                                                            Decimal("0.05"))
    assert not model.queue_position
    assert model.fee(Decimal(100), Decimal(100), passive=True) == Decimal("-0.2")
    assert model.fee(Decimal(100), Decimal(100), passive=False) == Decimal("0.3")


def test_the_bps_fields_are_a_fee_schedule_and_a_schedule_given_twice_is_refused():
    from oms.domain.sor.fees import parse_fees

    schedule = parse_fees("A=taker:0.3bps,maker:-0.2bps")["A"]
    old = VenueModel(maker_fee_bps=Decimal("-0.2"), taker_fee_bps=Decimal("0.3"))
    assert old.schedule == schedule and VenueModel(fees=schedule).schedule == schedule
    assert VenueModel().schedule is None and VenueModel().fee(Decimal(1), Decimal(1), False) == 0
    assert old.with_fees(schedule).schedule == schedule
    with pytest.raises(ValueError, match="not both"):
        VenueModel(fees=schedule, taker_fee_bps=Decimal(1))
    with pytest.raises(ValueError, match="already charges"):
        old.with_fees(parse_fees("A=taker:0.003")["A"])


@pytest.mark.parametrize("spec, word", [(":entry=1ms", "venue name"), ("A:latency=1ms", "KEY=VALUE"),
                                        ("A:reject=2", "reject_probability"),
                                        ("A:fail_after=1.5", "failure_after_venue"), ("A:outage=20/10", "not after")])
def test_a_bad_venue_spec_is_refused_naming_what(spec, word):
    with pytest.raises(ValueError, match=word):
        parse_venue(spec)

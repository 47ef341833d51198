"""Events the engine builds without validation (`oms.events.built`) against the validated path.

The engine builds most journal events, venue requests and fills with pydantic's
`model_construct` from values that are already valid. These tests hold that
fast path to the validated one: a seeded backtest run under `checking_built()`
(every built event also validated and compared field by field, types included)
gives a journal byte-identical to the run without it; a built event encodes to
the same Avro bytes as the validated one; and the check itself catches a value
validation would change or refuse.
"""

from decimal import Decimal
from pathlib import Path

import pytest

from connectors.marketdata_files import load_files
from oms.events import OrderFilled, VenueRequest, built, checking_built, fits_wire, is_identifier
from replay.backtest import BacktestConfig, run_backtest
from replay.models import Latency, VenueModel
from replay.strategies import PassiveMaker
from streams.codec import SingleObjectCodec
from tests import builders

DATA = sorted(Path("replay/data/backtest").glob("*.csv"))


def _run():
    md = list(load_files(DATA))[:1500]
    config = BacktestConfig(venues={"SIM-A": VenueModel(entry=Latency(200_000, 100_000), reject_probability=0.1),
                                    "SIM-B": VenueModel(entry=Latency(1_000_000, sigma=0.5))}, seed=5)
    return run_backtest(md, PassiveMaker("AAPL"), config)


def test_a_backtest_gives_the_same_journal_with_every_built_event_validated():
    fast = _run()
    with checking_built():  # raises on the first built event that validation would change
        checked = _run()
    assert any(isinstance(e, OrderFilled) for e in fast.journal)
    assert fast.journal_bytes() == checked.journal_bytes()
    assert fast.journal == checked.journal


@pytest.mark.parametrize("make", [builders.order_filled, builders.venue_request, builders.fill,
                                  builders.order_accepted, builders.order_routed, builders.order_acknowledged])
def test_a_built_event_equals_and_encodes_like_the_validated_one(make):
    validated = make()
    fast = built(type(validated), **validated.__dict__)
    codec = SingleObjectCodec()
    topic = "venue.requests" if isinstance(validated, VenueRequest) else "order.events"
    assert fast == validated
    assert codec.encode(topic, fast) == codec.encode(topic, validated)


def test_the_check_refuses_a_value_validation_would_coerce_or_refuse():
    fields = builders.order_filled().__dict__
    with checking_built():
        with pytest.raises(AssertionError, match="last_qty"):
            built(OrderFilled, **{**fields, "last_qty": 5})  # an int where validation gives a Decimal
        with pytest.raises(Exception):
            built(OrderFilled, **{**fields, "event_id": "x" * 65})
    assert built(OrderFilled, **{**fields, "last_qty": 5}).last_qty == 5  # unchecked: taken as given


def test_a_missing_or_unknown_field_is_an_error_even_unchecked():
    fields = builders.order_filled().__dict__
    with pytest.raises(TypeError, match="without last_px"):
        built(OrderFilled, **{k: v for k, v in fields.items() if k != "last_px"})
    with pytest.raises(TypeError, match="no field price"):
        built(OrderFilled, **fields, price=Decimal(1))
    assert list(built(OrderFilled, **dict(reversed(fields.items()))).__dict__) == list(OrderFilled.model_fields)


def test_the_guards_of_the_fast_path():
    assert is_identifier("SIM-A") and not is_identifier("bad venue") and not is_identifier("")
    assert fits_wire(Decimal("1.12345678")) and fits_wire(Decimal(0))
    assert not fits_wire(Decimal("1.123456789")) and not fits_wire(Decimal(-1))
    assert not fits_wire(Decimal(10) ** 20) and not fits_wire(Decimal("NaN"))

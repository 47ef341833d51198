"""A position whose `Position` event the wire cannot hold is refused with the amounts named, not
rounded into range (`oms.domain.positions.to_event`)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.domain.positions import UnrepresentablePosition, apply_fill, to_event
from tests.builders import order_filled

HUGE = Decimal(10) ** 19
"""A quantity the wire holds whose exposure at 100 (10^21) it does not."""


def test_an_exposure_beyond_the_wire_is_refused_with_its_amounts_named():
    state = apply_fill(apply_fill(None, order_filled(fill_id="f1", last_qty=Decimal(2), last_px=Decimal(100))),
                       order_filled(fill_id="f2", last_qty=HUGE, last_px=Decimal(100)))
    for mark in (None, Decimal(100)):
        with pytest.raises(UnrepresentablePosition) as refused:
            to_event(state, mark, 0)
        assert "gross_exposure" in str(refused.value) and "net_exposure" in str(refused.value)
        assert "after f2" in str(refused.value) and "decimal(28,8)" in str(refused.value)


def test_a_mark_beyond_the_wire_is_refused():
    state = apply_fill(None, order_filled(fill_id="f1", last_qty=Decimal(2), last_px=Decimal(100)))
    with pytest.raises(UnrepresentablePosition, match="mark_price"):
        to_event(state, Decimal(10) ** 20, 0)


def test_the_largest_representable_exposure_is_published():
    limit = Decimal("99999999999999999999.99999999")
    state = apply_fill(None, order_filled(fill_id="f1", last_qty=limit, last_px=Decimal(1), commission=Decimal(0)))
    event = to_event(state, None, 0)
    assert event.gross_exposure == limit and event.quantity == limit

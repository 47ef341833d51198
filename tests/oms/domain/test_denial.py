"""Tests of `oms.domain.denial`: the typed value pre-trade risk hands the order aggregate.

This module owns the evidence that `denial_reason` builds a `Denial` naming the
first breach and carrying them all, that `decide_new` and `decide_amend` write
exactly its code and reason on the journal, and that the value is frozen.
Pure: no Kafka, no clock.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest

from oms.domain.denial import Breach, Denial
from oms.domain.risk import denial_reason
from oms.events import CancelRejectResponseTo, OrderAccepted, OrderCancelRejected, OrderDenied, OrderStatus
from tests.builders import OrderHarness

QTY = Breach("MAX_ORDER_QTY", "max_order_qty", D(50), D(100), "quantity 100 over 50")
LOT = Breach("LOT_SIZE", "lot_size", D(3), D(100), "quantity 100 is not a multiple of 3")


def test_denial_reason_names_the_first_breach_and_keeps_them_all():
    denial = denial_reason([QTY, LOT])
    assert denial == Denial(
        "MAX_ORDER_QTY",
        "MAX_ORDER_QTY: max_order_qty=50 attempted=100; LOT_SIZE: lot_size=3 attempted=100",
        (QTY, LOT),
    )


def test_a_denial_is_a_frozen_value():
    denial = Denial("RISK", "denied")
    assert denial.breaches == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        denial.reason_code = "OTHER"  # type: ignore[misc]
    assert {denial, Denial("RISK", "denied")} == {denial}


def test_decide_new_writes_the_denial_on_the_journal_and_the_order_ends_rejected():
    h = OrderHarness()
    accepted, denied = h.new(denial=denial_reason([QTY, LOT]))
    assert isinstance(accepted, OrderAccepted) and isinstance(denied, OrderDenied)
    assert (denied.seq, denied.reason_code) == (2, "MAX_ORDER_QTY")
    assert denied.reason == "MAX_ORDER_QTY: max_order_qty=50 attempted=100; LOT_SIZE: lot_size=3 attempted=100"
    assert h.order.status is OrderStatus.REJECTED and h.order.reason == denied.reason


def test_decide_amend_refuses_with_the_denial_and_changes_nothing():
    h = OrderHarness()
    h.working()
    before = h.order
    (refused,) = h.amend("amend-1", quantity=D(200), denial=denial_reason([QTY]))
    assert isinstance(refused, OrderCancelRejected)
    assert (refused.seq, refused.reason_code) == (0, "MAX_ORDER_QTY")
    assert refused.response_to is CancelRejectResponseTo.REPLACE
    assert h.order == before


def test_the_aggregates_own_refusals_come_first():
    h = OrderHarness()
    h.working()
    same = h.order.quantity
    (refused,) = h.amend("amend-1", quantity=same, denial=denial_reason([QTY]))  # changes nothing
    assert refused.reason_code == "NO_CHANGE"

"""Tests of `oms.metrics`: stage latencies from event timestamps, outcomes by reason, gauge values."""

from __future__ import annotations

from decimal import Decimal

from oms.events import BreakerState, OrderRejectReason
from oms.metrics import breaker_level, outcomes, parse_tokens, stage_latencies
from tests import builders as b


def test_each_stage_is_measured_from_its_cause_to_when_it_was_journaled():
    command = b.new_order(ts=1_000_000_000)
    journal = [b.order_accepted(ts_event=1_000_000_000, ts_init=1_002_000_000),
               b.order_routed(ts_event=1_000_000_000, ts_init=1_002_500_000),
               b.order_pending_cancel()]
    assert stage_latencies(command, journal) == [("accepted", 0.002), ("routed", 0.0025)]


def test_a_cause_stamped_after_its_effect_counts_as_zero():
    report = b.execution_report(ts_event=5_000, ts_init=5_000)
    assert stage_latencies(report, [b.order_filled(ts_init=4_000)]) == [("filled", 0.0)]


def test_denials_rejects_and_anomalies_are_named_by_reason():
    journal = [b.order_denied(reason_code="MAX_ORDER_QTY"),
               b.order_rejected(reject_reason=OrderRejectReason.UNKNOWN_SYMBOL),
               b.order_anomaly(reason_code="UNKNOWN_ORDER"), b.order_accepted()]
    assert outcomes(journal) == [("denial", "MAX_ORDER_QTY"), ("reject", OrderRejectReason.UNKNOWN_SYMBOL.value),
                                 ("anomaly", "UNKNOWN_ORDER")]


def test_breaker_levels_and_token_text():
    assert [breaker_level(s) for s in (BreakerState.CLOSED, BreakerState.HALF_OPEN, BreakerState.OPEN)] == [0, 1, 2]
    assert breaker_level("SOMETHING") == 2
    assert parse_tokens("orders=12.50 cancels=40.00 bad=x") == {"orders": Decimal("12.50"), "cancels": Decimal("40")}
    assert parse_tokens("") == {}

"""The engine's pure step: pre-trade risk applies to every amend the order may take, a filled one included."""

from __future__ import annotations

from decimal import Decimal as D

from oms import ids
from oms.domain.risk import Controls
from oms.events import ExecType, OrderCancelRejected, OrderPendingReplace, OrderStatus
from tests.builders import ACCOUNT, EngineHarness, amend, execution_report, new_order


def _filled(engine: EngineHarness) -> str:
    engine(new_order("cl-1", quantity=D(100), venue="SIM"))
    order_id = ids.order_id(ACCOUNT, "cl-1")
    order = engine.orders[order_id]
    engine(execution_report(order_id=order_id, request_id=order.request_id, venue="SIM", exec_id="e-ack",
                            exec_type=ExecType.NEW, order_status=OrderStatus.NEW, last_qty=D(0), last_px=D(0),
                            cum_qty=D(0), leaves_qty=D(100), avg_px=D(0), commission=D(0)))
    engine(execution_report(order_id=order_id, request_id=order.request_id, venue="SIM", exec_id="e-fill",
                            exec_type=ExecType.FILL, order_status=OrderStatus.FILLED, last_qty=D(100),
                            last_px=D("187.25"), cum_qty=D(100), leaves_qty=D(0), avg_px=D("187.25")))
    assert engine.orders[order_id].status is OrderStatus.FILLED
    return order_id


def test_increasing_a_filled_order_beyond_a_limit_is_refused_by_pre_trade_risk():
    engine = EngineHarness(Controls(limits={"*": {"max_order_qty": D(500)}}))
    _filled(engine)
    outcome = engine(amend("cl-1", "cl-2", quantity=D(1_000)))
    [refusal] = outcome.journal
    assert isinstance(refusal, OrderCancelRejected) and refusal.reason_code == "MAX_ORDER_QTY"
    assert outcome.requests == []


def test_increasing_a_filled_order_within_the_limits_goes_to_the_venue():
    engine = EngineHarness(Controls(limits={"*": {"max_order_qty": D(500)}}))
    _filled(engine)
    outcome = engine(amend("cl-1", "cl-2", quantity=D(300)))
    assert any(isinstance(e, OrderPendingReplace) for e in outcome.journal)
    assert [r.quantity for r in outcome.requests] == [D(300)]

"""`evolve` keeps its last result, and a decision's restated event (`settled`) stands for the same order.

The engine decides a report by evolving the order with a candidate event, then
folds the (restated) event into the same order; `evolve` hands back the order it
derived. These tests hold that shortcut to a fresh derivation.
"""

from decimal import Decimal

from oms.domain.orders import decide_new, decide_report, evolve
from oms.domain.orders import state
from oms.events import ExecType, OrderFilled, OrderStatus
from tests import builders

T0 = builders.T0


def _routed():
    accepted, routed, _ = decide_new(builders.new_order(), None, "SIM", T0)
    return evolve(evolve(None, accepted), routed)


def test_a_fill_folds_to_the_order_its_decision_derived_and_to_a_fresh_derivation():
    order = _routed()
    report = builders.execution_report(order_id=order.order_id, request_id=order.request_id,
                                       exec_type=ExecType.PARTIAL_FILL, order_status=OrderStatus.PARTIALLY_FILLED,
                                       last_qty=Decimal(40), last_px=Decimal("100.5"), cum_qty=Decimal(40),
                                       leaves_qty=order.quantity - 40, avg_px=Decimal("100.5"))
    event = next(e for e in decide_report(report, order, T0) if isinstance(e, OrderFilled))
    folded = evolve(order, event)
    fresh = state._evolve(order, event)
    assert folded == fresh
    assert (folded.cum_qty, folded.avg_px) == (event.cum_qty, event.avg_px) == (Decimal(40), Decimal("100.5"))


def test_evolve_remembers_only_the_same_order_and_event():
    order = _routed()
    report = builders.execution_report(order_id=order.order_id, request_id=order.request_id, exec_type=ExecType.NEW,
                                       order_status=OrderStatus.NEW)
    (ack,) = decide_report(report, order, T0)
    once = evolve(order, ack)
    assert evolve(order, ack) is once
    other = state.Order(**{**{f: getattr(order, f) for f in order.__dataclass_fields__}})  # equal, not the same
    again = evolve(other, ack)
    assert again == once and again is not once

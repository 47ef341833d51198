"""Tests of a parent's account-wide commands through the engine's pure step: a mass status and a status
request for a parent ask its children's venues (never the smart router's own), a parent is done for the day
once no child is worked, and a new trading day renews a GTC parent and its resting children together (its
remainder placed under the account's risk controls); a parent cancel reaches the children resting overnight."""

from __future__ import annotations

from decimal import Decimal as D

from oms import ids
from oms.domain.engine import RiskView
from oms.domain.risk import Controls
from oms.domain.route import SMART_VENUE
from oms.domain.sor.parent import children_of
from oms.events import (
    ExecType,
    OrderDenied,
    OrderRestated,
    OrderStatus,
    RestatementReason,
    RoutingDecided,
    TimeInForce,
    VenueAction,
)
from tests.builders import ACCOUNT, cancel, new_order, new_trading_day, order_mass_status_request, order_status_request
from tests.oms.domain.sor.test_parent import PARENT, Harness
from tests.oms.domain.sor.test_parent_risk import KILLED


def acked_parent(engine: Harness, time_in_force: TimeInForce = TimeInForce.DAY):
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25"), time_in_force=time_in_force))
    b, a = engine.requests
    engine.report(b, ExecType.NEW)
    engine.report(a, ExecType.NEW)
    return b, a


def test_a_mass_status_asks_each_childs_venue_and_never_the_smart_router():
    engine = Harness()
    b, a = acked_parent(engine)
    engine(new_order("cl-9", account="ACC-OTHER", quantity=D(10), venue=None))  # another account: not asked
    static = engine(new_order("cl-2", account=ACCOUNT, quantity=D(10), venue="SIM")).requests[0]

    outcome = engine(order_mass_status_request())
    asked = sorted((r.venue, r.order_id) for r in outcome.requests)
    assert all(r.action is VenueAction.STATUS for r in outcome.requests)
    assert asked == sorted([("B", b.order_id), ("A", a.order_id), ("SIM", static.order_id)])
    assert outcome.journal == [] and SMART_VENUE not in {r.venue for r in outcome.requests}


def test_a_mass_status_for_one_venue_asks_only_the_children_there():
    engine = Harness()
    b, a = acked_parent(engine)
    outcome = engine(order_mass_status_request(venue="A"))
    assert [(r.venue, r.order_id) for r in outcome.requests] == [("A", a.order_id)]


def test_a_status_request_for_a_parent_asks_its_childrens_venues():
    engine = Harness()
    b, a = acked_parent(engine)
    outcome = engine(order_status_request("cl-1"))
    assert sorted(r.venue for r in outcome.requests) == ["A", "B"]
    assert {r.order_id for r in outcome.requests} == {a.order_id, b.order_id}


def test_a_status_request_for_a_parent_with_no_child_at_a_venue_is_answered_with_the_reason():
    engine = Harness()
    b, a = acked_parent(engine)
    engine.report(b, ExecType.FILL, D(60), D("187.20"))
    engine.report(a, ExecType.FILL, D(40), D("187.20"))
    outcome = engine(order_status_request("cl-1"))
    [denied] = outcome.journal
    assert outcome.requests == []
    assert isinstance(denied, OrderDenied) and denied.reason_code == "NOT_AT_VENUE" and denied.seq == 0


def test_a_parent_is_done_for_the_day_once_no_child_is_worked():
    engine = Harness()
    b, a = acked_parent(engine, TimeInForce.GTC)
    engine.report(b, ExecType.DONE_FOR_DAY)
    assert engine.orders[PARENT].status is OrderStatus.NEW  # A still works its child today
    outcome = engine.report(a, ExecType.DONE_FOR_DAY)
    parent = engine.orders[PARENT]
    assert parent.status is OrderStatus.DONE_FOR_DAY and outcome.requests == []
    assert engine.accounts[ACCOUNT].orders_at_venues() == [PARENT]  # resting overnight


def test_a_new_trading_day_renews_a_gtc_parent_and_its_resting_children_without_placing_them_again():
    engine = Harness()
    b, a = acked_parent(engine, TimeInForce.GTC)
    engine.report(b, ExecType.PARTIAL_FILL, D(20), D("187.20"))
    engine.report(b, ExecType.DONE_FOR_DAY)
    engine.report(a, ExecType.DONE_FOR_DAY)

    outcome = engine(new_trading_day("2026-01-02"))
    renewed = [e.order_id for e in outcome.journal
               if isinstance(e, OrderRestated) and e.restatement_reason is RestatementReason.GT_RENEWAL]
    assert renewed == [PARENT, b.order_id, a.order_id]
    assert outcome.requests == []  # both children still hold their quantity at their venues
    assert [e.trigger for e in outcome.journal if isinstance(e, RoutingDecided)] == []
    parent = engine.orders[PARENT]
    assert parent.status is OrderStatus.PARTIALLY_FILLED and parent.leaves_qty == D(80)
    assert [c.status for c in children_of(engine.orders.get, PARENT)] == [OrderStatus.PARTIALLY_FILLED,
                                                                          OrderStatus.NEW]
    assert engine(new_trading_day("2026-01-02")).journal == []  # once per day


def done_with_a_remainder(engine: Harness):
    """A GTC parent whose A child was rejected under the kill switch (A's 40 stay unplaced) and whose
    B child (60) is done for the day: the parent is done for the day. Returns B's request."""
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25"), time_in_force=TimeInForce.GTC))
    b, a = engine.requests
    engine.report(b, ExecType.NEW)
    engine.risk = RiskView(KILLED)
    engine.report(a, ExecType.REJECTED)
    engine.report(b, ExecType.DONE_FOR_DAY)
    assert engine.orders[PARENT].status is OrderStatus.DONE_FOR_DAY
    return b


def test_a_new_trading_day_places_a_parents_remainder_under_the_risk_controls():
    engine = Harness()
    b = done_with_a_remainder(engine)
    engine.risk = RiskView(Controls())
    outcome = engine(new_trading_day("2026-01-02"))
    placed = [r for r in outcome.requests if r.action is VenueAction.NEW]
    assert sum(r.quantity for r in placed) == D(40)  # B's resting 60 are not placed again
    assert [e.trigger for e in outcome.journal if isinstance(e, RoutingDecided)] == ["NEW_DAY"]
    assert engine.orders[b.order_id].status is OrderStatus.NEW


def test_a_new_trading_day_under_the_kill_switch_places_nothing_more():
    engine = Harness()
    b = done_with_a_remainder(engine)
    outcome = engine(new_trading_day("2026-01-02"))
    assert outcome.requests == []
    assert [e.reason.split(":")[0] for e in outcome.journal if isinstance(e, RoutingDecided)] == ["KILL_SWITCH"]
    assert engine.orders[PARENT].status is OrderStatus.NEW and engine.orders[b.order_id].status is OrderStatus.NEW


def test_a_parent_cancel_overnight_cancels_its_resting_children_at_their_venues():
    engine = Harness()
    b, a = acked_parent(engine, TimeInForce.GTC)
    engine.report(b, ExecType.DONE_FOR_DAY)
    engine.report(a, ExecType.DONE_FOR_DAY)
    outcome = engine(cancel("cl-1", "cl-x"))
    cancels = [r for r in outcome.requests if r.action is VenueAction.CANCEL]
    assert sorted(r.venue for r in cancels) == ["A", "B"]
    engine.report(cancels[0], ExecType.CANCELED)
    assert engine.orders[PARENT].status is OrderStatus.DONE_FOR_DAY  # the other child still rests
    engine.report(cancels[1], ExecType.CANCELED)
    assert engine.orders[PARENT].status is OrderStatus.CANCELED
    assert engine.accounts[ACCOUNT].orders_at_venues() == []


def test_day_children_expiring_at_the_close_expire_the_parent_instead_of_rerouting_it():
    engine = Harness()
    b, a = acked_parent(engine)
    engine.report(b, ExecType.PARTIAL_FILL, D(20), D("187.20"))
    first = engine.report(b, ExecType.EXPIRED)
    assert first.requests == [] and engine.orders[PARENT].status is OrderStatus.PARTIALLY_FILLED  # A still works
    last = engine.report(a, ExecType.EXPIRED)
    parent = engine.orders[PARENT]
    assert last.requests == [] and not [e for e in last.journal if isinstance(e, RoutingDecided)]
    assert parent.status is OrderStatus.EXPIRED and parent.cum_qty == D(20)
    assert engine.accounts[ACCOUNT].orders_at_venues() == []


def test_an_ioc_child_of_a_day_market_parent_that_expires_is_routed_again():
    from oms.events import OrderType

    engine = Harness()
    engine(new_order("cl-1", quantity=D(50), order_type=OrderType.MARKET))
    b, a = [r for r in engine.requests if r.action is VenueAction.NEW]
    engine.report(b, ExecType.FILL, D(30), D("187.20"))
    outcome = engine.report(a, ExecType.EXPIRED)  # a venue that reports an IOC remainder as expired
    assert [(r.venue, r.quantity) for r in outcome.requests if r.action is VenueAction.NEW] == [("B", D(20))]

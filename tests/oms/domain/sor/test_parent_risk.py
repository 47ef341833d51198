"""Tests of a parent's placements after its first under the account's risk controls (`oms.domain.sor.parent.refusal`):
a re-route, an amend's new leaves and the remainder after the last child filled send nothing while the kill switch
is on or the account is HALTED, and while it is REDUCING only when the parent reduces the position; the parent then
ends CANCELED with the reason once no child of it is at a venue."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings, strategies as st

from oms import ids
from oms.domain.engine import RiskView
from oms.domain.orders import is_live
from oms.domain.risk import Controls, apply_control
from oms.domain.sor.parent import at_venue, children_of
from oms.events import ControlKind, ExecType, OrderStatus, RoutingDecided, Side, VenueAction
from tests.builders import ACCOUNT, amend, new_order, risk_control
from tests.oms.domain.sor.test_parent import PARENT, Harness

SELL_PARENT = ids.order_id(ACCOUNT, "cl-s")


def controls(kind: ControlKind, value: str, base: Controls = Controls()) -> Controls:
    name = {ControlKind.KILL_SWITCH: "kill_switch", ControlKind.TRADING_STATE: "state"}[kind]
    return apply_control(base, risk_control(kind=kind, name=name, value=value, scope=ACCOUNT))


KILLED = controls(ControlKind.KILL_SWITCH, "on")
HALTED = controls(ControlKind.TRADING_STATE, "HALTED")
REDUCING = controls(ControlKind.TRADING_STATE, "REDUCING")


def new_requests(outcome) -> list:
    return [r for r in outcome.requests if r.action is VenueAction.NEW]


def decisions(outcome) -> list[RoutingDecided]:
    return [e for e in outcome.journal if isinstance(e, RoutingDecided)]


def routed_parent(engine: Harness):
    """A buy parent of 100 placed at B (60) and A (40), as `test_parent` routes it."""
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    b, a = engine.requests
    return b, a


def test_a_child_rejected_under_the_kill_switch_is_not_rerouted_and_the_parent_ends_canceled():
    engine = Harness()
    b, a = routed_parent(engine)
    engine.report(b, ExecType.NEW)
    engine.risk = RiskView(KILLED)

    rejected = engine.report(a, ExecType.REJECTED)
    assert new_requests(rejected) == []
    [decided] = decisions(rejected)
    assert decided.trigger == "REROUTE" and decided.quantity == 0 and decided.reason.startswith("KILL_SWITCH")
    assert engine.orders[PARENT].status is OrderStatus.NEW  # B's child is still out: the parent waits for it

    canceled = engine.report(b, ExecType.CANCELED)  # the venue drops B's child too
    parent = engine.orders[PARENT]
    assert new_requests(canceled) == []
    assert parent.status is OrderStatus.CANCELED and parent.reason.startswith("KILL_SWITCH: kill switch is on")


def test_halted_refuses_the_reroute_of_a_parent_no_venue_acknowledged_and_cancels_it():
    engine = Harness()
    b, a = routed_parent(engine)
    engine.risk = RiskView(HALTED)
    engine.report(a, ExecType.REJECTED)
    outcome = engine.report(b, ExecType.REJECTED)
    parent = engine.orders[PARENT]
    assert new_requests(outcome) == [] and [r for r in engine.requests if r.action is VenueAction.NEW] == [b, a]
    assert parent.status is OrderStatus.CANCELED and parent.reason.startswith("TRADING_HALTED")
    assert [d.reason.split(":")[0] for d in decisions(outcome)] == ["TRADING_HALTED"]


def test_the_rest_of_a_parent_after_its_last_child_filled_meets_the_controls_too():
    engine = Harness()
    b, a = routed_parent(engine)
    engine.risk = RiskView(KILLED)
    engine.report(a, ExecType.REJECTED)  # refused: 40 stay unplaced while B works 60
    outcome = engine.report(b, ExecType.FILL, D(60), D("187.20"))
    parent = engine.orders[PARENT]
    assert new_requests(outcome) == []
    assert parent.status is OrderStatus.CANCELED and parent.cum_qty == D(60) and "KILL_SWITCH" in parent.reason
    assert sum(f.quantity for f in engine.fills) == D(60)


def test_when_active_the_rest_after_the_last_child_filled_is_placed():
    engine = Harness()
    b, a = routed_parent(engine)
    engine.risk = RiskView(KILLED)
    engine.report(a, ExecType.REJECTED)
    engine.risk = RiskView(Controls())  # the kill switch is released before B's child fills
    outcome = engine.report(b, ExecType.FILL, D(60), D("187.20"))
    again = new_requests(outcome)
    assert sum(r.quantity for r in again) == D(40) and [d.trigger for d in decisions(outcome)] == ["REROUTE"]
    assert engine.orders[PARENT].status is OrderStatus.PARTIALLY_FILLED


def test_an_amend_accepted_before_the_kill_switch_places_nothing_after_it():
    engine = Harness()
    b, a = routed_parent(engine)
    engine.report(b, ExecType.NEW)
    engine.report(a, ExecType.NEW)
    cancels = [r for r in engine(amend("cl-1", "cl-2", quantity=D(50))).requests if r.action is VenueAction.CANCEL]
    engine.risk = RiskView(KILLED)
    engine.report(cancels[0], ExecType.CANCELED)
    outcome = engine.report(cancels[1], ExecType.CANCELED)
    parent = engine.orders[PARENT]
    assert new_requests(outcome) == []
    assert [d.trigger for d in decisions(outcome)] == ["AMEND"]
    assert parent.status is OrderStatus.CANCELED and parent.quantity == D(50) and "KILL_SWITCH" in parent.reason


def long_position(engine: Harness) -> None:
    """ACC-001 buys 100 AAPL through a parent that fills at once."""
    b, a = routed_parent(engine)
    engine.report(b, ExecType.FILL, D(60), D("187.20"))
    engine.report(a, ExecType.FILL, D(40), D("187.20"))
    assert engine.accounts[ACCOUNT].positions["AAPL"] == D(100)


def test_reducing_reroutes_a_parent_that_reduces_the_position():
    engine = Harness()
    long_position(engine)
    engine(new_order("cl-s", side=Side.SELL, quantity=D(80), limit_price=D("187.00")))
    engine.risk = RiskView(REDUCING)
    first = [r for r in engine.requests if r.order_id.startswith(SELL_PARENT) and r.action is VenueAction.NEW]
    outcome = engine.report(first[-1], ExecType.REJECTED)
    [again] = new_requests(outcome)
    assert again.order_id.startswith(SELL_PARENT) and again.quantity == first[-1].quantity
    assert is_live(engine.orders[SELL_PARENT])


def test_reducing_refuses_the_reroute_of_a_parent_that_adds_to_the_position():
    engine = Harness()
    long_position(engine)
    engine(new_order("cl-2", quantity=D(100), limit_price=D("187.25")))
    buy_parent = ids.order_id(ACCOUNT, "cl-2")
    engine.risk = RiskView(REDUCING)
    children = [r for r in engine.requests if r.order_id.startswith(buy_parent) and r.action is VenueAction.NEW]
    for request in children:
        outcome = engine.report(request, ExecType.REJECTED)
        assert new_requests(outcome) == []
    parent = engine.orders[buy_parent]
    assert parent.status is OrderStatus.CANCELED and parent.reason.startswith("REDUCE_ONLY")


def test_reducing_refuses_a_sell_parent_that_would_go_through_flat():
    engine = Harness()
    long_position(engine)
    engine(new_order("cl-s", side=Side.SELL, quantity=D(80), limit_price=D("187.00")))
    engine(new_order("cl-t", side=Side.SELL, quantity=D(30), limit_price=D("187.00")))  # 110 to sell against 100
    engine.risk = RiskView(REDUCING)
    first = [r for r in engine.requests if r.order_id.startswith(SELL_PARENT) and r.action is VenueAction.NEW]
    outcome = engine.report(first[-1], ExecType.REJECTED)
    assert new_requests(outcome) == [] and decisions(outcome)[0].reason.startswith("REDUCE_ONLY")


# ------------------------------------------------------------------ properties

STATES = {"active": Controls(), "killed": KILLED, "halted": HALTED, "reducing": REDUCING}


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["fill", "reject", "cancel", "ack", "controls"]), st.integers(0, 5),
                          st.integers(1, 60), st.sampled_from(sorted(STATES))), min_size=1, max_size=15))
def test_no_child_goes_out_against_the_controls_and_a_live_parent_always_has_a_child_at_a_venue(actions):
    engine = Harness("best")
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    in_force = "active"
    for kind, which, qty, state in actions:
        if kind == "controls":
            in_force = state
            engine.risk = RiskView(STATES[state])
            continue
        if not engine.live_requests():
            break
        outcome = engine.act(kind, which, qty)
        if outcome is None:
            continue
        sent = new_requests(outcome)
        if in_force in ("killed", "halted", "reducing"):  # no position: a buy never reduces
            assert sent == [], f"a child went out while {in_force}"
        parent = engine.orders[PARENT]
        children = children_of(engine.orders.get, PARENT)
        if is_live(parent):
            assert any(at_venue(c) for c in children), "a live parent with no child at a venue"
        else:
            assert parent.status in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED)
        assert sum(c.cum_qty for c in children) == parent.cum_qty <= parent.quantity

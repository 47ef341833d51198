"""Tests of parent and child orders through the engine's pure step (`oms.domain.sor.parent`)."""

from __future__ import annotations

from decimal import Decimal as D

from oms import ids
from oms.domain.engine import RiskView, step
from oms.domain.projection import JournalProjection
from oms.domain.route import SMART_VENUE
from oms.domain.sor import STRATEGIES, ConsolidatedBook, VenueStatistics, parse_fees
from oms.ids import child_order_id
from oms.domain.orders import is_live
from oms.domain.sor.parent import SmartRouting, children_of
from oms.domain.risk import Controls
from oms.events import ExecType, OrderStatus, OrderType, RoutingDecided, TimeInForce, VenueAction
from oms.routing import StaticRouter
from tests.builders import ACCOUNT, T0, amend, cancel, execution_report, new_order

FEES = parse_fees("A=taker:0.003;B=taker:0.001")


def market() -> ConsolidatedBook:
    return (ConsolidatedBook("AAPL")
            .with_levels("A", [(D("187.00"), D(100))], [(D("187.20"), D(40)), (D("187.30"), D(100))])
            .with_levels("B", [(D("187.00"), D(100))], [(D("187.20"), D(30)), (D("187.25"), D(100))]))


class Harness:
    """The engine step over in-memory state with a smart router for every order of ACC-001."""

    def __init__(self, strategy: str = "best", closed=None, controls: Controls = Controls()) -> None:
        self.orders: dict = {}
        self.accounts: dict = {}
        self.journal, self.requests, self.fills = [], [], []
        self.now = T0
        self.risk = RiskView(controls)
        self.stats = VenueStatistics()
        self.closed = dict(closed or {})
        self.strategy = strategy

    def smart(self) -> SmartRouting:
        rule = (self.strategy, STRATEGIES[self.strategy])
        return SmartRouting(lambda account, _i: rule if account == ACCOUNT else None, {"AAPL": market()},
                            self.stats, self.closed, FEES)

    def __call__(self, event):
        self.now += 1_000
        outcome = step(self.orders.get, event, StaticRouter(venues=frozenset({"SIM", "A", "B"})), self.now,
                       self.risk, self.accounts.get, smart=self.smart())
        self.orders.update(outcome.orders)
        self.accounts.update(outcome.accounts)
        self.journal += outcome.journal
        self.requests += outcome.requests
        self.fills += outcome.fills
        for event in outcome.journal:
            self.stats.apply(event)
        return outcome

    def live_requests(self) -> list:
        """The NEW requests of the children that are still live."""
        return [r for r in self.requests if r.action is VenueAction.NEW and is_live(self.orders[r.order_id])]

    def act(self, kind: str, which: int, qty: int):
        """One venue report for the live child `which` picks (modulo): "fill" up to `qty` at 187.2,
        "reject", "cancel", or "ack" (None once the child was answered, as when no child is live)."""
        live = self.live_requests()
        if not live:
            return None
        request = live[which % len(live)]
        child = self.orders[request.order_id]
        if kind == "fill":
            return self.report(request, ExecType.PARTIAL_FILL, min(D(qty), child.leaves_qty), D("187.2"))
        if kind == "ack" and child.status is not OrderStatus.PENDING_NEW:
            return None
        return self.report(request, {"reject": ExecType.REJECTED, "cancel": ExecType.CANCELED,
                                     "ack": ExecType.NEW}[kind])

    def report(self, request, exec_type, qty=D(0), px=D(0), exec_id=None):
        order = self.orders[request.order_id]
        cum = order.cum_qty + qty
        status = {ExecType.NEW: OrderStatus.NEW, ExecType.CANCELED: OrderStatus.CANCELED,
                  ExecType.REJECTED: OrderStatus.REJECTED}.get(
            exec_type, OrderStatus.FILLED if cum == order.quantity else OrderStatus.PARTIALLY_FILLED)
        return self(execution_report(
            order_id=request.order_id, request_id=request.request_id, venue=request.venue,
            exec_id=exec_id or f"{request.venue}-{request.request_id}-{exec_type.value}-{cum}",
            exec_type=exec_type, order_status=status, order_qty=order.quantity, last_qty=qty, last_px=px,
            cum_qty=cum, leaves_qty=max(order.quantity - cum, D(0)), avg_px=px, commission=D(0)))


PARENT = ids.order_id(ACCOUNT, "cl-1")


def test_a_marketable_order_sweeps_two_venues_in_price_then_fee_order():
    engine = Harness()
    outcome = engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    decided = [e for e in outcome.journal if isinstance(e, RoutingDecided)]
    assert len(decided) == 1 and decided[0].strategy == "best" and decided[0].arrival_price == D("187.20")
    assert "A=187.2 " in decided[0].considered and "B=187.2 " in decided[0].considered
    # 187.20 at B first (lower taker fee), then 187.20 at A, then the rest at B's 187.25
    assert [(r.venue, r.quantity, r.limit_price) for r in outcome.requests] == [
        ("B", D(60), D("187.25")), ("A", D(40), D("187.20"))]
    assert all(r.venue != SMART_VENUE for r in outcome.requests)
    assert engine.orders[PARENT].venue == SMART_VENUE and engine.orders[PARENT].status is OrderStatus.PENDING_NEW
    assert [c.order_id for c in children_of(engine.orders.get, PARENT)] == [child_order_id(PARENT, 1), child_order_id(PARENT, 2)]


def test_child_fills_aggregate_into_the_parent_and_only_the_parent_fills_downstream():
    engine = Harness()
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    b, a = engine.requests
    engine.report(b, ExecType.NEW)
    assert engine.orders[PARENT].status is OrderStatus.NEW
    engine.report(b, ExecType.PARTIAL_FILL, D(30), D("187.20"))
    engine.report(a, ExecType.FILL, D(40), D("187.20"))
    engine.report(b, ExecType.FILL, D(30), D("187.25"))
    parent = engine.orders[PARENT]
    assert parent.status is OrderStatus.FILLED and parent.cum_qty == D(100) and parent.leaves_qty == 0
    assert parent.avg_px == D("187.215")
    assert [(f.order_id, f.venue, f.quantity) for f in engine.fills] == [
        (PARENT, "B", D(30)), (PARENT, "A", D(40)), (PARENT, "B", D(30))]
    # account risk holds the parent alone: no open order left, a position of 100
    assert not engine.accounts[ACCOUNT].orders_at_venues()
    assert engine.stats.get("B", "AAPL").filled_qty == D(60) and engine.stats.get("A", "AAPL").fill_rate == 1


def test_a_child_rejected_by_its_venue_is_rerouted_elsewhere():
    engine = Harness()
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    b, a = engine.requests
    outcome = engine.report(a, ExecType.REJECTED)
    assert [(r.venue, r.quantity) for r in outcome.requests] == [("B", D(40))]
    decided = [e for e in outcome.journal if isinstance(e, RoutingDecided)]
    assert decided[0].trigger == "REROUTE" and "A=- (circuit open: excluded" in decided[0].considered


def test_a_venue_with_an_open_breaker_is_routed_around():
    engine = Harness(closed={"B": "breaker open"})
    outcome = engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    assert {r.venue for r in outcome.requests} == {"A"} and sum(r.quantity for r in outcome.requests) == 100


def test_no_open_venue_rejects_the_parent_with_the_reason():
    engine = Harness(closed={"A": "x", "B": "y"})
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    parent = engine.orders[PARENT]
    assert parent.status is OrderStatus.REJECTED and "NO_ROUTE" in parent.reason
    assert engine.requests == []


def test_parent_cancel_cancels_every_child_then_completes():
    engine = Harness()
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    b, a = engine.requests
    engine.report(b, ExecType.NEW)
    engine.report(a, ExecType.PARTIAL_FILL, D(10), D("187.20"))
    outcome = engine(cancel("cl-1", "cl-2"))
    cancels = [r for r in outcome.requests if r.action is VenueAction.CANCEL]
    assert sorted(r.venue for r in cancels) == ["A", "B"]
    assert engine.orders[PARENT].status is OrderStatus.PENDING_CANCEL
    engine.report(cancels[0], ExecType.CANCELED)
    assert engine.orders[PARENT].status is OrderStatus.PENDING_CANCEL
    outcome = engine.report(cancels[1], ExecType.CANCELED)
    parent = engine.orders[PARENT]
    assert parent.status is OrderStatus.CANCELED and parent.cum_qty == D(10)
    assert outcome.requests == []  # a child canceled under a parent cancel is not re-routed


def test_parent_amend_cancels_the_children_then_routes_the_new_quantity():
    engine = Harness()
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    b, a = engine.requests
    engine.report(b, ExecType.NEW)
    engine.report(a, ExecType.NEW)
    outcome = engine(amend("cl-1", "cl-2", quantity=D(50)))
    cancels = [r for r in outcome.requests if r.action is VenueAction.CANCEL]
    assert len(cancels) == 2
    engine.report(cancels[0], ExecType.CANCELED)
    outcome = engine.report(cancels[1], ExecType.CANCELED)
    parent = engine.orders[PARENT]
    assert parent.quantity == D(50) and parent.status is OrderStatus.NEW
    assert sum(r.quantity for r in outcome.requests) == D(50)


def test_child_fills_never_exceed_the_parent():
    engine = Harness()
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    b, a = engine.requests
    engine.report(b, ExecType.FILL, D(60), D("187.2"))
    engine.report(a, ExecType.FILL, D(40), D("187.2"))
    assert engine.orders[PARENT].cum_qty == D(100)
    assert sum(f.quantity for f in engine.fills) == D(100)


def test_replay_rebuilds_parents_children_and_venue_statistics():
    engine = Harness()
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    b, a = engine.requests
    engine.report(b, ExecType.NEW)
    engine.report(a, ExecType.REJECTED)
    engine.report(b, ExecType.PARTIAL_FILL, D(50), D("187.2"))
    replayed, stats = JournalProjection(project_positions=True), VenueStatistics()
    for event in engine.journal:
        replayed.apply(event)
        stats.apply(event)
    assert replayed.orders == engine.orders
    assert replayed.accounts == engine.accounts
    assert stats.stats == engine.stats.stats


def test_accounts_without_a_rule_keep_static_routing():
    engine = Harness()
    outcome = engine(new_order("cl-9", account="ACC-OTHER", quantity=D(10), venue=None))
    assert [r.venue for r in outcome.requests] == ["SIM"]
    assert not any(isinstance(e, RoutingDecided) for e in outcome.journal)


def test_market_parent_sweeps_with_priced_children():
    engine = Harness()
    outcome = engine(new_order("cl-1", quantity=D(50), order_type=OrderType.MARKET))
    assert sum(r.quantity for r in outcome.requests) == D(50)


def test_a_market_parents_children_go_ioc_and_a_piece_whose_price_moved_is_routed_again():
    engine = Harness()
    engine(new_order("cl-1", quantity=D(50), order_type=OrderType.MARKET))
    first = [r for r in engine.requests if r.action is VenueAction.NEW]
    assert [(r.venue, r.quantity, r.limit_price) for r in first] == [("B", D(30), D("187.20")),
                                                                     ("A", D(20), D("187.20"))]
    assert all(engine.orders[r.order_id].time_in_force is TimeInForce.IOC for r in first)
    b, a = first
    engine.report(b, ExecType.FILL, D(30), D("187.20"))
    # A's offer moved away before the child arrived: the venue cancels the IOC, the rest is routed to B
    outcome = engine.report(a, ExecType.CANCELED)
    [again] = [r for r in outcome.requests if r.action is VenueAction.NEW]
    assert (again.venue, again.quantity) == ("B", D(20))
    assert engine.orders[again.order_id].time_in_force is TimeInForce.IOC
    engine.report(again, ExecType.CANCELED)  # nothing left anywhere: the parent ends with what it got
    parent = engine.orders[PARENT]
    assert parent.status is OrderStatus.CANCELED and parent.cum_qty == D(30) and "NO_ROUTE" in parent.reason


def test_a_limit_parents_children_keep_its_time_in_force():
    engine = Harness()
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    assert {engine.orders[r.order_id].time_in_force for r in engine.requests} == {TimeInForce.DAY}


# ------------------------------------------------------------------ properties

from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(1, 80)), min_size=1, max_size=12),
       st.sampled_from(sorted(STRATEGIES)))
def test_the_sum_of_child_fills_never_exceeds_the_parent(fills, strategy):
    engine = Harness(strategy)
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    requests = [r for r in engine.requests if r.action is VenueAction.NEW]
    for which, qty in fills:
        request = requests[which % len(requests)]
        child = engine.orders[request.order_id]
        take = min(D(qty), child.leaves_qty)
        if take > 0:
            engine.report(request, ExecType.PARTIAL_FILL, take, D("187.2"))
    parent = engine.orders[PARENT]
    children = children_of(engine.orders.get, PARENT)
    assert sum(c.quantity for c in children) <= parent.quantity
    assert sum(c.cum_qty for c in children) == parent.cum_qty <= parent.quantity
    assert sum(f.quantity for f in engine.fills) == parent.cum_qty
    assert parent.leaves_qty == parent.quantity - parent.cum_qty


def test_a_child_is_not_canceled_directly_only_through_its_parent():
    engine = Harness()
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    b, a = engine.requests
    engine.report(a, ExecType.NEW)
    child = engine.orders[a.order_id]
    outcome = engine(cancel(child.client_order_id, "kill-x", trader="risk"))  # e.g. the kill switch's per-order cancel
    [denied] = outcome.journal
    assert denied.reason_code == "UNKNOWN_ORDER" and outcome.requests == []
    assert engine.orders[a.order_id].status is OrderStatus.NEW


def test_an_ioc_parent_ends_when_its_children_end_instead_of_rerouting():
    engine = Harness()
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25"), time_in_force=TimeInForce.IOC))
    b, a = engine.requests
    engine.report(b, ExecType.PARTIAL_FILL, D(30), D("187.2"))
    engine.report(b, ExecType.CANCELED)
    engine.report(a, ExecType.CANCELED)
    parent = engine.orders[PARENT]
    assert parent.status is OrderStatus.CANCELED and parent.cum_qty == D(30)
    assert len([r for r in engine.requests if r.action is VenueAction.NEW]) == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["fill", "reject", "cancel", "ack"]), st.integers(0, 5), st.integers(1, 60)),
                min_size=1, max_size=15))
def test_live_children_never_hold_more_than_the_parent_leaves_through_reroutes(actions):
    engine = Harness("best")
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    for kind, which, qty in actions:
        if not engine.live_requests():
            break
        if engine.act(kind, which, qty) is None:
            continue
        parent = engine.orders[PARENT]
        children = children_of(engine.orders.get, PARENT)
        live_leaves = sum((c.leaves_qty for c in children if c.status in
                           (OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)), D(0))
        assert live_leaves <= parent.leaves_qty
        assert sum(c.cum_qty for c in children) == parent.cum_qty <= parent.quantity
        assert {r.venue for r in engine.requests} <= {"A", "B"}

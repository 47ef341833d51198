"""Tests of `oms.venues.reconcile`: every divergence case, repaired through the real order engine
decisions (`decide_report`) against the real simulated exchange, and a hypothesis property: after
a disconnect that lost any suffix of the venue's reports (and, or not, a venue restart that lost
its book), applying the reconciliation makes the OMS agree with the venue, and a second
reconciliation changes nothing."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings, strategies as st

from oms.domain.orders import ExternalOrders, Order, decide_new, decide_report, is_live, view
from oms.events import (
    ExecType,
    ExecutionReport,
    JournalEvent,
    OrderAnomaly,
    OrderCanceled,
    OrderStatus,
    OrderType,
    VenueAction,
)
from oms.venues.reconcile import UNKNOWN_AT_VENUE, OmsOrder, in_transit, reconcile
from oms.venues.simulated import SimulatedExchange
from tests.builders import GATEWAY_T0 as T0, apply, new_order, numbered_request, xyz_quote

VENUE = "SIM-A"
MS = 1_000_000
REJECT, ADOPT = ExternalOrders.REJECT, ExternalOrders.ADOPT


class World:
    """An OMS (orders folded from the engine's decisions) trading with one simulated venue."""

    def __init__(self, n: int, keep_book: bool = True) -> None:
        self.venue = SimulatedExchange(VENUE, 1, started_ns=T0)
        self.orders: dict[str, Order] = {}
        self.reports: list[ExecutionReport] = []
        self.now = T0
        for i in range(n):
            cmd = new_order(f"c{i}", instrument="XYZ", quantity=D(100), limit_price=D("100.00"),
                            order_type=OrderType.LIMIT, venue=VENUE)
            accepted, routed, request = decide_new(cmd, None, VENUE, self.now)
            self.orders[accepted.order_id] = apply(None, [accepted, routed])
            self.reports += self.venue.submit(request, self.now)

    def tick(self) -> int:
        self.now += MS
        return self.now

    def deliver(self, reports: list[ExecutionReport], external: ExternalOrders = REJECT) -> list:
        """The engine's decisions on `reports`, applied to the OMS's orders."""
        out = []
        for report in reports:
            events = decide_report(report, self.orders.get(report.order_id), self.tick(), external)
            order = apply(self.orders.get(report.order_id), events)
            if order is not None:
                self.orders[order.order_id] = order
            out += events
        return out

    def oms(self, exec_ids: bool = False) -> list[OmsOrder]:
        return [OmsOrder.of_order(o) if exec_ids else OmsOrder.of_view(view(o)) for o in self.orders.values()]

    def statuses(self) -> list[ExecutionReport]:
        out = self.venue.mass_status(self.tick())
        listed = {r.order_id for r in out}
        for order in self.orders.values():
            if order.order_id not in listed:
                request = numbered_request(0, venue=VENUE, action=VenueAction.STATUS, account=order.account,
                                           order_id=order.order_id, request_id=f"st-{order.order_id}-{self.now}")
                out += self.venue.status(request, self.tick())
        return out

    def reconcile(self, policy: ExternalOrders = REJECT, exec_ids: bool = False):
        result = reconcile(VENUE, self.oms(exec_ids), self.statuses(), self.venue.fills(), policy, self.tick())
        events = self.deliver(result.reports, policy)
        for request in result.cancels:
            events += self.deliver(self.venue.cancel(request, self.tick()), policy)
        return result, events


def sequenced(events) -> list[JournalEvent]:
    return [e for e in events if isinstance(e, JournalEvent) and e.seq > 0]


def test_missed_fills_are_booked_once_with_the_venues_exec_ids():
    world = World(1)
    world.deliver(world.reports)  # acked
    fills = world.venue.on_quote(xyz_quote(bid_price=D("99.80"), ask_price=D("99.90"), ask_size=D(30)), world.tick())
    fills += world.venue.on_quote(xyz_quote(bid_price=D("99.80"), ask_price=D("99.90"), ask_size=D(20), event_id="q-2"), world.tick())
    [order] = world.orders.values()

    result, events = world.reconcile()

    assert [r.exec_id for r in result.reports] == [f.exec_id for f in fills]
    assert world.orders[order.order_id].cum_qty == D(50)
    assert result.summary.missed_fills == order.order_id and result.summary.fills_resent == 2
    # again: the engine ignores the copies
    again, events = world.reconcile()
    assert sequenced(events) == [] and world.orders[order.order_id].cum_qty == D(50)


def test_with_known_exec_ids_only_the_fills_the_oms_lacks_are_sent():
    world = World(1)
    world.deliver(world.reports)
    first = world.venue.on_quote(xyz_quote(bid_price=D("99.80"), ask_price=D("99.90"), ask_size=D(30)), world.tick())
    world.deliver(first)
    second = world.venue.on_quote(xyz_quote(bid_price=D("99.80"), ask_price=D("99.90"), ask_size=D(20), event_id="q-2"), world.tick())

    result, _ = world.reconcile(exec_ids=True)

    assert [r.exec_id for r in result.reports] == [second[0].exec_id]


def test_an_order_canceled_at_the_venue_while_disconnected_is_closed_with_the_reason():
    world = World(2)
    world.deliver(world.reports)
    gone = list(world.orders)[0]
    world.venue.cancel_unsolicited(gone, world.tick())  # its report never arrives

    result, events = world.reconcile()

    [canceled] = [e for e in events if isinstance(e, OrderCanceled)]
    assert canceled.order_id == gone and canceled.unsolicited and "canceled at venue" in canceled.reason
    assert world.orders[gone].status is OrderStatus.CANCELED
    assert result.summary.closed_at_venue == gone and result.summary.matched == 1
    _, again = world.reconcile()
    assert sequenced(again) == []


def test_an_order_the_venue_does_not_know_is_canceled_with_a_deterministic_exec_id():
    world = World(2)
    world.deliver(world.reports)
    world.venue = SimulatedExchange(VENUE, 1, started_ns=T0 + 1000 * MS)  # restarted, book lost

    result, events = world.reconcile()

    assert {o.status for o in world.orders.values()} == {OrderStatus.CANCELED}
    assert {e.reason for e in events if isinstance(e, OrderCanceled)} == {UNKNOWN_AT_VENUE}
    assert sorted(result.summary.unknown_at_venue.split()) == sorted(world.orders)
    second = reconcile(VENUE, [OmsOrder.of_view(view(o)) for o in world.orders.values()], [], [], REJECT, world.now)
    repeat = reconcile(VENUE, [OmsOrder.of_order(o) for o in world.orders.values()], [], [], REJECT, T0)
    assert second.reports == [] and repeat.reports == []  # closed now: nothing to repair
    replayed = reconcile(VENUE, [OmsOrder(o.order_id, o.account, o.instrument, o.side, OrderStatus.NEW, o.quantity,
                                          o.cum_qty) for o in world.orders.values()], [], [], REJECT, T0 + 1)
    assert [r.exec_id for r in replayed.reports] == [r.exec_id for r in result.reports]  # same ids: ignored
    assert sequenced(world.deliver(replayed.reports)) == []


def test_reports_in_transit_count_before_the_view_shows_them():
    """An asynchronous venue resends its fills just before its mass status answers: the fills are
    published but not yet folded into the `orders` view; an order they filled is not working at the
    venue any more, and must not be taken for one the venue does not know."""
    world = World(2)
    world.deliver(world.reports)
    filled, working = list(world.orders)
    fills = world.venue.on_quote(xyz_quote(bid_price=D("99.80"), ask_price=D("99.90"), ask_size=D(100)), world.tick())
    assert {f.order_id for f in fills} == {filled} and fills[-1].order_status is OrderStatus.FILLED
    stale = world.oms()  # the view before the fills are folded
    statuses = [r for r in world.venue.mass_status(world.tick())]  # only the working order is listed

    naive = reconcile(VENUE, stale, statuses, [], REJECT, world.tick())
    assert naive.summary.unknown_at_venue == filled  # what a stale view would make of it
    result = reconcile(VENUE, in_transit(stale, fills), statuses, [], REJECT, world.tick())
    assert result.reports == [] and result.summary.unknown_at_venue == "" and result.summary.matched == 1
    [seen] = [o for o in in_transit(stale, fills) if o.order_id == filled]
    assert (seen.status, seen.cum_qty) == (OrderStatus.FILLED, D(100))
    assert in_transit(stale, []) == stale


def test_a_pending_new_order_unknown_at_the_venue_is_left_in_flight():
    world = World(1)  # the OMS got no report at all, and the venue lost its book
    world.venue = SimulatedExchange(VENUE, 1, started_ns=T0 + 1000 * MS)

    result, events = world.reconcile()

    assert events == [] and result.summary.in_flight == list(world.orders)[0]


def test_a_lost_ack_is_sent_again():
    world = World(1)  # acked at the venue, the ack lost

    result, _ = world.reconcile()

    assert [o.status for o in world.orders.values()] == [OrderStatus.NEW]
    assert result.summary.acknowledged == list(world.orders)[0]


def test_an_external_order_is_adopted_with_its_fills_under_policy_adopt():
    world = World(0)
    foreign = numbered_request(9, venue=VENUE, account="ACC1", order_id="EXT-9", request_id="ext-9",
                               limit_price=D("100.00"), quantity=D(100))
    world.venue.submit(foreign, world.tick())
    world.venue.on_quote(xyz_quote(bid_price=D("99.80"), ask_price=D("99.90"), ask_size=D(40)), world.tick())

    result, events = world.reconcile(ADOPT)

    adopted = world.orders["EXT-9"]
    assert (adopted.status, adopted.cum_qty, adopted.quantity) == (OrderStatus.PARTIALLY_FILLED, D(40), D(100))
    assert result.summary.adopted == "EXT-9" and result.cancels == []
    _, again = world.reconcile(ADOPT)
    assert sequenced(again) == []


def test_an_external_order_under_policy_reject_keeps_the_anomaly_and_is_canceled_at_the_venue():
    world = World(0)
    world.venue.submit(numbered_request(9, venue=VENUE, order_id="EXT-9", request_id="ext-9"), world.tick())

    result, events = world.reconcile(REJECT)

    assert [(e.reason_code, e.order_id) for e in events if isinstance(e, OrderAnomaly)][0] == ("UNKNOWN_ORDER", "EXT-9")
    assert [c.action for c in result.cancels] == [VenueAction.CANCEL]
    assert world.venue.open_orders() == [] and "EXT-9" not in world.orders
    assert result.summary.canceled_external == "EXT-9"


def test_an_order_closed_in_the_oms_but_working_at_the_venue_is_canceled_there():
    world = World(1)
    world.deliver(world.reports)
    oid = list(world.orders)[0]
    closed = world.deliver([world.reports[0].model_copy(update={
        "event_id": "x-1", "exec_id": "x-1", "exec_type": ExecType.CANCELED, "order_status": OrderStatus.CANCELED})])
    assert world.orders[oid].status is OrderStatus.CANCELED and closed

    result, _ = world.reconcile()

    assert result.summary.closed_in_oms == oid and world.venue.open_orders() == []


def test_the_same_inputs_give_the_same_reconciliation():
    world = World(3)
    world.venue.on_quote(xyz_quote(bid_price=D("99.80"), ask_price=D("99.90"), ask_size=D(150)), world.tick())
    inputs = (VENUE, world.oms(), world.statuses(), world.venue.fills(), REJECT, T0)
    assert reconcile(*inputs) == reconcile(*inputs)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 6),
    fills=st.lists(st.integers(0, 120), max_size=4),
    cancels=st.lists(st.integers(0, 5), max_size=3),
    delivered=st.floats(0, 1),
    restart=st.booleans(),
    exec_ids=st.booleans(),
)
def test_applying_the_reconciliation_makes_the_oms_agree_with_the_venue(n, fills, cancels, delivered, restart,
                                                                         exec_ids):
    world = World(n)
    reports = list(world.reports)
    for i, size in enumerate(fills):
        if size:
            reports += world.venue.on_quote(xyz_quote(bid_price=D("99.80"), ask_price=D("99.90"), ask_size=D(size), event_id=f"q{i}"),
                                            world.tick())
    ids = list(world.orders)
    for k in cancels:
        reports += world.venue.cancel_unsolicited(ids[k % n], world.tick())
    world.deliver(reports[: int(len(reports) * delivered)])  # the rest was lost in the disconnect
    if restart:
        world.venue = SimulatedExchange(VENUE, 1, started_ns=T0 + 10**6 * MS)

    world.reconcile(exec_ids=exec_ids)

    working = {o.order_id: o for o in world.venue.open_orders()}
    for oid, order in world.orders.items():
        if oid in working:
            assert is_live(order) and order.cum_qty == working[oid].cum_qty, (order, working[oid])
        elif restart:
            assert order.status in (OrderStatus.CANCELED, OrderStatus.PENDING_NEW, OrderStatus.FILLED), order
            assert not is_live(order) or order.status is OrderStatus.PENDING_NEW
        else:
            [status] = [r for r in world.statuses() if r.order_id == oid]
            assert (order.status, order.cum_qty) == (status.order_status, status.cum_qty), (order, status)
    _, again = world.reconcile(exec_ids=exec_ids)
    assert sequenced(again) == []

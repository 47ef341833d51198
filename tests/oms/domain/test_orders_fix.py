"""FIX order-state hard cases: each test is named after the FIX rule it checks.

This module owns the checks of the cases the FIX 4.4 order state change
matrices (FIX 4.4 Vol. 4 Appendix D, "Order State Changes"; FIX Latest groups
A-L) put to an OMS beyond the common path: fills after a cancel or expiry,
OrdStatus precedence while a request is pending, cancel rejects matched by
request id, replaces to or below the filled quantity, cancels before the
venue's ack, increases of a filled order, request chains, GT orders across
days, restatements, reason enums, suspensions, status queries and external
orders. Orders run through `OrderHarness` (decide -> evolve checked on every
step); money paths run through the engine's pure step (`EngineHarness`), so
the `Fill` stream, account risk and the journal fold are checked as one.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from oms import ids, keys
from oms.config import Settings
from oms.domain.orders import ExternalOrders, decide_new_day, decide_report, fold
from oms.domain.orders.decisions import MAX_CHAIN
from oms.domain.projection import JournalProjection
from oms.events import (
    CancelRejectReason,
    CancelRejectResponseTo,
    ExecType,
    ExecutionReport,
    Fill,
    FillKind,
    OrderAccepted,
    OrderAnomaly,
    OrderFilled,
    OrderRejectReason,
    OrderStatus,
    RestatementReason,
    TimeInForce,
    VenueAction,
)
from oms.venues import handle_request
from oms.venues.simulated import SimulatedExchange
from tests import builders
from tests.builders import EngineHarness, OrderHarness


# ------------------------------------------------- 1. late fills (an execution that crossed the cancel)


def _late_fill_after(end: ExecType) -> OrderHarness:
    h = OrderHarness()
    h.working()
    h.fill(30, "10")
    if end is ExecType.CANCELED:
        h.cancel("c")
    h.venue_says(end)
    return h


def test_fix_fill_after_cancel_is_booked_status_stays_canceled() -> None:
    h = _late_fill_after(ExecType.CANCELED)
    assert h.order.status is OrderStatus.CANCELED
    filled, fill = h.fill(20, "11")
    assert isinstance(filled, OrderFilled) and filled.late and filled.seq > 0
    assert isinstance(fill, Fill) and fill.late and fill.kind is FillKind.FILL and fill.quantity == D(20)
    assert (h.order.status, h.order.cum_qty, h.order.leaves_qty) == (OrderStatus.CANCELED, D(50), D(0))


def test_fix_late_fill_after_expired_and_after_done_for_day_is_booked() -> None:
    for end in (ExecType.EXPIRED, ExecType.DONE_FOR_DAY):
        h = _late_fill_after(end)
        status = h.order.status
        filled, fill = h.fill(70, "11")  # completes the quantity: FILL, status still the end state
        assert filled.late and fill.late and h.order.status is status and h.order.cum_qty == D(100)


def test_fix_late_fill_can_be_busted_and_corrected() -> None:
    h = _late_fill_after(ExecType.CANCELED)
    h.fill(20, "11", exec_id="LATE")
    h.venue_says(ExecType.TRADE_CORRECT, ref_exec_id="LATE", last_qty=D(10), last_px=D("11"))
    assert h.order.cum_qty == D(40) and h.order.status is OrderStatus.CANCELED
    h.venue_says(ExecType.TRADE_BUST, ref_exec_id="LATE")
    assert h.order.cum_qty == D(30) and h.order.status is OrderStatus.CANCELED


def test_fix_late_fill_beyond_the_quantity_is_still_an_overfill() -> None:
    h = _late_fill_after(ExecType.CANCELED)
    (anomaly,) = h.fill(71, "11")
    assert isinstance(anomaly, OrderAnomaly) and anomaly.reason_code == "OVERFILL"


def test_fix_late_fill_after_cancel_reaches_fills_positions_account_risk_and_replay() -> None:
    """The money path: the engine publishes the late fill on `fills` once, account risk and
    positions move, and the journal fold gives back the engine's state."""
    engine = EngineHarness()
    engine(builders.new_order(client_order_id="late", quantity=D(100)))
    oid = ids.order_id(builders.ACCOUNT, "late")
    order = lambda: engine.orders[oid]  # noqa: E731
    engine(builders.report(order(), ExecType.NEW, "V1"))
    engine(builders.cancel("late", "late-c"))
    engine(builders.report(order(), ExecType.CANCELED, "V2"))
    assert order().status is OrderStatus.CANCELED and not engine.accounts[builders.ACCOUNT].open_orders
    late = builders.report(order(), ExecType.PARTIAL_FILL, "V3", last_qty=D(40), last_px=D("187"))
    engine(late)
    engine(late)  # redelivered: never a second fill
    assert [(f.quantity, f.late) for f in engine.fills] == [(D(40), True)]
    assert order().cum_qty == D(40) and order().status is OrderStatus.CANCELED
    account = engine.accounts[builders.ACCOUNT]
    assert account.positions == {builders.INSTRUMENT: D(40)} and not account.open_orders
    replay = JournalProjection()
    for event in engine.journal:
        replay.apply(event)
    assert replay.orders[oid] == order()
    assert replay.accounts[builders.ACCOUNT].positions == account.positions
    assert replay.positions[keys.position_id(builders.ACCOUNT, builders.INSTRUMENT)].quantity == D(40)


def test_fix_fill_on_a_rejected_order_is_booked_not_lost() -> None:
    h = OrderHarness()
    h.new()
    h.venue_says(ExecType.REJECTED)
    filled, fill = h.fill(10)
    assert filled.late and fill.late
    assert (h.order.status, h.order.cum_qty) == (OrderStatus.REJECTED, D(10))


# ------------------------------------- 2. OrdStatus precedence while pending


def test_fix_precedence_pending_cancel_above_filled_then_cancel_reject_settles_filled() -> None:
    """FIX 4.4 Vol. 4 App. D B.1.c (fill while cancel pending, then "too late to cancel")."""
    h = OrderHarness()
    h.working()
    h.cancel("c")
    h.fill(100)
    assert (h.order.status, h.order.leaves_qty) == (OrderStatus.PENDING_CANCEL, D(0))
    h.venue_says(ExecType.CANCEL_REJECTED, request_id=h.order.pending.request_id)
    assert h.order.status is OrderStatus.FILLED and h.order.pending is None


def test_fix_precedence_pending_replace_above_filled_then_replace_reject_settles_filled() -> None:
    h = OrderHarness()
    h.working()
    h.amend("r", limit_price=D("188"))
    h.fill(100)
    assert (h.order.status, h.order.leaves_qty) == (OrderStatus.PENDING_REPLACE, D(0))
    h.venue_says(ExecType.CANCEL_REJECTED, request_id=h.order.pending.request_id)
    assert h.order.status is OrderStatus.FILLED and h.order.pending is None


def test_fix_precedence_correction_completing_while_pending_keeps_the_pending_status() -> None:
    h = OrderHarness()
    h.working()
    h.fill(40, exec_id="X1")
    h.cancel("c")
    h.venue_says(ExecType.TRADE_CORRECT, ref_exec_id="X1", last_qty=D(100), last_px=D("10"))
    assert (h.order.status, h.order.leaves_qty) == (OrderStatus.PENDING_CANCEL, D(0))


# ------------------------------------------ 13. cancel reject by request id


def test_fix_cancel_reject_names_its_request_in_clordid_else_it_settles_nothing() -> None:
    h = OrderHarness()
    h.working()
    h.cancel("c")
    pending = h.order.pending
    (anomaly,) = h.venue_says(ExecType.CANCEL_REJECTED, request_id="R-some-other-request")
    assert isinstance(anomaly, OrderAnomaly) and anomaly.reason_code == "UNKNOWN_REQUEST"
    assert h.order.status is OrderStatus.PENDING_CANCEL and h.order.pending == pending
    (rejected,) = h.venue_says(ExecType.CANCEL_REJECTED, request_id=pending.request_id)
    assert rejected.seq > 0 and h.order.status is OrderStatus.NEW and h.order.pending is None


# ------------------------------- 4. replace at or below the filled quantity


def test_fix_c3c_replace_below_cum_qty_sets_order_qty_to_cum_qty_and_fills_the_order() -> None:
    h = OrderHarness()
    h.working()
    h.fill(40)
    h.amend("r", quantity=D(30))
    (replaced,) = h.venue_says(ExecType.REPLACED)
    assert replaced.quantity == D(40) and replaced.leaves_qty == D(0)
    assert (h.order.status, h.order.quantity, h.order.cum_qty) == (OrderStatus.FILLED, D(40), D(40))


def test_fix_replace_report_with_another_order_qty_is_a_venue_mismatch_beside_the_replace() -> None:
    h = OrderHarness()
    h.working()
    h.amend("r", quantity=D(150))
    replaced, anomaly = h.venue_says(ExecType.REPLACED, order_qty=D(140))
    assert replaced.quantity == D(150) and anomaly.reason_code == "VENUE_MISMATCH" and anomaly.seq == 0


# ------------------------------------------ 5. request chains (App. D group D)


def test_fix_cancel_while_replace_pending_chains_origclordid_and_venue_answers_each_in_turn() -> None:
    h = OrderHarness()
    h.working()
    _, replace = h.amend("r1", quantity=D(150))
    _, cancel = h.cancel("c2")
    assert h.order.status is OrderStatus.PENDING_CANCEL  # Pending Cancel ranks above Pending Replace
    assert [r.request_id for r in h.order.chain] == [replace.request_id, cancel.request_id]
    assert cancel.orig_request_id == replace.request_id  # OrigClOrdID = the last non-rejected ClOrdID
    h.venue_says(ExecType.REPLACED, request_id=replace.request_id)
    assert (h.order.status, h.order.quantity, h.order.leaves_qty) == (OrderStatus.PENDING_CANCEL, D(150), D(150))
    assert h.order.pending.request_id == cancel.request_id and h.order.queued == ()
    h.venue_says(ExecType.CANCELED, request_id=cancel.request_id)
    assert h.order.status is OrderStatus.CANCELED and h.order.chain == ()
    assert fold(h.journal)[h.order.order_id] == h.order


def test_fix_cancel_reject_settles_the_request_it_names_in_a_chain() -> None:
    h = OrderHarness()
    h.working()
    h.fill(10)
    _, replace = h.amend("r1", quantity=D(150))
    _, cancel = h.cancel("c2")
    (rej,) = h.venue_says(ExecType.CANCEL_REJECTED, request_id=cancel.request_id)
    assert rej.request_id == cancel.request_id and rej.response_to is CancelRejectResponseTo.CANCEL
    assert h.order.status is OrderStatus.PENDING_REPLACE and h.order.pending.request_id == replace.request_id
    (rej,) = h.venue_says(ExecType.CANCEL_REJECTED, request_id=replace.request_id)
    assert rej.response_to is CancelRejectResponseTo.REPLACE
    assert (h.order.status, h.order.quantity, h.order.chain) == (OrderStatus.PARTIALLY_FILLED, D(100), ())
    assert fold(h.journal)[h.order.order_id] == h.order


def test_fix_replace_rejected_while_cancel_pending_stays_pending_cancel() -> None:
    h = OrderHarness()
    h.working()
    _, replace = h.amend("r1", limit_price=D(11))
    _, cancel = h.cancel("c2")
    h.venue_says(ExecType.CANCEL_REJECTED, request_id=replace.request_id)
    assert h.order.status is OrderStatus.PENDING_CANCEL and h.order.chain[0].request_id == cancel.request_id
    h.venue_says(ExecType.CANCELED, request_id=cancel.request_id)
    assert h.order.status is OrderStatus.CANCELED


def test_fix_queued_replaces_build_on_each_other_and_settle_in_turn() -> None:
    h = OrderHarness()
    h.working()
    _, first = h.amend("r1", quantity=D(150))
    pending, second = h.amend("r2", limit_price=D(12))
    assert second.quantity == D(150) and pending.quantity == D(150)  # builds on the first replace's terms
    assert second.orig_request_id == first.request_id and h.order.status is OrderStatus.PENDING_REPLACE
    h.venue_says(ExecType.REPLACED, request_id=first.request_id)
    assert (h.order.status, h.order.quantity) == (OrderStatus.PENDING_REPLACE, D(150))
    h.venue_says(ExecType.REPLACED, request_id=second.request_id)
    assert (h.order.status, h.order.quantity, h.order.limit_price) == (OrderStatus.NEW, D(150), D(12))
    assert h.order.request_id == second.request_id and h.order.chain == ()


def test_fix_nothing_follows_a_pending_cancel_and_chains_are_bounded() -> None:
    h = OrderHarness()
    h.working()
    h.amend("r1", quantity=D(150))
    h.cancel("c2")
    (rej,) = h.amend("r3", quantity=D(160))
    assert rej.seq == 0 and rej.reason_code == "REQUEST_PENDING"
    assert rej.cancel_reject_reason is CancelRejectReason.ALREADY_PENDING
    g = OrderHarness()
    g.working()
    for n in range(MAX_CHAIN):
        g.amend(f"r{n}", quantity=D(101 + n))
    (rej,) = g.cancel("one-too-many")
    assert rej.seq == 0 and rej.reason_code == "REQUEST_PENDING" and len(g.order.chain) == MAX_CHAIN


def test_fix_fill_completing_during_a_chain_keeps_the_top_pending_status_until_answered() -> None:
    h = OrderHarness()
    h.working()
    _, replace = h.amend("r1", quantity=D(200))
    _, cancel = h.cancel("c2")
    h.fill(100)
    assert (h.order.status, h.order.leaves_qty) == (OrderStatus.PENDING_CANCEL, D(0))
    h.venue_says(ExecType.REPLACED, request_id=replace.request_id)  # the increase reopens it
    assert (h.order.status, h.order.leaves_qty) == (OrderStatus.PENDING_CANCEL, D(100))
    h.venue_says(ExecType.CANCEL_REJECTED, request_id=cancel.request_id)
    assert h.order.status is OrderStatus.PARTIALLY_FILLED


def test_fix_account_risk_counts_the_largest_replace_of_a_chain() -> None:
    e = EngineHarness()
    e(builders.new_order("c1", quantity=D(100)))
    oid = ids.order_id(builders.ACCOUNT, "c1")
    e(builders.report(e.orders[oid], ExecType.NEW, "X1"))
    e(builders.amend("c1", "r1", D(300), None))
    e(builders.amend("c1", "r2", D(200), None))
    assert e.accounts[builders.ACCOUNT].open_orders[oid].leaves_qty == D(300)
    e(builders.report(e.orders[oid], ExecType.REPLACED, "X2"))  # the 300 replace answered
    e(builders.report(e.orders[oid], ExecType.REPLACED, "X3"))  # then the 200
    assert e.accounts[builders.ACCOUNT].open_orders[oid].leaves_qty == D(200)
    replayed = JournalProjection()
    for event in e.journal:
        replayed.apply(event)
    assert replayed.orders[oid] == e.orders[oid] and replayed.accounts == e.accounts


def test_fix_resumed_or_renewed_with_a_cancel_out_shows_pending_cancel() -> None:
    h = OrderHarness()
    h.working()
    h.venue_says(ExecType.SUSPENDED)
    h.cancel("c")
    h.venue_says(ExecType.RESTATED, restatement_reason=RestatementReason.RESUMED)
    assert h.order.status is OrderStatus.PENDING_CANCEL and h.order.pending is not None
    g = OrderHarness()
    g.working(time_in_force=TimeInForce.GTC)
    g.venue_says(ExecType.DONE_FOR_DAY)
    g.cancel("c")
    (renewal,) = decide_new_day(g.order, "2026-01-02", g.tick())
    g._run([renewal])
    assert g.order.status is OrderStatus.PENDING_CANCEL


# ---------------------------------------- 3. cancel while PendingNew (App. D B.1.d)


def test_fix_b1d_cancel_before_the_ack_is_sent_and_the_venue_answers_canceled() -> None:
    h = OrderHarness()
    h.new()
    pending, request = h.cancel("c")
    assert pending.seq > 0 and request.action.value == "CANCEL"
    assert h.order.status is OrderStatus.PENDING_CANCEL and h.order.pending.unacknowledged
    h.venue_says(ExecType.NEW)  # the venue acks the order first
    assert h.order.status is OrderStatus.PENDING_CANCEL and not h.order.pending.unacknowledged
    h.venue_says(ExecType.CANCELED)
    assert h.order.status is OrderStatus.CANCELED and h.order.pending is None


def test_fix_b1d_cancel_before_the_ack_rejected_returns_the_order_to_pending_new() -> None:
    h = OrderHarness()
    h.new()
    h.cancel("c")
    h.venue_says(ExecType.CANCEL_REJECTED)
    assert h.order.status is OrderStatus.PENDING_NEW and h.order.pending is None
    h.venue_says(ExecType.NEW)
    assert h.order.status is OrderStatus.NEW


def test_fix_b1d_order_rejected_while_the_cancel_chased_it_then_late_cancel_reject() -> None:
    h = OrderHarness()
    h.new()
    h.cancel("c")
    h.venue_says(ExecType.REJECTED)
    assert h.order.status is OrderStatus.REJECTED
    (late,) = h.venue_says(ExecType.CANCEL_REJECTED, reason="unknown order")
    assert late.seq > 0 and h.order.status is OrderStatus.REJECTED and h.order.pending is None


def test_fix_b1d_replace_before_the_ack_is_still_refused() -> None:
    h = OrderHarness()
    h.new()
    (rej,) = h.amend("r", quantity=D(50))
    assert rej.seq == 0 and rej.reason_code == "ORDER_NOT_ACKNOWLEDGED"


# ------------------------------------------ 6. increase a filled order (App. D C.1.c)


def test_fix_c1c_increasing_a_filled_order_reopens_it_partially_filled() -> None:
    h = OrderHarness()
    h.working()
    h.fill(100)
    assert h.order.status is OrderStatus.FILLED
    pending, request = h.amend("more", quantity=D(150))
    assert pending.seq > 0 and request.quantity == D(150)
    assert (h.order.status, h.order.leaves_qty) == (OrderStatus.PENDING_REPLACE, D(0))
    h.venue_says(ExecType.REPLACED)
    assert (h.order.status, h.order.quantity, h.order.leaves_qty) == (OrderStatus.PARTIALLY_FILLED, D(150), D(50))


def test_fix_c1c_increase_of_a_filled_order_rejected_leaves_it_filled() -> None:
    h = OrderHarness()
    h.working()
    h.fill(100)
    h.amend("more", quantity=D(150))
    h.venue_says(ExecType.CANCEL_REJECTED)
    assert h.order.status is OrderStatus.FILLED and h.order.pending is None


def test_fix_filled_order_takes_no_cancel_and_no_decrease_or_price_only_replace() -> None:
    h = OrderHarness()
    h.working()
    h.fill(100)
    for events in (h.cancel("c"), h.amend("less", quantity=D(90)), h.amend("px", limit_price=D("180"))):
        (rej,) = events
        assert rej.seq == 0 and rej.reason_code == "ORDER_NOT_LIVE"


# -------------------------------------------------- 7. GT orders across days

from oms.domain.orders import decide_new_day  # noqa: E402
from oms.events import (  # noqa: E402
    CancelRejectReason,
    OrderRejectReason,
    OrderRestated,
    OrderSuspended,
    RestatementReason,
    TimeInForce,
)


def _gtc_done_for_day() -> OrderHarness:
    h = OrderHarness()
    h.working(time_in_force=TimeInForce.GTC)
    h.fill(40)
    h.venue_says(ExecType.DONE_FOR_DAY)
    return h


def test_fix_gtc_done_for_day_keeps_its_leaves_for_tomorrow() -> None:
    h = _gtc_done_for_day()
    assert (h.order.status, h.order.cum_qty, h.order.leaves_qty) == (OrderStatus.DONE_FOR_DAY, D(40), D(60))


def test_fix_gt_renewal_restatement_returns_a_gtc_order_to_working_on_the_next_day() -> None:
    h = _gtc_done_for_day()
    (restated,) = h.venue_says(ExecType.RESTATED, restatement_reason=RestatementReason.GT_RENEWAL,
                               day_order_qty=D(60), day_cum_qty=D(0))
    assert isinstance(restated, OrderRestated) and restated.day_order_qty == D(60)
    assert (h.order.status, h.order.leaves_qty) == (OrderStatus.PARTIALLY_FILLED, D(60))
    h.fill(60)  # the next day's fill is a normal fill
    assert h.order.status is OrderStatus.FILLED


def test_fix_engine_session_roll_renews_gtc_orders_once_and_leaves_day_orders_alone() -> None:
    h = _gtc_done_for_day()
    events = h._run(decide_new_day(h.order, "2026-01-02", h.tick()))
    assert [type(e) for e in events] == [OrderRestated] and events[0].restatement_reason is RestatementReason.GT_RENEWAL
    assert h.order.status is OrderStatus.PARTIALLY_FILLED
    assert decide_new_day(h.order, "2026-01-02", h.tick()) == []
    day = OrderHarness()
    day.working()
    day.venue_says(ExecType.DONE_FOR_DAY)
    assert decide_new_day(day.order, "2026-01-02", day.tick()) == []


# ---------------------------------------------------------- 8. restatements


def test_fix_restatement_venue_side_reduction_changes_quantity_unsolicited() -> None:
    h = OrderHarness()
    h.working()
    h.fill(30)
    (restated,) = h.venue_says(ExecType.RESTATED, order_qty=D(80), restatement_reason=RestatementReason.PARTIAL_DECLINE)
    assert restated.quantity == D(80) and (h.order.quantity, h.order.leaves_qty) == (D(80), D(50))
    h.venue_says(ExecType.RESTATED, order_qty=D(20))  # below cum: done, quantity = cum (as for a replace)
    assert (h.order.status, h.order.quantity, h.order.leaves_qty) == (OrderStatus.FILLED, D(30), D(0))


def test_fix_restatement_corporate_action_reprices_and_keeps_a_pending_cancel_pending() -> None:
    h = OrderHarness()
    h.working()
    h.cancel("c")
    h.venue_says(ExecType.RESTATED, order_qty=D(200), limit_price=D("93.625"),
                 restatement_reason=RestatementReason.GT_CORPORATE_ACTION)
    assert (h.order.status, h.order.quantity, h.order.limit_price) == (OrderStatus.PENDING_CANCEL, D(200), D("93.625"))


# ------------------------------------------------------- 11. reason enums


def test_fix_ord_rej_reason_and_cxl_rej_reason_are_enums_beside_the_text() -> None:
    h = OrderHarness()
    h.new()
    (rejected,) = h.venue_says(ExecType.REJECTED, ord_rej_reason=OrderRejectReason.UNKNOWN_SYMBOL, reason="no ZZZZ")
    assert rejected.reject_reason is OrderRejectReason.UNKNOWN_SYMBOL and rejected.reason == "no ZZZZ"
    h = OrderHarness()
    h.working()
    h.cancel("c")
    (refused,) = h.cancel("c2")  # engine refusal: a cancel is already out
    assert refused.cancel_reject_reason is CancelRejectReason.ALREADY_PENDING
    (rej,) = h.venue_says(ExecType.CANCEL_REJECTED, cxl_rej_reason=CancelRejectReason.TOO_LATE_TO_CANCEL)
    assert rej.cancel_reject_reason is CancelRejectReason.TOO_LATE_TO_CANCEL


# ------------------------------------------------- 12. suspend and resume


def test_fix_suspended_order_keeps_its_leaves_and_resumes_on_restatement() -> None:
    h = OrderHarness()
    h.working()
    h.fill(25)
    (suspended,) = h.venue_says(ExecType.SUSPENDED, reason="trading halt")
    assert isinstance(suspended, OrderSuspended)
    assert (h.order.status, h.order.leaves_qty) == (OrderStatus.SUSPENDED, D(75))
    (rej,) = h.amend("r", quantity=D(50))
    assert rej.reason_code == "ORDER_SUSPENDED"
    h.venue_says(ExecType.RESTATED, restatement_reason=RestatementReason.RESUMED)
    assert (h.order.status, h.order.leaves_qty) == (OrderStatus.PARTIALLY_FILLED, D(75))


def test_fix_suspended_order_may_be_canceled_and_the_venue_answers() -> None:
    h = OrderHarness()
    h.working()
    h.venue_says(ExecType.SUSPENDED)
    pending, _ = h.cancel("c")
    assert h.order.status is OrderStatus.SUSPENDED and h.order.pending is not None
    h.venue_says(ExecType.CANCELED)
    assert h.order.status is OrderStatus.CANCELED


# ------------------------------------------ 10. status queries and mass status


def _engine_with_working(*client_order_ids: str, venue: str = builders.VENUE) -> EngineHarness:
    e = EngineHarness()
    for cid in client_order_ids:
        e(builders.new_order(cid, quantity=D(100), venue=venue))
        e(builders.report(e.orders[ids.order_id(builders.ACCOUNT, cid)], ExecType.NEW, f"ack-{cid}"))
    return e


def test_fix_order_status_request_asks_the_venue_and_an_agreeing_answer_changes_nothing() -> None:
    e = _engine_with_working("c1")
    oid = ids.order_id(builders.ACCOUNT, "c1")
    before, journal = e.orders[oid], len(e.journal)
    outcome = e(builders.order_status_request("c1"))
    (request,) = outcome.requests
    assert request.action is VenueAction.STATUS and request.order_id == oid and request.venue == builders.VENUE
    assert outcome.journal == [] and outcome.orders == {}
    venue = SimulatedExchange(builders.VENUE, seed=1)
    venue.submit(builders.venue_request(order_id=oid, request_id=before.request_id, quantity=D(100)), e.now)
    (answer,) = handle_request(venue, request, e.now)
    assert answer.exec_type is ExecType.ORDER_STATUS and answer.order_status is OrderStatus.NEW
    outcome = e(answer)
    assert outcome.journal == [] and e.orders[oid] == before and len(e.journal) == journal


def test_fix_order_status_disagreeing_is_a_venue_mismatch_and_the_order_stays() -> None:
    e = _engine_with_working("c1")
    oid = ids.order_id(builders.ACCOUNT, "c1")
    before = e.orders[oid]
    says = builders.report(before, ExecType.ORDER_STATUS, "st-1", order_status=OrderStatus.PARTIALLY_FILLED,
                           cum_qty=D(40), leaves_qty=D(60))
    (anomaly,) = e(says).journal
    assert isinstance(anomaly, OrderAnomaly) and anomaly.reason_code == "VENUE_MISMATCH" and anomaly.seq == 0
    assert "cum qty 40" in anomaly.reason and "status PARTIALLY_FILLED" in anomaly.reason
    assert e.orders[oid] == before


def test_fix_order_status_of_an_order_the_venue_does_not_hold_is_rejected_unknown_order() -> None:
    venue = SimulatedExchange(builders.VENUE, seed=1)
    request = builders.venue_request(action=VenueAction.STATUS, request_id="st-1")
    (answer,) = venue.status(request, builders.T0)
    assert (answer.exec_type, answer.order_status, answer.ord_rej_reason) == (
        ExecType.ORDER_STATUS, OrderStatus.REJECTED, OrderRejectReason.UNKNOWN_ORDER)
    assert venue.status(request, builders.T0 + 1) == [answer]  # idempotent by request id


def test_fix_order_status_of_an_unknown_order_is_denied_and_sends_nothing() -> None:
    e = EngineHarness()
    outcome = e(builders.order_status_request("nope"))
    (denied,) = outcome.journal
    assert denied.seq == 0 and denied.reason_code == "UNKNOWN_ORDER" and outcome.requests == []


def test_fix_mass_status_asks_about_every_working_order_of_the_account_or_one_venue() -> None:
    e = _engine_with_working("c1", "c2")
    e(builders.new_order("c3", quantity=D(100), venue="SIM"))
    outcome = e(builders.order_mass_status_request())
    assert sorted(r.order_id for r in outcome.requests) == sorted(
        ids.order_id(builders.ACCOUNT, c) for c in ("c1", "c2", "c3"))
    assert {r.action for r in outcome.requests} == {VenueAction.STATUS} and outcome.journal == []
    outcome = e(builders.order_mass_status_request(ts=builders.T0 + 1, venue="SIM"))
    assert [r.order_id for r in outcome.requests] == [ids.order_id(builders.ACCOUNT, "c3")]


def test_fix_session_roll_command_renews_the_accounts_gtc_orders_done_for_the_day_once() -> None:
    e = EngineHarness()
    for cid, tif in (("gtc", TimeInForce.GTC), ("day", TimeInForce.DAY)):
        e(builders.new_order(cid, quantity=D(100), time_in_force=tif))
        oid = ids.order_id(builders.ACCOUNT, cid)
        e(builders.report(e.orders[oid], ExecType.NEW, f"ack-{cid}"))
        e(builders.report(e.orders[oid], ExecType.DONE_FOR_DAY, f"dfd-{cid}"))
    gtc = ids.order_id(builders.ACCOUNT, "gtc")
    assert e.accounts[builders.ACCOUNT].resting == {gtc}
    (renewal,) = e(builders.new_trading_day("2026-01-02")).journal
    assert renewal.order_id == gtc and renewal.restatement_reason is RestatementReason.GT_RENEWAL
    assert e.orders[gtc].status is OrderStatus.NEW and e.accounts[builders.ACCOUNT].resting == frozenset()
    assert gtc in e.accounts[builders.ACCOUNT].open_orders
    assert e(builders.new_trading_day("2026-01-02", ts=builders.T0 + 5)).journal == []
    assert e.orders[ids.order_id(builders.ACCOUNT, "day")].status is OrderStatus.DONE_FOR_DAY


# ------------------------------------------------ 9. external orders by policy


def _foreign_fill(exec_id: str, qty: str, order_id: str = "VENUE-ORDER-7") -> ExecutionReport:
    return builders.report(None, ExecType.PARTIAL_FILL, exec_id, last_qty=D(qty), last_px=D("10"),
                           order_id=order_id, order_qty=D(100), cum_qty=D(qty), venue_order_id="XNAS-O7",
                           limit_price=D("10.5"))


def test_fix_report_of_an_order_the_oms_did_not_create_is_an_anomaly_by_default() -> None:
    e = EngineHarness()
    outcome = e(_foreign_fill("X1", "30"))
    (anomaly,) = outcome.journal
    assert anomaly.reason_code == "UNKNOWN_ORDER" and outcome.fills == [] and e.orders == {}
    assert Settings().external_orders is ExternalOrders.REJECT


def test_fix_adopt_policy_creates_an_external_order_and_books_its_fills() -> None:
    e = EngineHarness(external=ExternalOrders.ADOPT)
    outcome = e(_foreign_fill("X1", "30"))
    accepted, routed, filled = outcome.journal
    assert isinstance(accepted, OrderAccepted) and accepted.external and accepted.seq == 1
    assert (routed.seq, filled.seq, filled.last_qty) == (2, 3, D(30))
    (fill,) = outcome.fills
    assert fill.quantity == D(30) and fill.order_id == "VENUE-ORDER-7" and not fill.late
    order = e.orders["VENUE-ORDER-7"]
    assert order.external and order.status is OrderStatus.PARTIALLY_FILLED and order.client_order_id == "XNAS-O7"
    assert e.accounts[builders.ACCOUNT].positions == {builders.INSTRUMENT: D(30)}
    assert e.accounts[builders.ACCOUNT].open_orders["VENUE-ORDER-7"].leaves_qty == D(70)
    e(_foreign_fill("X2", "70"))  # its own lifecycle from here: the next fill completes it
    assert e.orders["VENUE-ORDER-7"].status is OrderStatus.FILLED
    assert [f.quantity for f in e.fills] == [D(30), D(70)]
    replayed = JournalProjection()
    for event in e.journal:
        replayed.apply(event)
    assert replayed.orders == e.orders and replayed.accounts[builders.ACCOUNT].positions == {builders.INSTRUMENT: D(100)}


def test_fix_adopt_policy_does_not_adopt_from_a_cancel_or_reject() -> None:
    e = EngineHarness(external=ExternalOrders.ADOPT)
    rep = builders.report(None, ExecType.CANCELED, "X1", order_id="VENUE-ORDER-8")
    assert [a.reason_code for a in e(rep).journal] == ["UNKNOWN_ORDER"] and e.orders == {}


def test_external_orders_setting_reads_reject_or_adopt() -> None:
    assert Settings(OMS_EXTERNAL_ORDERS="adopt").external_orders is ExternalOrders.ADOPT
    with pytest.raises(ValueError):
        Settings(OMS_EXTERNAL_ORDERS="maybe")

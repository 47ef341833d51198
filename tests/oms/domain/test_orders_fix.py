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

from oms import ids, keys
from oms.domain.orders import decide_report
from oms.domain.projection import JournalProjection
from oms.events import ExecType, Fill, FillKind, OrderAnomaly, OrderFilled, OrderStatus
from tests import builders
from tests.builders import EngineHarness, OrderHarness


# ------------------------------------------------- 1. late fills (FIX D.8)


def _late_fill_after(end: ExecType) -> OrderHarness:
    h = OrderHarness()
    h.working()
    h.fill(30, "10")
    if end is ExecType.CANCELED:
        h.cancel("c")
    h.venue_says(end)
    return h


def test_fix_d8_fill_after_cancel_is_booked_status_stays_canceled() -> None:
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
    """FIX 4.4 Vol. 4 D.9 (fill while cancel pending, then "too late to cancel")."""
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

"""Tests of the order aggregate: the transition table, ids, and FIX order-state scenarios.

This module owns the example-based checks of `oms.domain.orders` and `oms.ids`:
the full `(status, trigger)` table written out independently and compared pair
by pair, the deterministic id formats, and FIX scenarios (fills racing cancels
and replaces, cancel/replace to quantities below/equal/above the filled
quantity, cancel and replace rejects, unsolicited cancels, trade busts and
corrections, IOC partial fills then expiry, duplicate exec ids, duplicate
client order ids, unknown orders, overfills). Every decision runs through
`OrderHarness`, which also checks decide -> evolve consistency on each step.
"""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest

from oms import ids
from oms.domain.orders import (
    LIVE_STATUSES,
    TRANSITIONS,
    InvalidEvent,
    InvalidTransition,
    SequenceError,
    Trigger,
    decide_cancel,
    decide_new,
    decide_report,
    evolve,
    fold,
    is_live,
    next_status,
    view,
)
from oms.events import (
    CancelRejectResponseTo,
    ExecType,
    Fill,
    FillKind,
    OrderAccepted,
    OrderAcknowledged,
    OrderAnomaly,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderDoneForDay,
    OrderExpired,
    OrderFillBusted,
    OrderFillCorrected,
    OrderFilled,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderRejected,
    OrderReplaced,
    OrderRouted,
    OrderStatus,
    OrderType,
    OrderView,
    TimeInForce,
    VenueAction,
    VenueRequest,
)
from tests.builders import ACCOUNT, T0, VENUE, OrderHarness, cancel, new_order, report

IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@\-]*$")

# ------------------------------------------------------------------ the table

PN, NEW, PF, FILLED = "PENDING_NEW", "NEW", "PARTIALLY_FILLED", "FILLED"
PC, CXL, PR, RPL = "PENDING_CANCEL", "CANCELED", "PENDING_REPLACE", "REPLACED"
REJ, EXP, DFD, SUS = "REJECTED", "EXPIRED", "DONE_FOR_DAY", "SUSPENDED"

# Written out by hand from FIX OrdStatus semantics; not derived from the code.
EXPECTED: dict[tuple[str, str], str] = {
    (PN, "DENY"): REJ,
    (PN, "ROUTE"): PN,
    (PN, "ACK"): NEW,
    (PN, "REJECT"): REJ,
    (PN, "PARTIAL_FILL"): PF,
    (PN, "FILL"): FILLED,
    (PN, "CANCELED"): CXL,
    (PN, "EXPIRE"): EXP,
    (PN, "CANCEL_REQUEST"): PC,  # FIX App. D B.1.d: cancel before the ack
    (NEW, "PARTIAL_FILL"): PF,
    (NEW, "FILL"): FILLED,
    (NEW, "CANCEL_REQUEST"): PC,
    (NEW, "REPLACE_REQUEST"): PR,
    (NEW, "CANCELED"): CXL,
    (NEW, "EXPIRE"): EXP,
    (NEW, "DONE_FOR_DAY"): DFD,
    (PF, "PARTIAL_FILL"): PF,
    (PF, "FILL"): FILLED,
    (PF, "CANCEL_REQUEST"): PC,
    (PF, "REPLACE_REQUEST"): PR,
    (PF, "CANCELED"): CXL,
    (PF, "EXPIRE"): EXP,
    (PF, "DONE_FOR_DAY"): DFD,
    (PF, "BUST_UNFILLED"): NEW,
    (PF, "BUST_PARTIAL"): PF,
    (PF, "CORRECT_PARTIAL"): PF,
    (PF, "CORRECT_COMPLETE"): FILLED,
    (PC, "PARTIAL_FILL"): PC,
    (PC, "FILL"): PC,  # FIX precedence: Pending Cancel above Filled
    (PC, "CANCELED"): CXL,
    (PC, "ACK"): PC,
    (PC, "REJECT"): REJ,
    (PC, "CANCEL_REJECT_UNACKED"): PN,
    (PC, "CANCEL_REJECT_UNFILLED"): NEW,
    (PC, "CANCEL_REJECT_PARTIAL"): PF,
    (PC, "CANCEL_REJECT_COMPLETE"): FILLED,
    (PC, "EXPIRE"): EXP,
    (PC, "DONE_FOR_DAY"): DFD,
    (PC, "BUST_UNFILLED"): PC,
    (PC, "BUST_PARTIAL"): PC,
    (PC, "CORRECT_PARTIAL"): PC,
    (PC, "BUST_COMPLETE"): PC,
    (PC, "CORRECT_COMPLETE"): PC,
    (PR, "PARTIAL_FILL"): PR,
    (PR, "FILL"): PR,  # FIX precedence: Pending Replace above Filled
    (PR, "REPLACED_UNFILLED"): NEW,
    (PR, "REPLACED_PARTIAL"): PF,
    (PR, "REPLACED_COMPLETE"): FILLED,
    (PR, "REPLACE_REJECT_UNFILLED"): NEW,
    (PR, "REPLACE_REJECT_PARTIAL"): PF,
    (PR, "REPLACE_REJECT_COMPLETE"): FILLED,
    (PR, "CANCELED"): CXL,
    (PR, "EXPIRE"): EXP,
    (PR, "DONE_FOR_DAY"): DFD,
    (PR, "BUST_UNFILLED"): PR,
    (PR, "BUST_PARTIAL"): PR,
    (PR, "CORRECT_PARTIAL"): PR,
    (PR, "BUST_COMPLETE"): PR,
    (PR, "CORRECT_COMPLETE"): PR,
    (FILLED, "REPLACE_REQUEST"): PR,  # FIX App. D C.1.c: increase a filled order
    (FILLED, "CANCEL_REJECT_COMPLETE"): FILLED,
    (FILLED, "REPLACE_REJECT_COMPLETE"): FILLED,
    (FILLED, "BUST_UNFILLED"): NEW,
    (FILLED, "BUST_PARTIAL"): PF,
    (FILLED, "BUST_COMPLETE"): FILLED,
    (FILLED, "CORRECT_PARTIAL"): PF,
    (FILLED, "CORRECT_COMPLETE"): FILLED,
    (CXL, "PARTIAL_FILL"): CXL,  # late fill, booked
    (CXL, "FILL"): CXL,
    (CXL, "CANCEL_REJECT_UNFILLED"): CXL,
    (CXL, "CANCEL_REJECT_PARTIAL"): CXL,
    (CXL, "REPLACE_REJECT_UNFILLED"): CXL,
    (CXL, "REPLACE_REJECT_PARTIAL"): CXL,
    (CXL, "BUST_UNFILLED"): CXL,
    (CXL, "BUST_PARTIAL"): CXL,
    (CXL, "CORRECT_PARTIAL"): CXL,
    (CXL, "CORRECT_COMPLETE"): CXL,
    (EXP, "PARTIAL_FILL"): EXP,
    (EXP, "FILL"): EXP,
    (EXP, "CANCEL_REJECT_UNACKED"): EXP,
    (EXP, "CANCEL_REJECT_UNFILLED"): EXP,
    (EXP, "CANCEL_REJECT_PARTIAL"): EXP,
    (EXP, "REPLACE_REJECT_UNFILLED"): EXP,
    (EXP, "REPLACE_REJECT_PARTIAL"): EXP,
    (EXP, "BUST_UNFILLED"): EXP,
    (EXP, "BUST_PARTIAL"): EXP,
    (EXP, "CORRECT_PARTIAL"): EXP,
    (EXP, "CORRECT_COMPLETE"): EXP,
    (DFD, "CANCELED"): CXL,
    (DFD, "EXPIRE"): EXP,
    (DFD, "PARTIAL_FILL"): DFD,
    (DFD, "FILL"): DFD,
    (DFD, "CANCEL_REJECT_UNACKED"): DFD,
    (DFD, "CANCEL_REJECT_UNFILLED"): DFD,
    (DFD, "CANCEL_REJECT_PARTIAL"): DFD,
    (DFD, "REPLACE_REJECT_UNFILLED"): DFD,
    (DFD, "REPLACE_REJECT_PARTIAL"): DFD,
    (DFD, "BUST_UNFILLED"): DFD,
    (DFD, "BUST_PARTIAL"): DFD,
    (DFD, "CORRECT_PARTIAL"): DFD,
    (DFD, "CORRECT_COMPLETE"): DFD,
    # restatements (FIX ExecType Restated), GT renewal, suspension
    (NEW, "RESTATE_UNFILLED"): NEW,
    (PF, "RESTATE_PARTIAL"): PF,
    (PF, "RESTATE_COMPLETE"): FILLED,
    (PC, "RESTATE_UNFILLED"): PC,
    (PC, "RESTATE_PARTIAL"): PC,
    (PC, "RESTATE_COMPLETE"): PC,
    (PR, "RESTATE_UNFILLED"): PR,
    (PR, "RESTATE_PARTIAL"): PR,
    (PR, "RESTATE_COMPLETE"): PR,
    (DFD, "RESTATE_UNFILLED"): NEW,
    (DFD, "RESTATE_PARTIAL"): PF,
    (DFD, "RESTATE_COMPLETE"): FILLED,
    (DFD, "CANCEL_REQUEST"): DFD,
    (NEW, "SUSPEND"): SUS,
    (PF, "SUSPEND"): SUS,
    (PC, "SUSPEND"): SUS,
    (PR, "SUSPEND"): SUS,
    (SUS, "RESTATE_UNFILLED"): NEW,
    (SUS, "RESTATE_PARTIAL"): PF,
    (SUS, "RESTATE_COMPLETE"): FILLED,
    (SUS, "CANCEL_REQUEST"): SUS,
    (SUS, "CANCELED"): CXL,
    (SUS, "EXPIRE"): EXP,
    (SUS, "DONE_FOR_DAY"): DFD,
    (SUS, "CANCEL_REJECT_UNFILLED"): SUS,
    (SUS, "CANCEL_REJECT_PARTIAL"): SUS,
    (SUS, "REPLACE_REJECT_UNFILLED"): SUS,
    (SUS, "REPLACE_REJECT_PARTIAL"): SUS,
    (SUS, "PARTIAL_FILL"): SUS,
    (SUS, "FILL"): SUS,
    (SUS, "BUST_UNFILLED"): SUS,
    (SUS, "BUST_PARTIAL"): SUS,
    (SUS, "CORRECT_PARTIAL"): SUS,
    (SUS, "CORRECT_COMPLETE"): SUS,
    (REJ, "CANCEL_REJECT_UNACKED"): REJ,
    (REJ, "PARTIAL_FILL"): REJ,  # a venue filling what it rejected: the money is real
    (REJ, "FILL"): REJ,
    (REJ, "BUST_UNFILLED"): REJ,
    (REJ, "BUST_PARTIAL"): REJ,
    (REJ, "CORRECT_PARTIAL"): REJ,
    (REJ, "CORRECT_COMPLETE"): REJ,
    # request chains (FIX App. D group D): Pending Cancel ranks above Pending Replace
    (PR, "CANCEL_REQUEST"): PC,
    (PR, "REPLACE_REQUEST"): PR,
    (PR, "CHAIN_REPLACE"): PR,
    (PC, "CHAIN_CANCEL"): PC,
    (PC, "CHAIN_REPLACE"): PR,
    (DFD, "CHAIN_CANCEL"): PC,  # renewed / resumed while requests are out
    (DFD, "CHAIN_REPLACE"): PR,
    (SUS, "CHAIN_CANCEL"): PC,
    (SUS, "CHAIN_REPLACE"): PR,
}

ALL_PAIRS = [(s, t) for s in OrderStatus for t in Trigger]


def test_table_is_exactly_the_expected_table() -> None:
    actual = {(s.value, t.value): n.value for (s, t), n in TRANSITIONS.items()}
    assert actual == EXPECTED


@pytest.mark.parametrize(("status", "trigger"), ALL_PAIRS, ids=[f"{s.value}-{t.value}" for s, t in ALL_PAIRS])
def test_every_pair_maps_or_raises(status: OrderStatus, trigger: Trigger) -> None:
    expected = EXPECTED.get((status.value, trigger.value))
    if expected is not None:
        assert next_status(status, trigger) is OrderStatus(expected)
    else:
        with pytest.raises(InvalidTransition) as info:
            next_status(status, trigger)
        assert status.value in str(info.value) and trigger.value in str(info.value)
        assert (info.value.status, info.value.trigger) == (status, trigger)


def test_replaced_is_never_a_resting_state() -> None:
    assert all(s is not OrderStatus.REPLACED and n is not OrderStatus.REPLACED for (s, _), n in TRANSITIONS.items())


def test_rejected_only_books_fills_and_terminal_states_never_go_live_except_by_bust() -> None:
    assert {n for (s, _), n in TRANSITIONS.items() if s is OrderStatus.REJECTED} == {OrderStatus.REJECTED}
    assert {t.value.split("_")[0] for (s, t) in TRANSITIONS if s is OrderStatus.REJECTED} <= {
        "PARTIAL", "FILL", "BUST", "CORRECT", "CANCEL"}
    for (status, trigger), nxt in TRANSITIONS.items():
        if status not in LIVE_STATUSES and nxt in LIVE_STATUSES:
            assert status in (OrderStatus.FILLED, OrderStatus.DONE_FOR_DAY) and trigger.value.startswith(("BUST", "CORRECT", "REPLACE_REQUEST", "RESTATE", "CHAIN")), (
                status, trigger)


# ------------------------------------------------------------------------ ids


def test_ids_are_deterministic_and_match_the_identifier_pattern() -> None:
    oid = ids.order_id("ACC-001", "cl-1")
    assert oid == ids.order_id("ACC-001", "cl-1")
    assert oid != ids.order_id("ACC-001", "cl-2") and oid != ids.order_id("ACC-002", "cl-1")
    assert ids.order_id("a/b", "c") != ids.order_id("a", "b/c")
    assert re.fullmatch(r"O[0-9a-f]{20}", oid)
    assert ids.journal_event_id(oid, 7) == ids.request_id(oid, 7) == ids.fill_id(oid, 7) == f"{oid}.7"
    assert ids.venue_request_event_id(f"{oid}.2") == f"{oid}.2.req"
    cid = ids.command_id("ACC-001", "cl-1", "new")
    assert cid == ids.command_id("ACC-001", "cl-1", "new") != ids.command_id("ACC-001", "cl-1", "cancel")
    rec = ids.record_id(oid, "some-event", "anomaly")
    assert rec.startswith(f"{oid}.0.") and rec != ids.record_id(oid, "some-event", "denied")
    long = ids.record_id("X" * 60, "e", "anomaly")
    for value in (oid, ids.journal_event_id(oid, 2**63 - 1), cid, rec, long, ids.view_event_id(oid, 12)):
        assert IDENTIFIER.match(value) and len(value) <= 64, value


# ------------------------------------------------------------------ lifecycle


def test_new_order_is_accepted_routed_and_sent() -> None:
    h = OrderHarness()
    events = h.new(venue="XLON")
    accepted, routed, request = events
    assert isinstance(accepted, OrderAccepted) and accepted.seq == 1
    assert accepted.order_id == ids.order_id(ACCOUNT, "cl-1") and accepted.command_id == new_order().event_id
    assert isinstance(routed, OrderRouted) and routed.seq == 2 and routed.venue == "XLON"
    assert routed.request_id == ids.request_id(accepted.order_id, 2)
    assert isinstance(request, VenueRequest) and request.action is VenueAction.NEW
    assert request.event_id == f"{routed.request_id}.req" and request.request_id == routed.request_id
    assert request.orig_request_id is None and request.venue == "XLON" and request.quantity == D(100)
    assert h.order.status is OrderStatus.PENDING_NEW and h.order.request_id == routed.request_id
    assert all(e.ts_event == e.ts_init == h.now for e in events)


def test_default_venue_when_the_command_names_none() -> None:
    h = OrderHarness(venue="XNYS")
    h.new()
    assert h.order.venue == "XNYS"


def test_ack_partial_fill_fill() -> None:
    h = OrderHarness()
    h.working()
    events = h.fill(40, "10.00")
    filled, fill = events
    assert isinstance(filled, OrderFilled) and isinstance(fill, Fill)
    assert (filled.cum_qty, filled.leaves_qty, filled.avg_px) == (D(40), D(60), D(10))
    assert fill.kind is FillKind.FILL and fill.fill_id == filled.fill_id == filled.event_id == fill.event_id
    assert (fill.quantity, fill.price, fill.ref_fill_id) == (D(40), D("10.00"), None)
    assert h.order.status is OrderStatus.PARTIALLY_FILLED
    h.fill(60, "10.50")
    assert h.order.status is OrderStatus.FILLED
    assert (h.order.cum_qty, h.order.leaves_qty, h.order.avg_px) == (D(100), D(0), D("10.3"))
    row = view(h.order)
    assert isinstance(row, OrderView) and row.status is OrderStatus.FILLED and row.seq == h.order.seq == 5
    assert row.cum_qty == D(100) and row.avg_px == D("10.3") and row.venue == VENUE


def test_fill_before_ack_is_accepted() -> None:
    h = OrderHarness()
    h.new()
    h.fill(30)
    assert h.order.status is OrderStatus.PARTIALLY_FILLED


def test_venue_reject() -> None:
    h = OrderHarness()
    h.new()
    (event,) = h.venue_says(ExecType.REJECTED, reason="unknown symbol")
    assert isinstance(event, OrderRejected)
    assert h.order.status is OrderStatus.REJECTED and h.order.leaves_qty == 0
    assert view(h.order).reason == "unknown symbol"


def test_avg_px_is_exact_then_half_even_to_8_places() -> None:
    h = OrderHarness()
    h.working(quantity=D(3))
    h.fill(1, "1")
    h.fill(2, "2")
    assert h.order.avg_px == D("1.66666667")
    h = OrderHarness()
    h.working(quantity=D(4))
    h.fill(1, "0.00000001")
    h.fill(1, "0.00000002")
    assert h.order.avg_px == D("0.00000002")  # 0.000000015 -> even
    h.fill(1, "0.00000002")
    h.fill(1, "0.00000003")
    assert h.order.avg_px == D("0.00000002")  # exactly 0.00000002
    h = OrderHarness()
    h.working(quantity=D(2))
    h.fill(1, "0.00000002")
    h.fill(1, "0.00000003")
    assert h.order.avg_px == D("0.00000002")  # 0.000000025 -> even


def test_large_quantities_stay_exact() -> None:
    big = D("12345678901234567890.12345678")
    h = OrderHarness()
    h.working(quantity=big * 2)
    h.fill(big, "99999999.99999999")
    h.fill(big, "0.00000001")
    assert h.order.cum_qty == big * 2 and h.order.status is OrderStatus.FILLED
    assert h.order.avg_px == D("50000000")


# ------------------------------------------------------------------- cancels


def test_cancel_then_canceled() -> None:
    h = OrderHarness()
    h.working()
    h.fill(30)
    pending, request = h.cancel("cl-1-c")
    assert isinstance(pending, OrderPendingCancel) and pending.client_order_id == "cl-1-c"
    assert request.action is VenueAction.CANCEL and request.request_id == pending.request_id
    assert request.orig_request_id == h.order.request_id != request.request_id
    assert h.order.status is OrderStatus.PENDING_CANCEL and h.order.pending.kind is VenueAction.CANCEL
    (canceled,) = h.venue_says(ExecType.CANCELED)
    assert isinstance(canceled, OrderCanceled) and canceled.unsolicited is False
    assert h.order.status is OrderStatus.CANCELED and h.order.pending is None
    assert (h.order.cum_qty, h.order.leaves_qty) == (D(30), D(0))


def test_fill_while_pending_cancel_stays_pending() -> None:
    h = OrderHarness()
    h.working()
    h.cancel("c")
    h.fill(25)
    assert h.order.status is OrderStatus.PENDING_CANCEL
    assert (h.order.cum_qty, h.order.leaves_qty) == (D(25), D(75))
    h.venue_says(ExecType.CANCELED)
    assert h.order.status is OrderStatus.CANCELED and h.order.cum_qty == D(25)


def test_fill_completing_while_pending_cancel_stays_pending_cancel_until_the_reject() -> None:
    """FIX OrdStatus precedence: Pending Cancel ranks above Filled (Vol. 4 App. D B.1.c)."""
    h = OrderHarness()
    h.working()
    h.fill(40)
    h.cancel("c")
    h.fill(60)
    assert h.order.status is OrderStatus.PENDING_CANCEL and h.order.pending is not None
    assert (h.order.cum_qty, h.order.leaves_qty) == (D(100), D(0))
    (rejected,) = h.venue_says(ExecType.CANCEL_REJECTED, reason="too late to cancel")
    assert isinstance(rejected, OrderCancelRejected) and rejected.seq > 0
    assert rejected.response_to is CancelRejectResponseTo.CANCEL and rejected.client_order_id == "c"
    assert h.order.status is OrderStatus.FILLED and h.order.pending is None


@pytest.mark.parametrize(("filled", "back_to"), [(0, OrderStatus.NEW), (10, OrderStatus.PARTIALLY_FILLED)])
def test_cancel_reject_returns_to_the_prior_state(filled: int, back_to: OrderStatus) -> None:
    h = OrderHarness()
    h.working()
    if filled:
        h.fill(filled)
    h.cancel("c")
    h.venue_says(ExecType.CANCEL_REJECTED)
    assert h.order.status is back_to and h.order.pending is None
    assert h.order.cum_qty + h.order.leaves_qty == h.order.quantity


def test_cancel_reject_after_fills_while_pending_goes_to_partially_filled() -> None:
    h = OrderHarness()
    h.working()
    h.cancel("c")
    h.fill(10)
    h.venue_says(ExecType.CANCEL_REJECTED)
    assert h.order.status is OrderStatus.PARTIALLY_FILLED


def test_unsolicited_cancel() -> None:
    h = OrderHarness()
    h.working()
    (canceled,) = h.venue_says(ExecType.CANCELED, reason="venue halt")
    assert canceled.unsolicited is True
    assert h.order.status is OrderStatus.CANCELED and h.order.reason == "venue halt"


def test_unsolicited_cancel_while_replace_pending_then_late_replace_reject() -> None:
    h = OrderHarness()
    h.working()
    h.amend("r", quantity=D(150))
    (canceled,) = h.venue_says(ExecType.CANCELED)
    assert canceled.unsolicited is True and h.order.status is OrderStatus.CANCELED
    (rejected,) = h.venue_says(ExecType.CANCEL_REJECTED)
    assert rejected.response_to is CancelRejectResponseTo.REPLACE
    assert h.order.status is OrderStatus.CANCELED and h.order.pending is None


def test_expired_while_cancel_pending_then_too_late_reject() -> None:
    h = OrderHarness()
    h.working()
    h.cancel("c")
    h.venue_says(ExecType.EXPIRED)
    assert h.order.status is OrderStatus.EXPIRED
    h.venue_says(ExecType.CANCEL_REJECTED)
    assert h.order.status is OrderStatus.EXPIRED and h.order.pending is None


# ------------------------------------------------------------------ replaces


@pytest.mark.parametrize(
    ("new_qty", "status", "leaves"),
    [
        (D(150), OrderStatus.PARTIALLY_FILLED, D(110)),  # above filled
        (D(40), OrderStatus.FILLED, D(0)),  # equal to filled
        (D(30), OrderStatus.FILLED, D(0)),  # below filled: done, quantity set to cum (FIX App. D C.3.b/C.3.c)
    ],
)
def test_replace_quantity_relative_to_filled(new_qty: D, status: OrderStatus, leaves: D) -> None:
    h = OrderHarness()
    h.working()
    h.fill(40)
    old_request = h.order.request_id
    pending, request = h.amend("cl-1-r", quantity=new_qty)
    assert isinstance(pending, OrderPendingReplace) and pending.quantity == new_qty
    assert request.action is VenueAction.REPLACE and request.orig_request_id == old_request
    assert request.quantity == new_qty and request.limit_price == D("187.25")
    assert h.order.status is OrderStatus.PENDING_REPLACE
    (replaced,) = h.venue_says(ExecType.REPLACED)
    assert isinstance(replaced, OrderReplaced) and replaced.client_order_id == "cl-1-r"
    assert replaced.request_id == request.request_id == h.order.request_id
    assert h.order.status is status and h.order.quantity == max(new_qty, D(40))
    assert (h.order.cum_qty, h.order.leaves_qty) == (D(40), leaves)
    assert h.order.pending is None and h.order.client_order_id == "cl-1"


def test_replace_price_only_on_unfilled_order() -> None:
    h = OrderHarness()
    h.working()
    h.amend("r", limit_price=D("186"))
    h.venue_says(ExecType.REPLACED)
    assert h.order.status is OrderStatus.NEW and h.order.limit_price == D("186") and h.order.quantity == D(100)


def test_fill_while_replace_pending_uses_old_terms() -> None:
    h = OrderHarness()
    h.working()
    h.amend("r", quantity=D(200))
    h.fill(50)
    assert h.order.status is OrderStatus.PENDING_REPLACE and h.order.leaves_qty == D(50)
    (anomaly,) = h.fill(60)  # over the old quantity: the replace is not confirmed yet
    assert isinstance(anomaly, OrderAnomaly) and anomaly.reason_code == "OVERFILL"
    h.venue_says(ExecType.REPLACED)
    assert h.order.status is OrderStatus.PARTIALLY_FILLED and h.order.leaves_qty == D(150)


def test_replace_reject_returns_to_prior_state() -> None:
    h = OrderHarness()
    h.working()
    h.fill(10)
    h.amend("r", limit_price=D("188"))
    (rejected,) = h.venue_says(ExecType.CANCEL_REJECTED)
    assert rejected.response_to is CancelRejectResponseTo.REPLACE
    assert h.order.status is OrderStatus.PARTIALLY_FILLED and h.order.limit_price == D("187.25")


def test_fill_completing_while_replace_pending_then_late_reject() -> None:
    h = OrderHarness()
    h.working()
    h.amend("r", limit_price=D("188"))
    h.fill(100)
    assert h.order.status is OrderStatus.PENDING_REPLACE and h.order.leaves_qty == 0
    h.venue_says(ExecType.CANCEL_REJECTED)
    assert h.order.status is OrderStatus.FILLED and h.order.pending is None


def test_replace_up_accepted_after_the_old_quantity_filled_reopens_the_order() -> None:
    """FIX App. D C.1.b: the fill under the old terms keeps PENDING_REPLACE; the replace to 200 then applies."""
    h = OrderHarness()
    h.working()
    h.amend("r", quantity=D(200))
    h.fill(100)
    assert h.order.status is OrderStatus.PENDING_REPLACE
    (replaced,) = h.venue_says(ExecType.REPLACED)
    assert isinstance(replaced, OrderReplaced)
    assert (h.order.status, h.order.quantity, h.order.leaves_qty) == (OrderStatus.PARTIALLY_FILLED, D(200), D(100))


# ------------------------------------------------------- engine refusals


def test_duplicate_client_order_id_is_denied_and_not_applied() -> None:
    h = OrderHarness()
    h.working()
    before = h.order
    (denied,) = h.new("cl-1", quantity=D(5))
    assert isinstance(denied, OrderDenied) and denied.seq == 0
    assert denied.order_id == before.order_id and denied.reason_code == "DUPLICATE_CLIENT_ORDER_ID"
    assert h.order == before
    assert fold(h.journal)[before.order_id] == before


def test_risk_denial_creates_a_rejected_order() -> None:
    h = OrderHarness()
    accepted, denied = h.new(denial=("MAX_ORDER_QTY", "quantity 100 over limit 50"))
    assert isinstance(accepted, OrderAccepted) and isinstance(denied, OrderDenied)
    assert denied.seq == 2 and denied.reason_code == "MAX_ORDER_QTY" and denied.command == "NewOrder"
    assert h.order.status is OrderStatus.REJECTED and h.order.leaves_qty == 0 and h.order.venue is None
    row = view(h.order)
    assert row.status is OrderStatus.REJECTED and row.reason == "quantity 100 over limit 50"
    (dup,) = h.new()  # the client order id is consumed
    assert dup.reason_code == "DUPLICATE_CLIENT_ORDER_ID"


def test_cancel_and_amend_of_unknown_order_are_denied() -> None:
    cmd = cancel("nope", "c")
    (denied,) = decide_cancel(cmd, None, T0)
    assert isinstance(denied, OrderDenied) and denied.seq == 0 and denied.reason_code == "UNKNOWN_ORDER"
    assert denied.order_id == ids.order_id(ACCOUNT, "nope") and denied.command == "CancelOrder"
    h = OrderHarness()
    h.working()
    (denied,) = decide_cancel(cancel("cl-1", "c", account="ACC-999"), h.order, T0)
    assert denied.reason_code == "UNKNOWN_ORDER"  # an order of another account is not found


@pytest.mark.parametrize("action", ["cancel", "amend"])
def test_requests_refused_by_state(action: str) -> None:
    def ask(h: OrderHarness, cid: str):
        return h.cancel(cid) if action == "cancel" else h.amend(cid, quantity=D(77))

    to = CancelRejectResponseTo.CANCEL if action == "cancel" else CancelRejectResponseTo.REPLACE
    h = OrderHarness()
    h.new()
    if action == "amend":  # a cancel may chase an unacknowledged order (FIX App. D B.1.d), a replace may not
        (rej,) = ask(h, "a")
        assert isinstance(rej, OrderCancelRejected) and rej.seq == 0 and rej.reason_code == "ORDER_NOT_ACKNOWLEDGED"
        assert rej.response_to is to
    h.venue_says(ExecType.NEW)
    h.cancel("b")
    seq = h.order.seq
    (rej,) = ask(h, "c")
    assert rej.reason_code == "REQUEST_PENDING" and h.order.seq == seq
    h.venue_says(ExecType.CANCELED)
    (rej,) = ask(h, "d")
    assert rej.reason_code == "ORDER_NOT_LIVE" and rej.seq == 0


def test_amend_refusals() -> None:
    h = OrderHarness()
    h.working()
    (rej,) = h.amend("a", quantity=D(100), limit_price=D("187.25"))
    assert rej.reason_code == "NO_CHANGE"
    h2 = OrderHarness()
    h2.working(order_type=OrderType.MARKET)
    (rej,) = h2.amend("a", limit_price=D(1))
    assert rej.reason_code == "INVALID_AMEND"


# ------------------------------------------------------- busts, corrections


def _two_fills() -> OrderHarness:
    h = OrderHarness()
    h.working()
    h.fill(40, "10", exec_id="X1")
    h.fill(60, "20", exec_id="X2")
    assert h.order.status is OrderStatus.FILLED and h.order.avg_px == D(16)
    return h


def test_bust_recomputes_and_reopens_a_filled_order() -> None:
    h = _two_fills()
    first_fill = h.order.fills[0].fill_id
    busted, fill = h.venue_says(ExecType.TRADE_BUST, ref_exec_id="X1")
    assert isinstance(busted, OrderFillBusted) and busted.ref_fill_id == first_fill
    assert (busted.cum_qty, busted.leaves_qty, busted.avg_px) == (D(60), D(40), D(20))
    assert fill.kind is FillKind.BUST and fill.quantity == D(-40) and fill.price == D(10)
    assert fill.ref_fill_id == first_fill and fill.fill_id == busted.fill_id == busted.event_id
    assert h.order.status is OrderStatus.PARTIALLY_FILLED
    h.venue_says(ExecType.TRADE_BUST, ref_exec_id="X2")
    assert h.order.status is OrderStatus.NEW and (h.order.cum_qty, h.order.avg_px) == (D(0), D(0))
    (anomaly,) = h.venue_says(ExecType.TRADE_BUST, ref_exec_id="X2")  # already busted
    assert anomaly.reason_code == "UNKNOWN_FILL"


def test_correction_recomputes_and_bust_may_name_the_original_exec_id() -> None:
    h = _two_fills()
    corrected, fill = h.venue_says(
        ExecType.TRADE_CORRECT, exec_id="X1c", ref_exec_id="X1", last_qty=D(20), last_px=D(13)
    )
    assert isinstance(corrected, OrderFillCorrected)
    assert (corrected.cum_qty, corrected.leaves_qty) == (D(80), D(20))
    assert corrected.avg_px == D("18.25")  # (20*13 + 60*20) / 80
    assert fill.kind is FillKind.CORRECTION and (fill.quantity, fill.price) == (D(20), D(13))
    assert h.order.status is OrderStatus.PARTIALLY_FILLED
    busted, bust_fill = h.venue_says(ExecType.TRADE_BUST, ref_exec_id="X1")  # original exec id
    assert busted.ref_fill_id == corrected.fill_id and bust_fill.quantity == D(-20)
    assert (h.order.cum_qty, h.order.avg_px) == (D(60), D(20))


def test_correction_over_the_quantity_is_an_overfill() -> None:
    h = _two_fills()
    seq = h.order.seq
    (anomaly,) = h.venue_says(ExecType.TRADE_CORRECT, ref_exec_id="X1", last_qty=D(41), last_px=D(10))
    assert anomaly.reason_code == "OVERFILL" and h.order.seq == seq


def test_bust_on_canceled_order_keeps_the_terminal_status() -> None:
    h = OrderHarness()
    h.working()
    h.fill(30, "10", exec_id="X1")
    h.venue_says(ExecType.CANCELED)
    h.venue_says(ExecType.TRADE_BUST, ref_exec_id="X1")
    assert h.order.status is OrderStatus.CANCELED
    assert (h.order.cum_qty, h.order.leaves_qty, h.order.avg_px) == (D(0), D(0), D(0))


def test_bust_reopening_a_filled_order_drops_the_stale_request() -> None:
    h = OrderHarness()
    h.working()
    h.fill(40, exec_id="X1")
    h.cancel("c")
    h.fill(60, exec_id="X2")
    h.venue_says(ExecType.CANCEL_REJECTED)
    assert h.order.status is OrderStatus.FILLED and h.order.pending is None
    h.venue_says(ExecType.TRADE_BUST, ref_exec_id="X2")
    assert h.order.status is OrderStatus.PARTIALLY_FILLED and h.order.pending is None
    (anomaly,) = h.venue_says(ExecType.CANCEL_REJECTED)
    assert anomaly.reason_code == "NO_PENDING_REQUEST"
    h.cancel("c2")  # the order can be canceled again
    assert h.order.status is OrderStatus.PENDING_CANCEL


# -------------------------------------------------------------- IOC / FOK


def test_ioc_partial_fill_then_expired() -> None:
    h = OrderHarness()
    h.new(time_in_force=TimeInForce.IOC)
    h.fill(30)
    (expired,) = h.venue_says(ExecType.EXPIRED)
    assert isinstance(expired, OrderExpired)
    assert h.order.status is OrderStatus.EXPIRED
    assert (h.order.cum_qty, h.order.leaves_qty, h.order.avg_px) == (D(30), D(0), D(10))


def test_ioc_partial_fill_then_rest_canceled_after_ack() -> None:
    h = OrderHarness()
    h.working(time_in_force=TimeInForce.IOC)
    h.fill(30)
    (canceled,) = h.venue_says(ExecType.CANCELED)
    assert canceled.unsolicited is True and h.order.status is OrderStatus.CANCELED


def test_fok_with_nothing_matched_expires_without_ack() -> None:
    h = OrderHarness()
    h.new(time_in_force=TimeInForce.FOK)
    h.venue_says(ExecType.EXPIRED)
    assert h.order.status is OrderStatus.EXPIRED and h.order.cum_qty == 0


# ------------------------------------------------------------ bad reports


def test_duplicate_exec_id_is_ignored() -> None:
    h = OrderHarness()
    h.working()
    rep = h.report(ExecType.PARTIAL_FILL, last_qty=D(10), last_px=D(10))
    assert h.send(rep)
    before = h.order
    assert h.send(rep) == []
    assert h.order == before and h.order.cum_qty == D(10)


def test_redelivered_report_with_other_timestamps_and_venue_numbers_is_still_a_duplicate() -> None:
    h = OrderHarness()
    h.working()
    rep = h.report(ExecType.PARTIAL_FILL, last_qty=D(10), last_px=D(10))
    h.send(rep)
    before = h.order
    again = rep.model_copy(update={"event_id": "XNAS-again", "ts_event": h.tick(), "cum_qty": D(99),
                                   "last_qty": D("10.000"), "reason": "resent"})
    assert h.send(again) == []
    assert h.order == before


@pytest.mark.parametrize(
    "change, named",
    [
        ({"exec_type": ExecType.FILL, "last_qty": D(10), "last_px": D(10)}, "OrderAcknowledged"),  # ack id, now a fill
        ({"exec_type": ExecType.CANCELED}, "OrderAcknowledged"),
    ],
)
def test_ack_exec_id_reused_by_another_report_is_a_conflicting_exec_id(change, named) -> None:
    h = OrderHarness()
    h.new()
    ack = h.report(ExecType.NEW, "A1")
    h.send(ack)
    before = h.order
    forged = ack.model_copy(update={"event_id": "XNAS-forged", **change})
    (anomaly,) = h.send(forged)
    assert isinstance(anomaly, OrderAnomaly) and anomaly.seq == 0
    assert anomaly.reason_code == "CONFLICTING_EXEC_ID" and anomaly.exec_id == "A1"
    assert named in anomaly.reason and "A1" in anomaly.reason
    assert h.order == before and h.order.cum_qty == 0


@pytest.mark.parametrize(
    "field, value",
    [("last_qty", D(11)), ("last_px", D("10.01")), ("commission", D("0.5"))],
)
def test_fill_exec_id_reused_with_other_numbers_is_a_conflicting_exec_id(field, value) -> None:
    h = OrderHarness()
    h.working()
    rep = h.report(ExecType.PARTIAL_FILL, "F1", last_qty=D(10), last_px=D(10))
    h.send(rep)
    before = h.order
    (anomaly,) = h.send(rep.model_copy(update={"event_id": "XNAS-F1-bis", field: value}))
    assert anomaly.reason_code == "CONFLICTING_EXEC_ID" and field in anomaly.reason
    assert h.order == before
    assert h.send(rep.model_copy(update={"event_id": "XNAS-F1-bis", field: value})) == [anomaly]  # same record id


def test_partial_fill_redelivered_as_fill_is_the_same_trade() -> None:
    h = OrderHarness()
    h.working()
    rep = h.report(ExecType.PARTIAL_FILL, "F1", last_qty=D(10), last_px=D(10))
    h.send(rep)
    assert h.send(rep.model_copy(update={"exec_type": ExecType.FILL})) == []


def test_bust_exec_id_reused_naming_another_fill_is_a_conflicting_exec_id() -> None:
    h = OrderHarness()
    h.working()
    h.fill(40, "10", exec_id="X1")
    h.fill(30, "11", exec_id="X2")
    bust = h.report(ExecType.TRADE_BUST, "B1", ref_exec_id="X1")
    h.send(bust)
    before = h.order
    assert h.send(bust) == []  # the same bust again
    (anomaly,) = h.send(bust.model_copy(update={"ref_exec_id": "X2"}))
    assert anomaly.reason_code == "CONFLICTING_EXEC_ID" and "X2" in anomaly.reason
    assert h.order == before and h.order.cum_qty == D(30)


def test_bust_redelivered_naming_the_original_exec_id_of_a_corrected_fill_is_a_duplicate() -> None:
    h = OrderHarness()
    h.working()
    h.fill(40, "10", exec_id="X1")
    h.venue_says(ExecType.TRADE_CORRECT, exec_id="X1c", ref_exec_id="X1", last_qty=D(20), last_px=D(13))
    h.venue_says(ExecType.TRADE_BUST, exec_id="B1", ref_exec_id="X1c")
    before = h.order
    assert h.send(h.report(ExecType.TRADE_BUST, "B1", ref_exec_id="X1")) == []
    assert h.order == before


def test_correction_exec_id_reused_with_another_price_is_a_conflicting_exec_id() -> None:
    h = OrderHarness()
    h.working()
    h.fill(40, "10", exec_id="X1")
    correct = h.report(ExecType.TRADE_CORRECT, "C1", ref_exec_id="X1", last_qty=D(20), last_px=D(13))
    h.send(correct)
    assert h.send(correct) == []
    (anomaly,) = h.send(correct.model_copy(update={"last_px": D(14)}))
    assert anomaly.reason_code == "CONFLICTING_EXEC_ID" and "last_px" in anomaly.reason


def test_exec_records_survive_a_round_trip_through_the_store_format() -> None:
    from pydantic import TypeAdapter

    h = OrderHarness()
    h.working()
    h.fill(40, "10", exec_id="X1")
    h.venue_says(ExecType.TRADE_CORRECT, exec_id="X1c", ref_exec_id="X1", last_qty=D(20), last_px=D(13))
    adapter = TypeAdapter(type(h.order))
    loaded = adapter.validate_json(adapter.dump_json(h.order))
    assert loaded == h.order and loaded.execs[-1].refs == ("X1",)


def test_an_order_stored_without_exec_records_still_ignores_its_exec_ids() -> None:
    from dataclasses import replace

    h = OrderHarness()
    h.working()
    rep = h.report(ExecType.PARTIAL_FILL, "F1", last_qty=D(10), last_px=D(10))
    h.send(rep)
    old = replace(h.order, execs=())
    assert decide_report(rep.model_copy(update={"last_qty": D(5)}), old, h.now) == []


def test_unknown_order_is_an_anomaly() -> None:
    rep = report(None, ExecType.FILL, "E9", last_qty=D(1), last_px=D(1), order_id="O-nobody")
    (anomaly,) = decide_report(rep, None, T0)
    assert isinstance(anomaly, OrderAnomaly) and anomaly.seq == 0 and anomaly.reason_code == "UNKNOWN_ORDER"
    assert anomaly.order_id == "O-nobody" and anomaly.exec_id == "E9"
    assert decide_report(rep, None, T0) == [anomaly]  # redelivery: same record, same id


def test_overfill_is_an_anomaly_and_not_applied() -> None:
    h = OrderHarness()
    h.working()
    h.fill(90)
    before = h.order
    events = h.fill(11)
    assert [type(e) for e in events] == [OrderAnomaly] and events[0].reason_code == "OVERFILL"
    assert h.order == before
    assert h.fill(10)[0].cum_qty == D(100)  # a later valid fill still applies


def test_invalid_transitions_are_anomalies() -> None:
    h = OrderHarness()
    h.working()
    (anomaly,) = h.venue_says(ExecType.NEW)  # second ack
    assert anomaly.reason_code == "INVALID_TRANSITION"
    assert "NEW" in anomaly.reason and "ACK" in anomaly.reason
    h.venue_says(ExecType.CANCELED)
    (anomaly,) = h.venue_says(ExecType.NEW)
    assert anomaly.reason_code == "INVALID_TRANSITION" and "CANCELED" in anomaly.reason
    (anomaly,) = h.venue_says(ExecType.REJECTED)
    assert anomaly.reason_code == "INVALID_TRANSITION"


def test_other_bad_reports() -> None:
    h = OrderHarness()
    h.working()
    (a,) = h.venue_says(ExecType.PARTIAL_FILL, last_qty=D(0), last_px=D(1))
    assert a.reason_code == "INVALID_FILL"
    (a,) = h.venue_says(ExecType.PARTIAL_FILL, last_qty=D(1), last_px=D(-1))
    assert a.reason_code == "INVALID_FILL"
    (a,) = h.venue_says(ExecType.CANCEL_REJECTED)
    assert a.reason_code == "NO_PENDING_REQUEST"
    (a,) = h.venue_says(ExecType.REPLACED)
    assert a.reason_code == "NO_PENDING_REQUEST"
    (a,) = h.venue_says(ExecType.TRADE_BUST, ref_exec_id=None)
    assert a.reason_code == "UNKNOWN_FILL"
    (a,) = h.venue_says(ExecType.NEW, account="ACC-999")
    assert a.reason_code == "ACCOUNT_MISMATCH"
    assert h.order.status is OrderStatus.NEW and h.order.seq == 3
    assert all(e.seq == 0 for e in h.journal if isinstance(e, OrderAnomaly))


def test_venue_numbers_are_not_trusted_but_a_mismatch_is_noted() -> None:
    h = OrderHarness()
    h.working()
    filled, fill, note = h.venue_says(
        ExecType.PARTIAL_FILL, last_qty=D(10), last_px=D(5), cum_qty=D(99), leaves_qty=D(1)
    )
    assert isinstance(filled, OrderFilled) and (filled.cum_qty, filled.leaves_qty) == (D(10), D(90))
    assert isinstance(note, OrderAnomaly) and note.seq == 0 and note.reason_code == "VENUE_MISMATCH"
    assert h.order.cum_qty == D(10)


def test_exec_type_fill_with_leaves_left_is_a_partial_fill() -> None:
    h = OrderHarness()
    h.working()
    h.venue_says(ExecType.FILL, last_qty=D(10), last_px=D(5))
    assert h.order.status is OrderStatus.PARTIALLY_FILLED


# ---------------------------------------------------------------- the fold


def test_evolve_enforces_the_sequence() -> None:
    h = OrderHarness()
    h.working()
    accepted, routed, ack = h.journal
    with pytest.raises(SequenceError):
        evolve(None, routed)
    with pytest.raises(SequenceError):
        evolve(h.order, ack)  # already applied
    with pytest.raises(SequenceError):
        evolve(evolve(None, accepted), ack)  # gap
    denied = h.new()[0]
    with pytest.raises(SequenceError):
        evolve(h.order, denied)  # seq 0: never applied
    with pytest.raises(InvalidEvent):
        evolve(None, routed.model_copy(update={"seq": 1}))
    other = OrderHarness()
    other.working("cl-2")
    with pytest.raises(InvalidEvent):
        evolve(h.order, other.journal[-1].model_copy(update={"seq": h.order.seq + 1}))


def test_evolve_raises_invalid_transition_for_an_impossible_journal() -> None:
    h = OrderHarness()
    h.working()
    h.venue_says(ExecType.CANCELED)
    ack = OrderAcknowledged(
        event_id="x", ts_event=T0, ts_init=T0, order_id=h.order.order_id, account=ACCOUNT,
        seq=h.order.seq + 1, venue=VENUE, exec_id="EZ",
    )  # fmt: skip
    with pytest.raises(InvalidTransition, match="CANCELED.*ACK"):
        evolve(h.order, ack)


def test_fold_replays_skipping_applied_and_unsequenced_events() -> None:
    h = OrderHarness()
    h.working()
    h.fill(40, exec_id="X1")
    h.cancel("c")
    h.fill(10)
    h.new()  # duplicate: seq-0 denial
    h.venue_says(ExecType.CANCEL_REJECTED)
    h.venue_says(ExecType.TRADE_BUST, ref_exec_id="X1")
    h.venue_says(ExecType.NEW)  # anomaly
    state = fold(h.outputs)
    assert state == {h.order.order_id: h.order}
    assert fold(h.journal + h.journal) == state  # redelivered journal
    half = len(h.journal) // 2
    assert fold(h.journal[half:], fold(h.journal[:half])) == state
    with pytest.raises(SequenceError):
        fold(h.journal[:2] + h.journal[3:])


def test_view_of_a_live_order() -> None:
    h = OrderHarness()
    h.working()
    h.fill("12.5", "101.25")
    row = view(h.order)
    assert row.event_id == ids.view_event_id(h.order.order_id, h.order.seq)
    assert (row.quantity, row.cum_qty, row.leaves_qty, row.avg_px) == (D(100), D("12.5"), D("87.5"), D("101.25"))
    assert row.status is OrderStatus.PARTIALLY_FILLED and row.ts_event == h.order.ts_last


def test_decisions_are_deterministic() -> None:
    def run() -> list:
        h = OrderHarness()
        h.working()
        h.fill(40, exec_id="X1")
        h.amend("r", quantity=D(50))
        h.venue_says(ExecType.REPLACED)
        h.venue_says(ExecType.TRADE_CORRECT, ref_exec_id="X1", last_qty=D(45), last_px=D(9))
        return h.outputs

    assert run() == run()
    outputs = run()
    assert len({e.event_id for e in outputs if not isinstance(e, (Fill, VenueRequest))}) == len(
        [e for e in outputs if not isinstance(e, (Fill, VenueRequest))]
    )


def test_duplicate_denial_has_a_deterministic_record_id() -> None:
    h = OrderHarness()
    h.working()
    (denied,) = decide_new(new_order("cl-1"), h.order, VENUE, T0)
    assert denied.event_id == ids.record_id(h.order.order_id, new_order("cl-1").event_id, "denied")


def test_done_for_day_then_canceled_overnight() -> None:
    h = OrderHarness()
    h.working()
    (done,) = h.venue_says(ExecType.DONE_FOR_DAY)
    assert isinstance(done, OrderDoneForDay)
    assert h.order.status is OrderStatus.DONE_FOR_DAY
    (canceled,) = h.venue_says(ExecType.CANCELED)
    assert isinstance(canceled, OrderCanceled) and canceled.unsolicited
    assert h.order.status is OrderStatus.CANCELED


def test_done_for_day_is_not_live_but_a_cancel_still_goes_to_the_venue_that_holds_it() -> None:
    h = OrderHarness()
    h.working()
    h.fill(40)
    h.venue_says(ExecType.DONE_FOR_DAY)
    assert h.order.status not in LIVE_STATUSES and not is_live(h.order) and h.order.leaves_qty == 0
    assert not is_live(view(h.order))  # the one definition reads states and views alike
    pending, request = h.cancel("kill")
    assert pending.seq > 0 and request.action is VenueAction.CANCEL
    assert h.order.status is OrderStatus.DONE_FOR_DAY and h.order.pending is not None
    h.venue_says(ExecType.CANCELED)
    assert h.order.status is OrderStatus.CANCELED and h.order.pending is None

"""The FIX adapter's persistent memory without a session: the ClOrdID map, delivered exec ids,
open orders and fills, all surviving a reopen."""

from __future__ import annotations

from decimal import Decimal as D

from connectors.fix.mapping import OrderRef
from connectors.fix.store import FixOrderStore
from oms.events import ExecType, OrderStatus, VenueAction
from tests.builders import execution_report, venue_request


def test_clordid_map_survives_a_reopen_and_refuses_a_second_send(tmp_path):
    store = FixOrderStore(tmp_path / "orders.sqlite")
    ref = OrderRef.of(venue_request(request_id="c-1", action=VenueAction.REPLACE, orig_request_id="c-0"))

    first, again = store.put_ref(ref), store.put_ref(ref)
    store.close()
    reopened = FixOrderStore(tmp_path / "orders.sqlite")

    assert (first, again) == (True, False)
    assert reopened.ref("c-1") == ref
    assert reopened.ref("c-2") is None


def test_recorded_reports_answer_delivered_open_orders_and_fills_after_a_reopen(tmp_path):
    store = FixOrderStore(tmp_path / "orders.sqlite")
    ack = execution_report(exec_id="e-1", exec_type=ExecType.NEW, order_status=OrderStatus.NEW, last_qty=D(0),
                           last_px=D(0), cum_qty=D(0), leaves_qty=D(100), avg_px=D(0), ts_event=10)
    partial = execution_report(exec_id="e-2", ts_event=20)
    other = execution_report(exec_id="e-3", order_id="ORD-2", exec_type=ExecType.NEW, order_status=OrderStatus.NEW,
                             last_qty=D(0), last_px=D(0), cum_qty=D(0), leaves_qty=D(5), avg_px=D(0), ts_event=30)
    done = other.model_copy(update={"exec_id": "e-4", "exec_type": ExecType.CANCELED,
                                    "order_status": OrderStatus.CANCELED, "leaves_qty": D(0), "ts_event": 40})
    reject = partial.model_copy(update={"exec_id": "e-5", "exec_type": ExecType.CANCEL_REJECTED, "ts_event": 50})

    store.record([ack, partial, other, done, reject, partial])
    store.close()
    reopened = FixOrderStore(tmp_path / "orders.sqlite")

    assert reopened.delivered("e-2") and reopened.delivered("e-5") and not reopened.delivered("e-9")
    assert [r.exec_id for r in reopened.working()] == ["e-2"]
    assert [r.exec_id for r in reopened.fills()] == ["e-2"]
    assert reopened.fills(since_ns=21) == []


def test_refused_messages_are_kept_with_their_reason(tmp_path):
    store = FixOrderStore(tmp_path / "orders.sqlite")

    store.keep_unmapped(5, "35=8\x01150=Q\x01", "150: value 'Q' has no OMS equivalent")

    assert store.unmapped() == [(5, "35=8\x01150=Q\x01", "150: value 'Q' has no OMS equivalent")]


def test_a_forgotten_clordid_can_be_sent_again(tmp_path):
    store = FixOrderStore(tmp_path / "orders.sqlite")
    ref = OrderRef.of(venue_request(request_id="c-1"))

    store.put_ref(ref)
    store.forget_ref("c-1")

    assert store.ref("c-1") is None
    assert store.put_ref(ref) is True


def test_received_reports_wait_until_recorded_and_a_resend_is_refused(tmp_path):
    store = FixOrderStore(tmp_path / "orders.sqlite")
    report = execution_report(exec_id="e-1")

    first, resent = store.receive(report), store.receive(report)
    store.close()
    reopened = FixOrderStore(tmp_path / "orders.sqlite")
    waiting = reopened.waiting()
    reopened.record(waiting)

    assert (first, resent) == (True, False)
    assert waiting == [report]
    assert reopened.waiting() == []
    assert reopened.receive(report) is False

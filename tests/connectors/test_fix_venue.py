"""The FIX adapter against a real counterparty (the QuickFIX/J acceptor, no mocks): logon, a whole
order lifecycle, sequence numbers across a restart, resends delivered once, drops and reconnects,
fills made while disconnected."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path

import pytest

from connectors.fix.adapter import ConnectionChange, ConnectionState, VenueUnavailable
from oms.events import (
    CancelRejectReason,
    ExecType,
    ExecutionReport,
    OrderRejectReason,
    OrderStatus,
    OrderType,
    VenueAction,
)
from tests.builders import venue_request
from tests.connectors.conftest import MARKET_PRICE, REJECTED_SYMBOL, drain

pytestmark = pytest.mark.fix


def reports(items) -> list[ExecutionReport]:
    return [i for i in items if isinstance(i, ExecutionReport)]


def changes(items) -> list[ConnectionState]:
    return [i.state for i in items if isinstance(i, ConnectionChange)]


def new(request_id: str, **overrides):
    return venue_request(**{"venue": "FIXV", "request_id": request_id, "order_id": f"ORD-{request_id}", **overrides})


def has(exec_type: ExecType, count: int = 1):
    return lambda got: sum(r.exec_type is exec_type for r in reports(got)) >= count


def now() -> int:
    return time.time_ns()


def test_logon_is_a_connection_change(make_venue):
    venue = make_venue()

    got = drain(venue, lambda g: ConnectionState.CONNECTED in changes(g))

    assert venue.connected()
    assert changes(got) == [ConnectionState.CONNECTED]


def test_a_whole_lifecycle_new_partial_fill_replace_cancel_and_rejects(make_venue, fix_acceptor):
    venue = make_venue()
    order = new("L1")

    assert venue.submit(order, now()) == []
    ack = reports(drain(venue, has(ExecType.NEW)))[-1]
    fix_acceptor.control("fill L1 40 187.2")
    partial = reports(drain(venue, has(ExecType.PARTIAL_FILL)))[-1]
    venue.amend(new("L2", action=VenueAction.REPLACE, order_id="ORD-L1", orig_request_id="L1",
                    quantity=D(150), limit_price=D("187.5")), now())
    replaced = reports(drain(venue, has(ExecType.REPLACED)))[-1]
    venue.status(new("S1", action=VenueAction.STATUS, order_id="ORD-L1", orig_request_id="L2"), now())
    status = reports(drain(venue, has(ExecType.ORDER_STATUS)))[-1]
    venue.cancel(new("L3", action=VenueAction.CANCEL, order_id="ORD-L1", orig_request_id="L2"), now())
    canceled = reports(drain(venue, has(ExecType.CANCELED)))[-1]
    venue.cancel(new("L4", action=VenueAction.CANCEL, order_id="ORD-L9", orig_request_id="L9"), now())
    cancel_reject = reports(drain(venue, has(ExecType.CANCEL_REJECTED)))[-1]
    venue.submit(new("B1", instrument=REJECTED_SYMBOL), now())
    rejected = reports(drain(venue, has(ExecType.REJECTED)))[-1]

    assert (ack.order_id, ack.request_id, ack.order_status, ack.leaves_qty) == ("ORD-L1", "L1", OrderStatus.NEW, D(100))
    assert (partial.last_qty, partial.last_px, partial.cum_qty, partial.leaves_qty) == (D(40), D("187.2"), D(40), D(60))
    assert partial.order_status is OrderStatus.PARTIALLY_FILLED and partial.account == order.account
    assert (replaced.request_id, replaced.order_qty, replaced.leaves_qty, replaced.limit_price) == (
        "L2", D(150), D(110), D("187.5"))
    assert (status.request_id, status.order_id, status.cum_qty) == ("S1", "ORD-L1", D(40))
    assert (canceled.request_id, canceled.order_status, canceled.cum_qty) == ("L3", OrderStatus.CANCELED, D(40))
    assert cancel_reject.cxl_rej_reason is CancelRejectReason.UNKNOWN_ORDER
    assert (cancel_reject.order_id, cancel_reject.request_id) == ("ORD-L9", "L4")
    assert (rejected.order_id, rejected.ord_rej_reason) == ("ORD-B1", OrderRejectReason.UNKNOWN_SYMBOL)
    assert len({r.exec_id for r in (ack, partial, replaced, status, canceled, cancel_reject, rejected)}) == 7
    assert [f.exec_id for f in venue.fills()] == [partial.exec_id]
    assert venue.open_orders() == []


def test_market_order_fills_at_once_and_mass_status_lists_working_orders(make_venue, fix_acceptor, comp_id):
    venue = make_venue()

    venue.submit(new("M1", order_type=OrderType.MARKET, limit_price=None), now())
    fill = reports(drain(venue, has(ExecType.FILL)))[-1]
    venue.submit(new("W1"), now())
    venue.submit(new("W2", quantity=D(7)), now())
    drain(venue, has(ExecType.NEW, 2))
    assert venue.mass_status(now()) == []
    pending = venue.mass_status_pending()
    answers = drain(venue, lambda got: not venue.mass_status_pending())
    working = sorted(o.order_id for o in venue.open_orders())
    fix_acceptor.control(f"fill-all 100 {comp_id}")
    drain(venue, has(ExecType.FILL, 2))
    venue.mass_status(now())
    nothing_works = drain(venue, lambda got: not venue.mass_status_pending())

    assert (fill.last_qty, fill.last_px, fill.order_status) == (D(100), D(MARKET_PRICE), OrderStatus.FILLED)
    statuses = [r for r in reports(answers) if r.exec_type is ExecType.ORDER_STATUS]
    assert pending
    assert sorted(r.order_id for r in statuses) == ["ORD-W1", "ORD-W2"]
    assert working == ["ORD-W1", "ORD-W2"]
    assert reports(nothing_works) == []
    assert venue.open_orders() == []


def test_sequence_numbers_resume_after_an_adapter_restart(make_venue, tmp_path, comp_id):
    first = make_venue()
    first.submit(new("Q1"), now())
    drain(first, has(ExecType.NEW))
    first.close()

    second = make_venue()
    second.submit(new("Q2"), now())
    ack = reports(drain(second, has(ExecType.NEW)))[-1]

    logons = [int(m.group(1)) for m in re.finditer(
        rf"35=A\x01(?:[^\n]*?\x01)?34=(\d+)\x0149={comp_id}\x01", _messages_log(tmp_path))]
    assert ack.request_id == "Q2"
    assert len(logons) == 2 and logons[0] == 1 and logons[1] > 2


def test_a_withheld_report_is_resent_and_delivered_exactly_once(make_venue, fix_acceptor, comp_id):
    venue = make_venue()
    venue.submit(new("R1"), now())
    drain(venue, has(ExecType.NEW))

    fix_acceptor.control(f"withhold 1 {comp_id}")
    fix_acceptor.control("fill R1 10 50")  # kept at the acceptor with a sequence number, not sent
    fix_acceptor.control("fill R1 20 51")  # sent: the gap makes the initiator ask for a resend
    got = reports(drain(venue, has(ExecType.PARTIAL_FILL, 2)))
    fix_acceptor.control(f"repeat 3 {comp_id}")  # PossResend copies of reports already delivered
    time.sleep(0.5)
    again = reports(venue.poll(now()))

    fills = [r for r in got if r.exec_type is ExecType.PARTIAL_FILL]
    assert sorted(r.last_qty for r in fills) == [D(10), D(20)]
    assert len({r.exec_id for r in fills}) == 2
    assert again == []
    assert venue.duplicates == 3
    assert "43=Y" in _resent(venue)


def test_drop_and_reconnect(make_venue, fix_acceptor, comp_id):
    venue = make_venue()
    drain(venue, lambda g: ConnectionState.CONNECTED in changes(g))

    fix_acceptor.control(f"drop {comp_id}")
    got = drain(venue, lambda g: changes(g)[-2:] == [ConnectionState.DISCONNECTED, ConnectionState.CONNECTED],
                timeout=15)
    venue.submit(new("D1"), now())

    assert changes(got) == [ConnectionState.DISCONNECTED, ConnectionState.CONNECTED]
    assert reports(drain(venue, has(ExecType.NEW)))[-1].request_id == "D1"


def test_fills_made_while_disconnected_arrive_after_reconnect_exactly_once(make_venue, fix_acceptor, comp_id):
    venue = make_venue()
    venue.submit(new("F1"), now())
    drain(venue, has(ExecType.NEW))

    fix_acceptor.control(f"refuse {comp_id} on")
    fix_acceptor.control(f"drop {comp_id}")
    drain(venue, lambda g: ConnectionState.DISCONNECTED in changes(g))
    with pytest.raises(VenueUnavailable):
        venue.submit(new("F2"), now())
    fix_acceptor.control("fill F1 30 99")
    fix_acceptor.control("fill F1 70 98")
    fix_acceptor.control(f"refuse {comp_id} off")
    got = drain(venue, has(ExecType.FILL), timeout=15)
    time.sleep(0.3)
    got += venue.poll(now())

    fills = [r for r in reports(got) if r.exec_type in (ExecType.PARTIAL_FILL, ExecType.FILL)]
    assert [(r.last_qty, r.cum_qty) for r in fills] == [(D(30), D(30)), (D(70), D(100))]
    assert all(r.order_id == "ORD-F1" for r in fills)
    assert sum(r.last_qty for r in venue.fills()) == D(100)


def test_a_logon_refused_after_fills_while_away_loses_no_fill(make_venue, fix_acceptor, comp_id):
    """The venue answers a logon attempt with a Logout whose MsgSeqNum is past the fills it stored
    meanwhile; QuickFIX counts that Logout as the next expected message, which would skip the first
    fill for good (no resend asks for it). The adapter puts the expected number back: both fills come."""
    venue = make_venue()
    venue.submit(new("W1"), now())
    drain(venue, has(ExecType.NEW))

    fix_acceptor.control(f"refuse {comp_id} on")
    fix_acceptor.control(f"drop {comp_id}")
    drain(venue, lambda g: ConnectionState.DISCONNECTED in changes(g))
    fix_acceptor.control("fill W1 30 99")
    fix_acceptor.control("fill W1 70 98")
    time.sleep(2.5)  # at least one logon attempt refused (reconnect_interval 1 s)
    fix_acceptor.control(f"refuse {comp_id} off")
    got = drain(venue, lambda g: [r for r in reports(g) if r.exec_type is ExecType.FILL], timeout=15)

    fills = [r for r in reports(got) if r.exec_type in (ExecType.PARTIAL_FILL, ExecType.FILL)]
    assert [(r.last_qty, r.cum_qty) for r in fills] == [(D(30), D(30)), (D(70), D(100))]


def test_reports_after_an_adapter_restart_still_name_the_oms_order(make_venue, fix_acceptor):
    first = make_venue()
    first.submit(new("P1", account="ACC-9"), now())
    drain(first, has(ExecType.NEW))
    first.close()
    fix_acceptor.control("fill P1 25 10")

    second = make_venue()
    fill = reports(drain(second, has(ExecType.PARTIAL_FILL)))[-1]

    assert (fill.account, fill.order_id, fill.request_id, fill.last_qty) == ("ACC-9", "ORD-P1", "P1", D(25))
    assert [o.order_id for o in second.open_orders()] == ["ORD-P1"]


def _messages_log(tmp_path) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted((tmp_path / "fix" / "log").glob("*.messages*log")))


def _resent(venue) -> str:
    return _messages_log(venue.config.data_dir.parent)


def test_the_acceptor_killed_and_restarted_keeps_its_book_and_sequence_numbers(tmp_path, cache_dir, comp_id):
    from connectors.fix.adapter import FixVenue
    from connectors.fix.config import FixVenueConfig
    from connectors.fix_acceptor import LocalAcceptor

    acceptor = LocalAcceptor(tmp_path / "exchange", cache_dir)
    acceptor.start()
    venue = None
    try:
        venue = FixVenue(FixVenueConfig(
            venue="FIXV", sender_comp_id=comp_id, target_comp_id=acceptor.comp_id, port=acceptor.info.port,
            data_dir=tmp_path / "fix", cache_dir=cache_dir, reconnect_interval=1, heartbeat=5))
        assert venue.wait_connected(15)
        venue.submit(new("K1"), now())
        drain(venue, has(ExecType.NEW))

        acceptor.kill()
        drain(venue, lambda g: ConnectionState.DISCONNECTED in changes(g))
        acceptor.start()
        drain(venue, lambda g: ConnectionState.CONNECTED in changes(g), timeout=20)
        acceptor.control("fill K1 100 10")
        fill = reports(drain(venue, has(ExecType.FILL)))[-1]

        assert (fill.order_id, fill.cum_qty, fill.leaves_qty) == ("ORD-K1", D(100), D(0))
        assert acceptor.book(comp_id)["K1"]["status"] == "2"
        assert venue.unmapped() == []
    finally:
        if venue is not None:
            venue.close()
        acceptor.stop()


def test_an_unsolicited_cancel_names_the_order_and_the_acceptor_counts_messages(make_venue, fix_acceptor, comp_id):
    venue = make_venue()
    venue.submit(new("U1"), now())
    drain(venue, has(ExecType.NEW))

    fix_acceptor.control("cancel-unsolicited U1")
    canceled = reports(drain(venue, has(ExecType.CANCELED)))[-1]

    assert (canceled.order_id, canceled.request_id, canceled.order_status) == ("ORD-U1", "U1", OrderStatus.CANCELED)
    assert canceled.reason == "canceled by the exchange"
    assert fix_acceptor.max_rate(comp_id) == (1, 1)


def test_an_adapter_left_open_at_exit_does_not_crash_the_interpreter(fix_acceptor, tmp_path, cache_dir, comp_id):
    script = f"""
from pathlib import Path
from connectors.fix.adapter import FixVenue
from connectors.fix.config import FixVenueConfig
venue = FixVenue(FixVenueConfig(venue="FIXV", sender_comp_id="{comp_id}", target_comp_id="EXCH",
                                port={fix_acceptor.info.port}, data_dir=Path(r"{tmp_path}"), cache_dir=Path(r"{cache_dir}")))
assert venue.wait_connected(15)
print("logged on")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).parents[2])

    assert (result.returncode, result.stdout.strip()) == (0, "logged on"), result.stderr


def test_a_request_refused_while_disconnected_is_sent_when_retried(make_venue, fix_acceptor, comp_id):
    venue = make_venue()
    fix_acceptor.control(f"refuse {comp_id} on")
    fix_acceptor.control(f"drop {comp_id}")
    drain(venue, lambda g: ConnectionState.DISCONNECTED in changes(g))

    with pytest.raises(VenueUnavailable):
        venue.submit(new("T1"), now())
    fix_acceptor.control(f"refuse {comp_id} off")
    assert venue.wait_connected(15)
    venue.submit(new("T1"), now())
    ack = reports(drain(venue, has(ExecType.NEW)))[-1]
    venue.submit(new("T1"), now())  # the same request again: not sent twice
    time.sleep(0.3)

    assert ack.request_id == "T1"
    assert reports(venue.poll(now())) == []
    assert list(fix_acceptor.book(comp_id)) == ["T1"]


def test_a_report_received_by_an_adapter_killed_before_its_poll_is_handed_over_after_restart(
        make_venue, fix_acceptor, tmp_path, cache_dir, comp_id):
    script = f"""
import os, signal, time
from pathlib import Path
from connectors.fix.adapter import FixVenue
from connectors.fix.config import FixVenueConfig
from tests.builders import venue_request
venue = FixVenue(FixVenueConfig(venue="FIXV", sender_comp_id="{comp_id}", target_comp_id="EXCH",
                                port={fix_acceptor.info.port}, data_dir=Path(r"{tmp_path / 'fix'}"),
                                cache_dir=Path(r"{cache_dir}")))
assert venue.wait_connected(15)
venue.submit(venue_request(venue="FIXV", request_id="K9", order_id="ORD-K9"), time.time_ns())
deadline = time.monotonic() + 15
while not venue._inbox and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.2)
os.kill(os.getpid(), signal.SIGKILL)  # the report arrived; no poll ever handed it over
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).parents[2])
    assert result.returncode == -9, result.stderr

    venue = make_venue()
    got = drain(venue, has(ExecType.NEW))

    assert [(r.order_id, r.request_id) for r in reports(got)] == [("ORD-K9", "K9")]
    assert venue.poll(now()) == []


def test_when_the_venue_asks_for_a_resend_old_requests_are_gap_filled_and_recent_ones_resent(
        make_venue, fix_acceptor, tmp_path, comp_id):
    venue = make_venue(resend_window_s=1.0)
    venue.submit(new("G1"), now())
    venue.submit(new("G2"), now())
    drain(venue, has(ExecType.NEW, 2))
    time.sleep(1.5)  # G1 and G2 are now older than the resend window

    fix_acceptor.control(f"expect {comp_id} 2")  # the acceptor forgets G1 and G2 and asks for them again
    venue.submit(new("G3"), now())  # its sequence number shows the gap: G3 itself is asked for again too
    got = reports(drain(venue, has(ExecType.NEW)))
    time.sleep(0.3)
    got += reports(venue.poll(now()))

    log = [line for line in _messages_log(tmp_path).split("\n") if f"\x0149={comp_id}\x01" in line]
    resent = [re.search(r"\x0111=(\w+)\x01", line).group(1) for line in log
              if "\x0135=D\x01" in line and "\x0143=Y\x01" in line]
    gap_fills = [line for line in log if "\x0135=4\x01" in line and "\x01123=Y\x01" in line]
    assert [r.request_id for r in got] == ["G3"]
    assert resent == ["G3"] and gap_fills
    assert sorted(fix_acceptor.book(comp_id)) == ["G1", "G2", "G3"]

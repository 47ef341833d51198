"""Tests of `oms.venues.inflight`: deadlines, the status query, the alert, answers clearing them."""

from __future__ import annotations

from oms.events import VenueAction
from oms.venues.inflight import InFlight, OverdueKind
from tests.builders import GATEWAY_T0 as T0
from tests.builders import numbered_request as request

MS = 1_000_000


def test_an_answer_clears_a_request():
    f = InFlight(100 * MS, 50 * MS)
    f.sent(request(1), T0)
    assert len(f) == 1 and "req-1" in f and f.next_due() == T0 + 100 * MS
    assert f.answered("req-1").request_id == "req-1"
    assert len(f) == 0 and f.answered("req-1") is None and f.overdue(T0 + 10**12) == []


def test_past_the_deadline_a_status_query_once_then_an_alert_once():
    f = InFlight(100 * MS, 50 * MS)
    f.sent(request(1), T0)
    f.sent(request(2), T0 + 10 * MS)
    assert f.overdue(T0 + 100 * MS - 1) == []
    [ask] = f.overdue(T0 + 100 * MS)
    assert ask.kind is OverdueKind.ASK_STATUS and ask.request.request_id == "req-1"
    probe = ask.probe
    assert (probe.action, probe.order_id, probe.orig_request_id, probe.account) == (
        VenueAction.STATUS, "ORD-1", "req-1", "ACC1")
    assert probe.request_id != "req-1" and probe.request_id in f
    assert f.overdue(T0 + 100 * MS) == []  # once
    assert [o.request.request_id for o in f.overdue(T0 + 110 * MS)] == ["req-2"]
    [alert] = f.overdue(T0 + 150 * MS)
    assert (alert.kind, alert.request.request_id, alert.sent_at) == (OverdueKind.ALERT, "req-1", T0)
    assert f.unanswered == 1 and len(f) == 2
    assert f.overdue(T0 + 10**12)[0].request.request_id == "req-2"
    assert f.overdue(T0 + 10**12) == [] and f.next_due() is None  # each alerted once; still tracked


def test_the_answer_to_the_status_query_clears_the_original():
    f = InFlight(100 * MS, 50 * MS)
    f.sent(request(1), T0)
    [ask] = f.overdue(T0 + 100 * MS)
    f.sent(ask.probe, T0 + 100 * MS)  # sending the probe tracks nothing new
    assert len(f) == 1
    assert f.answered(ask.probe.request_id).request_id == "req-1"
    assert len(f) == 0 and ask.probe.request_id not in f


def test_a_late_answer_clears_an_alerted_request():
    f = InFlight(MS, MS)
    f.sent(request(1), T0)
    f.overdue(T0 + MS)
    f.overdue(T0 + 2 * MS)
    assert f.unanswered == 1
    assert f.answered("req-1") is not None and f.unanswered == 0

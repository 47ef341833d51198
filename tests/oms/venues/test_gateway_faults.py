"""Tests of `oms.venues.gateway` under venue faults, with `tests.flaky_venue.FlakyExchange`: the circuit
breaker through the core, throttled answers, in-flight deadlines and alerts, connection changes,
operator overrides and the venue status the core publishes."""

from __future__ import annotations

from oms.events import BreakerMode, BreakerState, ConnectionState, ExecType, VenueAction, VenueControl
from oms.venues.gateway import CIRCUIT_OPEN, GatewayCore
from oms.venues.policy import VenueLimits, VenuePolicy
from oms.venues.simulated import SimulatedVenueConfig
from tests.builders import GATEWAY_T0 as T0
from tests.builders import numbered_request as request
from tests.builders import xyz_quote as quote
from tests.flaky_venue import FlakyExchange

MS = 1_000_000
S = 1_000 * MS


def gateway(**policy) -> tuple[GatewayCore, FlakyExchange]:
    venue = FlakyExchange("SIM-A", 7, SimulatedVenueConfig(latency_ns=0))
    fields = {"breaker_failures": 3, "breaker_window_ms": 10_000, "breaker_cooldown_ms": 1_000,
              "deadline_ms": 100, "status_deadline_ms": 100, "max_wait_ms": 5_000, **policy}
    core = GatewayCore({"SIM-A": venue}, limits=VenueLimits(venues={"SIM-A": VenuePolicy(**fields)}))
    return core, venue


def cancel(n: int, of: int):
    return request(n, action=VenueAction.CANCEL, order_id=f"ORD-{of}", orig_request_id=f"req-{of}")


def test_unavailable_opens_the_breaker_then_new_orders_are_refused_and_probes_close_it():
    core, venue = gateway()
    venue.unavailable = True
    assert core.on_request("vr", 0, 0, request(1), T0) == []  # raised: waits in the queue
    for k in (1, 2):
        assert core.tick(T0 + k * MS).reports == []  # tried again each turn: a failure each time
    assert core.breaker("SIM-A").effective is BreakerState.OPEN
    assert core.stats.unavailable == 3
    # the queued NEW and any new one are refused by the gateway itself
    [queued] = core.tick(T0 + 3 * MS).reports
    [fresh] = core.on_request("vr", 0, 1, request(2), T0 + 3 * MS)
    assert [(r.request_id, r.exec_type, r.reason) for r in (queued, fresh)] == [
        ("req-1", ExecType.REJECTED, CIRCUIT_OPEN), ("req-2", ExecType.REJECTED, CIRCUIT_OPEN)]
    assert venue.calls == ["req-1"] * 3
    # after the cooldown: HALF_OPEN, one probe goes, its answer closes the breaker
    venue.unavailable = False
    core.tick(T0 + 2 * MS + S)
    assert core.breaker("SIM-A").state is BreakerState.HALF_OPEN
    [ack] = core.on_request("vr", 0, 2, request(3), T0 + 2 * S)
    assert ack.exec_type is ExecType.NEW and core.breaker("SIM-A").state is BreakerState.CLOSED
    core.release()
    assert core.committable() == [("vr", 0, 3)]


def test_cancels_go_while_the_breaker_is_open_and_the_venue_connected():
    core, venue = gateway()
    core.on_marketdata(quote(ask_size=1), T0)
    core.on_request("vr", 0, 0, request(1), T0)  # acked, rests
    core.on_control(VenueControl(event_id="vc", ts_event=T0, ts_init=T0, venue="SIM-A", mode=BreakerMode.OPEN,
                                 changed_by="ops", reason="outage"), T0)
    [refused] = core.on_request("vr", 0, 1, request(2), T0)
    assert refused.reason == CIRCUIT_OPEN
    [canceled] = core.on_request("vr", 0, 2, cancel(3, of=1), T0)
    assert canceled.exec_type is ExecType.CANCELED


def test_cancels_wait_while_the_venue_is_disconnected_and_go_on_reconnect():
    core, venue = gateway()
    core.on_marketdata(quote(ask_size=1), T0)
    core.on_request("vr", 0, 0, request(1), T0)
    venue.connected_flag = False
    tick = core.tick(T0 + MS)
    assert core.connection("SIM-A") is ConnectionState.DISCONNECTED and tick.connected == []
    assert core.on_request("vr", 0, 1, cancel(2, of=1), T0 + MS) == []
    assert core.queued("SIM-A") == 1 and core.breaker("SIM-A").failures == (T0 + MS,)
    core.release()
    assert core.next_due(T0 + MS) == T0 + MS + 5_000 * MS + 1  # no busy loop: only the wait's expiry is due
    venue.connected_flag = True
    tick = core.tick(T0 + 2 * MS)
    assert tick.connected == ["SIM-A"]
    assert [r.exec_type for r in tick.reports] == [ExecType.CANCELED]


def test_a_request_waiting_for_the_venue_too_long_is_refused_as_unavailable():
    core, venue = gateway(max_wait_ms=10)
    venue.connected_flag = False
    core.tick(T0)
    core.on_request("vr", 0, 0, request(1), T0)
    [refused] = core.tick(T0 + 11 * MS).reports
    assert refused.reason == "venue unavailable: queued 11 ms" and venue.calls == []


def test_a_throttled_answer_pauses_the_venue_and_the_request_is_retried_once():
    core, venue = gateway(backoff_ms=50)
    venue.throttle = 1
    assert core.on_request("vr", 0, 0, request(1), T0) == []  # the throttled reject is withheld
    assert core.stats.throttled == 1 and core.queued("SIM-A") == 1
    assert core.next_due(T0) == T0 + 50 * MS
    assert core.tick(T0 + 49 * MS).reports == []
    [ack] = core.tick(T0 + 50 * MS).reports
    assert ack.exec_type is ExecType.NEW and venue.calls == ["req-1", "req-1"]
    # throttled twice: the second reject is the answer
    venue.throttle = 2
    assert core.on_request("vr", 0, 1, request(2), T0 + S) == []
    [reject] = core.tick(T0 + S + 50 * MS).reports
    assert (reject.exec_type, reject.reason) == (ExecType.REJECTED, "throttled: too many messages")
    assert core.breaker("SIM-A").state is BreakerState.CLOSED  # throttling is not an outage


def test_an_unanswered_request_gets_a_status_query_then_an_alert():
    core, venue = gateway()
    venue.silent = True
    core.on_request("vr", 0, 0, request(1), T0)
    assert core.in_flight("SIM-A") == 1
    assert core.next_due(T0) == T0 + 100 * MS
    tick = core.tick(T0 + 100 * MS)
    assert core.stats.probes == 1 and len(venue.calls) == 2 and tick.alerts == []
    assert core.breaker("SIM-A").failures == (T0 + 100 * MS,)
    [alert] = core.tick(T0 + 200 * MS).alerts
    assert (alert.venue, alert.order_id, alert.request_id, alert.action, alert.reason_code, alert.sent_at) == (
        "SIM-A", "ORD-1", "req-1", VenueAction.NEW, "NO_ANSWER", T0)
    assert core.tick(T0 + 300 * MS).alerts == []  # once
    assert core.status("SIM-A", T0 + 300 * MS).unanswered == 1


def test_a_status_query_answered_clears_the_request():
    core, venue = gateway()
    venue.silent = True
    core.on_request("vr", 0, 0, request(1), T0)
    venue.silent = False
    [status] = core.tick(T0 + 100 * MS).reports
    assert status.exec_type is ExecType.ORDER_STATUS and status.order_id == "ORD-1"
    assert core.in_flight("SIM-A") == 0 and core.tick(T0 + S).alerts == []


def test_system_rejects_count_as_failures_business_rejects_do_not():
    core, venue = gateway(breaker_failures=1)
    core.on_request("vr", 0, 0, request(1, order_type="MARKET", limit_price=None), T0)  # "no market"
    assert core.breaker("SIM-A").state is BreakerState.CLOSED
    core2, _ = gateway(breaker_failures=1, system_error="(?i)no market")
    core2.on_request("vr", 0, 0, request(1, order_type="MARKET", limit_price=None), T0)
    assert core2.breaker("SIM-A").state is BreakerState.OPEN


def test_venue_status_on_every_change_counters_throttled_and_a_heartbeat():
    core, venue = gateway()
    core.counts_every_ns, core.heartbeat_ns = 100 * MS, S
    [first] = core.statuses(T0)
    assert (first.venue, first.connection, first.breaker, first.queued_new, first.tokens) == (
        "SIM-A", ConnectionState.CONNECTED, BreakerState.CLOSED, 0, "orders=1000.00")
    assert core.statuses(T0 + MS) == []
    venue.silent = True
    core.on_request("vr", 0, 0, request(1), T0 + MS)
    assert core.statuses(T0 + 2 * MS) == []  # only a counter changed: not yet
    [counted] = core.statuses(T0 + 100 * MS)
    assert counted.in_flight == 1
    core.on_control(VenueControl(event_id="vc", ts_event=T0, ts_init=T0, venue="SIM-A", mode=BreakerMode.OPEN,
                                 changed_by="ops", reason="outage"), T0 + 101 * MS)
    [forced] = core.statuses(T0 + 101 * MS)  # a breaker change: at once
    assert (forced.breaker, forced.forced, forced.forced_by, forced.breaker_reason) == (
        BreakerState.OPEN, BreakerMode.OPEN, "ops", "outage")
    assert core.statuses(T0 + 102 * MS) == []
    assert len(core.statuses(T0 + 101 * MS + S)) == 1  # heartbeat


def test_a_throttled_request_that_then_meets_an_unavailable_venue_waits_without_spinning():
    core, venue = gateway(backoff_ms=10)
    venue.throttle = 1
    core.on_request("vr", 0, 0, request(1), T0)
    venue.unavailable = True
    assert core.tick(T0 + 10 * MS).reports == []
    assert venue.calls == ["req-1", "req-1"]  # one try per turn, not one per token
    venue.unavailable = False
    [ack] = core.tick(T0 + 11 * MS).reports
    assert ack.exec_type is ExecType.NEW
    core.release()
    assert core.committable() == [("vr", 0, 1)]


def test_an_unanswered_status_query_waiting_for_the_venue_holds_no_offset():
    core, venue = gateway(max_wait_ms=50)
    venue.silent = True
    core.on_request("vr", 0, 0, request(1), T0)
    venue.silent, venue.connected_flag = False, False
    core.tick(T0 + 100 * MS)  # the status query is queued: the venue is away
    assert core.queued("SIM-A") == 1
    assert core.tick(T0 + 151 * MS).reports == []  # it expires: a status query is dropped, not answered
    core.release()
    assert core.committable() == [("vr", 0, 1)] and core.queued("SIM-A") == 0

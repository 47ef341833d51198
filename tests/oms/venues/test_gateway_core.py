"""Tests of `oms.venues.gateway`: the venue gateway's pure core, with the simulator and with a fake adapter.

With the simulated exchange: routing, holding reports until due, which
offsets become committable, the per-venue rate limit (on `oms.domain.tokens`:
requests over it wait in the queue) and free replays. With `EchoVenue`, a minimal `VenueAdapter` that implements
the protocol and nothing else: the core needs nothing beyond it (a FIX
adapter slots in the same way), and builds its refusals itself.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from oms.domain.tokens import RateLimit
from oms.events import (
    ExecType,
    ExecutionReport,
    OrderStatus,
    Quote,
    Trade,
    VenueAction,
    VenueRequest,
)
from oms.venues import OpenOrder, VenueAdapter
from oms.venues.gateway import DEFAULT_RATE_LIMIT, GatewayCore
from oms.venues.policy import VenueLimits, VenuePolicy
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig
from tests.builders import GATEWAY_T0
from tests.builders import numbered_request as request
from tests.builders import xyz_quote as quote

T0 = GATEWAY_T0
MS = 1_000_000


def core(latency_ns: int = MS, rate_limit: RateLimit | None = None) -> GatewayCore:
    config = SimulatedVenueConfig(latency_ns=latency_ns)
    return GatewayCore({n: SimulatedExchange(n, 7, config) for n in ("SIM-A", "SIM-B")}, rate_limit)


class EchoVenue:
    """A venue adapter with nothing but the protocol: acks every NEW, cancels every CANCEL,
    and counts what it was asked (no `refuse`, no `seen`)."""

    synchronous = True

    def __init__(self, name: str, latency_ns: int = 0) -> None:
        self.name = name
        self.latency_ns = latency_ns
        self.calls: list[str] = []

    def _report(self, request: VenueRequest, now: int, exec_type: ExecType, status: OrderStatus) -> list:
        self.calls.append(request.request_id)
        exec_id = f"{self.name}-{request.request_id}"
        return [ExecutionReport(
            event_id=exec_id, ts_event=now + self.latency_ns, ts_init=now + self.latency_ns, venue=self.name,
            account=request.account, order_id=request.order_id, request_id=request.request_id, exec_id=exec_id,
            exec_type=exec_type, order_status=status, instrument=request.instrument, side=request.side,
            order_qty=request.quantity, leaves_qty=request.quantity if status is OrderStatus.NEW else D(0),
        )]

    def submit(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        return self._report(request, now, ExecType.NEW, OrderStatus.NEW)

    def amend(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        return self._report(request, now, ExecType.REPLACED, OrderStatus.NEW)

    def cancel(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        return self._report(request, now, ExecType.CANCELED, OrderStatus.CANCELED)

    def status(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        return self._report(request, now, ExecType.ORDER_STATUS, OrderStatus.NEW)

    def open_orders(self) -> list[OpenOrder]:
        return []

    def fills(self, since_ns: int = 0) -> list[ExecutionReport]:
        return []

    def on_quote(self, quote: Quote, now: int) -> list[ExecutionReport]:
        return []

    def on_trade(self, trade: Trade, now: int) -> list[ExecutionReport]:
        return []

    def connected(self) -> bool:
        return True

    def poll(self, now: int) -> list:
        return []

    def mass_status(self, now: int) -> list[ExecutionReport]:
        return []

    def mass_status_pending(self) -> bool:
        return False

    def close(self) -> None:
        pass


# ------------------------------------------------------ with the simulator


def test_core_routes_holds_until_due_and_commits_after_release():
    c = core()
    assert c.on_marketdata(quote(), T0) == []
    reports = c.on_request("vr", 0, 10, request(1), T0)
    assert [r.exec_type for r in reports] == [ExecType.NEW, ExecType.PARTIAL_FILL]
    assert c.on_request("vr", 0, 11, request(2, venue="SIM-Z"), T0) == []
    assert (c.stats.requests, c.stats.skipped, c.stats.quotes) == (1, 1, 1)
    assert c.committable() == []  # offset 10's reports are still held
    assert c.next_due() == T0 + MS and c.release(T0 + MS - 1) == []
    assert c.release(T0 + MS) == reports
    assert c.committable() == [("vr", 0, 12)]
    assert c.committable() == []


def test_core_commits_past_a_dead_lettered_request():
    c = core()
    assert c.on_request("vr", 2, 8, None, T0) == []  # undecodable: dead-lettered by the consumer
    assert c.committable() == [("vr", 2, 9)]


def test_core_commits_only_the_fully_released_prefix_per_partition():
    c = core()
    c.on_request("vr", 0, 5, request(1), T0)
    c.on_request("vr", 0, 6, request(2, venue="SIM-X"), T0)
    c.on_request("vr", 1, 3, request(3, venue="SIM-X"), T0)
    assert c.committable() == [("vr", 1, 4)]
    c.release()
    assert c.committable() == [("vr", 0, 7)]


def test_core_queues_over_the_limit_per_venue_and_replays_are_free():
    c = core(latency_ns=0, rate_limit=RateLimit.of(1, 1))
    [ack] = c.on_request("vr", 0, 0, request(1), T0)
    assert c.on_request("vr", 0, 1, request(2), T0) == []  # no token: queued, not refused
    assert c.queued("SIM-A") == 1 and c.stats.queued == 1
    assert c.on_request("vr", 0, 2, request(1), T0) == [ack]  # a replay costs no token
    assert c.on_request("vr", 0, 3, request(3, venue="SIM-B"), T0)[0].exec_type is ExecType.NEW
    c.release()
    assert c.committable() == [("vr", 0, 1)]  # offset 1 waits in the queue: nothing after it yet
    assert c.next_due(T0) == T0 + 1_000 * MS
    [later] = c.tick(T0 + 1_000 * MS).reports
    assert (later.request_id, later.exec_type) == ("req-2", ExecType.NEW)
    c.release()
    assert c.committable() == [("vr", 0, 4)]
    assert c.stats.rate_limited == 0


def test_the_rate_limit_refills_on_event_time():
    c = core(latency_ns=0, rate_limit=RateLimit.of(2, 3))
    answers = [c.on_request("vr", 0, n, request(n), T0) for n in range(4)]
    assert [len(a) for a in answers] == [1, 1, 1, 0]
    c.release()
    assert c.next_due(T0) == T0 + 500 * MS
    assert c.tick(T0 + 499 * MS).reports == []
    assert [r.request_id for r in c.tick(T0 + 500 * MS).reports] == ["req-3"]


def test_the_default_rate_limit_is_a_thousand_per_second():
    assert (DEFAULT_RATE_LIMIT.per_second, DEFAULT_RATE_LIMIT.burst) == (D(1000), D(1000))


# ----------------------------------------------------- with a fake adapter


def test_the_fake_adapter_is_a_venue_adapter_and_nothing_more():
    venue = EchoVenue("ECHO")
    assert isinstance(venue, VenueAdapter)
    assert not hasattr(venue, "refuse") and not hasattr(venue, "seen")


def test_core_drives_any_adapter_through_the_protocol():
    venue = EchoVenue("ECHO", latency_ns=2 * MS)
    c = GatewayCore({"ECHO": venue}, None)
    [ack] = c.on_request("vr", 0, 0, request(1, venue="ECHO"), T0)
    [canceled] = c.on_request("vr", 0, 1, request(2, venue="ECHO", action=VenueAction.CANCEL,
                                                  orig_request_id="req-1", order_id="ORD-1"), T0)
    assert (ack.exec_type, canceled.exec_type) == (ExecType.NEW, ExecType.CANCELED)
    assert c.on_marketdata(quote(), T0) == [] and c.stats.quotes == 1
    assert c.release(T0 + MS) == [] and c.committable() == []
    assert c.release(T0 + 2 * MS) == [ack, canceled]
    assert c.committable() == [("vr", 0, 2)]


@pytest.mark.parametrize("action, expected", [
    (VenueAction.NEW, ExecType.REJECTED),
    (VenueAction.REPLACE, ExecType.CANCEL_REJECTED),
    (VenueAction.CANCEL, ExecType.CANCEL_REJECTED),
])
def test_core_refuses_a_request_that_waited_too_long_itself_and_the_adapter_never_sees_it(action, expected):
    venue = EchoVenue("ECHO")
    policy = VenuePolicy.single(RateLimit.of(1, 1), max_wait_ms=100)
    c = GatewayCore({"ECHO": venue}, limits=VenueLimits(venues={"ECHO": policy}))
    c.on_request("vr", 0, 0, request(1, venue="ECHO"), T0)
    extra = {} if action is VenueAction.NEW else {"orig_request_id": "req-1", "order_id": "ORD-1"}
    assert c.on_request("vr", 0, 1, request(2, venue="ECHO", action=action, **extra), T0) == []
    assert c.tick(T0 + 100 * MS).reports == []  # waited exactly the max: still queued
    [refusal] = c.tick(T0 + 100 * MS + 1).reports
    assert (refusal.exec_type, refusal.reason, refusal.venue) == (expected, "rate limit: queued 100 ms", "ECHO")
    assert (refusal.request_id, refusal.order_id, refusal.account) == ("req-2", extra.get("order_id", "ORD-2"), "ACC1")
    assert venue.calls == ["req-1"]
    assert c.on_request("vr", 0, 2, request(2, venue="ECHO", action=action, **extra), T0 + 10**9) == [refusal]
    assert venue.calls == ["req-1"] and c.stats.rate_limited == 1


def test_core_hands_a_repeated_request_to_the_adapter_without_a_token():
    venue = EchoVenue("ECHO")
    c = GatewayCore({"ECHO": venue}, RateLimit.of(1, 1))
    c.on_request("vr", 0, 0, request(1, venue="ECHO"), T0)
    assert c.on_request("vr", 0, 1, request(1, venue="ECHO"), T0)[0].exec_type is ExecType.NEW
    assert venue.calls == ["req-1", "req-1"] and c.stats.rate_limited == 0


class AnsweringVenue(EchoVenue):
    """An asynchronous adapter whose mass status answers arrive from another thread, as the FIX
    adapter's do: each answer is queued, and the last one clears `mass_status_pending` with it.
    `arrive_after_poll` answers land right after the next poll has drained the queue."""

    synchronous = False

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.inbox: list[ExecutionReport] = []
        self.pending = False
        self.arrive_after_poll: list[tuple[ExecutionReport, bool]] = []

    def status_answer(self, n: int, last: bool = False) -> tuple[ExecutionReport, bool]:
        report = self._report(request(n, venue=self.name), T0, ExecType.ORDER_STATUS, OrderStatus.NEW)[0]
        return report, last

    def arrive(self, report: ExecutionReport, last: bool) -> None:
        self.inbox.append(report)
        if last:
            self.pending = False

    def mass_status(self, now: int) -> list[ExecutionReport]:
        self.pending = True
        return []

    def mass_status_pending(self) -> bool:
        return self.pending

    def poll(self, now: int) -> list:
        out, self.inbox = self.inbox, []
        for report, last in self.arrive_after_poll:  # the venue's thread, between this poll and the next
            self.arrive(report, last)
        self.arrive_after_poll = []
        return out


def asked(venue: AnsweringVenue) -> GatewayCore:
    """A core over `venue` that has sent it a mass status and collects the answers."""
    c = GatewayCore({venue.name: venue}, None)
    c.collect_mass_status(venue.name)
    venue.mass_status(T0)
    return c


def test_a_mass_status_answer_that_ends_right_after_a_poll_is_collected_whole_at_the_next_poll():
    venue = AnsweringVenue("FIX-A")
    c = asked(venue)
    venue.arrive(*venue.status_answer(1))
    venue.arrive(*venue.status_answer(2))
    venue.arrive_after_poll = [venue.status_answer(3, last=True)]  # the last answer, after this poll took two
    c.tick(T0)
    assert not venue.mass_status_pending()  # the venue has finished answering ...
    assert c.collected("FIX-A") is None  # ... but the poll did not take its last answer: not yet
    c.tick(T0 + MS)
    answers, transit = c.collected("FIX-A")
    assert [a.order_id for a in answers] == [request(n, venue="FIX-A").order_id for n in (1, 2, 3)]
    assert transit == []
    assert c.collected("FIX-A") is None  # handed over once


def test_a_mass_status_still_answering_is_not_collected():
    venue = AnsweringVenue("FIX-A")
    c = asked(venue)
    venue.arrive(*venue.status_answer(1))
    c.tick(T0)
    assert c.collected("FIX-A") is None
    venue.arrive(*venue.status_answer(2, last=True))
    c.tick(T0 + MS)
    answers, _ = c.collected("FIX-A")
    assert len(answers) == 2

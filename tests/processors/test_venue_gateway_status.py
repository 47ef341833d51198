"""Venue status on the real broker: an operator forces a venue's breaker from the CLI (`oms venue breaker`), the
gateway obeys and says so on `venue.status`, a request the venue never answers raises a `VenueAlert`, and
`oms venue status` shows all three; the reconciliation hook runs at start, after a reconnect and when an
operator asks for it (`oms venue reconcile`)."""

from __future__ import annotations

import time

import pytest

from entrypoints import cli
from entrypoints.context import Entry
from oms.clock import LiveClock
from oms.config import Settings
from oms.events import BreakerMode, BreakerState, ConnectionState, ExecType, VenueAlert, VenueControl, VenueStatus
from oms.venues.policy import VenueLimits, VenuePolicy
from oms.venues.simulated import SimulatedVenueConfig
from streams.views import TopicView
from tests.builders import numbered_request as request
from tests.flaky_venue import FlakyExchange
from tests.gateway_thread import gateway_thread

pytestmark = pytest.mark.kafka


def read_until(view: TopicView, predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view.refresh(idle=0.1)
        found = [e for e in view.all if predicate(e)]
        if found:
            return found
    raise AssertionError(f"timed out; saw {[type(e).__name__ for e in view.all]}")


def test_operator_override_alerts_and_the_status_command(bootstrap_servers, unique_name, capsys):
    from streams.runtime import connect

    settings = Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"{unique_name}.")
    rt = connect(settings)
    rt.ensure_topics()
    venue = FlakyExchange("SIM-A", 7, SimulatedVenueConfig(latency_ns=0))
    policy = VenuePolicy(deadline_ms=200, status_deadline_ms=200)
    reconciled: list[int] = []

    def reconcile_venue(runtime, settings_, adapter, now):
        """A minimal reconciliation: the venue's mass status, published as it is."""
        assert runtime is rt and settings_ is settings and adapter is venue
        reconciled.append(now)
        return adapter.mass_status(now)

    status = TopicView(rt, rt.topics.venue_status, keep_all=True)
    reports = TopicView(rt, rt.topics.exec_reports, keep_all=True)
    obj = Entry(settings, LiveClock())
    try:
        with gateway_thread(settings, [], 0, runtime=rt, adapters={"SIM-A": venue},
                            limits=VenueLimits(venues={"SIM-A": policy}), reconcile=lambda: reconcile_venue) as gateway:
            read_until(status, lambda e: isinstance(e, VenueStatus) and e.breaker is BreakerState.CLOSED)

            venue.silent = True  # taken, never answered: a status query, then an alert
            producer = rt.event_producer()
            producer.send(rt.topics.venue_requests, "SIM-A", request(1))
            producer.flush()
            [alert] = read_until(status, lambda e: isinstance(e, VenueAlert))
            assert (alert.order_id, alert.request_id, alert.reason_code) == ("ORD-1", "req-1", "NO_ANSWER")
            assert len(venue.calls) == 2  # the request and the status query
            venue.silent = False

            assert cli.main(["venue", "breaker", "SIM-A", "open", "--by", "ops", "--reason", "drill"], obj=obj) == 0
            [forced] = read_until(status, lambda e: isinstance(e, VenueStatus) and e.forced is BreakerMode.OPEN)
            assert (forced.breaker, forced.forced_by, forced.breaker_reason) == (BreakerState.OPEN, "ops", "drill")
            producer.send(rt.topics.venue_requests, "SIM-A", request(2))
            producer.flush()
            [refused] = read_until(reports, lambda e: e.request_id == "req-2")
            assert (refused.exec_type, refused.reason) == (ExecType.REJECTED, "venue circuit open")

            assert cli.main(["venue", "breaker", "SIM-A", "auto", "--by", "ops"], obj=obj) == 0
            read_until(status, lambda e: isinstance(e, VenueStatus) and e.forced is BreakerMode.AUTO
                       and e.ts_event > forced.ts_event)
            capsys.readouterr()
            assert cli.main(["venue", "status"], obj=obj) == 0
            out = capsys.readouterr().out
            assert "SIM-A" in out and "drill" in out and "NO_ANSWER" not in out and "req-1" in out
            controls = [e for e in status.all if isinstance(e, VenueControl)]
            assert [(c.mode, c.changed_by) for c in controls] == [(BreakerMode.OPEN, "ops"), (BreakerMode.AUTO, "ops")]

            # a disconnect and a reconnect: reconciled at start and again after the reconnect
            assert len(reconciled) == 1
            producer.send(rt.topics.venue_requests, "SIM-A", request(3))  # rests at the venue (no market)
            producer.flush()
            read_until(reports, lambda e: e.request_id == "req-3" and e.exec_type is ExecType.NEW)
            venue.connected_flag = False
            read_until(status, lambda e: isinstance(e, VenueStatus) and e.connection is ConnectionState.DISCONNECTED)
            venue.connected_flag = True
            read_until(status, lambda e: isinstance(e, VenueStatus) and e.connection is ConnectionState.CONNECTED
                       and e.ts_event > forced.ts_event and e.failures == 1)
            [status_report] = read_until(reports, lambda e: e.exec_type is ExecType.ORDER_STATUS
                                         and e.ts_event >= reconciled[-1])
            assert len(reconciled) == 2 and status_report.order_id == "ORD-3"

            # on demand: an operator asks for a reconciliation from the CLI; a request for another venue is not ours
            assert cli.main(["venue", "reconcile", "SIM-B", "--by", "ops"], obj=obj) == 0
            assert cli.main(["venue", "reconcile", "SIM-A", "--by", "ops", "--reason", "after the drill"], obj=obj) == 0
            read_until(reports, lambda e: e.exec_type is ExecType.ORDER_STATUS and len(reconciled) == 3)
            time.sleep(0.5)
            assert len(reconciled) == 3
    finally:
        status.close()
        reports.close()
    assert gateway.stats.alerts == 1 and gateway.stats.probes == 1

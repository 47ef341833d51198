"""A burst beyond a venue's rate limit on the real broker: the venue never sees more than the limit allows, the
requests over it wait (none is refused), and a cancel sent after the burst overtakes the queued new orders."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from oms.config import Settings
from oms.events import ExecType, VenueAction
from oms.venues.policy import VenueLimits, VenuePolicy
from oms.venues.simulated import SimulatedVenueConfig
from streams.views import TopicView
from tests.builders import numbered_request as request
from tests.flaky_venue import FlakyExchange
from tests.gateway_thread import gateway_thread

pytestmark = pytest.mark.kafka

RATE, BURST, N = 20, 5, 40


def test_a_burst_waits_for_tokens_and_a_cancel_overtakes_it(bootstrap_servers, unique_name):
    from streams.runtime import connect

    settings = Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"{unique_name}.")
    rt = connect(settings)
    rt.ensure_topics()
    venue = FlakyExchange("SIM-A", 7, SimulatedVenueConfig(latency_ns=0))
    policy = VenuePolicy(pools={"orders": {"per_second": RATE, "burst": BURST}}, max_wait_ms=30_000)
    reports = TopicView(rt, rt.topics.exec_reports, keep_all=True)
    try:
        with gateway_thread(settings, [], 0, runtime=rt, adapters={"SIM-A": venue},
                            limits=VenueLimits(venues={"SIM-A": policy}), reconcile=None) as gateway:
            producer = rt.event_producer()
            for n in range(1, N + 1):
                producer.send(rt.topics.venue_requests, "SIM-A", request(n))
            producer.flush()
            time.sleep(0.3)  # the burst is in the gateway's queue by now
            producer.send(rt.topics.venue_requests, "SIM-A",
                          request(N + 1, action=VenueAction.CANCEL, order_id="ORD-1", orig_request_id="req-1"))
            producer.flush()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                reports.refresh(idle=0.1)
                if len({r.request_id for r in reports.all}) == N + 1:
                    break
            assert len({r.request_id for r in reports.all}) == N + 1, len(reports.all)
    finally:
        reports.close()
    assert all(r.exec_type is not ExecType.REJECTED for r in reports.all)  # waited, never refused
    # the cancel went before every NEW still queued when it came
    cancel_at = venue.calls.index(f"req-{N + 1}")
    assert cancel_at < N // 2, venue.calls
    assert sorted(venue.calls[:cancel_at] + venue.calls[cancel_at + 1:]) == sorted(
        f"req-{n}" for n in range(1, N + 1))
    # no interval saw more than burst + rate x interval
    times = venue.sent_at
    for a in range(len(times)):
        for b in range(a, len(times)):
            allowed = BURST + RATE * Decimal(times[b] - times[a]) / Decimal(10**9)
            assert b - a + 1 <= allowed, (a, b, times[b] - times[a])
    stats = gateway.stats
    assert stats.queued >= N - BURST and stats.rate_limited == 0

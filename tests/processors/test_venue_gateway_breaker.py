"""The circuit breaker end to end on the real broker: a venue that fails opens it, orders are denied with the
reason, after the cooldown a probe closes it and orders fill again; `venue.status` shows every transition.

The gateway runs in a thread over `tests.flaky_venue.FlakyExchange` (the simulator with a switch that
makes every request raise `VenueUnavailable`); the worker (engine) and the market data feed run as
processes, as in production. The engine follows `venue.status` and denies new orders for the venue
while its breaker is open (VENUE_UNAVAILABLE).
"""

from __future__ import annotations

import time
from uuid import uuid4

import pytest

from entrypoints.supervisor import Processes
from oms import ids
from oms.clock import LiveClock
from oms.config import Settings
from oms.events import BreakerState, OrderDenied, OrderStatus, VenueStatus
from oms.venues.policy import VenueLimits, VenuePolicy
from oms.venues.simulated import SimulatedVenueConfig
from streams.client import OrderClient
from streams.runtime import connect
from streams.views import TopicView
from tests.flaky_venue import FlakyExchange
from tests.gateway_thread import gateway_thread

pytestmark = pytest.mark.kafka

ACCOUNT = "BRK-1"


def test_injected_failures_open_the_breaker_and_probes_close_it(bootstrap_servers, tmp_path):
    settings = Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"b{uuid4().hex[:8]}.", home=tmp_path,
                        partitions=3)
    rt = connect(settings)
    rt.ensure_topics()
    procs = Processes(settings, bootstrap_servers)
    venue = FlakyExchange("SIM", 7, SimulatedVenueConfig(latency_ns=1_000_000))
    policy = VenuePolicy(breaker_failures=2, breaker_window_ms=5_000, breaker_cooldown_ms=3_000, max_wait_ms=10_000)
    statuses = TopicView(rt, rt.topics.venue_status, keep_all=True)
    orders = TopicView(rt, rt.topics.orders)
    journal = TopicView(rt, rt.topics.journal, keep_all=True)
    client = OrderClient(rt.event_producer(), rt.topics, trader="tester", clock=LiveClock())

    def status(cl: str):
        orders.refresh(idle=0.1)
        view = orders.latest.get(ids.order_id(ACCOUNT, cl))
        return None if view is None else view

    def submit(cl: str) -> None:
        client.new_order(account=ACCOUNT, client_order_id=cl, instrument="AAPL", side="BUY", quantity="10",
                         limit_price="1.00")  # rests (the feed trades near 100): acked, never filled
        client.flush()

    def breaker_states() -> list[BreakerState]:
        statuses.refresh(idle=0.1)
        states = [e.breaker for e in statuses.all if isinstance(e, VenueStatus) and e.venue == "SIM"]
        return [s for n, s in enumerate(states) if n == 0 or states[n - 1] is not s]

    try:
        procs.start_marketdata("AAPL:100.00", seed=3, rate=5)
        procs.start_worker()
        with gateway_thread(settings, [], 0, runtime=rt, adapters={"SIM": venue},
                            limits=VenueLimits(venues={"SIM": policy}), reconcile=None) as gateway:
            submit("before")
            procs.wait_until(lambda: (v := status("before")) and v.status is OrderStatus.NEW, 90, "the first ack")

            venue.unavailable = True  # every request raises VenueUnavailable: the breaker opens
            submit("during")
            procs.wait_until(lambda: BreakerState.OPEN in breaker_states(), 30, "the breaker to open")
            procs.wait_until(lambda: (v := status("during")) and v.status is OrderStatus.REJECTED, 30,
                             "the refusal of the order that met the failures")
            assert status("during").reason == "venue circuit open"
            time.sleep(1.0)  # the engine follows venue.status as a global table
            submit("denied")
            procs.wait_until(lambda: (v := status("denied")) and v.status is OrderStatus.REJECTED, 30, "the denial")
            journal.refresh(idle=0.1)
            [denied] = [e for e in journal.all if isinstance(e, OrderDenied)
                        and e.order_id == ids.order_id(ACCOUNT, "denied")]
            assert denied.reason_code == "VENUE_UNAVAILABLE" and "circuit open" in denied.reason

            venue.unavailable = False  # the venue is back: after the cooldown one probe closes the breaker
            procs.wait_until(lambda: BreakerState.HALF_OPEN in breaker_states(), 30, "the breaker to half-open")
            time.sleep(1.0)
            submit("after")
            procs.wait_until(lambda: (v := status("after")) and v.status is OrderStatus.NEW, 60, "the probe's ack")
            procs.wait_until(lambda: breaker_states()[-1] is BreakerState.CLOSED, 30, "the breaker to close")
            assert breaker_states() == [BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN,
                                        BreakerState.CLOSED]
    finally:
        procs.stop_all()
        for view in (statuses, orders, journal):
            view.close()
    stats = gateway.stats
    assert stats.unavailable >= 2 and stats.circuit_refused >= 1

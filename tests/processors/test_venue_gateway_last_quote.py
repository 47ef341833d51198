"""A venue gateway started while the market is quiet quotes at once: at start it reads the recent
past of `marketdata` and gives each venue the last quote per instrument, so a market order sent
right after the start fills instead of being answered "no market" until the next quote."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from oms.clock import LiveClock
from oms.config import Settings
from oms.events import ExecType, OrderType
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig
from processors.venue_gateway import run_gateway
from streams.views import TopicView
from tests.builders import numbered_request as request
from tests.builders import xyz_quote

pytestmark = pytest.mark.kafka


def test_a_gateway_started_after_the_last_quote_fills_a_market_order(bootstrap_servers, unique_name):
    from streams.runtime import connect

    settings = Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"{unique_name}.")
    rt = connect(settings)
    rt.ensure_topics()
    producer = rt.event_producer()
    old, last = xyz_quote(event_id="q-old"), xyz_quote(event_id="q-last", ask_price=Decimal("100.60"))
    for quote in (old, last):  # published before the gateway exists; nothing comes after
        producer.send(rt.topics.marketdata, quote.instrument, quote)
    producer.flush()
    venue = SimulatedExchange("SIM-A", 7, SimulatedVenueConfig(latency_ns=0))
    stop, ready, result = threading.Event(), threading.Event(), {}

    def run() -> None:
        try:
            result["stats"] = run_gateway(settings, [], 0, stop=stop, clock=LiveClock(), ready=ready, runtime=rt,
                                          adapters={"SIM-A": venue}, reconcile=None)
        except BaseException as exc:
            result["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    reports = TopicView(rt, rt.topics.exec_reports, keep_all=True)
    try:
        assert ready.wait(30) and "error" not in result, result.get("error")
        producer.send(rt.topics.venue_requests, "SIM-A",
                      request(1, order_type=OrderType.MARKET, limit_price=None, quantity=Decimal("50")))
        producer.flush()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(r.exec_type is ExecType.FILL for r in reports.all or []):
            reports.refresh(idle=0.2)
    finally:
        stop.set()
        thread.join(20)
        reports.close()
    assert "error" not in result, result.get("error")
    kinds = [(r.exec_type, r.last_px) for r in reports.all]
    assert (ExecType.FILL, Decimal("100.60")) in kinds, kinds  # at the last quote's offer, not refused
    assert all(r.exec_type is not ExecType.REJECTED for r in reports.all), kinds

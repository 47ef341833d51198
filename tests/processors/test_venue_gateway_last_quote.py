"""A venue gateway started while the market is quiet quotes at once: at start it reads the recent
past of `marketdata` and gives each venue the last quote per instrument, so a market order sent
right after the start fills instead of being answered "no market" until the next quote."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from oms.config import Settings
from oms.events import ExecType, OrderType
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig
from streams.views import TopicView
from tests.builders import numbered_request as request
from tests.builders import xyz_quote
from tests.gateway_thread import gateway_thread

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
    reports = TopicView(rt, rt.topics.exec_reports, keep_all=True)
    try:
        with gateway_thread(settings, [], 0, runtime=rt, adapters={"SIM-A": venue}, reconcile=None):
            producer.send(rt.topics.venue_requests, "SIM-A",
                          request(1, order_type=OrderType.MARKET, limit_price=None, quantity=Decimal("50")))
            producer.flush()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(r.exec_type is ExecType.FILL for r in reports.all or []):
                reports.refresh(idle=0.2)
    finally:
        reports.close()
    kinds = [(r.exec_type, r.last_px) for r in reports.all]
    assert (ExecType.FILL, Decimal("100.60")) in kinds, kinds  # at the last quote's offer, not refused
    assert all(r.exec_type is not ExecType.REJECTED for r in reports.all), kinds

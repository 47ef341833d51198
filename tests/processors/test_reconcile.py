"""Tests of `processors.reconcile` on the real broker: `reconcile_venue` reads the OMS's view from
the compacted `orders` topic, asks the simulated venue (mass status, status of the orders it no
longer lists, fills), returns the repairing reports (and the answers to the cancels it sent) and
publishes the `VenueReconciliation` event; `reconcile_collected` does the same from ORDER_STATUS
reports collected by the caller."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from oms.config import Settings
from oms.events import ExecType, OrderStatus, VenueReconciliation
from oms.venues.reconcile import UNKNOWN_AT_VENUE
from oms.venues.simulated import SimulatedExchange
from processors.reconcile import RECONCILIATIONS, reconcile_collected, reconcile_venue
from streams.kafka import read_all
from streams.runtime import connect
from tests.builders import GATEWAY_T0 as T0, numbered_request, order_view

pytestmark = [pytest.mark.kafka]

VENUE = "SIM-A"
MS = 1_000_000


@pytest.fixture
def world(bootstrap_servers, tmp_path, unique_name):
    settings = Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"{unique_name}.", home=tmp_path)
    rt = connect(settings)
    rt.ensure_topics()
    venue = SimulatedExchange(VENUE, 1, started_ns=T0)
    producer = rt.event_producer()
    # ORD-1 rests at the venue; ORD-2 is open in the OMS but unknown there; ORD-3 is the venue's only;
    # ORD-4 lives at another venue and is none of this reconciliation's business
    venue.submit(numbered_request(1, venue=VENUE), T0)
    venue.submit(numbered_request(3, venue=VENUE), T0)
    for n, venue_name in ((1, VENUE), (2, VENUE), (4, "SIM-B")):
        view = order_view(order_id=f"ORD-{n}", account="ACC1", instrument="XYZ", status=OrderStatus.NEW,
                          quantity=D(150), cum_qty=D(0), leaves_qty=D(150), avg_px=D(0), venue=venue_name)
        producer.send(rt.topics.orders, view.order_id, view)
    producer.flush()
    return settings, rt, venue


def summaries(rt) -> list[VenueReconciliation]:
    consumer = rt.event_consumer("reconcile-test-reader", "test", deadletter=False)
    try:
        return [r.event for r in read_all(consumer, [rt.topics.name(RECONCILIATIONS)], timeout=10)]
    finally:
        consumer.close()


def test_reconcile_venue_repairs_from_the_orders_view_and_publishes_what_it_did(world):
    settings, rt, venue = world

    reports = reconcile_venue(rt, settings, venue, T0 + MS)

    kinds = [(r.order_id, r.exec_type, r.reason) for r in reports]
    assert kinds == [
        ("ORD-2", ExecType.CANCELED, UNKNOWN_AT_VENUE),
        ("ORD-3", ExecType.ORDER_STATUS, kinds[1][2]),  # the external order: the engine keeps the anomaly
        ("ORD-3", ExecType.CANCELED, None),  # the venue's answer to the cancel reconciliation sent
    ]
    assert [o.order_id for o in venue.open_orders()] == ["ORD-1"]
    [summary] = summaries(rt)
    assert (summary.venue, summary.policy, summary.oms_open, summary.venue_working, summary.matched) == (
        VENUE, "reject", 2, 2, 1)
    assert (summary.unknown_at_venue, summary.canceled_external, summary.cancels) == ("ORD-2", "ORD-3", 1)


def test_reconcile_collected_takes_the_status_reports_an_asynchronous_adapter_delivered(world):
    settings, rt, venue = world
    collected = venue.mass_status(T0 + MS)

    reports = reconcile_collected(rt, settings.with_(external_orders="adopt"), venue, collected, T0 + 2 * MS)

    assert [(r.order_id, r.exec_type) for r in reports] == [("ORD-2", ExecType.CANCELED), ("ORD-3", ExecType.NEW)]
    [summary] = summaries(rt)
    assert (summary.policy, summary.adopted, summary.cancels) == ("adopt", "ORD-3", 0)

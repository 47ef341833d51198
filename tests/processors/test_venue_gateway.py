"""Tests of `processors.venue_gateway`, the Kafka loop around the pure core (`tests/oms/venues/test_gateway_core.py`).

The integration test runs the gateway in a thread against the session's
broker under a unique topic prefix, publishes a quote and venue requests, and
reads the execution reports off `exec.reports`.
"""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest

from oms.config import Settings
from oms.events import ExecType, OrderStatus, VenueAction
from oms.venues.simulated import SimulatedVenueConfig
from processors.venue_gateway import run_gateway
from tests.builders import GATEWAY_T0
from tests.builders import numbered_request as request
from tests.builders import xyz_quote as quote
from tests.gateway_thread import gateway_thread

T0 = GATEWAY_T0
MS = 1_000_000




# ------------------------------------------------------------- on the broker


def read_until(consumer, predicate, timeout: float = 15.0) -> list:
    """Poll `consumer` until `predicate(received_so_far)` holds; return what was received."""
    got: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate(got):
        received = consumer.poll(0.2)
        if received is not None:
            got.append(received)
    assert predicate(got), f"timed out; received {[r.event for r in got]}"
    return got


@pytest.mark.kafka
def test_gateway_on_the_broker(bootstrap_servers, unique_name):
    from streams.runtime import connect

    settings = Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"{unique_name}.")
    rt = connect(settings)
    rt.ensure_topics()
    topics = rt.topics

    reader = rt.event_consumer(f"{unique_name}.reader", "test", deadletter=False)
    reader.subscribe([topics.exec_reports])
    try:
        with gateway_thread(settings, ["SIM-A"], 7, SimulatedVenueConfig(latency_ns=MS), runtime=rt) as gateway:
            producer = rt.event_producer()
            # a quote, then a crossing limit buy larger than the displayed ask: either order of
            # arrival at the gateway gives an ack and a partial fill of 100 at the ask
            producer.send(topics.marketdata, "XYZ", quote())
            producer.send(topics.venue_requests, "SIM-A", request(1))
            producer.flush()
            got = read_until(reader,
                             lambda g: {r.event.exec_type for r in g} >= {ExecType.NEW, ExecType.PARTIAL_FILL})
            by_type = {r.event.exec_type: r for r in got}
            ack, fill = by_type[ExecType.NEW], by_type[ExecType.PARTIAL_FILL]
            assert ack.key == "ACC1" and ack.topic == topics.exec_reports
            assert (ack.event.venue, ack.event.order_id, ack.event.request_id) == ("SIM-A", "ORD-1", "req-1")
            assert ack.event.venue_order_id.startswith("SIM-A-") and ack.event.venue_order_id.endswith("-O1")
            assert (fill.event.last_qty, fill.event.last_px, fill.event.cum_qty, fill.event.leaves_qty) == (
                D(100), D("100.50"), D(100), D(50))
            assert fill.event.avg_px == D("100.50") and fill.event.order_status is OrderStatus.PARTIALLY_FILLED

            # a request for a venue this gateway does not serve (same partition: handled before the
            # cancel) is skipped; the cancel ends the rest of the order
            producer.send(topics.venue_requests, "SIM-A", request(2, venue="SIM-Z"))
            producer.send(topics.venue_requests, "SIM-A",
                          request(3, action=VenueAction.CANCEL, order_id="ORD-1", orig_request_id="req-1"))
            producer.flush()
            got += read_until(reader, lambda g: any(r.event.exec_type is ExecType.CANCELED for r in g))
            canceled = next(r.event for r in got if r.event.exec_type is ExecType.CANCELED)
            assert (canceled.request_id, canceled.order_status, canceled.cum_qty, canceled.leaves_qty) == (
                "req-3", OrderStatus.CANCELED, D(100), D(0))
            assert all(r.event.venue == "SIM-A" and r.event.order_id == "ORD-1" for r in got)
            assert len({r.event.exec_id for r in got}) == len(got) == 3
    finally:
        reader.close()
    stats = gateway.stats
    assert (stats.requests, stats.skipped, stats.quotes, stats.reports) == (2, 1, 1, 3)

    # every request offset was committed once its reports were out
    from confluent_kafka import TopicPartition

    probe = rt.consumer(f"{unique_name}.venue-gateway")
    try:
        parts = probe.list_topics(topics.venue_requests, timeout=10).topics[topics.venue_requests].partitions
        committed = probe.committed([TopicPartition(topics.venue_requests, p) for p in parts], timeout=10)
        assert sum(max(tp.offset, 0) for tp in committed) == 3
    finally:
        probe.close()


def test_the_loop_needs_a_clock():
    with pytest.raises(TypeError, match="clock"):
        run_gateway(Settings(), ["SIM-A"], 7)


@pytest.mark.kafka
def test_a_turn_never_drops_the_record_after_its_batch(bootstrap_servers, unique_name, monkeypatch):
    """More requests than one turn handles (MAX_BATCH): every one is answered (the record polled
    after a full batch used to be dropped, and its offset committed past)."""
    import processors.venue_gateway as gateway_module
    from streams.runtime import connect

    monkeypatch.setattr(gateway_module, "MAX_BATCH", 3)
    settings = Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"{unique_name}.")
    rt = connect(settings)
    rt.ensure_topics()
    producer = rt.event_producer()
    for n in range(1, 11):
        producer.send(rt.topics.venue_requests, "SIM-A", request(n))
    producer.flush()  # all there before the gateway starts: its first turns take full batches
    reader = rt.event_consumer(f"{unique_name}.reader", "test", deadletter=False)
    reader.subscribe([rt.topics.exec_reports])
    try:
        with gateway_thread(settings, ["SIM-A"], 7, SimulatedVenueConfig(latency_ns=0), runtime=rt,
                            reconcile=None) as gateway:
            got = read_until(reader, lambda g: len({r.event.request_id for r in g}) == 10)
    finally:
        reader.close()
    assert {r.event.request_id for r in got} == {f"req-{n}" for n in range(1, 11)}
    assert gateway.stats.requests == 10

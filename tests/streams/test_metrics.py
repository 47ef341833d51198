"""Tests of `streams.metrics`: the hooks feed the Prometheus metrics, the endpoint serves them and
says where in its run file, and librdkafka's statistics become per-partition lag."""

from __future__ import annotations

import json
import os

from oms.config import Settings
from oms.events import BreakerState
from streams import metrics
from tests import builders as b


def _value(name: str, **labels) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_journaled_orders_feed_the_latency_histogram_and_the_reason_counters():
    before = (_value("oms_stage_latency_seconds_count", stage="accepted"),
              _value("oms_denials_total", reason="TEST_DENIAL"))
    metrics.journaled(b.new_order(ts=1_000_000_000),
                      [b.order_accepted(ts_init=1_003_000_000), b.order_denied(reason_code="TEST_DENIAL")])
    assert _value("oms_stage_latency_seconds_count", stage="accepted") == before[0] + 1
    assert _value("oms_denials_total", reason="TEST_DENIAL") == before[1] + 1


def test_a_hook_never_raises_into_the_processing_it_measures():
    before = _value("oms_stage_latency_seconds_count", stage="accepted")
    assert metrics.journaled(None, [b.order_accepted()]) is None  # a cause without timestamps: skipped
    assert _value("oms_stage_latency_seconds_count", stage="accepted") == before


def test_lag_comes_from_the_stored_position_when_nothing_was_committed():
    on_stats = metrics.lag_reporter("g-test")
    on_stats(json.dumps({"topics": {"t-test": {"partitions": {
        "0": {"consumer_lag": -1, "consumer_lag_stored": 7},
        "1": {"consumer_lag": 3, "consumer_lag_stored": -1},
        "-1": {"consumer_lag": 99, "consumer_lag_stored": 99}}}}}))
    assert _value("oms_consumer_lag", group="g-test", topic="t-test", partition="0") == 7
    assert _value("oms_consumer_lag", group="g-test", topic="t-test", partition="1") == 3
    assert metrics.REGISTRY.get_sample_value("oms_consumer_lag", {"group": "g-test", "topic": "t-test",
                                                                   "partition": "-1"}) is None


def test_the_endpoint_serves_the_metrics_and_writes_its_run_file(tmp_path):
    status = b.venue_status(venue="SIM-T", breaker=BreakerState.HALF_OPEN, tokens="orders=12.50 cancels=40.00",
                            queued_new=2, queued_cancel=1)
    metrics.venue_status(status)
    endpoint = metrics.serve(Settings(home=tmp_path, metrics_port=0), "test-process", addr="127.0.0.1")
    assert metrics.endpoints(tmp_path) == [endpoint] and endpoint.pid == os.getpid() and endpoint.alive
    metrics.committed("test-processor", 4)
    samples = metrics.scrape(endpoint.url)
    assert [v for labels, v in samples["oms_inputs_total"] if labels["processor"] == "test-processor"] == [4.0]
    assert [v for labels, v in samples["oms_venue_breaker_state"] if labels["venue"] == "SIM-T"] == [1.0]
    assert {labels["pool"]: v for labels, v in samples["oms_venue_rate_limit_tokens"]
            if labels["venue"] == "SIM-T"} == {"orders": 12.5, "cancels": 40.0}
    assert [v for labels, v in samples["oms_venue_requests_queued"] if labels["venue"] == "SIM-T"] == [3.0]


def test_no_endpoint_when_the_port_is_minus_one(tmp_path):
    assert metrics.serve(Settings(home=tmp_path, metrics_port=-1), "off") is None
    assert metrics.endpoints(tmp_path) == []


def test_a_fixed_port_already_taken_falls_back_to_a_free_one(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        endpoint = metrics.serve(Settings(home=tmp_path, metrics_port=port), "fallback-process", addr="127.0.0.1")
    assert endpoint.port not in (0, port)
    assert "python_info" in metrics.scrape(endpoint.url)  # it answers

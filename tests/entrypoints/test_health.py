"""Tests of the metrics endpoints and `oms health` on a running OMS.

On the session broker, the worker, venue gateway and market data handler run
as processes; an order flows to a fill; each process's `/metrics` (found
through its run file) is scraped: the stage latency histograms and the
transaction counter move, the gateway shows its breaker and rate-limit tokens,
the market data handler its activity; `oms health` prints a row per process
and the broker's controller. Without a broker: the table for a process that is
gone and for a broker that does not answer.
"""

from __future__ import annotations

import os
from io import StringIO

import pytest
from rich.console import Console

from entrypoints import status
from entrypoints.cli import main
from entrypoints.context import Entry
from oms import ids
from oms.clock import LiveClock
from oms.config import Settings
from oms.events import OrderStatus
from streams import metrics
from streams.broker import BrokerState


def _entry(settings: Settings) -> tuple[Entry, StringIO]:
    out = StringIO()
    return Entry(settings, LiveClock(), console=Console(file=out, width=200)), out


def _value(samples: dict, name: str, **labels) -> float:
    return sum(v for got, v in samples.get(name, []) if all(got.get(k) == want for k, want in labels.items()))


def test_a_dead_process_and_an_unreachable_broker_are_unhealthy(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "worker-999999999.json").write_text('{"process": "worker", "pid": 999999999, "port": 1}')
    [endpoint] = metrics.endpoints(tmp_path)
    health = status.process_health(endpoint, now_s=0)
    assert (health.process, health.alive, health.answered) == ("worker", False, False)

    out = StringIO()
    ok = status.render(Console(file=out, width=200), [health],
                       BrokerState("127.0.0.1:1", False, error="timed out"))
    assert not ok
    assert "worker" in out.getvalue() and "timed out" in out.getvalue()


def test_a_live_process_is_read_from_its_metrics(tmp_path):
    endpoint = metrics.Endpoint("worker", os.getpid(), 1234, tmp_path / "w.json")
    samples = {"oms_processor_health": [({"processor": "e", "oms_processor_health": "RUNNING"}, 1.0),
                                        ({"processor": "e", "oms_processor_health": "FAILED"}, 0.0)],
               "oms_consumer_lag": [({"group": "g", "topic": "t", "partition": "0"}, 3.0),
                                    ({"group": "g", "topic": "t", "partition": "1"}, 5.0)],
               "oms_transactions_total": [({"processor": "e"}, 7.0)],
               "oms_last_activity_timestamp_seconds": [({"processor": "e"}, 100.0)]}
    health = status.process_health(endpoint, now_s=102.5, scrape=lambda url: samples)
    assert (health.state, health.lag, health.worst_lag, health.transactions) == ("RUNNING", 8, "t[1]=5", 7)
    assert health.idle_s == pytest.approx(2.5)


@pytest.mark.kafka
def test_metrics_move_during_a_flow_and_health_shows_every_process(bootstrap_servers, tmp_path, unique_name):
    from tests.pipeline import Pipeline

    p = Pipeline.start(bootstrap_servers, f"{unique_name}.", tmp_path)
    try:
        p.procs.wait_until(lambda: {e.process for e in metrics.endpoints(tmp_path)}
                           >= {"worker", "venue-gateway", "marketdata"}, 60, "the metrics run files")
        worker = next(e for e in metrics.endpoints(tmp_path) if e.process == "worker")
        before = metrics.scrape(worker.url)
        for n in range(3):
            p.client.new_order(account="ACC-M", client_order_id=f"m-{n}", instrument="AAPL", side="BUY",
                               quantity="10")
        p.client.flush()
        for n in range(3):
            order_id = ids.order_id("ACC-M", f"m-{n}")
            p.wait(lambda: (v := p.views["orders"].latest.get(order_id)) is not None
                   and v.status is OrderStatus.FILLED, 90, f"order m-{n} to fill")
        after = metrics.scrape(worker.url)
        for stage in ("accepted", "routed", "acknowledged", "filled"):
            moved = (_value(after, "oms_stage_latency_seconds_count", stage=stage)
                     - _value(before, "oms_stage_latency_seconds_count", stage=stage))
            assert moved >= 3, stage
            assert _value(after, "oms_stage_latency_seconds_sum", stage=stage) > 0, stage
        means = {stage: _value(after, "oms_stage_latency_seconds_sum", stage=stage)
                 / _value(after, "oms_stage_latency_seconds_count", stage=stage)
                 for stage in ("accepted", "routed", "acknowledged", "filled")}
        print("mean stage latency (ms):", {stage: round(mean * 1000, 2) for stage, mean in means.items()})
        assert _value(after, "oms_transactions_total") - _value(before, "oms_transactions_total") >= 1
        # 3 commands and at least an acknowledgement and a fill for each, batched into transactions
        assert _value(after, "oms_inputs_total") - _value(before, "oms_inputs_total") >= 9
        assert _value(after, "oms_processor_health", oms_processor_health="RUNNING") >= 1
        p.procs.wait_until(lambda: "oms_consumer_lag" in metrics.scrape(worker.url), 20, "the lag statistics")

        gateway = metrics.scrape(next(e for e in metrics.endpoints(tmp_path) if e.process == "venue-gateway").url)
        assert _value(gateway, "oms_venue_breaker_state", venue="SIM") == 0  # closed
        assert _value(gateway, "oms_venue_rate_limit_tokens", venue="SIM") > 0
        assert "oms_venue_requests_queued" in gateway

        e, out = _entry(p.rt.settings)
        code = main(["health"], obj=e)
        text = out.getvalue()
        assert code == 0, text
        for process in ("worker", "venue-gateway", "marketdata"):
            assert process in text
        assert "RUNNING" in text and "1@127.0.0.1" in text
    finally:
        p.stop()

"""A broker killed (SIGKILL) and restarted on the same port and data directory mid-flow.

The whole pipeline (worker, venue gateway, market data) runs against a broker
of its own (not the session's: other tests use that one). Orders go in at about
50 per second; the broker is killed, restarted, and orders keep coming. The
order engine must resume by itself within 30 s of the broker answering again,
every order sent before and after must reach a fill or a terminal state,
`fills` must hold each venue execution exactly once, and SIGTERM must still
stop the worker cleanly. The recovery time (broker answering → first new
fill) is printed.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from oms import ids
from oms.config import Settings
from oms.events import ExecType, FillKind, OrderStatus
from streams.broker import LocalBroker
from streams.kafka import DeliveryError
from tests.pipeline import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(900)]

RATE = 50
BEFORE_S = 10.0
"""Sending time before the kill."""
DOWN_S = 3.0
"""How long the broker stays dead before it is started again."""
AFTER_S = 15.0
"""Sending time after the restart."""
RESUME_WITHIN_S = 30.0
PENDING = {OrderStatus.PENDING_NEW, OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE}


@pytest.fixture
def own_broker(tmp_path):
    broker = LocalBroker(tmp_path / "broker", Settings.from_env().cache_dir)
    info = broker.start()
    yield broker, info.bootstrap_servers
    broker.stop()


def test_the_pipeline_resumes_after_the_broker_is_killed_and_restarted(own_broker, tmp_path, unique_name):
    broker, bootstrap = own_broker
    p = Pipeline.start(bootstrap, f"{unique_name}.", tmp_path / "home")
    sent: list[tuple[str, str]] = []
    stop_sending = threading.Event()

    def send() -> None:
        n = 0
        while not stop_sending.is_set():
            account, cl = f"B{n % 4}", f"b-{n}"
            instrument = ("AAPL", "MSFT")[n % 2]
            side = ("BUY", "SELL")[(n // 2) % 2]
            if n % 3 == 0:  # marketable limit: fills like a market order, on the limit price path
                price = "450.00" if side == "BUY" else "50.00"
                p.client.new_order(account=account, client_order_id=cl, instrument=instrument, side=side,
                                   quantity=10, limit_price=price)
            else:
                p.client.new_order(account=account, client_order_id=cl, instrument=instrument, side=side,
                                   quantity=10)
            sent.append((account, cl))
            n += 1
            if n % 10 == 0:
                _flush(p)
            time.sleep(1 / RATE)
        _flush(p)

    sender = threading.Thread(target=send, daemon=True)
    try:
        _send_first(p, sent)
        p.wait(lambda: p.views["fills"].all, timeout=120, what="the pipeline to fill a first order")
        sender.start()
        time.sleep(BEFORE_S)

        p.refresh()
        fills_before = len(p.views["fills"].all or [])
        assert fills_before > 0, "no fill before the broker was killed"
        pid = int(broker.pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        while broker._alive(pid):
            time.sleep(0.05)
        time.sleep(DOWN_S)
        broker.start()  # same data directory, same ports (kept in ports.json); returns once it answers
        answering = time.monotonic()
        print(f"\nbroker down {answering - killed_at:.1f}s (killed, restarted, answering)")

        def new_fill() -> bool:
            return len(p.views["fills"].all or []) > fills_before

        p.wait(new_fill, timeout=RESUME_WITHIN_S + 30, what="a first fill after the broker restart")
        recovery = time.monotonic() - answering
        print(f"recovery: first new fill {recovery:.1f}s after the broker answered")
        assert recovery <= RESUME_WITHIN_S

        time.sleep(AFTER_S)
        stop_sending.set()
        sender.join(timeout=120)
        assert not sender.is_alive()
        order_ids = {ids.order_id(a, c) for a, c in sent}

        def settled() -> bool:
            latest = p.views["orders"].latest
            return all(o in latest and latest[o].status not in PENDING for o in order_ids)

        p.wait(settled, timeout=300, what=f"all {len(order_ids)} orders to settle after the restart")
        p.refresh()
        for name in ("worker", "venue"):
            assert p.procs.alive(name), f"{name} died:\n{p.procs.log_tail(name)}"
        started = time.monotonic()
        code = p.procs.stop("worker", timeout=60)
        print(f"worker stopped by SIGTERM in {time.monotonic() - started:.1f}s with code {code}")
        assert code == 0, p.procs.log_tail("worker")
        worker_log = (p.procs.log_dir / "worker.log").read_text(errors="replace")
    finally:
        stop_sending.set()
        p.stop()

    # every order reached a fill or a terminal state, as the venue last reported it
    last_report = {}
    for report in p.views["exec_reports"].all:
        last_report[report.order_id] = report
    latest = p.views["orders"].latest
    assert len(order_ids) >= RATE * (BEFORE_S + AFTER_S) * 0.5
    for order_id in order_ids:
        report = last_report.get(order_id)
        assert report is not None, f"{order_id}: the venue never answered"
        assert (latest[order_id].status, latest[order_id].cum_qty) == (report.order_status, report.cum_qty)
        assert latest[order_id].status not in PENDING
    # nothing lost or duplicated on fills: one fill per venue execution
    fills = p.views["fills"].all
    assert len({f.fill_id for f in fills}) == len(fills)
    venue_fills = {(r.order_id, r.exec_id) for r in p.views["exec_reports"].all
                   if r.exec_type in (ExecType.PARTIAL_FILL, ExecType.FILL)}
    booked = [(f.order_id, f.exec_id) for f in fills if f.kind is FillKind.FILL]
    assert set(booked) == venue_fills and len(booked) == len(venue_fills)
    assert "order-engine: recovered" in worker_log  # the fault and the recovery were logged


def _send_first(p: Pipeline, sent: list[tuple[str, str]]) -> None:
    p.client.new_order(account="B0", client_order_id="b-first", instrument="AAPL", side="BUY", quantity=10)
    sent.append(("B0", "b-first"))
    _flush(p)


def _flush(p: Pipeline) -> None:
    """Flush the client's orders, waiting out a broker that is away."""
    for _ in range(20):
        try:
            p.client.flush(10)
            return
        except DeliveryError:
            continue
    raise AssertionError("orders not delivered for 200 s")

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
from confluent_kafka import Consumer, KafkaException, TopicPartition

from oms import ids
from oms.clock import LiveClock
from oms.config import Settings
from oms.events import ExecType, FillKind, OrderStatus
from streams.broker import LocalBroker
from streams.client import OrderClient
from streams.kafka import DeliveryError
from streams.views import TopicView
from tests.pipeline import Pipeline
from tests.streams.test_transaction_faults import open_transactions

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
    p = Pipeline.start(bootstrap, f"{unique_name}.", tmp_path / "home", worker_args=("--loglevel", "info"))
    sent: list[tuple[str, str]] = []
    stop_sending = threading.Event()
    client = _Resending(p)

    def send() -> None:
        n = 0
        while not stop_sending.is_set():
            account, cl = f"B{n % 4}", f"b-{n}"
            instrument = ("AAPL", "MSFT")[n % 2]
            side = ("BUY", "SELL")[(n // 2) % 2]
            order = dict(account=account, client_order_id=cl, instrument=instrument, side=side, quantity=10)
            if n % 3 == 0:  # marketable limit: fills like a market order, on the limit price path
                order["limit_price"] = "450.00" if side == "BUY" else "50.00"
            client.new_order(order)
            sent.append((account, cl))
            n += 1
            if n % 10 == 0:
                client.flush()
            time.sleep(1 / RATE)
        client.flush()

    sender = threading.Thread(target=send, daemon=True)
    try:
        _send_first(client, sent)
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

        try:
            p.wait(settled, timeout=300, what=f"all {len(order_ids)} orders to settle after the restart")
        except TimeoutError as exc:
            raise AssertionError(_where_stuck(p, order_ids, broker, bootstrap, f"{unique_name}.")) from exc
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


def _where_stuck(p: Pipeline, order_ids: set[str], broker: LocalBroker, bootstrap: str, prefix: str) -> str:
    """Which hop each unsettled order stopped at: its state, its journal events, what the venue
    requests and reports topics hold for it; the partitions a transaction left open holds a
    committed read on, whether the engine's committed offsets can be read, the broker's lines about
    transaction markers it skipped, and the processes' last log lines."""
    latest = p.views["orders"].latest
    stuck = sorted(o for o in order_ids if o not in latest or latest[o].status in PENDING)
    requests = TopicView(p.rt, p.rt.topics.venue_requests, keep_all=True)
    commands = TopicView(p.rt, p.rt.topics.commands, keep_all=True)
    try:
        requests.refresh(idle=1.0)
        commands.refresh(idle=1.0)
        lines = [f"{len(stuck)} of {len(order_ids)} orders unsettled"]
        for order_id in stuck[:15]:
            state = latest.get(order_id)
            lines.append(
                f"{order_id}: state={state.status.value if state else None}"
                f" commands={[type(e).__name__ for e in commands.all or [] if _command_order(e) == order_id]}"
                f" journal={[type(e).__name__ for e in p.journal(order_id)]}"
                f" requests={[type(e).__name__ for e in requests.all or [] if getattr(e, 'order_id', None) == order_id]}"
                f" reports={[(r.exec_type.value, r.order_status.value) for r in p.views['exec_reports'].all or [] if r.order_id == order_id]}")
    finally:
        requests.close()
        commands.close()
    lines.append("--- transactions left open (high watermark above the last stable offset) ---")
    lines.append("\n".join(open_transactions(bootstrap, prefix)) or "none")
    lines.append(f"--- the engine's committed offsets: {_engine_offsets(bootstrap, prefix)}")
    skipped = [line for line in broker.log_file.read_text(errors="replace").splitlines()
               if "Couldn't find leader endpoint" in line or "Initialized transactionalId" in line]
    lines.append("--- broker: transaction markers skipped, producers initialised ---\n" + "\n".join(skipped[-20:]))
    oms_lines = [line for line in p.procs.log_tail("worker", 20000).splitlines() if " oms." in line]
    lines.append("--- worker: the OMS's own lines ---\n" + "\n".join(oms_lines[-60:]))
    for name in ("worker", "venue"):  # the project's own log lines, without the Kafka clients' noise
        tail = [line for line in p.procs.log_tail(name, 4000).splitlines()
                if not line.startswith("%") and "aiokafka" not in line and "rdkafka" not in line]
        lines.append(f"--- {name} log ---\n" + "\n".join(tail[-150:]))
    lines.append(f"--- worker threads ---\n{p.stacks('worker')}")
    return "\n".join(lines)


def _engine_offsets(bootstrap: str, prefix: str) -> str:
    """The order engine's committed input offsets, as a committed read sees them (it waits while
    offsets of an open transaction are pending)."""
    group = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{prefix}order-engine",
                      "isolation.level": "read_committed"})
    try:
        inputs = [TopicPartition(f"{prefix}{topic}", partition) for topic in ("commands", "exec.reports")
                  for partition in range(3)]
        return ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in group.committed(inputs, timeout=10))
    except KafkaException as exc:
        return f"not readable: {exc}"
    finally:
        group.close()


def _command_order(command) -> str | None:
    account, client_order_id = getattr(command, "account", None), getattr(command, "client_order_id", None)
    return ids.order_id(account, client_order_id) if account and client_order_id else None


def _send_first(client: "_Resending", sent: list[tuple[str, str]]) -> None:
    client.new_order(dict(account="B0", client_order_id="b-first", instrument="AAPL", side="BUY", quantity=10))
    sent.append(("B0", "b-first"))
    client.flush()


class _Resending:
    """A trader's client through a broker outage: a command the broker refused for good is sent
    again (the same client order id), and a producer a fatal error left unusable is replaced, so
    every command sent reaches `commands`; `landed` is what the broker confirmed."""

    def __init__(self, p: Pipeline) -> None:
        self._p = p
        self._client = p.client
        self._refused: list[dict] = []
        self.landed: set[tuple[str, str]] = set()
        self.resent = 0

    def new_order(self, order: dict) -> None:
        while self._refused:
            self.resent += 1
            self._send(self._refused.pop(0))
        self._send(order)

    def _send(self, order: dict) -> None:
        def told(error: str | None, order=order) -> None:
            if error is None:
                self.landed.add((order["account"], order["client_order_id"]))
            else:
                self._refused.append(order)

        for _ in range(3):
            try:
                self._client.new_order(on_delivery=told, **order)
                return
            except KafkaException as exc:
                if not exc.args[0].fatal():
                    raise
                self._client = OrderClient(self._p.rt.event_producer(), self._p.rt.topics, trader="tester",
                                           clock=LiveClock())
        raise AssertionError(f"{order['client_order_id']}: the client could not send it")

    def flush(self) -> None:
        """Wait until every command sent so far is delivered, sending the refused ones again."""
        for _ in range(40):
            try:
                self._client.flush(10)
                delivered = True
            except DeliveryError:  # still queued (the broker is away), or refused (sent again below)
                delivered = False
            if delivered and not self._refused:
                return
            while self._refused:
                self.resent += 1
                self._send(self._refused.pop(0))
        raise AssertionError("commands not delivered for 400 s")

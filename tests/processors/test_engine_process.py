"""The order engine in a process of its own, owned by the worker, on a real broker: it trades, it
serves its own metrics, it dies with a worker killed -9 (so no engine outlives its worker holding the
transactional id), and a worker whose engine process dies stops non-zero for its supervisor."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from uuid import uuid4

import pytest

from oms import ids
from oms.events import OrderStatus
from streams import metrics
from tests.pipeline import Pipeline

pytestmark = pytest.mark.kafka


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of process `pid` from /proc, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _running(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def _engine_pid(p: Pipeline, home: Path) -> int:
    """The pid of the worker's engine process, from the run file its metrics endpoint wrote."""
    worker = p.procs.procs["worker"].pid

    def found():
        pids = [e.pid for e in metrics.endpoints(home) if e.process == "engine" and _running(e.pid)]
        return next((pid for pid in pids if _stat(pid)[1] == worker), None)

    return p.procs.wait_until(found, timeout=60, what="the engine process's metrics run file")


def _filled(p: Pipeline, account: str, client_order_id: str) -> None:
    p.client.new_order(account=account, client_order_id=client_order_id, instrument="AAPL", side="BUY",
                       quantity="10")
    p.client.flush()
    order_id = ids.order_id(account, client_order_id)

    def status():
        view = p.views["orders"].latest.get(order_id)
        return view is not None and view.status is OrderStatus.FILLED

    p.wait(status, 90, f"order {client_order_id} to fill")


def test_the_engine_trades_in_its_own_process_and_dies_with_a_killed_worker(bootstrap_servers, tmp_path):
    p = Pipeline.start(bootstrap_servers, f"ep{uuid4().hex[:8]}.", tmp_path)
    try:
        _filled(p, "EP-1", "e-1")
        worker = p.procs.procs["worker"].pid
        engine = _engine_pid(p, tmp_path)
        assert engine != worker
        assert any(e.process == "worker" and e.pid == worker for e in metrics.endpoints(tmp_path))

        p.procs.kill("worker", signal.SIGKILL)

        p.procs.wait_until(lambda: not _running(engine), timeout=15, what="the engine to die with its worker")
        p.procs.start_worker()  # a new worker fences nothing stale and trades on
        _filled(p, "EP-1", "e-2")
    finally:
        p.stop()


def test_a_worker_whose_engine_process_dies_stops_non_zero(bootstrap_servers, tmp_path):
    p = Pipeline.start(bootstrap_servers, f"ep{uuid4().hex[:8]}.", tmp_path)
    try:
        worker = p.procs.procs["worker"]
        engine = _engine_pid(p, tmp_path)

        os.kill(engine, signal.SIGKILL)

        code = worker.wait(timeout=90)
        assert code != 0
        assert "the order engine process ended" in p.procs.log_tail("worker", 200)
    finally:
        p.stop()

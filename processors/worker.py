"""The OMS worker process: the order engine (a thread on Kafka transactions) and the
faust app (position manager, marks) in one process.

The engine rebuilds its RocksDB state from its changelog whenever partitions
are assigned, so a kill -9 at any point restarts from committed state. A
broker that goes away and comes back is ridden out: the engine recovers by
itself (`streams.processor`), the post-trade monitor is restarted when it
fails (a flush that timed out while the broker was away), and faust reconnects
through aiokafka. If the engine fails for good, or faust stops, the worker
exits non-zero for its supervisor to restart it. The
faust stores are a cache of their changelog topics: after a clean stop they
are reused; after an unclean one (kill -9, crash) they are thrown away and
rebuilt from the changelogs.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading

import faust

from oms.clock import LiveClock
from oms.config import Settings
from processors.app import WorkerOptions, app_id, create_app
from processors.engine import create_engine, follow_risk_inputs
from processors.risk import run_monitor
from streams.codec import make_codec
from streams.kafka import EventProducer
from streams.topics import Topics

log = logging.getLogger("oms.worker")

RESTART_PAUSE_S = 2.0
"""Pause before a failed background loop (the post-trade monitor) is run again."""


def run_restarting(name: str, target, stop: threading.Event, *args, **kwargs) -> None:
    """Run `target(*args, stop, **kwargs)` until `stop` is set, running it again after a pause
    whenever it raises (e.g. the broker was away longer than a flush waits)."""
    while not stop.is_set():
        try:
            target(*args, stop, **kwargs)
            return
        except Exception:
            log.exception("%s failed; running it again in %.0fs", name, RESTART_PAUSE_S)
        stop.wait(RESTART_PAUSE_S)


def run_worker(settings: Settings, bootstrap_servers: str, options: WorkerOptions = WorkerOptions(),
               loglevel: str = "warning") -> int:
    topics = Topics(settings.topic_prefix)
    name = app_id(topics)
    datadir = settings.home / "worker" / name
    marker = settings.home / "worker" / f"{name}.clean"
    if datadir.exists() and not marker.exists():
        log.warning("previous stop was not clean: rebuilding state stores from the changelogs")
        shutil.rmtree(datadir)
    marker.unlink(missing_ok=True)
    datadir.parent.mkdir(parents=True, exist_ok=True)

    codec = make_codec(settings.schema_registry_url)
    controls, references = follow_risk_inputs(bootstrap_servers, topics, codec)
    controls.wait_caught_up(30)  # never trade on a partial view of the risk controls
    clock = LiveClock()  # the worker process is where the wall clock enters
    engine = create_engine(bootstrap_servers, topics, codec, settings.home, router=options.router,
                           clock=clock, controls=controls, references=references)
    stop = threading.Event()
    failure: list[BaseException] = []

    def run_engine() -> None:
        try:
            engine.run(stop)
        except BaseException as exc:  # the worker must not live on without its engine
            failure.append(exc)
            log.exception("order engine failed")
            os.kill(os.getpid(), signal.SIGTERM)

    engine_thread = threading.Thread(target=run_engine, name="order-engine", daemon=True)
    engine_thread.start()

    monitor_producer = EventProducer.connect(bootstrap_servers, codec)
    monitor_thread = threading.Thread(
        target=run_restarting, name="post-trade-risk", daemon=True,
        args=("post-trade risk monitor", run_monitor, stop, bootstrap_servers, topics, codec, monitor_producer),
        kwargs={"controls": controls, "references": references, "clock": clock},
    )
    monitor_thread.start()

    app = create_app(settings, bootstrap_servers, options=options, clock=clock, codec=codec)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, override_logging=False)
    code = 1
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    stop.set()
    engine_thread.join(timeout=30)
    monitor_thread.join(timeout=10)
    controls.stop()
    references.stop()
    if failure:
        code = code or 1
    log.info("order engine: %s", engine.stats)
    if code == 0:
        marker.touch()
    return code

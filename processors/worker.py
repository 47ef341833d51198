"""The OMS worker process: the order engine (a thread on Kafka transactions) and the
faust app (position manager, marks) in one process.

The engine rebuilds its RocksDB state from its changelog whenever partitions
are assigned, so a kill -9 at any point restarts from committed state. A
broker that goes away and comes back is ridden out: the engine recovers by
itself (`streams.processor`), the post-trade monitor is restarted when it
fails (a flush that timed out while the broker was away), and faust reconnects
through aiokafka. If the engine fails for good, or faust stops, the worker
exits non-zero for its supervisor to restart it.

aiokafka reconnecting is not the same as faust making progress, so a liveness
check watches the faust side (`Liveness`): every few seconds it reads the end
offsets of the journal partitions the position manager is assigned (from the
broker, on a client of its own) and how many records the position manager has
handled. Stuck means the journal grew (by more than a commit marker) while
the position manager handled nothing, for longer than `WorkerOptions.liveness_timeout_s`; a quiet journal
(no growth, so no lag) is healthy however long it lasts, and while the broker
does not answer there is no evidence either way (the clock starts again when
it does). A position manager that halted (a publish or a table changelog
write the broker refused) is stuck at once. Then the worker logs an ERROR and exits non-zero (hard, if a
blocked event loop keeps faust from stopping); the state is sound on restart:
the engine's is committed with its transactions, the position manager
publishes before it stores and re-applies idempotently. One limit: a journal
that grows only by a transaction the engine aborted and never redid also
looks like lag (the restart this causes is harmless).

The faust stores are a cache of their changelog topics: after a clean stop they
are reused; after an unclean one (kill -9, crash) they are thrown away and
rebuilt from the changelogs.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

import faust

from hostio import name_thread
from oms.clock import Clock
from oms.config import Settings
from oms.domain.sor import parse_fees
from oms.routing import RoutingRules
from processors.app import Progress, WorkerOptions, app_id, create_app
from processors.engine import SmartRoutingSource, create_engine, follow_books, follow_risk_inputs, follow_venue_status
from processors.risk import run_monitor
from streams import metrics
from streams.codec import make_codec
from streams.kafka import EventProducer
from streams.reader import TopicReader
from streams.topics import Topics

log = logging.getLogger("oms.worker")

RESTART_PAUSE_S = 2.0
"""Pause before a failed background loop (the post-trade monitor) is run again."""


def run_restarting(name: str, target, stop: threading.Event, *args, **kwargs) -> None:
    """Run `target(*args, stop, **kwargs)` until `stop` is set, running it again after a pause
    whenever it raises (e.g. the broker was away longer than a flush waits)."""
    name_thread(name)
    while not stop.is_set():
        try:
            target(*args, stop, **kwargs)
            return
        except Exception:
            log.exception("%s failed; running it again in %.0fs", name, RESTART_PAUSE_S)
        stop.wait(RESTART_PAUSE_S)


STOP_GRACE_S = 30.0
"""How long a worker given up by the liveness check may take to stop before it is ended hard."""
MARKER_SLACK = 1
"""Growth of a journal partition that is no news: the engine appends a transaction's commit marker
after its records, so a baseline taken between the two is one offset short (one open transaction
per journal partition: one engine writes it)."""
PROBE_TIMEOUT_S = 5.0
"""Bound of one end-offsets query of the liveness check."""


@dataclass
class Liveness:
    """The faust side's liveness rule, pure: fed (monotonic time, records handled, journal end
    offsets of the assigned partitions or None when the broker did not answer), it tells whether
    the position manager has been stuck for longer than `timeout_s`."""

    timeout_s: float
    _handled: int | None = None
    _baseline: Mapping[int, int] | None = None
    """End offsets when the position manager last made progress (or was first seen, or its
    assignment changed)."""
    _stalled_since: float | None = field(default=None, repr=False)

    def stuck_for(self, now: float, handled: int, ends: Mapping[int, int] | None) -> float:
        """Seconds the position manager has been stuck (0.0 when healthy)."""
        if ends is None:  # no evidence while the broker is away; faust gets a full timeout when it is back
            self._stalled_since = None
            return 0.0
        if self._baseline is None or handled != self._handled or set(ends) != set(self._baseline):
            # progress, the first look, or another assignment (whose ends are no news): a new baseline
            self._handled, self._baseline, self._stalled_since = handled, dict(ends), None
            return 0.0
        grew = any(end > self._baseline[partition] + MARKER_SLACK for partition, end in ends.items())
        if not grew:  # quiet: nothing new to handle (at most the marker of a commit)
            self._stalled_since = None
            return 0.0
        if self._stalled_since is None:
            self._stalled_since = now
        return now - self._stalled_since


def journal_ends(reader: TopicReader, journal: str, assigned: frozenset[int]) -> dict[int, int] | None:
    """End offsets of the journal partitions `assigned` (all of them while faust reports none:
    a worker not in its group yet, or out of it, handles nothing), None if the broker did not answer."""
    try:
        ends = reader.end_offsets(journal, timeout=PROBE_TIMEOUT_S)
    except Exception as exc:
        log.debug("liveness: journal end offsets not available: %s", exc)
        return None
    return {p: end for p, end in ends.items() if p in assigned} if assigned else ends


def watch_liveness(progress: Progress, ends: Callable[[], dict[int, int] | None], liveness: Liveness,
                   interval_s: float, stop: threading.Event, give_up: Callable[[str], None]) -> None:
    """Every `interval_s` until `stop`: look, and `give_up(reason)` once the faust side is stuck."""
    name_thread("faust-liveness")
    while not stop.wait(interval_s):
        if progress.halted is not None:
            give_up(f"the position manager halted: {progress.halted}")
            return
        stalled = liveness.stuck_for(time.monotonic(), progress.handled, ends())
        if stalled > liveness.timeout_s:
            give_up(f"the position manager handled nothing for {stalled:.0f}s while the journal grew "
                    f"(timeout {liveness.timeout_s:.0f}s)")
            return


def run_worker(settings: Settings, bootstrap_servers: str, options: WorkerOptions = WorkerOptions(),
               loglevel: str = "warning", *, clock: Clock) -> int:
    topics = Topics(settings.topic_prefix)
    name = app_id(topics)
    if settings.worker_instance != "0":  # another worker of the same groups: its own state stores
        settings = settings.with_(home=settings.home / "instances" / settings.worker_instance)
    datadir = settings.home / "worker" / name
    marker = settings.home / "worker" / f"{name}.clean"
    if datadir.exists() and not marker.exists():
        log.warning("previous stop was not clean: rebuilding state stores from the changelogs")
        shutil.rmtree(datadir)
    marker.unlink(missing_ok=True)
    datadir.parent.mkdir(parents=True, exist_ok=True)

    metrics.serve(settings, "worker")
    codec = make_codec(settings.schema_registry_url)
    controls, references = follow_risk_inputs(bootstrap_servers, topics, codec, defaults=settings.default_limits)
    controls.wait_caught_up(30)  # never trade on a partial view of the risk controls
    venues = follow_venue_status(bootstrap_servers, topics, codec)
    books = follow_books(bootstrap_servers, topics, codec) if settings.routing.strip() else None
    smart = None if books is None else SmartRoutingSource(
        RoutingRules.parse(settings.routing), parse_fees(settings.venue_fees) if settings.venue_fees.strip() else {},
        books, venues)
    engine = create_engine(bootstrap_servers, topics, codec, settings.home, router=options.router,
                           clock=clock, instance=settings.worker_instance, controls=controls, references=references,
                           external_orders=settings.external_orders, venues=venues, smart=smart)
    stop = threading.Event()
    failure: list[BaseException] = []

    def run_engine() -> None:
        name_thread("order-engine")
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

    progress = Progress()
    app = create_app(settings, bootstrap_servers, options=options, clock=clock, codec=codec, progress=progress)

    def give_up(reason: str) -> None:
        log.error("faust side stuck, stopping the worker for a restart: %s", reason)
        failure.append(RuntimeError(reason))
        os.kill(os.getpid(), signal.SIGTERM)
        if not stop.wait(STOP_GRACE_S):  # faust could not stop (a blocked event loop): end hard
            log.error("the worker did not stop within %.0fs; exiting", STOP_GRACE_S)
            logging.shutdown()
            os._exit(1)

    probe = TopicReader.connect(bootstrap_servers)
    liveness_thread = threading.Thread(
        target=watch_liveness, name="faust-liveness", daemon=True,
        args=(progress, lambda: journal_ends(probe, topics.journal, progress.assigned),
              Liveness(options.liveness_timeout_s), options.liveness_interval_s, stop, give_up),
    )
    liveness_thread.start()
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, override_logging=False)
    code = 1
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    stop.set()
    engine_thread.join(timeout=30)
    monitor_thread.join(timeout=10)
    liveness_thread.join(timeout=PROBE_TIMEOUT_S * 2)
    probe.close()
    controls.stop()
    references.stop()
    venues.stop()
    if books is not None:
        books.stop()
    if failure:
        code = code or 1
    log.info("order engine: %s", engine.stats)
    if code == 0:
        marker.touch()
    return code

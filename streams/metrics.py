"""Prometheus metrics of one OMS process, its `/metrics` endpoint, and reading them back.

Every process (worker: order engine + position manager + post-trade risk;
venue gateway; market data handler) calls `serve(settings, process)` once: it
serves the process's metrics over HTTP on `settings.metrics_port` (0: any free
port, -1: none) and writes where in `<home>/run/<process>-<pid>.json`, which
`oms health` reads (`endpoints`, `scrape`). The metrics, all prefixed `oms_`:

| metric | kind | labels | fed by |
|---|---|---|---|
| `oms_stage_latency_seconds` | histogram | stage | the engine's journal (`oms.metrics.stage_latencies`) |
| `oms_transactions_total`, `oms_inputs_total` | counter | processor | each committed transaction (rate = TPS) |
| `oms_consumer_lag` | gauge | group, topic, partition | librdkafka statistics of each consumer |
| `oms_dead_letters_total` | counter | processor | every dead letter written |
| `oms_denials_total`, `oms_venue_rejects_total`, `oms_anomalies_total` | counter | reason | the engine's journal |
| `oms_venue_breaker_state` | gauge (0 closed, 1 half-open, 2 open) | venue | the gateway core's `VenueStatus` |
| `oms_venue_rate_limit_tokens` | gauge | venue, pool | the same |
| `oms_venue_requests_queued`, `oms_venue_requests_in_flight` | gauge | venue | the same |
| `oms_last_activity_timestamp_seconds` | gauge | processor | each commit / status |
| `oms_processor_health` | enum | processor | the transactional processor's `health` |
| `oms_loop_phase_seconds` | histogram | processor, phase | each transaction of a transactional processor (wait, fetch, begin, apply, send_offsets, commit, store) and each turn of the venue gateway |

The hooks (`journaled`, `committed`, `dead_lettered`, `venue_status`,
`processor_health`, `lag_reporter`) are cheap and never raise into the caller.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from prometheus_client import REGISTRY, Counter, Enum, Gauge, Histogram, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from oms import metrics as names
from oms.config import Settings
from oms.events import Event, JournalEvent

__all__ = [
    "Endpoint", "activity", "committed", "dead_lettered", "endpoints", "journaled", "lag_reporter", "phases",
    "processor_health", "scrape", "serve", "venue_status",
]

log = logging.getLogger("oms.metrics")

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

STAGE_LATENCY = Histogram("oms_stage_latency_seconds", "Seconds from an order stage's cause to its journal event",
                          ["stage"], buckets=LATENCY_BUCKETS)
TRANSACTIONS = Counter("oms_transactions", "Transactions committed", ["processor"])
INPUTS = Counter("oms_inputs", "Input records processed", ["processor"])
CONSUMER_LAG = Gauge("oms_consumer_lag", "Records behind the partition's end", ["group", "topic", "partition"])
DEAD_LETTERS = Counter("oms_dead_letters", "Records written to the dead-letter topic", ["processor"])
DENIALS = Counter("oms_denials", "Orders denied before a venue", ["reason"])
REJECTS = Counter("oms_venue_rejects", "Orders rejected by a venue", ["reason"])
ANOMALIES = Counter("oms_anomalies", "Inputs that could not apply to an order", ["reason"])
BREAKER = Gauge("oms_venue_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open", ["venue"])
TOKENS = Gauge("oms_venue_rate_limit_tokens", "Rate-limit tokens left", ["venue", "pool"])
QUEUED = Gauge("oms_venue_requests_queued", "Requests waiting for tokens or a connection", ["venue"])
IN_FLIGHT = Gauge("oms_venue_requests_in_flight", "Requests sent and not answered", ["venue"])
LAST_ACTIVITY = Gauge("oms_last_activity_timestamp_seconds", "When the processor last did work", ["processor"])
PHASE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 10.0)
LOOP_PHASE = Histogram("oms_loop_phase_seconds", "Seconds one phase of a processing loop took (per transaction or turn)",
                       ["processor", "phase"], buckets=PHASE_BUCKETS)
HEALTH = Enum("oms_processor_health", "The transactional processor's health", ["processor"],
              states=["RUNNING", "RECOVERING", "FAILED"])


def _safe(hook: Callable) -> Callable:
    def guarded(*args, **kwargs):
        try:
            hook(*args, **kwargs)
        except Exception:  # a metric must never stop the processing it measures
            log.debug("metric hook %s failed", hook.__name__, exc_info=True)
    guarded.__name__ = hook.__name__
    guarded.__doc__ = hook.__doc__
    return guarded


# ------------------------------------------------------------------ hooks


@_safe
def journaled(cause: Event, journal: Iterable[JournalEvent]) -> None:
    """The engine wrote `journal` for the input `cause`: stage latencies, denials, rejects, anomalies."""
    journal = list(journal)
    for stage, seconds in names.stage_latencies(cause, journal):
        STAGE_LATENCY.labels(stage).observe(seconds)
    counters = {"denial": DENIALS, "reject": REJECTS, "anomaly": ANOMALIES}
    for kind, reason in names.outcomes(journal):
        counters[kind].labels(reason).inc()


@_safe
def committed(processor: str, inputs: int) -> None:
    """One transaction of `inputs` records committed by `processor`."""
    TRANSACTIONS.labels(processor).inc()
    INPUTS.labels(processor).inc(inputs)
    LAST_ACTIVITY.labels(processor).set_to_current_time()


@_safe
def phases(processor: str, timings: Iterable[tuple[str, float]]) -> None:
    """How long each phase of one transaction or turn of `processor`'s loop took (phase, seconds)."""
    for phase, seconds in timings:
        LOOP_PHASE.labels(processor, phase).observe(seconds)


@_safe
def activity(processor: str, records: int) -> None:
    """`processor` handled `records` outside a transaction (e.g. published market data)."""
    INPUTS.labels(processor).inc(records)
    LAST_ACTIVITY.labels(processor).set_to_current_time()


@_safe
def dead_lettered(processor: str, count: int = 1) -> None:
    DEAD_LETTERS.labels(processor).inc(count)


@_safe
def processor_health(processor: str, state: str) -> None:
    HEALTH.labels(processor).state(state)


@_safe
def venue_status(status) -> None:
    """A `VenueStatus` the gateway core published: breaker, tokens, queue, in flight."""
    venue = status.venue
    BREAKER.labels(venue).set(names.breaker_level(status.breaker))
    for pool, left in names.parse_tokens(status.tokens).items():
        TOKENS.labels(venue, pool).set(float(left))
    QUEUED.labels(venue).set(status.queued_cancel + status.queued_replace + status.queued_status + status.queued_new)
    IN_FLIGHT.labels(venue).set(status.in_flight)
    LAST_ACTIVITY.labels(f"gateway:{status.gateway}").set_to_current_time()


def lag_reporter(group: str) -> Callable[[str], None]:
    """A librdkafka `stats_cb` setting `oms_consumer_lag` for each partition the consumer fetches."""
    @_safe
    def on_stats(text: str) -> None:
        stats = json.loads(text)
        for topic, t in stats.get("topics", {}).items():
            for partition, p in t.get("partitions", {}).items():
                # records between the position handed to the application and the (last stable) end;
                # `consumer_lag` counts from the committed offset, unknown to a consumer whose offsets
                # are committed by a producer's transaction
                lag = p.get("consumer_lag_stored", -1)
                lag = lag if lag is not None and lag >= 0 else p.get("consumer_lag", -1)
                if partition != "-1" and lag is not None and lag >= 0:
                    CONSUMER_LAG.labels(group, topic, partition).set(lag)
    return on_stats


LAG_STATS_INTERVAL_MS = 5000
"""How often each consumer reports its lag (librdkafka `statistics.interval.ms`)."""


def lag_config(group: str) -> dict:
    """Consumer properties that report the group's lag per partition into `oms_consumer_lag`."""
    return {"statistics.interval.ms": LAG_STATS_INTERVAL_MS, "stats_cb": lag_reporter(group)}


# ------------------------------------------------------------------ the endpoint


@dataclass(frozen=True)
class Endpoint:
    """One process's `/metrics`, as its run file tells."""

    process: str
    pid: int
    port: int
    file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    @property
    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def run_dir(home: Path) -> Path:
    return Path(home) / "run"


_served: dict[str, Endpoint] = {}
"""The endpoints this process serves, by process name (a second `serve` for one returns it)."""


def serve(settings: Settings, process: str, addr: str = "0.0.0.0") -> Endpoint | None:
    """Serve this process's metrics on `settings.metrics_port` (0 any free port, -1 none) and write
    `<home>/run/<process>-<pid>.json` (removed at exit) so `oms health` finds it. Once per process
    name: a process running the same component again (tests) keeps its first endpoint."""
    if settings.metrics_port < 0:
        return None
    if process in _served:
        return _served[process]
    try:
        server, _thread = start_http_server(settings.metrics_port, addr=addr, registry=REGISTRY)
    except OSError as exc:  # a fixed port another process holds: serve anyway, on a free one
        log.warning("metrics port %d of %s not available (%s): using a free port", settings.metrics_port,
                    process, exc)
        server, _thread = start_http_server(0, addr=addr, registry=REGISTRY)
    port = server.server_address[1]
    folder = run_dir(settings.home)
    folder.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    path = folder / f"{process}-{pid}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"process": process, "pid": pid, "port": port}) + "\n")
    os.replace(tmp, path)
    atexit.register(path.unlink, missing_ok=True)
    log.info("metrics of %s on http://%s:%d/metrics", process, addr, port)
    _served[process] = Endpoint(process, pid, port, path)
    return _served[process]


def endpoints(home: Path) -> list[Endpoint]:
    """Every process that wrote a run file under `<home>/run` (alive or not), by process name."""
    found = []
    for path in sorted(run_dir(home).glob("*.json")):
        try:
            data = json.loads(path.read_text())
            found.append(Endpoint(str(data["process"]), int(data["pid"]), int(data["port"]), path))
        except (OSError, ValueError, KeyError):
            continue
    return found


def scrape(url: str, timeout: float = 2.0) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The samples at `url`, by sample name (e.g. `oms_transactions_total`): [(labels, value)]."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        text = response.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples

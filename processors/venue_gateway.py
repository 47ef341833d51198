"""The venue gateway: venue requests and market data in, execution reports and venue status out, via venue adapters.

This processor owns the Kafka side of the venues: it consumes `venue.requests`
(consumer group `f"{prefix}venue-gateway"`; requests for venues it does not
serve are skipped) and `marketdata`, each admitting only its own event types
(`streams.topics.admitted`: a record of another type is dead-lettered with the
reason and counts as handled), hands them to the pure core
(`oms.venues.gateway.GatewayCore`: per-venue queues and weighted rate limits,
circuit breakers, in-flight deadlines, held reports, committable offsets)
over one `VenueAdapter` per venue (simulated exchanges by default, or the
adapters given, e.g. FIX sessions), and publishes the reports to
`exec.reports` keyed by account. Every turn it polls every adapter through
the core (`GatewayCore.tick`: asynchronous reports, connection changes,
cooldowns, expired waits, missed deadlines), publishes each venue's
`VenueStatus` on `venue.status` (keyed by venue; on every change, and every
few seconds) and each `VenueAlert` (a request never answered), and applies
the operators' `VenueControl`s it follows on `venue.status` (`oms venue
breaker VENUE open|close|auto`). At start (for each venue connected then) and
whenever a venue (re)connects it calls the reconciliation hook `processors.reconcile.reconcile_venue(runtime,
settings, adapter, now)` and publishes the reports it returns (the import is
guarded: without that module there is no reconciliation, and the gateway
says so once). Delivery is at-least-once: a request's
offset is committed only after it left the queue and every report it caused was published and
flushed; a replayed request is answered again with the same exec ids by the
exchange (idempotent by request id) and the engine ignores repeated exec ids.
When the broker goes away the loop keeps turning: reports stay queued in the
producer (no message timeout: the client retries until the broker is back),
offsets are not committed until they are delivered, a refused commit is tried
again, and the fault and the recovery are each logged once. A report the broker
refuses for good raises (the process exits non-zero, a supervisor restarts it,
the requests are read again from the committed offsets).
Market data is read by a second consumer assigned (not subscribed) and never
committing: a venue needs the current top of book, not history. At start it
reads the recent past (the last `MARKET_TAIL` records of each partition) and
gives each venue only the last quote per instrument, so a market order sent
right after the gateway starts finds a market; then it follows what arrives. Simulated latency is honoured without
sleeping per message: the core holds reports until the clock reaches their
`ts_event`, and the loop sleeps until the core's next due time at most.
Simulated exchange state lives in memory: a restarted gateway starts with
empty books and no working orders. On stop every adapter is closed.
Its entry point is `entrypoints.venue` (`oms venue`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Mapping, Sequence

from oms import keys
from oms.clock import Clock
from oms.config import Settings
from oms.domain.tokens import RateLimit
from oms.events import ConnectionState, ExecutionReport, Quote, VenueAlert, VenueControl, VenueReconcileRequest, VenueStatus
from oms.routing import VenueAvailability
from oms.venues import VenueAdapter, VenueUnavailable
from oms.venues.gateway import DEFAULT_RATE_LIMIT, RATE_LIMITED, GatewayCore, GatewayStats
from oms.venues.policy import VenueLimits
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig
from processors.reconcile import reconcile_collected, reconcile_venue
from streams import metrics
from streams.kafka import EventConsumer, Received
from streams.records import Record, dead_letter
from streams.tables import FollowedTopic
from streams.topics import admitting

__all__ = ["DEFAULT_RATE_LIMIT", "GatewayCore", "GatewayStats", "RATE_LIMITED", "RateLimit", "load_reconcile",
           "run_gateway"]

log = logging.getLogger("oms.venue_gateway")

PROCESSOR = "venue-gateway"
LOG_EVERY_S = 10.0
"""How often the gateway logs its counters while running (and once more when it stops)."""
MAX_BATCH = 500
"""Most records read from one consumer in one turn of the loop."""
DELIVERY_WAIT_S = 2.0
"""Longest one turn of the loop waits for the broker to take the reports (then it turns again)."""
ASYNC_POLL_S = 0.002
"""Longest wait for requests in one turn while an asynchronous venue (FIX) is served: its reports are
picked up at the next turn."""
MASS_STATUS_WAIT_NS = 10 * 10**9
"""How long an asynchronous venue may take to answer a reconciliation's mass status."""
MARKET_TAIL = 2_000
"""Market data records per partition read back at start for the last quote of each instrument."""
MARKET_TAIL_WAIT_S = 10.0
"""Longest the start waits for that recent past (the broker may be slow to answer)."""
SESSION_TIMEOUT_MS = 10_000
"""The request consumer's session timeout: a gateway restarted after a crash waits this long for its partitions."""
COMMIT_RETRY_S = 1.0
"""Pause before committing again after the broker refused a commit."""


# ------------------------------------------------------------------ the loop


def _runtime(settings: Settings, runtime):
    if runtime is not None:
        return runtime
    from streams.runtime import connect  # local: resolving may start the local broker

    return connect(settings)


def load_reconcile():
    """The reconciliation of a synchronous adapter: `processors.reconcile.reconcile_venue(runtime,
    settings, adapter, now) -> list[ExecutionReport]` (an asynchronous one's mass status answers are
    collected through its polls, then given to `processors.reconcile.reconcile_collected`)."""
    return reconcile_venue


def run_gateway(
    settings: Settings,
    venue_names: Sequence[str],
    seed: int,
    config: SimulatedVenueConfig | Mapping[str, SimulatedVenueConfig] | None = None,
    stop: threading.Event | None = None,
    clock: Clock | None = None,
    *,
    group_id: str | None = None,
    rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
    limits: VenueLimits | None = None,
    adapters: Mapping[str, VenueAdapter] | None = None,
    ready: threading.Event | None = None,
    runtime=None,
    poll_timeout: float = 0.02,
    reconcile=load_reconcile,
) -> GatewayStats:
    """Run venues `venue_names` until `stop` is set; returns the counters.

    The venues are `adapters` (by name) when given, else simulated exchanges
    made from `seed` and `config` (one config for every venue or one per venue
    name). `limits` gives each venue's policy (`oms.venues.policy`; from
    `Settings.venue_limits`); without it every venue has one pool at
    `rate_limit` (`RateLimit.of(rate, burst)`, None: no limit). `group_id`
    defaults to `f"{prefix}venue-gateway"`: gateways serving different venues
    need different group ids, or they would split the partitions and skip each
    other's requests. The request consumer's session is short (10 s), so a
    gateway restarted after a crash gets its partitions back soon. `clock` is required (it stamps reports, statuses and dead
    letters). `ready` is set once both consumers are in place (market data
    published after it is seen). `reconcile` returns the reconciliation hook or
    None (default: `load_reconcile`). Reports are held until `clock` reaches
    their `ts_event`; on stop, held reports are published at once, flushed,
    the offsets committed and the adapters closed.
    """
    if clock is None:
        raise TypeError("run_gateway: pass the clock (LiveClock() in a process, TestClock in tests)")
    if adapters is not None:
        venues = dict(adapters)
    else:
        names = list(dict.fromkeys(venue_names))
        configs = config if isinstance(config, Mapping) else {name: config for name in names}
        venues = {name: SimulatedExchange(name, seed, configs.get(name), started_ns=clock.now_ns()) for name in names}
    if not venues:
        raise ValueError("venue_names: give at least one venue")
    stop = stop or threading.Event()
    rt = _runtime(settings, runtime)
    metrics.serve(settings, "venue-gateway")
    topics = rt.topics
    group = group_id or f"{settings.topic_prefix}venue-gateway"
    core = GatewayCore(venues, rate_limit, limits=limits, gateway=group[:64])
    hook = reconcile() if reconcile is not None else None

    # a short session: restarted after kill -9, the gateway gets its partitions back once the dead
    # member's session has expired (a dynamic member: a static one can be fenced by its own earlier
    # member id after a broker outage longer than its session, which librdkafka reports as fatal)
    requests = rt.event_consumer(group, PROCESSOR, clock=clock, **{"session.timeout.ms": SESSION_TIMEOUT_MS})
    marketdata = rt.event_consumer(f"{group}.marketdata", PROCESSOR, clock=clock)
    producer = rt.event_producer(**{"message.timeout.ms": 0})  # never give up on a report: retry until delivered
    outbox = _Outbox(producer, requests, core)
    following = FollowedTopic(rt.bootstrap_servers, topics.venue_status, rt.codec, VenueAvailability(),
                              admitting("venue.status", VenueAvailability.fold))
    applied: dict[str, VenueControl] = {}
    reconciled: dict[str, VenueReconcileRequest] = {}
    collecting: dict[str, int] = {}  # venue -> when to stop waiting for its mass status answers
    # an asynchronous venue's reports arrive between polls of the request topic: wait less for requests
    turn_wait = poll_timeout if all(v.synchronous for v in venues.values()) else min(poll_timeout, ASYNC_POLL_S)
    started = clock.now_ns()

    def refuse(consumer: EventConsumer, record: Record, reason: str) -> None:
        """Dead-letter a decoded record its topic does not admit; its offset counts as handled."""
        log.warning("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason)
        producer.send(topics.deadletter, record.text_key or "-", dead_letter(record, reason, PROCESSOR,
                                                                              clock.now_ns()))
        consumer.rejected.append((record.topic, record.partition, record.offset))
        outbox.sent = True

    def poll(consumer: EventConsumer, timeout: float) -> Received | None:
        """The next decoded event its topic admits (`streams.topics.admitted`: VenueRequest on
        venue.requests, Quote and Trade on marketdata); any other is refused."""
        record = consumer.reader.poll(timeout)
        received = None if record is None else consumer.decode(record)
        if received is None:
            return None
        reason = topics.admitted(received.topic, received.event)
        if reason is not None:
            refuse(consumer, record, reason)
            return None
        return received

    def publish(reports: list[ExecutionReport]) -> None:
        for report in reports:
            producer.send(topics.exec_reports, report.account, report)
        core.stats.reports += len(reports)
        outbox.sent = outbox.sent or bool(reports)

    def announce(events: Sequence[VenueStatus | VenueAlert]) -> None:
        for event in events:
            key = keys.venue_alert(event.venue, event.request_id) if isinstance(event, VenueAlert) \
                else keys.venue_status(event.venue)
            producer.send(topics.venue_status, key, event)
            if isinstance(event, VenueStatus):
                metrics.venue_status(event)
        outbox.sent = outbox.sent or bool(events)

    def reconcile_now(name: str) -> None:
        if hook is None:
            return
        adapter = venues[name]
        if not adapter.synchronous:  # its answers come through poll: collected, reconciled once all are in
            try:
                core.collect_mass_status(name)
                adapter.mass_status(clock.now_ns())
            except VenueUnavailable as exc:
                core.collected(name, give_up=True)
                log.warning("venue gateway: reconciliation of %s deferred: %s", name, exc.reason)
                return
            collecting[name] = clock.now_ns() + MASS_STATUS_WAIT_NS
            return
        try:
            reports = hook(rt, settings, adapter, clock.now_ns())
        except VenueUnavailable as exc:  # it went away again: reconciled when it is back
            log.warning("venue gateway: reconciliation of %s deferred: %s", name, exc.reason)
            return
        except Exception:  # noqa: BLE001 - a failed reconciliation must not stop the venue; it is retried on reconnect
            log.exception("venue gateway: reconciliation of %s failed", name)
            return
        log.info("venue gateway: reconciliation of %s: %d reports", name, len(reports))
        core.hold(list(reports))

    def reconcile_collected_answers() -> None:
        for name, deadline in list(collecting.items()):
            late = clock.now_ns() >= deadline
            answers = core.collected(name, give_up=late)
            if answers is None and not late:
                continue
            del collecting[name]
            if answers is None:  # a partial answer would make every unlisted order look unknown there
                log.error("venue gateway: %s did not finish answering the mass status in %d s: not reconciled; "
                          "it is tried again at the next connect or `oms venue reconcile %s`", name,
                          MASS_STATUS_WAIT_NS // 10**9, name)
                continue
            try:
                statuses, transit = answers
                reports = reconcile_collected(rt, settings, venues[name], statuses, clock.now_ns(), transit=transit)
            except Exception:  # noqa: BLE001 - a failed reconciliation must not stop the venue
                log.exception("venue gateway: reconciliation of %s failed", name)
                continue
            log.info("venue gateway: reconciliation of %s: %d reports", name, len(reports))
            core.hold(list(reports))

    def apply_controls(now: int) -> None:
        for venue, control in following.value.controls.items():
            if applied.get(venue) is not control:
                applied[venue] = control
                core.on_control(control, now)
        for venue, request in following.value.reconciles.items():
            if venue in venues and reconciled.get(venue) is not request:
                first = venue not in reconciled
                reconciled[venue] = request
                if not first or request.ts_event >= started:  # an old request on the topic is not redone
                    log.info("venue gateway: reconciliation of %s requested by %s: %s", venue,
                             request.requested_by, request.reason or "no reason given")
                    reconcile_now(venue)

    def last_market() -> None:
        """Give the venues the last quote per venue and instrument from the recent past of market data
        (trades are not replayed): a venue started while the market is quiet quotes at once, instead
        of answering market orders "no market" until the next quote."""
        latest: dict[tuple[str | None, str], Quote] = {}
        deadline = time.monotonic() + MARKET_TAIL_WAIT_S
        while not marketdata.reader.caught_up and time.monotonic() < deadline:
            received = poll(marketdata, 0.1)
            marketdata.rejected.clear()  # never committed: nothing to count
            if received is not None and isinstance(received.event, Quote):
                latest[(received.event.venue, received.event.instrument)] = received.event
        for quote in sorted(latest.values(), key=lambda q: q.ts_event):
            core.on_marketdata(quote, clock.now_ns())
        log.info("venue gateway: %d last quotes from the recent market data", len(latest))

    log.info("venue gateway %s: venues %s, seed %d, %s -> %s", group, ", ".join(venues), seed,
             topics.venue_requests, topics.exec_reports)
    try:
        following.start()
        following.wait_caught_up(10)  # an operator's override in force before we start is obeyed at once
        apply_controls(clock.now_ns())
        marketdata.assign_near_end(topics.marketdata, MARKET_TAIL)
        last_market()
        requests.subscribe([topics.venue_requests])
        for name in venues:  # the others are reconciled when they connect
            if core.connection(name) is ConnectionState.CONNECTED:
                reconcile_now(name)
        if ready is not None:
            ready.set()
        next_log = time.monotonic() + LOG_EVERY_S
        logged = GatewayStats()
        while not stop.is_set():
            began = time.perf_counter()
            apply_controls(clock.now_ns())
            for _ in range(MAX_BATCH):
                received = poll(marketdata, 0)
                marketdata.rejected.clear()  # never committed: nothing to count
                if received is None:
                    break
                core.on_marketdata(received.event, clock.now_ns())
            wait = turn_wait
            due = core.next_due(clock.now_ns())
            if due is not None:
                wait = min(wait, max(0.0, (due - clock.now_ns()) / 1e9))
            polled = time.perf_counter()
            received = poll(requests, wait)
            waited = time.perf_counter()
            for n in range(MAX_BATCH):
                if n:  # poll only when it will be handled in this turn: a record polled is never dropped
                    received = poll(requests, 0)
                while requests.rejected:  # dead-lettered: handled, nothing to send, offset committable
                    topic, partition, offset = requests.rejected.pop(0)
                    core.on_request(topic, partition, offset, None, clock.now_ns())
                if received is None:
                    break
                core.on_request(received.topic, received.partition, received.offset, received.event, clock.now_ns())
            handled = time.perf_counter()
            turn = core.tick(clock.now_ns())
            for name in turn.connected:
                reconcile_now(name)
            reconcile_collected_answers()
            announce(turn.alerts)
            announce(core.statuses(clock.now_ns()))
            released = core.release(clock.now_ns())
            if released:
                publish(released)
            ticked = time.perf_counter()
            outbox.settle(DELIVERY_WAIT_S)
            if n or released:  # a turn that did work: where its time went
                metrics.phases(PROCESSOR, (("marketdata", polled - began), ("wait", waited - polled),
                                           ("requests", handled - waited), ("tick", ticked - handled),
                                           ("settle", time.perf_counter() - ticked)))
            if time.monotonic() >= next_log:
                next_log = time.monotonic() + LOG_EVERY_S
                if core.stats != logged:
                    logged = GatewayStats(**vars(core.stats))
                    _log_stats(core.stats, core.held, core.queued())
    finally:
        try:
            publish(core.release())
            if not outbox.settle(10.0):
                log.warning("venue gateway: stopping with reports undelivered or offsets uncommitted; the "
                            "requests will be answered again from the committed offsets")
        finally:
            following.stop()
            requests.close()
            marketdata.close()
            for adapter in venues.values():
                try:
                    adapter.close()
                except Exception:  # noqa: BLE001 - close the others whatever one does
                    log.exception("venue gateway: closing %s failed", adapter.name)
    _log_stats(core.stats, core.held, core.queued())
    return core.stats


class _Outbox:
    """Delivery then commit, at least once, through broker faults: offsets are committed only once
    every report sent before was delivered; each fault episode is logged once."""

    def __init__(self, producer, requests, core: GatewayCore) -> None:
        self._producer = producer
        self._requests = requests
        self._core = core
        self.sent = False
        """Reports were sent and not yet known to be delivered."""
        self._uncommitted: dict[tuple[str, int], int] = {}
        """(topic, partition) -> next offset, handled and delivered but not committed yet."""
        self._retry_at = 0.0
        self._fault_since: float | None = None

    def settle(self, wait: float) -> bool:
        """Deliver what was sent (waiting up to `wait`), then commit; True when both are done."""
        if self.sent:
            if not self._producer.deliver(wait):
                self._fault("reports not delivered yet")
                return False
            self.sent = False
        for topic, partition, offset in self._core.committable():
            self._uncommitted[(topic, partition)] = offset
        if not self._uncommitted:
            self._recovered()
            return True
        if time.monotonic() < self._retry_at:
            return False
        if not self._requests.commit([(t, p, o) for (t, p), o in self._uncommitted.items()]):
            # the broker is away (try again), or partitions were revoked (their new owner reads them again)
            assigned = {(tp.topic, tp.partition) for tp in self._requests.consumer.assignment()}
            self._uncommitted = {tp: o for tp, o in self._uncommitted.items() if tp in assigned}
            self._retry_at = time.monotonic() + COMMIT_RETRY_S
            self._fault("offset commit refused")
            return False
        self._uncommitted.clear()
        self._recovered()
        return True

    def _fault(self, what: str) -> None:
        if self._fault_since is None:
            self._fault_since = time.monotonic()
            log.warning("venue gateway: %s; holding the commit until the broker takes them", what)

    def _recovered(self) -> None:
        if self._fault_since is not None:
            log.warning("venue gateway: recovered after %.1fs", time.monotonic() - self._fault_since)
            self._fault_since = None


def _log_stats(stats: GatewayStats, held: int, queued: int) -> None:
    log.info(
        "venue gateway: %d requests handled (%d queued, %d refused after waiting, %d refused by an open circuit, "
        "%d failed, %d unavailable, %d throttled), %d skipped, %d quotes, %d trades, %d reports published, "
        "%d held, %d queued now, %d status queries, %d alerts", stats.requests, stats.queued, stats.rate_limited,
        stats.circuit_refused, stats.failed, stats.unavailable, stats.throttled, stats.skipped, stats.quotes,
        stats.trades, stats.reports, held, queued, stats.probes, stats.alerts,
    )

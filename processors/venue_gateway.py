"""The venue gateway: venue requests and market data in, execution reports out, via simulated exchanges.

This processor owns the Kafka side of the venues: it consumes `venue.requests`
(consumer group `f"{prefix}venue-gateway"`; requests for venues it does not
serve are skipped) and `marketdata`, each admitting only its own event types
(`streams.topics.admitted`: a record of another type is dead-lettered with the
reason and counts as handled), hands them to the pure core
(`oms.venues.gateway.GatewayCore`: routing, rate limits, held reports,
committable offsets) over one `oms.venues.simulated.SimulatedExchange` per
venue, and publishes the reports to `exec.reports` keyed by account. Delivery is at-least-once: a request's
offset is committed only after every report it caused was published and
flushed; a replayed request is answered again with the same exec ids by the
exchange (idempotent by request id) and the engine ignores repeated exec ids.
When the broker goes away the loop keeps turning: reports stay queued in the
producer (no message timeout: the client retries until the broker is back),
offsets are not committed until they are delivered, a refused commit is tried
again, and the fault and the recovery are each logged once. A report the broker
refuses for good raises (the process exits non-zero, a supervisor restarts it,
the requests are read again from the committed offsets).
Market data is read from the end only, by a second consumer assigned (not
subscribed) at the current end offsets and never committing: a venue needs the
current top of book, not history. Simulated latency is honoured without
sleeping per message: the core holds reports until the clock reaches their
`ts_event`. A per-venue token bucket refuses requests above a rate (REJECTED or
CANCEL_REJECTED, reason "rate limit"). Exchange state lives in memory: a
restarted gateway starts with empty books and no working orders.
Its entry point is `entrypoints.venue` (`oms venue`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Mapping, Sequence

from oms.clock import Clock
from oms.config import Settings
from oms.domain.tokens import RateLimit
from oms.events import ExecutionReport
from oms.venues.gateway import DEFAULT_RATE_LIMIT, RATE_LIMITED, GatewayCore, GatewayStats
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig
from processors.reconcile import reconcile_venue
from streams.kafka import EventConsumer, Received
from streams.records import Record, dead_letter

__all__ = ["DEFAULT_RATE_LIMIT", "GatewayCore", "GatewayStats", "RATE_LIMITED", "RateLimit", "run_gateway"]

log = logging.getLogger("oms.venue_gateway")

PROCESSOR = "venue-gateway"
LOG_EVERY_S = 10.0
"""How often the gateway logs its counters while running (and once more when it stops)."""
MAX_BATCH = 500
"""Most records read from one consumer in one turn of the loop."""
DELIVERY_WAIT_S = 2.0
"""Longest one turn of the loop waits for the broker to take the reports (then it turns again)."""
COMMIT_RETRY_S = 1.0
"""Pause before committing again after the broker refused a commit."""


# ------------------------------------------------------------------ the loop


def _runtime(settings: Settings, runtime):
    if runtime is not None:
        return runtime
    from streams.runtime import connect  # local: resolving may start the local broker

    return connect(settings)


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
    ready: threading.Event | None = None,
    runtime=None,
    poll_timeout: float = 0.02,
) -> GatewayStats:
    """Run simulated venues `venue_names` until `stop` is set; returns the counters.

    `config` is one config for every venue or one per venue name. `group_id`
    defaults to `f"{prefix}venue-gateway"`: gateways serving different venues
    need different group ids, or they would split the partitions and skip each
    other's requests. `rate_limit` is per venue (`RateLimit.of(rate, burst)`);
    None disables the limit. `clock` is required (it stamps reports and dead letters). `ready` is set once
    both consumers are in place (market data published after it is seen).
    Reports are held until `clock` reaches their `ts_event`; on stop, held
    reports are published at once, flushed, and the offsets committed.
    """
    if clock is None:
        raise TypeError("run_gateway: pass the clock (LiveClock() in a process, TestClock in tests)")
    names = list(dict.fromkeys(venue_names))
    if not names:
        raise ValueError("venue_names: give at least one venue")
    configs = config if isinstance(config, Mapping) else {name: config for name in names}
    exchanges = {name: SimulatedExchange(name, seed, configs.get(name), started_ns=clock.now_ns()) for name in names}
    core = GatewayCore(exchanges, rate_limit)
    stop = stop or threading.Event()
    rt = _runtime(settings, runtime)
    topics = rt.topics
    group = group_id or f"{settings.topic_prefix}venue-gateway"

    requests = rt.event_consumer(group, PROCESSOR, clock=clock)
    marketdata = rt.event_consumer(f"{group}.marketdata", PROCESSOR, clock=clock)
    producer = rt.event_producer(**{"message.timeout.ms": 0})  # never give up on a report: retry until delivered
    outbox = _Outbox(producer, requests, core)

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

    log.info("venue gateway %s: venues %s, seed %d, %s -> %s", group, ", ".join(names), seed,
             topics.venue_requests, topics.exec_reports)
    try:
        marketdata.assign_at_end(topics.marketdata)
        requests.subscribe([topics.venue_requests])
        for exchange in exchanges.values():  # reconciliation at connect (processors.reconcile)
            publish(reconcile_venue(rt, settings, exchange, clock.now_ns()))
        if ready is not None:
            ready.set()
        next_log = time.monotonic() + LOG_EVERY_S
        logged = GatewayStats()
        while not stop.is_set():
            for _ in range(MAX_BATCH):
                received = poll(marketdata, 0)
                marketdata.rejected.clear()  # never committed: nothing to count
                if received is None:
                    break
                core.on_marketdata(received.event, clock.now_ns())
            wait = poll_timeout
            due = core.next_due()
            if due is not None:
                wait = min(wait, max(0.0, (due - clock.now_ns()) / 1e9))
            received = poll(requests, wait)
            for _ in range(MAX_BATCH):
                while requests.rejected:  # dead-lettered: handled, nothing to send, offset committable
                    topic, partition, offset = requests.rejected.pop(0)
                    core.on_request(topic, partition, offset, None, clock.now_ns())
                if received is None:
                    break
                core.on_request(received.topic, received.partition, received.offset, received.event, clock.now_ns())
                received = poll(requests, 0)
            released = core.release(clock.now_ns())
            if released:
                publish(released)
            outbox.settle(DELIVERY_WAIT_S)
            if time.monotonic() >= next_log:
                next_log = time.monotonic() + LOG_EVERY_S
                if core.stats != logged:
                    logged = GatewayStats(**vars(core.stats))
                    _log_stats(core.stats, core.held)
    finally:
        try:
            publish(core.release())
            if not outbox.settle(10.0):
                log.warning("venue gateway: stopping with reports undelivered or offsets uncommitted; the "
                            "requests will be answered again from the committed offsets")
        finally:
            requests.close()
            marketdata.close()
            for exchange in exchanges.values():
                exchange.close()
    _log_stats(core.stats, core.held)
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


def _log_stats(stats: GatewayStats, held: int) -> None:
    log.info(
        "venue gateway: %d requests handled (%d rate-limited, %d failed), %d skipped, %d quotes, %d trades, "
        "%d reports published, %d held", stats.requests, stats.rate_limited, stats.failed, stats.skipped,
        stats.quotes, stats.trades, stats.reports, held,
    )

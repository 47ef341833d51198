"""The venue gateway: venue requests and market data in, execution reports out, via simulated exchanges.

This processor owns the Kafka side of the venues: it consumes `venue.requests`
(consumer group `f"{prefix}venue-gateway"`; requests for venues it does not
serve are skipped) and `marketdata`, feeds them to one
`oms.venues.simulated.SimulatedExchange` per venue, and publishes the reports
to `exec.reports` keyed by account. Delivery is at-least-once: a request's
offset is committed only after every report it caused was published and
flushed; a replayed request is answered again with the same exec ids by the
exchange (idempotent by request id) and the engine ignores repeated exec ids.
Market data is read from the end only, by a second consumer assigned (not
subscribed) at the current end offsets and never committing: a venue needs the
current top of book, not history. Simulated latency is honoured without
sleeping per message: reports wait in a heap until the clock reaches their
`ts_event`. A per-venue token bucket refuses requests above a rate (REJECTED or
CANCEL_REJECTED, reason "rate limit"). Exchange state lives in memory: a
restarted gateway starts with empty books and no working orders.
Its entry point is `entrypoints.venue` (`oms venue`).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Mapping, Sequence

from oms.clock import Clock, LiveClock
from oms.config import Settings
from oms.events import Event, ExecutionReport, Quote, Trade, VenueRequest
from oms.venues import handle_request
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig

log = logging.getLogger("oms.venue_gateway")

PROCESSOR = "venue-gateway"
RATE_LIMITED = "rate limit"
LOG_EVERY_S = 10.0
"""How often the gateway logs its counters while running (and once more when it stops)."""
MAX_BATCH = 500
"""Most records read from one consumer in one turn of the loop."""


# ------------------------------------------------------------------ pure parts


@dataclass(frozen=True)
class RateLimit:
    """At most `per_second` requests per venue on average, bursts of up to `burst`."""

    per_second: int = 1_000
    burst: int = 1_000

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst <= 0:
            raise ValueError(f"rate limit: per_second and burst must be positive, got {self}")


DEFAULT_RATE_LIMIT = RateLimit()


class TokenBucket:
    """A token bucket in exact integer arithmetic (tokens counted in billionths)."""

    _UNIT = 1_000_000_000

    def __init__(self, limit: RateLimit) -> None:
        self._rate = limit.per_second
        self._capacity = limit.burst * self._UNIT
        self._level = self._capacity
        self._last: int | None = None

    def take(self, now: int) -> bool:
        """Take one token at time `now` (ns); False if the bucket is empty."""
        if self._last is not None and now > self._last:
            self._level = min(self._capacity, self._level + (now - self._last) * self._rate)
        if self._last is None or now > self._last:
            self._last = now
        if self._level >= self._UNIT:
            self._level -= self._UNIT
            return True
        return False


@dataclass
class GatewayStats:
    requests: int = 0
    """Requests handled by one of this gateway's venues (rate-limited ones included)."""
    skipped: int = 0
    """Records on `venue.requests` for other venues, or not requests at all."""
    rate_limited: int = 0
    failed: int = 0
    """Requests the exchange refused to process (logged; their offsets are still committed)."""
    quotes: int = 0
    trades: int = 0
    reports: int = 0
    """Reports published."""


class GatewayCore:
    """The gateway without Kafka: routing, rate limits, held reports and committable offsets.

    Inputs come with the time they are handled; reports are held until their
    `ts_event` is due (`release`). Request offsets become committable once
    every report they caused has been released (`committable`, to be called
    only after the released reports were flushed).
    """

    def __init__(
        self,
        exchanges: Mapping[str, SimulatedExchange],
        rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
    ) -> None:
        self.exchanges = dict(exchanges)
        self.stats = GatewayStats()
        self._buckets = {name: TokenBucket(rate_limit) for name in self.exchanges} if rate_limit else {}
        self._held: list[tuple[int, int, ExecutionReport, int]] = []  # (due, seq, report, token)
        self._seq = 0
        self._pending: dict[int, int] = {}  # token -> reports still held
        self._offsets: dict[tuple[str, int], deque[tuple[int, int]]] = {}  # (topic, partition) -> (offset, token)

    def on_request(self, topic: str, partition: int, offset: int, event: Event | None,
                   now: int) -> list[ExecutionReport]:
        """Handle one record of `venue.requests`; returns the reports it caused (also held for release)."""
        reports: list[ExecutionReport] = []
        exchange = self.exchanges.get(event.venue) if isinstance(event, VenueRequest) else None
        if exchange is None:
            self.stats.skipped += 1
        else:
            self.stats.requests += 1
            try:
                reports = self._request(exchange, event, now)
            except ValueError as exc:
                self.stats.failed += 1
                log.error("request %s at %s[%d]@%d not processed: %s", event.request_id, topic, partition, offset, exc)
        token = self._hold(reports)
        self._offsets.setdefault((topic, partition), deque()).append((offset, token))
        return reports

    def _request(self, exchange: SimulatedExchange, request: VenueRequest, now: int) -> list[ExecutionReport]:
        bucket = self._buckets.get(exchange.name)
        if bucket is not None and not exchange.seen(request.request_id) and not bucket.take(now):
            self.stats.rate_limited += 1
            return exchange.refuse(request, RATE_LIMITED, now)
        return handle_request(exchange, request, now)

    def on_marketdata(self, event: Event, now: int) -> list[ExecutionReport]:
        """Give a quote or trade to every exchange; other events are ignored."""
        reports: list[ExecutionReport] = []
        if isinstance(event, Quote):
            self.stats.quotes += 1
            for exchange in self.exchanges.values():
                reports += exchange.on_quote(event, now)
        elif isinstance(event, Trade):
            self.stats.trades += 1
            for exchange in self.exchanges.values():
                reports += exchange.on_trade(event, now)
        self._hold(reports)
        return reports

    def _hold(self, reports: list[ExecutionReport]) -> int:
        self._seq += 1
        token = self._seq
        if reports:
            self._pending[token] = len(reports)
        for report in reports:
            self._seq += 1
            heapq.heappush(self._held, (report.ts_event, self._seq, report, token))
        return token

    def next_due(self) -> int | None:
        return self._held[0][0] if self._held else None

    @property
    def held(self) -> int:
        return len(self._held)

    def release(self, now: int | None = None) -> list[ExecutionReport]:
        """Reports due at `now` (all of them when `now` is None), in due order."""
        out = []
        while self._held and (now is None or self._held[0][0] <= now):
            _, _, report, token = heapq.heappop(self._held)
            left = self._pending[token] - 1
            if left:
                self._pending[token] = left
            else:
                del self._pending[token]
            out.append(report)
        return out

    def committable(self) -> list[tuple[str, int, int]]:
        """(topic, partition, next offset) for every partition whose handled prefix is fully released."""
        out = []
        for (topic, partition), queue in self._offsets.items():
            last = None
            while queue and queue[0][1] not in self._pending:
                last = queue.popleft()[0]
            if last is not None:
                out.append((topic, partition, last + 1))
        return out


# ------------------------------------------------------------------ the loop


def _runtime(settings: Settings, runtime):
    if runtime is not None:
        return runtime
    from streams.runtime import connect  # local: resolving may start the local broker

    return connect(settings)


def _assign_at_end(consumer, topic: str) -> None:
    """Assign every partition of `topic` at its current end offset (concrete, so nothing later is missed)."""
    from confluent_kafka import TopicPartition

    ends = consumer.end_offsets(topic)
    if not ends:
        raise RuntimeError(f"topic {topic} has no partitions: does it exist? (`oms topics create`)")
    consumer.consumer.assign([TopicPartition(topic, p, high) for p, high in sorted(ends.items())])


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
    other's requests. `rate_limit=None` disables the limit. `ready` is set once
    both consumers are in place (market data published after it is seen).
    Reports are held until `clock` reaches their `ts_event`; on stop, held
    reports are published at once, flushed, and the offsets committed.
    """
    from confluent_kafka import KafkaException, TopicPartition

    names = list(dict.fromkeys(venue_names))
    if not names:
        raise ValueError("venue_names: give at least one venue")
    configs = config if isinstance(config, Mapping) else {name: config for name in names}
    exchanges = {name: SimulatedExchange(name, seed, configs.get(name)) for name in names}
    core = GatewayCore(exchanges, rate_limit)
    clock = clock or LiveClock()
    stop = stop or threading.Event()
    rt = _runtime(settings, runtime)
    topics = rt.topics
    group = group_id or f"{settings.topic_prefix}venue-gateway"

    requests = rt.event_consumer(group, PROCESSOR)
    marketdata = rt.event_consumer(f"{group}.marketdata", PROCESSOR)
    producer = rt.event_producer()

    def publish(reports: list[ExecutionReport]) -> None:
        for report in reports:
            producer.send(topics.exec_reports, report.account, report)
        core.stats.reports += len(reports)

    def commit() -> None:
        offsets = [TopicPartition(t, p, o) for t, p, o in core.committable()]
        if offsets:
            try:
                requests.consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:  # e.g. partitions revoked meanwhile: they will be read again
                log.warning("offset commit failed: %s", exc)

    log.info("venue gateway %s: venues %s, seed %d, %s -> %s", group, ", ".join(names), seed,
             topics.venue_requests, topics.exec_reports)
    try:
        _assign_at_end(marketdata, topics.marketdata)
        requests.consumer.subscribe([topics.venue_requests])
        if ready is not None:
            ready.set()
        next_log = time.monotonic() + LOG_EVERY_S
        logged = GatewayStats()
        while not stop.is_set():
            for _ in range(MAX_BATCH):
                received = marketdata.poll(0)
                if received is None:
                    break
                core.on_marketdata(received.event, clock.now_ns())
            wait = poll_timeout
            due = core.next_due()
            if due is not None:
                wait = min(wait, max(0.0, (due - clock.now_ns()) / 1e9))
            received = requests.poll(wait)
            for _ in range(MAX_BATCH):
                while requests.rejected:  # dead-lettered: handled, nothing to send, offset committable
                    topic, partition, offset = requests.rejected.pop(0)
                    core.on_request(topic, partition, offset, None, clock.now_ns())
                if received is None:
                    break
                core.on_request(received.topic, received.partition, received.offset, received.event, clock.now_ns())
                received = requests.poll(0)
            released = core.release(clock.now_ns())
            if released:
                publish(released)
                producer.flush()
            commit()
            if time.monotonic() >= next_log:
                next_log = time.monotonic() + LOG_EVERY_S
                if core.stats != logged:
                    logged = GatewayStats(**vars(core.stats))
                    _log_stats(core.stats, core.held)
    finally:
        try:
            publish(core.release())
            producer.flush()
            commit()
        finally:
            requests.close()
            marketdata.close()
    _log_stats(core.stats, core.held)
    return core.stats


def _log_stats(stats: GatewayStats, held: int) -> None:
    log.info(
        "venue gateway: %d requests handled (%d rate-limited, %d failed), %d skipped, %d quotes, %d trades, "
        "%d reports published, %d held", stats.requests, stats.rate_limited, stats.failed, stats.skipped,
        stats.quotes, stats.trades, stats.reports, held,
    )

"""The venue gateway's core: queues and rate limits, circuit breakers, in-flight deadlines, venue status, without Kafka.

This module owns what the gateway decides, typed to the `VenueAdapter`
protocol only (the simulated exchange and the FIX session are adapters): a
`VenueRequest` goes to the adapter named by its venue (others are skipped),
through that venue's queue (`oms.venues.throttle`: weighted token pools,
cancels before replaces before status queries before new orders, a request
waiting longer than `max_wait_ms` refused with "rate limit: queued N ms"),
its circuit breaker (`oms.venues.breaker`: while OPEN a NEW or REPLACE is
refused with "venue circuit open"; a CANCEL still goes while the venue is
connected and waits in the queue while it is not) and its in-flight tracker
(`oms.venues.inflight`: a request unanswered past its deadline gets a STATUS
query and counts as a breaker failure; still unanswered, a `VenueAlert`).
Breaker failures are: the adapter raising `VenueUnavailable` (the request
waits in the queue again), a reject whose reason the venue's policy
recognises as a system error, a missed deadline, a disconnect; any other
answer to a request is a success. A reject recognised as "throttled" pauses
the venue (backoff doubling, capped) and the request is sent once more
before its reject is let through. The refusals the core makes itself are
reports it builds (`refusal`): REJECTED for a NEW, CANCEL_REJECTED for a
REPLACE or CANCEL, with a deterministic exec id; a STATUS is dropped instead.
The core remembers every request id it handled: a repeated request costs no
token and gets the same answer. Market data goes to every adapter. `tick`
polls the adapters (asynchronous reports, connection changes), moves the
breakers, the queues and the deadlines; `statuses` says which `VenueStatus`
to publish (on every change of connection or breaker at once, counters at
most every `counts_every_ns`, everything every `heartbeat_ns`); `on_control`
applies an operator's `VenueControl`. Reports are held until their
`ts_event` is due (`release`), so simulated latency needs no sleeping; a
request's input offset becomes committable once it left the queue and every
report it caused was released (`committable`, to be called only after the
released reports were flushed). Pure: time comes in as `now` (UTC ns).
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Mapping

from oms import ids
from oms.domain.tokens import RateLimit
from oms.events import (
    BreakerMode,
    BreakerState,
    ConnectionState,
    ExecType,
    ExecutionReport,
    OrderStatus,
    Quote,
    Trade,
    VenueAction,
    VenueAlert,
    VenueControl,
    VenueRequest,
    VenueStatus,
)
from oms.venues import ConnectionChange, VenueAdapter, VenueUnavailable, handle_request
from oms.venues import breaker as brk
from oms.venues.breaker import Breaker
from oms.venues.inflight import InFlight, OverdueKind
from oms.venues.policy import MS, VenueLimits, VenuePolicy
from oms.venues.throttle import Queued, RequestClass, Throttle

log = logging.getLogger("oms.venue_gateway")

__all__ = [
    "CIRCUIT_OPEN", "DEFAULT_RATE_LIMIT", "GatewayCore", "GatewayStats", "RATE_LIMITED", "Tick", "UNAVAILABLE",
    "rate_limit_refusal", "refusal",
]

RATE_LIMITED = "rate limit"
"""Prefix of the reason of a request refused after waiting for tokens: "rate limit: queued N ms"."""
CIRCUIT_OPEN = "venue circuit open"
UNAVAILABLE = "venue unavailable"
"""Prefix of the reason of a request refused after waiting for the venue to connect."""
NO_ANSWER = "NO_ANSWER"
"""`VenueAlert.reason_code` of a request the venue never answered."""
DEFAULT_RATE_LIMIT = RateLimit.of(1_000)
"""1,000 requests per second per venue, in bursts of up to 1,000 (the default policy's one pool)."""
HEARTBEAT_NS = 5_000 * MS
COUNTS_EVERY_NS = 250 * MS
_ORDER_ACTIONS = (VenueAction.NEW, VenueAction.REPLACE)
_REJECTS = (ExecType.REJECTED, ExecType.CANCEL_REJECTED)


@dataclass
class GatewayStats:
    requests: int = 0
    """Requests handled by one of this gateway's venues (refused ones included)."""
    skipped: int = 0
    """Records on `venue.requests` for other venues, or not requests at all."""
    rate_limited: int = 0
    """Requests refused after waiting too long in the queue."""
    failed: int = 0
    """Requests the venue refused to process (logged; their offsets are still committed)."""
    quotes: int = 0
    trades: int = 0
    reports: int = 0
    """Reports published."""
    queued: int = 0
    """Requests that had to wait in the queue (for tokens, a pause or a connection)."""
    circuit_refused: int = 0
    throttled: int = 0
    """Answers "throttled" by a venue."""
    unavailable: int = 0
    """Requests the adapter could not take (`VenueUnavailable`)."""
    probes: int = 0
    """STATUS queries issued for requests past their deadline."""
    alerts: int = 0


@dataclass
class Tick:
    """What one `tick` produced: reports (also held for release), alerts to publish, and the
    venues that (re)connected (to reconcile)."""

    reports: list[ExecutionReport] = field(default_factory=list)
    alerts: list[VenueAlert] = field(default_factory=list)
    connected: list[str] = field(default_factory=list)


def refusal(request: VenueRequest, now: int, reason: str, kind: str) -> ExecutionReport:
    """The gateway's own answer to a request it does not send (the venue never sees it).

    A NEW is REJECTED; a REPLACE or CANCEL gets CANCEL_REJECTED. The gateway does
    not know the order's state at the venue, so the report carries OrdStatus
    REJECTED and no quantities filled (the engine judges a cancel reject by the
    request it has pending, not by this status). The exec id is derived from the
    request id and `kind`: a repeated refusal is the same report."""
    exec_id = ids.record_id(request.order_id, request.request_id, kind)
    return ExecutionReport(
        event_id=exec_id,
        ts_event=now,
        ts_init=now,
        venue=request.venue,
        account=request.account,
        order_id=request.order_id,
        request_id=request.request_id,
        exec_id=exec_id,
        exec_type=ExecType.REJECTED if request.action is VenueAction.NEW else ExecType.CANCEL_REJECTED,
        order_status=OrderStatus.REJECTED,
        instrument=request.instrument,
        side=request.side,
        order_qty=request.quantity,
        limit_price=request.limit_price,
        reason=reason[:1024],
    )


def rate_limit_refusal(request: VenueRequest, now: int, reason: str = RATE_LIMITED) -> ExecutionReport:
    """`refusal` for a request over the venue's rate limit."""
    return refusal(request, now, reason, "rate-limited")


@dataclass
class _Venue:
    adapter: VenueAdapter
    policy: VenuePolicy
    throttle: Throttle
    inflight: InFlight
    breaker: Breaker
    connection: ConnectionState
    sent: dict[str, Queued] = field(default_factory=dict)
    """Request id -> the queue item it went out as (kept until answered, for a throttled retry)."""
    published: tuple | None = None
    counters: tuple | None = None
    published_at: int | None = None
    collecting: list[ExecutionReport] | None = None
    """ORDER_STATUS answers to a mass status being collected for a reconciliation (None: not collecting)."""
    transit: list[ExecutionReport] = field(default_factory=list)
    """The venue's other reports published while collecting (the OMS may not have folded them yet)."""
    answered: bool = False
    """While collecting: the last poll took the whole answer (no answer was pending when it began)."""

    @property
    def name(self) -> str:
        return self.adapter.name


class GatewayCore:
    """The gateway without Kafka (see the module docstring).

    `venues` maps venue names to adapters. `limits` gives each venue's policy
    (`oms.venues.policy`); without it every venue gets one pool at
    `rate_limit` (None: practically unlimited) and the default policy
    otherwise. `gateway` names this gateway on its `VenueStatus` events.
    """

    def __init__(self, venues: Mapping[str, VenueAdapter], rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT, *,
                 limits: VenueLimits | None = None, gateway: str = "venue-gateway",
                 heartbeat_ns: int = HEARTBEAT_NS, counts_every_ns: int = COUNTS_EVERY_NS) -> None:
        self.venues = dict(venues)
        self.gateway = gateway
        self.heartbeat_ns = heartbeat_ns
        self.counts_every_ns = counts_every_ns
        self.stats = GatewayStats()
        self._state: dict[str, _Venue] = {}
        for name, adapter in self.venues.items():
            policy = limits.policy(name) if limits is not None else VenuePolicy.single(rate_limit)
            self._state[name] = _Venue(
                adapter, policy, Throttle(policy), InFlight(policy.deadline_ms * MS, policy.status_deadline_ms * MS),
                Breaker(), ConnectionState.CONNECTED if adapter.connected() else ConnectionState.DISCONNECTED)
        self._refused: dict[str, ExecutionReport] = {}
        """request id -> the refusal it got."""
        self._seen: set[str] = set()
        """Request ids handed to a venue."""
        self._held: list[tuple[int, int, ExecutionReport, int]] = []  # (due, seq, report, token)
        self._seq = 0
        self._pending: dict[int, int] = {}  # token -> reports still held + requests still queued
        self._offsets: dict[tuple[str, int], deque[tuple[int, int]]] = {}  # (topic, partition) -> (offset, token)

    @property
    def exchanges(self) -> dict[str, VenueAdapter]:
        """The venues by name (the former name, kept for callers)."""
        return self.venues

    def policy(self, venue: str) -> VenuePolicy:
        return self._state[venue].policy

    def breaker(self, venue: str) -> Breaker:
        return self._state[venue].breaker

    def connection(self, venue: str) -> ConnectionState:
        return self._state[venue].connection

    # ------------------------------------------------------------ requests

    def on_request(self, topic: str, partition: int, offset: int, event: object | None,
                   now: int) -> list[ExecutionReport]:
        """Handle one record of `venue.requests` (None: undecodable, dead-lettered); returns the
        reports caused now (this request's and those of queued requests it let out; also held)."""
        token = self._token()
        self._offsets.setdefault((topic, partition), deque()).append((offset, token))
        v = self._state.get(event.venue) if isinstance(event, VenueRequest) else None
        if v is None:
            self.stats.skipped += 1
            return []
        self.stats.requests += 1
        request: VenueRequest = event
        refused = self._refused.get(request.request_id)
        if refused is not None:
            return self._add(token, [refused])
        if request.request_id in self._seen:  # a replay: the adapter answers it again, no token spent
            return self._add(token, self._send(v, Queued(request, now, 0, token), now, replay=True))
        if v.throttle.queued(request.request_id):
            return []
        if request.action in _ORDER_ACTIONS and v.breaker.effective is BreakerState.OPEN:
            self.stats.circuit_refused += 1
            return self._add(token, [self._refuse(request, now, CIRCUIT_OPEN, "circuit-open")])
        self._pending[token] = self._pending.get(token, 0) + 1  # settled when it leaves the queue
        item = v.throttle.offer(request, now, token)
        out = self._drain(v, now)
        if item in v.throttle:
            self.stats.queued += 1
        return out

    def _refuse(self, request: VenueRequest, now: int, reason: str, kind: str) -> ExecutionReport:
        report = refusal(request, now, reason, kind)
        self._refused[request.request_id] = report
        return report

    def _drain(self, v: _Venue, now: int) -> list[ExecutionReport]:
        """Send what the queue lets out now (nothing while the venue is disconnected)."""
        out: list[ExecutionReport] = []
        while v.connection is ConnectionState.CONNECTED and (item := v.throttle.next_ready(now)) is not None:
            request = item.request
            if request.action in _ORDER_ACTIONS:
                v.breaker, admitted = brk.admit(v.breaker, v.policy.breaker, now)
                if not admitted:
                    v.throttle.drop(item)
                    self.stats.circuit_refused += 1
                    out += self._settle(item, [self._refuse(request, now, CIRCUIT_OPEN, "circuit-open")])
                    continue
            v.throttle.take(item, now)
            out += self._settle(item, self._send(v, item, now))
            if item in v.throttle:  # back in the queue (unavailable, or throttled: paused): wait
                break
        return out

    def _send(self, v: _Venue, item: Queued, now: int, replay: bool = False) -> list[ExecutionReport]:
        request = item.request
        try:
            reports = handle_request(v.adapter, request, now)
        except VenueUnavailable as exc:
            self.stats.unavailable += 1
            self._failure(v, now, f"{UNAVAILABLE}: {exc.reason}")
            if not v.adapter.connected():
                v.connection = ConnectionState.DISCONNECTED
            if not replay:  # back to its place in the queue, to wait for the venue (up to max wait)
                self._requeue(v, item, retry=False)
            return []
        except ValueError as exc:
            self.stats.failed += 1
            log.error("request %s to %s not processed: %s", request.request_id, v.name, exc)
            return []
        self._seen.add(request.request_id)
        if not replay:
            v.inflight.sent(request, now)
            if request.request_id in v.inflight:
                v.sent[request.request_id] = item
        return self._answers(v, reports, now)

    def _answers(self, v: _Venue, reports: list[ExecutionReport], now: int) -> list[ExecutionReport]:
        """Reports from a venue: clear what they answer, feed the breaker, retry a throttled request
        once (its reject withheld); returns the reports to publish."""
        out = []
        for report in reports:
            answered = v.inflight.answered(report.request_id)
            if answered is None:
                out.append(report)
                continue
            item = v.sent.pop(answered.request_id, None)
            v.sent.pop(report.request_id, None)  # a status probe's own entry
            rejected = report.exec_type in _REJECTS
            if rejected and v.policy.is_throttled(report.reason):
                self.stats.throttled += 1
                until = v.throttle.throttled(now)
                log.warning("%s answered throttled (%s): paused until %d", v.name, report.reason, until)
                if item is not None and not item.retried and report.request_id == answered.request_id:
                    self._seen.discard(answered.request_id)
                    self._requeue(v, item, retry=True)
                    continue
            elif rejected and v.policy.is_system_error(report.reason):
                self._failure(v, now, f"system reject: {report.reason}")
            else:
                v.throttle.calm()
                v.breaker = brk.success(v.breaker, v.policy.breaker, now)
            out.append(report)
        return out

    def _requeue(self, v: _Venue, item: Queued, retry: bool) -> None:
        """Put `item` back at its place in the queue (a throttled retry, or waiting for the venue)."""
        if retry:
            v.throttle.requeue(item)
        else:
            v.throttle.restore(item)
        if item.tag is not None:  # its input offset waits for it again
            self._pending[item.tag] = self._pending.get(item.tag, 0) + 1

    def _failure(self, v: _Venue, now: int, reason: str) -> None:
        before = v.breaker.state
        v.breaker = brk.failure(v.breaker, v.policy.breaker, now, reason)
        if v.breaker.state is not before:
            log.warning("%s circuit %s: %s", v.name, v.breaker.state.value, v.breaker.reason)

    # ---------------------------------------------------------------- time

    def collect_mass_status(self, venue: str) -> None:
        """From now on keep `venue`'s ORDER_STATUS answers (an asynchronous adapter's answers to a mass
        status) for `collected` instead of publishing them."""
        v = self._state[venue]
        v.collecting, v.answered = [], False

    def collected(self, venue: str, *, give_up: bool = False
                  ) -> tuple[list[ExecutionReport], list[ExecutionReport]] | None:
        """Once a poll (`tick`) has taken `venue`'s last answer: the ORDER_STATUS answers collected, and
        the venue's other reports published meanwhile (for `oms.venues.reconcile.in_transit`); None while
        more are to come. `give_up` ends the collection, returning None."""
        v = self._state[venue]
        if v.collecting is None:
            return None
        if give_up:
            v.collecting, v.transit = None, []
            return None
        if not v.answered:  # asked of the last poll, not of the adapter now: an answer that finished
            return None     # after the poll would leave its last reports unread in the adapter
        answers, transit, v.collecting, v.transit, v.answered = v.collecting, v.transit, None, [], False
        return answers, transit

    def tick(self, now: int) -> Tick:
        """Poll every adapter and move time on: connection changes, breaker cooldowns, expired
        waits, missed deadlines, and whatever the queues let out now."""
        out = Tick()
        for v in self._state.values():
            polled: list[ExecutionReport] = []
            # the adapter queues a mass status's last answer and clears its pending flag at once: when
            # nothing was pending before this poll, the poll takes every answer
            whole = v.collecting is not None and not v.adapter.mass_status_pending()
            for item in v.adapter.poll(now):
                if isinstance(item, ConnectionChange):
                    self._connection(v, item.state, now, item.reason, out)
                elif v.collecting is not None and item.exec_type is ExecType.ORDER_STATUS:
                    v.collecting += self._answers(v, [item], now)  # for the reconciliation, not published
                else:
                    answered = self._answers(v, [item], now)
                    if v.collecting is not None:
                        v.transit += answered
                    polled += answered
            if v.collecting is not None:
                v.answered = whole
            reports = self._add(self._token(), polled)
            actual = ConnectionState.CONNECTED if v.adapter.connected() else ConnectionState.DISCONNECTED
            if actual is not v.connection:
                self._connection(v, actual, now, "adapter state", out)
            v.breaker = brk.tick(v.breaker, v.policy.breaker, now)
            for item in v.throttle.expired(now):
                reports += self._settle(item, self._expired(v, item, now))
            for overdue in v.inflight.overdue(now):
                if overdue.kind is OverdueKind.ASK_STATUS:
                    self.stats.probes += 1
                    waited = (now - overdue.sent_at) // MS
                    self._failure(v, now, f"no answer to {overdue.request.request_id} in {waited} ms")
                    v.throttle.offer(overdue.probe, now)
                else:
                    self.stats.alerts += 1
                    out.alerts.append(self._alert(v, overdue.request, overdue.sent_at, now))
            reports += self._drain(v, now)
            out.reports += reports
        return out

    def _connection(self, v: _Venue, state: ConnectionState, now: int, reason: str, out: Tick) -> None:
        if state is v.connection:
            return
        v.connection = state
        log.warning("%s %s: %s", v.name, state.value.lower(), reason)
        if state is ConnectionState.DISCONNECTED:
            self._failure(v, now, f"disconnected: {reason}")
        else:
            out.connected.append(v.name)

    def _expired(self, v: _Venue, item: Queued, now: int) -> list[ExecutionReport]:
        request = item.request
        waited = (now - item.queued_at) // MS
        if v.connection is ConnectionState.CONNECTED:
            reason, kind = f"{RATE_LIMITED}: queued {waited} ms", "rate-limited"
        else:
            reason, kind = f"{UNAVAILABLE}: queued {waited} ms", "unavailable"
        if request.action is VenueAction.STATUS:
            # a made-up ORDER_STATUS would disagree with the order: dropped, the operator or
            # reconciliation asks again
            log.warning("status request %s to %s dropped: %s", request.request_id, v.name, reason)
            return []
        self.stats.rate_limited += 1
        return [self._refuse(request, now, reason, kind)]

    def _alert(self, v: _Venue, request: VenueRequest, sent_at: int, now: int) -> VenueAlert:
        event_id = ids.record_id(request.order_id, request.request_id, "no-answer")
        waited = (now - sent_at) // MS
        log.error("%s never answered %s %s of order %s (%d ms)", v.name, request.action.value,
                  request.request_id, request.order_id, waited)
        return VenueAlert(
            event_id=event_id, ts_event=now, ts_init=now, venue=v.name, account=request.account,
            order_id=request.order_id, request_id=request.request_id, action=request.action, reason_code=NO_ANSWER,
            reason=f"no answer to the {request.action.value} or to a status query in {waited} ms; the order "
                   "stays pending until the venue answers or reconciliation settles it",
            sent_at=sent_at,
        )

    def on_control(self, control: VenueControl, now: int) -> bool:
        """An operator's override for one of this gateway's venues; False for another venue."""
        v = self._state.get(control.venue)
        if v is None:
            return False
        v.breaker = brk.force(v.breaker, control.mode, now, control.changed_by, control.reason)
        log.warning("%s circuit forced %s by %s: %s", v.name, control.mode.value, control.changed_by,
                    control.reason or "-")
        return True

    def on_marketdata(self, event: object, now: int) -> list[ExecutionReport]:
        """Give a quote or trade to every venue; other events are ignored."""
        reports: list[ExecutionReport] = []
        if isinstance(event, Quote):
            self.stats.quotes += 1
            for v in self._state.values():
                reports += v.adapter.on_quote(event, now)
        elif isinstance(event, Trade):
            self.stats.trades += 1
            for v in self._state.values():
                reports += v.adapter.on_trade(event, now)
        self._add(self._token(), reports)
        return reports

    def hold(self, reports: list[ExecutionReport]) -> list[ExecutionReport]:
        """Hold reports produced outside the core (e.g. reconciliation's) for release."""
        return self._add(self._token(), reports)

    # ------------------------------------------------------------- status

    def status(self, venue: str, now: int) -> VenueStatus:
        v = self._state[venue]
        counts = v.throttle.counts()
        b = v.breaker
        paused = v.throttle.paused_until
        tokens = " ".join(f"{pool}={left:.2f}" for pool, left in v.throttle.tokens(now).items())
        return VenueStatus(
            event_id=ids.record_id(venue, str(now), "venue-status"), ts_event=now, ts_init=now, venue=venue,
            gateway=self.gateway, connection=v.connection, breaker=b.effective, breaker_since=b.effective_since,
            breaker_reason=(b.effective_reason or None) and b.effective_reason[:1024], forced=b.mode,
            forced_by=b.forced_by if b.mode is not BreakerMode.AUTO else None,
            failures=len(b.failures), in_flight=len(v.inflight), queued_cancel=counts[RequestClass.CANCEL],
            queued_replace=counts[RequestClass.REPLACE], queued_status=counts[RequestClass.STATUS],
            queued_new=counts[RequestClass.NEW], tokens=tokens,
            throttled_until=paused if paused is not None and paused > now else None,
            unanswered=v.inflight.unanswered,
        )

    def statuses(self, now: int) -> list[VenueStatus]:
        """The `VenueStatus` of every venue due for publishing at `now`: at once when its connection,
        breaker or pause changed; when only counters changed, at most every `counts_every_ns`;
        otherwise every `heartbeat_ns`."""
        out = []
        for name, v in self._state.items():
            status = self.status(name, now)
            state = (status.connection, status.breaker, status.breaker_since, status.breaker_reason, status.forced,
                     status.forced_by, status.throttled_until)
            counters = (status.failures, status.in_flight, status.queued_cancel, status.queued_replace,
                        status.queued_status, status.queued_new, status.unanswered)
            since = None if v.published_at is None else now - v.published_at
            if (state != v.published or since is None or since >= self.heartbeat_ns
                    or (counters != v.counters and since >= self.counts_every_ns)):
                v.published, v.counters, v.published_at = state, counters, now
                out.append(status)
        return out

    # ------------------------------------------------------ held reports

    def _token(self) -> int:
        self._seq += 1
        return self._seq

    def _add(self, token: int, reports: list[ExecutionReport]) -> list[ExecutionReport]:
        if reports:
            self._pending[token] = self._pending.get(token, 0) + len(reports)
        for report in reports:
            self._seq += 1
            heapq.heappush(self._held, (report.ts_event, self._seq, report, token))
        return reports

    def _settle(self, item: Queued, reports: list[ExecutionReport]) -> list[ExecutionReport]:
        """`item` left the queue with `reports`: they hold its offset now instead of it."""
        if item.tag is None:  # the gateway's own request (a status probe): no input offset
            return self._add(self._token(), reports)
        self._add(item.tag, reports)
        self._done(item.tag)
        return reports

    def _done(self, token: int) -> None:
        left = self._pending.get(token, 0) - 1
        if left > 0:
            self._pending[token] = left
        else:
            self._pending.pop(token, None)

    def next_due(self, now: int | None = None) -> int | None:
        """The earliest time something is due: a held report, and (given `now`) a queued request,
        a breaker cooldown or an in-flight deadline."""
        times = [self._held[0][0]] if self._held else []
        if now is not None:
            for v in self._state.values():
                # while the venue is disconnected nothing leaves the queue: only its waits expire
                queue = v.throttle.next_due(now) if v.connection is ConnectionState.CONNECTED \
                    else v.throttle.expiry_due()
                for due in (queue, v.inflight.next_due(), brk.next_due(v.breaker, v.policy.breaker)):
                    if due is not None:
                        times.append(due)
        return min(times) if times else None

    @property
    def held(self) -> int:
        return len(self._held)

    def queued(self, venue: str | None = None) -> int:
        return sum(len(v.throttle) for n, v in self._state.items() if venue in (None, n))

    def in_flight(self, venue: str) -> int:
        return len(self._state[venue].inflight)

    def release(self, now: int | None = None) -> list[ExecutionReport]:
        """Reports due at `now` (all of them when `now` is None), in due order."""
        out = []
        while self._held and (now is None or self._held[0][0] <= now):
            _, _, report, token = heapq.heappop(self._held)
            self._done(token)
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

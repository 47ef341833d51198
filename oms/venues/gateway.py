"""The venue gateway's core: routing, rate limits, held reports and committable offsets, without Kafka.

This module owns what the gateway decides, typed to the `VenueAdapter`
protocol only (the simulated exchange is one adapter; a FIX session is the
next): a `VenueRequest` goes to the adapter named by its venue (others are
skipped); a per-venue token bucket (`oms.domain.tokens`, on the request's
handling time) refuses requests above the rate limit with a report the core
builds itself from the request - REJECTED for a NEW, CANCEL_REJECTED for a
REPLACE or CANCEL, reason "rate limit"; a STATUS over the limit is dropped. The core remembers every request id it
handled: a repeated request costs no token and gets the same answer (a refused
one its refusal again, deterministic exec id; an answered one goes to the
adapter, which is idempotent by request id). Market data goes to every
adapter. Reports are held until their `ts_event` is due (`release`), so
simulated latency needs no sleeping; a request's input offset becomes
committable once every report it caused has been released (`committable`, to
be called only after the released reports were flushed). Pure: time comes in
as `now` (UTC nanoseconds).
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from dataclasses import dataclass
from typing import Mapping

from oms import ids
from oms.domain.tokens import RateLimit, TokenBucket
from oms.events import ExecType, ExecutionReport, OrderStatus, Quote, Trade, VenueAction, VenueRequest
from oms.venues import VenueAdapter, handle_request

log = logging.getLogger("oms.venue_gateway")

__all__ = ["DEFAULT_RATE_LIMIT", "GatewayCore", "GatewayStats", "RATE_LIMITED", "rate_limit_refusal"]

RATE_LIMITED = "rate limit"
DEFAULT_RATE_LIMIT = RateLimit.of(1_000)
"""1,000 requests per second per venue, in bursts of up to 1,000."""


@dataclass
class GatewayStats:
    requests: int = 0
    """Requests handled by one of this gateway's venues (rate-limited ones included)."""
    skipped: int = 0
    """Records on `venue.requests` for other venues, or not requests at all."""
    rate_limited: int = 0
    failed: int = 0
    """Requests the venue refused to process (logged; their offsets are still committed)."""
    quotes: int = 0
    trades: int = 0
    reports: int = 0
    """Reports published."""


def rate_limit_refusal(request: VenueRequest, now: int) -> ExecutionReport:
    """The gateway's own answer to a request over the venue's rate limit (the venue never sees it).

    A NEW is REJECTED; a REPLACE or CANCEL gets CANCEL_REJECTED. The gateway does
    not know the order's state at the venue, so the report carries OrdStatus
    REJECTED and no quantities filled (the engine judges a cancel reject by the
    request it has pending, not by this status). The exec id is derived from the
    request id: a repeated refusal is the same report."""
    exec_id = ids.record_id(request.order_id, request.request_id, "rate-limited")
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
        reason=RATE_LIMITED,
    )


class GatewayCore:
    """The gateway without Kafka (see the module docstring).

    `venues` maps venue names to adapters; `rate_limit=None` disables the limit.
    """

    def __init__(self, venues: Mapping[str, VenueAdapter], rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT) -> None:
        self.venues = dict(venues)
        self.rate_limit = rate_limit
        self.stats = GatewayStats()
        self._buckets: dict[str, TokenBucket] = {name: TokenBucket() for name in self.venues}
        self._refused: dict[str, ExecutionReport] = {}
        """request id -> the rate-limit refusal it got."""
        self._seen: set[str] = set()
        """Request ids handed to a venue."""
        self._held: list[tuple[int, int, ExecutionReport, int]] = []  # (due, seq, report, token)
        self._seq = 0
        self._pending: dict[int, int] = {}  # token -> reports still held
        self._offsets: dict[tuple[str, int], deque[tuple[int, int]]] = {}  # (topic, partition) -> (offset, token)

    @property
    def exchanges(self) -> dict[str, VenueAdapter]:
        """The venues by name (the former name, kept for callers)."""
        return self.venues

    def on_request(self, topic: str, partition: int, offset: int, event: object | None,
                   now: int) -> list[ExecutionReport]:
        """Handle one record of `venue.requests` (None: undecodable, dead-lettered); returns the
        reports it caused (also held for release)."""
        reports: list[ExecutionReport] = []
        venue = self.venues.get(event.venue) if isinstance(event, VenueRequest) else None
        if venue is None:
            self.stats.skipped += 1
        else:
            self.stats.requests += 1
            try:
                reports = self._request(venue, event, now)
            except ValueError as exc:
                self.stats.failed += 1
                log.error("request %s at %s[%d]@%d not processed: %s", event.request_id, topic, partition, offset, exc)
        token = self._hold(reports)
        self._offsets.setdefault((topic, partition), deque()).append((offset, token))
        return reports

    def _request(self, venue: VenueAdapter, request: VenueRequest, now: int) -> list[ExecutionReport]:
        refused = self._refused.get(request.request_id)
        if refused is not None:
            return [refused]
        if request.request_id not in self._seen and not self._take(venue.name, now):
            self.stats.rate_limited += 1
            if request.action is VenueAction.STATUS:
                # a status query over the limit is dropped, not answered: a made-up ORDER_STATUS
                # would disagree with the order; the operator or reconciliation asks again
                log.warning("status request %s over the rate limit of %s: dropped", request.request_id, venue.name)
                return []
            refusal = rate_limit_refusal(request, now)
            self._refused[request.request_id] = refusal
            return [refusal]
        self._seen.add(request.request_id)
        return handle_request(venue, request, now)

    def _take(self, venue: str, now: int) -> bool:
        if self.rate_limit is None:
            return True
        self._buckets[venue], ok = self._buckets.get(venue, TokenBucket()).take_limited(now, self.rate_limit)
        return ok

    def on_marketdata(self, event: object, now: int) -> list[ExecutionReport]:
        """Give a quote or trade to every venue; other events are ignored."""
        reports: list[ExecutionReport] = []
        if isinstance(event, Quote):
            self.stats.quotes += 1
            for venue in self.venues.values():
                reports += venue.on_quote(event, now)
        elif isinstance(event, Trade):
            self.stats.trades += 1
            for venue in self.venues.values():
                reports += venue.on_trade(event, now)
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


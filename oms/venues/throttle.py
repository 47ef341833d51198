"""A venue's request queue: weighted token pools, cancels first, bounded waits, backoff when throttled.

This module owns the order in which one venue's requests go out and when.
Each request costs `weight` tokens of one pool (`VenuePolicy.costs`; the
pools are token buckets, `oms.domain.tokens`, on event time). Requests are
queued, never refused for want of tokens: `next_ready(now)` names the request
to send next - the lowest class first (CANCEL, then REPLACE, then STATUS,
then NEW; FIFO within a class) among those whose pool has the tokens, where
one order's requests keep their order (a CANCEL never overtakes the queued
NEW of its own order) and a pool whose best request must wait holds back the
rest of that pool (a light NEW never starves a heavy CANCEL). The caller then
`take`s it (tokens spent) or `drop`s it (refused for another reason).
`expired(now)` removes the requests that waited longer than `max_wait_ms`.
`throttled(now)` pauses the whole venue for a backoff that doubles on every
further throttled answer (capped) and `calm()` resets it. `next_due(now)` is
when anything here can next change, for the gateway loop to sleep until.
Pure: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum

from oms.domain.tokens import RateLimit, TokenBucket
from oms.events import VenueAction, VenueRequest
from oms.venues.policy import VenuePolicy

__all__ = ["Queued", "RequestClass", "Throttle", "request_class"]

MS = 1_000_000


class RequestClass(IntEnum):
    """Queue priority, lowest first: a kill switch's cancels must not wait behind a burst of orders."""

    CANCEL = 0
    REPLACE = 1
    STATUS = 2
    NEW = 3


_CLASS = {VenueAction.CANCEL: RequestClass.CANCEL, VenueAction.REPLACE: RequestClass.REPLACE,
          VenueAction.STATUS: RequestClass.STATUS, VenueAction.NEW: RequestClass.NEW}


def request_class(request: VenueRequest) -> RequestClass:
    return _CLASS[request.action]


@dataclass(eq=False)
class Queued:
    """A request waiting to go out; `tag` is the caller's (e.g. its input offset's token)."""

    request: VenueRequest
    queued_at: int
    seq: int
    tag: object = None
    retried: bool = False
    """Already sent once and answered "throttled": the next throttled answer is final."""

    @property
    def priority(self) -> tuple[int, int]:
        return request_class(self.request), self.seq


@dataclass
class Throttle:
    """One venue's pools, queue and throttle backoff (see the module docstring)."""

    policy: VenuePolicy
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    paused_until: int | None = None
    backoff_ns: int = 0
    _queue: list[Queued] = field(default_factory=list)
    _seq: int = 0

    @property
    def limits(self) -> dict[str, RateLimit]:
        return self.policy.limits

    def offer(self, request: VenueRequest, now: int, tag: object = None) -> Queued:
        """Queue `request` (sent by `next_ready` / `take` when its turn and its tokens come)."""
        self._seq += 1
        item = Queued(request, now, self._seq, tag)
        self._queue.append(item)
        return item

    def requeue(self, item: Queued) -> None:
        """Put back a request that went out and came back "throttled": its place is kept, once."""
        item.retried = True
        self._queue.append(item)

    def restore(self, item: Queued) -> None:
        """Put back a request the venue could not take (unavailable): its place is kept."""
        self._queue.append(item)

    def __len__(self) -> int:
        return len(self._queue)

    def __contains__(self, item: Queued) -> bool:
        return any(q is item for q in self._queue)

    def queued(self, request_id: str) -> bool:
        return any(q.request.request_id == request_id for q in self._queue)

    def counts(self) -> dict[RequestClass, int]:
        out = {c: 0 for c in RequestClass}
        for q in self._queue:
            out[request_class(q.request)] += 1
        return out

    def tokens(self, now: int) -> dict[str, Decimal]:
        """Tokens left per pool at `now`."""
        return {name: self.buckets.get(name, TokenBucket()).available(now, limit)
                for name, limit in self.limits.items()}

    def _candidates(self) -> list[tuple[Queued, str, Decimal]]:
        """The requests that may go next, in sending order: each the oldest queued request of its
        order, and the best of its pool (a pool's later requests wait behind its best one)."""
        first: dict[tuple[str, str], Queued] = {}
        for item in self._queue:
            key = (item.request.account, item.request.order_id)
            if key not in first or item.seq < first[key].seq:
                first[key] = item
        out, pools = [], set()
        for item in sorted(first.values(), key=lambda q: q.priority):
            cost = self.policy.cost(item.request.action)
            if cost.pool not in pools:
                pools.add(cost.pool)
                out.append((item, cost.pool, cost.weight))
        return out

    def next_ready(self, now: int) -> Queued | None:
        """The request to send now, if one may go (not paused, its tokens there); not yet removed."""
        if self.paused_until is not None and now < self.paused_until:
            return None
        for item, pool, weight in self._candidates():
            if self.buckets.get(pool, TokenBucket()).available(now, self.limits[pool]) >= weight:
                return item
        return None

    def take(self, item: Queued, now: int) -> None:
        """`item` goes out: spend its tokens, remove it from the queue."""
        cost = self.policy.cost(item.request.action)
        bucket, ok = self.buckets.get(cost.pool, TokenBucket()).take_limited(now, self.limits[cost.pool], cost.weight)
        if not ok:
            raise ValueError(f"request {item.request.request_id}: pool {cost.pool} has not {cost.weight} tokens")
        self.buckets[cost.pool] = bucket
        self._queue.remove(item)

    def drop(self, item: Queued) -> None:
        """`item` will not go out (refused for another reason): remove it, spend nothing."""
        self._queue.remove(item)

    def expired(self, now: int) -> list[Queued]:
        """Remove and return the requests that waited longer than `max_wait_ms`, oldest first."""
        limit = self.policy.max_wait_ms * MS
        out = [q for q in self._queue if now - q.queued_at > limit]
        for q in out:
            self._queue.remove(q)
        return sorted(out, key=lambda q: q.seq)

    def throttled(self, now: int) -> int:
        """The venue answered "throttled": pause it for the backoff (doubled each time, capped);
        returns the end of the pause."""
        base, cap = self.policy.backoff_ms * MS, self.policy.max_backoff_ms * MS
        self.backoff_ns = min(cap, 2 * self.backoff_ns) if self.backoff_ns else base
        self.paused_until = now + self.backoff_ns
        return self.paused_until

    def calm(self) -> None:
        """The venue answered normally: the next throttled answer starts the backoff afresh."""
        self.backoff_ns = 0

    def next_due(self, now: int) -> int | None:
        """When the queue can next change: a pause ending, tokens for a waiting request, a wait expiring."""
        if not self._queue:
            return None
        times = [min(q.queued_at for q in self._queue) + self.policy.max_wait_ms * MS + 1]
        if self.paused_until is not None and now < self.paused_until:
            times.append(self.paused_until)
        else:
            for _, pool, weight in self._candidates():
                times.append(self.buckets.get(pool, TokenBucket()).ready_at(now, self.limits[pool], weight))
        return max(now, min(times))

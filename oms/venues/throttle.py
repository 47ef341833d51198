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

import heapq
from collections import deque
from dataclasses import dataclass
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
    waiting: bool = False
    """In the queue now."""

    @property
    def priority(self) -> tuple[int, int]:
        return request_class(self.request), self.seq

    @property
    def order(self) -> tuple[str, str]:
        return self.request.account, self.request.order_id


class Throttle:
    """One venue's pools, queue and throttle backoff (see the module docstring).

    Bookkeeping: each order's waiting requests in arrival order; per pool a heap
    of the requests that head their order (stale entries skipped lazily); a
    heap by arrival time for expiry. Sending, queueing and expiring cost
    O(log n), so a burst far over the limit drains in O(n log n)."""

    def __init__(self, policy: VenuePolicy, buckets: dict[str, TokenBucket] | None = None) -> None:
        self.policy = policy
        self.limits: dict[str, RateLimit] = policy.limits
        self.buckets: dict[str, TokenBucket] = dict(buckets or {})
        self.paused_until: int | None = None
        self.backoff_ns = 0
        self._seq = 0
        self._by_id: dict[str, Queued] = {}
        self._orders: dict[tuple[str, str], deque[Queued]] = {}
        self._heads: dict[str, list[tuple[int, int, int, Queued]]] = {pool: [] for pool in self.limits}
        self._arrivals: list[tuple[int, int, int, Queued]] = []
        self._pushes = 0
        self._counts = {c: 0 for c in RequestClass}

    # ------------------------------------------------------------ entering

    def offer(self, request: VenueRequest, now: int, tag: object = None) -> Queued:
        """Queue `request` (sent by `next_ready` / `take` when its turn and its tokens come)."""
        self._seq += 1
        item = Queued(request, now, self._seq, tag)
        self._enter(item, front=False)
        return item

    def requeue(self, item: Queued) -> None:
        """Put back a request that went out and came back "throttled": its place is kept, once."""
        item.retried = True
        self._enter(item, front=True)

    def restore(self, item: Queued) -> None:
        """Put back a request the venue could not take (unavailable): its place is kept."""
        self._enter(item, front=True)

    def _enter(self, item: Queued, front: bool) -> None:
        item.waiting = True
        self._by_id[item.request.request_id] = item
        self._counts[request_class(item.request)] += 1
        line = self._orders.setdefault(item.order, deque())
        if front:
            line.appendleft(item)
        else:
            line.append(item)
        if line[0] is item:
            self._push_head(item)
        self._pushes += 1
        heapq.heappush(self._arrivals, (item.queued_at, item.seq, self._pushes, item))

    def _push_head(self, item: Queued) -> None:
        pool = self.policy.cost(item.request.action).pool
        self._pushes += 1  # a requeued request may sit in a heap twice (once stale): never compare items
        heapq.heappush(self._heads[pool], (request_class(item.request), item.seq, self._pushes, item))

    def _leave(self, item: Queued) -> None:
        if not item.waiting:
            raise ValueError(f"request {item.request.request_id} is not queued")
        item.waiting = False
        self._by_id.pop(item.request.request_id, None)
        self._counts[request_class(item.request)] -= 1
        line = self._orders[item.order]
        was_head = line[0] is item
        line.remove(item)
        if not line:
            del self._orders[item.order]
        elif was_head:
            self._push_head(line[0])

    # ------------------------------------------------------------- looking

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, item: Queued) -> bool:
        return item.waiting

    def queued(self, request_id: str) -> bool:
        return request_id in self._by_id

    def counts(self) -> dict[RequestClass, int]:
        return dict(self._counts)

    def tokens(self, now: int) -> dict[str, Decimal]:
        """Tokens left per pool at `now`."""
        return {name: self.buckets.get(name, TokenBucket()).available(now, limit)
                for name, limit in self.limits.items()}

    def _head(self, pool: str) -> Queued | None:
        heap = self._heads[pool]
        while heap:
            item = heap[0][-1]
            if item.waiting and self._orders[item.order][0] is item:
                return item
            heapq.heappop(heap)  # stale: sent, dropped, expired, or no longer first of its order
        return None

    def _candidates(self) -> list[tuple[Queued, str, Decimal]]:
        """The requests that may go next, in sending order: each the oldest queued request of its
        order, and the best of its pool (a pool's later requests wait behind its best one)."""
        out = []
        for pool in self.limits:
            item = self._head(pool)
            if item is not None:
                out.append((item, pool, self.policy.cost(item.request.action).weight))
        out.sort(key=lambda c: c[0].priority)
        return out

    def next_ready(self, now: int) -> Queued | None:
        """The request to send now, if one may go (not paused, its tokens there); not yet removed."""
        if self.paused_until is not None and now < self.paused_until:
            return None
        for item, pool, weight in self._candidates():
            if self.buckets.get(pool, TokenBucket()).available(now, self.limits[pool]) >= weight:
                return item
        return None

    # ------------------------------------------------------------- leaving

    def take(self, item: Queued, now: int) -> None:
        """`item` goes out: spend its tokens, remove it from the queue."""
        cost = self.policy.cost(item.request.action)
        bucket, ok = self.buckets.get(cost.pool, TokenBucket()).take_limited(now, self.limits[cost.pool], cost.weight)
        if not ok:
            raise ValueError(f"request {item.request.request_id}: pool {cost.pool} has not {cost.weight} tokens")
        self.buckets[cost.pool] = bucket
        self._leave(item)

    def drop(self, item: Queued) -> None:
        """`item` will not go out (refused for another reason): remove it, spend nothing."""
        self._leave(item)

    def _oldest(self) -> Queued | None:
        while self._arrivals:
            item = self._arrivals[0][-1]
            if item.waiting:
                return item
            heapq.heappop(self._arrivals)
        return None

    def expired(self, now: int) -> list[Queued]:
        """Remove and return the requests that waited longer than `max_wait_ms`, oldest first."""
        limit = self.policy.max_wait_ms * MS
        out = []
        while (item := self._oldest()) is not None and now - item.queued_at > limit:
            heapq.heappop(self._arrivals)
            self._leave(item)
            out.append(item)
        return out

    # ------------------------------------------------------------ backoff

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

    def expiry_due(self) -> int | None:
        """When the oldest waiting request will have waited too long (None: nothing waits)."""
        oldest = self._oldest()
        return None if oldest is None else oldest.queued_at + self.policy.max_wait_ms * MS + 1

    def next_due(self, now: int) -> int | None:
        """When the queue can next change: a pause ending, tokens for a waiting request, a wait expiring."""
        expiry = self.expiry_due()
        if expiry is None:
            return None
        times = [expiry]
        if self.paused_until is not None and now < self.paused_until:
            times.append(self.paused_until)
        else:
            for _, pool, weight in self._candidates():
                times.append(self.buckets.get(pool, TokenBucket()).ready_at(now, self.limits[pool], weight))
        return max(now, min(times))

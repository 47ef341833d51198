"""The token bucket: how many actions a rate allows, on event time, in exact arithmetic.

One definition serves the pre-trade throttle (orders per second per account)
and the venue rate limit (requests per second per venue). A bucket is a frozen
value; `take` returns the bucket after the attempt and whether a token (or,
for a weighted request, `weight` tokens) was there; `ready_at` says when
enough will be. It refills `rate` tokens per second of event time (integer UTC
nanoseconds), capped at `burst`; a bucket never used is full; time never runs
backwards (an earlier `now` refills nothing and keeps the last refill time).
Arithmetic is exact, in `EXACT` (a 100-digit context that traps, the one the
risk modules compute in too): the refill is the integer nanoseconds elapsed
times the rate per nanosecond (the rate shifted nine decimal places).
`refill_take_exact` is the one definition, written with plain operators for
a caller already in `EXACT` (the pre-trade checks: one context switch per
check); `refill_take` enters `EXACT` around it for any other caller
(`ready_at` divides by the rate and rounds up to a whole ns). A caller that
knows its rate and burst ahead passes `full_after_ns` too: past it even an
empty bucket is full, and the refill is `burst` with no arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow, getcontext, localcontext, setcontext

__all__ = ["EXACT", "RateLimit", "TokenBucket", "exactly", "full_after_ns", "refill_take", "refill_take_exact"]

T = TypeVar("T")
ZERO = Decimal(0)
ONE = Decimal(1)
_NS_PER_S = Decimal(1_000_000_000)
EXACT = Context(prec=100, traps=[InvalidOperation, DivisionByZero, Overflow])
"""The exact context: 100 digits for inputs of at most 28, so sums and products never round; an
overflow, a division by zero or an invalid operation raises instead of hiding."""


def refill_take_exact(tokens: Decimal, last: int | None, now: int, per_ns: Decimal, burst: Decimal,
                      weight: Decimal | None = ONE, full_after: int | None = None) -> tuple[Decimal, int, bool]:
    """(tokens, last refill, taken) of a bucket holding `tokens` as of `last` (None: never used,
    full) after refilling `per_ns` x elapsed nanoseconds up to `burst` at `now` and then taking
    `weight` tokens if all are there (None: take nothing). `per_ns` is the rate per second shifted
    nine places (`rate.scaleb(-9)`, exact). `full_after` (optional, `full_after_ns`): nanoseconds
    after which even an empty bucket is over full, so the refill is `burst` without arithmetic.
    Call in `EXACT`: plain operators, no context switch."""
    if last is None:
        tokens, last = burst, now
    elif now > last:
        elapsed = now - last
        if full_after is not None and elapsed >= full_after:
            tokens = burst  # what the refill gives: a bucket never holds less than nothing
        else:
            tokens = tokens + per_ns * elapsed if tokens < burst else burst
        last = now
    if tokens > burst:
        tokens = burst
    if weight is None or tokens < weight:
        return tokens, last, False
    return tokens - weight, last, True


def exactly(fn: Callable[..., T], /, *args) -> T:
    """`fn(*args)` computed in `EXACT` from any context: entered without copying it (`localcontext`
    copies) and the caller's context set back after."""
    prior = getcontext()
    setcontext(EXACT)
    try:
        return fn(*args)
    finally:
        setcontext(prior)


def full_after_ns(per_ns: Decimal, burst: Decimal) -> int:
    """The fewest whole nanoseconds whose refill at `per_ns` exceeds `burst`: after them a bucket
    holding anything from nothing up is refilled past `burst`, so it holds `burst`."""
    return exactly(lambda: int(burst // per_ns) + 1)


def refill_take(tokens: Decimal, last: int | None, now: int, rate: Decimal, burst: Decimal,
                weight: Decimal | None = ONE) -> tuple[Decimal, int, bool]:
    """`refill_take_exact` at `rate` tokens per second, from any context (it enters `EXACT`)."""
    return exactly(lambda: refill_take_exact(tokens, last, now, rate.scaleb(-9), burst, weight))


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `per_second` actions per second on average, in bursts of up to `burst`."""

    per_second: Decimal
    burst: Decimal

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError(f"rate limit: per_second must be > 0 and burst >= 1, got {self.per_second}/{self.burst}")

    @classmethod
    def of(cls, per_second: int | str | Decimal, burst: int | str | Decimal | None = None) -> "RateLimit":
        rate = Decimal(per_second)
        return cls(rate, Decimal(burst) if burst is not None else max(ONE, rate))


@dataclass(frozen=True, slots=True)
class TokenBucket:
    """Tokens left (exact, may be fractional) as of `last_refill` (UTC ns)."""

    tokens: Decimal = ZERO
    last_refill: int | None = None
    """None: never used, so full at the first `take`."""

    def take(self, now: int, rate: Decimal, burst: Decimal, weight: Decimal = ONE) -> tuple["TokenBucket", bool]:
        """Refill `rate` x elapsed seconds (capped at `burst`), then take `weight` tokens (one unless
        told: a weighted request) if they are all there; none are taken otherwise."""
        tokens, last, ok = refill_take(self.tokens, self.last_refill, now, rate, burst, weight)
        return TokenBucket(tokens, last), ok

    def take_limited(self, now: int, limit: RateLimit, weight: Decimal = ONE) -> tuple["TokenBucket", bool]:
        """`take` at the rate and burst of `limit`."""
        return self.take(now, limit.per_second, limit.burst, weight)

    def available(self, now: int, limit: RateLimit) -> Decimal:
        """The tokens there at `now` (refilled, nothing taken)."""
        return self._refilled(now, limit.per_second, limit.burst)[0]

    def ready_at(self, now: int, limit: RateLimit, weight: Decimal = ONE) -> int:
        """The earliest time >= `now` (UTC ns, rounded up) at which `weight` tokens are there;
        `ValueError` if the burst can never hold them."""
        if weight > limit.burst:
            raise ValueError(f"weight {weight} exceeds the burst {limit.burst}: never available")
        tokens, last = self._refilled(now, limit.per_second, limit.burst)
        if tokens >= weight:
            return now
        with localcontext(EXACT):
            wait = ((weight - tokens) * _NS_PER_S / limit.per_second).to_integral_value(rounding="ROUND_CEILING")
        return last + int(wait)

    def _refilled(self, now: int, rate: Decimal, burst: Decimal) -> tuple[Decimal, int]:
        tokens, last, _ = refill_take(self.tokens, self.last_refill, now, rate, burst, None)
        return tokens, last

"""The token bucket: how many actions a rate allows, on event time, in exact arithmetic.

One definition serves the pre-trade throttle (orders per second per account)
and the venue rate limit (requests per second per venue). A bucket is a frozen
value; `take` returns the bucket after the attempt and whether a token was
there. It refills `rate` tokens per second of event time (integer UTC
nanoseconds), capped at `burst`; a bucket never used is full; time never runs
backwards (an earlier `now` refills nothing and keeps the last refill time).
Arithmetic runs in a 100-digit Decimal context and divides only by 10**9, so
nothing rounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext

__all__ = ["RateLimit", "TokenBucket"]

ZERO = Decimal(0)
ONE = Decimal(1)
_NS_PER_S = Decimal(1_000_000_000)
_EXACT = Context(prec=100, traps=[InvalidOperation, DivisionByZero, Overflow])


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

    def take(self, now: int, rate: Decimal, burst: Decimal) -> tuple["TokenBucket", bool]:
        """Refill `rate` x elapsed seconds (capped at `burst`), then take one token if one is there."""
        with localcontext(_EXACT):
            if self.last_refill is None:
                tokens, last = Decimal(burst), now
            else:
                last = max(now, self.last_refill)
                elapsed = last - self.last_refill
                tokens = min(burst, self.tokens + elapsed * rate / _NS_PER_S) if elapsed else min(burst, self.tokens)
            ok = tokens >= ONE
            if ok:
                tokens -= ONE
        return TokenBucket(tokens, last), ok

    def take_limited(self, now: int, limit: RateLimit) -> tuple["TokenBucket", bool]:
        """`take` at the rate and burst of `limit`."""
        return self.take(now, limit.per_second, limit.burst)

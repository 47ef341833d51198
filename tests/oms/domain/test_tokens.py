"""Tests of `oms.domain.tokens`: the one token bucket (pre-trade throttle, venue rate limit).

This module owns the evidence that a bucket never used is full, refills
exactly `rate` tokens per second of event time up to `burst`, takes a token
only when a whole one is there, never runs backwards in time, keeps fractional
tokens exactly, and that `RateLimit` refuses impossible limits and defaults
its burst to max(1, rate); and (hypothesis) that the refill skipped once even
an empty bucket is full (`full_after_ns`) leaves exactly what the arithmetic
gives. Pure: time is integer nanoseconds.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oms.domain.tokens import EXACT, RateLimit, TokenBucket, full_after_ns, refill_take, refill_take_exact

T0 = 1_767_258_000_000_000_000
SEC = 1_000_000_000


def drain(bucket: TokenBucket, now: int, rate: D, burst: D) -> tuple[TokenBucket, int]:
    taken = 0
    while True:
        bucket, ok = bucket.take(now, rate, burst)
        if not ok:
            return bucket, taken
        taken += 1


def test_a_bucket_never_used_is_full_at_the_first_take():
    bucket, taken = drain(TokenBucket(), T0, D(1), D(5))
    assert taken == 5 and bucket == TokenBucket(D(0), T0)


def test_refill_is_rate_per_second_of_event_time_capped_at_burst():
    empty, _ = drain(TokenBucket(), T0, D(2), D(3))
    _, taken = drain(empty, T0 + SEC, D(2), D(3))
    assert taken == 2
    _, taken = drain(empty, T0 + 60 * SEC, D(2), D(3))
    assert taken == 3  # never more than burst, however long it waited


def test_a_token_is_taken_only_when_a_whole_one_is_there_and_fractions_are_kept_exactly():
    empty, _ = drain(TokenBucket(), T0, D(1), D(1))
    almost, ok = empty.take(T0 + SEC - 1, D(1), D(1))
    assert not ok and almost.tokens == D("0.999999999") and almost.last_refill == T0 + SEC - 1
    full, ok = almost.take(T0 + SEC, D(1), D(1))
    assert ok and full.tokens == 0
    third, ok = TokenBucket(D(0), T0).take(T0 + SEC // 3, D(3), D(1))
    assert not ok and third.tokens == D("0.999999999")  # 333333333 ns x 3 per second, exact


def test_time_never_runs_backwards():
    used, ok = TokenBucket().take(T0, D(1), D(1))
    assert ok
    earlier, ok = used.take(T0 - SEC, D(1), D(1))
    assert not ok and earlier.last_refill == T0 and earlier.tokens == 0
    later, ok = earlier.take(T0 + SEC, D(1), D(1))
    assert ok and later.last_refill == T0 + SEC


def test_a_lower_burst_caps_tokens_already_there():
    bucket, ok = TokenBucket(D(10), T0).take(T0, D(1), D(2))
    assert ok and bucket.tokens == 1


def test_a_bucket_is_a_frozen_value():
    bucket = TokenBucket()
    with pytest.raises(dataclasses.FrozenInstanceError):
        bucket.tokens = D(1)  # type: ignore[misc]
    after, _ = bucket.take(T0, D(1), D(1))
    assert bucket == TokenBucket() and after != bucket


def test_take_limited_is_take_with_the_limit_s_rate_and_burst():
    limit = RateLimit.of("2.5", 4)
    assert TokenBucket().take_limited(T0, limit) == TokenBucket().take(T0, D("2.5"), D(4))
    assert drain(TokenBucket(), T0, limit.per_second, limit.burst)[1] == 4


def test_rate_limit_defaults_its_burst_to_at_least_one():
    assert RateLimit.of(5) == RateLimit(D(5), D(5))
    assert RateLimit.of("0.5") == RateLimit(D("0.5"), D(1))
    assert RateLimit.of(D("100"), "10").burst == D(10)


@pytest.mark.parametrize("rate, burst", [(0, 1), (-1, 1), (1, 0), (1, "0.5")])
def test_rate_limit_refuses_impossible_limits(rate, burst):
    with pytest.raises(ValueError):
        RateLimit.of(rate, burst)


def test_refill_take_is_the_bucket_s_arithmetic_exact_for_fractional_rates_and_long_waits():
    # 0.3 tokens/s over 7 s and 1 ns: 2.1000000003 tokens, exactly; a weight of 2 leaves 0.1000000003
    tokens, last, ok = refill_take(D(0), T0, T0 + 7 * SEC + 1, D("0.3"), D(5), D(2))
    assert ok and tokens == D("0.1000000003") and last == T0 + 7 * SEC + 1
    assert TokenBucket(D(0), T0).take(T0 + 7 * SEC + 1, D("0.3"), D(5), D(2)) == (TokenBucket(tokens, last), True)
    # a wait of a century at a rate of 10**12 per second is capped at the burst, never rounded
    full, _, ok = refill_take(D(0), T0, T0 + 100 * 365 * 86_400 * SEC, D(10) ** 12, D("123456789.123456789"), None)
    assert not ok and full == D("123456789.123456789")  # weight None: refill only, nothing taken


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10_000).map(lambda n: D(n) / 100), st.integers(1, 50).map(D), st.integers(0, 100),
       st.integers(-3, 3), st.integers(0, 2))
def test_the_refill_skipped_after_full_after_ns_is_the_refill_computed(rate, burst, share, around, taken):
    per_ns = EXACT.scaleb(rate, -9)
    full = full_after_ns(per_ns, burst)
    tokens = EXACT.divide(EXACT.multiply(burst, D(share)), D(100))  # anything from empty to full
    elapsed = max(1, full + around)
    with_shortcut = refill_take_exact(tokens, T0, T0 + elapsed, per_ns, burst, D(taken), full)
    computed = refill_take_exact(tokens, T0, T0 + elapsed, per_ns, burst, D(taken))
    assert with_shortcut == computed and str(with_shortcut[0]) == str(computed[0])
    assert EXACT.multiply(per_ns, D(full)) > burst >= EXACT.multiply(per_ns, D(full - 1))  # the fewest ns

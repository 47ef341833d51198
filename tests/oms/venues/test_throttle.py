"""Tests of `oms.venues.throttle` and `oms.venues.policy`: weighted pools, the cancels-first queue,
bounded waits, the throttle backoff, and the policy parser."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from oms.config import Settings
from oms.domain.tokens import RateLimit, TokenBucket
from oms.events import VenueAction
from oms.venues.policy import DEFAULT_POLICY, VenuePolicy, parse_venue_limits
from oms.venues.throttle import RequestClass, Throttle
from tests.builders import GATEWAY_T0 as T0
from tests.builders import numbered_request as request

MS = 1_000_000


def cancel(n: int, of: int):
    return request(n, action=VenueAction.CANCEL, order_id=f"ORD-{of}", orig_request_id=f"req-{of}")


def drain(t: Throttle, now: int) -> list[str]:
    sent = []
    while (item := t.next_ready(now)) is not None:
        t.take(item, now)
        sent.append(item.request.request_id)
    return sent


def test_a_burst_of_news_then_a_cancel_the_cancel_goes_first():
    t = Throttle(VenuePolicy.single(RateLimit.of(10, 2)))
    for n in range(1, 7):
        t.offer(request(n), T0)
    assert drain(t, T0) == ["req-1", "req-2"]  # the burst
    t.offer(cancel(99, of=1), T0 + MS)
    assert t.counts()[RequestClass.CANCEL] == 1 and t.counts()[RequestClass.NEW] == 4
    assert t.next_due(T0 + MS) == T0 + 100 * MS  # one token back after 100 ms
    assert drain(t, T0 + 100 * MS) == ["req-99"]
    assert drain(t, T0 + 200 * MS) == ["req-3"]


def test_priority_is_cancel_replace_status_new_fifo_within_a_class():
    t = Throttle(VenuePolicy.single(RateLimit.of(1, 1)))
    t.offer(request(1), T0)
    t.offer(request(2, action=VenueAction.STATUS, order_id="ORD-20"), T0)
    t.offer(request(3, action=VenueAction.REPLACE, order_id="ORD-30", orig_request_id="r"), T0)
    t.offer(cancel(4, of=40), T0)
    t.offer(cancel(5, of=50), T0)
    order = []
    for k in range(5):
        order += drain(t, T0 + k * 1_000 * MS)
    assert order == ["req-4", "req-5", "req-3", "req-2", "req-1"]


def test_an_orders_requests_keep_their_order():
    t = Throttle(VenuePolicy.single(RateLimit.of(1, 1)))
    t.offer(request(1), T0)
    assert drain(t, T0) == ["req-1"]
    t.offer(request(2), T0)
    t.offer(cancel(3, of=2), T0)  # the cancel of a NEW still queued waits behind it
    t.offer(cancel(4, of=7), T0)
    assert [drain(t, T0 + k * 1_000 * MS) for k in (1, 2, 3)] == [["req-4"], ["req-2"], ["req-3"]]


def test_weights_and_separate_pools():
    policy = VenuePolicy(
        pools={"orders": {"per_second": 10, "burst": 4}, "cancels": {"per_second": 100}},
        costs={"NEW": {"pool": "orders", "weight": 2}, "REPLACE": {"pool": "orders", "weight": 3},
               "CANCEL": {"pool": "cancels"}, "STATUS": {"pool": "orders"}})
    t = Throttle(policy)
    for n in range(1, 4):
        t.offer(request(n), T0)
    for n in range(10, 15):
        t.offer(cancel(n, of=n), T0)
    sent = drain(t, T0)
    assert sent == ["req-10", "req-11", "req-12", "req-13", "req-14", "req-1", "req-2"]
    assert t.tokens(T0) == {"orders": D(0), "cancels": D(95)}
    assert t.next_due(T0) == T0 + 200 * MS  # 2 tokens at 10/s


def test_a_heavy_request_is_not_starved_by_lighter_ones_of_its_pool():
    policy = VenuePolicy(pools={"p": {"per_second": 1, "burst": 3}},
                         costs={"REPLACE": {"pool": "p", "weight": 3}, "NEW": {"pool": "p"}})
    t = Throttle(policy, buckets={"p": TokenBucket(D(2), T0)})
    t.offer(request(1, action=VenueAction.REPLACE, orig_request_id="r"), T0)
    t.offer(request(2), T0)
    assert drain(t, T0) == []  # the replace needs 3: the new (1) waits behind it
    assert drain(t, T0 + 1_000 * MS) == ["req-1"]


def test_requests_that_waited_too_long_expire_oldest_first():
    t = Throttle(VenuePolicy.single(RateLimit.of(1, 1), max_wait_ms=50))
    t.offer(request(1), T0)
    drain(t, T0)
    t.offer(request(2), T0)
    t.offer(request(3), T0 + 10 * MS)
    assert t.expired(T0 + 50 * MS) == []
    assert [q.request.request_id for q in t.expired(T0 + 61 * MS)] == ["req-2", "req-3"]
    assert len(t) == 0 and t.next_due(T0) is None


def test_throttled_pauses_with_a_doubling_capped_backoff_and_calm_resets_it():
    t = Throttle(VenuePolicy.single(RateLimit.of(100), backoff_ms=100, max_backoff_ms=300))
    t.offer(request(1), T0)
    pauses = [t.throttled(T0) - T0 for _ in range(4)]
    assert pauses == [100 * MS, 200 * MS, 300 * MS, 300 * MS]
    assert t.next_ready(T0 + 299 * MS) is None and t.next_due(T0) == T0 + 300 * MS
    assert drain(t, T0 + 300 * MS) == ["req-1"]
    t.calm()
    assert t.throttled(T0) == T0 + 100 * MS


def test_a_throttled_request_goes_back_to_its_place_once():
    t = Throttle(VenuePolicy.single(RateLimit.of(100)))
    first = t.offer(request(1), T0)
    t.offer(request(2), T0)
    t.take(first, T0)
    t.requeue(first)
    assert first.retried and drain(t, T0) == ["req-1", "req-2"]


# ------------------------------------------------------------------ policy


def test_the_default_policy_is_the_former_default_rate_limit():
    assert parse_venue_limits("").policy("ANY") == DEFAULT_POLICY
    assert DEFAULT_POLICY.limits == {"orders": RateLimit.of(1000)}
    assert {DEFAULT_POLICY.cost(a).weight for a in VenueAction} == {D(1)}


def test_limits_from_json_text_and_files(tmp_path):
    spec = {"SIM-A": {"pools": {"orders": {"per_second": 5}}, "max_wait_ms": 10}, "*": {"breaker_failures": 2}}
    limits = parse_venue_limits(json.dumps(spec))
    assert limits.policy("SIM-A").limits == {"orders": RateLimit.of(5)}
    assert limits.policy("SIM-B").breaker.failures == 2
    toml = tmp_path / "limits.toml"
    toml.write_text('[SIM-A]\nmax_wait_ms = 7\n[SIM-A.pools.orders]\nper_second = 3\nburst = 6\n')
    assert Settings(venue_limits=str(toml)).venue_policies.policy("SIM-A").limits == {"orders": RateLimit.of(3, 6)}
    as_json = tmp_path / "limits.json"
    as_json.write_text(json.dumps(spec))
    assert Settings(venue_limits=str(as_json)).venue_policies == limits
    assert Settings().venue_policies == parse_venue_limits("")
    with pytest.raises(ValueError, match="neither JSON nor a file"):
        Settings(venue_limits="/no/such/file.toml")


@pytest.mark.parametrize("spec, message", [
    ('{"SIM-A": {"pools": {}}}', "name at least one pool"),
    ('{"SIM-A": {"costs": {"NEW": {"pool": "nope"}}}}', "pool 'nope' is not one of"),
    ('{"SIM-A": {"costs": {"NEW": {"pool": "orders", "weight": 5000}}}}', "exceeds the burst"),
    ('{"SIM-A": {"throttled": "("}}', "not a regular expression"),
    ('{"SIM-A": {"max_wait_ms": 0}}', "SIM-A.max_wait_ms"),
    ('{"SIM-A": {"bogus": 1}}', "SIM-A.bogus"),
    ("{nope", "not valid JSON"),
])
def test_bad_limits_are_refused_with_where(spec, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_venue_limits(spec)


def test_recognisers():
    assert DEFAULT_POLICY.is_throttled("Throttled: 50 msgs/s") and not DEFAULT_POLICY.is_throttled("price")
    assert DEFAULT_POLICY.is_system_error("system unavailable") and not DEFAULT_POLICY.is_system_error(None)
    assert not DEFAULT_POLICY.is_system_error("limit order needs a limit price")


def test_requeued_and_restored_requests_keep_their_place_many_times():
    t = Throttle(VenuePolicy.single(RateLimit.of(1000)))
    items = [t.offer(request(n), T0) for n in range(3)]
    for _ in range(5):  # the same request back at the head repeatedly (stale heap entries pile up)
        t.take(items[0], T0)
        t.restore(items[0])
    t.take(items[0], T0)
    t.requeue(items[0])
    assert drain(t, T0) == ["req-0", "req-1", "req-2"] and len(t) == 0 and t.next_due(T0) is None


# ------------------------------------------------------------ properties

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ACTIONS = [VenueAction.NEW, VenueAction.REPLACE, VenueAction.CANCEL, VenueAction.STATUS]
WEIGHTED = VenuePolicy(
    pools={"orders": {"per_second": 20, "burst": 5}, "cancels": {"per_second": 50, "burst": 3}},
    costs={"NEW": {"pool": "orders", "weight": 2}, "REPLACE": {"pool": "orders", "weight": 3},
           "CANCEL": {"pool": "cancels"}, "STATUS": {"pool": "orders"}}, max_wait_ms=10**6)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from(ACTIONS), st.integers(0, 5)), min_size=1,
                max_size=60))
def test_no_window_ever_sends_more_than_the_limit_and_order_is_kept(arrivals):
    """Whatever arrives when: over any interval a pool spends at most burst + rate x interval; an
    order's requests go in arrival order; nothing is lost; the head of the queue never waits when
    its tokens are there."""
    t = Throttle(WEIGHTED)
    now, sent, arrived = T0, [], []
    for n, (gap_ms, action, order) in enumerate(arrivals):
        # drain up to the next arrival on the core's own due times
        target = now + gap_ms * MS
        while (due := t.next_due(now)) is not None and due <= target:
            now = due
            for item in iter(lambda: t.next_ready(now), None):
                t.take(item, now)
                sent.append((now, item))
            if t.next_due(now) == now:  # nothing ready at its own due time would loop: never happens
                raise AssertionError("due now but nothing ready")
        now = target
        arrived.append(t.offer(request(n, action=action, order_id=f"ORD-{order}", orig_request_id="r"), now))
        for item in iter(lambda: t.next_ready(now), None):
            t.take(item, now)
            sent.append((now, item))
    while (due := t.next_due(now)) is not None:
        now = due
        for item in iter(lambda: t.next_ready(now), None):
            t.take(item, now)
            sent.append((now, item))
    assert sorted(i.seq for _, i in sent) == sorted(i.seq for i in arrived) and len(t) == 0
    for pool, limit in WEIGHTED.limits.items():
        spends = [(at, WEIGHTED.cost(i.request.action).weight) for at, i in sent
                  if WEIGHTED.cost(i.request.action).pool == pool]
        for a, (start, _) in enumerate(spends):
            for end, _ in spends[a:]:
                spent = sum(w for at, w in spends if start <= at <= end)
                assert spent <= limit.burst + limit.per_second * D(end - start) / D(10**9)
    by_order: dict[str, list[int]] = {}
    for _, item in sent:
        by_order.setdefault(item.request.order_id, []).append(item.seq)
    assert all(seqs == sorted(seqs) for seqs in by_order.values())

"""Tests of `oms.venues.breaker`: the circuit breaker's transitions, and properties of any sequence of inputs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from oms.events import BreakerMode, BreakerState
from oms.venues.breaker import Breaker, BreakerPolicy, admit, failure, force, next_due, success, tick

S = 1_000_000_000
P = BreakerPolicy(failures=3, window_ns=10 * S, cooldown_ns=5 * S, max_cooldown_ns=20 * S, probes=2)


def opened(now: int = 0) -> Breaker:
    b = Breaker()
    for t in range(3):
        b = failure(b, P, now + t, "venue unavailable")
    return b


def test_failures_within_the_window_open_it():
    b = failure(failure(Breaker(), P, 0, "x"), P, S, "x")
    assert b.state is BreakerState.CLOSED and len(b.failures) == 2
    b = failure(b, P, 2 * S, "timeout")
    assert (b.state, b.since, b.failures) == (BreakerState.OPEN, 2 * S, ())
    assert b.reason == "3 failures within 10s, last: timeout"


def test_failures_older_than_the_window_do_not_count():
    b = failure(failure(Breaker(), P, 0, "x"), P, 1, "x")
    b = failure(b, P, 10 * S + 1, "x")
    assert b.state is BreakerState.CLOSED and b.failures == (10 * S + 1,)


def test_after_the_cooldown_it_probes_and_a_success_closes_it():
    b = opened()
    assert next_due(b, P) == 2 + 5 * S
    assert tick(b, P, 2 + 5 * S - 1) is b
    b = tick(b, P, 2 + 5 * S)
    assert b.state is BreakerState.HALF_OPEN
    b, first = admit(b, P, 6 * S)
    b, second = admit(b, P, 6 * S)
    b, third = admit(b, P, 6 * S)
    assert (first, second, third) == (True, True, False)
    b = success(b, P, 7 * S)
    assert (b.state, b.since, b.cooldown_ns) == (BreakerState.CLOSED, 7 * S, 0)
    assert admit(b, P, 7 * S)[1]


def test_a_failed_probe_reopens_it_with_the_cooldown_doubled_and_capped():
    b = tick(opened(), P, 5 * S + 2)
    cooldowns = []
    for _ in range(4):
        b = failure(b, P, b.since + 1, "probe timeout")
        assert b.state is BreakerState.OPEN and b.reason == "probe failed: probe timeout"
        cooldowns.append(b.cooldown_ns)
        b = tick(b, P, next_due(b, P))
    assert cooldowns == [10 * S, 20 * S, 20 * S, 20 * S]


def test_open_refuses_and_ignores_late_answers():
    b = opened()
    assert admit(b, P, 3)[1] is False
    assert success(b, P, 4) is b and failure(b, P, 4, "again") is b


def test_an_operator_forces_it_either_way_and_hands_it_back():
    b = force(Breaker(), BreakerMode.OPEN, 10, "ops", "venue outage")
    assert (b.effective, b.effective_since, b.effective_reason, b.forced_by) == (
        BreakerState.OPEN, 10, "venue outage", "ops")
    assert admit(b, P, 11)[1] is False
    b = force(opened(), BreakerMode.CLOSED, 20, "ops", "venue says all is well")
    assert b.effective is BreakerState.CLOSED and b.state is BreakerState.OPEN and admit(b, P, 21)[1]
    b = force(b, BreakerMode.AUTO, 30, "ops", None)
    assert b.effective is BreakerState.OPEN and b.effective_since == 2


# ------------------------------------------------------------ properties

steps = st.lists(st.tuples(st.sampled_from(["failure", "success", "tick", "admit", "force"]),
                           st.integers(0, 3 * S), st.sampled_from(list(BreakerMode))), max_size=60)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_any_sequence_keeps_the_invariants(seq):
    b, now = Breaker(), 0
    for kind, dt, mode in seq:
        now += dt
        before = b
        if kind == "failure":
            b = failure(b, P, now, "f")
        elif kind == "success":
            b = success(b, P, now)
        elif kind == "tick":
            b = tick(b, P, now)
        elif kind == "admit":
            b, ok = admit(b, P, now)
            assert ok == (b.effective is BreakerState.CLOSED or (
                b.effective is BreakerState.HALF_OPEN and b.probes_admitted > before.probes_admitted))
            assert b.effective is not BreakerState.OPEN or not ok
        else:
            b = force(b, mode, now, "ops", "r")
            assert b.mode is mode
        # never more probes than allowed; a cooldown within its bounds; failures only counted while CLOSED
        assert b.probes_admitted <= P.probes
        assert b.cooldown_ns == 0 or P.cooldown_ns <= b.cooldown_ns <= P.max_cooldown_ns
        assert len(b.failures) < P.failures and (b.state is BreakerState.CLOSED or b.failures == ())
        assert all(now - t < P.window_ns or kind != "failure" for t in b.failures[-1:])
        # the only ways between states
        if before.state is not b.state:
            assert (before.state, b.state, kind) in {
                (BreakerState.CLOSED, BreakerState.OPEN, "failure"),
                (BreakerState.HALF_OPEN, BreakerState.OPEN, "failure"),
                (BreakerState.OPEN, BreakerState.HALF_OPEN, "tick"),
                (BreakerState.HALF_OPEN, BreakerState.CLOSED, "success"),
            }
            assert b.since == now
        # a forced mode is what the gateway obeys
        if b.mode is not BreakerMode.AUTO:
            assert b.effective.value == b.mode.value
        else:
            assert b.effective is b.state

"""A venue's circuit breaker: a pure state machine over failures, successes, time and operator overrides.

This module owns when a venue is considered down. CLOSED passes every request;
`failure` records one failure (the venue unavailable, a system-error reject, a
request past its deadline, a disconnect) and opens the breaker when
`BreakerPolicy.failures` of them fall within `window_ns`. OPEN refuses NEW and
REPLACE (cancels are the gateway's business: they always go while the venue
is connected); after the cooldown (`tick`) it is HALF_OPEN and `admit` lets
`probes` requests through; a `success` then closes it and resets the
cooldown, a `failure` opens it again with the cooldown doubled (capped at
`max_cooldown_ns`). An operator may `force` it OPEN or CLOSED, or back to
AUTO: the automatic state keeps evolving underneath and `effective` is what
the gateway obeys. Every function returns a new frozen `Breaker`; time comes
in as `now` (UTC ns). The table of transitions:

| state | failure | success | tick after cooldown | admit |
|---|---|---|---|---|
| CLOSED | count; OPEN at the threshold | - | - | yes |
| OPEN | - (already open) | - (a late answer proves nothing) | HALF_OPEN | no |
| HALF_OPEN | OPEN, cooldown x2 (capped) | CLOSED, cooldown reset | - | while probes are left |
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from oms.events import BreakerMode, BreakerState

__all__ = ["Breaker", "BreakerPolicy", "admit", "failure", "force", "next_due", "success", "tick"]

S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a venue's breaker opens and how it recovers (times in ns)."""

    failures: int = 5
    """Failures within `window_ns` that open the breaker."""
    window_ns: int = 10 * S
    cooldown_ns: int = 5 * S
    """Time OPEN before the first HALF_OPEN."""
    max_cooldown_ns: int = 60 * S
    probes: int = 1
    """Requests HALF_OPEN lets through."""

    def __post_init__(self) -> None:
        if self.failures < 1 or self.probes < 1:
            raise ValueError(f"breaker: failures and probes must be >= 1, got {self.failures}, {self.probes}")
        if self.window_ns <= 0 or self.cooldown_ns <= 0 or self.max_cooldown_ns < self.cooldown_ns:
            raise ValueError("breaker: window and cooldown must be > 0, and max cooldown >= cooldown")


@dataclass(frozen=True, slots=True)
class Breaker:
    """One venue's breaker: the automatic `state` and the operator's `mode` over it."""

    state: BreakerState = BreakerState.CLOSED
    since: int = 0
    """When the automatic state was entered (UTC ns)."""
    reason: str | None = None
    failures: tuple[int, ...] = ()
    """Times of the failures counted toward opening (CLOSED only), oldest first."""
    cooldown_ns: int = 0
    """The current cooldown (0: the policy's)."""
    probes_admitted: int = 0
    mode: BreakerMode = BreakerMode.AUTO
    forced_since: int = 0
    forced_by: str | None = None
    forced_reason: str | None = None

    @property
    def effective(self) -> BreakerState:
        """The state the gateway obeys: the forced one, else the automatic one."""
        if self.mode is BreakerMode.OPEN:
            return BreakerState.OPEN
        if self.mode is BreakerMode.CLOSED:
            return BreakerState.CLOSED
        return self.state

    @property
    def effective_since(self) -> int:
        return self.since if self.mode is BreakerMode.AUTO else self.forced_since

    @property
    def effective_reason(self) -> str | None:
        return self.reason if self.mode is BreakerMode.AUTO else self.forced_reason


def failure(b: Breaker, policy: BreakerPolicy, now: int, reason: str) -> Breaker:
    """One failure at `now`: counted in the window when CLOSED (OPEN at the threshold); a failed
    probe reopens a HALF_OPEN breaker with the cooldown doubled."""
    if b.state is BreakerState.CLOSED:
        recent = tuple(t for t in b.failures if t > now - policy.window_ns) + (now,)
        if len(recent) < policy.failures:
            return replace(b, failures=recent)
        cooldown = b.cooldown_ns or policy.cooldown_ns
        return replace(b, state=BreakerState.OPEN, since=now, failures=(), cooldown_ns=cooldown, probes_admitted=0,
                       reason=f"{len(recent)} failures within {policy.window_ns / S:g}s, last: {reason}")
    if b.state is BreakerState.HALF_OPEN:
        cooldown = min(2 * (b.cooldown_ns or policy.cooldown_ns), policy.max_cooldown_ns)
        return replace(b, state=BreakerState.OPEN, since=now, cooldown_ns=cooldown, probes_admitted=0,
                       reason=f"probe failed: {reason}")
    return b


def success(b: Breaker, policy: BreakerPolicy, now: int) -> Breaker:
    """The venue answered: a HALF_OPEN breaker closes (cooldown reset); otherwise nothing changes."""
    if b.state is BreakerState.HALF_OPEN:
        return replace(b, state=BreakerState.CLOSED, since=now, failures=(), cooldown_ns=0, probes_admitted=0,
                       reason="probe answered")
    return b


def tick(b: Breaker, policy: BreakerPolicy, now: int) -> Breaker:
    """Time passes: an OPEN breaker whose cooldown is over becomes HALF_OPEN."""
    due = next_due(b, policy)
    if due is not None and now >= due:
        return replace(b, state=BreakerState.HALF_OPEN, since=now, probes_admitted=0,
                       reason=f"cooldown of {(b.cooldown_ns or policy.cooldown_ns) / S:g}s over: probing")
    return b


def next_due(b: Breaker, policy: BreakerPolicy) -> int | None:
    """When `tick` will next change the breaker (the end of an OPEN cooldown), else None."""
    if b.state is BreakerState.OPEN:
        return b.since + (b.cooldown_ns or policy.cooldown_ns)
    return None


def admit(b: Breaker, policy: BreakerPolicy, now: int) -> tuple[Breaker, bool]:
    """May a NEW or REPLACE go to the venue now? Yes when the effective state is CLOSED; never
    when OPEN; HALF_OPEN admits `policy.probes` requests (each counted) and refuses the rest."""
    state = b.effective
    if state is BreakerState.CLOSED:
        return b, True
    if state is BreakerState.OPEN:
        return b, False
    if b.probes_admitted < policy.probes:
        return replace(b, probes_admitted=b.probes_admitted + 1), True
    return b, False


def force(b: Breaker, mode: BreakerMode, now: int, by: str, reason: str | None) -> Breaker:
    """An operator's override: OPEN or CLOSED whatever happens, or AUTO (the automatic state again)."""
    if mode is b.mode:
        return replace(b, forced_by=by, forced_reason=reason)
    return replace(b, mode=mode, forced_since=now, forced_by=by, forced_reason=reason)

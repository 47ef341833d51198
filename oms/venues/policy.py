"""Per-venue gateway policy: rate-limit pools and weights, queueing, throttle backoff, breaker and deadlines.

This module owns the configuration of how the gateway treats each venue, as
frozen pydantic models, and its one parser. A `VenuePolicy` names its
rate-limit pools (`{"orders": {"per_second": 100, "burst": 200}, "cancels":
{...}}`), which pool each action draws on and with what weight (`costs`:
NEW, REPLACE, CANCEL, STATUS), how long a request may wait in the queue
(`max_wait_ms`), how to recognise a venue's "throttled" answer and a
system-error reject (regular expressions over the report's reason), the
throttle backoff, the circuit breaker's thresholds and the in-flight
deadlines. `VenueLimits` maps venue names to policies, with `"*"` for every
other venue. `parse_venue_limits(spec)` reads `OMS_VENUE_LIMITS`: empty (the
built-in default: one pool of 1,000 requests per second, bursts of 1,000,
every action weight 1 - the gateway's former `DEFAULT_RATE_LIMIT`), JSON or
TOML text holding the mapping (`oms.config.Settings` reads it from a `.json` or
`.toml` file when given a path); a bad spec is refused with a `ValueError`
that says where. Pure: no file is read here.
"""

from __future__ import annotations

import json
import re
import tomllib
from decimal import Decimal
from typing import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from oms.domain.tokens import RateLimit
from oms.events import VenueAction
from oms.venues.breaker import BreakerPolicy

__all__ = ["ActionCost", "DEFAULT_POLICY", "PoolLimit", "VenueLimits", "VenuePolicy", "parse_venue_limits"]

MS = 1_000_000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PoolLimit(_Frozen):
    """One token bucket: `per_second` tokens a second, in bursts of up to `burst` (default: the rate)."""

    per_second: Decimal = Field(gt=0)
    burst: Decimal | None = Field(default=None, ge=1)

    @property
    def limit(self) -> RateLimit:
        return RateLimit.of(self.per_second, self.burst)


class ActionCost(_Frozen):
    """What one request of an action costs: `weight` tokens of `pool`."""

    pool: str
    weight: Decimal = Field(default=Decimal(1), gt=0)


def _default_costs() -> dict[VenueAction, ActionCost]:
    return {action: ActionCost(pool="orders") for action in VenueAction}


class VenuePolicy(_Frozen):
    """How the gateway treats one venue (see the module docstring)."""

    pools: dict[str, PoolLimit] = Field(default_factory=lambda: {"orders": PoolLimit(per_second=Decimal(1000))})
    costs: dict[VenueAction, ActionCost] = Field(default_factory=_default_costs)
    """Per action; an action not named draws weight 1 from the first pool."""
    max_wait_ms: int = Field(default=2_000, gt=0)
    """Longest a request waits in the queue (for tokens, or for the venue to connect) before it is refused."""
    throttled: str = r"(?i)throttl|too many requests|rate limit exceeded"
    """Recognises a venue's "throttled" answer in a reject's reason."""
    system_error: str = r"(?i)system|unavailable|internal error|not logged on|timed? ?out"
    """Recognises a reject that is a venue fault (a breaker failure) rather than a business reject."""
    backoff_ms: int = Field(default=100, gt=0)
    max_backoff_ms: int = Field(default=5_000, gt=0)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_window_ms: int = Field(default=10_000, gt=0)
    breaker_cooldown_ms: int = Field(default=5_000, gt=0)
    breaker_max_cooldown_ms: int = Field(default=60_000, gt=0)
    breaker_probes: int = Field(default=1, ge=1)
    deadline_ms: int = Field(default=5_000, gt=0)
    """An unanswered request is asked about (a STATUS) after this long."""
    status_deadline_ms: int = Field(default=5_000, gt=0)
    """... and alerted on (`VenueAlert`) if the STATUS is not answered within this long either."""

    @field_validator("throttled", "system_error")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "VenuePolicy":
        if not self.pools:
            raise ValueError("pools: name at least one pool")
        for action, cost in self.costs.items():
            if cost.pool not in self.pools:
                raise ValueError(f"costs.{action.value}: pool {cost.pool!r} is not one of {sorted(self.pools)}")
            if cost.weight > self.pools[cost.pool].limit.burst:
                raise ValueError(f"costs.{action.value}: weight {cost.weight} exceeds the burst of {cost.pool!r}")
        if self.max_backoff_ms < self.backoff_ms:
            raise ValueError("max_backoff_ms must be >= backoff_ms")
        BreakerPolicy(self.breaker_failures, self.breaker_window_ms * MS, self.breaker_cooldown_ms * MS,
                      self.breaker_max_cooldown_ms * MS, self.breaker_probes)
        return self

    def cost(self, action: VenueAction) -> ActionCost:
        return self.costs.get(action) or ActionCost(pool=next(iter(self.pools)))

    @property
    def limits(self) -> dict[str, RateLimit]:
        return {name: pool.limit for name, pool in self.pools.items()}

    @property
    def breaker(self) -> BreakerPolicy:
        return BreakerPolicy(self.breaker_failures, self.breaker_window_ms * MS, self.breaker_cooldown_ms * MS,
                             self.breaker_max_cooldown_ms * MS, self.breaker_probes)

    def is_throttled(self, reason: str | None) -> bool:
        return bool(reason) and re.search(self.throttled, reason) is not None

    def is_system_error(self, reason: str | None) -> bool:
        return bool(reason) and re.search(self.system_error, reason) is not None

    @classmethod
    def single(cls, limit: RateLimit | None, **fields) -> "VenuePolicy":
        """One pool ("orders") at `limit` for every action (None: practically unlimited)."""
        pool = PoolLimit(per_second=limit.per_second, burst=limit.burst) if limit is not None else \
            PoolLimit(per_second=Decimal(10) ** 12, burst=Decimal(10) ** 12)
        return cls(pools={"orders": pool}, **fields)


DEFAULT_POLICY = VenuePolicy()


class VenueLimits(_Frozen):
    """Policies by venue name; `"*"` (default: `DEFAULT_POLICY`) for every venue not named."""

    venues: dict[str, VenuePolicy] = Field(default_factory=dict)

    def policy(self, venue: str) -> VenuePolicy:
        return self.venues.get(venue) or self.venues.get("*") or DEFAULT_POLICY


def parse_venue_limits(spec: str | Mapping | None, *, toml: bool = False) -> VenueLimits:
    """`OMS_VENUE_LIMITS` text: "" or None (defaults), JSON (`{"SIM-A": {...}, "*": {...}}`), TOML
    text when `toml`, or the mapping itself; `ValueError` naming the problem otherwise. (A file
    path is read by `oms.config.Settings.venue_policies`, the configuration boundary.)"""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return VenueLimits()
    if isinstance(spec, str):
        try:
            spec = tomllib.loads(spec) if toml else json.loads(spec)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"venue limits: not valid {'TOML' if toml else 'JSON'}: {exc}") from None
    if not isinstance(spec, Mapping):
        raise ValueError("venue limits: expected a mapping of venue name to policy")
    try:
        return VenueLimits(venues=dict(spec))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"venue limits: {where}: {first['msg']}") from None

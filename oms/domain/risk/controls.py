"""Risk controls: the fold of operator `RiskControl` events and what it says about an account.

This module owns the controls: limits, trading states, kill switches,
entitlements and instrument lists per scope (an account or `*`), folded by
`apply_control` into a frozen `Controls` that keeps an audit trail of every
change, and the questions asked of it: `limit`, `trading_state` (with the one
rank of trading states, `STATE_RANK`), `killed`, `entitled`,
`instrument_state`. Pure: no Kafka, no clock, no I/O.

- Scopes: a limit set on the account overrides the `*` one, per limit name.
  The stricter trading state of `*` and the account applies (HALTED >
  REDUCING > ACTIVE); a kill switch `on` at either scope kills the account;
  an instrument's state is the stricter of its `*` and account entries
  (halted > restricted > tradable), and every scope that lists at least one
  `tradable` instrument is an allow-list the instrument must be on
  (INSTRUMENT_NOT_TRADABLE). Value `none` on a LIMIT, ENTITLEMENT or
  INSTRUMENT control clears that entry.
- Entitlements: `deny` (at the account or at `*` for that trader) always
  refuses; otherwise, if the account has at least one `allow`, the trader must
  be allowed on the account or at `*`. An account with no `allow` entries is
  open to every trader not denied.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Mapping, NamedTuple

from oms.domain.risk._exact import ONE, ZERO
from oms.events import ControlKind, RiskControl, TradingState

__all__ = [
    "LIMIT_NAMES",
    "STATE_RANK",
    "AuditEntry",
    "Controls",
    "apply_control",
    "entitled",
    "instrument_state",
    "killed",
    "limit",
    "limits_for",
    "stricter",
    "trading_state",
]

LIMIT_NAMES: Mapping[str, str] = {
    "max_loss": "post-trade: HALTED when realized + unrealized P&L of the account falls to -max_loss",
    "max_drawdown": "post-trade: REDUCING when the account's P&L falls this far below its peak of the day",
    "max_order_qty": "largest quantity of one order",
    "max_order_notional": "largest quantity x price of one order",
    "max_position": "largest absolute net position per instrument, projected with open orders on the order's side",
    "max_gross_exposure": "largest sum over instruments of |projected position| x reference price, per account",
    "max_net_exposure": "largest |sum over instruments of projected position x reference price|, per account",
    "max_open_orders": "most live orders per account, this one included (integer)",
    "price_band_pct": "fat-finger band: largest |limit - reference| / reference x 100",
    "price_band_ticks": "fat-finger band: largest |limit - reference| in ticks of tick_size (integer)",
    "require_reference_price": "true/false: refuse every order when no fresh reference price is known",
    "reference_max_age_ms": "oldest reference price still fresh, in milliseconds (integer)",
    "tick_size": "limit prices must be a multiple of it (> 0)",
    "lot_size": "quantities must be a multiple of it (> 0)",
    "orders_per_second": "token bucket refill rate (> 0)",
    "order_burst": "token bucket size (integer >= 1; default max(1, orders_per_second))",
}
"""The limits a LIMIT control may set, with their meaning."""

_INTEGER_LIMITS = frozenset({"max_open_orders", "price_band_ticks", "reference_max_age_ms", "order_burst"})
_POSITIVE_LIMITS = frozenset({"tick_size", "lot_size", "orders_per_second", "order_burst"})
_BOOLEAN_LIMITS = frozenset({"require_reference_price"})
_CLEAR = "none"

STATE_RANK: Mapping[TradingState, int] = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
"""How strict a trading state is; the one ranking (pre-trade scopes and post-trade escalation read it)."""
_INSTRUMENT_RANK = {"tradable": 0, "restricted": 1, "halted": 2}


def stricter(a: TradingState, b: TradingState) -> TradingState:
    """The stricter of two trading states (`a` when they are equal)."""
    return a if STATE_RANK[a] >= STATE_RANK[b] else b


class AuditEntry(NamedTuple):
    """One applied control, as the audit trail keeps it."""

    ts_event: int
    changed_by: str
    scope: str
    kind: ControlKind
    name: str
    value: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class Controls:
    """The fold of `RiskControl` events. Mappings are never mutated: every
    update copies, so a `Controls` value can be shared freely.

    limits: scope -> limit name -> Decimal (`require_reference_price` as 1/0);
    states: scope -> TradingState; kill: scope -> bool;
    entitlements: scope -> trader -> "allow"/"deny";
    instruments: scope -> instrument -> "tradable"/"restricted"/"halted".
    """

    limits: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    states: Mapping[str, TradingState] = field(default_factory=dict)
    kill: Mapping[str, bool] = field(default_factory=dict)
    entitlements: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    instruments: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    audit: tuple[AuditEntry, ...] = ()


def _parse_limit(name: str, raw: str) -> Decimal:
    if name not in LIMIT_NAMES:
        raise ValueError(f"unknown limit {name!r}; known limits: {', '.join(sorted(LIMIT_NAMES))}")
    text = raw.strip()
    if name in _BOOLEAN_LIMITS:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"limit {name}: value {raw!r} is not 'true' or 'false'")
        return ONE if text.lower() == "true" else ZERO
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"limit {name}: value {raw!r} is not a decimal number") from None
    if not value.is_finite():
        raise ValueError(f"limit {name}: value {raw!r} is not finite")
    if value < 0:
        raise ValueError(f"limit {name}: value {raw!r} is negative")
    if name in _POSITIVE_LIMITS and value == 0:
        raise ValueError(f"limit {name}: value {raw!r} must be greater than 0")
    if name in _INTEGER_LIMITS and value != value.to_integral_value():
        raise ValueError(f"limit {name}: value {raw!r} is not an integer")
    return value


def _set(outer: Mapping[str, Mapping], scope: str, key: str, value) -> dict:
    """A copy of the two-level mapping with [scope][key] set (or removed when value is None)."""
    inner = dict(outer.get(scope, {}))
    if value is None:
        inner.pop(key, None)
    else:
        inner[key] = value
    result = dict(outer)
    if inner:
        result[scope] = inner
    else:
        result.pop(scope, None)
    return result


def apply_control(controls: Controls, event: RiskControl) -> Controls:
    """Fold one `RiskControl` into `controls`; last writer wins per (scope, kind, name).

    Raises `ValueError` naming the control and the problem for an unknown limit
    name or a value the kind does not accept (the caller validates at the
    boundary and dead-letters or refuses the control); `controls` is unchanged.
    """
    scope, name, raw = event.scope, event.name, event.value
    word = raw.strip().lower()
    kind = event.kind
    if kind is ControlKind.LIMIT:
        value = None if word == _CLEAR else _parse_limit(name, raw)
        if value is None and name not in LIMIT_NAMES:
            _parse_limit(name, "0")  # raises: unknown limit
        updated = replace(controls, limits=_set(controls.limits, scope, name, value))
    elif kind is ControlKind.TRADING_STATE:
        try:
            state = TradingState(raw.strip().upper())
        except ValueError:
            raise ValueError(f"trading state {raw!r} for {scope} is not ACTIVE, REDUCING or HALTED") from None
        updated = replace(controls, states={**controls.states, scope: state})
    elif kind is ControlKind.KILL_SWITCH:
        if word not in ("on", "off"):
            raise ValueError(f"kill switch value {raw!r} for {scope} is not 'on' or 'off'")
        updated = replace(controls, kill={**controls.kill, scope: word == "on"})
    elif kind is ControlKind.ENTITLEMENT:
        if word not in ("allow", "deny", _CLEAR):
            raise ValueError(f"entitlement of {name} on {scope}: value {raw!r} is not 'allow', 'deny' or 'none'")
        value = None if word == _CLEAR else word
        updated = replace(controls, entitlements=_set(controls.entitlements, scope, name, value))
    elif kind is ControlKind.INSTRUMENT:
        if word not in ("tradable", "restricted", "halted", _CLEAR):
            raise ValueError(
                f"instrument {name} on {scope}: value {raw!r} is not 'tradable', 'restricted', 'halted' or 'none'"
            )
        value = None if word == _CLEAR else word
        updated = replace(controls, instruments=_set(controls.instruments, scope, name, value))
    else:  # pragma: no cover - the enum is closed
        raise ValueError(f"unknown control kind {kind!r}")
    entry = AuditEntry(event.ts_event, event.changed_by, scope, kind, name, raw, event.reason)
    return replace(updated, audit=controls.audit + (entry,))


def limits_for(controls: Controls, account: str) -> Mapping[str, Decimal]:
    """Effective limits of `account`: its own over the `*` ones, per name."""
    star = controls.limits.get("*")
    own = controls.limits.get(account) if account != "*" else None
    if not own:
        return star or {}
    if not star:
        return own
    return {**star, **own}


def limit(controls: Controls, account: str, name: str) -> Decimal | None:
    """The limit `name` in force for `account` (its own, else `*`), or None when unset."""
    own = controls.limits.get(account)
    if own is not None and name in own:
        return own[name]
    star = controls.limits.get("*")
    return star.get(name) if star is not None else None


def trading_state(controls: Controls, account: str) -> TradingState:
    """The stricter of the `*` and the account trading state (ACTIVE when neither is set)."""
    return stricter(controls.states.get("*", TradingState.ACTIVE), controls.states.get(account, TradingState.ACTIVE))


def killed(controls: Controls, account: str) -> bool:
    """True when the kill switch is on for `*` or for the account."""
    return controls.kill.get("*", False) or controls.kill.get(account, False)


def entitled(controls: Controls, account: str, trader: str) -> bool:
    """Whether `trader` may trade `account` (see the module conventions)."""
    own = controls.entitlements.get(account, {})
    star = controls.entitlements.get("*", {})
    if own.get(trader) == "deny" or star.get(trader) == "deny":
        return False
    if any(v == "allow" for v in own.values()):
        return own.get(trader) == "allow" or star.get(trader) == "allow"
    return True


def instrument_state(controls: Controls, account: str, instrument: str) -> str | None:
    """The breach code for trading `instrument` in `account`, or None when eligible:
    INSTRUMENT_HALTED, INSTRUMENT_RESTRICTED (stricter of `*` and account entry),
    else INSTRUMENT_NOT_TRADABLE when a scope's allow-list does not name it."""
    scopes = [controls.instruments.get("*")]
    if account != "*":
        scopes.append(controls.instruments.get(account))
    rank = 0
    listed_out = False
    for entries in scopes:
        if not entries:
            continue
        state = entries.get(instrument)
        if state is not None:
            rank = max(rank, _INSTRUMENT_RANK[state])
        if state != "tradable" and "tradable" in entries.values():
            listed_out = True
    if rank == 2:
        return "INSTRUMENT_HALTED"
    if rank == 1:
        return "INSTRUMENT_RESTRICTED"
    return "INSTRUMENT_NOT_TRADABLE" if listed_out else None



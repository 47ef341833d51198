"""Risk controls: the fold of operator `RiskControl` events and what it says about an account.

This module owns the controls: limits, trading states, kill switches,
entitlements and instrument lists per scope (an account or `*`), folded by
`apply_control` into a frozen `Controls` that keeps an audit trail of every
change, the default limits beneath every scope, and the questions asked of
it: `limit`, `limits_in_force`, `trading_state` (with the one rank of trading
states, `STATE_RANK`), `killed`, `entitled`, `instrument_state`. Pure: no
Kafka, no clock, no I/O.

- Fail closed: an account with no limits of its own and none at `*` is not
  unlimited. `Controls.defaults` holds the default limits, from configuration
  (`parse_default_limits("max_order_qty=50000,...")`) or built in
  (`DEFAULT_LIMITS`, what `Controls()` starts from). The built-in defaults
  are conservative for a cash-equities desk yet let ordinary flow through:
  max_order_qty 100,000 shares; max_order_notional 5,000,000 (one order);
  max_position 1,000,000 shares per instrument; max_gross_exposure
  50,000,000 per account; max_open_orders 500 per account. No default price
  band, tick, lot or throttle: resting orders far from the market are
  legitimate and those depend on the desk and the venue; set them at `*`.
  A desk (the demo, a test) sets its own at `*` or per account, which
  override the defaults name by name.
- Scopes: a limit set on the account overrides the `*` one, which overrides
  the default, per limit name. Value `none` clears a scope's entry (the next
  scope down, finally the default, applies again); to lift a default for an
  account, set a larger value.
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
from types import MappingProxyType
from typing import Mapping, NamedTuple

from oms.domain.risk._exact import ONE, ZERO
from oms.events import ControlKind, RiskControl, TradingState

__all__ = [
    "DEFAULT_LIMITS",
    "LIMIT_NAMES",
    "STATE_RANK",
    "AuditEntry",
    "Controls",
    "LimitInForce",
    "apply_control",
    "entitled",
    "instrument_state",
    "killed",
    "limit",
    "limits_for",
    "limits_in_force",
    "parse_default_limits",
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

DEFAULT_LIMITS: Mapping[str, Decimal] = MappingProxyType({
    "max_order_qty": Decimal("100000"),
    "max_order_notional": Decimal("5000000"),
    "max_position": Decimal("1000000"),
    "max_gross_exposure": Decimal("50000000"),
    "max_open_orders": Decimal("500"),
})
"""The built-in default limits (see the module docstring): what an account with no limit of
its own and none at `*` is held to when configuration names no other defaults."""

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
    instruments: scope -> instrument -> "tradable"/"restricted"/"halted";
    defaults: limit name -> Decimal, beneath every scope (`DEFAULT_LIMITS`
    unless configuration gives others: `Controls(defaults=parse_default_limits(spec))`).
    """

    limits: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    states: Mapping[str, TradingState] = field(default_factory=dict)
    kill: Mapping[str, bool] = field(default_factory=dict)
    entitlements: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    instruments: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    audit: tuple[AuditEntry, ...] = ()
    defaults: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_LIMITS))


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


def parse_default_limits(spec: str, base: Mapping[str, Decimal] = DEFAULT_LIMITS) -> dict[str, Decimal]:
    """Default limits from configuration: `"max_order_qty=50000,max_order_notional=2000000"`
    sets those names over `base` (the built-in `DEFAULT_LIMITS`), the others keep their
    default; `name=none` removes a default. An empty spec gives `base`. Raises `ValueError`
    naming the entry for an unknown limit, a bad value, an entry without `=` or a name given twice."""
    limits = dict(base)
    seen: set[str] = set()
    for entry in spec.split(","):
        if not entry.strip():
            continue
        name, sep, raw = entry.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"default limit {entry.strip()!r} is not NAME=VALUE")
        if name in seen:
            raise ValueError(f"default limit {name} is given twice")
        seen.add(name)
        if raw.strip().lower() == _CLEAR:
            _parse_limit(name, "1")  # raises: unknown limit
            limits.pop(name, None)
        else:
            limits[name] = _parse_limit(name, raw)
    return limits


def limits_for(controls: Controls, account: str) -> Mapping[str, Decimal]:
    """Effective limits of `account`: its own over the `*` ones over the defaults, per name."""
    star = controls.limits.get("*")
    own = controls.limits.get(account) if account != "*" else None
    if not own and not star:
        return controls.defaults
    return {**controls.defaults, **(star or {}), **(own or {})}


def limit(controls: Controls, account: str, name: str) -> Decimal | None:
    """The limit `name` in force for `account` (its own, else `*`, else the default), or None when unset."""
    own = controls.limits.get(account)
    if own is not None and name in own:
        return own[name]
    star = controls.limits.get("*")
    if star is not None and name in star:
        return star[name]
    return controls.defaults.get(name)


class LimitInForce(NamedTuple):
    """One limit in force for an account, and where it comes from."""

    name: str
    value: Decimal
    source: str
    """"account" (set on the account), "*" (set for every account) or "default"."""


def limits_in_force(controls: Controls, account: str = "*") -> list[LimitInForce]:
    """Every limit in force for `account` (`*`: for an account with none of its own), with its
    source, in `LIMIT_NAMES` order: what `oms risk show` prints."""
    scopes = (("account", controls.limits.get(account, {}) if account != "*" else {}),
              ("*", controls.limits.get("*", {})), ("default", controls.defaults))
    shown = []
    for name in LIMIT_NAMES:
        for source, values in scopes:
            if name in values:
                shown.append(LimitInForce(name, values[name], source))
                break
    return shown


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



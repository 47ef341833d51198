"""Pre-trade risk: the fold of operator controls, per-account exposure state and the checks.

This module owns deciding whether a new order or an amend may go to a venue.
`Controls` is the fold (`apply_control`) of `RiskControl` events: limits,
trading states, kill switches, entitlements and instrument lists per scope (an
account or `*`), plus an audit trail of every change. `AccountRisk` is what the
engine knows of one account (net positions, open orders, throttle bucket),
updated purely by `with_order`, `with_fill` and `take_token`. `check_new` and
`check_amend` run every check and return every `Breach` in the fixed order of
`BREACH_CODES`; `denial_reason` turns them into the (reason_code, reason) the
engine writes on `OrderDenied` / `OrderCancelRejected`. Everything here is pure:
no Kafka, no clock reads (time is `now`, integer UTC nanoseconds), no I/O, no
randomness, and money is exact `Decimal` (all arithmetic runs in a 100-digit
context, no division except the token refill by 10**9, so nothing rounds).

Conventions (the contract the engine and the tests rely on):

- Breach order. `check_new` appends breaches in the order of `BREACH_CODES`
  (KILL_SWITCH, TRADING_HALTED, REDUCE_ONLY, NOT_ENTITLED, INSTRUMENT_HALTED,
  INSTRUMENT_RESTRICTED, INSTRUMENT_NOT_TRADABLE, MAX_ORDER_QTY,
  MAX_ORDER_NOTIONAL, MAX_POSITION, MAX_GROSS_EXPOSURE, MAX_NET_EXPOSURE,
  MAX_OPEN_ORDERS, PRICE_BAND, NO_REFERENCE_PRICE, TICK_SIZE, LOT_SIZE,
  THROTTLE); an order is denied iff the list is non-empty, and the first one is
  the `reason_code`. PRICE_BAND may appear twice (limit `price_band_pct`, then
  `price_band_ticks`); at most one INSTRUMENT_* breach is reported (the
  strictest). An unset limit is never checked.
- Boundaries: every limit is inclusive (`attempted <= limit` passes).
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
- Reference price: `reference` is fresh when it is given and, if
  `reference_max_age_ms` is set, `reference_ts` is given and
  `now - reference_ts <= reference_max_age_ms` ms. A stale reference is treated
  as absent. With no fresh reference: NO_REFERENCE_PRICE is reported iff
  `require_reference_price` is true; the price band is skipped; a market
  order's notional, position-independent notional and its exposure checks are
  skipped (a limit order uses its limit price).
- Notional = quantity x (limit price, or the fresh reference for a market order).
- Position: the projection of the order's side, |position + side.sign x
  (open leaves on that side in the instrument + this order)| <= max_position.
- Exposure: per instrument, the worst case of "every open buy fills" and
  "every open sell fills" (this order counted on its side in its instrument),
  valued at `prices[instrument]`, else the order's instrument at the fresh
  reference or the order's price, else the last fill price kept in
  `AccountRisk.marks`; an instrument with no price at all is left out.
  gross = sum of max(|long case|, |short case|) x price;
  net = max(|sum of long cases x price|, |sum of short cases x price|).
- REDUCING: an order passes only if it is on the side opposite a non-zero
  position and the open leaves on its side plus its quantity do not exceed
  |position| (it can reduce to flat, never through it). HALTED: every new order
  and amend is refused (TRADING_HALTED); cancels are never checked.
- Throttle (`orders_per_second` tokens per second, bucket of `order_burst`,
  default max(1, orders_per_second)): every order passed to `check_new` takes
  a token when one is available, whatever the other checks say, so a denied
  order still consumes one and a flood of bad orders is throttled too. With no
  token left: THROTTLE. Amends are not throttled (`check_amend` returns no state).
- Amends: checked as the order would be after the amend (new quantity and/or
  price; the exposure contribution is max(new quantity - cum_qty, 0)) with the
  order itself excluded from the open orders and the open order count.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from typing import Mapping, NamedTuple

from oms.domain.positions import mark_view
from oms.domain.orders import Order, is_live
from oms.domain.tokens import TokenBucket
from oms.events import AmendOrder, ControlKind, NewOrder, OrderType, RiskControl, Side, TradingState, VenueAction

__all__ = [
    "BREACH_CODES",
    "LIMIT_NAMES",
    "PostTradeActions",
    "post_trade_actions",
    "AccountRisk",
    "AuditEntry",
    "Breach",
    "Controls",
    "OpenOrder",
    "apply_control",
    "check_amend",
    "check_new",
    "denial_reason",
    "entitled",
    "instrument_state",
    "killed",
    "limit",
    "take_token",
    "trading_state",
    "with_fill",
    "with_order",
]

ZERO = Decimal(0)
ONE = Decimal(1)
_NS_PER_MS = 1_000_000
_HUNDRED = Decimal(100)
_EXACT = Context(prec=100, traps=[InvalidOperation, DivisionByZero, Overflow])
"""Every computation here fits in 100 digits (inputs have at most 28), so nothing rounds."""

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

BREACH_CODES: tuple[str, ...] = (
    "KILL_SWITCH",
    "TRADING_HALTED",
    "REDUCE_ONLY",
    "NOT_ENTITLED",
    "INSTRUMENT_HALTED",
    "INSTRUMENT_RESTRICTED",
    "INSTRUMENT_NOT_TRADABLE",
    "MAX_ORDER_QTY",
    "MAX_ORDER_NOTIONAL",
    "MAX_POSITION",
    "MAX_GROSS_EXPOSURE",
    "MAX_NET_EXPOSURE",
    "MAX_OPEN_ORDERS",
    "PRICE_BAND",
    "NO_REFERENCE_PRICE",
    "TICK_SIZE",
    "LOT_SIZE",
    "THROTTLE",
)
"""Stable reason codes, in the order `check_new` and `check_amend` report them."""

_STATE_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
_INSTRUMENT_RANK = {"tradable": 0, "restricted": 1, "halted": 2}


# ----------------------------------------------------------------- controls


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


def _limits_for(controls: Controls, account: str) -> Mapping[str, Decimal]:
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
    a = controls.states.get("*", TradingState.ACTIVE)
    b = controls.states.get(account, TradingState.ACTIVE)
    return a if _STATE_RANK[a] >= _STATE_RANK[b] else b


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


# ------------------------------------------------------------- account risk


class OpenOrder(NamedTuple):
    instrument: str
    side: Side
    leaves_qty: Decimal
    limit_price: Decimal | None


@dataclass(frozen=True, slots=True)
class AccountRisk:
    """What the engine knows of one account. Mappings are never mutated.

    positions: instrument -> signed net quantity (absent = flat);
    open_orders: order_id -> OpenOrder (live orders with leaves > 0);
    open_qty: instrument -> (open buy leaves, open sell leaves), derived from
    open_orders and kept in step by `with_order`;
    marks: instrument -> last fill price (fallback valuation for exposure);
    tokens / last_refill: the throttle bucket (last_refill None = never used, full).
    """

    positions: Mapping[str, Decimal] = field(default_factory=dict)
    open_orders: Mapping[str, OpenOrder] = field(default_factory=dict)
    open_qty: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    marks: Mapping[str, Decimal] = field(default_factory=dict)
    tokens: Decimal = ZERO
    last_refill: int | None = None


def _bump(open_qty: dict, entry: OpenOrder, sign: int) -> None:
    buy, sell = open_qty.get(entry.instrument, (ZERO, ZERO))
    if entry.side is Side.BUY:
        buy += sign * entry.leaves_qty
    else:
        sell += sign * entry.leaves_qty
    if buy == 0 and sell == 0:
        open_qty.pop(entry.instrument, None)
    else:
        open_qty[entry.instrument] = (buy, sell)


def with_order(risk: AccountRisk, order: Order) -> AccountRisk:
    """Add, update or remove `order` in the open orders by `is_live` (and leaves > 0).

    While a replace is pending the larger of the current leaves and the
    replace's (quantity - cum_qty) counts, so an amend in flight is never
    under-counted."""
    leaves = order.leaves_qty
    pending = order.pending
    if pending is not None and pending.kind is VenueAction.REPLACE and pending.quantity is not None:
        leaves = max(leaves, pending.quantity - order.cum_qty)
    entry = None
    if is_live(order) and leaves > 0:
        entry = OpenOrder(order.instrument, order.side, leaves, order.limit_price)
    old = risk.open_orders.get(order.order_id)
    if old == entry:
        return risk
    open_orders = dict(risk.open_orders)
    open_qty = dict(risk.open_qty)
    with localcontext(_EXACT):
        if old is not None:
            _bump(open_qty, old, -1)
            del open_orders[order.order_id]
        if entry is not None:
            _bump(open_qty, entry, 1)
            open_orders[order.order_id] = entry
    return replace(risk, open_orders=open_orders, open_qty=open_qty)


def with_fill(
    risk: AccountRisk, instrument: str, side: Side, qty: Decimal, price: Decimal | None = None
) -> AccountRisk:
    """Move the net position by side.sign x qty (a negative qty undoes a busted fill).

    `price`, when given, becomes the instrument's mark for exposure. Open
    orders are not touched: the engine also calls `with_order` with the filled order."""
    positions = dict(risk.positions)
    with localcontext(_EXACT):
        net = positions.get(instrument, ZERO) + side.sign * qty
    if net == 0:
        positions.pop(instrument, None)
    else:
        positions[instrument] = net
    marks = risk.marks if price is None else {**risk.marks, instrument: price}
    return replace(risk, positions=positions, marks=marks)


def take_token(risk: AccountRisk, now: int, rate: Decimal, burst: Decimal) -> tuple[AccountRisk, bool]:
    """The account's throttle bucket (`oms.domain.tokens.TokenBucket`) after taking one token at `now`."""
    bucket, ok = TokenBucket(risk.tokens, risk.last_refill).take(now, rate, burst)
    return replace(risk, tokens=bucket.tokens, last_refill=bucket.last_refill), ok


# ------------------------------------------------------------------- checks


@dataclass(frozen=True, slots=True)
class Breach:
    """One failed check: stable `code`, the `limit` (control) it broke, the
    limit's `value`, what the order `attempted`, and a readable `detail`."""

    code: str
    limit: str
    value: Decimal | str | None
    attempted: Decimal | str | None
    detail: str


def _fresh(
    limits: Mapping[str, Decimal], reference: Decimal | None, reference_ts: int | None, now: int
) -> Decimal | None:
    if reference is None:
        return None
    max_age = limits.get("reference_max_age_ms")
    if max_age is None:
        return reference
    if reference_ts is None or now - reference_ts > int(max_age) * _NS_PER_MS:
        return None
    return reference


def _check(
    controls: Controls,
    account: str,
    trader: str,
    instrument: str,
    side: Side,
    quantity: Decimal,
    adds: Decimal,
    price: Decimal | None,
    risk: AccountRisk,
    exclude: OpenOrder | None,
    reference: Decimal | None,
    reference_ts: int | None,
    now: int,
    prices: Mapping[str, Decimal] | None,
) -> list[Breach]:
    """Every check but the throttle, in `BREACH_CODES` order. `quantity` is the
    order's size (size checks), `adds` what it adds to the open leaves on its
    side, `price` its limit price (None for market), `exclude` an open order to
    leave out (the order being amended)."""
    out: list[Breach] = []
    lim = _limits_for(controls, account)
    sign = side.sign

    if killed(controls, account):
        out.append(Breach("KILL_SWITCH", "kill_switch", "on", None, f"kill switch is on for {account}"))
    state = trading_state(controls, account)
    position = risk.positions.get(instrument, ZERO)
    buy_open, sell_open = risk.open_qty.get(instrument, (ZERO, ZERO))
    if exclude is not None and exclude.instrument == instrument:
        if exclude.side is Side.BUY:
            buy_open -= exclude.leaves_qty
        else:
            sell_open -= exclude.leaves_qty
    same_open = buy_open if side is Side.BUY else sell_open
    if state is TradingState.HALTED:
        out.append(Breach("TRADING_HALTED", "trading_state", "HALTED", None, f"trading is halted for {account}"))
    elif state is TradingState.REDUCING:
        reducing = position != 0 and (position > 0) != (sign > 0) and same_open + adds <= abs(position)
        if not reducing:
            projected = position + sign * (same_open + adds)
            out.append(
                Breach(
                    "REDUCE_ONLY",
                    "trading_state",
                    "REDUCING",
                    str(projected),
                    f"{account} is reduce-only: position {position} in {instrument} would become {projected}",
                )
            )
    if not entitled(controls, account, trader):
        out.append(Breach("NOT_ENTITLED", "entitlement", "deny", trader, f"{trader} may not trade {account}"))
    code = instrument_state(controls, account, instrument)
    if code is not None:
        state_word = code.removeprefix("INSTRUMENT_").lower()
        out.append(Breach(code, "instrument", state_word, instrument,
                          f"{instrument} is {state_word.replace('_', ' ')} for {account}"))

    fresh = _fresh(lim, reference, reference_ts, now)
    valued = price if price is not None else fresh  # price of this order's notional

    v = lim.get("max_order_qty")
    if v is not None and quantity > v:
        out.append(Breach("MAX_ORDER_QTY", "max_order_qty", v, quantity, f"quantity {quantity} over {v}"))
    v = lim.get("max_order_notional")
    if v is not None and valued is not None:
        notional = quantity * valued
        if notional > v:
            out.append(Breach("MAX_ORDER_NOTIONAL", "max_order_notional", v, notional, f"notional {notional} over {v}"))
    v = lim.get("max_position")
    if v is not None:
        projected = position + sign * (same_open + adds)
        if abs(projected) > v:
            out.append(
                Breach("MAX_POSITION", "max_position", v, abs(projected),
                       f"projected position {projected} in {instrument} over {v}")
            )
    gross_limit = lim.get("max_gross_exposure")
    net_limit = lim.get("max_net_exposure")
    if gross_limit is not None or net_limit is not None:
        own_price = fresh if fresh is not None else price
        gross = long_net = short_net = ZERO
        names = set(risk.positions)
        names.update(risk.open_qty)
        names.add(instrument)
        marks = risk.marks
        for name in names:
            if prices is not None and name in prices:
                px = prices[name]
            elif name == instrument and own_price is not None:
                px = own_price
            else:
                px = marks.get(name)
                if px is None:
                    continue
            pos = risk.positions.get(name, ZERO)
            if name == instrument:
                b, s = buy_open, sell_open
                if side is Side.BUY:
                    b += adds
                else:
                    s += adds
            else:
                b, s = risk.open_qty.get(name, (ZERO, ZERO))
                if exclude is not None and exclude.instrument == name:
                    if exclude.side is Side.BUY:
                        b -= exclude.leaves_qty
                    else:
                        s -= exclude.leaves_qty
            up, down = pos + b, pos - s
            gross += max(abs(up), abs(down)) * px
            long_net += up * px
            short_net += down * px
        if gross_limit is not None and gross > gross_limit:
            out.append(Breach("MAX_GROSS_EXPOSURE", "max_gross_exposure", gross_limit, gross,
                              f"projected gross exposure {gross} over {gross_limit}"))
        net = max(abs(long_net), abs(short_net))
        if net_limit is not None and net > net_limit:
            out.append(Breach("MAX_NET_EXPOSURE", "max_net_exposure", net_limit, net,
                              f"projected net exposure {net} over {net_limit}"))
    v = lim.get("max_open_orders")
    if v is not None:
        count = len(risk.open_orders) - (1 if exclude is not None else 0) + 1
        if count > v:
            out.append(Breach("MAX_OPEN_ORDERS", "max_open_orders", v, Decimal(count),
                              f"{count} open orders over {v}"))
    tick = lim.get("tick_size")
    if price is not None and fresh is not None:
        distance = abs(price - fresh)
        v = lim.get("price_band_pct")
        if v is not None and distance * _HUNDRED > v * fresh:
            pct = distance * _HUNDRED / fresh
            out.append(Breach("PRICE_BAND", "price_band_pct", v, price,
                              f"limit {price} is {pct:.4f}% from reference {fresh}, band {v}%"))
        v = lim.get("price_band_ticks")
        if v is not None and tick is not None and distance > v * tick:
            out.append(Breach("PRICE_BAND", "price_band_ticks", v, price,
                              f"limit {price} is {distance / tick} ticks from reference {fresh}, band {v} ticks"))
    if fresh is None and lim.get("require_reference_price", ZERO) == ONE:
        why = "stale" if reference is not None else "missing"
        out.append(Breach("NO_REFERENCE_PRICE", "require_reference_price", "true", None,
                          f"reference price for {instrument} is {why}"))
    if tick is not None and price is not None and price % tick != 0:
        out.append(Breach("TICK_SIZE", "tick_size", tick, price, f"limit {price} is not a multiple of {tick}"))
    v = lim.get("lot_size")
    if v is not None and quantity % v != 0:
        out.append(Breach("LOT_SIZE", "lot_size", v, quantity, f"quantity {quantity} is not a multiple of {v}"))
    return out


def check_new(
    order: NewOrder,
    controls: Controls,
    risk: AccountRisk,
    reference: Decimal | None,
    reference_ts: int | None,
    now: int,
    prices: Mapping[str, Decimal] | None = None,
) -> tuple[list[Breach], AccountRisk]:
    """All breaches of `order` in `BREACH_CODES` order (empty = pass), and `risk`
    with the throttle token taken (see the module conventions: a denied order
    still consumes a token). `reference`/`reference_ts` are the reference price
    of the order's instrument and its event time; `prices` optionally values
    the account's other instruments for the exposure checks."""
    with localcontext(_EXACT):
        breaches = _check(
            controls, order.account, order.trader, order.instrument, order.side, order.quantity, order.quantity,
            order.limit_price if order.order_type is OrderType.LIMIT else None,
            risk, None, reference, reference_ts, now, prices,
        )
        rate = limit(controls, order.account, "orders_per_second")
        if rate is not None:
            burst = limit(controls, order.account, "order_burst")
            if burst is None:
                burst = max(ONE, rate)
            risk, ok = take_token(risk, now, rate, burst)
            if not ok:
                breaches.append(Breach("THROTTLE", "orders_per_second", rate, None,
                                       f"more than {rate} orders per second (burst {burst}) for {order.account}"))
    return breaches, risk


def check_amend(
    amend: AmendOrder,
    order: Order,
    controls: Controls,
    risk: AccountRisk,
    reference: Decimal | None,
    reference_ts: int | None,
    now: int,
    prices: Mapping[str, Decimal] | None = None,
) -> list[Breach]:
    """All breaches of `order` as it would be after `amend`, in `BREACH_CODES`
    order, with `order` itself left out of the open orders. Not throttled.
    Cancels are never checked (a HALTED account may still cancel)."""
    quantity = amend.quantity if amend.quantity is not None else order.quantity
    price = amend.limit_price if amend.limit_price is not None else order.limit_price
    if order.order_type is OrderType.MARKET:
        price = None
    with localcontext(_EXACT):
        adds = max(quantity - order.cum_qty, ZERO)
        return _check(
            controls, order.account, amend.trader, order.instrument, order.side, quantity, adds, price,
            risk, risk.open_orders.get(order.order_id), reference, reference_ts, now, prices,
        )


def _show(value: Decimal | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def denial_reason(breaches: list[Breach]) -> tuple[str, str]:
    """(code of the first breach, "CODE: limit=value attempted=x; ..." for every
    breach) — the `reason_code` and `reason` of the engine's denial. Raises
    `ValueError` on an empty list (nothing to deny)."""
    if not breaches:
        raise ValueError("denial_reason: no breaches, the order passes")
    detail = "; ".join(f"{b.code}: {b.limit}={_show(b.value)} attempted={_show(b.attempted)}" for b in breaches)
    return breaches[0].code, detail


# ---------------------------------------------------------------- post-trade


@dataclass(frozen=True)
class PostTradeActions:
    cancels: list  # CancelOrder commands for open orders of killed accounts
    controls: list  # RiskControl trading-state changes
    alerts: list[str]
    peaks: dict  # account -> highest P&L seen (for the drawdown)


_LIVE_VIEW = {"PENDING_NEW", "NEW", "PARTIALLY_FILLED", "PENDING_REPLACE", "DONE_FOR_DAY"}


def post_trade_actions(controls: Controls, orders, positions, marks: Mapping[str, Decimal],
                       peaks: Mapping[str, Decimal], already_canceled: set[str], now: int) -> PostTradeActions:
    """What post-trade risk does now, from the orders and positions views and the marks.

    - every live order of a killed account that was not canceled before gets a
      CancelOrder (client order id `kill-<order id>`, trader `risk`);
    - an account whose P&L (realized + unrealized at the mark, else at cost) is at
      or below `-max_loss` moves to HALTED; one whose P&L fell `max_drawdown`
      below its peak moves to REDUCING (never loosening a stricter state);
    - gross exposure above `max_gross_exposure` is reported as an alert.
    """
    from oms.events import CancelOrder, ControlKind, RiskControl

    cancels = []
    for view in orders:
        key = f"{view.client_order_id}@{view.account}"
        if view.status.value in _LIVE_VIEW and killed(controls, view.account) and key not in already_canceled:
            cancels.append(CancelOrder(
                event_id=f"kill.{view.order_id}", ts_event=now, ts_init=now, account=view.account, trader="risk",
                client_order_id=f"kill-{view.order_id}", orig_client_order_id=view.client_order_id,
            ))
    pnl: dict[str, Decimal] = {}
    gross: dict[str, Decimal] = {}
    with localcontext(_EXACT):
        for position in positions:
            marked = mark_view(position, marks.get(position.instrument, position.avg_price))
            pnl[position.account] = pnl.get(position.account, ZERO) + position.realized_pnl + marked.unrealized_pnl
            gross[position.account] = gross.get(position.account, ZERO) + marked.gross_exposure
    new_peaks = dict(peaks)
    changes, alerts = [], []
    severity = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
    for account, value in sorted(pnl.items()):
        new_peaks[account] = max(new_peaks.get(account, ZERO), value)
        current = trading_state(controls, account)
        wanted, why = None, None
        max_loss = limit(controls, account, "max_loss")
        max_drawdown = limit(controls, account, "max_drawdown")
        if max_loss is not None and value <= -max_loss:
            wanted, why = TradingState.HALTED, f"P&L {value:.2f} at or below -max_loss {max_loss}"
        elif max_drawdown is not None and new_peaks[account] - value >= max_drawdown:
            wanted = TradingState.REDUCING
            why = f"P&L {value:.2f} is {new_peaks[account] - value:.2f} below the peak {new_peaks[account]:.2f}"
        if wanted is not None and severity[wanted] > severity[current]:
            changes.append(RiskControl(
                event_id=f"ptr.{account}.{wanted.value}.{now}"[:64], ts_event=now, ts_init=now, scope=account,
                kind=ControlKind.TRADING_STATE, name="state", value=wanted.value, changed_by="post-trade-risk",
                reason=why,
            ))
        max_gross = limit(controls, account, "max_gross_exposure")
        if max_gross is not None and gross.get(account, ZERO) > max_gross:
            alerts.append(f"{account}: gross exposure {gross[account]:.2f} above max_gross_exposure {max_gross}")
    return PostTradeActions(cancels, changes, alerts, new_peaks)

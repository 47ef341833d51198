"""Pre-trade checks: whether a new order or an amend may go to a venue, and the denial when not.

This module owns the checks. `check_new` and `check_amend` describe the order
as a `Candidate` (what it is: account, trader, instrument, side, size, what it
adds to the open leaves, its limit price, the open order it replaces) and its
surroundings as a `Context` (controls, account risk state, reference price,
other prices, now), run every check and return every `Breach` in the fixed
order of `BREACH_CODES`; `denial_reason` turns a non-empty list into the
`Denial` the order aggregate takes. Pure: no Kafka, no clock reads (time is
`now`, integer UTC nanoseconds), no I/O; exact Decimal arithmetic.

Conventions (the contract the engine and the tests rely on):

- Breach order. Breaches come in the order of `BREACH_CODES`; an order is
  denied iff the list is non-empty, and the first one is the `reason_code`.
  PRICE_BAND may appear twice (limit `price_band_pct`, then
  `price_band_ticks`); at most one INSTRUMENT_* breach is reported (the
  strictest). An unset limit is never checked, but a limit is unset only
  when neither the account, `*` nor the defaults (`Controls.defaults`, fail
  closed) hold it.
- Representable: whatever the limits, an order whose notional or projected
  gross or net exposure does not fit the wire's decimal(28, 8)
  (NOTIONAL_UNREPRESENTABLE, up to three, in that order) or whose projected
  position does not (POSITION_UNREPRESENTABLE) is denied
  (`oms.domain.representable`). Exposure is projected for every order for
  this reason, limit or not.
- Boundaries: every limit is inclusive (`attempted <= limit` passes).
- Reference price: `reference` is fresh when it is given and, if
  `reference_max_age_ms` is set, `reference_ts` is given and
  `now - reference_ts <= reference_max_age_ms` ms. A stale reference is treated
  as absent. With no fresh reference: NO_REFERENCE_PRICE is reported iff
  `require_reference_price` is true; the price band is skipped; a market
  order's notional and its exposure checks are skipped (a limit order uses
  its limit price).
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

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Iterator, Mapping, NamedTuple

from oms.domain.denial import Breach, Denial
from oms.domain.orders import Order
from oms.domain.representable import WIRE_TYPE, representable
from oms.domain.risk._exact import EXACT, ONE, ZERO
from oms.domain.risk.account import AccountRisk, OpenOrder, take_token
from oms.domain.risk.controls import Controls, entitled, instrument_state, killed, limit, limits_for, trading_state
from oms.events import AmendOrder, NewOrder, OrderType, Side, TradingState

__all__ = ["BREACH_CODES", "Breach", "Candidate", "Context", "check_amend", "check_new", "denial_reason"]

_NS_PER_MS = 1_000_000
_HUNDRED = Decimal(100)

BREACH_CODES: tuple[str, ...] = (
    "KILL_SWITCH",
    "TRADING_HALTED",
    "REDUCE_ONLY",
    "NOT_ENTITLED",
    "INSTRUMENT_HALTED",
    "INSTRUMENT_RESTRICTED",
    "INSTRUMENT_NOT_TRADABLE",
    "NOTIONAL_UNREPRESENTABLE",
    "POSITION_UNREPRESENTABLE",
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


@dataclass(frozen=True, slots=True)
class Candidate:
    """The order as the checks see it: a new order, or an order as it would be after an amend."""

    account: str
    trader: str
    instrument: str
    side: Side
    quantity: Decimal
    """The order's size (size, notional and lot checks)."""
    adds: Decimal
    """What it adds to the open leaves on its side (position, exposure, reduce-only)."""
    price: Decimal | None
    """Its limit price; None for a market order."""
    exclude: OpenOrder | None = None
    """The open order it replaces (an amend): left out of the open orders and the count."""


@dataclass(frozen=True, slots=True)
class Context:
    """What the candidate is checked against."""

    controls: Controls
    risk: AccountRisk
    reference: Decimal | None
    """Reference price of the candidate's instrument, if known."""
    reference_ts: int | None
    """Event time of `reference` (UTC ns)."""
    now: int
    prices: Mapping[str, Decimal] | None = None
    """Prices of the account's other instruments, for the exposure checks."""


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
    candidate = Candidate(
        order.account, order.trader, order.instrument, order.side, order.quantity, order.quantity,
        order.limit_price if order.order_type is OrderType.LIMIT else None,
    )
    with localcontext(EXACT):
        breaches = _check(candidate, Context(controls, risk, reference, reference_ts, now, prices))
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
    with localcontext(EXACT):
        candidate = Candidate(
            order.account, amend.trader, order.instrument, order.side, quantity,
            max(quantity - order.cum_qty, ZERO), price, risk.open_orders.get(order.order_id),
        )
        return _check(candidate, Context(controls, risk, reference, reference_ts, now, prices))


def _show(value: Decimal | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def denial_reason(breaches: list[Breach]) -> Denial:
    """The `Denial` of an order with these breaches: `reason_code` the first
    breach's code, `reason` "CODE: limit=value attempted=x; ..." for every
    breach, and the breaches. Raises `ValueError` on an empty list (nothing to deny)."""
    if not breaches:
        raise ValueError("denial_reason: no breaches, the order passes")
    detail = "; ".join(f"{b.code}: {b.limit}={_show(b.value)} attempted={_show(b.attempted)}" for b in breaches)
    return Denial(breaches[0].code, detail, tuple(breaches))


# ------------------------------------------------------------------ the checks


class _Projection(NamedTuple):
    """What the candidate would make of the account, computed once for every check that reads it."""

    notional: Decimal | None
    """quantity x (limit price, else fresh reference); None for a market order with no fresh reference."""
    position: Decimal
    """The projected position of the candidate's side in its instrument (see the conventions)."""
    gross: Decimal
    net: Decimal


def _check(c: Candidate, ctx: Context) -> list[Breach]:
    """Every check but the throttle, in `BREACH_CODES` order (each group below yields in that order)."""
    lim = limits_for(ctx.controls, c.account)
    fresh = _fresh(lim, ctx.reference, ctx.reference_ts, ctx.now)
    open_buy, open_sell = _open_leaves(ctx.risk, c.instrument, c.exclude)
    same_open = open_buy if c.side is Side.BUY else open_sell  # open leaves on the candidate's side
    valued = c.price if c.price is not None else fresh  # price of this order's notional
    gross, net = _projected_exposure(c, ctx, fresh, (open_buy, open_sell))
    p = _Projection(
        c.quantity * valued if valued is not None else None,
        ctx.risk.positions.get(c.instrument, ZERO) + c.side.sign * (same_open + c.adds),
        gross,
        net,
    )
    return [
        *_standing(c, ctx, same_open, p.position),
        *_representable(c, p),
        *_size(c, lim, p),
        *_exposure(c, ctx, lim, p),
        *_prices(c, ctx, lim, fresh),
    ]


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


def _open_leaves(risk: AccountRisk, instrument: str, exclude: OpenOrder | None) -> tuple[Decimal, Decimal]:
    """(open buy leaves, open sell leaves) in `instrument`, leaving `exclude` out."""
    buy, sell = risk.open_qty.get(instrument, (ZERO, ZERO))
    if exclude is not None and exclude.instrument == instrument:
        if exclude.side is Side.BUY:
            buy -= exclude.leaves_qty
        else:
            sell -= exclude.leaves_qty
    return buy, sell


def _projected_exposure(
    c: Candidate, ctx: Context, fresh: Decimal | None, open_here: tuple[Decimal, Decimal]
) -> tuple[Decimal, Decimal]:
    """(gross, net) projected exposure of the account with the candidate (see the conventions)."""
    risk = ctx.risk
    own_price = fresh if fresh is not None else c.price
    gross = long_net = short_net = ZERO
    for name in {*risk.positions, *risk.open_qty, c.instrument}:
        if ctx.prices is not None and name in ctx.prices:
            px = ctx.prices[name]
        elif name == c.instrument and own_price is not None:
            px = own_price
        else:
            px = risk.marks.get(name)
            if px is None:
                continue
        if name == c.instrument:
            b, s = open_here
            if c.side is Side.BUY:
                b += c.adds
            else:
                s += c.adds
        else:
            b, s = _open_leaves(risk, name, c.exclude)
        pos = risk.positions.get(name, ZERO)
        up, down = pos + b, pos - s
        gross += max(abs(up), abs(down)) * px
        long_net += up * px
        short_net += down * px
    return gross, max(abs(long_net), abs(short_net))


def _standing(c: Candidate, ctx: Context, same_open: Decimal, projected: Decimal) -> Iterator[Breach]:
    """KILL_SWITCH, TRADING_HALTED / REDUCE_ONLY, NOT_ENTITLED, INSTRUMENT_*: may the account trade at all."""
    controls, account = ctx.controls, c.account
    if killed(controls, account):
        yield Breach("KILL_SWITCH", "kill_switch", "on", None, f"kill switch is on for {account}")
    state = trading_state(controls, account)
    if state is TradingState.HALTED:
        yield Breach("TRADING_HALTED", "trading_state", "HALTED", None, f"trading is halted for {account}")
    elif state is TradingState.REDUCING:
        position = ctx.risk.positions.get(c.instrument, ZERO)
        reducing = position != 0 and (position > 0) != (c.side.sign > 0) and same_open + c.adds <= abs(position)
        if not reducing:
            yield Breach("REDUCE_ONLY", "trading_state", "REDUCING", str(projected),
                         f"{account} is reduce-only: position {position} in {c.instrument} would become {projected}")
    if not entitled(controls, account, c.trader):
        yield Breach("NOT_ENTITLED", "entitlement", "deny", c.trader, f"{c.trader} may not trade {account}")
    code = instrument_state(controls, account, c.instrument)
    if code is not None:
        word = code.removeprefix("INSTRUMENT_").lower()
        yield Breach(code, "instrument", word, c.instrument,
                     f"{c.instrument} is {word.replace('_', ' ')} for {account}")


def _representable(c: Candidate, p: _Projection) -> Iterator[Breach]:
    """NOTIONAL_UNREPRESENTABLE (the order's notional, then the projected gross and net exposure),
    POSITION_UNREPRESENTABLE: what no limit can allow, because the wire cannot hold it."""
    for what, value in (("notional", p.notional), ("projected gross exposure", p.gross),
                        ("projected net exposure", p.net)):
        if value is not None and not representable(value):
            yield Breach("NOTIONAL_UNREPRESENTABLE", "wire", WIRE_TYPE, value,
                         f"{what} {value} does not fit the wire's {WIRE_TYPE}")
    if not representable(p.position):
        yield Breach("POSITION_UNREPRESENTABLE", "wire", WIRE_TYPE, p.position,
                     f"projected position {p.position} in {c.instrument} does not fit the wire's {WIRE_TYPE}")


def _size(c: Candidate, lim: Mapping[str, Decimal], p: _Projection) -> Iterator[Breach]:
    """MAX_ORDER_QTY, MAX_ORDER_NOTIONAL, MAX_POSITION: how big the order is."""
    v = lim.get("max_order_qty")
    if v is not None and c.quantity > v:
        yield Breach("MAX_ORDER_QTY", "max_order_qty", v, c.quantity, f"quantity {c.quantity} over {v}")
    v = lim.get("max_order_notional")
    if v is not None and p.notional is not None and p.notional > v:
        yield Breach("MAX_ORDER_NOTIONAL", "max_order_notional", v, p.notional, f"notional {p.notional} over {v}")
    v = lim.get("max_position")
    if v is not None and abs(p.position) > v:
        yield Breach("MAX_POSITION", "max_position", v, abs(p.position),
                     f"projected position {p.position} in {c.instrument} over {v}")


def _exposure(c: Candidate, ctx: Context, lim: Mapping[str, Decimal], p: _Projection) -> Iterator[Breach]:
    """MAX_GROSS_EXPOSURE, MAX_NET_EXPOSURE (worst cases over every instrument), MAX_OPEN_ORDERS."""
    v = lim.get("max_gross_exposure")
    if v is not None and p.gross > v:
        yield Breach("MAX_GROSS_EXPOSURE", "max_gross_exposure", v, p.gross,
                     f"projected gross exposure {p.gross} over {v}")
    v = lim.get("max_net_exposure")
    if v is not None and p.net > v:
        yield Breach("MAX_NET_EXPOSURE", "max_net_exposure", v, p.net, f"projected net exposure {p.net} over {v}")
    v = lim.get("max_open_orders")
    if v is not None:
        count = len(ctx.risk.open_orders) - (1 if c.exclude is not None else 0) + 1
        if count > v:
            yield Breach("MAX_OPEN_ORDERS", "max_open_orders", v, Decimal(count), f"{count} open orders over {v}")


def _prices(c: Candidate, ctx: Context, lim: Mapping[str, Decimal], fresh: Decimal | None) -> Iterator[Breach]:
    """PRICE_BAND (pct, then ticks), NO_REFERENCE_PRICE, TICK_SIZE, LOT_SIZE: the order's price and lot grid."""
    price = c.price
    tick = lim.get("tick_size")
    if price is not None and fresh is not None:
        distance = abs(price - fresh)
        v = lim.get("price_band_pct")
        if v is not None and distance * _HUNDRED > v * fresh:
            pct = distance * _HUNDRED / fresh
            yield Breach("PRICE_BAND", "price_band_pct", v, price,
                         f"limit {price} is {pct:.4f}% from reference {fresh}, band {v}%")
        v = lim.get("price_band_ticks")
        if v is not None and tick is not None and distance > v * tick:
            yield Breach("PRICE_BAND", "price_band_ticks", v, price,
                         f"limit {price} is {distance / tick} ticks from reference {fresh}, band {v} ticks")
    if fresh is None and lim.get("require_reference_price", ZERO) == ONE:
        why = "stale" if ctx.reference is not None else "missing"
        yield Breach("NO_REFERENCE_PRICE", "require_reference_price", "true", None,
                     f"reference price for {c.instrument} is {why}")
    if tick is not None and price is not None and price % tick != 0:
        yield Breach("TICK_SIZE", "tick_size", tick, price, f"limit {price} is not a multiple of {tick}")
    v = lim.get("lot_size")
    if v is not None and c.quantity % v != 0:
        yield Breach("LOT_SIZE", "lot_size", v, c.quantity, f"quantity {c.quantity} is not a multiple of {v}")

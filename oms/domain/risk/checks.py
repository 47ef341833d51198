"""Pre-trade checks: whether a new order or an amend may go to a venue, and the denial when not.

This module owns the checks. `check_new` and `check_amend` describe the order
as a `Candidate` (what it is: account, trader, instrument, side, size, what it
adds to the open leaves, its limit price, the open order it replaces) and its
surroundings (controls, account risk state, reference price, other prices,
now), run every check and return every `Breach` in the fixed
order of `BREACH_CODES`; `denial_reason` turns a non-empty list into the
`Denial` the order aggregate takes. Pure: no Kafka, no clock reads (time is
`now`, integer UTC nanoseconds), no I/O; exact Decimal arithmetic.

Cost: a check never loops over the account's open orders or positions. It
reads the running totals `AccountRisk` keeps (open leaves per instrument, open
count, exposure at marks) and the account's `Valuation` (exposure at the
prices of its last check, kept in step by the fold): when the prices are the
mapping the account was last valued at, the exposure is one instrument's
re-pricing away; when some prices moved (a new mapping holding new price
objects for them), only those instruments are re-priced (`valuation`), each by
its price difference. What the controls say of an account (limits in force,
kill switch, trading state, entitlement, instrument list, and from them the
all-clear bounds: each limit clipped to what the wire holds) is computed once
per `Controls` value, the price band's bounds once per reference price. A
check enters the exact context once, for its checks and its throttle token
(`oms.domain.tokens.refill_take_exact`), computes each figure once, and an
order inside every bound passes with no more work; any other order runs every
check in order, so a denial reads as before. The arithmetic is exact Decimal
throughout (comparisons, never floats); max(|a|, |b|) is written as
comparisons, which cost less than the builtins.

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

from dataclasses import replace
from decimal import Decimal, getcontext, setcontext
from math import floor
from typing import Callable, Mapping, NamedTuple

from oms.domain.denial import Breach, Denial
from oms.domain.orders import Order
from oms.domain.representable import WIRE_LIMIT, WIRE_TYPE, representable
from oms.domain.risk._exact import EXACT, ONE, ZERO
from oms.domain.risk.account import AccountRisk, Exposure, OpenOrder, Valuation, _account
from oms.domain.risk.controls import Controls, entitled, instrument_state, killed, limits_for, trading_state
from oms.domain.tokens import exactly, full_after_ns, refill_take_exact
from oms.events import AmendOrder, NewOrder, OrderType, Side, TradingState

__all__ = ["BREACH_CODES", "Breach", "Candidate", "check_amend", "check_new", "denial_reason", "valuation"]

_NS_PER_MS = 1_000_000
_HUNDRED = Decimal(100)
_NO_LEAVES = (ZERO, ZERO)
_SAFE = WIRE_LIMIT - 1
"""Every value strictly within +-_SAFE is representable, so `_fits` asks `representable` only beyond it."""
_NEG_SAFE = -_SAFE
_WITHIN = _SAFE - 1
"""A magnitude no larger than this fits the wire: the bound of the all-clear test where no limit is lower."""
_NO_QTY_LIMIT = Decimal("Infinity")
_BUY, _LIMIT = Side.BUY, OrderType.LIMIT
_NO_OPEN_LIMIT = 1 << 63
"""`_Plan.open_cap` when `max_open_orders` is unset: more than any count."""


def _fits(value: Decimal) -> bool:
    """`representable(value)`, answered by one comparison for every value well inside the wire's range."""
    return (value.is_finite() and _NEG_SAFE < value < _SAFE) or representable(value)

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


class Candidate(NamedTuple):
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
    global _LAST_STANDING
    account, instrument, trader = order.account, order.instrument, order.trader
    seen = _LAST_STANDING
    if seen[0] is controls and seen[1] == account and seen[2] == trader and seen[3] == instrument:
        standing = seen[4]
    else:
        standing = _standing(controls, account, trader, instrument)
        _LAST_STANDING = (controls, account, trader, instrument, standing)
    plan = standing[0]
    quantity = order.quantity
    rate = plan.rate
    prior = getcontext()
    setcontext(EXACT)  # the exact context, entered once for the checks and the token (`localcontext` copies)
    try:
        valued = risk.valued
        if valued is None or valued.prices is not prices:
            valued = _valuation(risk, prices)
        breaches = _check(account, trader, instrument, order.side, quantity, quantity,
                          order.limit_price if order.order_type is _LIMIT else None, None,
                          risk, reference, reference_ts, now, valued, standing)
        if rate is not None:
            tokens, last, ok = refill_take_exact(risk.tokens, risk.last_refill, now, plan.rate_per_ns, plan.burst,
                                                 ONE, plan.full_after_ns)
    finally:
        setcontext(prior)
    if valued is None:
        valued = risk.valued  # no prices: the valuation kept stays
    if rate is None:
        return breaches, (risk if valued is risk.valued else replace(risk, valued=valued))
    if not ok:
        breaches.append(Breach("THROTTLE", "orders_per_second", rate, None,
                               f"more than {rate} orders per second (burst {plan.burst}) for {account}"))
    return breaches, _account(risk.positions, risk.open_orders, risk.open_qty, risk.marks, tokens, last,
                              risk.resting, risk.open_count, risk.exposure, valued)


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
    standing = _standing(controls, order.account, amend.trader, order.instrument)
    exclude = risk.open_orders.get(order.order_id)
    prior = getcontext()
    setcontext(EXACT)  # the exact context, entered without copying it (`localcontext` copies)
    try:
        adds = quantity - order.cum_qty
        return _check(order.account, amend.trader, order.instrument, order.side, quantity,
                      adds if adds >= ZERO else ZERO, price, exclude, risk, reference, reference_ts, now,
                      _valuation(risk, prices), standing)
    finally:
        setcontext(prior)


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


_ANSWERS: dict[tuple, tuple] = {}
"""What the controls in force say, per question: (id of the `Controls`, question...) -> (the
`Controls` itself, answer). The entry holds the object, so a reused id is never mistaken; a new
`Controls` value clears every answer, so only the value in force is kept alive."""
_ANSWERED_FOR: list = [None]
_LAST_STANDING: tuple = (None, None, None, None, None)
"""`check_new`'s last (controls, account, trader, instrument, `_standing` answer), replaced whole:
consecutive orders of one account and instrument find it without a lookup."""


def _answer(key: tuple, controls: Controls, ask: Callable[[], object]):
    found = _ANSWERS.get(key)
    if found is not None and found[0] is controls:
        return found[1]
    if _ANSWERED_FOR[0] is not controls or len(_ANSWERS) >= 4096:
        _ANSWERS.clear()
        _ANSWERED_FOR[0] = controls
    answer = ask()
    _ANSWERS[key] = (controls, answer)
    return answer


class _Plan(NamedTuple):
    """The limits in force for one account, as the checks read them (None: unset)."""

    max_order_qty: Decimal | None
    max_order_notional: Decimal | None
    max_position: Decimal | None
    max_gross_exposure: Decimal | None
    max_net_exposure: Decimal | None
    max_open_orders: Decimal | None
    price_band_pct: Decimal | None
    price_band_ticks: Decimal | None
    require_reference_price: bool
    reference_max_age_ns: int | None
    tick_size: Decimal | None
    lot_size: Decimal | None
    rate: Decimal | None
    """`orders_per_second` (None: no throttle)."""
    burst: Decimal | None
    """`order_burst`, default max(1, rate)."""
    band_fraction: Decimal | None
    """`price_band_pct` / 100 (exact: a shift of two places)."""
    band_width: Decimal | None
    """`price_band_ticks` x `tick_size` (exact), None unless both are set."""
    rate_per_ns: Decimal | None
    """`orders_per_second` per nanosecond (shifted nine places, exact): the token bucket's refill."""
    open_cap: int
    """`max_open_orders` as an integer (`_NO_OPEN_LIMIT` when unset): the count is compared as an int."""
    full_after_ns: int | None
    """Nanoseconds after which even an empty throttle bucket is full again (`refill_take_exact`)."""
    qty_cap: Decimal
    notional_cap: Decimal
    position_cap: Decimal
    gross_cap: Decimal
    net_cap: Decimal
    """The all-clear bounds (`_check`): each limit, no larger than `_WITHIN` (a value within it
    fits the wire), `_WITHIN` when unset (`qty_cap`: the limit, else infinity)."""
    notional_floor: Decimal
    position_floor: Decimal
    """-`notional_cap`, -`position_cap`: a notional or position as far below zero still passes."""


def _make_plan(controls: Controls, account: str) -> _Plan:
    get = limits_for(controls, account).get
    age, rate, burst = get("reference_max_age_ms"), get("orders_per_second"), get("order_burst")
    if rate is not None and burst is None:
        burst = max(ONE, rate)
    pct, ticks, tick = get("price_band_pct"), get("price_band_ticks"), get("tick_size")
    qty, open_orders = get("max_order_qty"), get("max_open_orders")
    notional, position = get("max_order_notional"), get("max_position")
    gross, net = get("max_gross_exposure"), get("max_net_exposure")
    per_ns = None if rate is None else EXACT.scaleb(rate, -9)
    return _Plan(
        max_order_qty=qty, max_order_notional=notional, max_position=position, max_gross_exposure=gross,
        max_net_exposure=net, max_open_orders=open_orders, price_band_pct=pct, price_band_ticks=ticks,
        require_reference_price=get("require_reference_price", ZERO) == ONE,
        reference_max_age_ns=None if age is None else int(age) * _NS_PER_MS,
        tick_size=tick, lot_size=get("lot_size"), rate=rate, burst=burst,
        band_fraction=None if pct is None else EXACT.scaleb(pct, -2),
        band_width=None if ticks is None or tick is None else EXACT.multiply(ticks, tick),
        rate_per_ns=per_ns, open_cap=_NO_OPEN_LIMIT if open_orders is None else floor(open_orders),
        full_after_ns=None if per_ns is None else full_after_ns(per_ns, burst),
        qty_cap=_NO_QTY_LIMIT if qty is None else qty, notional_cap=_cap(notional), position_cap=_cap(position),
        gross_cap=_cap(gross), net_cap=_cap(net), notional_floor=-_cap(notional), position_floor=-_cap(position))


def _cap(limit: Decimal | None) -> Decimal:
    """The all-clear bound of a limit whose value must also fit the wire: min(limit, `_WITHIN`)."""
    return _WITHIN if limit is None or limit > _WITHIN else limit


def _plan(controls: Controls, account: str) -> _Plan:
    """The limits of `account` (`limits_for`), read once per `Controls` value and account."""
    found = _ANSWERS.get((id(controls), account))
    if found is not None and found[0] is controls:
        return found[1]
    return _answer((id(controls), account), controls, lambda: _make_plan(controls, account))


class _Standing(NamedTuple):
    """What the controls say of one account, trader and instrument, asked once per `Controls` value."""

    plan: _Plan
    kill: bool
    state: TradingState
    allowed: bool
    code: str | None
    """The instrument's breach code, None when it may be traded."""
    clear: bool
    """No kill switch, ACTIVE, entitled, instrument eligible: none of the first checks can breach."""


def _standing(controls: Controls, account: str, trader: str, instrument: str) -> _Standing:
    """`_plan`, `killed`, `trading_state`, `entitled` and `instrument_state`, asked once per
    `Controls` value (one lookup per check)."""
    key = (id(controls), account, trader, instrument)
    found = _ANSWERS.get(key)
    if found is not None and found[0] is controls:
        return found[1]
    return _answer(key, controls, lambda: _make_standing(controls, account, trader, instrument))


def _make_standing(controls: Controls, account: str, trader: str, instrument: str) -> _Standing:
    kill, state = killed(controls, account), trading_state(controls, account)
    allowed, code = entitled(controls, account, trader), instrument_state(controls, account, instrument)
    return _Standing(_plan(controls, account), kill, state, allowed, code,
                     not kill and state is TradingState.ACTIVE and allowed and code is None)


def _check(account: str, trader: str, instrument: str, side: Side, quantity: Decimal, adds: Decimal,
           price: Decimal | None, exclude: OpenOrder | None, risk: AccountRisk, reference: Decimal | None,
           reference_ts: int | None, now: int, valued: Valuation | None, standing: _Standing) -> list[Breach]:
    """Every check but the throttle of the candidate (the fields of a `Candidate`), in
    `BREACH_CODES` order (call in the `EXACT` context). Reads only running totals of the account
    (`AccountRisk.open_qty`, `open_count`, `exposure`), never its open orders one by one.

    The figures (projected position, notional, exposure, price distance, grid remainders) are
    computed once; an all-clear test then compares each against its limit clipped to what the
    wire holds (`_Plan`'s caps), and when it holds no check can breach: nothing more runs. Else
    every check runs in order and a breach's text is built only when it is reported."""
    plan, kill, state, allowed, code, clear = standing
    fresh = reference
    if fresh is not None:
        max_age = plan.reference_max_age_ns
        if max_age is not None and (reference_ts is None or now - reference_ts > max_age):
            fresh = None  # stale: treated as absent
    held = risk.positions.get(instrument, ZERO)
    held_buy, held_sell = risk.open_qty.get(instrument, _NO_LEAVES)
    buying = side is _BUY
    priced = price if price is not None else fresh  # price of this order's notional
    notional = quantity * priced if priced is not None else None
    listed = valued.prices.get(instrument) if valued is not None else None
    if exclude is None and listed is not None:
        # the steady state (a new order, its instrument priced as when the account was valued):
        # only the candidate's side moves, by `adds`, at that same price; the projected position
        # is that side's case. Open leaves and `adds` are never negative, so down <= up, and
        # max(|up|, |down|) is max(up, -down): the instrument's part, as comparisons
        same_open = held_buy if buying else held_sell
        gross, long, short = valued.exposure
        up, down = held + held_buy, held - held_sell
        below = -down
        if buying:
            position = up + adds
            gross += ((position if position >= below else below) - (up if up >= below else below)) * listed
            long += adds * listed
        else:
            position = down - adds
            further = -position
            gross += ((up if up >= further else further) - (up if up >= below else below)) * listed
            short -= adds * listed
        size_long = -long if long < ZERO else long
        size_short = -short if short < ZERO else short
        net = size_long if size_long >= size_short else size_short
    else:
        open_buy, open_sell = (held_buy, held_sell) if exclude is None else _open_leaves(risk, instrument, exclude)
        same_open = open_buy if buying else open_sell  # open leaves on the candidate's side
        position = held + (same_open + adds) if buying else held - (same_open + adds)
        gross, net = _projected_exposure(instrument, buying, adds, price, exclude, risk, valued, fresh, held,
                                         (held_buy, held_sell), open_buy, open_sell)
    count = risk.open_count + 1 if exclude is None else risk.open_count
    # the order's price and lot grid: distance from the fresh reference, off the band (pct, ticks),
    # off the tick, off the lot
    tick, lot = plan.tick_size, plan.lot_size
    off_pct = off_ticks = off_tick = False
    if price is not None:
        if fresh is not None:
            within = _BAND
            if within[0] is not plan or within[1] is not fresh:
                within = _within_band(plan, fresh)
            if not within[2] <= price <= within[3]:  # outside the narrowest band (or a band below zero)
                distance = price - fresh if price > fresh else fresh - price
                band = plan.band_fraction
                off_pct = band is not None and distance > band * fresh
                band = plan.band_width
                off_ticks = band is not None and distance > band
        off_tick = tick is not None and price % tick  # a non-zero remainder is true
    off_lot = lot is not None and quantity % lot
    if (clear and not (off_pct or off_ticks or off_tick or off_lot) and count <= plan.open_cap
            and (fresh is not None or not plan.require_reference_price) and quantity <= plan.qty_cap
            and (notional is None or plan.notional_floor <= notional <= plan.notional_cap)
            and plan.position_floor <= position <= plan.position_cap
            and _NEG_SAFE < gross <= plan.gross_cap and net <= plan.net_cap):
        return []  # all clear: every check below passes
    breaches: list[Breach] = []
    add = breaches.append

    # KILL_SWITCH, TRADING_HALTED / REDUCE_ONLY, NOT_ENTITLED, INSTRUMENT_*: may the account trade at all
    if kill:
        add(Breach("KILL_SWITCH", "kill_switch", "on", None, f"kill switch is on for {account}"))
    if state is TradingState.HALTED:
        add(Breach("TRADING_HALTED", "trading_state", "HALTED", None, f"trading is halted for {account}"))
    elif state is TradingState.REDUCING:
        reducing = held != 0 and (held > 0) != buying and same_open + adds <= abs(held)
        if not reducing:
            add(Breach("REDUCE_ONLY", "trading_state", "REDUCING", str(position),
                       f"{account} is reduce-only: position {held} in {instrument} would become {position}"))
    if not allowed:
        add(Breach("NOT_ENTITLED", "entitlement", "deny", trader, f"{trader} may not trade {account}"))
    if code is not None:
        word = code.removeprefix("INSTRUMENT_").lower()
        add(Breach(code, "instrument", word, instrument, f"{instrument} is {word.replace('_', ' ')} for {account}"))

    # NOTIONAL_UNREPRESENTABLE (notional, projected gross, net), POSITION_UNREPRESENTABLE: what the wire
    # cannot hold (a value strictly within +-_SAFE fits: one comparison decides the common case)
    if not (_NEG_SAFE < gross < _SAFE and net < _SAFE and (notional is None or _NEG_SAFE < notional < _SAFE)):
        for what, value in (("notional", notional), ("projected gross exposure", gross),
                            ("projected net exposure", net)):
            if value is not None and not _fits(value):
                add(Breach("NOTIONAL_UNREPRESENTABLE", "wire", WIRE_TYPE, value,
                           f"{what} {value} does not fit the wire's {WIRE_TYPE}"))
    if not _NEG_SAFE < position < _SAFE and not _fits(position):
        add(Breach("POSITION_UNREPRESENTABLE", "wire", WIRE_TYPE, position,
                   f"projected position {position} in {instrument} does not fit the wire's {WIRE_TYPE}"))

    # MAX_ORDER_QTY, MAX_ORDER_NOTIONAL, MAX_POSITION: how big the order is
    v = plan.max_order_qty
    if v is not None and quantity > v:
        add(Breach("MAX_ORDER_QTY", "max_order_qty", v, quantity, f"quantity {quantity} over {v}"))
    v = plan.max_order_notional
    if v is not None and notional is not None and notional > v:
        add(Breach("MAX_ORDER_NOTIONAL", "max_order_notional", v, notional, f"notional {notional} over {v}"))
    v = plan.max_position
    if v is not None and (position > v or -position > v):
        add(Breach("MAX_POSITION", "max_position", v, abs(position),
                   f"projected position {position} in {instrument} over {v}"))

    # MAX_GROSS_EXPOSURE, MAX_NET_EXPOSURE (worst cases over every instrument), MAX_OPEN_ORDERS
    v = plan.max_gross_exposure
    if v is not None and gross > v:
        add(Breach("MAX_GROSS_EXPOSURE", "max_gross_exposure", v, gross, f"projected gross exposure {gross} over {v}"))
    v = plan.max_net_exposure
    if v is not None and net > v:
        add(Breach("MAX_NET_EXPOSURE", "max_net_exposure", v, net, f"projected net exposure {net} over {v}"))
    if count > plan.open_cap:  # an integer count over the limit is over its integer part
        v = plan.max_open_orders
        add(Breach("MAX_OPEN_ORDERS", "max_open_orders", v, Decimal(count), f"{count} open orders over {v}"))

    # PRICE_BAND (pct, then ticks), NO_REFERENCE_PRICE, TICK_SIZE, LOT_SIZE: the order's price and lot grid
    if off_pct:
        pct, v = distance * _HUNDRED / fresh, plan.price_band_pct
        add(Breach("PRICE_BAND", "price_band_pct", v, price,
                   f"limit {price} is {pct:.4f}% from reference {fresh}, band {v}%"))
    if off_ticks:
        v = plan.price_band_ticks
        add(Breach("PRICE_BAND", "price_band_ticks", v, price,
                   f"limit {price} is {distance / tick} ticks from reference {fresh}, band {v} ticks"))
    if fresh is None and plan.require_reference_price:
        why = "stale" if reference is not None else "missing"
        add(Breach("NO_REFERENCE_PRICE", "require_reference_price", "true", None,
                   f"reference price for {instrument} is {why}"))
    if off_tick:
        add(Breach("TICK_SIZE", "tick_size", tick, price, f"limit {price} is not a multiple of {tick}"))
    if off_lot:
        add(Breach("LOT_SIZE", "lot_size", lot, quantity, f"quantity {quantity} is not a multiple of {lot}"))
    return breaches


_BAND: tuple = (None, None, None, None)
"""The price band last asked for: (plan, fresh reference, lowest, highest limit price inside every
band the plan sets), one entry replaced whole: the orders of one instrument between two reference
prices share it."""
_UNBOUNDED = Decimal("Infinity")


def _within_band(plan: _Plan, fresh: Decimal) -> tuple:
    """`_BAND` for `plan` and `fresh` (call in `EXACT`): a price from the lowest to the highest is at
    most `band_fraction` x `fresh` and `band_width` from `fresh` (unbounded when neither is set; an
    empty range when a band is below zero, so the distance is then compared)."""
    global _BAND
    low, high = -_UNBOUNDED, _UNBOUNDED
    for width in (None if plan.band_fraction is None else plan.band_fraction * fresh, plan.band_width):
        if width is not None:
            low, high = max(low, fresh - width), min(high, fresh + width)
    _BAND = (plan, fresh, low, high)
    return _BAND


def _open_leaves(risk: AccountRisk, instrument: str, exclude: OpenOrder | None) -> tuple[Decimal, Decimal]:
    """(open buy leaves, open sell leaves) in `instrument`, leaving `exclude` out."""
    buy, sell = risk.open_qty.get(instrument, (ZERO, ZERO))
    if exclude is not None and exclude.instrument == instrument:
        if exclude.side is Side.BUY:
            buy -= exclude.leaves_qty
        else:
            sell -= exclude.leaves_qty
    return buy, sell


def valuation(risk: AccountRisk, prices: Mapping[str, Decimal] | None) -> Valuation | None:
    """The account's exposure at `prices` (else its marks) before any candidate, from the running
    totals: `risk.valued` when it was valued at this very mapping; else revalued from it (or from
    the marks) for the instruments whose price object differs, so a mapping that changed one
    price costs one instrument. None when there are no prices (the marks' `risk.exposure` holds).
    Any context: the arithmetic runs in `EXACT`."""
    return exactly(_valuation, risk, prices)


def _valuation(risk: AccountRisk, prices: Mapping[str, Decimal] | None) -> Valuation | None:
    """`valuation`, in the `EXACT` context. Each instrument whose price moved from `old` to `new`
    moves the totals by its part at the difference: (`new` - `old`) x (max(|up|, |down|), up, down)."""
    if not prices:
        return None
    valued = risk.valued
    if valued is not None and valued.prices is prices:
        return valued
    was = valued.prices if valued is not None else {}
    gross, long, short = valued.exposure if valued is not None else risk.exposure
    marks, positions, open_qty = risk.marks, risk.positions, risk.open_qty
    for name in positions.keys() | open_qty.keys():
        old, new = was.get(name), prices.get(name)
        if old is new:
            continue
        if old is None:
            old = marks.get(name)
        elif new is None:
            new = marks.get(name)
        if old is new:
            continue
        position = positions.get(name, ZERO)
        buy, sell = open_qty.get(name, _NO_LEAVES)
        up, down = position + buy, position - sell
        below = -down  # open leaves are never negative: down <= up, max(|up|, |down|) = max(up, -down)
        step = new if old is None else (-old if new is None else new - old)
        gross += (up if up >= below else below) * step
        long += up * step
        short += down * step
    return Valuation(prices, Exposure(gross, long, short))


def _projected_exposure(instrument: str, buying: bool, adds: Decimal, price: Decimal | None,
                        exclude: OpenOrder | None, risk: AccountRisk, valued: Valuation | None,
                        fresh: Decimal | None, position: Decimal, held: tuple[Decimal, Decimal],
                        open_buy: Decimal, open_sell: Decimal) -> tuple[Decimal, Decimal]:
    """(gross, net) exposure of the account with the candidate (see the conventions; `position`
    and `held` its position and open leaves in `instrument`, `open_buy` / `open_sell` those leaves
    without the order it replaces): the account's valuation (`valuation`, else the running total
    at marks) with the candidate's instrument re-priced (its leaves change, and it is valued at
    `prices`, else the fresh reference or its own price, else its mark), and the excluded order's
    if it is in another instrument."""
    marks, positions, open_qty = risk.marks, risk.positions, risk.open_qty
    listed = valued.prices.get(instrument) if valued is not None else None
    px = listed
    if px is None:
        px = fresh if fresh is not None else price
        if px is None:
            px = marks.get(instrument)
    total = valued.exposure if valued is not None else risk.exposure
    total = _repriced(total, position, held, listed if listed is not None else marks.get(instrument),
                      (open_buy + adds, open_sell) if buying else (open_buy, open_sell + adds), px)
    if exclude is not None and exclude.instrument != instrument:
        other = exclude.instrument
        at = valued.price(risk, other) if valued is not None else marks.get(other)
        total = _repriced(total, positions.get(other, ZERO), open_qty.get(other, _NO_LEAVES), at,
                          _open_leaves(risk, other, exclude), at)
    gross, long, short = total
    size_long = -long if long < ZERO else long
    size_short = -short if short < ZERO else short
    return gross, (size_long if size_long >= size_short else size_short)


def _repriced(total: tuple[Decimal, Decimal, Decimal], position: Decimal, before: tuple[Decimal, Decimal],
              was: Decimal | None, after: tuple[Decimal, Decimal], price: Decimal | None,
              ) -> tuple[Decimal, Decimal, Decimal]:
    """`total` (gross, long, short) with one instrument's part - `position` with open leaves
    `before` (buy, sell) at `was` - replaced by its part with leaves `after` at `price`
    (`oms.domain.risk.account.part`, written out with comparisons for max(|up|, |down|): this runs
    on every check that is not the steady state; None: no part). Call in `EXACT`."""
    gross, long, short = total
    if was is not None:
        up, down = position + before[0], position - before[1]
        size_up = -up if up < ZERO else up
        size_down = -down if down < ZERO else down
        gross -= (size_up if size_up >= size_down else size_down) * was
        long -= up * was
        short -= down * was
    if price is not None:
        up, down = position + after[0], position - after[1]
        size_up = -up if up < ZERO else up
        size_down = -down if down < ZERO else down
        gross += (size_up if size_up >= size_down else size_down) * price
        long += up * price
        short += down * price
    return gross, long, short

"""Account risk state: what the order engine knows of one account, updated purely.

This module owns `AccountRisk`: the account's net positions, its open orders
(and their open leaves per instrument and side), the last fill price per
instrument (a fallback valuation for exposure) and the pre-trade throttle
bucket. `with_order` keeps the open orders in step with an order's state (by
`is_live`, the one definition of liveness), `with_fill` moves a position,
`with_order_fill` does both for a fill in one update (what the fold of a fill
calls, equal to the two in turn digit for digit), `take_token` takes a
throttle token from the bucket (`oms.domain.tokens.refill_take`, the one token
bucket). `with_order` and `with_fill` keep running totals, so the
pre-trade checks never loop over open orders or positions: `open_qty` (open
leaves per instrument and side), `open_count` (how many orders are open),
`exposure` (the account's exposure valued at its marks, `Exposure`: the sum
over instruments of `part`) and, when the checks set one, `valued` (a
`Valuation`: the exposure at the prices of the last check), each moved by the
one instrument an update touches and equal to a from-scratch recomputation
(`exposure_at_marks`; hypothesis properties). The open orders are a plain
mapping, or `OpenOrders` (the engine's: stored entries read one by one under
the changes since), which an update extends without copying the stored ones.
`AccountRisk` is a plain frozen dataclass; replay compares `positions`,
`open_orders`, `open_qty`, `marks`, `open_count` and `exposure` (never
`valued`, a cache). Pure: no Kafka, no clock, no I/O; exact Decimal arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, getcontext, localcontext, setcontext
from typing import Callable, Iterator, Mapping, NamedTuple

from oms.domain.orders import Order, is_live
from oms.domain.risk._exact import EXACT, ZERO

_add, _subtract = EXACT.add, EXACT.subtract
_tuple_new = tuple.__new__  # a NamedTuple built without its Python-level `__new__`
from oms.domain.tokens import refill_take
from oms.events import OrderStatus, Side, TimeInForce, VenueAction

__all__ = ["AccountRisk", "Exposure", "OpenOrder", "OpenOrders", "Valuation", "exposure_at_marks", "part", "take_token", "with_fill",
           "with_order", "with_order_fill"]


class OpenOrder(NamedTuple):
    instrument: str
    side: Side
    leaves_qty: Decimal
    limit_price: Decimal | None


class OpenOrders(Mapping[str, OpenOrder]):
    """An account's open orders as the engine holds them: stored entries (one per order, read
    through `lookup` and listed through `scan`) under the changes made since they were read.

    `with_entry` gives the next version in O(changes), never copying the stored entries, so
    an update costs the same with 10 or 10,000 open orders; `changes` (order id -> entry, or None
    when the order left the open orders) is what must be written back. `len` is the running
    count kept with the account. Listing (`iter`) reads every stored entry: account-wide
    commands only, never the checks. Equal to any mapping with the same items."""

    __slots__ = ("_lookup", "_scan", "_count", "changes")

    def __init__(self, lookup: Callable[[str], OpenOrder | None], scan: Callable[[], Iterator[str]],
                 count: int, changes: Mapping[str, OpenOrder | None] | None = None) -> None:
        self._lookup = lookup
        self._scan = scan
        self._count = count
        self.changes: Mapping[str, OpenOrder | None] = changes if changes is not None else {}

    def get(self, order_id: str, default=None):  # type: ignore[override]
        if order_id in self.changes:
            found = self.changes[order_id]
        else:
            found = self._lookup(order_id)
        return default if found is None else found

    def __getitem__(self, order_id: str) -> OpenOrder:
        found = self.get(order_id)
        if found is None:
            raise KeyError(order_id)
        return found

    def __contains__(self, order_id: object) -> bool:
        return isinstance(order_id, str) and self.get(order_id) is not None

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        stored = [order_id for order_id in self._scan() if order_id not in self.changes]
        added = [order_id for order_id, entry in self.changes.items() if entry is not None]
        return iter(sorted({*stored, *added}))

    def with_entry(self, order_id: str, entry: OpenOrder | None) -> "OpenOrders":
        """These open orders with `order_id` set to `entry` (None: removed)."""
        had = self.get(order_id) is not None
        count = self._count + (entry is not None) - had
        return OpenOrders(self._lookup, self._scan, count, {**self.changes, order_id: entry})

    def __repr__(self) -> str:
        return f"OpenOrders({dict(self.items())!r})"


class Exposure(NamedTuple):
    """Exposure of an account, or of one instrument of it, at given prices.

    gross: sum of max(|long case|, |short case|) x price; long / short: the
    sum of the long case (position + open buys) x price and of the short case
    (position - open sells) x price. Net exposure is max(|long|, |short|)."""

    gross: Decimal
    long: Decimal
    short: Decimal

    @property
    def net(self) -> Decimal:
        return max(abs(self.long), abs(self.short))


NO_EXPOSURE = Exposure(ZERO, ZERO, ZERO)
_FLAT = (ZERO, ZERO)
"""No open leaves of an instrument: (buy, sell)."""


class Valuation(NamedTuple):
    """An account's exposure (`Exposure`) valued at `prices` (an instrument with no price there:
    at its mark). `prices` is the very mapping the checks were given: a later mapping that holds
    the same price objects for most instruments is revalued for the others only."""

    prices: Mapping[str, Decimal]
    exposure: Exposure

    def price(self, risk: "AccountRisk", instrument: str) -> Decimal | None:
        found = self.prices.get(instrument)
        return found if found is not None else risk.marks.get(instrument)


def part(position: Decimal, open_buy: Decimal, open_sell: Decimal, price: Decimal | None) -> Exposure:
    """One instrument's exposure: a position with these open leaves, at `price` (None: left out).
    Call in the `EXACT` context."""
    if price is None:
        return NO_EXPOSURE
    up, down = position + open_buy, position - open_sell
    return Exposure(max(abs(up), abs(down)) * price, up * price, down * price)


@dataclass(frozen=True, slots=True)
class AccountRisk:
    """What the engine knows of one account. Mappings are never mutated.

    positions: instrument -> signed net quantity (absent = flat);
    open_orders: order_id -> OpenOrder (live orders with leaves > 0);
    open_qty: instrument -> (open buy leaves, open sell leaves), derived from
    open_orders and kept in step by `with_order`;
    marks: instrument -> last fill price (fallback valuation for exposure);
    tokens / last_refill: the throttle bucket (last_refill None = never used, full);
    open_count: len(open_orders), a running total;
    exposure: the running total of `part` over every instrument at its mark
    (instruments with no mark are left out), equal to `exposure_at_marks(self)`.
    """

    positions: Mapping[str, Decimal] = field(default_factory=dict)
    open_orders: Mapping[str, OpenOrder] = field(default_factory=dict)
    open_qty: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    marks: Mapping[str, Decimal] = field(default_factory=dict)
    tokens: Decimal = ZERO
    last_refill: int | None = None
    resting: frozenset[str] = frozenset()
    """GTC orders done for the day, keeping their leaves for the next trading day (by order id):
    what a session roll renews and, with `open_orders`, what a mass status asks about."""
    open_count: int = 0
    exposure: Exposure = NO_EXPOSURE
    valued: "Valuation | None" = field(default=None, compare=False)
    """The exposure at the prices the last check saw, kept in step by the fold: a cache the checks
    start from, never stored or compared (`None`: value from the marks)."""

    def orders_at_venues(self) -> list[str]:
        """Order ids of the account's orders the venues still hold: open, or resting overnight."""
        return sorted(set(self.open_orders) | self.resting)


def _part_at_mark(risk: AccountRisk, instrument: str) -> Exposure:
    buy, sell = risk.open_qty.get(instrument, _FLAT)
    return part(risk.positions.get(instrument, ZERO), buy, sell, risk.marks.get(instrument))


def _part(position: Decimal, buy: Decimal, sell: Decimal, price: Decimal | None) -> tuple | None:
    """`part` as a plain (gross, long, short) tuple, None at no price: a term of the running totals
    (call in the `EXACT` context; written out, as it runs on every update of the fold)."""
    if price is None:
        return None
    up, down = position + buy, position - sell
    return (max(abs(up), abs(down)) * price, up * price, down * price)


def _along(total: tuple, terms: list) -> Exposure:
    """`total` less the first term, plus the second, less the third, ... (None: no term): each update
    takes an instrument's part at its old state out and puts its part at its new state in, in that
    order, so a fused update computes exactly the values (exponents too) of the updates in turn.
    Call in the `EXACT` context."""
    gross, long, short = total
    out = True
    for term in terms:
        if term is not None:
            if out:
                gross -= term[0]
                long -= term[1]
                short -= term[2]
            else:
                gross += term[0]
                long += term[1]
                short += term[2]
        out = not out
    return _tuple_new(Exposure, (gross, long, short))


def exposure_at_marks(risk: AccountRisk) -> Exposure:
    """The account's exposure at its marks, recomputed from scratch (what `exposure` must equal)."""
    gross = long = short = ZERO
    with localcontext(EXACT):
        for instrument in {*risk.positions, *risk.open_qty}:
            g, lo, sh = _part_at_mark(risk, instrument)
            gross, long, short = gross + g, long + lo, short + sh
    return Exposure(gross, long, short)


def _bump(open_qty: dict, entry: OpenOrder, sign: int) -> None:
    buy, sell = open_qty.get(entry.instrument, _FLAT)
    step = _add if sign > 0 else _subtract
    if entry.side is Side.BUY:
        buy = step(buy, entry.leaves_qty)
    else:
        sell = step(sell, entry.leaves_qty)
    if buy == 0 and sell == 0:
        open_qty.pop(entry.instrument, None)
    else:
        open_qty[entry.instrument] = (buy, sell)


def with_order(risk: AccountRisk, order: Order) -> AccountRisk:
    """Add, update or remove `order` in the open orders by `is_live` (and leaves > 0).

    While replaces are pending the largest of the current leaves and each
    pending replace's (quantity - cum_qty) counts (a chain of replaces: the
    largest), so an amend in flight is never under-counted."""
    return _folded(risk, order, None, None, None, None)


def with_fill(
    risk: AccountRisk, instrument: str, side: Side, qty: Decimal, price: Decimal | None = None
) -> AccountRisk:
    """Move the net position by side.sign x qty (a negative qty undoes a busted fill).

    `price`, when given, becomes the instrument's mark for exposure. Open
    orders are not touched: the engine also calls `with_order` with the filled order."""
    return _folded(risk, None, instrument, side, qty, price)


def with_order_fill(risk: AccountRisk, order: Order, instrument: str, side: Side, qty: Decimal,
                    price: Decimal | None = None) -> AccountRisk:
    """`with_fill(with_order(risk, order), instrument, side, qty, price)` in one update (the fold of
    a fill: the filled order and its fill), equal to the two in turn field for field, every Decimal
    with the same digits and exponent: one new account, the instrument's part at the state between
    computed once."""
    return _folded(risk, order, instrument, side, qty, price)


def _entry(order: Order) -> OpenOrder | None:
    """The open-orders entry of `order` (`with_order`), None when it is not open."""
    leaves = order.leaves_qty
    if order.pending is not None:
        cum = order.cum_qty
        for pending in order.chain:
            if pending.kind is VenueAction.REPLACE and pending.quantity is not None:
                leaves = max(leaves, pending.quantity - cum)
    if is_live(order) and leaves > 0:
        return _tuple_new(OpenOrder, (order.instrument, order.side, leaves, order.limit_price))
    return None


def _folded(risk: AccountRisk, order: Order | None, instrument: str | None, side: Side | None,
            qty: Decimal | None, price: Decimal | None) -> AccountRisk:
    """`risk` with `order` re-entered in the open orders (None: not), then the position of
    `instrument` moved by side.sign x `qty` and its mark set to `price` (`instrument` None: no
    fill): one new value, the running totals (exposure at marks, and the valuation when there is
    one) moved by the part of each instrument touched, the terms in the order the two updates in
    turn take them."""
    positions, open_orders, open_qty, marks = risk.positions, risk.open_orders, risk.open_qty, risk.marks
    resting, count = risk.resting, risk.open_count
    moved = None  # the instrument the order moved
    if order is not None:
        order_id = order.order_id
        entry = _entry(order)
        overnight = order.status is OrderStatus.DONE_FOR_DAY and order.time_in_force is TimeInForce.GTC
        if overnight != (order_id in resting):
            resting = resting | {order_id} if overnight else resting - {order_id}
        old = open_orders.get(order_id)
        if old != entry:
            if isinstance(open_orders, OpenOrders):
                open_orders = open_orders.with_entry(order_id, entry)
            else:
                open_orders = dict(open_orders)
                if entry is None:
                    del open_orders[order_id]
                else:
                    open_orders[order_id] = entry
            open_qty = dict(open_qty)
            if old is not None:
                _bump(open_qty, old, -1)
            if entry is not None:
                _bump(open_qty, entry, 1)
            count += (entry is not None) - (old is not None)
            moved = (entry or old).instrument  # an order keeps its instrument
    if instrument is not None:
        held = positions.get(instrument, ZERO)
        net = _add(held, qty) if side is Side.BUY else _subtract(held, qty)
        positions = dict(positions)
        if net == 0:
            positions.pop(instrument, None)
        else:
            positions[instrument] = net
        if price is not None:
            marks = {**marks, instrument: price}
    elif moved is None:
        if resting is risk.resting:
            return risk
        return _account(positions, open_orders, open_qty, marks, risk.tokens, risk.last_refill, resting, count,
                        risk.exposure, risk.valued)
    valued = risk.valued
    listed = valued.prices if valued is not None else None
    prior = getcontext()
    setcontext(EXACT)  # the exact context, entered without copying it (`localcontext` copies)
    try:
        terms: list = []
        v_terms: list | None = [] if valued is not None else None
        if moved is not None:  # the order's update: its instrument's part at the old leaves out, at the new in
            position = risk.positions.get(moved, ZERO)
            buy, sell = risk.open_qty.get(moved, _FLAT)
            now_buy, now_sell = open_qty.get(moved, _FLAT)
            mark = risk.marks.get(moved)
            was, now = _part(position, buy, sell, mark), _part(position, now_buy, now_sell, mark)
            terms += (was, now)
            if v_terms is not None:
                at = listed.get(moved)
                v_terms += (was, now) if at is None else (
                    _part(position, buy, sell, at), _part(position, now_buy, now_sell, at))
        if instrument is not None:  # the fill's update: the part at the old position and mark out, at the new in
            position, now_position = risk.positions.get(instrument, ZERO), positions.get(instrument, ZERO)
            buy, sell = open_qty.get(instrument, _FLAT)
            mark, now_mark = risk.marks.get(instrument), marks.get(instrument)
            was = now if moved == instrument else _part(position, buy, sell, mark)
            filled = _part(now_position, buy, sell, now_mark)
            terms += (was, filled)
            if v_terms is not None:
                at = listed.get(instrument)
                if at is None:
                    v_terms += (was, filled)
                else:
                    v_was = v_terms[-1] if moved == instrument else _part(position, buy, sell, at)
                    v_terms += (v_was, _part(now_position, buy, sell, at))
        exposure = _along(risk.exposure, terms)
        if valued is not None:
            valued = _tuple_new(Valuation, (listed, _along(valued.exposure, v_terms)))
    finally:
        setcontext(prior)
    return _account(positions, open_orders, open_qty, marks, risk.tokens, risk.last_refill, resting, count,
                    exposure, valued)


_new = object.__new__
_SET_FIELDS = tuple(getattr(AccountRisk, name).__set__ for name in (
    "positions", "open_orders", "open_qty", "marks", "tokens", "last_refill", "resting", "open_count",
    "exposure", "valued"))
assert len(_SET_FIELDS) == len(AccountRisk.__slots__), "_account sets every field of AccountRisk"


def _account(positions: Mapping[str, Decimal], open_orders: Mapping[str, OpenOrder],
             open_qty: Mapping[str, tuple[Decimal, Decimal]], marks: Mapping[str, Decimal], tokens: Decimal,
             last_refill: int | None, resting: frozenset[str], open_count: int, exposure: Exposure,
             valued: Valuation | None) -> AccountRisk:
    """`AccountRisk(...)` with every field given, set through the slots' own setters: a frozen
    dataclass's generated `__init__` costs twice as much, and the fold and the checks make one per update."""
    risk = _new(AccountRisk)
    s_positions, s_orders, s_qty, s_marks, s_tokens, s_last, s_resting, s_count, s_exposure, s_valued = _SET_FIELDS
    s_positions(risk, positions)
    s_orders(risk, open_orders)
    s_qty(risk, open_qty)
    s_marks(risk, marks)
    s_tokens(risk, tokens)
    s_last(risk, last_refill)
    s_resting(risk, resting)
    s_count(risk, open_count)
    s_exposure(risk, exposure)
    s_valued(risk, valued)
    return risk


def take_token(risk: AccountRisk, now: int, rate: Decimal, burst: Decimal,
               valued: Valuation | None = None) -> tuple[AccountRisk, bool]:
    """The account's throttle bucket (`oms.domain.tokens.refill_take`, the one token bucket) after
    taking one token at `now` (and, when given, `valued` as its valuation: the checks' one copy of
    the account)."""
    tokens, last, ok = refill_take(risk.tokens, risk.last_refill, now, rate, burst)
    return _account(risk.positions, risk.open_orders, risk.open_qty, risk.marks, tokens, last, risk.resting,
                    risk.open_count, risk.exposure, valued if valued is not None else risk.valued), ok

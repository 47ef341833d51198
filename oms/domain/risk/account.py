"""Account risk state: what the order engine knows of one account, updated purely.

This module owns `AccountRisk`: the account's net positions, its open orders
(and their open leaves per instrument and side), the last fill price per
instrument (a fallback valuation for exposure) and the pre-trade throttle
bucket. `with_order` keeps the open orders in step with an order's state (by
`is_live`, the one definition of liveness), `with_fill` moves a position,
`take_token` takes a throttle token from the bucket (`oms.domain.tokens.TokenBucket`,
the one token bucket). `AccountRisk` is a plain frozen dataclass: it is stored
and replayed through pydantic's `TypeAdapter(AccountRisk)` (`oms/state.py`),
and replay compares `positions`, `open_orders`, `open_qty` and `marks`.
Pure: no Kafka, no clock, no I/O; exact Decimal arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal, localcontext
from typing import Mapping, NamedTuple

from oms.domain.orders import Order, is_live
from oms.domain.risk._exact import EXACT, ZERO
from oms.domain.tokens import TokenBucket
from oms.events import OrderStatus, Side, TimeInForce, VenueAction

__all__ = ["AccountRisk", "OpenOrder", "take_token", "with_fill", "with_order"]


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
    resting: frozenset[str] = frozenset()
    """GTC orders done for the day, keeping their leaves for the next trading day (by order id):
    what a session roll renews and, with `open_orders`, what a mass status asks about."""

    def orders_at_venues(self) -> list[str]:
        """Order ids of the account's orders the venues still hold: open, or resting overnight."""
        return sorted(set(self.open_orders) | self.resting)


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

    While replaces are pending the largest of the current leaves and each
    pending replace's (quantity - cum_qty) counts (a chain of replaces: the
    largest), so an amend in flight is never under-counted."""
    leaves = order.leaves_qty
    for pending in order.chain:
        if pending.kind is VenueAction.REPLACE and pending.quantity is not None:
            leaves = max(leaves, pending.quantity - order.cum_qty)
    entry = None
    if is_live(order) and leaves > 0:
        entry = OpenOrder(order.instrument, order.side, leaves, order.limit_price)
    overnight = order.status is OrderStatus.DONE_FOR_DAY and order.time_in_force is TimeInForce.GTC
    if overnight != (order.order_id in risk.resting):
        risk = replace(risk, resting=risk.resting | {order.order_id} if overnight else risk.resting - {order.order_id})
    old = risk.open_orders.get(order.order_id)
    if old == entry:
        return risk
    open_orders = dict(risk.open_orders)
    open_qty = dict(risk.open_qty)
    with localcontext(EXACT):
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
    with localcontext(EXACT):
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


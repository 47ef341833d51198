"""The account-risk fold (`with_order`, `with_fill`, `with_order_fill`, `evolve_account`) against its
reference: the update written out instrument by instrument, one new account per call.

This module owns the evidence (hypothesis) that the fold replay and the engine
share gives, over random journals of several orders and accounts (acks, partial
fills, amends, cancels, venue ends, busts, corrections, interleaved), exactly the
account risk of the reference fold kept here (`Reference`): every field equal, and
every Decimal, mapping and exposure with the same digits, exponent and key order,
the valuation the checks keep (`valued`) included, over plain and stored
(`OpenOrders`) open orders; and the same over journals of `bench.flow`.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, getcontext, setcontext
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.flow import journal as bench_journal
from oms.domain.orders import Order, is_live
from oms.domain.projection import JournalProjection, evolve_account, next_order
from oms.domain.risk import AccountRisk, Exposure, OpenOrder, OpenOrders, Valuation
from oms.domain.risk._exact import EXACT, ZERO
from oms.events import ExecType, JournalEvent, OrderFillBusted, OrderFilled, OrderStatus, OrderType, Side, TimeInForce
from oms.events import VenueAction
from tests.builders import OrderHarness

_add, _subtract = EXACT.add, EXACT.subtract


class Reference:
    """The account-risk fold as first written: `with_order` and `with_fill` each build a new account
    through `_updated`, which moves the running totals by the instrument's part out and in."""

    @staticmethod
    def moved(total, position, buy, sell, was, now_position, now_buy, now_sell, now) -> Exposure:
        gross, long, short = total
        if was is not None:
            up, down = position + buy, position - sell
            gross -= max(abs(up), abs(down)) * was
            long -= up * was
            short -= down * was
        if now is not None:
            up, down = now_position + now_buy, now_position - now_sell
            gross += max(abs(up), abs(down)) * now
            long += up * now
            short += down * now
        return Exposure(gross, long, short)

    @classmethod
    def updated(cls, risk: AccountRisk, instrument, positions, open_orders, open_qty, marks, open_count):
        position, now_position = risk.positions.get(instrument, ZERO), positions.get(instrument, ZERO)
        buy, sell = risk.open_qty.get(instrument, (ZERO, ZERO))
        now_buy, now_sell = open_qty.get(instrument, (ZERO, ZERO))
        mark, now_mark = risk.marks.get(instrument), marks.get(instrument)
        prior = getcontext()
        setcontext(EXACT)
        try:
            exposure = cls.moved(risk.exposure, position, buy, sell, mark, now_position, now_buy, now_sell, now_mark)
            valued = risk.valued
            if valued is not None:
                listed = valued.prices.get(instrument)
                valued = Valuation(valued.prices, cls.moved(
                    valued.exposure, position, buy, sell, mark if listed is None else listed,
                    now_position, now_buy, now_sell, now_mark if listed is None else listed))
        finally:
            setcontext(prior)
        return AccountRisk(positions, open_orders, open_qty, marks, risk.tokens, risk.last_refill, risk.resting,
                           open_count, exposure, valued)

    @staticmethod
    def bump(open_qty: dict, entry: OpenOrder, sign: int) -> None:
        step = _add if sign > 0 else _subtract
        buy, sell = open_qty.get(entry.instrument, (ZERO, ZERO))
        buy, sell = (step(buy, entry.leaves_qty), sell) if entry.side is Side.BUY else (
            buy, step(sell, entry.leaves_qty))
        if buy or sell:
            open_qty[entry.instrument] = (buy, sell)
        else:  # nothing open on either side: the instrument leaves the mapping
            open_qty.pop(entry.instrument, None)

    @classmethod
    def with_order(cls, risk: AccountRisk, order: Order) -> AccountRisk:
        leaves = order.leaves_qty
        for pending in order.chain:
            if pending.kind is VenueAction.REPLACE and pending.quantity is not None:
                leaves = max(leaves, pending.quantity - order.cum_qty)
        entry = None
        if is_live(order) and leaves > 0:
            entry = OpenOrder(order.instrument, order.side, leaves, order.limit_price)
        overnight = order.status is OrderStatus.DONE_FOR_DAY and order.time_in_force is TimeInForce.GTC
        if overnight != (order.order_id in risk.resting):
            risk = replace(risk, resting=risk.resting | {order.order_id} if overnight
                           else risk.resting - {order.order_id})
        old = risk.open_orders.get(order.order_id)
        if old == entry:
            return risk
        open_orders = risk.open_orders
        if isinstance(open_orders, OpenOrders):
            open_orders = open_orders.with_entry(order.order_id, entry)
        else:
            open_orders = dict(open_orders)
            if entry is None:
                del open_orders[order.order_id]
            else:
                open_orders[order.order_id] = entry
        open_qty = dict(risk.open_qty)
        if old is not None:
            cls.bump(open_qty, old, -1)
        if entry is not None:
            cls.bump(open_qty, entry, 1)
        return cls.updated(risk, (entry or old).instrument, risk.positions, open_orders, open_qty, risk.marks,
                           risk.open_count + (entry is not None) - (old is not None))

    @classmethod
    def with_fill(cls, risk: AccountRisk, instrument: str, side: Side, qty: Decimal, price: Decimal | None = None):
        positions = dict(risk.positions)
        held = positions.get(instrument, ZERO)
        net = _add(held, qty) if side is Side.BUY else _subtract(held, qty)
        if net == 0:
            positions.pop(instrument, None)
        else:
            positions[instrument] = net
        marks = risk.marks if price is None else {**risk.marks, instrument: price}
        return cls.updated(risk, instrument, positions, risk.open_orders, risk.open_qty, marks, risk.open_count)

    @classmethod
    def evolve_account(cls, risk: AccountRisk, before: Order | None, after: Order, event) -> AccountRisk:
        risk = cls.with_order(risk, after)
        if isinstance(event, OrderFilled):
            risk = cls.with_fill(risk, event.instrument, event.side, event.last_qty, event.last_px)
        elif isinstance(event, OrderFillBusted) and before is not None:
            busted = next((f for f in before.fills if f.fill_id == event.ref_fill_id), None)
            if busted is not None:
                risk = cls.with_fill(risk, after.instrument, after.side, -busted.qty, busted.px)
        return risk


def exact(risk: AccountRisk) -> tuple:
    """Every field of `risk` as text: Decimal digits and exponents, mapping key order, the valuation."""
    return (repr(risk.positions), repr(dict(risk.open_orders.items())), repr(risk.open_qty), repr(risk.marks),
            repr(risk.tokens), risk.last_refill, sorted(risk.resting), risk.open_count, repr(risk.exposure),
            repr(risk.valued))


def assert_same(got: AccountRisk, expected: AccountRisk) -> None:
    assert got == expected
    assert got.valued == expected.valued
    assert exact(got) == exact(expected)


def start(valued_at: dict | None, stored: bool) -> AccountRisk:
    """An empty account; its open orders plain or as stored (`OpenOrders` over an empty store); valued
    at `valued_at` (an empty account's exposure is nothing at any price) when given."""
    risk = AccountRisk()
    if stored:
        risk = replace(risk, open_orders=OpenOrders(lambda _: None, lambda: iter(()), 0))
    if valued_at is not None:
        risk = replace(risk, valued=Valuation(valued_at, Exposure(ZERO, ZERO, ZERO)))
    return risk


def fold_both(events: list[JournalEvent], valued_at: dict | None = None, stored: bool = False) -> int:
    """Fold `events` with the projection and with the reference; assert the accounts agree after every
    event. The number of account updates compared."""
    projection = JournalProjection(account_lookup=lambda _: start(valued_at, stored))
    orders: dict[str, Order] = {}
    accounts: dict[str, AccountRisk] = {}
    compared = 0
    for event in events:
        projection.apply(event)
        before = orders.get(event.order_id)
        after = next_order(before, event)
        if after is None:
            continue
        orders[event.order_id] = after
        risk = accounts.get(after.account) or start(valued_at, stored)
        accounts[after.account] = Reference.evolve_account(risk, before, after, event)
        assert_same(projection.accounts[after.account], accounts[after.account])
        assert_same(evolve_account(risk, before, after, event), accounts[after.account])
        compared += 1
    return compared


quantities = st.one_of(st.integers(1, 120).map(D), st.decimals(min_value=D("0.01"), max_value=D("120"), places=2))
prices = st.one_of(st.integers(1, 500).map(D), st.decimals(min_value=D("0.01"), max_value=D("500"), places=2),
                   st.decimals(min_value=D("0.0001"), max_value=D("500"), places=4))
"""Prices with different exponents, so a sum taken in another order would show in its digits."""
ACTIONS = ["ack", "fill", "fill", "fill", "amend", "cancel", "answer", "end", "bust", "correct"]


@st.composite
def order_journals(draw) -> list[OrderHarness]:
    """A few orders (accounts, instruments, sides, limit or market, DAY or GTC), each driven through a
    random mix of venue reports and commands."""
    harnesses = []
    for n in range(draw(st.integers(1, 5))):
        h = OrderHarness()
        kw = {"account": f"ACC-{draw(st.integers(1, 2))}", "instrument": draw(st.sampled_from(["AAA", "BBB"])),
              "side": draw(st.sampled_from(list(Side))), "quantity": draw(quantities),
              "time_in_force": draw(st.sampled_from([TimeInForce.DAY, TimeInForce.GTC]))}
        kw.update({"order_type": OrderType.MARKET} if draw(st.booleans()) else {"limit_price": draw(prices)})
        h.new(f"cl-{n}", **kw)
        for i in range(draw(st.integers(0, 10))):
            action = draw(st.sampled_from(ACTIONS))
            order = h.order
            if action == "ack":
                h.venue_says(ExecType.NEW)
            elif action == "fill":
                leaves = order.quantity - order.cum_qty
                qty = (leaves * draw(st.sampled_from([100, 40, 25, 1])) / 100).quantize(
                    draw(st.sampled_from([D("1"), D("0.01")])))  # whole or to the cent: exponents vary
                if qty > 0:
                    kind = ExecType.FILL if order.cum_qty + qty >= order.quantity else ExecType.PARTIAL_FILL
                    h.venue_says(kind, last_qty=qty, last_px=draw(prices))
            elif action == "amend":
                h.amend(f"a{n}-{i}", quantity=draw(quantities), limit_price=draw(st.none() | prices))
            elif action == "cancel":
                h.cancel(f"c{n}-{i}")
            elif action == "answer" and order.pending is not None:
                yes = draw(st.booleans())
                kind = ExecType.CANCEL_REJECTED if not yes else (
                    ExecType.CANCELED if order.pending.kind is VenueAction.CANCEL else ExecType.REPLACED)
                h.venue_says(kind)
            elif action == "end":
                h.venue_says(draw(st.sampled_from([ExecType.CANCELED, ExecType.EXPIRED, ExecType.DONE_FOR_DAY])))
            elif action == "bust" and order.fills:
                h.venue_says(ExecType.TRADE_BUST, ref_exec_id=draw(st.sampled_from(order.fills)).exec_id)
            elif action == "correct" and order.fills:
                h.venue_says(ExecType.TRADE_CORRECT, ref_exec_id=draw(st.sampled_from(order.fills)).exec_id,
                             last_qty=draw(quantities), last_px=draw(prices))
        harnesses.append(h)
    return harnesses


def interleaved(harnesses: list[OrderHarness], picks: list[int]) -> list[JournalEvent]:
    """The orders' journals interleaved by `picks` (which order gives the next event), each in order."""
    queues = [list(h.journal) for h in harnesses]
    out: list[JournalEvent] = []
    for pick in picks:
        live = [q for q in queues if q]
        if not live:
            break
        out.append(live[pick % len(live)].pop(0))
    for q in queues:
        out += q
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(harnesses=order_journals(), picks=st.lists(st.integers(0, 4), max_size=60),
       valued_at=st.none() | st.dictionaries(st.sampled_from(["AAA", "BBB"]), prices), stored=st.booleans())
def test_the_fold_equals_the_reference_over_random_journals(harnesses, picks, valued_at, stored):
    events = interleaved(harnesses, picks)

    compared = fold_both(events, valued_at, stored)

    assert compared == sum(1 for e in events if e.seq > 0)  # every journal here applies: no gaps, no repeats


@pytest.mark.parametrize("seed", [3, 11])
def test_the_fold_equals_the_reference_over_a_bench_journal(seed):
    events = bench_journal(1500, accounts=3, instruments=4, seed=seed)

    compared = fold_both(events, {"SYM0": D("101.5")}, stored=seed == 11)

    assert compared > 1000


def test_a_fill_after_one_at_a_finer_price_keeps_the_digits_of_the_updates_in_turn():
    h = OrderHarness()
    h.new("cl-1", order_type=OrderType.MARKET, quantity=D(100))
    h.venue_says(ExecType.NEW)
    h.fill(D(40), D("10.1234"))
    h.fill(D("0.5"), D("10"))  # the state between the order's and the fill's update shows in the exponent

    compared = fold_both(h.journal)

    assert compared == 5
    projection = JournalProjection()
    for event in h.journal:
        projection.apply(event)
    assert repr(projection.accounts["ACC-001"].exposure) == (
        "Exposure(gross=Decimal('1000.00000'), long=Decimal('1000.00000'), short=Decimal('405.0000'))")

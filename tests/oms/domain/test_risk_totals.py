"""Tests of the running totals of `oms.domain.risk.AccountRisk` and of the checks that read them.

This module owns the evidence (hypothesis) that the totals the one fold keeps
incrementally (`open_qty`, `open_count`, `exposure`) always equal a
from-scratch recomputation over the open orders, positions and marks, and that
the projected exposure the pre-trade checks derive from them equals the
documented worst case computed instrument by instrument.
"""

from __future__ import annotations

from decimal import Decimal as D
from decimal import localcontext
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from oms.domain.orders import Order
from oms.domain.risk import (
    AccountRisk,
    Controls,
    apply_control,
    check_new,
    exposure_at_marks,
    valuation,
    with_fill,
    with_order,
)
from oms.domain.risk._exact import EXACT
from oms.events import ControlKind, OrderStatus, OrderType, RiskControl, Side, TimeInForce
from tests.builders import ACCOUNT, T0, new_order

NAMES = ["AAA", "BBB", "CCC"]
qty = st.integers(1, 500).map(D)
px = st.integers(1, 20_000).map(lambda n: D(n) / 100)


def order(n: int, instrument: str, side: Side, leaves: D, status: OrderStatus) -> Order:
    return Order(
        order_id=f"O{n}", account=ACCOUNT, trader="t", client_order_id=f"c{n}", instrument=instrument, side=side,
        order_type=OrderType.LIMIT, time_in_force=TimeInForce.DAY, quantity=leaves, limit_price=D(100),
        status=status, cum_qty=D(0), leaves_qty=leaves, avg_px=D(0), venue="XNAS", request_id=f"r{n}",
        pending=None, fills=(), exec_ids=frozenset(), seq=2, ts_last=T0,
    )


steps = st.lists(st.one_of(
    st.tuples(st.just("order"), st.integers(0, 6), st.sampled_from(NAMES), st.sampled_from(list(Side)), qty,
              st.sampled_from([OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
                               OrderStatus.CANCELED])),
    st.tuples(st.just("fill"), st.sampled_from(NAMES), st.sampled_from(list(Side)), qty, st.none() | px),
), max_size=40)


def fold(spec, risk: AccountRisk | None = None, instruments: dict[int, str] | None = None) -> AccountRisk:
    """`risk` (an empty account) with the orders and fills of `spec` folded in; `instruments` (order
    number -> instrument) carries each order's instrument across calls."""
    risk = risk if risk is not None else AccountRisk()
    instruments = instruments if instruments is not None else {}
    for item in spec:
        if item[0] == "order":
            _, n, instrument, side, leaves, status = item
            instrument = instruments.setdefault(n, instrument)  # an order keeps its instrument
            risk = with_order(risk, order(n, instrument, side, leaves, status))
        else:
            _, instrument, side, quantity, price = item
            risk = with_fill(risk, instrument, side, quantity, price)
    return risk


@settings(max_examples=150, deadline=None)
@given(steps)
def test_running_totals_equal_a_recomputation_from_scratch(spec):
    risk = fold(spec)
    open_qty: dict = {}
    for entry in risk.open_orders.values():
        buy, sell = open_qty.get(entry.instrument, (D(0), D(0)))
        open_qty[entry.instrument] = (buy + entry.leaves_qty, sell) if entry.side is Side.BUY else (
            buy, sell + entry.leaves_qty)
    assert risk.open_qty == {k: v for k, v in open_qty.items() if v != (0, 0)}
    assert risk.open_count == len(risk.open_orders)
    assert risk.exposure == exposure_at_marks(risk)


def worst_case(risk: AccountRisk, instrument: str, side: Side, adds: D, prices: dict, own: D) -> tuple[D, D]:
    """The conventions' exposure, instrument by instrument: (gross, net)."""
    gross = long = short = D(0)
    with localcontext(EXACT):
        for name in {*risk.positions, *risk.open_qty, instrument}:
            price = prices.get(name, own if name == instrument else risk.marks.get(name))
            if price is None:
                continue
            buy, sell = risk.open_qty.get(name, (D(0), D(0)))
            if name == instrument:
                buy, sell = (buy + adds, sell) if side is Side.BUY else (buy, sell + adds)
            pos = risk.positions.get(name, D(0))
            up, down = pos + buy, pos - sell
            gross += max(abs(up), abs(down)) * price
            long += up * price
            short += down * price
    return gross, max(abs(long), abs(short))


@settings(max_examples=150, deadline=None)
@given(steps, st.sampled_from(NAMES), st.sampled_from(list(Side)), qty, st.dictionaries(st.sampled_from(NAMES), px))
def test_checks_project_exposure_as_the_worst_case_over_every_instrument(spec, instrument, side, quantity, prices):
    risk = fold(spec)
    gross, net = worst_case(risk, instrument, side, quantity, prices, D(100))
    controls = Controls(defaults={})
    for name, value in (("max_gross_exposure", gross), ("max_net_exposure", net)):
        controls = apply_control(controls, RiskControl(event_id=name, ts_event=T0, ts_init=T0, scope="*",
                                                        kind=ControlKind.LIMIT, name=name, value=str(value),
                                                        changed_by="test"))
    cmd = new_order("p", instrument=instrument, side=side, quantity=quantity, limit_price=D(100))
    at_limit, _ = check_new(cmd, controls, risk, None, None, T0, prices)
    assert [b.code for b in at_limit if "EXPOSURE" in b.code] == []  # inclusive: exactly at the limit passes
    bigger = new_order("q", instrument=instrument, side=side, quantity=quantity + 1, limit_price=D(100))
    over, _ = check_new(bigger, controls, risk, None, None, T0, prices)
    more_gross, more_net = worst_case(risk, instrument, side, quantity + 1, prices, D(100))
    expected = [code for code, bigger_value, limit_value in
                (("MAX_GROSS_EXPOSURE", more_gross, gross), ("MAX_NET_EXPOSURE", more_net, net))
                if bigger_value > limit_value]
    assert [b.code for b in over if "EXPOSURE" in b.code] == expected


def at_prices(risk: AccountRisk, prices: dict) -> tuple[D, D, D]:
    """The account's exposure at `prices` (else marks), instrument by instrument."""
    gross = long = short = D(0)
    with localcontext(EXACT):
        for name in {*risk.positions, *risk.open_qty}:
            price = prices.get(name, risk.marks.get(name))
            if price is None:
                continue
            buy, sell = risk.open_qty.get(name, (D(0), D(0)))
            pos = risk.positions.get(name, D(0))
            up, down = pos + buy, pos - sell
            gross += max(abs(up), abs(down)) * price
            long += up * price
            short += down * price
    return gross, long, short


@settings(max_examples=150, deadline=None)
@given(steps, steps, st.dictionaries(st.sampled_from(NAMES), px, min_size=1), st.dictionaries(st.sampled_from(NAMES), px))
def test_a_valuation_kept_by_the_fold_and_revalued_for_new_prices_equals_one_from_scratch(first, then, old, new):
    risk = fold(first)
    valued = valuation(risk, old)
    assert valued is not None and tuple(valued.exposure) == at_prices(risk, old)
    risk = replace(risk, valued=valued)
    for item in then:  # the fold keeps the valuation in step
        if item[0] == "order":
            _, n, instrument, side, leaves, status = item
            known = risk.open_orders.get(f"O{n}")
            instrument = known.instrument if known is not None else instrument
            risk = with_order(risk, order(n, instrument, side, leaves, status))
        else:
            _, instrument, side, quantity, price = item
            risk = with_fill(risk, instrument, side, quantity, price)
    assert risk.valued is not None and tuple(risk.valued.exposure) == at_prices(risk, old)
    moved = {**old, **new}  # a later mapping: unchanged prices keep their objects
    assert tuple(valuation(risk, moved).exposure) == at_prices(risk, moved)

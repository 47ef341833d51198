"""The post-trade monitor's tables (`processors.risk.live_orders`, `latest_positions`): what they keep,
that a value once read never changes, and that the orders table is the kill switch's whole input."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st
from immutables import Map

from oms.domain.orders import LIVE_STATUSES
from oms.domain.risk import Controls, apply_control, post_trade_actions
from oms.events import ControlKind, OrderStatus, RiskControl
from processors.risk import latest_positions, live_orders
from tests.builders import order_view, position

NOW = 1_700_000_000_000_000_000


def test_a_live_order_is_kept_at_its_latest_view_and_leaves_when_it_ends():
    new = order_view(order_id="O1", status=OrderStatus.NEW, seq=2)
    partial = order_view(order_id="O1", status=OrderStatus.PARTIALLY_FILLED, seq=3)
    filled = order_view(order_id="O1", status=OrderStatus.FILLED, seq=4, leaves_qty=D(0), cum_qty=D(100))
    t1 = live_orders(Map(), new)
    t2 = live_orders(t1, partial)
    t3 = live_orders(t2, filled)
    assert dict(t1) == {"O1": new} and dict(t2) == {"O1": partial} and dict(t3) == {}
    assert dict(t1) == {"O1": new}  # a value read earlier is unchanged by later events


def test_an_order_seen_first_when_it_has_ended_leaves_the_table_as_it_was():
    table = live_orders(Map(), order_view(order_id="O1", status=OrderStatus.NEW))
    after = live_orders(table, order_view(order_id="O2", status=OrderStatus.CANCELED, leaves_qty=D(0)))
    assert after is table


def test_positions_keep_the_latest_per_account_and_instrument():
    first = position(account="A", instrument="AAPL", quantity=D(100))
    second = position(account="A", instrument="AAPL", quantity=D(40))
    other = position(account="B", instrument="AAPL", quantity=D(5))
    table = latest_positions(latest_positions(latest_positions(Map(), first), other), second)
    assert dict(table) == {"A|AAPL": second, "B|AAPL": other}


@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from(list(OrderStatus))), max_size=60))
def test_the_table_is_the_last_view_of_each_order_whose_last_view_is_live(history):
    views = [order_view(order_id=f"O{n}", status=status, seq=i + 1) for i, (n, status) in enumerate(history)]
    table = Map()
    for view in views:
        table = live_orders(table, view)
    last = {}
    for view in views:
        last[view.order_id] = view
    assert dict(table) == {k: v for k, v in last.items() if v.status in LIVE_STATUSES}


@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from(list(OrderStatus))), max_size=40))
def test_the_kill_switch_cancels_the_same_orders_from_the_table_as_from_every_view(history):
    views = [order_view(order_id=f"O{n}", status=status, seq=i + 1) for i, (n, status) in enumerate(history)]
    table, everything = Map(), {}
    for view in views:
        table = live_orders(table, view)
        everything[view.order_id] = view
    killed = apply_control(Controls(), RiskControl(event_id="k", ts_event=NOW, ts_init=NOW, scope="*",
                                                   kind=ControlKind.KILL_SWITCH, name="kill_switch", value="on",
                                                   changed_by="test"))
    from_table = post_trade_actions(killed, table.values(), [], {}, {}, frozenset(), NOW)
    from_all = post_trade_actions(killed, everything.values(), [], {}, {}, frozenset(), NOW)
    assert sorted(c.client_order_id for c in from_table.cancels) == sorted(c.client_order_id for c in from_all.cancels)
    assert from_table.canceled == from_all.canceled
    if any(v.status is OrderStatus.NEW for v in everything.values()):  # the switch is on: it did cancel
        assert from_all.cancels

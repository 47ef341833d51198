"""Tests of `oms.account_state`: an account stored as a summary and one entry per open order.

This module owns the evidence that an account reads back as it was written
(summary and entries), that an update writes the summary and only the entries
it changed, that an order leaving the open orders leaves an empty entry
behind, that a summary written before the split (open orders inline, no
running totals) still loads and moves into entries on the next write, and
that replay's materialized view agrees with the engine's.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from oms import keys
from oms.account_state import account_writes, dump_open_order, load_account_risk, load_open_order, materialized
from oms.domain.orders import Order
from oms.domain.risk import AccountRisk, OpenOrder, OpenOrders, exposure_at_marks, with_fill, with_order
from oms.events import OrderStatus, OrderType, Side, TimeInForce
from oms.state import dump_account
from tests.builders import ACCOUNT, T0


def order(n: int, status: OrderStatus = OrderStatus.NEW, instrument: str = "AAPL") -> Order:
    return Order(
        order_id=f"O{n:04d}", account=ACCOUNT, trader="t", client_order_id=f"c{n}", instrument=instrument,
        side=Side.BUY if n % 2 else Side.SELL, order_type=OrderType.LIMIT, time_in_force=TimeInForce.DAY,
        quantity=D(10 + n), limit_price=D("100.5"), status=status, cum_qty=D(0), leaves_qty=D(10 + n), avg_px=D(0),
        venue="XNAS", request_id=f"r{n}", pending=None, fills=(), exec_ids=frozenset(), seq=2, ts_last=T0,
    )


class Store(dict):
    def scan(self, prefix: str):
        return sorted((k, v) for k, v in self.items() if k.startswith(prefix))

    def write(self, writes) -> None:
        self.update(writes)


def stored(n: int) -> Store:
    risk = with_fill(AccountRisk(), "AAPL", Side.BUY, D(5), D(100))
    for i in range(n):
        risk = with_order(risk, order(i))
    store = Store()
    store.write(account_writes(ACCOUNT, risk))
    return store


def test_an_open_order_entry_round_trips_and_an_empty_one_is_no_order():
    entry = OpenOrder("AAPL", Side.SELL, D("12.5"), None)
    assert load_open_order(dump_open_order(entry)) == entry
    assert dump_open_order(None) == b"" and load_open_order(b"") is None and load_open_order(None) is None


def test_an_account_reads_back_as_written_with_its_open_orders_read_one_by_one():
    store = stored(20)
    risk = load_account_risk(ACCOUNT, store.get, store.scan)
    assert isinstance(risk.open_orders, OpenOrders) and len(risk.open_orders) == 20 == risk.open_count
    assert risk.open_orders["O0003"] == OpenOrder("AAPL", Side.BUY, D(13), D("100.5"))
    assert "O9999" not in risk.open_orders and risk.open_orders.get("O9999") is None
    assert list(risk.open_orders) == [f"O{i:04d}" for i in range(20)]
    assert risk.positions == {"AAPL": D(5)} and risk.exposure == exposure_at_marks(replace(
        risk, open_orders=dict(risk.open_orders)))


def test_an_update_writes_the_summary_and_only_the_entries_it_changed():
    for n in (10, 300):
        store = stored(n)
        risk = load_account_risk(ACCOUNT, store.get, store.scan)
        risk = with_order(with_order(risk, order(n)), order(0, OrderStatus.FILLED))
        writes = dict(account_writes(ACCOUNT, risk))
        assert set(writes) == {keys.account(ACCOUNT), keys.open_order(ACCOUNT, f"O{n:04d}"),
                               keys.open_order(ACCOUNT, "O0000")}
        assert writes[keys.open_order(ACCOUNT, "O0000")] == b""  # no longer open
        store.write(writes.items())
        again = load_account_risk(ACCOUNT, store.get, store.scan)
        assert len(again.open_orders) == n and "O0000" not in again.open_orders and f"O{n:04d}" in again.open_orders
        assert sorted(again.open_orders) == sorted(risk.open_orders)
        assert again.open_qty == risk.open_qty and again.exposure == risk.exposure


def test_a_summary_from_before_the_split_loads_and_moves_its_orders_into_entries():
    risk = with_fill(AccountRisk(), "AAPL", Side.BUY, D(5), D(100))
    risk = with_order(with_order(risk, order(1)), order(2))
    old = dump_account(replace(risk, open_count=0, exposure=exposure_at_marks(AccountRisk())))
    old = old.replace(b'"open_count":0,', b"").replace(b',"exposure":["0","0","0"]', b"")
    assert b"exposure" not in old and b"open_count" not in old
    store = Store({keys.account(ACCOUNT): old})
    loaded = load_account_risk(ACCOUNT, store.get, store.scan)
    assert dict(loaded.open_orders) == dict(risk.open_orders) and loaded.open_count == 2
    assert loaded.exposure == risk.exposure
    store.write(account_writes(ACCOUNT, loaded))
    assert load_open_order(store[keys.open_order(ACCOUNT, "O0001")]) == risk.open_orders["O0001"]
    assert dict(load_account_risk(ACCOUNT, store.get, store.scan).open_orders) == dict(risk.open_orders)


def test_replay_materializes_the_same_account_from_summary_and_entries():
    store = stored(5)
    risk = load_account_risk(ACCOUNT, store.get, store.scan)
    store.write(account_writes(ACCOUNT, with_order(risk, order(2, OrderStatus.CANCELED))))
    prefix = keys.open_orders(ACCOUNT)
    other = keys.open_orders(ACCOUNT + "|X") + "O0001"  # another account whose id extends this one's
    entries = store.scan(prefix) + [(other, dump_open_order(OpenOrder("MSFT", Side.BUY, D(1), None)))]
    live = materialized(ACCOUNT, store[keys.account(ACCOUNT)], entries)
    assert isinstance(live.open_orders, dict) and set(live.open_orders) == {"O0000", "O0001", "O0003", "O0004"}
    assert live == load_account_risk(ACCOUNT, store.get, store.scan)

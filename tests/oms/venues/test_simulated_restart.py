"""Tests of the simulated exchange's honesty about itself: exec ids unique across restarts (the
session prefix), the kept book (`state_dir` / an injected store) and the lost one, `mass_status`
and the rest of the adapter contract (`connected`, `poll`, `close`). Stores: the in-memory one and
RocksDB (`oms.state`), both."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from oms.events import ExecType, OrderRejectReason, OrderStatus, VenueAction
from oms.state import MemoryStore, RocksStore
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig
from tests.builders import GATEWAY_T0 as T0, numbered_request, xyz_quote

VENUE = "SIM-A"
MS = 1_000_000
DAY_MS = 86_400_000 * MS


def cancel(n: int, of: int):
    return numbered_request(of, action=VenueAction.CANCEL, request_id=f"cxl-{n}", orig_request_id=f"req-{of}",
                            event_id=f"vr-cxl-{n}")


@pytest.fixture(params=["memory", "rocksdb"])
def store_factory(request, tmp_path):
    """A function giving the store of one venue: the same one again after a 'restart'."""
    if request.param == "memory":
        store = MemoryStore()
        return lambda: store
    return lambda: RocksStore(tmp_path / "book")


def test_exec_ids_carry_the_session_of_the_start_time_so_a_restart_never_repeats_them():
    first = SimulatedExchange(VENUE, 1, started_ns=T0)
    again = SimulatedExchange(VENUE, 1, started_ns=T0 + 5 * MS)  # restarted, book lost

    a = first.submit(numbered_request(1), T0)
    b = again.submit(numbered_request(1), T0 + 5 * MS)

    assert a[0].exec_id != b[0].exec_id
    assert a[0].venue_order_id != b[0].venue_order_id
    assert a[0].exec_id.startswith(f"{VENUE}-{first.session}-") and first.session != again.session
    assert again.restored == 0 and not again.keeps_book


def test_without_started_ns_the_ids_keep_the_deterministic_test_format():
    ex = SimulatedExchange(VENUE, 1)
    [ack] = ex.submit(numbered_request(1), T0)
    assert (ack.exec_id, ack.venue_order_id, ex.session) == (f"{VENUE}-1", f"{VENUE}-O1", None)


def test_a_restart_without_a_store_starts_empty_and_says_so():
    ex = SimulatedExchange(VENUE, 1, started_ns=T0)
    ex.submit(numbered_request(1), T0)
    restarted = SimulatedExchange(VENUE, 1, started_ns=T0 + DAY_MS)
    [status] = restarted.status(numbered_request(1, action=VenueAction.STATUS, request_id="st-1"), T0 + DAY_MS)

    assert restarted.open_orders() == [] and restarted.fills() == [] and restarted.restored == 0
    assert (status.order_status, status.ord_rej_reason) == (OrderStatus.REJECTED, OrderRejectReason.UNKNOWN_ORDER)


def test_a_restart_with_a_store_keeps_working_orders_fills_answers_and_counters(store_factory):
    ex = SimulatedExchange(VENUE, 1, started_ns=T0, store=store_factory())
    ex.on_quote(xyz_quote(ask_size=D("40")), T0)
    first = ex.submit(numbered_request(1), T0)  # 40 of 150 fill, the rest rests
    ex.submit(numbered_request(2), T0)  # rests (no liquidity left)
    ex.submit(numbered_request(3), T0)
    ex.cancel(cancel(1, of=3), T0 + MS)
    exec_ids = {r.exec_id for r in ex.fills()} | {r.exec_id for r in first}
    ex.close()

    restarted = SimulatedExchange(VENUE, 1, started_ns=T0 + DAY_MS, store=store_factory())

    assert restarted.restored == 3 and restarted.keeps_book
    assert [o.order_id for o in restarted.open_orders()] == ["ORD-1", "ORD-2"]
    assert [(o.cum_qty, o.leaves_qty) for o in restarted.open_orders()] == [(D(40), D(110)), (D(0), D(150))]
    assert [r.exec_id for r in restarted.fills()] == [r.exec_id for r in ex.fills()]
    # a replayed request gets its first answer again: same exec ids, no second order
    assert restarted.submit(numbered_request(1), T0 + DAY_MS) == first
    # the canceled order is known as canceled; its cancel cannot be repeated as a new one
    [status] = restarted.status(numbered_request(3, action=VenueAction.STATUS, request_id="st-3"), T0 + DAY_MS)
    assert status.order_status is OrderStatus.CANCELED
    # counters continue: nothing new repeats an old exec id, and the book still matches
    later = restarted.on_quote(xyz_quote(ask_size=D("500"), event_id="q-2"), T0 + DAY_MS)
    assert [r.exec_type for r in later] == [ExecType.FILL, ExecType.FILL]
    assert not exec_ids & {r.exec_id for r in later}
    assert restarted.open_orders() == []
    restarted.close()


def test_a_store_keeps_busts_so_a_bust_of_a_restored_fill_applies_once(store_factory):
    ex = SimulatedExchange(VENUE, 1, started_ns=T0, store=store_factory())
    ex.on_quote(xyz_quote(ask_size=D("40")), T0)
    fill = ex.submit(numbered_request(1), T0)[-1]
    ex.bust(fill.exec_id, T0 + MS)
    ex.close()

    restarted = SimulatedExchange(VENUE, 1, started_ns=T0 + DAY_MS, store=store_factory())

    [order] = restarted.open_orders()
    assert order.cum_qty == 0
    with pytest.raises(ValueError, match="already busted"):
        restarted.bust(fill.exec_id, T0 + DAY_MS)


def test_state_dir_in_the_config_keeps_the_book_in_rocksdb(tmp_path):
    config = SimulatedVenueConfig(state_dir=tmp_path)
    ex = SimulatedExchange(VENUE, 1, config, started_ns=T0)
    ex.submit(numbered_request(1), T0)
    ex.close()

    restarted = SimulatedExchange(VENUE, 1, config, started_ns=T0 + MS)

    assert [o.order_id for o in restarted.open_orders()] == ["ORD-1"]
    assert (tmp_path / VENUE).is_dir()
    restarted.close()


def test_mass_status_reports_every_working_order_and_changes_nothing():
    ex = SimulatedExchange(VENUE, 1, started_ns=T0)
    ex.on_quote(xyz_quote(ask_size=D("40")), T0)
    ex.submit(numbered_request(1), T0)
    ex.submit(numbered_request(2), T0)
    ex.submit(numbered_request(3), T0)
    ex.cancel(cancel(1, of=2), T0)
    before = ex.open_orders()

    reports = ex.mass_status(T0 + MS)

    assert [(r.exec_type, r.order_id, r.order_status, r.cum_qty) for r in reports] == [
        (ExecType.ORDER_STATUS, "ORD-1", OrderStatus.PARTIALLY_FILLED, D(40)),
        (ExecType.ORDER_STATUS, "ORD-3", OrderStatus.NEW, D(0)),
    ]
    assert ex.open_orders() == before


def test_the_simulator_is_always_connected_and_has_nothing_asynchronous():
    ex = SimulatedExchange(VENUE, 1, started_ns=T0, store=MemoryStore())
    assert ex.connected() is True and ex.poll(T0) == []
    ex.close()
    ex.close()  # twice is harmless
    assert not ex.keeps_book


def test_a_negative_start_time_is_refused():
    with pytest.raises(ValueError, match="started_ns"):
        SimulatedExchange(VENUE, 1, started_ns=-1)

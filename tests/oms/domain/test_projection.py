"""Tests of `oms.domain.projection`: the one journal fold, equal to what the engine step holds.

The engine step is driven through a life of orders (accept, ack, fills, a
bust, a correction, a denial, a repeated command); folding only the journal it wrote
with `JournalProjection` must give back the same orders and the same account
risk (all but the throttle bucket), and the positions the position fold gives.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from oms import ids, keys
from oms.domain.engine import RiskView, step
from oms.domain.orders import SequenceError
from oms.domain.positions import fold_positions
from oms.domain.projection import JournalProjection, fold_control, next_order, position_key
from oms.domain.risk import AccountRisk, Controls
from oms.events import ControlKind, ExecType, OrderStatus, OrderType, Side
from oms.routing import StaticRouter
from tests import builders
from tests.builders import EngineHarness as Engine

T0 = builders.T0


def report(order_id: str, request_id: str, n: int, exec_type: ExecType, **fields):
    return builders.execution_report(
        event_id=f"X-{n}", exec_id=f"X-{n}", order_id=order_id, request_id=request_id, exec_type=exec_type,
        ts_event=T0 + n, ts_init=T0 + n, **fields)


def _life() -> Engine:
    engine = Engine(Controls(limits={"*": {"max_order_qty": D(500)}}))
    engine(builders.new_order(client_order_id="a", quantity=D(100)))
    engine(builders.new_order(client_order_id="b", quantity=D(50), side=Side.SELL, instrument="MSFT",
                           order_type=OrderType.MARKET, limit_price=None))
    engine(builders.new_order(client_order_id="big", quantity=D(1000)))  # denied by pre-trade risk
    engine(builders.new_order(client_order_id="a", quantity=D(100), event_id="cmd-again"))  # a repeat: seq 0
    a, b = ids.order_id(builders.ACCOUNT, "a"), ids.order_id(builders.ACCOUNT, "b")
    ra = next(r.request_id for r in engine.requests if r.order_id == a)
    rb = next(r.request_id for r in engine.requests if r.order_id == b)
    engine(report(a, ra, 1, ExecType.NEW, order_status=OrderStatus.NEW, last_qty=D(0), last_px=D(0), cum_qty=D(0),
                  leaves_qty=D(100), avg_px=D(0)))
    engine(report(a, ra, 2, ExecType.PARTIAL_FILL, last_qty=D(40), last_px=D("187.24"), cum_qty=D(40),
                  leaves_qty=D(60), avg_px=D("187.24")))
    engine(report(a, ra, 3, ExecType.PARTIAL_FILL, last_qty=D(10), last_px=D("187.20"), cum_qty=D(50),
                  leaves_qty=D(50), avg_px=D("187.232")))
    engine(report(a, ra, 4, ExecType.TRADE_BUST, ref_exec_id="X-3", last_qty=D(0), last_px=D(0), cum_qty=D(40),
                  leaves_qty=D(60), avg_px=D("187.24")))
    engine(report(a, ra, 5, ExecType.TRADE_CORRECT, ref_exec_id="X-2", last_qty=D(30), last_px=D("187.30"),
                  cum_qty=D(30), leaves_qty=D(70), avg_px=D("187.30")))
    engine(report(b, rb, 6, ExecType.NEW, order_status=OrderStatus.NEW, side=Side.SELL, instrument="MSFT",
                  order_qty=D(50), last_qty=D(0), last_px=D(0), cum_qty=D(0), leaves_qty=D(50), avg_px=D(0)))
    engine(report(b, rb, 7, ExecType.FILL, order_status=OrderStatus.FILLED, side=Side.SELL, instrument="MSFT",
                  order_qty=D(50), last_qty=D(50), last_px=D("411.5"), cum_qty=D(50), leaves_qty=D(0),
                  avg_px=D("411.5")))
    return engine


def _fold(journal) -> JournalProjection:
    projection = JournalProjection()
    for event in journal:
        projection.apply(event)
    return projection


def test_the_journal_fold_gives_back_the_engine_orders_and_accounts():
    engine = _life()
    projection = _fold(engine.journal)
    assert projection.orders == engine.orders
    [account] = engine.accounts
    live, replayed = engine.accounts[account], projection.accounts[account]
    assert replace(live, tokens=replayed.tokens, last_refill=replayed.last_refill) == replayed
    assert live.positions == {builders.INSTRUMENT: D(40), "MSFT": D(-50)}  # 40 + 10, bust -10; a correction moves none
    assert set(live.open_orders) == {ids.order_id(builders.ACCOUNT, "a")}
    assert projection.anomalies == 0 and projection.events == len(engine.journal)


def test_positions_follow_the_position_fold_under_the_position_keys():
    engine = _life()
    projection = _fold(engine.journal)
    expected = {keys.position_id(*key): state for key, state in fold_positions(engine.journal).items()}
    assert projection.positions == expected
    assert {position_key(e) for e in engine.journal if position_key(e)} == set(expected)


def test_a_child_orders_fill_moves_no_position_and_its_parents_fill_moves_it_once():
    parent = builders.order_filled()
    child = builders.order_filled(order_id=ids.child_order_id(parent.order_id, 1))
    assert position_key(parent) == keys.position_id(parent.account, parent.instrument)
    assert position_key(child) is None  # the live position manager and replay share this rule


def test_events_already_applied_and_seq_zero_records_are_skipped():
    engine = _life()
    once = _fold(engine.journal)
    twice = _fold(engine.journal + engine.journal)
    assert (twice.orders, twice.accounts, twice.positions) == (once.orders, once.accounts, once.positions)
    denied = next(e for e in engine.journal if e.seq == 0)
    assert next_order(None, denied) is None


def test_a_gap_raises_after_the_positions_moved():
    engine = _life()
    fills = [e for e in engine.journal if type(e).__name__ == "OrderFilled"]
    projection = JournalProjection()
    with pytest.raises(SequenceError):
        projection.apply(fills[0])
    assert projection.positions and not projection.orders


def test_the_engine_keeps_no_positions_and_the_throttle_is_its_own():
    engine = _life()
    assert all(isinstance(a, AccountRisk) for a in engine.accounts.values())
    projection = JournalProjection(project_positions=False, project_accounts=False)
    for event in engine.journal:
        projection.apply(event)
    assert projection.positions == {} and projection.accounts == {} and projection.orders == engine.orders


def test_fold_control_applies_risk_controls_and_ignores_other_events():
    control = builders.risk_control(kind=ControlKind.KILL_SWITCH, scope="*", name="all", value="on")
    assert fold_control(Controls(), control).kill == {"*": True}
    assert fold_control(Controls(), builders.quote()) == Controls()
    with pytest.raises(ValueError):
        fold_control(Controls(), builders.risk_control(kind=ControlKind.KILL_SWITCH, value="maybe"))

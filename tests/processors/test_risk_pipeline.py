"""Risk end to end on a real broker: limits, trading states and the kill switch change live through
`risk.controls`, and the engine and post-trade risk act on them."""

from __future__ import annotations

import time

import pytest

from oms import ids
from oms.events import ControlKind, OrderCanceled, OrderCancelRejected, OrderDenied, OrderStatus, RiskControl
from tests.pipeline import Pipeline

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def pipeline(bootstrap_servers, tmp_path_factory):
    from uuid import uuid4

    p = Pipeline.start(bootstrap_servers, f"r{uuid4().hex[:8]}.", tmp_path_factory.mktemp("oms"))
    yield p
    p.stop()


def control(p: Pipeline, scope: str, kind: ControlKind, name: str, value: str) -> None:
    now = time.time_ns()
    event = RiskControl(event_id=f"rc.{now}", ts_event=now, ts_init=now, scope=scope, kind=kind, name=name,
                        value=value, changed_by="test", reason="test")
    sender = p.rt.event_producer()
    sender.send(p.rt.topics.risk_controls, f"{scope}|{kind.value}|{name}", event)
    sender.flush()
    time.sleep(1.0)  # the engine follows risk.controls as a global table


def _status(p, account, cl):
    view = p.views["orders"].latest.get(ids.order_id(account, cl))
    return None if view is None else view.status


def test_a_limit_set_live_denies_a_breaching_order_and_nothing_reaches_the_venue(pipeline):
    p = pipeline
    control(p, "RISK-1", ControlKind.LIMIT, "max_order_qty", "100")
    p.client.new_order(account="RISK-1", client_order_id="big", instrument="AAPL", side="BUY", quantity="101",
                       limit_price="1.00")
    p.client.new_order(account="RISK-1", client_order_id="ok", instrument="AAPL", side="BUY", quantity="100",
                       limit_price="1.00")
    p.client.flush()
    p.wait(lambda: _status(p, "RISK-1", "ok") is OrderStatus.NEW, 60, "the order at the limit to rest")
    p.wait(lambda: _status(p, "RISK-1", "big") is OrderStatus.REJECTED, 60, "the breaching order's denial")

    big = ids.order_id("RISK-1", "big")
    (denied,) = [e for e in p.journal(big) if isinstance(e, OrderDenied)]
    assert denied.reason_code == "MAX_ORDER_QTY" and "101" in denied.reason and "100" in denied.reason
    requests = p.rt.event_consumer(f"{p.rt.topics.prefix}chk", "t", deadletter=False)
    from streams.kafka import read_all

    try:
        sent = [r.event.order_id for r in read_all(requests, [p.rt.topics.venue_requests], timeout=10)]
    finally:
        requests.close()
    assert big not in sent and ids.order_id("RISK-1", "ok") in sent


def test_halted_account_only_cancels_pass(pipeline):
    p = pipeline
    p.client.new_order(account="RISK-2", client_order_id="rest", instrument="MSFT", side="BUY", quantity="10",
                       limit_price="1.00")
    p.client.flush()
    p.wait(lambda: _status(p, "RISK-2", "rest") is OrderStatus.NEW, 60, "the resting order")

    control(p, "RISK-2", ControlKind.TRADING_STATE, "state", "HALTED")
    p.client.new_order(account="RISK-2", client_order_id="new-while-halted", instrument="MSFT", side="BUY",
                       quantity="10", limit_price="1.00")
    p.client.amend(account="RISK-2", client_order_id="amend-while-halted", orig_client_order_id="rest",
                   quantity="20")
    p.client.cancel(account="RISK-2", client_order_id="cancel-while-halted", orig_client_order_id="rest")
    p.client.flush()

    p.wait(lambda: _status(p, "RISK-2", "rest") is OrderStatus.CANCELED, 60, "the cancel to pass")
    p.wait(lambda: _status(p, "RISK-2", "new-while-halted") is OrderStatus.REJECTED, 60, "the new order's denial")
    denied = [e for e in p.journal(ids.order_id("RISK-2", "new-while-halted")) if isinstance(e, OrderDenied)]
    assert denied[0].reason_code == "TRADING_HALTED"
    rest = ids.order_id("RISK-2", "rest")
    rejects = [e for e in p.journal(rest) if isinstance(e, OrderCancelRejected)]
    assert rejects and rejects[0].reason_code == "TRADING_HALTED"
    view = p.views["orders"].latest[rest]
    assert view.quantity == 10  # the amend left the order as it was


def test_kill_switch_cancels_open_orders_at_the_venue_and_blocks_new_ones(pipeline):
    p = pipeline
    for n in range(3):
        p.client.new_order(account="RISK-3", client_order_id=f"open-{n}", instrument="AAPL", side="BUY",
                           quantity="5", limit_price="1.00", time_in_force="GTC")
    p.client.flush()
    p.wait(lambda: all(_status(p, "RISK-3", f"open-{n}") is OrderStatus.NEW for n in range(3)), 60, "open orders")

    control(p, "RISK-3", ControlKind.KILL_SWITCH, "kill_switch", "on")
    p.wait(lambda: all(_status(p, "RISK-3", f"open-{n}") is OrderStatus.CANCELED for n in range(3)), 60,
           "the kill switch to cancel every open order")
    for n in range(3):
        canceled = [e for e in p.journal(ids.order_id("RISK-3", f"open-{n}")) if isinstance(e, OrderCanceled)]
        assert canceled and not canceled[0].unsolicited  # canceled at the venue on our request

    p.client.new_order(account="RISK-3", client_order_id="after-kill", instrument="AAPL", side="BUY",
                       quantity="5", limit_price="1.00")
    p.client.flush()
    p.wait(lambda: _status(p, "RISK-3", "after-kill") is OrderStatus.REJECTED, 60, "the denial after the kill")
    denied = [e for e in p.journal(ids.order_id("RISK-3", "after-kill")) if isinstance(e, OrderDenied)]
    assert denied[0].reason_code == "KILL_SWITCH"

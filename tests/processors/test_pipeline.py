"""The order lifecycle end to end on a real broker: engine, venue, fills, positions, bad input."""

from __future__ import annotations

import io
from decimal import Decimal

import fastavro
import pytest

from oms import ids
from oms.events import (
    ExecType,
    ExecutionReport,
    OrderAnomaly,
    OrderCanceled,
    OrderDenied,
    OrderReplaced,
    OrderStatus,
    Side,
)
from schemas import load_catalogue
from tests.pipeline import Pipeline

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def pipeline(bootstrap_servers, tmp_path_factory):
    from uuid import uuid4

    p = Pipeline.start(bootstrap_servers, f"p{uuid4().hex[:8]}.", tmp_path_factory.mktemp("oms"))
    yield p
    p.stop()


def _status(p: Pipeline, account: str, client_order_id: str):
    view = p.views["orders"].latest.get(ids.order_id(account, client_order_id))
    return None if view is None else view.status


def test_market_order_fills_once_and_moves_the_position(pipeline):
    p = pipeline
    p.client.new_order(account="ACC-1", client_order_id="m-1", instrument="AAPL", side="BUY", quantity="50")
    p.client.flush()
    order_id = ids.order_id("ACC-1", "m-1")

    p.wait(lambda: _status(p, "ACC-1", "m-1") is OrderStatus.FILLED, 90, "the market order to fill")
    p.wait(lambda: "ACC-1|AAPL" in p.views["positions"].latest, 30, "the position")

    fills = [f for f in p.views["fills"].all if f.order_id == order_id]
    assert sum(f.quantity for f in fills) == Decimal(50)
    assert len({f.fill_id for f in fills}) == len(fills)
    assert p.views["positions"].latest["ACC-1|AAPL"].quantity == Decimal(50)
    seqs = [e.seq for e in p.journal(order_id) if e.seq > 0]
    assert seqs == list(range(1, len(seqs) + 1))


def test_resting_limit_is_amended_then_canceled(pipeline):
    p = pipeline
    p.client.new_order(account="ACC-2", client_order_id="l-1", instrument="MSFT", side="BUY", quantity="100",
                       limit_price="1.00", time_in_force="GTC")
    p.client.flush()
    p.wait(lambda: _status(p, "ACC-2", "l-1") is OrderStatus.NEW, 60, "the limit order to rest")

    p.client.amend(account="ACC-2", client_order_id="l-1a", orig_client_order_id="l-1", quantity="150",
                   limit_price="1.05")
    p.client.flush()
    order_id = ids.order_id("ACC-2", "l-1")
    # the journal and the orders view come from one transaction but are read by two consumers: wait for both
    p.wait(lambda: any(isinstance(e, OrderReplaced) for e in p.journal(order_id))
           and p.views["orders"].latest[order_id].quantity == Decimal(150), 60, "the replace")
    view = p.views["orders"].latest[order_id]
    assert (view.quantity, view.limit_price, view.status) == (Decimal(150), Decimal("1.05"), OrderStatus.NEW)

    p.client.cancel(account="ACC-2", client_order_id="l-1c", orig_client_order_id="l-1")
    p.client.flush()
    p.wait(lambda: _status(p, "ACC-2", "l-1") is OrderStatus.CANCELED, 60, "the cancel")
    assert any(isinstance(e, OrderCanceled) and not e.unsolicited for e in p.journal(order_id))


def test_repeated_client_order_id_is_denied_not_a_second_order(pipeline):
    p = pipeline
    for _ in range(2):
        p.client.new_order(account="ACC-3", client_order_id="d-1", instrument="AAPL", side="SELL",
                           quantity="10", limit_price="999.00")
    p.client.flush()
    order_id = ids.order_id("ACC-3", "d-1")
    p.wait(lambda: any(isinstance(e, OrderDenied) for e in p.journal(order_id)), 60, "the denial")
    denied = [e for e in p.journal(order_id) if isinstance(e, OrderDenied)]
    assert denied[0].reason_code == "DUPLICATE_CLIENT_ORDER_ID" and denied[0].seq == 0
    assert sum(1 for e in p.journal(order_id) if type(e).__name__ == "OrderAccepted") == 1


def test_command_that_decodes_but_is_invalid_is_denied_with_a_reason(pipeline):
    p = pipeline
    entry = load_catalogue()["oms.NewOrder"]
    record = {
        "event_id": "bad-1", "ts_event": 1, "ts_init": 1, "account": "ACC-4", "trader": "t",
        "client_order_id": "z-1", "instrument": "AAPL", "side": "BUY", "order_type": "LIMIT",
        "quantity": Decimal(0), "limit_price": Decimal("10"), "time_in_force": "DAY", "venue": None,
    }
    body = io.BytesIO()
    fastavro.schemaless_writer(body, entry.parsed, record)
    producer = p.rt.producer()
    producer.produce(p.rt.topics.commands, key=b"ACC-4", value=b"\xc3\x01" + entry.fingerprint + body.getvalue())
    producer.flush()

    order_id = ids.order_id("ACC-4", "z-1")
    p.wait(lambda: p.journal(order_id), 60, "the denial")
    (denied,) = p.journal(order_id)
    assert isinstance(denied, OrderDenied) and denied.reason_code == "INVALID_COMMAND"
    assert "quantity" in denied.reason


def test_undecodable_bytes_are_dead_lettered_and_the_engine_goes_on(pipeline):
    p = pipeline
    producer = p.rt.producer()
    producer.produce(p.rt.topics.commands, key=b"ACC-5", value=b"\x00garbage")
    producer.flush()
    p.client.new_order(account="ACC-5", client_order_id="after-1", instrument="AAPL", side="BUY",
                       quantity="1", limit_price="1.00")
    p.client.flush()

    p.wait(lambda: _status(p, "ACC-5", "after-1") is OrderStatus.NEW, 60, "the next order")
    letters = [d for d in p.views["deadletter"].all if d.source_topic == p.rt.topics.commands]
    assert letters and letters[-1].value == b"\x00garbage" and letters[-1].offset >= 0
    assert "magic" in letters[-1].error or "single-object" in letters[-1].error


def test_report_for_unknown_order_is_journaled_as_an_anomaly(pipeline):
    p = pipeline
    report = ExecutionReport(
        event_id="SIM-ghost-1", ts_event=1, ts_init=1, venue="SIM", account="ACC-6", order_id="Oghost",
        request_id="Oghost.2", exec_id="SIM-ghost-1", exec_type=ExecType.FILL, order_status=OrderStatus.FILLED,
        instrument="AAPL", side=Side.BUY, order_qty=Decimal(5), last_qty=Decimal(5), last_px=Decimal(100),
        cum_qty=Decimal(5), leaves_qty=Decimal(0), avg_px=Decimal(100),
    )
    sender = p.rt.event_producer()
    sender.send(p.rt.topics.exec_reports, "ACC-6", report)
    sender.flush()
    p.wait(lambda: p.journal("Oghost"), 60, "the anomaly")
    (anomaly,) = p.journal("Oghost")
    assert isinstance(anomaly, OrderAnomaly) and anomaly.reason_code == "UNKNOWN_ORDER"
    assert not [f for f in p.views["fills"].all if f.order_id == "Oghost"]


def _partition_of(rt, topic: str, key: str) -> int:
    reader = rt.reader()
    try:
        reader.assign(topic, skip_empty=True)
        return next(r.partition for r in reader.records(idle_timeout=10) if r.text_key == key)
    finally:
        reader.close()


def _verified(p: Pipeline, attempts: int = 10):
    """`verify_all` once the pipeline is quiet (views and changelog caught up with the journal)."""
    import time

    from replay.journal import verify_all

    report = None
    for _ in range(attempts):
        report = verify_all(p.rt, timeout=10)
        if report.ok:
            return report
        time.sleep(2)
    return report


def test_replay_verifies_orders_positions_accounts_and_controls_and_finds_tampering(pipeline):
    """Runs last: it writes forged records into the engine's changelog."""
    from dataclasses import replace

    from oms import keys
    from oms.domain.risk import Controls
    from oms.events import ControlKind, RiskControl
    from oms.state import ControlsSnapshot, dump_account, dump_controls
    from replay.journal import live_engine_state, verify_all

    p = pipeline
    control = RiskControl(event_id="ctl-verify", ts_event=1, ts_init=1, scope="*", kind=ControlKind.LIMIT,
                          name="max_order_qty", value="1000000", changed_by="tester", reason="verify")
    producer = p.rt.event_producer()
    producer.send(p.rt.topics.risk_controls, keys.control("*", "LIMIT", "max_order_qty"), control)
    producer.flush()
    p.wait(lambda: True, 5, "the engine's controls table to follow")  # refresh the views meanwhile
    import time

    time.sleep(2)
    p.client.new_order(account="VER-1", client_order_id="v-rest", instrument="AAPL", side="BUY", quantity="5",
                       limit_price="1.00")
    p.client.new_order(account="VER-1", client_order_id="v-fill", instrument="MSFT", side="BUY", quantity="7")
    p.client.flush()
    p.wait(lambda: _status(p, "VER-1", "v-rest") is OrderStatus.NEW, 60, "the resting order")
    p.wait(lambda: _status(p, "VER-1", "v-fill") is OrderStatus.FILLED, 90, "the market order to fill")
    p.wait(lambda: "VER-1|MSFT" in p.views["positions"].latest, 30, "the position")

    report = _verified(p)
    assert report.ok, report.differences[:10]
    assert report.orders >= 2 and report.positions >= 1 and report.accounts >= 1 and report.controls >= 1
    engine = live_engine_state(p.rt, timeout=10)
    live = engine.accounts["VER-1"]
    assert live.positions == {"MSFT": Decimal(7)} and set(live.open_orders) == {ids.order_id("VER-1", "v-rest")}
    assert any(s.controls.limits.get("*", {}).get("max_order_qty") == Decimal(1000000)
               for s in engine.controls.values())

    # a forged account risk record in the engine's changelog is found
    partition = _partition_of(p.rt, p.rt.topics.journal, "VER-1")
    forged = replace(live, positions={"MSFT": Decimal(70)})
    raw = p.rt.producer()
    raw.produce(p.rt.topics.engine_state, key=keys.account("VER-1").encode(), value=dump_account(forged),
                partition=partition)
    raw.flush(10)
    report = verify_all(p.rt, timeout=10)
    assert [(d.kind, d.key, d.field) for d in report.differences] == [("account", "VER-1", "positions")]
    assert report.differences[0].live == {"MSFT": Decimal(70)}

    # so is a snapshot of controls the risk.controls log never held
    snapshot = engine.controls[partition]
    killed = ControlsSnapshot(snapshot.offsets, replace(snapshot.controls, kill={"*": True}), snapshot.applied)
    raw.produce(p.rt.topics.engine_state, key=keys.controls_snapshot().encode(), value=dump_controls(killed),
                partition=partition)
    raw.produce(p.rt.topics.engine_state, key=keys.account("VER-1").encode(), value=dump_account(live),
                partition=partition)
    raw.flush(10)
    report = verify_all(p.rt, timeout=10)
    assert [(d.kind, d.field) for d in report.differences] == [("controls", "kill")]
    assert report.differences[0].live == {"*": True} and report.differences[0].replayed == Controls().kill

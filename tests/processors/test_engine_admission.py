"""The order engine's handler admits on each input topic only that topic's event types: a forged
execution report on `commands` or an order on `exec.reports` is dead-lettered, never applied."""

from __future__ import annotations

import io
from decimal import Decimal as D

import fastavro

from oms.clock import TestClock
from oms.events import DeadLetter, ExecType, JournalEvent, NewOrder, OrderAccepted, OrderDenied
from oms.routing import StaticRouter
from oms.state import MemoryStore
from processors.engine import OrderEngine
from schemas import load_catalogue
from streams.codec import SingleObjectCodec
from streams.processor import PartitionState
from streams.records import Record
from streams.topics import Topics
from tests.builders import execution_report, new_order

TOPICS = Topics("t.")
CODEC = SingleObjectCodec()


def handle(topic: str, value: bytes, offset: int = 5, state: PartitionState | None = None):
    engine = OrderEngine(TOPICS, CODEC, StaticRouter("SIM"), TestClock(1_700_000_000_000_000_000))
    state = state or PartitionState(MemoryStore(), 0, {})
    outputs = engine(state, Record(topic, 0, offset, b"ACC-1", value, 1_700_000_000_000))
    return outputs, state


def only_dead_letter(outputs, state, topic: str, reason: str) -> DeadLetter:
    assert [t for t, _, _ in outputs] == [TOPICS.deadletter]
    letter = outputs[0][2]
    assert isinstance(letter, DeadLetter)
    assert (letter.source_topic, letter.partition, letter.offset) == (topic, 0, 5)
    assert reason in letter.error
    assert state.written == []  # nothing applied
    return letter


def test_an_execution_report_on_commands_is_dead_lettered_not_booked():
    report = execution_report(exec_type=ExecType.FILL, last_qty=D("100"), last_px=D("187.00"))
    outputs, state = handle(TOPICS.commands, CODEC.encode(TOPICS.commands, report))
    only_dead_letter(outputs, state, TOPICS.commands, "ExecutionReport is not admitted on commands")


def test_a_new_order_on_exec_reports_is_dead_lettered_not_opened():
    order = new_order(account="ACC-1")
    outputs, state = handle(TOPICS.exec_reports, CODEC.encode(TOPICS.exec_reports, order))
    only_dead_letter(outputs, state, TOPICS.exec_reports, "NewOrder is not admitted on exec.reports")


def test_an_invalid_order_on_exec_reports_is_dead_lettered_not_answered_on_the_journal():
    order = new_order(account="ACC-1")
    framed = CODEC.encode(TOPICS.commands, order)
    body = io.BytesIO()
    fastavro.schemaless_writer(body, load_catalogue()[NewOrder.schema_name].parsed,
                               {**order.to_record(), "quantity": D(0)})
    invalid = framed[:10] + body.getvalue()  # same schema fingerprint, a quantity the model refuses

    outputs, _ = handle(TOPICS.commands, invalid)
    assert [type(e) for _, _, e in outputs] == [OrderDenied]  # on its own topic: refused with a reason

    outputs, state = handle(TOPICS.exec_reports, invalid)
    only_dead_letter(outputs, state, TOPICS.exec_reports, "NewOrder is not admitted on exec.reports")


def test_a_new_order_on_commands_is_still_accepted():
    order = new_order(account="ACC-1")
    outputs, state = handle(TOPICS.commands, CODEC.encode(TOPICS.commands, order))
    journal = [e for t, _, e in outputs if t == TOPICS.journal]
    assert journal and isinstance(journal[0], OrderAccepted)
    assert all(isinstance(e, JournalEvent) for e in journal)
    assert state.written

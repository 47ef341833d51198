"""The order engine's handler with smart routing, over an in-memory store: a parent's children go out keyed
by their venues, nothing goes to the smart router's own venue, the children's state is stored, and the
venue statistics learn from the journal the handler writes."""

from __future__ import annotations

from decimal import Decimal as D

from oms import ids
from oms.clock import TestClock
from oms.domain.route import SMART_VENUE
from oms.domain.sor import ConsolidatedBook, parse_fees
from oms.events import ExecType, OrderStatus, RoutingDecided, VenueRequest
from oms.routing import RoutingRules, StaticRouter
from oms.state import MemoryStore
from processors.engine import OrderEngine, SmartRoutingSource
from streams.codec import SingleObjectCodec
from streams.processor import PartitionState
from streams.records import Record
from streams.tables import StaticTable
from streams.topics import Topics
from tests.builders import execution_report, new_order

TOPICS = Topics("t.")
CODEC = SingleObjectCodec()


def test_the_engine_handler_routes_a_parent_through_children():
    book = (ConsolidatedBook("AAPL").with_levels("A", [], [(D("187.20"), D(40))])
            .with_levels("B", [], [(D("187.20"), D(100))]))
    smart = SmartRoutingSource(RoutingRules(default="cost"), parse_fees("A=taker:0.001;B=taker:0.003"),
                               StaticTable({"AAPL": book}))
    engine = OrderEngine(TOPICS, CODEC, StaticRouter("A", venues=frozenset({"A", "B"})),
                         TestClock(1_700_000_000_000_000_000), smart=smart)
    state = PartitionState(MemoryStore(), 0, {})
    order = new_order(account="ACC-1", quantity=D(60), limit_price=D("187.25"))
    outputs = engine(state, Record(TOPICS.commands, 0, 1, b"ACC-1", CODEC.encode(TOPICS.commands, order), 1))
    requests = [(key, e) for topic, key, e in outputs if topic == TOPICS.venue_requests]
    assert [(key, e.quantity) for key, e in requests] == [("A", D(40)), ("B", D(20))]
    assert all(key != SMART_VENUE for key, _ in requests)
    assert any(isinstance(e, RoutingDecided) for _, _, e in outputs)
    assert smart.stats.get("A", "AAPL").routed == 1 and smart.stats.get("B", "AAPL").routed_qty == D(20)

    request: VenueRequest = requests[0][1]
    fill = execution_report(account="ACC-1", order_id=request.order_id, request_id=request.request_id, venue="A",
                            exec_id="A-1", exec_type=ExecType.FILL, order_status=OrderStatus.FILLED,
                            order_qty=D(40), last_qty=D(40), last_px=D("187.20"), cum_qty=D(40), leaves_qty=D(0),
                            avg_px=D("187.20"))
    outputs = engine(state, Record(TOPICS.exec_reports, 0, 2, b"ACC-1", CODEC.encode(TOPICS.exec_reports, fill), 2))
    fills = [e for topic, _, e in outputs if topic == TOPICS.fills]
    parent = ids.order_id("ACC-1", order.client_order_id)
    assert [(f.order_id, f.venue, f.quantity) for f in fills] == [(parent, "A", D(40))]
    views = {key: e for topic, key, e in outputs if topic == TOPICS.orders}
    assert views[parent].cum_qty == D(40) and views[request.order_id].status is OrderStatus.FILLED

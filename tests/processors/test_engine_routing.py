"""The order engine's handler with smart routing, over an in-memory store: a parent's children go out keyed
by their venues, nothing goes to the smart router's own venue, the children's state is stored, and the
venue statistics are folded from the journal the handler writes into the partition's state: written only
where they changed, counted once when an input is retried after its transaction aborted, and carried
across a restart by the store."""

from __future__ import annotations

from decimal import Decimal as D

from oms import ids, keys
from oms.clock import TestClock
from oms.domain.route import SMART_VENUE
from oms.domain.sor import ConsolidatedBook, VenueStatistics, VenueStats, parse_fees
from oms.venue_state import load_stats
from oms.events import ExecType, OrderStatus, RoutingDecided, VenueRequest
from oms.routing import RoutingRules, StaticRouter
from oms.state import MemoryStore
from processors.engine import OrderEngine, SmartRoutingSource
from streams.codec import SingleObjectCodec
from streams.processor import PartitionState, partition_key
from streams.records import Record
from streams.tables import StaticTable
from streams.topics import Topics
from tests.builders import execution_report, new_order

TOPICS = Topics("t.")
CODEC = SingleObjectCodec()


def stats_in(state: PartitionState, venue: str, instrument: str = "AAPL") -> VenueStats:
    """The venue statistics the partition's state holds for `venue` in `instrument`."""
    data = state.get(keys.venue_stats(venue, instrument))
    return load_stats(data) if data else VenueStats()


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
    assert stats_in(state, "A").routed == 1 and stats_in(state, "B").routed_qty == D(20)

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


BOOK = (ConsolidatedBook("AAPL").with_levels("A", [], [(D("187.20"), D(40))])
        .with_levels("B", [], [(D("187.20"), D(100))]))


def engine_over(store: MemoryStore) -> OrderEngine:
    """A fresh engine handler (as after a restart) over `store`."""
    smart = SmartRoutingSource(RoutingRules(default="cost"), parse_fees("A=taker:0.001;B=taker:0.003"),
                               StaticTable({"AAPL": BOOK}))
    return OrderEngine(TOPICS, CODEC, StaticRouter("A", venues=frozenset({"A", "B"})),
                       TestClock(1_700_000_000_000_000_000), smart=smart)


def commit(store: MemoryStore, state: PartitionState) -> None:
    """What a committed transaction leaves in the store: the input's writes."""
    for key, value in state.written:
        store.put(partition_key(0, key.decode()), value)


def handle(engine: OrderEngine, store: MemoryStore, topic: str, event, offset: int, keep: bool = True):
    state = PartitionState(store, 0, {})
    outputs = engine(state, Record(topic, 0, offset, b"ACC-1", CODEC.encode(topic, event), offset))
    if keep:
        commit(store, state)
    return state, outputs


def child_fill(request: VenueRequest, exec_id: str):
    return execution_report(account="ACC-1", order_id=request.order_id, request_id=request.request_id,
                            venue=request.venue, exec_id=exec_id, exec_type=ExecType.FILL,
                            order_status=OrderStatus.FILLED, order_qty=request.quantity, last_qty=request.quantity,
                            last_px=D("187.20"), cum_qty=request.quantity, leaves_qty=D(0), avg_px=D("187.20"))


def test_an_input_retried_after_an_aborted_transaction_is_counted_once():
    store = MemoryStore()
    engine = engine_over(store)
    order = new_order(account="ACC-1", quantity=D(60), limit_price=D("187.25"))
    handle(engine, store, TOPICS.commands, order, 1, keep=False)  # the transaction aborts: nothing is kept
    state, _ = handle(engine, store, TOPICS.commands, order, 1)  # redelivered and committed
    assert stats_in(state, "A").routed == 1 and stats_in(state, "B").routed == 1


def test_venue_statistics_survive_a_restart_and_an_input_writes_only_what_it_changed():
    store = MemoryStore()
    _, outputs = handle(engine_over(store), store, TOPICS.commands,
                        new_order(account="ACC-1", quantity=D(60), limit_price=D("187.25")), 1)
    a, b = [e for topic, _, e in outputs if topic == TOPICS.venue_requests]
    assert (a.venue, b.venue) == ("A", "B")

    restarted = engine_over(store)  # a new process over the restored store
    state, _ = handle(restarted, store, TOPICS.exec_reports, child_fill(a, "A-1"), 2)
    written = {key.decode() for key, _ in state.written}
    assert keys.venue_stats("A", "AAPL") in written and keys.venue_stats("B", "AAPL") not in written
    assert keys.venue_working(a.order_id) in written  # the child ended: it leaves the working set
    assert not state.get(keys.venue_working(a.order_id)) and state.get(keys.venue_working(b.order_id))
    after = stats_in(state, "A")
    assert (after.routed, after.fills, after.filled_qty, after.fill_rate) == (1, 1, D(40), 1)
    assert after.first_fills == 1 and after.mean_slippage == 0  # filled at the arrival price 187.20

    state, _ = handle(restarted, store, TOPICS.exec_reports, child_fill(a, "A-1"), 3)  # a repeated report
    assert stats_in(state, "A") == after and not [k for k, _ in state.written if k.startswith(b"vs/")]


def test_the_stored_statistics_equal_the_fold_of_the_journal_the_engine_wrote():
    from replay.routing import venue_statistics, verify_venue_statistics

    store = MemoryStore()
    engine = engine_over(store)
    journal = []
    _, outputs = handle(engine, store, TOPICS.commands,
                        new_order(account="ACC-1", quantity=D(60), limit_price=D("187.25")), 1)
    journal += [e for topic, _, e in outputs if topic == TOPICS.journal]
    a, b = [e for topic, _, e in outputs if topic == TOPICS.venue_requests]
    for offset, report in enumerate([child_fill(a, "A-1"), child_fill(b, "B-1")], start=2):
        state, outputs = handle(engine, store, TOPICS.exec_reports, report, offset)
        journal += [e for topic, _, e in outputs if topic == TOPICS.journal]
    replayed = venue_statistics(journal)
    stored = VenueStatistics({key: stats_in(state, *key) for key in replayed.stats})
    assert replayed.stats and verify_venue_statistics(replayed, stored) == []

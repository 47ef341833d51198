"""The order engine's handler stores what an input changed, not the whole account: with 5 or 60
open orders in one account, a new order writes its order, the account summary and its own
open-order entry, and the summary stays the same size (no Kafka: the handler over a memory store)."""

from __future__ import annotations

from oms import keys
from oms.clock import TestClock
from oms.domain.risk import Controls
from oms.events import OrderAccepted
from oms.routing import StaticRouter
from oms.state import MemoryStore
from processors.engine import OrderEngine
from streams.codec import SingleObjectCodec
from streams.processor import PartitionState
from streams.records import Record
from streams.tables import StaticTable
from streams.topics import Topics
from tests.builders import new_order

TOPICS = Topics("t.")
CODEC = SingleObjectCodec()
ACCOUNT = "ACC-1"


def engine_with(open_orders: int) -> tuple[OrderEngine, MemoryStore]:
    engine = OrderEngine(TOPICS, CODEC, StaticRouter("SIM"), TestClock(1_700_000_000_000_000_000),
                         controls=StaticTable(Controls(defaults={})))
    store = MemoryStore()
    for n in range(open_orders):
        submit(engine, store, n)
    return engine, store


def submit(engine: OrderEngine, store: MemoryStore, n: int) -> PartitionState:
    staged: dict[bytes, bytes] = {}
    state = PartitionState(store, 0, staged)
    command = new_order(f"c-{n}", account=ACCOUNT)
    outputs = engine(state, Record(TOPICS.commands, 0, n, ACCOUNT.encode(), CODEC.encode(TOPICS.commands, command),
                                   1_700_000_000_000))
    assert any(isinstance(e, OrderAccepted) for _, _, e in outputs)
    state.keep()
    store.write_batch(list(staged.items()))
    return state


def test_a_new_order_writes_its_order_the_summary_and_its_own_entry_whatever_the_open_orders():
    sizes = []
    for open_orders in (5, 60):
        engine, store = engine_with(open_orders)
        state = submit(engine, store, open_orders)
        written = dict((k.decode(), v) for k, v in state.written)
        [order_key] = [k for k in written if k.startswith(keys.ORDER_PREFIX)]
        order_id = order_key[len(keys.ORDER_PREFIX):]
        assert set(written) == {order_key, keys.account(ACCOUNT), keys.open_order(ACCOUNT, order_id)}
        sizes.append(len(written[keys.account(ACCOUNT)]))
        listed = [k for k, v in store.items(b"0/" + keys.open_orders(ACCOUNT).encode()) if v]
        assert len(listed) == open_orders + 1
    assert abs(sizes[0] - sizes[1]) <= 8  # the summary holds totals, not the orders (a digit or two more)


def test_a_mass_status_lists_the_open_orders_from_their_entries():
    from oms.events import VenueRequest
    from tests.builders import order_mass_status_request

    engine, store = engine_with(3)
    state = PartitionState(store, 0, {})
    command = order_mass_status_request(account=ACCOUNT)
    outputs = engine(state, Record(TOPICS.commands, 0, 99, ACCOUNT.encode(),
                                   CODEC.encode(TOPICS.commands, command), 1_700_000_000_000))
    requests = [e for t, _, e in outputs if t == TOPICS.venue_requests and isinstance(e, VenueRequest)]
    assert len(requests) == 3 and len({r.order_id for r in requests}) == 3


def _exact(a, b) -> bool:
    """Equal, and every Decimal inside with the same digits and exponent, every value of the same type."""
    import dataclasses
    from decimal import Decimal

    if type(a) is not type(b):
        return False
    if isinstance(a, Decimal):
        return str(a) == str(b)
    if dataclasses.is_dataclass(a):
        return all(_exact(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_exact(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_exact(a[k], b[k]) for k in a)
    return a == b


def test_every_order_state_reads_back_as_written_field_for_field():
    """What lets the engine take an order it wrote instead of decoding the stored bytes: the bytes
    decode to the very order, every Decimal with its digits and exponent (repr compares them)."""
    from bench.flow import journal
    from oms.domain.projection import JournalProjection
    from oms.state import dump_order, load_order

    projection = JournalProjection()
    seen = set()
    for event in journal(3000):
        projection.apply(event)
        order = projection.orders.get(event.order_id)
        if order is None:
            continue
        back = load_order(dump_order(order))
        assert back == order and _exact(back, order), order.order_id
        seen.add(order.status)
    assert len(seen) >= 3  # new, partially filled, filled at least


def test_the_engine_takes_the_order_it_wrote_while_the_store_holds_those_bytes():
    engine, store = engine_with(2)
    order_id = next(k for k, v in store.items(b"0/" + keys.ORDER_PREFIX.encode()))[2 + len(keys.ORDER_PREFIX):].decode()
    state = PartitionState(store, 0, {})
    written, held = engine._orders[order_id]
    assert engine._order(state, order_id) is held  # the same bytes: the order written, not decoded again
    assert engine._order(state, "no-such-order") is None

    from dataclasses import replace

    from oms.state import dump_order, load_order

    other = replace(load_order(written), seq=held.seq + 7)  # e.g. what an aborted transaction left behind
    state.put(keys.order(order_id), dump_order(other))
    found = engine._order(state, order_id)
    assert found == other and found is not held


def test_the_engine_holds_at_most_orders_held_orders(monkeypatch):
    import processors.engine as module

    monkeypatch.setattr(module, "ORDERS_HELD", 3)
    engine, _ = engine_with(5)
    assert len(engine._orders) == 3


from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.oms.domain.test_account_fold import order_journals  # noqa: E402


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(harnesses=order_journals())
def test_orders_amended_canceled_busted_and_corrected_read_back_as_written(harnesses):
    from oms.domain.projection import JournalProjection
    from oms.state import dump_order, load_order

    projection = JournalProjection()
    for harness in harnesses:
        for event in harness.journal:
            projection.apply(event)
            order = projection.orders.get(event.order_id)
            if order is not None:
                assert _exact(load_order(dump_order(order)), order), order

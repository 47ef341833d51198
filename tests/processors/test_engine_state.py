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

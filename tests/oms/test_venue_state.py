"""Tests of `oms.venue_state`: the venue statistics fold kept in a key/value store entry by entry gives what
the same fold gives in memory, writes only what an input changed, and reads back what it wrote."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings, strategies as st

from oms import keys
from oms.domain.sor import VenueStatistics, VenueStats
from oms.state import MemoryStore
from oms.venue_state import StoredTable, dump_stats, load_stats, statistics_writes, stored_statistics
from tests.builders import new_order
from tests.oms.domain.sor.test_parent import Harness


def stored_fold(inputs: list[list]) -> tuple[MemoryStore, list[list[tuple[str, bytes]]]]:
    """Each input's journal events folded into a store, input by input (a fresh view each, as the engine does)."""
    store, writes = MemoryStore(), []
    for journal in inputs:
        stats = stored_statistics(lambda key: store.get(key.encode()))
        for event in journal:
            stats.apply(event)
        written = statistics_writes(stats)
        writes.append(written)
        for key, value in written:
            store.put(key.encode(), value)
    return store, writes


def read_back(store: MemoryStore) -> VenueStatistics:
    stats = {keys.venue_stats_of(k.decode()): load_stats(v)
             for k, v in store.items(keys.VENUE_STATS_PREFIX.encode()) if v}
    working = {k.decode()[len(keys.VENUE_WORKING_PREFIX):] for k, v in store.items(keys.VENUE_WORKING_PREFIX.encode()) if v}
    arrivals = {k.decode()[len(keys.VENUE_ARRIVAL_PREFIX):] for k, v in store.items(keys.VENUE_ARRIVAL_PREFIX.encode()) if v}
    return VenueStatistics(stats, dict.fromkeys(working), dict.fromkeys(arrivals))


def routed_flow(actions) -> list[list]:
    """The journal of a parent routed to two venues, then the venue reports `actions`, one list per input."""
    engine = Harness("best")
    inputs = [engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25"))).journal]
    inputs.append(engine(new_order("cl-2", quantity=D(10), venue="SIM")).journal)  # a static order counts too
    for kind, which, qty in actions:
        if not engine.live_requests():
            break
        outcome = engine.act(kind, which, qty)
        if outcome is not None:
            inputs.append(outcome.journal)
    return inputs


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["fill", "reject", "cancel", "ack"]), st.integers(0, 5), st.integers(1, 60)),
                min_size=1, max_size=15))
def test_the_stored_fold_equals_the_fold_in_memory(actions):
    inputs = routed_flow(actions)
    memory = VenueStatistics()
    for journal in inputs:
        for event in journal:
            memory.apply(event)
    store, writes = stored_fold(inputs)
    stored = read_back(store)
    assert stored.stats == memory.stats
    assert set(stored.working) == set(memory.working) and set(stored.arrivals) == set(memory.arrivals)
    for written in writes:
        assert len({key for key, _ in written}) == len(written)  # each entry at most once per input


def test_an_input_writes_only_the_venues_it_changed():
    inputs = routed_flow([("ack", 0, 1)])
    _, writes = stored_fold(inputs)
    ack = writes[-1]
    assert [key for key, _ in ack if key.startswith(keys.VENUE_STATS_PREFIX)] == [keys.venue_stats("B", "AAPL")]
    assert not [key for key, _ in ack if key.startswith(keys.VENUE_WORKING_PREFIX)]  # nothing about the order changed


def test_counters_round_trip_exactly():
    stats = VenueStats(routed=3, routed_qty=D("100.5"), acknowledged=2, rejected=1, canceled=0, fills=4,
                       filled_qty=D("60.25"), latency_ns=123_456, to_first_fill_ns=9, first_fills=2,
                       slippage=D("-0.00000001"), slipped_qty=D("60.25"))
    assert load_stats(dump_stats(stats)) == stats
    with pytest.raises(ValueError, match="expected 12"):
        load_stats(b"[1,2]")


def test_a_stored_table_reads_each_entry_once_and_is_never_listed():
    reads = []
    table = StoredTable(lambda k: f"x/{k}", lambda key: reads.append(key) or None, str.encode, bytes.decode)
    assert table.get("a") is None and "a" not in table and reads == ["x/a"]
    table["a"] = "1"
    del table["a"]
    assert table.writes() == [("x/a", b"")] and table.writes() == []
    with pytest.raises(TypeError):
        list(table)

"""Replay of the order journal: the fold against the harness's states, verify, and a run on a real broker.

This module owns the tests of `replay.journal`: folding in-memory journals
(built with `OrderHarness`) into a RocksDB and an in-memory store, `verify`
finding no difference with views built as the live worker builds them and one
when a view is altered, and (marked
`kafka`) `replay_journal` + `live_views` + `verify` + `audit` on topics of a
real cluster, including `until_offset` / `until_ns` stopping early.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oms.config import Settings
from oms.domain.orders import view
from oms.domain.positions import evolve_position, fold_positions, to_event
from oms.events import ExecType, JournalEvent, OrderFillBusted, OrderFillCorrected, OrderFilled, Side
from oms.state import MemoryStore, RocksStore, load_order, load_position
from replay.journal import (
    Difference,
    Replayer,
    _groups,
    _merge,
    audit,
    live_views,
    replay_events,
    replay_journal,
    share_of,
    verify,
)
from tests.builders import T0, OrderHarness


def _harnesses() -> list[OrderHarness]:
    """A small realistic book: partial fills, a full fill, a cancel, a bust, a correction,
    a sell in another account, a venue reject and an anomaly (unknown fill bust)."""
    a = OrderHarness()
    a.working("cl-1")
    a.fill(10, "10")
    a.fill(90, "11")

    b = OrderHarness()
    b.working("cl-2")
    b.fill(30, "187.5", exec_id="X1")
    b.fill(20, "187.6", exec_id="X2")
    b.venue_says(ExecType.TRADE_CORRECT, exec_id="X1c", ref_exec_id="X1", last_qty=D(25), last_px=D("187.4"))
    b.venue_says(ExecType.TRADE_BUST, ref_exec_id="X2")
    b.venue_says(ExecType.TRADE_BUST, ref_exec_id="X2")  # already busted: a seq-0 anomaly
    b.cancel("cl-2c")
    b.venue_says(ExecType.CANCELED)

    c = OrderHarness()
    c.working("cl-3", account="ACC-002", side=Side.SELL, quantity=D(50))
    c.fill(50, "188")

    d = OrderHarness()
    d.new("cl-4", account="ACC-002")
    d.venue_says(ExecType.REJECTED)
    return [a, b, c, d]


def _interleave(harnesses: list[OrderHarness]) -> list[JournalEvent]:
    """The journals interleaved round-robin: each order's events stay in order."""
    queues = [list(h.journal) for h in harnesses]
    out: list[JournalEvent] = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


MARKS = {"AAPL": D("190.123")}


def _live(journal: list[JournalEvent], harnesses: list[OrderHarness]):
    """The views as the live worker publishes them: an OrderView per order; a Position after
    every fill-type event that changed the position, marked when a mark is known."""
    orders = {h.order.order_id: view(h.order) for h in harnesses}
    states: dict = {}
    positions = {}
    for event in journal:
        if isinstance(event, (OrderFilled, OrderFillBusted, OrderFillCorrected)):
            key = f"{event.account}|{event.instrument}"
            before = states.get(key)
            after = evolve_position(before, event)
            if after is not None and after != before:
                states[key] = after
                positions[key] = to_event(after, MARKS.get(event.instrument), event.ts_event)
    return orders, positions


@pytest.fixture(params=["memory", "rocks"])
def store(request, tmp_path):
    s = MemoryStore() if request.param == "memory" else RocksStore(tmp_path / "replay")
    yield s
    s.close()


# ---------------------------------------------------------------- the fold


def test_fold_rebuilds_every_order_and_position_into_the_store(store) -> None:
    hs = _harnesses()
    journal = _interleave(hs)
    result = replay_events(journal, store)

    assert result.events == len(journal)
    assert result.anomalies == 1 and result.errors == ()
    assert result.orders == {h.order.order_id: h.order for h in hs}
    assert {f"{a}|{i}": s for (a, i), s in fold_positions(journal).items()} == result.positions
    assert set(result.positions) == {"ACC-001|AAPL", "ACC-002|AAPL"}
    assert result.positions["ACC-001|AAPL"].quantity == D(125)  # 100 + 25 corrected, 20 busted
    assert result.positions["ACC-002|AAPL"].quantity == D(-50)
    assert result.by_status() == {"FILLED": 2, "CANCELED": 1, "REJECTED": 1}

    stored_orders = {k.decode()[2:]: load_order(v) for k, v in store.items(b"o/")}
    stored_positions = {k.decode()[2:]: load_position(v) for k, v in store.items(b"p/")}
    assert stored_orders == result.orders
    assert stored_positions == result.positions


def test_redelivered_journal_events_change_nothing(store) -> None:
    hs = _harnesses()
    journal = _interleave(hs)
    once = replay_events(journal, MemoryStore())
    twice = replay_events(journal + journal, store)
    assert twice.orders == once.orders and twice.positions == once.positions
    assert twice.errors == ()


def test_a_gap_is_reported_not_folded() -> None:
    h = OrderHarness()
    h.working()
    h.fill(10, "10")
    journal = [e for e in h.journal if e.seq != 2]  # drop OrderRouted
    replayer = Replayer()
    for event in journal:
        replayer.apply(event)
    assert replayer.orders[h.order.order_id].seq == 1
    assert replayer.errors and "expected 2" in replayer.errors[0]


def test_replay_needs_a_fresh_store(store) -> None:
    replay_events(_harnesses()[0].journal, store)
    with pytest.raises(ValueError, match="fresh store"):
        replay_events(_harnesses()[0].journal, store)


# ------------------------------------------------------------------ verify


def test_verify_finds_no_difference_with_views_built_like_the_worker(store) -> None:
    hs = _harnesses()
    journal = _interleave(hs)
    result = replay_events(journal, store)
    orders, positions = _live(journal, hs)
    assert positions["ACC-001|AAPL"].mark_price is not None  # marks differ from the replay's: ignored
    assert verify(result, orders, positions) == []


def test_verify_reports_an_altered_order_view(store) -> None:
    hs = _harnesses()
    journal = _interleave(hs)
    result = replay_events(journal, store)
    orders, positions = _live(journal, hs)
    oid = hs[1].order.order_id
    orders[oid] = orders[oid].model_copy(update={"cum_qty": D(26)})
    assert verify(result, orders, positions) == [Difference("order", oid, "cum_qty", D(25), D(26))]


def test_verify_reports_an_altered_position_but_not_a_different_mark(store) -> None:
    hs = _harnesses()
    journal = _interleave(hs)
    result = replay_events(journal, store)
    orders, positions = _live(journal, hs)
    key = "ACC-002|AAPL"
    positions[key] = positions[key].model_copy(update={"mark_price": D(1), "unrealized_pnl": D(7)})
    assert verify(result, orders, positions) == []
    positions[key] = positions[key].model_copy(update={"realized_pnl": D("0.5")})
    (diff,) = verify(result, orders, positions)
    assert (diff.kind, diff.key, diff.field, diff.live) == ("position", key, "realized_pnl", D("0.5"))


def test_verify_reports_missing_on_either_side(store) -> None:
    hs = _harnesses()
    journal = _interleave(hs)
    result = replay_events(journal, store)
    orders, positions = _live(journal, hs)
    dropped = hs[0].order.order_id
    del orders[dropped]
    positions["ACC-009|MSFT"] = replace_position(positions["ACC-001|AAPL"], account="ACC-009", instrument="MSFT")
    diffs = verify(result, orders, positions)
    assert Difference("order", dropped, "missing", True, False) in diffs
    assert Difference("position", "ACC-009|MSFT", "missing", False, True) in diffs
    assert len(diffs) == 2


# ----------------------------------------------------- partitions apart


_ORDER = st.tuples(
    st.integers(min_value=0, max_value=3),  # account
    st.sampled_from(["AAPL", "MSFT"]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.lists(st.integers(min_value=1, max_value=40), max_size=4),  # fills
    st.booleans(),  # cancelled after its fills
)


def _book(specs) -> list[OrderHarness]:
    out = []
    for n, (account, instrument, side, fills, cancel) in enumerate(specs):
        h = OrderHarness()
        h.working(f"cl-{n}", account=f"ACC-{account:03d}", instrument=instrument, side=side,
                  quantity=D(sum(fills) + 10))
        for i, qty in enumerate(fills):
            h.fill(qty, str(100 + i), exec_id=f"X{n}-{i}")
        if cancel:
            h.cancel(f"cl-{n}c", account=f"ACC-{account:03d}")
            h.venue_says(ExecType.CANCELED)
        out.append(h)
    return out


@settings(max_examples=40, deadline=None)
@given(specs=st.lists(_ORDER, min_size=1, max_size=8), partitions=st.integers(min_value=1, max_value=4),
       assignment=st.lists(st.integers(min_value=0, max_value=3), min_size=4, max_size=4), data=st.data())
def test_partitions_folded_apart_and_merged_equal_the_serial_fold(specs, partitions, assignment, data) -> None:
    journal = _interleave(_book(specs))
    picks = data.draw(st.lists(st.integers(min_value=0, max_value=7), min_size=len(journal), max_size=len(journal)))
    journal = _shuffled_keeping_order_sequences(journal, picks)

    serial = Replayer()
    for event in journal:
        serial.apply(event)
    parts = [Replayer() for _ in range(partitions)]
    for event in journal:  # keyed by account, as the journal is
        parts[assignment[int(event.account[-3:])] % partitions].apply(event)
    merged = parts[0]
    for part in parts[1:]:
        _merge(merged, part.projection, part.errors, part.refused, part.venues.stats)

    assert merged.orders == serial.orders
    assert merged.positions == serial.positions
    assert merged.accounts == serial.accounts
    assert dict(merged.venues.stats) == dict(serial.venues.stats)
    assert (merged.events, merged.anomalies, sorted(merged.errors)) == (
        serial.events, serial.anomalies, sorted(serial.errors))


def _shuffled_keeping_order_sequences(journal: list[JournalEvent], picks: list[int]) -> list[JournalEvent]:
    """The journal re-interleaved by `picks` (which order's queue gives the next event), each
    order's events, hence each account's, kept in their order."""
    queues: dict[str, list[JournalEvent]] = {}
    for event in journal:
        queues.setdefault(event.order_id, []).append(event)
    out = []
    for pick in picks:
        live = [q for q in queues.values() if q]
        out.append(live[pick % len(live)].pop(0))
    return out


def test_partitions_are_grouped_by_record_count_largest_first() -> None:
    assert _groups({0: 58, 1: 42, 2: 25}, 2) == [[0], [1, 2]]
    assert _groups({0: 10, 1: 10, 2: 10, 3: 10}, 2) == [[0, 2], [1, 3]]
    assert _groups({5: 7}, 3) == [[5]]
    assert _groups({}, 2) == []


def test_an_account_goes_to_the_same_share_in_every_process() -> None:
    # CRC-32 of the key, not Python's hash() (salted per process): these values hold in any process
    assert [share_of(f"ACC-{n:03d}", 3) for n in range(6)] == [0, 2, 1, 2, 0, 1]
    assert {share_of(f"ACC-{n:03d}", 3) for n in range(30)} == {0, 1, 2}
    assert share_of(None, 4) == 0


def test_an_unvalidated_event_the_fold_cannot_take_is_refused_if_invalid() -> None:
    h = OrderHarness()
    h.working()
    h.fill(10, "10")
    *head, fill = h.journal
    broken = fill.model_copy(update={"last_qty": "ten"})  # as `built` would keep a value validation refuses
    replayer = Replayer()
    for event in head:
        replayer.apply(event)
    replayer.apply(broken)

    assert len(replayer.refused) == 1 and "does not validate" in replayer.refused[0]
    assert replayer.positions == {} and replayer.orders[h.order.order_id].cum_qty == 0
    assert replayer.errors == []


def test_a_valid_event_the_fold_cannot_take_is_a_defect_raised() -> None:
    class Unfoldable(Exception):
        pass

    h = OrderHarness()
    h.working()
    replayer = Replayer()

    def refuse(event):
        raise Unfoldable(event.event_id)

    replayer.projection.apply = refuse  # the fold fails on a valid event
    with pytest.raises(Unfoldable):
        replayer.apply(h.journal[0])


def replace_position(position, **changes):
    return position.model_copy(update=changes)


# ------------------------------------------------------------ real broker


@pytest.fixture
def runtime(bootstrap_servers: str, unique_name: str):
    from streams.runtime import connect

    rt = connect(Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"{unique_name}."))
    rt.ensure_topics()
    return rt


def _publish(rt, journal, orders, positions) -> None:
    producer = rt.event_producer()
    for event in journal:
        producer.send(rt.topics.journal, event.account, event)
    for order_id, order_view in orders.items():
        producer.send(rt.topics.orders, order_id, order_view)
    for key, position in positions.items():
        producer.send(rt.topics.positions, key, position)
    producer.flush()


@pytest.mark.kafka
def test_replay_from_the_broker_equals_the_live_views(runtime, tmp_path) -> None:
    hs = _harnesses()
    journal = _interleave(hs)
    orders, positions = _live(journal, hs)
    _publish(runtime, journal, orders, positions)

    result = replay_journal(runtime, RocksStore(tmp_path / "a"), progress=False)
    assert result.events == len(journal) and result.partitions == 2  # two accounts
    assert result.orders == {h.order.order_id: h.order for h in hs}
    split = replay_journal(runtime, RocksStore(tmp_path / "b"), progress=False, workers=2)  # partitions apart
    assert (split.events, split.orders, split.positions, split.accounts, split.partitions) == (
        result.events, result.orders, result.positions, result.accounts, result.partitions)
    shares = replay_journal(runtime, RocksStore(tmp_path / "c"), progress=False, workers=3)  # accounts apart
    assert (shares.events, shares.orders, shares.positions, shares.accounts, shares.venue_stats, shares.errors) == (
        result.events, result.orders, result.positions, result.accounts, result.venue_stats, result.errors)
    live_orders, live_positions = live_views(runtime, timeout=10)
    assert live_orders == orders and live_positions == positions
    assert verify(result, live_orders, live_positions) == []
    code, out = _cli(runtime, "--verify")
    assert code == 0 and "replay verified: 4 orders, 2 positions (no engine state" in out

    oid = hs[0].order.order_id
    altered = view(replace(hs[0].order, avg_px=D("10.8")))
    producer = runtime.event_producer()
    producer.send(runtime.topics.orders, oid, altered)
    producer.flush()
    live_orders, live_positions = live_views(runtime, timeout=10)
    assert verify(result, live_orders, live_positions) == [
        Difference("order", oid, "avg_px", hs[0].order.avg_px, D("10.8"))
    ]

    code, out = _cli(runtime, "--verify")
    assert code == 1 and "1 differences" in out and "avg_px" in out

    trail = audit(runtime, hs[1].order.order_id, timeout=10)
    assert [r.event for r in trail] == list(hs[1].journal)
    code, out = _cli(runtime, "--order", hs[1].order.order_id)
    assert code == 0 and "OrderFillCorrected" in out and "OrderAnomaly" in out


def _cli(rt, *argv: str) -> tuple[int, str]:
    """`oms replay ...` on the runtime's settings; returns the exit status and what it printed."""
    from rich.console import Console

    from entrypoints.cli import main
    from entrypoints.context import Entry
    from oms.clock import LiveClock

    console = Console(record=True, width=200)
    code = main(["replay", "--no-progress", "--timeout", "10", *argv], obj=Entry(rt.settings, LiveClock(), console))
    return code, console.export_text()


@pytest.mark.kafka
def test_replay_stops_early_at_an_offset_or_a_time(runtime, tmp_path) -> None:
    h = OrderHarness()
    h.working()
    h.fill(10, "10")
    h.fill(20, "11")
    h.fill(70, "12")
    _publish(runtime, h.journal, {}, {})
    # OrderAccepted, OrderRouted, OrderAcknowledged, then three fills: all on one partition.

    first3 = replay_journal(runtime, RocksStore(tmp_path / "o"), until_offset=3, progress=False)
    assert first3.events == 3 and first3.positions == {}
    assert first3.orders[h.order.order_id].seq == 3

    cut = h.journal[4].ts_event  # the second fill, inclusive
    until = replay_journal(runtime, RocksStore(tmp_path / "t"), until_ns=cut, progress=False)
    assert until.events == 5
    assert until.orders[h.order.order_id].cum_qty == D(30)
    assert until.positions["ACC-001|AAPL"].quantity == D(30)

    whole = replay_journal(runtime, RocksStore(tmp_path / "w"), progress=False)
    assert whole.events == 6 and whole.orders == {h.order.order_id: h.order}
    positions = {"ACC-001|AAPL": to_event(whole.positions["ACC-001|AAPL"], None, 0)}
    assert verify(whole, {h.order.order_id: view(h.order)}, positions) == []
    assert len(verify(until, {h.order.order_id: view(h.order)}, positions)) > 0


@pytest.mark.kafka
def test_records_that_do_not_decode_are_counted_and_the_rest_folded(runtime, tmp_path) -> None:
    h = OrderHarness()
    h.working()
    h.fill(10, "10")
    _publish(runtime, h.journal, {}, {})
    whole = runtime.codec.encode(runtime.topics.journal, h.journal[-1])
    raw = runtime.producer()
    for value in (b"not avro", whole[:-3], whole + b"\x00"):  # no framing, truncated, trailing bytes
        raw.produce(runtime.topics.journal, key=h.order.account.encode(), value=value)
    raw.flush(30)

    for workers in (1, 2):
        result = replay_journal(runtime, RocksStore(tmp_path / f"w{workers}"), progress=False, workers=workers)
        assert result.undecodable == 3
        assert result.events == len(h.journal) and result.orders == {h.order.order_id: h.order}
        assert result.positions["ACC-001|AAPL"].quantity == D(10) and result.errors == ()

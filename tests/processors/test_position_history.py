"""A position stored as its history (`oms.state`: `load_held`, `held_after`, `block_write`;
`oms.domain.positions.changed_position`, `replay_changes`): the stored blocks fold back to the state
the journal's events make, whatever the events (fills, busts, corrections, repeats, unknown
references), a fill rewrites one block of at most `HISTORY_BLOCK` changes, and a whole state stored
before histories is the base the blocks continue."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from oms import keys
from oms.domain.positions import changed_position, evolve_position, replay_changes
from oms.state import HISTORY_BLOCK, block_write, dump_position, held_after, load_changes, load_held
from tests.oms.domain.test_positions import ACC, bust, correct, fill

kinds = st.lists(st.tuples(st.sampled_from(["fill", "fill", "fill", "bust", "correct", "repeat"]),
                           st.integers(0, 200), st.sampled_from(["BUY", "SELL"]),
                           st.integers(1, 500), st.integers(9_000, 11_000)), max_size=220)


def journal(specs):
    """Journal events of one position from specs; busts and corrections name earlier fills (or none)."""
    events = []
    for n, (kind, ref, side, qty, px) in enumerate(specs):
        price = D(px) / 100
        if kind == "fill" or not events:
            events.append(fill(f"f{n}", side, qty, price, "0.01"))
        elif kind == "bust":
            events.append(bust(f"b{n}", f"f{ref}"))
        elif kind == "correct":
            events.append(correct(f"c{n}", f"f{ref}", qty, price))
        else:
            events.append(events[ref % len(events)])  # a repeat: applied once
    return events


def write_through(table: dict, events, held=None):
    """What the position manager does per event: (re)load when not held, change, write the block."""
    for event in events:
        before = held if held is not None else load_held(table, ACC, "AAPL")
        changed = changed_position(None if before is None else before.state, event)
        if changed is None:
            continue
        held = held_after(before, *changed)
        key, value = block_write(held)
        assert len(load_changes(value)) <= HISTORY_BLOCK
        table[key] = value
    return held


@settings(max_examples=150, deadline=None)
@given(kinds, st.integers(0, 220))
def test_the_stored_history_folds_back_to_the_journal_s_state(specs, restart_at):
    events = journal(specs)
    expected = None
    for event in events:
        expected = evolve_position(expected, event)
    table: dict[bytes, bytes] = {}
    write_through(table, events[:restart_at])
    held = write_through(table, events[restart_at:])  # a restart: read back from the table, then on
    loaded = load_held(table, ACC, "AAPL")
    assert (None if loaded is None else loaded.state) == expected
    if held is not None:  # the events after the restart changed the position: held as stored
        assert held.state == expected
        assert (loaded.block, loaded.changes) == (held.block, held.changes)


def test_a_fill_rewrites_only_its_block():
    table: dict[bytes, bytes] = {}
    events = [fill(f"f{n}", "BUY" if n % 2 else "SELL", 3, D("100.5"), "0.01") for n in range(3 * HISTORY_BLOCK + 5)]
    held = write_through(table, events)
    assert held.block == 3 and len(held.changes) == 5
    assert sorted(table) == sorted(keys.position_history(ACC, "AAPL", b).encode() for b in range(4))
    assert all(len(load_changes(table[keys.position_history(ACC, "AAPL", b).encode()])) == HISTORY_BLOCK
               for b in range(3))
    assert held.state.fills == len(events)


def test_a_whole_state_stored_before_histories_is_the_base_the_blocks_continue():
    before = [fill(f"f{n}", "BUY", 5, D("100"), "0") for n in range(10)]
    after = [fill("g1", "SELL", 20, D("101"), "0.02"), bust("b1", "f3"), correct("c1", "f4", 2, D("99"))]
    state = None
    for event in before:
        state = evolve_position(state, event)
    table = {keys.position(ACC, "AAPL").encode(): dump_position(state)}
    write_through(table, after)
    expected = state
    for event in after:
        expected = evolve_position(expected, event)
    assert load_held(table, ACC, "AAPL").state == expected
    assert replay_changes(state, load_changes(table[keys.position_history(ACC, "AAPL", 0).encode()])) == expected


def test_the_position_manager_passes_by_exactly_the_journal_events_that_move_no_position():
    from oms.domain.projection import FILL_EVENTS, position_key
    from processors.app import STILL
    from streams.topics import BY_NAME
    from tests.builders import sample_events

    journal = BY_NAME["order.events"].admits
    assert {kind.schema_name for kind in journal} == STILL | {kind.schema_name for kind in FILL_EVENTS}
    assert not STILL & {kind.schema_name for kind in FILL_EVENTS}
    passed_by = [event for event in sample_events() if event.schema_name in STILL]
    assert len({event.schema_name for event in passed_by}) >= 5
    for event in passed_by:  # every sample the header passes by moves no position
        assert position_key(event) is None, event

"""The synthetic feed as venues show it (`oms.marketdata.VenueDepth`): offsets, spreads, sizes, N levels, seeded."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oms.events import MAX_QUOTE_LEVELS, Quote, Side, Trade
from oms.marketdata import SyntheticFeed, VenueDepth, VenueShape
from tests.builders import quote, trade

T0 = 1_700_000_000_000_000_000
TICK = D("0.01")


def feed_quote(bid: str = "100.00", ask: str = "100.02", bid_size: int = 200, ask_size: int = 300) -> Quote:
    return quote(event_id="md.AAPL.1", venue=None, bid_price=D(bid), ask_price=D(ask), bid_size=D(bid_size),
                 ask_size=D(ask_size))


def test_depth_one_without_venues_is_the_feed_unchanged():
    q, t = feed_quote(), trade(venue=None, event_id="md.AAPL.2")
    shown = VenueDepth(None, seed=1)
    assert shown.tagged(q) == [q] and shown.tagged(t) == [t]


def test_each_venue_shows_its_offset_spread_and_size_n_levels_deep():
    shown = VenueDepth({"A": VenueShape(), "B": VenueShape(offset=D("0.01"), spread=D("0.04"), size=D(50))},
                       seed=7, depth=3)
    a, b = shown.tagged(feed_quote())
    assert (a.venue, a.event_id, a.bid_price, a.ask_price) == ("A", "md.AAPL.1@A", D("100.00"), D("100.02"))
    assert [level.price for level in a.bid_levels] == [D("100.00"), D("99.99"), D("99.98")]
    assert [level.price for level in a.ask_levels] == [D("100.02"), D("100.03"), D("100.04")]
    assert (a.bid_levels[0].size, a.ask_levels[0].size) == (D(200), D(300))  # the feed's top sizes
    # B: centred on the feed's spread, one tick up, 0.04 wide; every level a multiple of 50, the top 50
    assert (b.venue, b.bid_price, b.ask_price, b.bid_size, b.ask_size) == ("B", D("100.00"), D("100.04"), 50, 50)
    assert [level.price for level in b.ask_levels] == [D("100.04"), D("100.05"), D("100.06")]
    assert all(level.size % 50 == 0 and 50 <= level.size <= 200 for level in b.bid_levels + b.ask_levels)


def test_a_spread_off_the_feeds_centre_rounds_the_bid_down_to_the_tick():
    [b] = VenueDepth({"B": VenueShape(spread=D("0.03"))}, seed=0).tagged(feed_quote())
    assert (b.bid_price, b.ask_price) == (D("99.99"), D("100.02"))


def test_sizes_are_seeded_per_venue_and_one_venue_does_not_change_anothers():
    alone = VenueDepth({"A": VenueShape(size=D(100))}, seed=3, depth=5)
    beside = VenueDepth({"B": VenueShape(size=D(10)), "A": VenueShape(size=D(100))}, seed=3, depth=5)
    other_seed = VenueDepth({"A": VenueShape(size=D(100))}, seed=4, depth=5)
    steps = [feed_quote(bid=f"{100 + n / 100:.2f}", ask=f"{100.02 + n / 100:.2f}") for n in range(20)]
    a = [alone.tagged(q)[0] for q in steps]
    assert a == [beside.tagged(q)[1] for q in steps]
    assert a != [other_seed.tagged(q)[0] for q in steps]
    again = VenueDepth({"A": VenueShape(size=D(100))}, seed=3, depth=5)
    assert a == [again.tagged(q)[0] for q in steps]


def test_a_trade_prints_at_the_venues_ask_or_bid_by_its_aggressor():
    shown = VenueDepth({"B": VenueShape(offset=D("0.05"), spread=D("0.04"))}, seed=0, depth=2)
    [b] = shown.tagged(feed_quote())
    [lifted] = shown.tagged(trade(venue=None, price=D("100.02"), aggressor=Side.BUY))
    [hit] = shown.tagged(trade(venue=None, price=D("100.00"), aggressor=Side.SELL))
    [unknown] = shown.tagged(trade(venue=None, price=D("100.01"), aggressor=None))
    assert (lifted.price, hit.price, unknown.price) == (b.ask_price, b.bid_price, D("100.06"))
    assert isinstance(lifted, Trade) and lifted.venue == "B" and lifted.event_id.endswith("@B")


def test_near_zero_the_bid_stays_one_tick_up_and_levels_stop_above_zero():
    [low] = VenueDepth({"C": VenueShape(offset=D("-0.05"))}, seed=0, depth=5).tagged(
        feed_quote(bid="0.02", ask="0.04"))
    assert (low.bid_price, low.ask_price) == (TICK, D("0.03"))
    assert [level.price for level in low.bid_levels] == [TICK]
    assert len(low.ask_levels) == 5


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), depth=st.integers(1, 8), offset_ticks=st.integers(-300, 300),
       spread_ticks=st.none() | st.integers(1, 10), size=st.none() | st.integers(1, 1000))
def test_every_quote_shown_is_valid_on_the_tick_and_as_deep_as_asked(seed, depth, offset_ticks, spread_ticks, size):
    shape = VenueShape(offset=TICK * offset_ticks, spread=None if spread_ticks is None else TICK * spread_ticks,
                       size=None if size is None else D(size))
    shown = VenueDepth({"V": shape}, seed, depth=depth)
    feed = SyntheticFeed({"AAPL": D("1.00"), "MSFT": D("411.50")}, seed)
    for step in range(15):
        for event in feed.next(T0 + step):
            for tagged in shown.tagged(event):
                if not isinstance(tagged, Quote):
                    assert tagged.price > 0 and tagged.price % TICK == 0
                    continue
                Quote.model_validate(tagged.model_dump())  # every rule of a quote holds
                if spread_ticks is not None:
                    assert tagged.ask_price - tagged.bid_price == TICK * spread_ticks
                assert tagged.bid_price % TICK == 0 and tagged.ask_price % TICK == 0
                if depth == 1:
                    assert tagged.bid_levels == () and tagged.ask_levels == ()
                else:
                    assert len(tagged.ask_levels) == depth and 1 <= len(tagged.bid_levels) <= depth
                    assert all(b.price - a.price == TICK for a, b in zip(tagged.ask_levels, tagged.ask_levels[1:]))


@pytest.mark.parametrize(("make", "says"), [
    (lambda: VenueShape(offset=D("inf")), "offset: Infinity is not finite"),
    (lambda: VenueShape(spread=D(0)), "spread: 0 is not a positive number"),
    (lambda: VenueShape(size=D(-5)), "size: -5 is not a positive number"),
    (lambda: VenueShape(offset=D("0.000000001")), "offset: 1E-9 has more than 8 decimal places"),
    (lambda: VenueDepth(None, 0, depth=0), "depth: 0 is not a number of levels"),
    (lambda: VenueDepth(None, 0, depth=MAX_QUOTE_LEVELS + 1), f"depth: {MAX_QUOTE_LEVELS + 1} is not"),
    (lambda: VenueDepth({"A": VenueShape(spread=D("0.015"))}, 0), "spread: 0.015 of A is not a multiple of the tick"),
    (lambda: VenueDepth(None, 0, tick=D(0)), "tick: 0 is not a positive number"),
])
def test_bad_shapes_are_refused_naming_the_field(make, says):
    with pytest.raises(ValueError) as caught:
        make()
    assert says in str(caught.value)

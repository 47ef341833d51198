"""Tests that the routing strategies decide as a straightforward reference does: the sweeps (`best`,
`cost`) against sorting every level within the limit by its rank and taking greedily, and the split's
depth against adding up each venue's levels one by one; on fresh books and on one book asked again with
other fees, breakers and limits (what `ConsolidatedBook` keeps per book must not leak between them)."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings, strategies as st

from oms.domain.sor import STRATEGIES, FREE, ConsolidatedBook, FeeSchedule, FeeUnit, Liquidity, VenueStatistics, Want, route
from oms.domain.sor.strategies import _children, _fallback_venue
from oms.events import Side

VENUES = ["A", "B", "C", "D", "E"]
prices = st.decimals(min_value=D("90"), max_value=D("110"), places=2)
sizes = st.decimals(min_value=D("0"), max_value=D("500"), places=0)


def reference_sweep(want: Want, book: ConsolidatedBook, closed, fees, with_fee: bool):
    """venue -> (quantity, worst price) and the quantity left, by sorting every level within the limit."""
    buy = want.side is Side.BUY
    ranked = []
    for venue, venue_book in book.venues.items():
        if venue in closed:
            continue
        schedule = fees.get(venue, FREE)
        for index, level in enumerate(venue_book.levels(want.side)):
            if want.limit_price is not None and (level.price > want.limit_price if buy else level.price < want.limit_price):
                continue
            fee = schedule.per_share(level.price, Liquidity.TAKER)
            if with_fee:
                rank = (level.price + fee, venue, index) if buy else (-(level.price - fee), venue, index)
            else:
                rank = (level.price if buy else -level.price, schedule.taker, venue, index)
            ranked.append((rank, venue, level))
    ranked.sort(key=lambda entry: entry[0])
    taken, left = {}, want.quantity
    for _, venue, level in ranked:
        if left <= 0:
            break
        qty = min(level.size, left)
        taken[venue] = (taken.get(venue, (D(0), None))[0] + qty, level.price)
        left -= qty
    return taken, left


@st.composite
def markets(draw):
    book = ConsolidatedBook("AAPL")
    for venue in draw(st.lists(st.sampled_from(VENUES), unique=True, max_size=5)):
        bid = draw(prices)
        spread = draw(st.decimals(min_value=D("0.01"), max_value=D("2"), places=2))
        step = draw(st.sampled_from([D("0.01"), D("0.02")]))
        bids = [(bid - step * i, draw(sizes)) for i in range(draw(st.integers(0, 10)))]
        asks = [(bid + spread + step * i, draw(sizes)) for i in range(draw(st.integers(0, 10)))]
        book = book.with_levels(venue, bids, asks)
    fee = st.decimals(min_value=D("-0.003"), max_value=D("0.003"), places=3)
    bps = st.decimals(min_value=D("-5"), max_value=D("5"), places=1)
    fees = {v: FeeSchedule(draw(bps), D(0), FeeUnit.BPS) if draw(st.booleans()) else FeeSchedule(draw(fee), D(0))
            for v in draw(st.lists(st.sampled_from(VENUES), unique=True))}
    asks = [(draw(st.sampled_from([Side.BUY, Side.SELL])), draw(st.none() | prices),
             draw(st.decimals(min_value=D("1"), max_value=D("3000"), places=0)),
             {v: "open breaker" for v in draw(st.lists(st.sampled_from(VENUES), unique=True))},
             draw(st.sampled_from([fees, {}]))) for _ in range(3)]
    return book, asks


@settings(max_examples=150, deadline=None)
@given(markets(), st.sampled_from(["best", "cost"]))
def test_sweeps_take_what_sorting_every_level_by_rank_takes(market, name):
    book, asks = market
    for side, limit, quantity, closed, fees in asks:
        want = Want("AAPL", side, quantity, limit)
        taken, left = reference_sweep(want, book, closed, fees, with_fee=name == "cost")
        post_at = next(iter(taken), None) or _fallback_venue(want, book, closed, fees)
        decision = route(STRATEGIES[name], want, book, VenueStatistics(), closed, fees)
        assert decision.children == _children(want, taken, left, post_at)


@settings(max_examples=150, deadline=None)
@given(markets())
def test_split_shows_the_depth_within_the_limit_level_by_level(market):
    book, asks = market
    for side, limit, quantity, closed, fees in asks:
        want = Want("AAPL", side, quantity, limit)
        decision = route(STRATEGIES["split"], want, book, VenueStatistics(), closed, fees)
        expected = []
        for venue, venue_book in book.venues.items():
            if venue in closed or not venue_book.levels(side):
                continue
            expected.append((venue, sum((level.size for level in venue_book.levels(side)
                                         if limit is None or (level.price <= limit if side is Side.BUY else level.price >= limit)),
                                        D(0))))
        if decision.strategy == "split":
            assert [(s.venue, s.score) for s in decision.considered if s.score is not None] == expected
        else:  # nothing shown within the limit: the split sweeps as `best` does
            assert all(shown == 0 for _, shown in expected) and decision.strategy == "best"

"""Tests of `oms.domain.sor`: the consolidated book, fees, strategies (examples and hypothesis
properties) and the venue statistics fold."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings, strategies as st

from oms.domain.sor import (
    STRATEGIES,
    ConsolidatedBook,
    FeeSchedule,
    FeeUnit,
    Liquidity,
    Static,
    VenueStatistics,
    Want,
    parse_fees,
    route,
)
from oms.events import Quote, Side
from oms.ids import child_order_id, parent_of

NO_STATS = VenueStatistics()


def book(**venues) -> ConsolidatedBook:
    """book(A=([(bid, size)], [(ask, size)]), ...)"""
    out = ConsolidatedBook("AAPL")
    for venue, (bids, asks) in venues.items():
        out = out.with_levels(venue, [(D(p), D(s)) for p, s in bids], [(D(p), D(s)) for p, s in asks])
    return out


def test_consolidated_book_best_bid_and_offer_across_venues():
    b = book(A=([("99", "5")], [("101", "5")]), B=([("100", "3")], [("101", "7"), ("102", "1")]))
    assert b.best_bid() == (D("100"), D("3"))
    assert b.best_offer() == (D("101"), D("12"))
    assert b.arrival_price(Side.BUY) == D("101") and b.arrival_price(Side.SELL) == D("100")


def test_a_quote_is_depth_one_at_its_venue():
    q = Quote(event_id="q1", ts_event=1, ts_init=1, instrument="AAPL", venue="A", bid_price=D("99"),
              bid_size=D("10"), ask_price=D("100"), ask_size=D("4"))
    b = ConsolidatedBook("AAPL").with_quote(q)
    assert b.venues["A"].asks == ((D("100"), D("4")),)
    with pytest.raises(ValueError):
        ConsolidatedBook("MSFT").with_quote(q)


def test_crossed_venue_book_is_refused():
    with pytest.raises(ValueError, match="above ask"):
        book(A=([("102", "1")], [("101", "1")]))


def test_fees_per_share_and_bps_and_rebates():
    fees = parse_fees("A=taker:0.003,maker:-0.002;B=taker:10bps,maker:0")
    assert fees["A"].fee(D("100"), D("50"), Liquidity.TAKER) == D("0.300")
    assert fees["A"].fee(D("100"), D("50"), Liquidity.MAKER) == D("-0.200")
    assert fees["B"] == FeeSchedule(D("10"), D("0"), FeeUnit.BPS)
    assert fees["B"].fee(D("100"), D("50"), Liquidity.TAKER) == D("5")
    with pytest.raises(ValueError, match="same unit"):
        parse_fees("A=taker:1bps,maker:0.001")
    with pytest.raises(ValueError, match="not a number"):
        parse_fees("A=taker:abc")


def test_best_price_sweeps_price_then_fee():
    b = book(A=([], [("100", "5"), ("101", "10")]), B=([], [("100", "5"), ("100.5", "10")]))
    fees = parse_fees("A=taker:0.002;B=taker:0.001")
    d = route(STRATEGIES["best"], Want("AAPL", Side.BUY, D("12"), D("101")), b, NO_STATS, {}, fees)
    # 100 at B first (lower fee), then 100 at A, then 2 at B's 100.5
    assert [(c.venue, c.quantity, c.limit_price) for c in d.children] == [("B", D("7"), D("100.5")), ("A", D("5"), D("100"))]
    assert d.quantity == D("12")


def test_cost_aware_prefers_the_rebate_venue_when_it_nets_cheaper():
    b = book(A=([], [("100.00", "10")]), B=([], [("100.01", "10")]))
    fees = parse_fees("A=taker:0.03;B=taker:-0.01")
    best = route(STRATEGIES["best"], Want("AAPL", Side.BUY, D("5"), D("101")), b, NO_STATS, {}, fees)
    cost = route(STRATEGIES["cost"], Want("AAPL", Side.BUY, D("5"), D("101")), b, NO_STATS, {}, fees)
    assert [c.venue for c in best.children] == ["A"] and [c.venue for c in cost.children] == ["B"]


def test_limit_order_rest_posts_at_the_limit_and_market_rest_goes_to_depth():
    b = book(A=([], [("100", "3")]), B=([], [("105", "50")]))
    d = route(STRATEGIES["best"], Want("AAPL", Side.BUY, D("10"), D("101")), b, NO_STATS, {}, {})
    assert [(c.venue, c.quantity, c.limit_price, c.liquidity) for c in d.children] == [("A", D("10"), D("101"), Liquidity.MAKER)]


def test_closed_venue_is_never_chosen_and_none_open_means_no_children():
    b = book(A=([], [("99", "100")]), B=([], [("100", "100")]))
    d = route(STRATEGIES["best"], Want("AAPL", Side.BUY, D("10"), D("101")), b, NO_STATS, {"A": "breaker open"}, {})
    assert {c.venue for c in d.children} == {"B"}
    assert any(s.venue == "A" and "circuit open" in s.note for s in d.considered)
    none = route(STRATEGIES["best"], Want("AAPL", Side.BUY, D("10"), D("101")), b, NO_STATS, {"A": "x", "B": "y"}, {})
    assert none.children == () and "no open venue" in none.reason


def test_split_by_depth_and_passive_by_fill_history():
    b = book(A=([], [("100", "30")]), B=([], [("100", "10")]))
    d = route(STRATEGIES["split"], Want("AAPL", Side.BUY, D("20"), D("100")), b, NO_STATS, {}, {})
    assert {c.venue: c.quantity for c in d.children} == {"A": D("15"), "B": D("5")}
    stats = VenueStatistics()
    stats.stats[("B", "AAPL")] = stats.get("B", "AAPL").__class__(routed=1, routed_qty=D("10"), filled_qty=D("9"))
    p = route(STRATEGIES["passive"], Want("AAPL", Side.BUY, D("20"), D("99")), b, stats, {}, {})
    assert [(c.venue, c.limit_price, c.liquidity) for c in p.children] == [("B", D("99"), Liquidity.MAKER)]


def test_static_is_todays_rule():
    s = Static(lambda want: want.venue or "SIM")
    d = route(s, Want("AAPL", Side.SELL, D("5"), None), ConsolidatedBook("AAPL"), NO_STATS, {}, {})
    assert [(c.venue, c.quantity) for c in d.children] == [("SIM", D("5"))]
    assert route(s, Want("AAPL", Side.SELL, D("5")), ConsolidatedBook("AAPL"), NO_STATS, {"SIM": "x"}, {}).children == ()


def test_child_ids_name_their_parent():
    assert parent_of(child_order_id("O123", 7)) == "O123"
    assert parent_of("O123") is None


# ------------------------------------------------------------------ properties

VENUES = ["A", "B", "C", "D", "E"]
prices = st.decimals(min_value=D("90"), max_value=D("110"), places=2)
sizes = st.decimals(min_value=D("0"), max_value=D("500"), places=0)


@st.composite
def markets(draw):
    b = ConsolidatedBook("AAPL")
    for venue in draw(st.lists(st.sampled_from(VENUES), unique=True, max_size=5)):
        bid = draw(prices)
        spread = draw(st.decimals(min_value=D("0.01"), max_value=D("2"), places=2))
        bids = [(bid - D("0.01") * i, draw(sizes)) for i in range(draw(st.integers(0, 10)))]
        asks = [(bid + spread + D("0.01") * i, draw(sizes)) for i in range(draw(st.integers(0, 10)))]
        b = b.with_levels(venue, bids, asks)
    closed = {v: "open breaker" for v in draw(st.lists(st.sampled_from(VENUES), unique=True))}
    fee = st.decimals(min_value=D("-0.003"), max_value=D("0.003"), places=4)
    fees = {v: FeeSchedule(draw(fee), draw(fee)) for v in draw(st.lists(st.sampled_from(VENUES), unique=True))}
    side = draw(st.sampled_from([Side.BUY, Side.SELL]))
    limit = draw(st.none() | prices)
    quantity = draw(st.decimals(min_value=D("1"), max_value=D("3000"), places=0))
    return Want("AAPL", side, quantity, limit), b, closed, fees


@settings(max_examples=300, deadline=None)
@given(markets(), st.sampled_from(sorted(STRATEGIES) + ["static"]))
def test_children_never_exceed_leaves_cross_the_limit_or_go_to_an_open_breaker(market, name):
    want, b, closed, fees = market
    strategy = Static(lambda w: "A") if name == "static" else STRATEGIES[name]
    decision = route(strategy, want, b, NO_STATS, closed, fees)
    assert decision.quantity <= want.quantity
    for child in decision.children:
        assert child.quantity > 0
        assert child.venue not in closed
        if want.limit_price is not None:
            assert child.limit_price is not None
            assert child.limit_price <= want.limit_price if want.side is Side.BUY else child.limit_price >= want.limit_price
    if decision.children:
        assert decision.quantity == want.quantity  # whatever an open venue can take is placed

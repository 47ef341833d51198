"""A quote's depth: what `Quote` accepts and refuses, its bytes, and how the consolidated book folds it."""

from __future__ import annotations

import io
from decimal import Decimal as D

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from oms.domain.sor import UNTAGGED, Level, fold_quote
from oms.events import MAX_QUOTE_LEVELS, Quote, Side
from streams.codec import InvalidRecord, SingleObjectCodec
from tests.builders import depth_quote, quote


def levels(*pairs: tuple[str, int]) -> list[dict]:
    return [{"price": D(price), "size": D(size)} for price, size in pairs]


# ------------------------------------------------------------- validation


def test_a_quote_without_levels_is_top_of_book_only():
    q = quote()
    assert q.bid_levels == () and q.ask_levels == ()


def test_levels_keep_their_order_and_exact_values():
    q = depth_quote()
    assert [(level.price, level.size) for level in q.bid_levels] == [
        (D("187.24"), D(300)), (D("187.23"), D(500)), (D("187.22"), D(900))]
    assert [(level.price, level.size) for level in q.ask_levels] == [
        (D("187.26"), D(200)), (D("187.27"), D(400)), (D("187.28"), D(800))]


def test_one_side_may_show_depth_and_the_other_only_its_top():
    q = quote(bid_levels=levels(("187.24", 300), ("187.20", 1)))
    assert len(q.bid_levels) == 2 and q.ask_levels == ()


REFUSED = [
    ({"bid_levels": levels(("187.24", 301))}, "bid_levels: level 1 (301 @ 187.24) is not the top of book"),
    ({"ask_levels": levels(("187.25", 200))}, "ask_levels: level 1 (200 @ 187.25) is not the top of book"),
    ({"bid_levels": levels(("187.24", 300), ("187.24", 5))}, "bid_levels: level 2 at 187.24 is not strictly below"),
    ({"bid_levels": levels(("187.24", 300), ("187.25", 5))}, "bid_levels: level 2 at 187.25 is not strictly below"),
    ({"ask_levels": levels(("187.26", 200), ("187.25", 5))}, "ask_levels: level 2 at 187.25 is not strictly above"),
    ({"ask_levels": levels(("187.26", 200), ("187.27", 0))}, "ask_levels.1.size"),
    ({"ask_levels": levels(("187.26", 200), ("187.27", -1))}, "ask_levels.1.size"),
    ({"bid_levels": levels(("187.24", 300), ("0", 5))}, "bid_levels.1.price"),
    ({"bid_levels": [{"price": D("187.24"), "size": D(300)}, {"price": D("1.000000001"), "size": D(1)}]},
     "bid_levels.1.price"),
    ({"bid_levels": [{"price": D("187.24"), "size": D(300)}, {"price": D("1"), "size": D(10) ** 20}]},
     "bid_levels.1.size"),
    ({"bid_levels": [{"price": D("187.24"), "size": D(300), "venue": "X"}]}, "bid_levels.0.venue"),
    ({"bid_levels": [{"price": D("187.24"), "size": D(300)}] + [
        {"price": D("187.24") - D("0.01") * n, "size": D(1)} for n in range(1, MAX_QUOTE_LEVELS + 1)]},
     "bid_levels"),
]


@pytest.mark.parametrize(("fields", "says"), REFUSED, ids=[s for _, s in REFUSED])
def test_bad_levels_are_refused_naming_the_field(fields, says):
    with pytest.raises(ValidationError) as caught:
        quote(**fields)
    assert says in str(caught.value)


def test_a_book_of_the_most_levels_allowed_is_accepted():
    bids = [("187.24", 300)] + [(str(D("187.24") - D("0.01") * n), 1) for n in range(1, MAX_QUOTE_LEVELS)]
    assert len(quote(bid_levels=levels(*bids)).bid_levels) == MAX_QUOTE_LEVELS


# -------------------------------------------------------------- the wire


def test_levels_round_trip_through_the_codec_and_cost_bytes():
    codec = SingleObjectCodec()
    deep, top = depth_quote(), quote()
    assert codec.decode("oms.marketdata", codec.encode("oms.marketdata", deep)) == deep
    assert codec.decode("oms.marketdata", codec.encode("oms.marketdata", top)) == top
    assert len(codec.encode("oms.marketdata", deep)) > len(codec.encode("oms.marketdata", top))


def test_a_record_with_bad_levels_is_refused_by_the_decoder():
    codec = SingleObjectCodec()
    good = depth_quote()
    record = good.to_record()
    record["bid_levels"] = list(reversed(record["bid_levels"]))  # written past validation: worst first
    entry = codec.catalogue["oms.Quote"]
    body = io.BytesIO()
    fastavro.schemaless_writer(body, entry.parsed, record)
    with pytest.raises(InvalidRecord, match="bid_levels: level 1"):
        codec.decode("oms.marketdata", b"\xc3\x01" + entry.fingerprint + body.getvalue())


# ------------------------------------------------------- consolidated book


def test_the_book_takes_a_venues_levels_from_the_quote():
    books = fold_quote({}, depth_quote(venue="A"))
    venue = books["AAPL"].venues["A"]
    assert venue.bids == (Level(D("187.24"), D(300)), Level(D("187.23"), D(500)), Level(D("187.22"), D(900)))
    assert venue.asks == (Level(D("187.26"), D(200)), Level(D("187.27"), D(400)), Level(D("187.28"), D(800)))
    assert venue.ts_event == depth_quote().ts_event


def test_a_side_without_levels_is_its_top_and_a_later_top_only_quote_is_depth_one():
    books = fold_quote({}, quote(venue="A", ask_levels=levels(("187.26", 200), ("187.30", 50))))
    assert books["AAPL"].venues["A"].bids == (Level(D("187.24"), D(300)),)
    assert len(books["AAPL"].venues["A"].asks) == 2
    books = fold_quote(books, quote(venue="A"))
    assert books["AAPL"].venues["A"].asks == (Level(D("187.26"), D(200)),)


def test_depth_of_two_venues_sums_in_the_best_price_and_stays_apart_by_venue():
    books = fold_quote({}, depth_quote(venue="A"))
    books = fold_quote(books, quote(venue="B", ask_price=D("187.26"), ask_size=D(50), event_id="q-B",
                                    ask_levels=levels(("187.26", 50), ("187.29", 1000))))
    book = books["AAPL"]
    assert book.best_offer() == Level(D("187.26"), D(250))
    assert {v: sum(level.size for level in lv) for v, lv in book.side_levels(Side.BUY).items()} == {
        "A": D(1400), "B": D(1050)}
    untagged = fold_quote(books, depth_quote(venue=None))
    assert UNTAGGED in untagged["AAPL"].venues


TICK = D("0.01")


@st.composite
def depth_quotes(draw):
    venue = draw(st.sampled_from(["A", "B", "C"]))
    bid_ticks = draw(st.integers(min_value=60, max_value=10_000))
    spread = draw(st.integers(min_value=0, max_value=5))
    n_bids = draw(st.integers(min_value=0, max_value=6))
    n_asks = draw(st.integers(min_value=0, max_value=6))
    bid_gaps = draw(st.lists(st.integers(1, 3), min_size=n_bids, max_size=n_bids))
    ask_gaps = draw(st.lists(st.integers(1, 3), min_size=n_asks, max_size=n_asks))
    sizes = st.integers(min_value=1, max_value=5_000)
    bid_prices, p = [], bid_ticks
    for gap in bid_gaps:
        bid_prices.append(TICK * p)
        p -= gap
    ask_prices, p = [], bid_ticks + spread
    for gap in ask_gaps:
        ask_prices.append(TICK * p)
        p += gap
    bids = [{"price": price, "size": D(draw(sizes))} for price in bid_prices]
    asks = [{"price": price, "size": D(draw(sizes))} for price in ask_prices]
    top_bid = bids[0] if bids else {"price": TICK * bid_ticks, "size": D(draw(sizes))}
    top_ask = asks[0] if asks else {"price": TICK * (bid_ticks + spread), "size": D(draw(sizes))}
    return Quote(event_id=f"q-{venue}-{draw(st.integers(0, 999))}", ts_event=draw(st.integers(0, 10**18)), ts_init=0,
                 instrument="AAPL", venue=venue, bid_price=top_bid["price"], bid_size=top_bid["size"],
                 ask_price=top_ask["price"], ask_size=top_ask["size"], bid_levels=bids, ask_levels=asks)


@given(st.lists(depth_quotes(), min_size=1, max_size=12))
def test_the_book_shows_each_venues_last_quote_level_for_level(quotes):
    books: dict = {}
    for q in quotes:
        books = fold_quote(books, q)
    last = {q.venue: q for q in quotes}
    book = books["AAPL"]
    assert set(book.venues) == set(last)
    for venue, q in last.items():
        shown = book.venues[venue]
        want_bids = [(x.price, x.size) for x in q.bid_levels] or [(q.bid_price, q.bid_size)]
        want_asks = [(x.price, x.size) for x in q.ask_levels] or [(q.ask_price, q.ask_size)]
        assert [tuple(level) for level in shown.bids] == want_bids
        assert [tuple(level) for level in shown.asks] == want_asks
    assert book.best_bid().price == max(q.bid_price for q in last.values())
    assert book.best_offer().price == min(q.ask_price for q in last.values())
    assert book.best_offer().size == sum(q.ask_size for q in last.values() if q.ask_price == book.best_offer().price)

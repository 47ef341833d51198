"""The codec bench measures quotes as the synthetic feed publishes them: top of book, and five levels a side."""

from __future__ import annotations

from bench.codec import QUOTE_DEPTH, cases, sample_quote


def test_the_bench_quotes_are_the_feeds_with_and_without_depth():
    top, deep = sample_quote(1), sample_quote(QUOTE_DEPTH)
    assert (top.bid_levels, top.ask_levels) == ((), ())
    assert (len(deep.bid_levels), len(deep.ask_levels)) == (QUOTE_DEPTH, QUOTE_DEPTH)
    assert (deep.bid_price, deep.ask_price, deep.venue) == (top.bid_price, top.ask_price, "SIM-A")


def test_every_case_of_a_depth_quote_round_trips_and_costs_more_bytes_than_the_top():
    sizes = {}
    for name, quote in (("top", sample_quote(1)), ("deep", sample_quote(QUOTE_DEPTH))):
        for label, encode, decode, size in cases(quote):
            encode()
            decoded = decode()
            if label == "single-object":
                assert decoded == quote
                sizes[name] = size
    assert sizes["deep"] > sizes["top"]

"""The engine-state bench measures what it says: the bytes one input writes do not grow with the
account's open orders (the summary and the entries it touched), and its figures are filled in."""

from __future__ import annotations

from bench.state import measure


def test_the_bytes_an_input_writes_do_not_grow_with_the_open_orders():
    few, many = measure(5, 4), measure(400, 4)
    assert few["inputs"] == many["inputs"] == 4
    assert few["p50_us"] > 0 and few["p90_us"] >= few["p50_us"]
    assert abs(many["bytes_written"] - few["bytes_written"]) <= 40  # a few more digits in the totals

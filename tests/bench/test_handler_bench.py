"""The handler bench runs whole orders through the engine: each market order is accepted, acknowledged
and filled (three inputs), every output is encoded, and both costs are counted."""

from __future__ import annotations

from bench.handler import measure


def test_every_order_goes_through_its_three_inputs_and_both_costs_are_counted():
    got = measure(20, repeat=1)
    assert got["orders"] == 20
    assert got["inputs_per_order"] == 3.0  # the command, the venue's acknowledgement, its fill
    assert got["outputs_per_order"] >= 6  # journal events, the venue request, the fill, the order views
    assert got["handler_us"] > 0 and got["encode_us"] > 0
    assert got["total_us"] == got["handler_us"] + got["encode_us"]

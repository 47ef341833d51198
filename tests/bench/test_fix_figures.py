"""The arithmetic of the FIX benchmark's figures (the benchmark itself needs the JVM and runs by hand)."""

from __future__ import annotations

import math

from bench.fix import MESSAGES_PER_ORDER, figures


def test_figures_are_nearest_rank_percentiles_and_rates():
    got = figures("FIX", [float(n) for n in range(1, 101)], burst=500, burst_s=2.0)

    assert (got.p50_ms, got.p99_ms, got.max_ms, got.round_trips) == (50.0, 99.0, 100.0, 100)
    assert got.orders_per_s == 250.0
    assert got.messages_per_s == 250.0 * MESSAGES_PER_ORDER


def test_no_measurements_give_nan_not_an_error():
    got = figures("FIX", [], burst=0, burst_s=0.0)

    assert math.isnan(got.p50_ms) and math.isnan(got.max_ms) and math.isnan(got.orders_per_s)

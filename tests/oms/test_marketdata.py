"""Tests of `oms.marketdata` and `processors.marketdata_handler`.

Without a broker: the synthetic feed is deterministic per seed, on the tick,
positive and never crossed; `parse_time` reads both timestamp forms (the file
loader has its own tests in `tests/connectors/`). Against the session's real
broker: the sample CSV (through the one loader) and a short synthetic run are
published to `marketdata` keyed by instrument and read back decoded.
"""

from __future__ import annotations

import threading
from decimal import Decimal as D
from pathlib import Path

import pytest

from connectors.marketdata_files import load_file
from oms.clock import TestClock
from oms.events import Quote, Trade
from oms.clock import parse_time as parse_ts
from oms.marketdata import SyntheticFeed, md_event_id

SAMPLE = Path(__file__).resolve().parents[2] / "replay" / "data" / "sample_marketdata.csv"
T0 = 1_700_000_000_000_000_000
START = {"AAPL": D("187.00"), "MSFT": D("411.50"), "PENNY": D("0.02")}


def run_feed(seed: int, steps: int = 300, **kw) -> list:
    feed = SyntheticFeed(START, seed, **kw)
    out = []
    for i in range(steps):
        out.extend(feed.next(T0 + i * 1_000_000))
    return out


# ------------------------------------------------------------ synthetic feed


def test_feed_is_deterministic_per_seed():
    a, b, c = run_feed(42), run_feed(42), run_feed(43)
    assert a == b
    assert a != c


def test_feed_prices_on_tick_positive_and_not_crossed():
    for tick, spread in ((D("0.01"), 2), (D("0.05"), 1), (D("0.25"), 3)):
        events = run_feed(7, 500, tick=tick, spread_ticks=spread, max_step_ticks=3)
        quotes = [e for e in events if isinstance(e, Quote)]
        trades = [e for e in events if isinstance(e, Trade)]
        assert len(quotes) == 500 * len(START) and trades
        for q in quotes:
            assert 0 < q.bid_price < q.ask_price
            assert q.ask_price - q.bid_price == spread * tick
            assert q.bid_price % tick == 0 and q.ask_price % tick == 0
            assert q.bid_size > 0 and q.ask_size > 0
        for t in trades:
            assert t.price > 0 and t.price % tick == 0 and t.size > 0
        # the penny stock hits the floor and stays positive
        assert min(q.bid_price for q in quotes if q.instrument == "PENNY") == tick


def test_feed_ids_and_times():
    feed = SyntheticFeed({"AAPL": D("187.00")}, 1, trade_probability=1.0, max_step_ticks=0)
    first = feed.next(T0)
    assert [e.event_id for e in first] == ["md.AAPL.1", "md.AAPL.2"]
    assert isinstance(first[0], Quote) and isinstance(first[1], Trade)
    assert first[0].bid_price == D("186.99") and first[0].ask_price == D("187.01")  # start price is the mid
    assert first[1].price in (first[0].bid_price, first[0].ask_price)
    assert all(e.ts_event == e.ts_init == T0 for e in first)
    assert [e.event_id for e in feed.next(T0 + 1)] == ["md.AAPL.3", "md.AAPL.4"]
    long_id = md_event_id("X" * 64, 123456)
    assert len(long_id) <= 64 and long_id.endswith(".123456")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"instruments": {}}, "instruments"),
        ({"instruments": {"A": D(0)}}, "instruments"),
        ({"spread_ticks": 0}, "spread_ticks"),
        ({"tick": D(0)}, "tick"),
        ({"trade_probability": 2}, "trade_probability"),
    ],
)
def test_feed_rejects_bad_arguments(kwargs, field):
    args = {"instruments": {"A": D(1)}, "seed": 1, **kwargs}
    with pytest.raises(ValueError, match=field):
        SyntheticFeed(**args)


# ---------------------------------------------------------------- timestamps


def test_parse_ts_forms():
    assert parse_ts("1700000000000000001") == 1_700_000_000_000_000_001
    assert parse_ts("2023-11-14T22:13:20Z") == T0
    assert parse_ts("2023-11-14T22:13:20.000000001Z") == T0 + 1
    assert parse_ts("2023-11-14T22:13:20.5") == T0 + 500_000_000  # no offset: UTC
    assert parse_ts("2023-11-14T23:13:20.123456+01:00") == T0 + 123_456_000
    for bad in ("yesterday", "2023-13-14T00:00:00Z", "1.5", "-5"):
        with pytest.raises(ValueError):
            parse_ts(bad)


# -------------------------------------------------------------- integration


@pytest.fixture
def runtime(bootstrap_servers, unique_name):
    from oms.config import Settings
    from streams.runtime import connect

    settings = Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"{unique_name}.")
    rt = connect(settings)
    rt.ensure_topics()
    return rt


def read_back(rt, unique_name):
    from streams.kafka import read_all

    consumer = rt.event_consumer(f"{unique_name}-reader", "test", deadletter=False)
    try:
        return read_all(consumer, [rt.topics.marketdata], timeout=30)
    finally:
        consumer.close()


@pytest.mark.kafka
def test_publish_sample_csv_and_read_it_back(runtime, unique_name):
    from processors.marketdata_handler import publish_csv

    clock = TestClock(T0)
    expected = [e.model_copy(update={"ts_init": clock.now_ns()}) for e in load_file(SAMPLE)]
    assert publish_csv(runtime.settings, SAMPLE, clock, runtime=runtime) == len(expected)

    received = read_back(runtime, unique_name)
    assert len(received) == len(expected)
    for r in received:
        assert r.topic == runtime.topics.marketdata
        assert r.key == r.event.instrument
    # all of an instrument's events are on one partition, in file order
    for instrument in {e.instrument for e in expected}:
        got = [r for r in received if r.key == instrument]
        assert len({r.partition for r in got}) == 1
        assert [r.event for r in sorted(got, key=lambda r: r.offset)] == [
            e for e in expected if e.instrument == instrument
        ]


@pytest.mark.kafka
def test_run_synthetic_publishes_at_rate_and_stops(runtime, unique_name):
    from processors.marketdata_handler import run_synthetic

    instruments = {"AAPL": D("187.00"), "MSFT": D("411.50")}
    count = run_synthetic(runtime.settings, instruments, seed=3, rate_hz=100, duration_s=0.2,
                          clock=TestClock(T0), runtime=runtime)
    feed = SyntheticFeed(instruments, 3)
    expected = [e for _ in range(20) for e in feed.next(T0)]
    assert count == len(expected)
    received = read_back(runtime, unique_name)
    assert sorted((r.event.event_id for r in received)) == sorted(e.event_id for e in expected)
    assert {r.event.event_id: r.event for r in received} == {e.event_id: e for e in expected}

    stop = threading.Event()
    stop.set()
    assert run_synthetic(runtime.settings, instruments, rate_hz=100, stop=stop, clock=TestClock(T0),
                         runtime=runtime) == 0

"""Tests of `oms.marketdata` and `processors.marketdata_handler`.

Without a broker: the synthetic feed is deterministic per seed, on the tick,
positive and never crossed; the CSV reader parses quotes and trades with both
timestamp forms and names the line and field of a bad row. Against the
session's real broker: the sample CSV and a short synthetic run are published
to `marketdata` keyed by instrument and read back decoded.
"""

from __future__ import annotations

import threading
from decimal import Decimal as D
from pathlib import Path

import pytest

from oms.clock import TestClock
from oms.events import Quote, Trade
from oms.clock import parse_time as parse_ts
from oms.marketdata import CSV_COLUMNS, SyntheticFeed, md_event_id, read_csv

SAMPLE = Path(__file__).resolve().parents[2] / "replay" / "data" / "sample_marketdata.csv"
T0 = 1_700_000_000_000_000_000
HEADER = ",".join(CSV_COLUMNS)
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


# ------------------------------------------------------------------------ CSV


def write(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "md.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_parse_ts_forms():
    assert parse_ts("1700000000000000001") == 1_700_000_000_000_000_001
    assert parse_ts("2023-11-14T22:13:20Z") == T0
    assert parse_ts("2023-11-14T22:13:20.000000001Z") == T0 + 1
    assert parse_ts("2023-11-14T22:13:20.5") == T0 + 500_000_000  # no offset: UTC
    assert parse_ts("2023-11-14T23:13:20.123456+01:00") == T0 + 123_456_000
    for bad in ("yesterday", "2023-13-14T00:00:00Z", "1.5", "-5"):
        with pytest.raises(ValueError):
            parse_ts(bad)


def test_read_sample_file():
    events = list(read_csv(SAMPLE))
    assert 40 <= len(events) <= 60
    assert {e.instrument for e in events} == {"AAPL", "MSFT", "GOOG"}
    assert any(isinstance(e, Trade) for e in events) and any(isinstance(e, Quote) for e in events)
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.ts_init == e.ts_event for e in events)
    assert [e.ts_event for e in events] == sorted(e.ts_event for e in events)


def test_read_csv_quotes_and_trades(tmp_path):
    path = write(
        tmp_path,
        HEADER,
        "quote,2023-11-14T22:13:20Z,AAPL,187.01,100,187.03,200,,",
        "",
        "# a comment",
        "trade,1700000000000000005,AAPL,,,,,187.03,50",
        "QUOTE,1700000000000000006,MSFT,411.5,1,411.5,2,,",
    )
    clock = TestClock(T0 + 99)
    q, t, m = read_csv(path, clock)
    assert q == Quote(event_id="md.AAPL.1", ts_event=T0, ts_init=T0 + 99, instrument="AAPL",
                      bid_price=D("187.01"), bid_size=D(100), ask_price=D("187.03"), ask_size=D(200))
    assert t == Trade(event_id="md.AAPL.2", ts_event=T0 + 5, ts_init=T0 + 99, instrument="AAPL",
                      price=D("187.03"), size=D(50))
    assert m.event_id == "md.MSFT.1" and m.bid_price == m.ask_price
    assert isinstance(q.bid_price, D)


def test_read_csv_optional_venue_column(tmp_path):
    path = write(tmp_path, HEADER + ",venue", "trade,1,AAPL,,,,,1.5,2,XNAS", "trade,2,AAPL,,,,,1.5,2,")
    a, b = read_csv(path)
    assert a.venue == "XNAS" and b.venue is None


@pytest.mark.parametrize(
    "row, line, field",
    [
        ("quote,1,AAPL,abc,1,2,1,,", 3, "bid_price"),
        ("quote,1,AAPL,1,1,,1,,", 3, "ask_price"),
        ("quote,1,AAPL,2,1,1,1,,", 3, "bid_price"),  # crossed
        ("quote,1,AAPL,1,-1,2,1,,", 3, "bid_size"),
        ("quote,1,AAPL,1,1,2,1,,,", 3, "row"),  # too many fields
        ("trade,later,AAPL,,,,,1,1", 3, "ts"),
        ("trade,1,AAPL,,,,,0,1", 3, "price"),
        ("trade,1,AAPL,,,,,1,NaN", 3, "size"),
        ("trade,1,,,,,,1,1", 3, "instrument"),
        ("trade,1,bad name,,,,,1,1", 3, "instrument"),
        ("quota,1,AAPL,1,1,2,1,,", 3, "type"),
    ],
)
def test_read_csv_bad_row_names_line_and_field(tmp_path, row, line, field):
    path = write(tmp_path, HEADER, "trade,1,AAPL,,,,,1,1", row)
    with pytest.raises(ValueError, match=rf"line {line}: {field}:") as info:
        list(read_csv(path))
    assert str(path) in str(info.value)


def test_read_csv_bad_header_and_empty_file(tmp_path):
    with pytest.raises(ValueError, match="line 1: header"):
        list(read_csv(write(tmp_path, "type,ts,instrument,price,size", "trade,1,AAPL,1,1")))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="line 1: header"):
        list(read_csv(empty))


def test_read_csv_counts_physical_lines(tmp_path):
    path = write(tmp_path, HEADER, "", "# note", "trade,1,AAPL,,,,,1,1", "trade,1,AAPL,,,,,x,1")
    with pytest.raises(ValueError, match="line 5: price:"):
        list(read_csv(path))


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
    expected = list(read_csv(SAMPLE, clock))
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

"""The market data file loaders: every timestamp form, column maps, Parquet, bad rows reported or skipped."""

from decimal import Decimal
from pathlib import Path

import pytest

from connectors.marketdata_files import (BadRow, ColumnMap, LoadReport, TimeFormat, load_file, load_files,
                                         parse_timestamp)
from oms.events import Quote, Side, Trade

T = 1717425000123000000  # 2024-06-03T14:30:00.123Z


@pytest.mark.parametrize("text, form", [
    ("2024-06-03T14:30:00.123Z", TimeFormat.AUTO),
    ("2024-06-03T16:30:00.123+02:00", TimeFormat.AUTO),
    ("2024-06-03 14:30:00.123", TimeFormat.AUTO),
    ("20240603 143000123", TimeFormat.AUTO),
    ("20240603-14:30:00.123".replace(":", ""), TimeFormat.COMPACT),
    ("1717425000.123", TimeFormat.AUTO),
    ("1717425000123", TimeFormat.AUTO),
    ("1717425000123000", TimeFormat.AUTO),
    ("1717425000123000000", TimeFormat.AUTO),
    ("1717425000123", TimeFormat.EPOCH_MS),
    ("1717425000.123", TimeFormat.EPOCH_S),
])
def test_every_timestamp_form_gives_the_same_nanoseconds(text, form):
    assert parse_timestamp(text, form) == T


def test_a_stated_form_wins_over_detection_and_a_wrong_one_is_an_error():
    assert parse_timestamp("1717425000", TimeFormat.EPOCH_MS) == 1717425000 * 1_000_000
    with pytest.raises(ValueError, match="ISO"):
        parse_timestamp("1717425000", TimeFormat.ISO)
    with pytest.raises(ValueError, match="nanoseconds"):
        parse_timestamp("1.0000000001", TimeFormat.EPOCH_S)


def test_a_vendor_layout_loads_through_a_column_map(tmp_path):
    path = tmp_path / "AAPL.csv"
    path.write_text("time,bid,bsz,ask,asz\n20240603 143000123,186.99,200,187.01,500\n")
    columns = ColumnMap.parse("ts=time,bid_price=bid,bid_size=bsz,ask_price=ask,ask_size=asz")
    [quote] = list(load_file(path, columns, instrument="AAPL", venue="SIM-A"))
    assert isinstance(quote, Quote)
    assert (quote.ts_event, quote.instrument, quote.venue) == (T, "AAPL", "SIM-A")
    assert (quote.bid_price, quote.ask_size) == (Decimal("186.99"), Decimal(500))


def test_trades_with_a_side_column_and_an_instrument_column(tmp_path):
    path = tmp_path / "trades.csv"
    path.write_text("ts,sym,px,qty,side\n1717425000123,MSFT,411.48,100,S\n")
    [trade] = list(load_file(path, ColumnMap.parse("instrument=sym,price=px,size=qty")))
    assert isinstance(trade, Trade)
    assert (trade.instrument, trade.price, trade.size, trade.aggressor) == ("MSFT", Decimal("411.48"), 100, Side.SELL)


def test_a_bad_row_names_file_and_line_or_is_skipped_and_counted(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("type,ts,instrument,bid_price,bid_size,ask_price,ask_size,price,size\n"
                    "quote,1717425000123,AAPL,186.99,200,187.01,500,,\n"
                    "# a comment\n"
                    "quote,yesterday,AAPL,186.99,200,187.01,500,,\n"
                    "quote,1717425000124,AAPL,abc,200,187.01,500,,\n"
                    "quote,1717425000125,AAPL,186.99,200,187.01,500,,\n")
    with pytest.raises(BadRow) as caught:
        list(load_file(path))
    assert (caught.value.line, caught.value.file) == (4, str(path))
    assert "ts" in caught.value.reason
    report = LoadReport()
    events = list(load_file(path, skip_bad=True, report=report))
    assert [e.ts_event for e in events] == [1717425000123000000, 1717425000125000000]
    assert report.skipped == 2 and report.events == 2
    assert [b.line for b in report.bad] == [4, 5] and "bid_price" in report.bad[1].reason


def test_parquet_loads_like_csv_and_files_merge_by_time(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"ts": [T, T + 2], "bid_price": ["1.01", "1.02"], "bid_size": [100.0, 100.0],
                             "ask_price": ["1.03", "1.04"], "ask_size": [5, 5]}), tmp_path / "X.parquet")
    (tmp_path / "Y.csv").write_text("ts,price,size\n" f"{T + 1},2.5,10\n")
    events = list(load_files([tmp_path / "X.parquet", tmp_path / "Y.csv"], per_instrument_files=True))
    assert [(e.instrument, e.ts_event) for e in events] == [("X", T), ("Y", T + 1), ("X", T + 2)]
    assert events[0].bid_size == Decimal(100) and events[1].price == Decimal("2.5")


def test_a_file_whose_columns_say_nothing_is_refused_at_the_header(tmp_path):
    path = tmp_path / "z.csv"
    path.write_text("when,what\n1,2\n")
    with pytest.raises(BadRow, match="line 1: header: no timestamp column"):
        list(load_file(path))


# ------------------------------------------- the project's own layout (the default column map)

SAMPLE = Path(__file__).resolve().parents[2] / "replay" / "data" / "sample_marketdata.csv"
HEADER = "type,ts,instrument,bid_price,bid_size,ask_price,ask_size,price,size"
T0 = 1_700_000_000_000_000_000


def write(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "md.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_the_shipped_sample_loads_in_time_order_with_unique_ids():
    events = list(load_file(SAMPLE))
    assert 40 <= len(events) <= 60
    assert {e.instrument for e in events} == {"AAPL", "MSFT", "GOOG"}
    assert any(isinstance(e, Trade) for e in events) and any(isinstance(e, Quote) for e in events)
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.ts_init == e.ts_event for e in events)
    assert [e.ts_event for e in events] == sorted(e.ts_event for e in events)


def test_quotes_and_trades_of_the_default_layout_with_comments_blank_lines_and_any_case(tmp_path):
    path = write(
        tmp_path,
        HEADER.upper(),
        "quote,2023-11-14T22:13:20Z,AAPL,187.01,100,187.03,200,,",
        "",
        "# a comment",
        "trade,1700000000000000005,AAPL,,,,,187.03,50",
        "QUOTE,1700000000000000006,MSFT,411.5,1,411.5,2,,",
    )
    q, t, m = load_file(path)
    assert q == Quote(event_id="md.AAPL.1", ts_event=T0, ts_init=T0, instrument="AAPL",
                      bid_price=Decimal("187.01"), bid_size=Decimal(100), ask_price=Decimal("187.03"),
                      ask_size=Decimal(200))
    assert t == Trade(event_id="md.AAPL.2", ts_event=T0 + 5, ts_init=T0 + 5, instrument="AAPL",
                      price=Decimal("187.03"), size=Decimal(50))
    assert m.event_id == "md.MSFT.1" and m.bid_price == m.ask_price
    assert isinstance(q.bid_price, Decimal)


def test_an_optional_venue_column(tmp_path):
    path = write(tmp_path, HEADER + ",venue", "trade,1,AAPL,,,,,1.5,2,XNAS", "trade,2,AAPL,,,,,1.5,2,")
    a, b = load_file(path)
    assert a.venue == "XNAS" and b.venue is None


@pytest.mark.parametrize(
    "row, field",
    [
        ("quote,1,AAPL,abc,1,2,1,,", "bid_price"),
        ("quote,1,AAPL,1,1,,1,,", "ask_price"),
        ("quote,1,AAPL,2,1,1,1,,", "bid_price"),  # crossed
        ("quote,1,AAPL,1,-1,2,1,,", "bid_size"),
        ("quote,1,AAPL,1,1,2,1,,,", "row"),  # too many fields
        ("trade,later,AAPL,,,,,1,1", "ts"),
        ("trade,1,AAPL,,,,,0,1", "price"),
        ("trade,1,AAPL,,,,,1,NaN", "size"),
        ("trade,1,,,,,,1,1", "instrument"),
        ("trade,1,bad name,,,,,1,1", "instrument"),
        ("quota,1,AAPL,1,1,2,1,,", "type"),
    ],
)
def test_a_bad_row_names_file_line_and_field(tmp_path, row, field):
    path = write(tmp_path, HEADER, "trade,1,AAPL,,,,,1,1", row)
    with pytest.raises(BadRow, match=rf"line 3: {field}:") as caught:
        list(load_file(path))
    assert caught.value.file == str(path) and caught.value.line == 3


def test_an_empty_file_and_a_bad_fixed_instrument_are_refused_at_the_header(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(BadRow, match="line 1: header"):
        list(load_file(empty))
    with pytest.raises(BadRow, match="line 1: header: 'bad name' is not an identifier"):
        list(load_file(write(tmp_path, "ts,price,size", "1,1,1"), instrument="bad name"))


def test_line_numbers_are_physical_lines(tmp_path):
    path = write(tmp_path, HEADER, "", "# note", "trade,1,AAPL,,,,,1,1", "trade,1,AAPL,,,,,x,1")
    with pytest.raises(BadRow, match="line 5: price:"):
        list(load_file(path))

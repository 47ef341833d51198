"""The market data file loaders: every timestamp form, column maps, Parquet, bad rows reported or skipped."""

from decimal import Decimal

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


def test_the_shipped_sample_reads_as_the_project_reader_reads_it():
    from oms.marketdata import read_csv

    sample = "replay/data/sample_marketdata.csv"
    assert list(load_file(sample)) == list(read_csv(sample))

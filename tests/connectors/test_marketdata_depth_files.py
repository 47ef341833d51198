"""Market data files with depth: level columns (`bid_price_1`, ...) through the column map into a quote's levels."""

import re
from decimal import Decimal as D
from pathlib import Path

import pytest

from connectors.marketdata_files import BadRow, ColumnMap, load_file
from oms.events import Quote

LEVELS = "bid_price_1,bid_size_1,ask_price_1,ask_size_1,bid_price_2,bid_size_2,ask_price_2,ask_size_2"


def write(tmp_path: Path, *lines: str, name: str = "depth.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def sides(q: Quote) -> tuple[list, list]:
    return ([(x.price, x.size) for x in q.bid_levels], [(x.price, x.size) for x in q.ask_levels])


def test_level_columns_alone_make_quotes_whose_top_is_level_one(tmp_path):
    path = write(tmp_path, f"ts,instrument,{LEVELS}", "1,AAPL,100,10,100.02,5,99.99,20,100.03,7")
    [q] = list(load_file(path))
    assert isinstance(q, Quote)
    assert (q.bid_price, q.bid_size, q.ask_price, q.ask_size) == (D(100), D(10), D("100.02"), D(5))
    assert sides(q) == ([(D(100), D(10)), (D("99.99"), D(20))], [(D("100.02"), D(5)), (D("100.03"), D(7))])


def test_top_columns_beside_levels_must_agree_with_level_one(tmp_path):
    header = f"ts,instrument,bid_price,bid_size,ask_price,ask_size,{LEVELS}"
    good = write(tmp_path, header, "1,AAPL,100,10,100.02,5,100,10,100.02,5,99.99,20,100.03,7")
    [q] = list(load_file(good))
    assert len(q.bid_levels) == 2
    bad = write(tmp_path, header, "1,AAPL,100,11,100.02,5,100,10,100.02,5,99.99,20,100.03,7", name="bad.csv")
    with pytest.raises(BadRow, match=r"line 2: bid_levels: level 1 \(10 @ 100\) is not the top of book"):
        list(load_file(bad))


def test_a_thinner_row_leaves_out_blank_and_empty_levels(tmp_path):
    path = write(tmp_path, f"ts,instrument,{LEVELS}",
                 "1,AAPL,100,10,100.02,5,,,100.03,7",
                 "2,AAPL,100,10,100.02,5,0,0,100.03,7",  # vendors pad a thin book with size 0
                 "3,AAPL,100,10,100.02,5,99.98,0,100.03,0")
    first, second, third = load_file(path)
    assert sides(first) == sides(second) == ([(D(100), D(10))], [(D("100.02"), D(5)), (D("100.03"), D(7))])
    assert sides(third) == ([(D(100), D(10))], [(D("100.02"), D(5))])


def test_a_vendor_layout_maps_its_level_columns_by_template(tmp_path):
    path = write(tmp_path, "time,BP1,BS1,AP1,AS1,BP2,BS2,AP2,AS2,BP3,BS3,AP3,AS3",
                 "1717425000123,186.99,200,187.01,500,186.98,300,187.02,100,186.97,50,187.05,10")
    columns = ColumnMap.parse("ts=time,bid_price_n=BP{n},bid_size_n=BS{n},ask_price_n=AP{n},ask_size_n=AS{n}")
    [q] = list(load_file(path, columns, instrument="AAPL", venue="SIM-A"))
    assert (q.venue, len(q.bid_levels), len(q.ask_levels)) == ("SIM-A", 3, 3)
    assert q.ask_levels[2].price == D("187.05") and q.bid_levels[2].size == D(50)


def test_level_columns_in_any_case_and_parquet_load_like_csv(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    csv = write(tmp_path, f"TS,INSTRUMENT,{LEVELS.upper()}", "1,AAPL,100,10,100.02,5,99.99,20,100.03,7")
    table = pa.table({"ts": [1], "instrument": ["AAPL"], "bid_price_1": [100.0], "bid_size_1": [10],
                      "ask_price_1": [100.02], "ask_size_1": [5], "bid_price_2": [99.99], "bid_size_2": [20],
                      "ask_price_2": [100.03], "ask_size_2": [7]})
    pq.write_table(table, tmp_path / "depth.parquet")
    [from_csv], [from_parquet] = list(load_file(csv)), list(load_file(tmp_path / "depth.parquet"))
    assert sides(from_csv) == sides(from_parquet)


@pytest.mark.parametrize(("row", "says"), [
    ("1,AAPL,100,10,100.02,5,99.99,,100.03,7", "line 2: bid_size_2: missing"),
    ("1,AAPL,100,10,100.02,5,,20,100.03,7", "line 2: bid_price_2: missing"),
    ("1,AAPL,100,10,100.02,5,99.99,x,100.03,7", "line 2: bid_size_2: 'x' is not a decimal number"),
    ("1,AAPL,100,10,100.02,5,99.99,-3,100.03,7", "line 2: bid_size_2: -3 is not positive"),
    ("1,AAPL,100,10,100.02,5,100.01,20,100.03,7", "line 2: bid_levels: level 2 at 100.01 is not strictly below"),
    ("1,AAPL,100,10,100.02,5,99.99,20,100.02,7", "line 2: ask_levels: level 2 at 100.02 is not strictly above"),
    ("1,AAPL,100,10,100.02,5,99.99,20.000000001,100.03,7", "line 2: bid_size_2:"),
])
def test_a_bad_level_names_the_line_and_the_column(tmp_path, row, says):
    path = write(tmp_path, f"ts,instrument,{LEVELS}", row)
    with pytest.raises(BadRow) as caught:
        list(load_file(path))
    assert says in str(caught.value)


def test_a_level_with_a_price_column_and_no_size_column_is_refused_at_the_header(tmp_path):
    path = write(tmp_path, "ts,instrument,bid_price_1,bid_size_1,ask_price_1,ask_size_1,ask_price_2",
                 "1,AAPL,1,1,2,1,3")
    with pytest.raises(BadRow, match="line 1: header: level 2: the ask side needs both price and size columns, "
                                     "no 'ask_size_2'"):
        list(load_file(path))


@pytest.mark.parametrize("spec", ["bid_price_n=BP", "bid_price_n=BP{n}{n}", "bid_price_n=BP{m}"])
def test_a_level_template_needs_one_n(spec):
    with pytest.raises(ValueError, match=r"columns: bid_price_n=.* is not a column name template with one \{n\}"):
        ColumnMap.parse(spec)


def test_the_readme_example_loads_as_documented(tmp_path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    [example] = re.findall(r"^```text\n(ts,instrument,venue,bid_price_1.*?)^```", readme, re.S | re.M)
    first, second = load_file(write(tmp_path, example.strip()))
    assert (first.venue, len(first.bid_levels), len(first.ask_levels)) == ("SIM-A", 2, 2)
    assert sides(second) == ([(D("187.24"), D(300))], [(D("187.26"), D(200)), (D("187.27"), D(400))])

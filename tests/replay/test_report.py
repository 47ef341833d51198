"""Backtest results on disk: tables round-trip through Parquet exactly, plots and one HTML report are written."""

from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq

from connectors.marketdata_files import load_files
from replay.backtest import BacktestConfig, run_backtest
from replay.models import Latency, VenueModel
from replay.report import write_report
from replay.strategies import PassiveMaker

DATA = sorted(Path("replay/data/backtest").glob("*.csv"))


def test_write_report_gives_tables_plots_and_one_html(tmp_path):
    md = list(load_files(DATA))[:600]
    result = run_backtest(md, PassiveMaker("AAPL"), BacktestConfig(
        venues={"SIM-A": VenueModel(entry=Latency(100_000), maker_fee_bps=Decimal("-0.2")),
                "SIM-B": VenueModel(entry=Latency(900_000))}))
    paths = write_report(result, tmp_path)
    fills = pq.read_table(paths["fills.parquet"]).to_pylist()
    assert len(fills) == len(result.fills) > 0
    assert [Decimal(f["price"]) for f in fills] == [f["price"] for f in result.fills]
    page = paths["report"].read_text()
    assert page.count("data:image/png;base64,") == 3 and "SIM-B" in page
    assert paths["pnl.png"].read_bytes()[:4] == b"\x89PNG"
    assert paths["journal"].read_bytes() == result.journal_bytes()

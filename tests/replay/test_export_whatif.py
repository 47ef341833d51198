"""Exports round-trip the journal (file → tables → Parquet/CSV), and what-if finds a known change."""

import json
from decimal import Decimal
from enum import Enum
from pathlib import Path

import pandas as pd
import pytest
import pyarrow.parquet as pq

from connectors.marketdata_files import load_files
from oms.domain.risk import Controls, parse_default_limits
from oms.events import Quote, Side
from oms.routing import StaticRouter
from replay.backtest import BacktestConfig, Context, Recorded, run_backtest
from replay.export import export, export_files, fills_schema, journal_from_file, journal_schema, write_export
from replay.models import Latency, VenueModel
from replay.strategies import PassiveMaker
from replay.whatif import diff_orders, orders_of_export, what_if

T0 = 1_717_425_000_000_000_000
MS = 1_000_000
VENUES = {"SIM-A": VenueModel(), "SIM-B": VenueModel()}


def quotes():
    return [Quote(event_id=f"q{i}{v}", ts_event=T0 + i * 10 * MS, ts_init=T0 + i * 10 * MS, instrument="X", venue=v,
                  bid_price=Decimal("100.00"), bid_size=Decimal(1000), ask_price=Decimal("100.02"),
                  ask_size=Decimal(1000)) for i in range(5) for v in VENUES]


def commands():
    ctx = Context("ACC", "trader")
    out = []
    for i, qty in enumerate((100, 5000, 200)):
        ctx.now = T0 + (i + 1) * 10 * MS + 1
        out.append(ctx.buy("X", qty))
    return out


def test_export_round_trips_a_backtest_journal_as_of_a_time(tmp_path):
    result = run_backtest(quotes(), Recorded(commands()), BacktestConfig(venues=VENUES, account="ACC"))
    (tmp_path / "journal.bin").write_bytes(result.journal_bytes())
    events = list(journal_from_file(tmp_path / "journal.bin"))
    assert events == result.journal
    tables = export(events)
    assert sorted((o["client_order_id"], o["cum_qty"]) for o in tables.orders) == sorted(
        (o["client_order_id"], o["cum_qty"]) for o in result.orders)
    assert [p["quantity"] for p in tables.positions] == [sum(f["quantity"] for f in result.fills)] == [3100]
    paths = write_export(tables, tmp_path / "out")
    fills = pq.read_table(paths["fills"]).to_pylist()
    assert [Decimal(f["price"]) for f in fills] == [f["price"] for f in result.fills]
    assert len(pq.read_table(paths["journal"])) == len(events)
    early = export(events, as_of=T0 + 15 * MS)
    assert [o["cum_qty"] for o in early.orders] == [Decimal(100)]
    assert export(events, account="OTHER").orders == [] and export(events, instrument="Y").fills == []
    csv_paths = write_export(tables, tmp_path / "csv", "csv")
    assert csv_paths["orders"].read_text().count("\n") == 4
    frames = tables.frames()
    assert set(frames) == {"journal", "orders", "fills", "positions"} and len(frames["fills"]) == len(result.fills) == 4


def _rows_of(events):
    """The journal table as one dict per event, built plainly: the reference of `JournalTable`."""
    rows = [{"type": type(e).__name__, **{k: v.value if isinstance(v, Enum) else v for k, v in e.__dict__.items()}}
            for e in events]
    columns: dict = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return [{c: row.get(c) for c in columns} for row in rows]


def test_the_journal_table_equals_a_row_per_event_over_every_kind_of_event(tmp_path):
    config = BacktestConfig(venues={"SIM-A": VenueModel(entry=Latency(200_000, 100_000), reject_probability=0.1),
                                    "SIM-B": VenueModel(entry=Latency(1_000_000, sigma=0.5))}, seed=5)
    market_data = list(load_files(sorted(Path("replay/data/backtest").glob("*.csv"))))[:1500]
    maker = run_backtest(market_data, PassiveMaker("AAPL"), config).journal
    denied = run_backtest(quotes(), Recorded(commands()), BacktestConfig(
        venues=VENUES, account="ACC", controls=Controls(defaults=parse_default_limits("max_order_qty=1000")))).journal
    events = maker[:40] + denied + maker[40:]  # classes interleaved, several columns missing from some rows
    kinds = {type(e).__name__ for e in events}
    assert {"OrderDenied", "OrderFilled", "OrderCanceled", "OrderRejected", "OrderCancelRejected"} <= kinds
    table = export(events).journal
    expected = _rows_of(events)
    typed = lambda rows: [[(k, type(v), v) for k, v in row.items()] for row in rows]  # enums are str: 'BUY' == Side.BUY
    assert len(table) == len(events) and typed(table) == typed(expected)
    assert list(table.columns()) == list(expected[0])  # first-seen order
    pd.testing.assert_frame_equal(export(events).frames()["journal"], pd.DataFrame(expected))
    exported = export(events)
    paths = write_export(exported, tmp_path / "out")
    in_file = pq.read_table(paths["journal"])
    assert in_file.schema == journal_schema()  # every journal field, whatever the journal holds
    assert in_file.to_pylist() == [{c: row.get(c) for c in journal_schema().names} for row in expected]
    assert fills_schema().names == list(exported.fills[0])  # every field of a fill row has its column
    for name in ("orders", "fills", "positions"):
        assert pq.read_table(paths[name]).to_pylist() == getattr(exported, name) != []
    one_kind = [e for e in events if type(e).__name__ == "OrderAccepted"]
    assert typed(export(one_kind).journal) == typed(_rows_of(one_kind))
    assert len(export([]).journal) == 0 and export([]).frames()["journal"].empty


def test_a_journal_file_is_read_frame_by_frame_and_a_bad_frame_is_named_by_its_byte(tmp_path):
    result = run_backtest(quotes(), Recorded(commands()), BacktestConfig(venues=VENUES, account="ACC"))
    data = result.journal_bytes()
    path = tmp_path / "journal.bin"
    path.write_bytes(b"")
    assert list(journal_from_file(path)) == []
    path.write_bytes(data)
    counted: list[int] = []
    assert list(journal_from_file(path, on_bytes=counted.append)) == result.journal
    assert sum(counted) == len(data) and len(counted) == len(result.journal)
    first = 4 + int.from_bytes(data[:4], "big")  # the second frame: length, C3 01, 8-byte schema fingerprint, body
    for broken, says in ((data[:-3], "truncated frame at byte"), (data + b"\x00\x00", "truncated frame length at byte"),
                         (data[:first + 6] + b"\xff" * 8 + data[first + 14:], f"byte {first}:")):
        path.write_bytes(broken)
        with pytest.raises(ValueError, match=says):
            list(journal_from_file(path))


def test_a_streamed_export_writes_the_same_files_a_chunk_at_a_time(tmp_path):
    result = run_backtest(quotes(), Recorded(commands()), BacktestConfig(venues=VENUES, account="ACC"))
    chunks: dict[str, list[int]] = {"journal": [], "fills": []}
    held = export(result.journal, on_chunk=lambda name, columns: chunks[name].append(len(columns["fill_id" if name == "fills" else "type"])),
                  chunk_rows=3)
    assert sum(chunks["journal"]) == len(result.journal) and max(chunks["journal"]) == 3 and len(held.journal) == 0
    assert chunks["fills"] == [3, 1] and held.fills == [] and len(held.orders) == 3
    for fmt in ("parquet", "csv"):
        whole = write_export(export(result.journal), tmp_path / f"whole-{fmt}", fmt)
        streamed = export_files(result.journal, tmp_path / f"streamed-{fmt}", fmt, chunk_rows=3)
        assert streamed["journal"][1] == len(result.journal) and streamed["fills"][1] == 4
        for name, path in whole.items():
            if fmt == "csv":
                assert streamed[name][0].read_bytes() == path.read_bytes()  # one header, then every chunk
            else:
                assert pq.read_table(streamed[name][0]).equals(pq.read_table(path))
    nothing = export_files(result.journal, tmp_path / "none", as_of=T0 - 1)
    assert nothing["journal"][1] == 0 and pq.read_table(nothing["journal"][0]).schema == journal_schema()
    assert nothing["fills"][1] == 0 and pq.read_table(nothing["fills"][0]).schema == fills_schema()


def test_what_if_a_smaller_order_limit_denies_the_large_order_and_moves_pnl():
    result = what_if(commands(), quotes(), BacktestConfig(venues=VENUES, account="ACC"),
                     controls=Controls(defaults=parse_default_limits("max_order_qty=1000")))
    denied, freed = result.changes  # the large order is denied; the liquidity it took fills the next one
    assert (denied.client_order_id, denied.what, denied.actual) == ("C0000002", "denied_now", "PARTIALLY_FILLED")
    assert "MAX_ORDER_QTY" in denied.whatif
    assert (freed.client_order_id, freed.what, freed.actual, freed.whatif) == ("C0000003", "fill_changed", "0", "200")
    assert result.fees_actual == result.fees_whatif == 0
    assert result.pnl_delta != 0


def test_what_if_another_route_moves_orders_to_another_venue():
    result = what_if(commands(), quotes(), BacktestConfig(venues=VENUES, account="ACC"),
                     router=StaticRouter.parse("X=SIM-B", "SIM-A", venues=VENUES))
    assert [c.what for c in result.changes] == ["venue_changed"] * 3
    assert {c.whatif for c in result.changes} == {"SIM-B"}


def test_a_recorded_journal_diffs_against_a_what_if_run():
    actual = run_backtest(quotes(), Recorded(commands()), BacktestConfig(venues=VENUES, account="ACC"))
    recorded = orders_of_export(export(actual.journal))
    assert diff_orders(recorded, actual.orders) == []


def whatif_files(directory):
    """`commands()` as a JSON-lines commands file and `quotes()` as a market data CSV under `directory`:
    the arguments of `oms whatif` for them (limits and venues included)."""
    lines = []
    for c in commands():
        record = {k: (v.value if hasattr(v, "value") else str(v) if isinstance(v, Decimal) else v)
                  for k, v in c.__dict__.items()}
        lines.append(json.dumps({"type": "NewOrder", **record}))
    (directory / "cmds.jsonl").write_text("\n".join(lines))
    md = directory / "md.csv"
    md.write_text("type,ts,instrument,venue,bid_price,bid_size,ask_price,ask_size,price,size\n" + "".join(
        f"quote,{q.ts_event},X,{q.venue},100.00,1000,100.02,1000,,\n" for q in quotes()))
    return ["whatif", "--commands", str(directory / "cmds.jsonl"), "--data", str(md), "--venue", "SIM-A",
            "--venue", "SIM-B", "--limits", "max_order_qty=1000"]


def test_oms_whatif_prints_the_changes(tmp_path, capsys):
    from entrypoints.backtest import main

    status = main(whatif_files(tmp_path))
    assert status == 0
    assert "denied_now" in capsys.readouterr().out


def test_oms_export_writes_the_tables_of_a_journal_file(tmp_path, capsys):
    from entrypoints.export import main

    result = run_backtest(quotes(), Recorded(commands()), BacktestConfig(venues=VENUES, account="ACC"))
    (tmp_path / "journal.bin").write_bytes(result.journal_bytes())
    status = main(["--journal", str(tmp_path / "journal.bin"), "--format", "csv", "--out", str(tmp_path / "x"),
                   "--as-of", str(T0 + 15 * MS)])
    assert status == 0
    printed = capsys.readouterr()
    assert "orders: 1 rows" in printed.out
    assert "export: 100%" in printed.err  # the bar counts the file's bytes to its end
    assert (tmp_path / "x" / "fills.csv").read_text().count("\n") == 2
    assert main(["--journal", str(tmp_path / "journal.bin"), "--out", str(tmp_path / "y"), "--no-progress"]) == 0
    printed = capsys.readouterr()
    assert printed.err == "" and f"journal: {len(result.journal)} rows" in printed.out
    assert main(["--journal", str(tmp_path / "missing.bin")]) != 0


def test_a_recorded_journal_is_what_happened_and_a_tighter_limit_is_diffed_against_it(tmp_path):
    from replay.whatif import against_journal

    happened = run_backtest(quotes(), Recorded(commands()), BacktestConfig(venues=VENUES, account="ACC"))
    same = against_journal(happened.journal, commands(), quotes(), BacktestConfig(venues=VENUES, account="ACC"))
    assert same.changes == [] and same.pnl_delta == 0
    tighter = against_journal(happened.journal, commands(), quotes(), BacktestConfig(
        venues=VENUES, account="ACC", controls=Controls(defaults=parse_default_limits("max_order_qty=1000"))))
    assert [c.what for c in tighter.changes] == ["denied_now", "fill_changed"]
    # 3100 bought at 100.02 marked at the 100.01 mid, against 300 in the what-if
    assert tighter.pnl_actual == Decimal("-31.00") and tighter.pnl_whatif == Decimal("-3.00")

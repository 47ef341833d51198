"""`oms venue stats`' rows and printing (`entrypoints.venue_stats`): the venue statistics of the journal fold
as plain rows (filtered by venue and instrument), a table whose ids are never cut, and JSON."""

from __future__ import annotations

import io
import json
from decimal import Decimal as D

from rich.console import Console

from entrypoints.venue_stats import print_venue_stats, stats_rows
from oms.domain.sor.stats import VenueStatistics, VenueStats

LONG = "VENUE-WITH-A-VERY-LONG-NAME-0123456789"


def statistics() -> VenueStatistics:
    return VenueStatistics(stats={
        ("SIM-A", "AAPL"): VenueStats(routed=4, routed_qty=D("40.00000000"), acknowledged=3, rejected=1, fills=2,
                                      filled_qty=D("30.00000000"), latency_ns=6_000_000, to_first_fill_ns=9_000_000,
                                      first_fills=3, slippage=D("0.30"), slipped_qty=D(30)),
        ("SIM-A", "MSFT"): VenueStats(routed=1, routed_qty=D(5)),
        (LONG, "AAPL"): VenueStats(routed=1, routed_qty=D(10), canceled=1),
    })


def test_rows_are_plain_values_per_venue_and_instrument() -> None:
    rows = stats_rows(statistics())
    assert [(r["venue"], r["instrument"]) for r in rows] == [("SIM-A", "AAPL"), ("SIM-A", "MSFT"), (LONG, "AAPL")]
    a = rows[0]
    assert (a["routed"], a["routed_qty"], a["filled_qty"], a["fill_rate"], a["reject_rate"]) == (
        4, "40", "30", "0.75", "0.25")
    assert (a["mean_latency_ns"], a["mean_time_to_fill_ns"], a["mean_slippage"]) == (2_000_000, 3_000_000, "0.01")
    assert rows[1]["mean_latency_ns"] is None and rows[1]["mean_slippage"] is None and rows[1]["fill_rate"] == "0"
    assert json.loads(json.dumps(rows)) == rows
    assert [r["instrument"] for r in stats_rows(statistics(), venue="SIM-A")] == ["AAPL", "MSFT"]
    assert [r["venue"] for r in stats_rows(statistics(), instrument="AAPL")] == ["SIM-A", LONG]
    assert stats_rows(statistics(), venue="SIM-Z") == []


def test_the_table_shows_every_venue_whole_and_the_rates() -> None:
    out = io.StringIO()
    print_venue_stats(Console(file=out, width=200), stats_rows(statistics()), as_json=False)
    text = out.getvalue()
    assert LONG in text and "MSFT" in text
    assert "75.0%" in text and "25.0%" in text and "2.000" in text and "3.000" in text and "0.0100" in text
    narrow = io.StringIO()
    print_venue_stats(Console(file=narrow, width=80), stats_rows(statistics()), as_json=False)
    assert "…" not in narrow.getvalue()  # long values fold onto more lines, never cut


def test_json_and_nothing_to_show() -> None:
    out = io.StringIO()
    rows = stats_rows(statistics())
    print_venue_stats(Console(file=out, width=40), rows, as_json=True)
    assert json.loads(out.getvalue()) == rows
    out = io.StringIO()
    print_venue_stats(Console(file=out, width=200), [], as_json=False, venue="SIM-Z", instrument="AAPL")
    assert out.getvalue().strip() == "no routed orders in the journal for SIM-Z in AAPL"

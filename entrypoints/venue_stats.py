"""`oms venue stats [VENUE]`: the venue statistics per venue and instrument, for operators.

This module owns showing the venue statistics (`oms.domain.sor.stats`): it
reads the journal to its end with replay's reader and folds it with
`replay.routing.venue_statistics`, the same pure fold the engine runs live and
replay rebuilds, so what operators see is what the router weighs. Per (venue,
instrument) it prints the orders routed there, their quantity and what filled,
fill rate (filled / routed quantity), reject rate, mean acknowledgement latency
and time to first fill (milliseconds of event time) and mean slippage per share
against the arrival price (positive: worse than arrival) - a table
(`entrypoints.tables`, ids never cut) or, with `--json`, one object per row
(`stats_rows`: decimals as strings, times in nanoseconds, null when nothing
was measured).
"""

from __future__ import annotations

import json
from decimal import Decimal

from rich.console import Console

from entrypoints.context import Entry
from entrypoints.tables import table
from oms.domain.sor.stats import VenueStatistics

__all__ = ["print_venue_stats", "read_venue_statistics", "show_venue_stats", "stats_rows"]


def read_venue_statistics(runtime, timeout: float = 30.0) -> VenueStatistics:
    """The venue statistics of the whole journal (read to its end at the time of the call)."""
    from replay.journal import read_topic
    from replay.routing import venue_statistics

    events = (event for _, _, _, _, event in read_topic(runtime, runtime.topics.journal, timeout=timeout,
                                                        canonical=False) if event is not None)
    return venue_statistics(events)


def _plain(value: Decimal) -> str:
    """A quantity without the wire's trailing zeros (`50.00000000` -> `50`)."""
    return format(value.normalize(), "f") if value else "0"


def stats_rows(stats: VenueStatistics, venue: str | None = None, instrument: str | None = None) -> list[dict]:
    """One plain row per (venue, instrument), sorted, optionally of one venue and/or instrument."""
    rows = []
    for v, i, s in stats.rows():
        if (venue is not None and v != venue) or (instrument is not None and i != instrument):
            continue
        rows.append({
            "venue": v, "instrument": i, "routed": s.routed, "routed_qty": _plain(s.routed_qty),
            "acknowledged": s.acknowledged, "fills": s.fills, "filled_qty": _plain(s.filled_qty),
            "rejected": s.rejected, "canceled": s.canceled,
            "fill_rate": str(s.fill_rate), "reject_rate": str(s.reject_rate),
            "mean_latency_ns": s.mean_latency_ns, "mean_time_to_fill_ns": s.mean_time_to_fill_ns,
            "mean_slippage": None if s.mean_slippage is None else str(s.mean_slippage),
        })
    return rows


def _percent(text: str) -> str:
    return f"{Decimal(text) * 100:.1f}%"


def _ms(ns: int | None) -> str:
    return "" if ns is None else f"{ns / 1e6:.3f}"


def _slippage(text: str | None) -> str:
    return "" if text is None else f"{Decimal(text):.4f}"


def show_venue_stats(e: Entry, venue: str | None, instrument: str | None, as_json: bool) -> None:
    """Read and fold the journal of `e.settings`' cluster and print the rows (a table, or JSON)."""
    from streams.runtime import connect

    print_venue_stats(e.console, stats_rows(read_venue_statistics(connect(e.settings)), venue, instrument),
                      as_json, venue, instrument)


def print_venue_stats(console: Console, rows: list[dict], as_json: bool, venue: str | None = None,
                      instrument: str | None = None) -> None:
    """`rows` (`stats_rows`) as JSON or a table; a line saying so when there are none."""
    if as_json:
        console.print(json.dumps(rows, indent=2), markup=False, highlight=False, emoji=False, soft_wrap=True)
        return
    if not rows:
        console.print("no routed orders in the journal" + (f" for {venue}" if venue else "")
                      + (f" in {instrument}" if instrument else ""), markup=False, highlight=False)
        return
    out = table("venue", "instrument", "routed", "routed qty", "filled qty", "fill rate", "rejected",
                "reject rate", "canceled", "latency ms", "to fill ms", "slippage/share",
                title="venue statistics (from the journal; slippage against arrival, positive is worse)")
    for r in rows:
        out.add_row(r["venue"], r["instrument"], str(r["routed"]), r["routed_qty"], r["filled_qty"],
                    _percent(r["fill_rate"]), str(r["rejected"]), _percent(r["reject_rate"]), str(r["canceled"]),
                    _ms(r["mean_latency_ns"]), _ms(r["mean_time_to_fill_ns"]), _slippage(r["mean_slippage"]))
    console.print(out)

"""Backtest results on disk: tables as Parquet and CSV, plots as PNG, one self-contained HTML report.

This module owns presenting a `replay.backtest.BacktestResult`. `frames(result)`
gives its tables as pandas DataFrames (fills, orders, pnl with drawdown,
latencies, venues, summary; money columns stay exact `Decimal`s, written to
Parquet as decimal128(38, 10) and to CSV as their text). `write_report(result,
directory)` writes every table as `<name>.parquet` and `<name>.csv`, the journal
as `journal.bin` (`BacktestResult.journal_bytes`), three plots (`pnl.png`: P&L
and drawdown; `latency.png`: the distribution of answer latencies per venue;
`venues.png`: fill ratio and fees per venue) and `report.html` with the summary,
the per-venue table and the plots embedded, and returns the paths.
Matplotlib runs headless (the Agg backend).
"""

from __future__ import annotations

import base64
import html
from decimal import Decimal
from pathlib import Path

from replay.backtest import BacktestResult
from replay.export import write_parquet

__all__ = ["frames", "summary_rows", "write_report"]


def _drawdowns(pnl: list[dict]) -> list[dict]:
    peak, rows = None, []
    for row in pnl:
        peak = row["pnl"] if peak is None or row["pnl"] > peak else peak
        rows.append({**row, "drawdown": peak - row["pnl"]})
    return rows


def frames(result: BacktestResult) -> dict:
    """The result's tables as DataFrames, by name."""
    import pandas as pd

    return {
        "fills": pd.DataFrame(result.fills),
        "orders": pd.DataFrame(result.orders),
        "pnl": pd.DataFrame(_drawdowns(result.pnl)),
        "latency": pd.DataFrame(result.latencies),
        "venues": pd.DataFrame(result.venue_stats()),
        "summary": pd.DataFrame([{k: (str(v) if isinstance(v, Decimal) else v)
                                  for k, v in result.summary().items()}]),
    }


def summary_rows(result: BacktestResult) -> list[tuple[str, str]]:
    """(name, value) pairs of the summary, for a printed table."""
    return [(k, str(v)) for k, v in result.summary().items()]


def _plots(result: BacktestResult, directory: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    pnl = _drawdowns(result.pnl)
    t0 = pnl[0]["ts"] if pnl else 0
    xs = [(p["ts"] - t0) / 1e9 for p in pnl]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, height_ratios=(3, 1))
    top.plot(xs, [float(p["pnl"]) for p in pnl], color="tab:blue")
    top.set_ylabel("P&L after fees")
    top.set_title("Backtest P&L")
    bottom.fill_between(xs, [-float(p["drawdown"]) for p in pnl], color="tab:red", alpha=0.5)
    bottom.set_ylabel("drawdown")
    bottom.set_xlabel("seconds")
    fig.tight_layout()
    out["pnl"] = directory / "pnl.png"
    fig.savefig(out["pnl"], dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 3.5))
    for venue in result.config.venues:
        values = [x["ns"] / 1000 for x in result.latencies if x["venue"] == venue]
        if values:
            ax.hist(values, bins=40, alpha=0.6, label=venue)
    ax.set_xlabel("answer latency (µs, command to first report)")
    ax.set_ylabel("requests")
    ax.legend()
    fig.tight_layout()
    out["latency"] = directory / "latency.png"
    fig.savefig(out["latency"], dpi=90)
    plt.close(fig)

    stats = result.venue_stats()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    names = [s["venue"] for s in stats]
    left.bar(names, [float(s["fill_ratio"]) for s in stats], color="tab:green")
    left.set_title("fill ratio")
    right.bar(names, [float(s["fees"]) for s in stats], color="tab:orange")
    right.set_title("fees (negative: rebates)")
    fig.tight_layout()
    out["venues"] = directory / "venues.png"
    fig.savefig(out["venues"], dpi=90)
    plt.close(fig)
    return out


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(result: BacktestResult, directory: str | Path) -> dict[str, Path]:
    """Write the tables, the journal, the plots and `report.html` under `directory`; returns name -> path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in frames(result).items():
        frame.to_csv(directory / f"{name}.csv", index=False)
        paths[f"{name}.csv"] = directory / f"{name}.csv"
        if len(frame.columns):
            write_parquet(frame, directory / f"{name}.parquet")
            paths[f"{name}.parquet"] = directory / f"{name}.parquet"
    (directory / "journal.bin").write_bytes(result.journal_bytes())
    paths["journal"] = directory / "journal.bin"
    plots = _plots(result, directory)
    images = "".join(
        f'<h2>{html.escape(name)}</h2><img alt="{name}" src="data:image/png;base64,'
        f'{base64.b64encode(path.read_bytes()).decode()}">' for name, path in plots.items())
    summary = [dict(measure=k, value=v) for k, v in summary_rows(result)]
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>Backtest report</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}</style></head><body>"
            f"<h1>Backtest report</h1><p>seed {result.config.seed}, venues "
            f"{html.escape(', '.join(result.config.venues))}</p>"
            f"<h2>summary</h2>{_table(summary)}<h2>venues</h2>{_table(result.venue_stats())}{images}</body></html>")
    (directory / "report.html").write_text(page, encoding="utf-8")
    paths.update({f"{k}.png": v for k, v in plots.items()})
    paths["report"] = directory / "report.html"
    return paths

"""Benchmark of backtests and exports: market data events/s, orders/s, and journal export to Parquet.

This module owns measuring the backtest runner against bare loops over the
same data, in the same run. Market data: a generated two-venue feed written to
CSV; the bare loop reads and decodes it (`connectors.marketdata_files`), then
the runner walks the decoded events with a passive strategy that listens to
every event and sends nothing, and (over the first `--maker-events`) with the
market maker of `replay.strategies` that keeps orders resting on both venues
(its rate is bound by the engine step, like the orders row), and a bare loop
touches each decoded event once. Orders: N recorded marketable IOC orders through the
engine step (risk, routing, state machine) and the simulated venue, beside a
bare loop that only decodes the same command records, and a floor: the journal
events those orders left, built again from their fields and dropped, with nothing
else (what any engine written with these event classes pays per order). Export: the journal of
that run (repeated to `--export-events`) written as a journal file, then, each in
a process of its own (pandas and pyarrow imported before the clock starts; the
peak resident memory of the process beside its time): a bare read + decode of
it, the export to Parquet that `oms export` runs (`replay.export.export_files`,
the journal table written a chunk at a time), and the same export holding the
whole journal table before it writes (`write_export(export(...))`). Prints a table (and writes its rows as JSON
to `--json FILE`, as every bench does: `bench.show_rows`): wall-clock seconds and rate, and the process CPU seconds and
rate (`time.process_time`; on a shared machine the steadier of the two). Run with `python -m bench.backtest [--md N] [--orders N]
[--maker-events N] [--export-events N]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import struct
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from rich.table import Table

from bench import show_rows
from connectors.marketdata_files import load_files
from oms.events import NewOrder, Quote, TimeInForce, built
from replay.backtest import BacktestConfig, Context, Recorded, run_backtest
from replay.export import export, export_files, journal_from_file, write_export
from replay.models import Latency, VenueModel
from replay.sample_data import generate
from replay.strategies import Observer, PassiveMaker

VENUES = {"SIM-A": VenueModel(entry=Latency(150_000, 50_000)), "SIM-B": VenueModel(entry=Latency(900_000))}


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


class Seconds(float):
    """Wall-clock seconds of a timed step, with the process CPU seconds of it in `cpu`
    (the machine is shared: CPU time is the steadier figure) and, for a step run in a process of
    its own, that process's peak resident memory in `rss_mb`."""

    cpu: float
    rss_mb: float | None

    def __new__(cls, wall: float, cpu: float, rss_mb: float | None = None) -> "Seconds":
        value = super().__new__(cls, wall)
        value.cpu, value.rss_mb = cpu, rss_mb
        return value


def _timed(fn):
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, Seconds(time.perf_counter() - started, time.process_time() - cpu)


def bench_market_data(n: int, workdir: Path, maker_events: int = 10_000) -> list[tuple[str, int, float]]:
    steps = max(1, n // 3)  # ~1 quote + ~0.6 trade on A, 1 quote + ~0.3 trade on B per step
    paths = generate(workdir / "md", steps=steps, seed=11, step_ns=10_000_000)
    events, load_s = _timed(lambda: list(load_files(paths)))
    rows = [("read + decode CSV (bare)", len(events), load_s)]

    def bare():
        count = 0
        for e in events:
            count += e.ts_event > 0 and type(e) is Quote
        return count

    _, bare_s = _timed(bare)
    rows.append(("walk decoded events (bare)", len(events), bare_s))
    _, observer_s = _timed(lambda: run_backtest(events, Observer(), BacktestConfig(venues=VENUES)))
    rows.append(("backtest, passive strategy (listens)", len(events), observer_s))
    some = events[:maker_events]
    result, maker_s = _timed(lambda: run_backtest(some, PassiveMaker("AAPL"), BacktestConfig(venues=VENUES)))
    rows.append((f"backtest, resting maker ({len(result.orders):,} orders)", len(some), maker_s))
    return rows


def _orders(n: int) -> tuple[list[NewOrder], list[Quote]]:
    t0 = 1_717_425_000_000_000_000
    quotes = [Quote(event_id=f"q{i}", ts_event=t0 + i * 1_000_000, ts_init=t0 + i * 1_000_000, instrument="AAPL",
                    venue=v, bid_price=Decimal("187.00"), bid_size=Decimal(10 ** 7), ask_price=Decimal("187.02"),
                    ask_size=Decimal(10 ** 7)) for i in range(2) for v in VENUES]
    ctx = Context("BENCH", "bench")
    commands = []
    for i in range(n):
        ctx.now = t0 + 1_000_000 + i
        commands.append(ctx.buy("AAPL", 1, "187.02", "SIM-A" if i % 2 else "SIM-B", TimeInForce.IOC))
    return commands, quotes


def bench_orders(n: int) -> tuple[list[tuple[str, int, float]], list]:
    commands, quotes = _orders(n)
    records = [c.model_dump() for c in commands]
    _, bare_s = _timed(lambda: [NewOrder.model_validate(r) for r in records])
    config = BacktestConfig(venues={v: VenueModel() for v in VENUES})
    result, run_s = _timed(lambda: run_backtest(quotes, Recorded(commands), config))
    fields = [(type(e), e.__dict__) for e in result.journal]

    def build_alone() -> None:  # each dropped at once: kept, they would add the collector's passes over a growing heap
        for kind, values in fields:
            built(kind, **values)

    _, journal_s = _timed(build_alone)
    return [("decode command records (bare)", n, bare_s),
            ("orders through engine + risk + routing + venue", n, run_s),
            (f"their {len(fields):,} journal events built alone (floor)", n, journal_s)], result.journal


def bench_export(journal: list, n: int, workdir: Path) -> list[tuple[str, int, float]]:
    from streams.codec import SingleObjectCodec

    codec = SingleObjectCodec()
    frames = [codec.encode("order.events", e) for e in journal]
    path = workdir / "journal.bin"
    with path.open("wb") as fh:
        written = 0
        while written < n:
            for data in frames[: n - written]:
                fh.write(struct.pack(">I", len(data)) + data)
            written += min(len(frames), n - written)
    rows = []
    for step, how in (("read + decode journal file (bare)", "bare"), ("export journal to Parquet (oms export)", "streamed"),
                      ("export, whole journal table held", "held")):
        rows.append((step, n, _in_child(how, path, workdir / f"export-{how}")))
    return rows


def _in_child(how: str, journal: Path, out: Path) -> Seconds:
    """One export step timed in a process of its own (so its peak memory is its own)."""
    done = subprocess.run([sys.executable, "-m", "bench.backtest", "--export-child", how, str(journal), str(out)],
                          check=True, capture_output=True, text=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return Seconds(figures["wall"], figures["cpu"], figures["rss_mb"])


def _export_child(how: str, journal: str, out: str) -> None:
    """`_in_child`'s side: `bare` reads and decodes the journal file; `streamed` is what `oms export`
    runs (`export_files`: the journal table written a chunk at a time); `held` builds the whole
    `Export` first, then writes it. Prints wall and CPU seconds and the peak RSS (MB) as JSON."""
    import resource

    import pandas  # noqa: F401  imported before the clock starts: a one-off cost, not a per-event one
    import pyarrow.parquet  # noqa: F401

    steps = {"bare": lambda: sum(1 for _ in journal_from_file(journal)),
             "streamed": lambda: export_files(journal_from_file(journal), out),
             "held": lambda: write_export(export(journal_from_file(journal)), out)}
    _, took = _timed(steps[how])
    print(json.dumps({"wall": float(took), "cpu": took.cpu,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--md", type=int, default=150_000, help="market data events (about)")
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--maker-events", type=int, default=10_000)
    parser.add_argument("--export-events", type=int, default=100_000, help="the issue's figure is 1,000,000")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--export-child", nargs=3, metavar=("HOW", "JOURNAL", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.export_child:
        _export_child(*args.export_child)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rows = bench_market_data(args.md, workdir, args.maker_events)
        order_rows, journal = bench_orders(args.orders)
        rows += order_rows
        rows += bench_export(journal, args.export_events, workdir)
    figures = [dict(step=s, n=n, seconds=round(t, 3), per_second=round(_rate(n, t)), cpu_seconds=round(t.cpu, 3),
                    per_cpu_second=round(_rate(n, t.cpu)), peak_rss_mb=None if t.rss_mb is None else round(t.rss_mb))
               for s, n, t in rows]
    table = Table(title="backtest and export throughput (the export steps each in a process of its own)")
    for name in ("step", "n", "seconds", "per second", "CPU s", "per CPU second", "peak RSS MB"):
        table.add_column(name, justify="right" if name != "step" else "left")
    for f in figures:
        table.add_row(f["step"], f"{f['n']:,}", f"{f['seconds']:.2f}", f"{f['per_second']:,}",
                      f"{f['cpu_seconds']:.2f}", f"{f['per_cpu_second']:,}",
                      "" if f["peak_rss_mb"] is None else f"{f['peak_rss_mb']:,}")
    show_rows(table, figures, args.json, 130)
    return 0


if __name__ == "__main__":
    sys.exit(main())

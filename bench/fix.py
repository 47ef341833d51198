"""Benchmark of the FIX adapter: round-trip latency and message rate, beside the simulated exchange.

Starts the QuickFIX/J test acceptor (`connectors.fix_acceptor.LocalAcceptor`)
on loopback in a temporary directory and connects a `FixVenue` to it, then
drives both it and an in-process `SimulatedExchange` the same way:

* round trip: `--orders` MARKET orders one at a time; the time from `submit`
  to the order's first execution report (the NEW ack; FIX: seen by `poll`,
  which is called every 0.1 ms; the simulator answers in `submit`'s return
  value); p50, p99 and max in milliseconds;
* rate: `--burst` MARKET orders submitted as fast as possible, timed until
  every one has its FILL; orders per second and FIX application messages per
  second (one NewOrderSingle out, an ack and a fill back: three per order).

The acceptor's JVM is warmed up first with `--warmup` round trips. It is a
benchmark, not a test: figures depend on the machine and its load. Run with
`python -m bench.fix [--orders N] [--burst B] [--warmup W] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

from rich.console import Console
from rich.table import Table

from bench.pipeline import percentile
from connectors.fix.adapter import FixVenue
from connectors.fix.config import FixVenueConfig
from connectors.fix_acceptor import LocalAcceptor
from oms.config import Settings
from oms.events import ExecType, ExecutionReport, OrderType, Quote, Side, TimeInForce, VenueAction, VenueRequest
from oms.venues.simulated import SimulatedExchange

INSTRUMENT = "AAPL"
MESSAGES_PER_ORDER = 3
POLL_PAUSE_S = 0.0001
"""Pause between two polls: a loop that never sleeps keeps the GIL from the session thread for the
whole switch interval (5 ms)."""


@dataclass(frozen=True)
class Figures:
    venue: str
    round_trips: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    burst: int
    orders_per_s: float
    messages_per_s: float


def market_order(venue: str, n: int, run: str) -> VenueRequest:
    request_id = f"{run}-{n}"
    return VenueRequest(
        event_id=f"{request_id}.req", ts_event=time.time_ns(), ts_init=time.time_ns(), action=VenueAction.NEW,
        venue=venue, account="BENCH", order_id=f"O{request_id}", request_id=request_id, instrument=INSTRUMENT,
        side=Side.BUY, order_type=OrderType.MARKET, quantity=Decimal(1), time_in_force=TimeInForce.DAY,
    )


def figures(venue: str, latencies_ms: list[float], burst: int, burst_s: float) -> Figures:
    rate = burst / burst_s if burst_s > 0 else float("nan")
    return Figures(venue, len(latencies_ms), percentile(latencies_ms, 50), percentile(latencies_ms, 99),
                   max(latencies_ms, default=float("nan")), burst, rate, rate * MESSAGES_PER_ORDER)


# ------------------------------------------------------------------ FIX


def _wait_for(venue: FixVenue, want: set[str], exec_type: ExecType, timeout: float) -> None:
    """Poll until every request id in `want` has a report of `exec_type` (consumes `want`)."""
    deadline = time.monotonic() + timeout
    while want:
        for item in venue.poll(time.time_ns()):
            if isinstance(item, ExecutionReport) and item.exec_type is exec_type:
                want.discard(item.request_id)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(want)} orders without {exec_type.value} after {timeout} s")
        time.sleep(POLL_PAUSE_S)  # lets the session thread take the GIL


def round_trip_fix(venue: FixVenue, n: int, run: str) -> float:
    request = market_order(venue.name, n, run)
    began = time.perf_counter_ns()
    venue.submit(request, time.time_ns())
    _wait_for(venue, {request.request_id}, ExecType.NEW, 10.0)
    return (time.perf_counter_ns() - began) / 1e6


def bench_fix(orders: int, burst: int, warmup: int, cache_dir: Path, home: Path) -> Figures:
    acceptor = LocalAcceptor(home / "exchange", cache_dir)
    info = acceptor.start()
    venue = None
    try:
        venue = FixVenue(FixVenueConfig(
            venue="FIX-BENCH", sender_comp_id=f"B{uuid4().hex[:8].upper()}", target_comp_id=info.comp_id,
            port=info.port, data_dir=home / "fix", cache_dir=cache_dir, file_log=False,
        ))
        if not venue.wait_connected(20):
            raise TimeoutError("the FIX session did not log on")
        for n in range(warmup):
            round_trip_fix(venue, n, "warm")
        _wait_for(venue, set(), ExecType.FILL, 1.0)
        latencies = [round_trip_fix(venue, n, "rt") for n in range(orders)]
        time.sleep(0.2)
        venue.poll(time.time_ns())
        requests = [market_order(venue.name, n, "burst") for n in range(burst)]
        began = time.perf_counter()
        for request in requests:
            venue.submit(request, time.time_ns())
        _wait_for(venue, {r.request_id for r in requests}, ExecType.FILL, 120.0)
        return figures("FIX: QuickFIX to QuickFIX/J on loopback", latencies, burst, time.perf_counter() - began)
    finally:
        if venue is not None:
            venue.close()
        acceptor.stop()


# ------------------------------------------------------------------ simulator


def bench_simulator(orders: int, burst: int) -> Figures:
    sim = SimulatedExchange("SIM-BENCH", seed=1)
    now = time.time_ns()
    sim.on_quote(Quote(event_id="q-1", ts_event=now, ts_init=now, instrument=INSTRUMENT, bid_price=Decimal("100"),
                       bid_size=Decimal(10**9), ask_price=Decimal("100.01"), ask_size=Decimal(10**9)), now)
    latencies = []
    for n in range(orders):
        request = market_order(sim.name, n, "rt")
        began = time.perf_counter_ns()
        answer = sim.submit(request, time.time_ns())
        latencies.append((time.perf_counter_ns() - began) / 1e6)
        assert answer and answer[0].exec_type is ExecType.NEW
    requests = [market_order(sim.name, n, "burst") for n in range(burst)]
    began = time.perf_counter()
    filled = sum(any(r.exec_type is ExecType.FILL for r in sim.submit(q, time.time_ns())) for q in requests)
    elapsed = time.perf_counter() - began
    assert filled == burst
    return figures("simulated exchange, in process", latencies, burst, elapsed)


def table(rows: list[Figures]) -> Table:
    out = Table(title="Venue round trip (NewOrderSingle -> ExecutionReport) and rate")
    for column in ("venue", "round trips", "p50 ms", "p99 ms", "max ms", "burst", "orders/s", "FIX msgs/s"):
        out.add_column(column, justify="left" if column == "venue" else "right", no_wrap=True)
    for f in rows:
        out.add_row(f.venue, str(f.round_trips), f"{f.p50_ms:.3f}", f"{f.p99_ms:.3f}", f"{f.max_ms:.3f}",
                    str(f.burst), f"{f.orders_per_s:,.0f}", f"{f.messages_per_s:,.0f}")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=500, help="sequential round trips per venue")
    parser.add_argument("--burst", type=int, default=2000, help="orders sent as fast as possible")
    parser.add_argument("--warmup", type=int, default=300, help="FIX round trips before measuring")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="bench-fix-") as home:
        rows = [bench_fix(args.orders, args.burst, args.warmup, settings.cache_dir, Path(home)),
                bench_simulator(args.orders, args.burst)]
    Console(width=140).print(table(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))


if __name__ == "__main__":
    main()

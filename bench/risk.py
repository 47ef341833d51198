"""Benchmark of `oms.domain.risk`: latency of the full pre-trade check on warm state.

This module owns measuring `check_new` (and, for comparison, `check_amend`)
on one account with 50 open orders, 20 positions and every limit of
`LIMIT_NAMES` set: a passing order (every check runs and a throttle token is
taken) and an order that breaches several limits (breaches built too): with
the prices the account was last valued at (the engine's steady state: its
running totals hold), one price moved since, no prices (marks), and a first
valuation with every price off its mark (each of the 20 instruments priced). Each call is timed alone
with `time.perf_counter_ns` after a warm-up; the table gives p50, p99 and
p99.9 in microseconds, and beside them, in the same run, the checks as they
were before the running totals (`oms/domain/risk/checks.py` at `BASELINE`,
read from git; left out when git cannot show it). On a shared machine
`--repeats R` measures each row R times and keeps the run with the lowest p50
(the quietest), for the new and the old checks alike. Run with
`python -m bench.risk [-n N] [--repeats R] [--baseline REV]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import types
from pathlib import Path
from decimal import Decimal as D
from typing import Callable

from rich.console import Console
from rich.table import Table

from bench.pipeline import load_average
from oms.domain.orders import Order
from oms.domain.risk import AccountRisk, Controls, apply_control, check_amend, check_new, with_fill, with_order
from oms.events import AmendOrder, ControlKind, NewOrder, OrderStatus, OrderType, RiskControl, Side, TimeInForce

BASELINE = "873b09d"
"""The last commit whose checks looped over every instrument of the account on each check."""
T0 = 1_767_258_000_000_000_000
ACCOUNT = "ACC-001"
INSTRUMENTS = [f"SYM{i:02d}" for i in range(20)]
LIMITS = {
    "max_order_qty": "10000",
    "max_order_notional": "5000000",
    "max_position": "100000",
    "max_gross_exposure": "1000000000",
    "max_net_exposure": "500000000",
    "max_open_orders": "200",
    "price_band_pct": "5",
    "price_band_ticks": "1000",
    "require_reference_price": "true",
    "reference_max_age_ms": "5000",
    "tick_size": "0.01",
    "lot_size": "1",
    "orders_per_second": "1000000000",
    "order_burst": "1000000000",
}


def controls() -> Controls:
    c = Controls()
    for n, (name, value) in enumerate(LIMITS.items()):
        c = apply_control(c, RiskControl(event_id=f"rc{n}", ts_event=T0, ts_init=T0, scope="*",
                                         kind=ControlKind.LIMIT, name=name, value=value, changed_by="bench"))
    # an account override and an entitlement / instrument list so those lookups do real work
    for n, (kind, scope, name, value) in enumerate([
        (ControlKind.LIMIT, ACCOUNT, "max_order_qty", "20000"),
        (ControlKind.ENTITLEMENT, ACCOUNT, "trader.jane", "allow"),
        (ControlKind.INSTRUMENT, "*", "SYM00", "tradable"),
        (ControlKind.INSTRUMENT, "*", "SYM19", "restricted"),
        (ControlKind.TRADING_STATE, "*", "trading_state", "ACTIVE"),
        (ControlKind.KILL_SWITCH, ACCOUNT, "kill_switch", "off"),
    ]):
        c = apply_control(c, RiskControl(event_id=f"rx{n}", ts_event=T0, ts_init=T0, scope=scope, kind=kind,
                                         name=name, value=value, changed_by="bench"))
    return c


def order(n: int) -> Order:
    q = D(100 + n)
    return Order(
        order_id=f"O{n:04d}", account=ACCOUNT, trader="trader.jane", client_order_id=f"c{n}",
        instrument=INSTRUMENTS[n % 20], side=Side.BUY if n % 2 else Side.SELL, order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.DAY, quantity=q, limit_price=D("100.00") + n, status=OrderStatus.NEW,
        cum_qty=D(0), leaves_qty=q, avg_px=D(0), venue="XNAS", request_id=f"r{n}", pending=None, fills=(),
        exec_ids=frozenset(), seq=2, ts_last=T0,
    )


def account() -> AccountRisk:
    risk = AccountRisk()
    for i, instrument in enumerate(INSTRUMENTS):
        risk = with_fill(risk, instrument, Side.BUY if i % 3 else Side.SELL, D(500 + 10 * i), D("100.00") + i)
    for n in range(50):
        risk = with_order(risk, order(n))
    return risk


def new_order(qty: str, price: str) -> NewOrder:
    return NewOrder(event_id="cmd-1", ts_event=T0, ts_init=T0, account=ACCOUNT, trader="trader.jane",
                    client_order_id="bench-1", instrument="SYM00", side=Side.BUY, order_type=OrderType.LIMIT,
                    quantity=D(qty), limit_price=D(price))


def baseline_checks(rev: str) -> types.ModuleType | None:
    """`oms/domain/risk/checks.py` as it was at `rev`, loaded as a module beside today's (None when
    git cannot show it). It reads only `AccountRisk` fields that still exist."""
    root = Path(__file__).resolve().parent.parent
    shown = subprocess.run(["git", "show", f"{rev}:oms/domain/risk/checks.py"], cwd=root,
                           capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    module = types.ModuleType("bench_baseline_checks")
    sys.modules[module.__name__] = module
    exec(compile(shown.stdout, f"{rev}:oms/domain/risk/checks.py", "exec"), module.__dict__)
    return module


def percentiles(fn: Callable[[int], object], iterations: int, repeats: int = 1) -> tuple[float, float, float]:
    """(p50, p99, p99.9) of one call in µs, of the run (of `repeats`) with the lowest p50; `fn` gets
    the run number (to advance time)."""
    return min(_percentiles(fn, iterations) for _ in range(repeats))


def _percentiles(fn: Callable[[int], object], iterations: int) -> tuple[float, float, float]:
    for i in range(min(2_000, iterations)):
        fn(i)
    clock = time.perf_counter_ns
    samples = [0] * iterations
    gc.collect()
    for i in range(iterations):
        start = clock()
        fn(i)
        samples[i] = clock() - start
    samples.sort()

    def at(q: float) -> float:
        return samples[min(iterations - 1, int(q * iterations))] / 1_000

    return at(0.50), at(0.99), at(0.999)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--iterations", type=int, default=20_000, help="timed calls per row")
    parser.add_argument("-r", "--repeats", type=int, default=1, help="runs per row; the lowest p50 is kept")
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the checks to compare with")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)

    ctrl, risk = controls(), account()
    prices = {instrument: D("100.00") + i for i, instrument in enumerate(INSTRUMENTS)}
    moved = {instrument: price + D("0.25") for instrument, price in prices.items()}
    ref = D("100.00")
    passing = new_order("100", "100.50")
    denied = new_order("25000", "120.005")
    assert check_new(passing, ctrl, risk, ref, T0, T0, prices)[0] == []
    codes = [b.code for b in check_new(denied, ctrl, risk, ref, T0, T0, prices)[0]]
    amended = order(0)
    amend = AmendOrder(event_id="amd-1", ts_event=T0, ts_init=T0, account=ACCOUNT, trader="trader.jane",
                       client_order_id="c0-a", orig_client_order_id="c0", quantity=D(150), limit_price=D("100.25"))
    assert check_amend(amend, amended, ctrl, risk, ref, T0, T0, prices) == []

    valued = check_new(passing, ctrl, risk, ref, T0, T0, prices)[1]  # as the engine keeps it after a check
    one_moved = {**prices, "SYM05": prices["SYM05"] + D("0.25")}

    def rows(new, amend_check):
        return [
            ("check_new, passes (all checks + token), prices as at the account's last check",
             lambda i: new(passing, ctrl, valued, ref, T0, T0 + i * 1_000, prices)),
            ("check_new, passes, one price moved since",
             lambda i: new(passing, ctrl, valued, ref, T0, T0 + i * 1_000, one_moved)),
            ("check_new, passes, no `prices` (marks)",
             lambda i: new(passing, ctrl, risk, ref, T0, T0 + i * 1_000)),
            ("check_new, passes, first valuation: all 20 prices off their marks",
             lambda i: new(passing, ctrl, risk, ref, T0, T0 + i * 1_000, moved)),
            (f"check_new, denied ({len(codes)} breaches)",
             lambda i: new(denied, ctrl, valued, ref, T0, T0 + i * 1_000, prices)),
            ("check_amend, passes",
             lambda i: amend_check(amend, amended, ctrl, valued, ref, T0, T0 + i * 1_000, prices)),
        ]

    old = baseline_checks(args.baseline)
    table = Table(
        title=f"Pre-trade risk latency, {args.iterations:,} runs each"
        + (f", best p50 of {args.repeats}" if args.repeats > 1 else ""),
        caption=f"warm state: {len(risk.open_orders)} open orders, {len(risk.positions)} positions, "
        f"{len(LIMITS)} limits set; denied codes: {', '.join(codes)}"
        + (f"; before = the checks at {args.baseline}, same run" if old is not None else "; no baseline (git)"),
    )
    load_before = load_average()
    table.add_column("case")
    for column in ("p50 µs", "p99 µs", "p99.9 µs") + (("before p50", "before p99", "p50 ratio") if old else ()):
        table.add_column(column, justify="right")
    before = rows(old.check_new, old.check_amend) if old is not None else [None] * 6
    figures = []
    for (label, fn), was in zip(rows(check_new, check_amend), before):
        p50, p99, p999 = percentiles(fn, args.iterations, args.repeats)
        cells = [label, f"{p50:.1f}", f"{p99:.1f}", f"{p999:.1f}"]
        figure = {"case": label, "p50_us": p50, "p99_us": p99, "p999_us": p999}
        if was is not None:
            o50, o99, _ = percentiles(was[1], args.iterations, args.repeats)
            cells += [f"{o50:.1f}", f"{o99:.1f}", f"{o50 / p50:.1f}x"]
            figure.update(before_p50_us=o50, before_p99_us=o99, baseline=args.baseline)
        table.add_row(*cells)
        figures.append(figure)
    load = f"{load_before} before, {load_average()} after"
    table.caption += f"; load average (1/5/15 min) {load}"
    Console(width=max(Console().width, 140)).print(table)
    if args.json is not None:
        args.json.write_text(json.dumps({"iterations": args.iterations, "load_average": load, "rows": figures},
                                        indent=2))


def engine_rate(orders: int, with_risk: bool) -> float:
    """Orders per second through the engine's pure step (decide, fold, account risk), in memory."""
    from oms.domain.engine import RiskView, step
    from oms.routing import StaticRouter

    ctrl = controls()
    references = {instrument: (D("100.00") + i, T0) for i, instrument in enumerate(INSTRUMENTS)}
    view = RiskView(ctrl, references) if with_risk else None
    store: dict = {}
    accounts: dict = {}
    router = StaticRouter("XNAS")
    commands = [
        NewOrder(event_id=f"cmd-{n}", ts_event=T0, ts_init=T0, account=f"ACC{n % 8}", trader="trader.jane",
                 client_order_id=f"e-{n}", instrument="SYM00", side=Side.BUY if n % 2 else Side.SELL,
                 order_type=OrderType.LIMIT, quantity=D(10), limit_price=D("100.10"))
        for n in range(orders)
    ]
    start = time.perf_counter()
    for n, command in enumerate(commands):
        outcome = step(store.get, command, router, T0 + n * 1_000, view,
                       accounts.get if with_risk else None)
        store.update(outcome.orders)
        accounts.update(outcome.accounts)
    return orders / (time.perf_counter() - start)


def engine_table(orders: int) -> Table:
    table = Table(title=f"Order engine step, {orders:,} new orders in memory (no Kafka)")
    table.add_column("risk")
    table.add_column("orders/s", justify="right")
    off = engine_rate(orders, with_risk=False)
    on = engine_rate(orders, with_risk=True)
    table.add_row("off", f"{off:,.0f}")
    table.add_row("on (every check, 14 limits)", f"{on:,.0f}")
    table.caption = f"risk on runs at {on / off:.2f}x the rate of risk off"
    return table


if __name__ == "__main__":
    main()
    Console(width=110).print(engine_table(5_000))

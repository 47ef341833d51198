"""What-if: recorded commands replayed with other risk limits or routing rules, and the diff against what happened.

This module owns the what-if comparison. `what_if(commands, market_data,
actual, alternative)` replays the same recorded commands (`Recorded`) over the
same market data through the backtest runner twice - with the configuration
that reflects what happened and with the alternative one (other `controls`,
another `router`) - and `diff_orders` compares the outcomes order by order
(by client order id): orders denied in one and allowed in the other, filled
quantity, venue and fees that changed, and the P&L delta. When the actual
outcome is a recorded journal rather than a run, `orders_of_export` gives its
orders in the same shape (`replay.export.export`), and `against_journal`
compares that with the alternative run (P&L of both from their fills and the
market data's last prices). When the alternative was decided by a live engine
in a sandbox topic prefix (`entrypoints.whatif_sandbox`), `against_sandbox`
compares what happened (a run or a recorded journal) with the journal the
sandbox engine wrote, with the same diff and the same P&L rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Iterable

from oms.events import Event
from oms.marketdata import MarketData
from replay.backtest import BacktestConfig, BacktestResult, Recorded, run_backtest
from replay.export import Export, export

__all__ = ["Change", "WhatIf", "against_journal", "against_sandbox", "diff_orders", "orders_of_export", "what_if"]


@dataclass(frozen=True)
class Change:
    client_order_id: str
    what: str
    """denied_now, allowed_now, fill_changed, venue_changed, only_actual, only_whatif."""
    actual: str
    whatif: str


@dataclass
class WhatIf:
    changes: list[Change] = field(default_factory=list)
    pnl_actual: Decimal = Decimal(0)
    pnl_whatif: Decimal = Decimal(0)
    fees_actual: Decimal = Decimal(0)
    fees_whatif: Decimal = Decimal(0)
    actual: BacktestResult | None = None
    whatif: BacktestResult | None = None

    @property
    def pnl_delta(self) -> Decimal:
        return self.pnl_whatif - self.pnl_actual

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.changes:
            out[c.what] = out.get(c.what, 0) + 1
        return out


def _denied(row: dict) -> bool:
    return row["status"] == "REJECTED" and row.get("venue") is None


def _quantity(value: Decimal) -> str:
    """A quantity as plain text, whatever its scale (200, not 200.00000000 as a journal read back gives it)."""
    return format(Decimal(value).normalize(), "f")


def diff_orders(actual: Iterable[dict], whatif: Iterable[dict]) -> list[Change]:
    """Order rows (client_order_id, status, venue, cum_qty, reason) of two outcomes → what changed."""
    a = {r["client_order_id"]: r for r in actual}
    b = {r["client_order_id"]: r for r in whatif}
    changes = []
    for cid in sorted(a.keys() | b.keys()):
        x, y = a.get(cid), b.get(cid)
        if x is None or y is None:
            row = x or y
            changes.append(Change(cid, "only_actual" if y is None else "only_whatif", str(row["status"]), ""))
            continue
        if _denied(x) != _denied(y):
            what = "denied_now" if _denied(y) else "allowed_now"
            changes.append(Change(cid, what, f"{x['status']} {x.get('reason') or ''}".strip(),
                                  f"{y['status']} {y.get('reason') or ''}".strip()))
        elif x.get("venue") != y.get("venue"):
            changes.append(Change(cid, "venue_changed", str(x.get("venue")), str(y.get("venue"))))
        elif x["cum_qty"] != y["cum_qty"]:
            changes.append(Change(cid, "fill_changed", _quantity(x["cum_qty"]), _quantity(y["cum_qty"])))
    return changes


def orders_of_export(exported: Export) -> list[dict]:
    """A recorded journal's orders (`replay.export.export`) as diff rows."""
    return exported.orders


def _pnl(fills: Iterable[dict], marks: dict[str, Decimal]) -> Decimal:
    """Cash from `fills` (side, quantity, price, instrument) plus the open positions at `marks`."""
    cash, positions = Decimal(0), {}
    for f in fills:
        sign = 1 if f["side"] == "BUY" else -1
        cash -= sign * f["quantity"] * f["price"]
        positions[f["instrument"]] = positions.get(f["instrument"], Decimal(0)) + sign * f["quantity"]
    return cash + sum((q * marks[i] for i, q in positions.items() if q and i in marks), Decimal(0))


def _marks(market_data: Iterable[MarketData]) -> dict[str, Decimal]:
    """Instrument -> the reference price of its last market data event."""
    from oms.domain.positions import reference_price

    marks: dict[str, Decimal] = {}
    for event in market_data:
        price = reference_price(event)
        if price is not None:
            marks[event.instrument] = price
    return marks


def _commissions(exported: Export) -> Decimal:
    return sum((f["commission"] for f in exported.fills), Decimal(0))


def against_journal(journal: Iterable[Event], commands: Iterable[Event], market_data: Iterable[MarketData],
                    alternative: BacktestConfig) -> WhatIf:
    """What happened is a recorded journal (`journal`); `commands` are replayed over `market_data` with
    `alternative`. Both P&Ls are the fills' cash plus the positions at the last reference price of the
    market data, before fees; fees are the journal's commissions and the alternative's modelled fees."""
    market_data = list(market_data)
    happened = export(journal)
    run = run_backtest(market_data, Recorded(list(commands)), alternative)
    marks = _marks(market_data)
    return WhatIf(diff_orders(orders_of_export(happened), run.orders), _pnl(happened.fills, marks),
                  _pnl(run.fills, marks), _commissions(happened), run.summary()["fees"], None, run)


def against_sandbox(happened: BacktestResult | Iterable[Event], sandbox_journal: Iterable[Event],
                    market_data: Iterable[MarketData]) -> WhatIf:
    """What happened - an in-process run of the recorded commands (`BacktestResult`) or a recorded
    journal - against the journal a live engine wrote deciding the same commands in a sandbox prefix.
    The diff is `diff_orders`; both P&Ls are the fills' cash plus the positions at the market data's
    last reference prices, before fees; fees are the run's modelled fees or the journals' commissions."""
    marks = _marks(market_data)
    sandbox = export(sandbox_journal)
    if isinstance(happened, BacktestResult):
        orders, fills, fees = happened.orders, happened.fills, happened.summary()["fees"]
    else:
        exported = export(happened)
        orders, fills, fees = orders_of_export(exported), exported.fills, _commissions(exported)
    return WhatIf(diff_orders(orders, orders_of_export(sandbox)), _pnl(fills, marks), _pnl(sandbox.fills, marks),
                  fees, _commissions(sandbox), happened if isinstance(happened, BacktestResult) else None, None)


def what_if(commands: Iterable[Event], market_data: Iterable[MarketData], actual: BacktestConfig,
            alternative: BacktestConfig | None = None, **changes) -> WhatIf:
    """Replay `commands` over `market_data` with `actual` and with `alternative` (or `actual` with
    `changes`, e.g. `controls=...`, `router=...`); returns the diff."""
    commands, market_data = list(commands), list(market_data)
    alternative = alternative if alternative is not None else replace(actual, **changes)
    first = run_backtest(market_data, Recorded(commands), actual)
    second = run_backtest(market_data, Recorded(commands), alternative)
    s1, s2 = first.summary(), second.summary()
    return WhatIf(diff_orders(first.orders, second.orders), s1["pnl"], s2["pnl"], s1["fees"], s2["fees"],
                  first, second)

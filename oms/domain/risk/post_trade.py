"""Post-trade risk decisions: what the monitor does about orders, positions and P&L right now.

This module owns `post_trade_actions`: from the orders and positions views,
the marks and what it did before (the P&L peaks of the day, the orders it
already sent a kill cancel), it decides the kill-switch cancels, the
trading-state escalations (HALTED on the loss limit, REDUCING on the
drawdown; never loosening a stricter state, by the one `STATE_RANK`) and the
exposure alerts, and hands back the updated peaks and canceled set for the
next round. Which orders a kill switch cancels is the named rule
`needs_kill_cancel`, written with the one definition of liveness
(`oms.domain.orders.is_live`). Pure: no Kafka, no clock, no I/O; the
processor (`processors/risk.py`) follows the topics and publishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import AbstractSet, Iterable, Mapping

from oms.domain.orders import is_live
from oms.domain.positions import mark_view
from oms.domain.risk._exact import EXACT, ZERO
from oms.domain.risk.controls import STATE_RANK, Controls, killed, limit, trading_state
from oms.events import CancelOrder, ControlKind, OrderStatus, OrderView, Position, RiskControl, TradingState

__all__ = ["PostTradeActions", "needs_kill_cancel", "post_trade_actions"]


@dataclass(frozen=True)
class PostTradeActions:
    cancels: list[CancelOrder]
    """CancelOrder commands for open orders of killed accounts."""
    controls: list[RiskControl]
    """Trading-state changes to publish on `risk.controls`."""
    alerts: list[str]
    peaks: dict[str, Decimal]
    """account -> highest P&L seen (for the drawdown); pass it back next round."""
    canceled: frozenset[str]
    """Order ids that have been sent a kill cancel, these `cancels` included; pass it back next round."""


def needs_kill_cancel(order: OrderView) -> bool:
    """The kill-switch rule: an order of a killed account gets a cancel when it is live
    (`is_live`, the one definition of liveness) and no cancel of it is in flight already
    (PENDING_CANCEL: the engine would refuse a second one as REQUEST_PENDING).

    So PENDING_NEW, NEW, PARTIALLY_FILLED and PENDING_REPLACE orders are canceled.
    DONE_FOR_DAY orders are not: FIX OrdStatus 3 means no further executions for
    the day, the order is not live and the engine refuses to send a cancel for it
    (ORDER_NOT_LIVE); the venue ends it (cancel or expiry), and a killed account
    can send nothing new meanwhile."""
    return is_live(order) and order.status is not OrderStatus.PENDING_CANCEL


def _kill_cancel(view: OrderView, now: int) -> CancelOrder:
    return CancelOrder(
        event_id=f"kill.{view.order_id}", ts_event=now, ts_init=now, account=view.account, trader="risk",
        client_order_id=f"kill-{view.order_id}", orig_client_order_id=view.client_order_id,
    )


def post_trade_actions(
    controls: Controls,
    orders: Iterable[OrderView],
    positions: Iterable[Position],
    marks: Mapping[str, Decimal],
    peaks: Mapping[str, Decimal],
    already_canceled: AbstractSet[str],
    now: int,
) -> PostTradeActions:
    """What post-trade risk does now, from the orders and positions views and the marks.

    - every order of a killed account that `needs_kill_cancel` and whose id is
      not in `already_canceled` gets a CancelOrder (client order id
      `kill-<order id>`, trader `risk`); the returned `canceled` adds their ids;
    - an account whose P&L (realized + unrealized at the mark, else at cost) is at
      or below `-max_loss` moves to HALTED; one whose P&L fell `max_drawdown`
      below its peak moves to REDUCING (never loosening a stricter state);
    - gross exposure above `max_gross_exposure` is reported as an alert.
    """
    doomed = [
        view for view in orders
        if view.order_id not in already_canceled and killed(controls, view.account) and needs_kill_cancel(view)
    ]
    cancels = [_kill_cancel(view, now) for view in doomed]
    canceled = frozenset(already_canceled) | {view.order_id for view in doomed}
    pnl: dict[str, Decimal] = {}
    gross: dict[str, Decimal] = {}
    with localcontext(EXACT):
        for position in positions:
            marked = mark_view(position, marks.get(position.instrument, position.avg_price))
            pnl[position.account] = pnl.get(position.account, ZERO) + position.realized_pnl + marked.unrealized_pnl
            gross[position.account] = gross.get(position.account, ZERO) + marked.gross_exposure
    new_peaks = dict(peaks)
    changes: list[RiskControl] = []
    alerts: list[str] = []
    for account, value in sorted(pnl.items()):
        new_peaks[account] = max(new_peaks.get(account, ZERO), value)
        current = trading_state(controls, account)
        wanted, why = None, None
        max_loss = limit(controls, account, "max_loss")
        max_drawdown = limit(controls, account, "max_drawdown")
        if max_loss is not None and value <= -max_loss:
            wanted, why = TradingState.HALTED, f"P&L {value:.2f} at or below -max_loss {max_loss}"
        elif max_drawdown is not None and new_peaks[account] - value >= max_drawdown:
            wanted = TradingState.REDUCING
            why = f"P&L {value:.2f} is {new_peaks[account] - value:.2f} below the peak {new_peaks[account]:.2f}"
        if wanted is not None and STATE_RANK[wanted] > STATE_RANK[current]:
            changes.append(RiskControl(
                event_id=f"ptr.{account}.{wanted.value}.{now}"[:64], ts_event=now, ts_init=now, scope=account,
                kind=ControlKind.TRADING_STATE, name="state", value=wanted.value, changed_by="post-trade-risk",
                reason=why,
            ))
        max_gross = limit(controls, account, "max_gross_exposure")
        if max_gross is not None and gross.get(account, ZERO) > max_gross:
            alerts.append(f"{account}: gross exposure {gross[account]:.2f} above max_gross_exposure {max_gross}")
    return PostTradeActions(cancels, changes, alerts, new_peaks, canceled)

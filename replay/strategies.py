"""Small example strategies for backtests: a passive market maker and a do-nothing observer.

This module owns the strategies the documented backtest, the tests and the
bench run. `PassiveMaker` rests one buy at the bid and one sell at the ask per
venue of its instrument, within a position limit; when the touch moves away
from a resting order it cancels it, and re-posts at the next quote. `Observer`
only watches (the market data throughput of the runner itself). Both build
their commands with the runner's `Context`, so ids are deterministic.
"""

from __future__ import annotations

from decimal import Decimal

from oms.events import Quote, Side
from replay.backtest import Context, Strategy

__all__ = ["Observer", "PassiveMaker"]

_FINISHED = {"FILLED", "CANCELED", "REJECTED", "EXPIRED", "DONE_FOR_DAY"}
_RESTING = {"NEW", "PARTIALLY_FILLED"}


class Observer(Strategy):
    """Sends nothing."""


class PassiveMaker(Strategy):
    """One resting buy at the bid and one sell at the ask per venue, `size` each, `|position| <= max_position`."""

    def __init__(self, instrument: str, size: Decimal | int = 100, max_position: Decimal | int = 500) -> None:
        self.instrument, self.size, self.max_position = instrument, Decimal(size), Decimal(max_position)
        self.working: dict[tuple[str, Side], tuple[str, Decimal]] = {}
        """(venue, side) -> (client order id, limit price) of the order resting there."""

    def on_quote(self, quote: Quote, ctx: Context):
        if quote.instrument != self.instrument or quote.venue is None:
            return None
        out = []
        position = ctx.position(self.instrument)
        for side, price, room in ((Side.BUY, quote.bid_price, self.max_position - position),
                                  (Side.SELL, quote.ask_price, self.max_position + position)):
            key = (quote.venue, side)
            held = self.working.get(key)
            if held is not None:
                order = ctx.orders.get(held[0])
                if order is None or order.status.value not in _FINISHED:
                    if held[1] != price and order is not None and order.status.value in _RESTING:
                        out.append(ctx.cancel(held[0]))  # the touch moved: pull it, re-post at the next quote
                        del self.working[key]
                    continue
                del self.working[key]
            if room >= self.size:
                command = ctx.order(side, self.instrument, self.size, price, quote.venue)
                self.working[key] = (command.client_order_id, price)
                out.append(command)
        return out

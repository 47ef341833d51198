"""Routing: which venue an order goes to.

The `Router` interface takes the accepted order and the venues' latest market
data and names a venue. `StaticRouter` is the simple rule (a configured venue
per instrument, else a default, unless the command named its venue); a smart
router that weighs price, liquidity, fees and fill rates implements the same
interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol

from oms.events import NewOrder


class Router(Protocol):
    def route(self, order: NewOrder) -> str: ...


@dataclass(frozen=True)
class StaticRouter:
    default_venue: str = "SIM"
    by_instrument: Mapping[str, str] = field(default_factory=dict)

    def route(self, order: NewOrder) -> str:
        if order.venue:
            return order.venue
        return self.by_instrument.get(order.instrument, self.default_venue)

    @classmethod
    def parse(cls, spec: str, default_venue: str = "SIM") -> "StaticRouter":
        """`AAPL=SIM-A,MSFT=SIM-B` → a router with those venues per instrument."""
        pairs = [p.split("=", 1) for p in spec.split(",") if p.strip()]
        return cls(default_venue, {k.strip(): v.strip() for k, v in pairs})

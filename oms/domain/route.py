"""What a router hands the order aggregate: a venue to send an order to, or why there is none.

This module owns `Route`, the value that crosses from routing (`oms.routing`:
the `Router` interface, the venue catalogue, `StaticRouter`) into the order
aggregate's `decide_new`, which sends the order to `route.venue` or writes
`route.denial` (reason code `UNKNOWN_VENUE` for a venue the catalogue does not
hold, `VENUE_UNAVAILABLE` for a venue whose circuit breaker is open) on its
`OrderDenied`. `Route(SMART_VENUE)` makes the order a parent whose children the
smart order router places. It sits in the domain beside `Denial` so the order
aggregate never imports a router. Pure values.
"""

from __future__ import annotations

from dataclasses import dataclass

from oms.domain.denial import Denial

__all__ = ["NO_ROUTE", "SMART_VENUE", "UNKNOWN_VENUE", "VENUE_UNAVAILABLE", "Route"]

UNKNOWN_VENUE = "UNKNOWN_VENUE"
"""Reason code of an order whose venue is not in the router's catalogue."""
VENUE_UNAVAILABLE = "VENUE_UNAVAILABLE"
"""Reason code of an order whose venue's circuit breaker is open (`oms.routing.VenueGuard`)."""
NO_ROUTE = "NO_ROUTE"
"""Reason code of a smart-routed order no venue could take (every candidate closed or excluded)."""
SMART_VENUE = "SOR"
"""The venue a parent order is routed to: the smart order router itself, which sends its children
to the real venues (`oms.domain.sor`). No gateway serves it; no venue request names it."""


@dataclass(frozen=True, slots=True)
class Route:
    """A router's answer for one order: `venue` (from the catalogue) or `denial`, exactly one."""

    venue: str | None = None
    denial: Denial | None = None

    def __post_init__(self) -> None:
        if (self.venue is None) == (self.denial is None):
            raise ValueError("a Route names a venue or a denial, exactly one")

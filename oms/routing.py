"""Routing: which venue an order goes to, chosen from a catalogue of the venues that exist.

This module owns the venue catalogue and the routing answer. A `Router` takes
the accepted order and answers a `Route`: a venue from its `catalogue`, or a
`Denial` when the order names (or the rule yields) a venue the catalogue does
not hold (UNKNOWN_VENUE); `decide_new` writes that denial as the order's
`OrderDenied`, so an order for a venue that does not exist is refused instead
of waiting forever for an answer no gateway sends. The catalogue fails
closed: it is never empty and never means "any venue". `StaticRouter` is the
simple rule (the venue the command names, else a configured venue per
instrument, else a default); its catalogue is, unless configured, the default
venue plus every venue of its instrument map. A smart router that weighs
price, liquidity, fees and fill rates implements the same interface.
`RoutingRules` say which accounts and instruments the smart order router
works (`oms.domain.sor`: a strategy by name per account, per instrument, or by
default); an order they do not cover keeps the static route.
`VenueGuard` wraps any router and denies (VENUE_UNAVAILABLE) an order routed
to a venue whose circuit breaker is open, as `VenueAvailability` - the fold of
the compacted `venue.status` (the gateways' `VenueStatus`, the operators'
`VenueControl`) - says; a smart router would reroute instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Mapping, Protocol

from pydantic import TypeAdapter, ValidationError

from oms.domain.denial import Denial
from oms.domain.route import UNKNOWN_VENUE, VENUE_UNAVAILABLE, Route
from oms.domain.sor.strategies import STRATEGIES, Strategy
from oms.events import BreakerMode, BreakerState, Event, Identifier, NewOrder, VenueControl, VenueReconcileRequest, VenueStatus

__all__ = ["UNKNOWN_VENUE", "VENUE_UNAVAILABLE", "Route", "Router", "RoutingRules", "StaticRouter",
           "VenueAvailability", "VenueGuard", "parse_venues"]


_VENUE_NAME = TypeAdapter(Identifier)


class Router(Protocol):
    @property
    def catalogue(self) -> frozenset[str]:
        """The venues this router may answer."""
        ...

    def route(self, order: NewOrder) -> Route: ...


def parse_venues(spec: str | Iterable[str]) -> frozenset[str]:
    """`"SIM-A,SIM-B"` (or an iterable of names) → the catalogue; raises `ValueError` when
    it is empty or a name is not an identifier the wire accepts."""
    names = spec.split(",") if isinstance(spec, str) else spec
    venues = frozenset(name.strip() for name in names if name.strip())
    if not venues:
        raise ValueError("the venue catalogue is empty: name at least one venue")
    for name in sorted(venues):
        try:
            _VENUE_NAME.validate_python(name)
        except ValidationError:
            raise ValueError(f"venue {name[:80]!r} is not a venue name (letters, digits, . _ : / @ -)") from None
    return venues


def _unknown(venue: str, catalogue: frozenset[str]) -> Denial:
    known = ", ".join(sorted(catalogue))
    return Denial(UNKNOWN_VENUE, f"venue {venue} is not in the venue catalogue ({known})"[:1024])


@dataclass(frozen=True)
class StaticRouter:
    """The command's venue, else `by_instrument[instrument]`, else `default_venue`; a venue not in
    `venues` is refused. `venues=None` means the default venue plus every venue of `by_instrument`;
    a configured catalogue must hold those too (`ValueError` otherwise)."""

    default_venue: str = "SIM"
    by_instrument: Mapping[str, str] = field(default_factory=dict)
    venues: frozenset[str] | None = None

    def __post_init__(self) -> None:
        configured = {self.default_venue, *self.by_instrument.values()}
        if self.venues is None:
            object.__setattr__(self, "venues", parse_venues(configured))
            return
        venues = parse_venues(self.venues)
        missing = sorted(configured - venues)
        if missing:
            raise ValueError(f"routed venues missing from the venue catalogue: {', '.join(missing)}")
        object.__setattr__(self, "venues", venues)

    @property
    def catalogue(self) -> frozenset[str]:
        assert self.venues is not None  # set by __post_init__
        return self.venues

    def route(self, order: NewOrder) -> Route:
        venue = order.venue or self.by_instrument.get(order.instrument, self.default_venue)
        if venue not in self.catalogue:
            return Route(denial=_unknown(venue, self.catalogue))
        return Route(venue)

    @classmethod
    def parse(cls, spec: str, default_venue: str = "SIM", venues: str | Iterable[str] | None = None) -> "StaticRouter":
        """`AAPL=SIM-A,MSFT=SIM-B` → a router with those venues per instrument; `venues`
        (`"SIM-A,SIM-B,SIM-C"`) the catalogue, else the default venue plus the routed ones."""
        pairs = [p.split("=", 1) for p in spec.split(",") if p.strip()]
        for pair in pairs:
            if len(pair) != 2 or not pair[0].strip() or not pair[1].strip():
                raise ValueError(f"route {'='.join(pair)!r} is not INSTRUMENT=VENUE")
        catalogue = None if venues is None else parse_venues(venues)
        return cls(default_venue, {k.strip(): v.strip() for k, v in pairs}, catalogue)


@dataclass(frozen=True)
class VenueAvailability:
    """Which venues take new orders, folded from `venue.status`: the latest `VenueStatus` and
    `VenueControl` per venue. A venue is closed when an operator forced it OPEN, or its gateway
    says its breaker is OPEN and no operator forced it CLOSED; `closed` maps it to the reason."""

    statuses: Mapping[str, VenueStatus] = field(default_factory=dict)
    controls: Mapping[str, VenueControl] = field(default_factory=dict)
    closed: Mapping[str, str] = field(default_factory=dict)
    reconciles: Mapping[str, VenueReconcileRequest] = field(default_factory=dict)
    """The latest operator request to reconcile, per venue (for the gateway; no effect on routing)."""

    def fold(self, event: Event) -> "VenueAvailability":
        """The availability after one `venue.status` record (a `VenueAlert` changes nothing)."""
        if isinstance(event, VenueReconcileRequest):
            return replace(self, reconciles={**self.reconciles, event.venue: event})
        if isinstance(event, VenueStatus):
            statuses, controls = {**self.statuses, event.venue: event}, self.controls
        elif isinstance(event, VenueControl):
            statuses, controls = self.statuses, {**self.controls, event.venue: event}
        else:
            return self
        closed = {}
        for venue in sorted({*statuses, *controls}):
            control, status = controls.get(venue), statuses.get(venue)
            mode = control.mode if control is not None else BreakerMode.AUTO
            if mode is BreakerMode.OPEN:
                closed[venue] = f"forced open by {control.changed_by}: {control.reason or 'no reason given'}"
            elif mode is BreakerMode.AUTO and status is not None and status.breaker is BreakerState.OPEN:
                closed[venue] = status.breaker_reason or "breaker open"
        return VenueAvailability(statuses, controls, closed, self.reconciles)


@dataclass(frozen=True)
class VenueGuard:
    """`inner`'s route, denied (VENUE_UNAVAILABLE) when its venue is in `closed()` (venue -> why)."""

    inner: Router
    closed: Callable[[], Mapping[str, str]]

    @property
    def catalogue(self) -> frozenset[str]:
        return self.inner.catalogue

    def route(self, order: NewOrder) -> Route:
        route = self.inner.route(order)
        if route.venue is not None and (why := self.closed().get(route.venue)) is not None:
            return Route(denial=Denial(VENUE_UNAVAILABLE, f"venue {route.venue} circuit open: {why}"[:1024]))
        return route


STATIC = "static"
"""The rule name that keeps an account or instrument on the static route."""


@dataclass(frozen=True)
class RoutingRules:
    """Which strategy (`oms.domain.sor.STRATEGIES` by name, or `static`) routes an order: its account's
    rule, else its instrument's, else `default` (None: static). `strategy_for` answers (name, strategy)
    or None for the static route, the behaviour of every account without a rule."""

    by_account: Mapping[str, str] = field(default_factory=dict)
    by_instrument: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None

    def __post_init__(self) -> None:
        for name in (*self.by_account.values(), *self.by_instrument.values(), *([self.default] if self.default else [])):
            if name != STATIC and name not in STRATEGIES:
                known = ", ".join([*sorted(STRATEGIES), STATIC])
                raise ValueError(f"routing strategy {name!r} is unknown (known: {known})")

    def strategy_for(self, account: str, instrument: str) -> tuple[str, Strategy] | None:
        name = self.by_account.get(account) or self.by_instrument.get(instrument) or self.default
        if name is None or name == STATIC:
            return None
        return name, STRATEGIES[name]

    @property
    def any(self) -> bool:
        """Whether any order can be smart-routed."""
        return any(n != STATIC for n in (*self.by_account.values(), *self.by_instrument.values(), self.default or STATIC))

    @classmethod
    def parse(cls, spec: str) -> "RoutingRules":
        """`"account:ACC-1=cost,instrument:AAPL=split,default=best"` -> the rules; `ValueError` naming the
        part for anything else."""
        accounts: dict[str, str] = {}
        instruments: dict[str, str] = {}
        default = None
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            target, sep, name = part.partition("=")
            target, name = target.strip(), name.strip()
            if not sep or not name:
                raise ValueError(f"routing rule {part!r} is not account:ACCOUNT=STRATEGY, "
                                 "instrument:INSTRUMENT=STRATEGY or default=STRATEGY")
            if target == "default":
                default = name
            elif target.startswith("account:") and target[8:]:
                accounts[target[8:]] = name
            elif target.startswith("instrument:") and target[11:]:
                instruments[target[11:]] = name
            else:
                raise ValueError(f"routing rule {part!r}: say account:NAME, instrument:NAME or default")
        return cls(accounts, instruments, default)

"""Venue fee schedules: what a fill costs (or earns) at a venue, taking or making liquidity.

This module owns the fee arithmetic. A `FeeSchedule` gives a venue's taker and
maker rates in one unit (`FeeUnit.PER_SHARE`: currency per share, or
`FeeUnit.BPS`: basis points of the notional, at most 10000 either way); a
negative rate is a rebate. `fee(quantity, price, liquidity)` is exact (`Decimal`, never rounded);
`per_share(price, liquidity)` is the fee of one share at `price`, which is what
cost-aware routing adds to (a buy) or subtracts from (a sell) a level's price.
`parse_fees` reads the configuration form
`SIM-A=taker:0.003,maker:-0.002;SIM-B=taker:1bps,maker:0` and raises
`ValueError` with the offending part for anything else. Pure values.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Mapping

__all__ = ["FREE", "FeeSchedule", "FeeUnit", "Liquidity", "parse_fees", "schedule_of"]

_BPS = Decimal(10_000)


class FeeUnit(Enum):
    PER_SHARE = "PER_SHARE"
    BPS = "BPS"


class Liquidity(Enum):
    TAKER = "TAKER"
    MAKER = "MAKER"


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """A venue's taker and maker rates in `unit` (negative: a rebate)."""

    taker: Decimal = Decimal(0)
    maker: Decimal = Decimal(0)
    unit: FeeUnit = FeeUnit.PER_SHARE

    def __post_init__(self) -> None:
        if self.unit is FeeUnit.BPS and not (-_BPS <= self.taker <= _BPS and -_BPS <= self.maker <= _BPS):
            raise ValueError(f"fee rates of {self.taker} and {self.maker} bps: a rate in basis points is at most "
                             f"10000 (100% of the notional) either way")

    def rate(self, liquidity: Liquidity) -> Decimal:
        return self.taker if liquidity is Liquidity.TAKER else self.maker

    def per_share(self, price: Decimal, liquidity: Liquidity) -> Decimal:
        """The fee of one share at `price`."""
        rate = self.rate(liquidity)
        return rate if self.unit is FeeUnit.PER_SHARE else price * rate / _BPS

    def fee(self, quantity: Decimal, price: Decimal, liquidity: Liquidity) -> Decimal:
        """The fee of `quantity` at `price` (negative: a rebate), exact."""
        return quantity * self.per_share(price, liquidity)


FREE = FeeSchedule()
"""The schedule of a venue with none configured: no fees, no rebates."""


def schedule_of(fees: Mapping[str, FeeSchedule], venue: str) -> FeeSchedule:
    return fees.get(venue, FREE)


def _rate(venue: str, text: str) -> tuple[Decimal, FeeUnit]:
    unit = FeeUnit.BPS if text.endswith("bps") else FeeUnit.PER_SHARE
    number = text[:-3] if unit is FeeUnit.BPS else text
    try:
        value = Decimal(number.strip())
    except InvalidOperation:
        raise ValueError(f"{venue}: fee {text!r} is not a number (per share) or a number followed by bps") from None
    if not value.is_finite():
        raise ValueError(f"{venue}: fee {text!r} is not finite")
    return value, unit


def parse_fees(spec: str) -> dict[str, FeeSchedule]:
    """`"SIM-A=taker:0.003,maker:-0.002;SIM-B=taker:1bps,maker:0"` -> venue -> schedule. Both rates of
    one venue must be in the same unit (a zero fits either); a rate left out is 0."""
    out: dict[str, FeeSchedule] = {}
    for part in (p.strip() for p in spec.split(";")):
        if not part:
            continue
        venue, sep, rates = part.partition("=")
        venue = venue.strip()
        if not sep or not venue:
            raise ValueError(f"fee schedule {part!r} is not VENUE=taker:RATE,maker:RATE")
        found: dict[str, tuple[Decimal, FeeUnit]] = {}
        for item in (r.strip() for r in rates.split(",") if r.strip()):
            kind, sep, value = item.partition(":")
            if not sep or kind.strip() not in ("taker", "maker"):
                raise ValueError(f"{venue}: {item!r} is not taker:RATE or maker:RATE")
            found[kind.strip()] = _rate(venue, value.strip())
        units = {unit for value, unit in found.values() if value != 0}  # a zero rate fits any unit
        if len(units) > 1:
            raise ValueError(f"{venue}: taker and maker rates must be in the same unit")
        unit = units.pop() if units else FeeUnit.PER_SHARE
        zero = (Decimal(0), unit)
        try:
            out[venue] = FeeSchedule(found.get("taker", zero)[0], found.get("maker", zero)[0], unit)
        except ValueError as error:
            raise ValueError(f"{venue}: {error}") from None
    return out

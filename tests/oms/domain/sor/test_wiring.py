"""Tests of the smart-routing configuration: routing rules, simulated venue fees, multi-venue market data."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from oms.domain.sor import parse_fees
from oms.events import ExecType, OrderType, Side, TimeInForce, VenueAction, VenueRequest
from oms.routing import RoutingRules
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig
from processors.marketdata_handler import per_venue
from tests.builders import quote


def test_routing_rules_account_before_instrument_before_default():
    rules = RoutingRules.parse("account:ACC-1=cost,instrument:AAPL=split,default=best")
    assert rules.strategy_for("ACC-1", "AAPL")[0] == "cost"
    assert rules.strategy_for("ACC-2", "AAPL")[0] == "split"
    assert rules.strategy_for("ACC-2", "MSFT")[0] == "best"
    assert RoutingRules.parse("account:ACC-1=static").strategy_for("ACC-1", "AAPL") is None
    assert RoutingRules().strategy_for("ACC-1", "AAPL") is None and not RoutingRules().any
    with pytest.raises(ValueError, match="unknown"):
        RoutingRules.parse("default=fastest")
    with pytest.raises(ValueError, match="account:NAME"):
        RoutingRules.parse("desk:X=best")


def request(n: int, limit: str, qty: str = "10") -> VenueRequest:
    return VenueRequest(event_id=f"r{n}.req", ts_event=1, ts_init=1, action=VenueAction.NEW, venue="A", account="ACC",
                        order_id=f"O{n}", request_id=f"r{n}", instrument="AAPL", side=Side.BUY,
                        order_type=OrderType.LIMIT, quantity=D(qty), limit_price=D(limit), time_in_force=TimeInForce.DAY)


def test_simulated_venue_charges_taker_on_arrival_and_pays_maker_rebates_resting():
    fees = parse_fees("A=taker:0.003,maker:-0.002")["A"]
    venue = SimulatedExchange("A", 1, SimulatedVenueConfig(fees=fees))
    venue.on_quote(quote(venue="A", ask_price=D("100"), ask_size=D(100), bid_price=D("99"), bid_size=D(100)), 1)
    [_, taken] = venue.submit(request(1, "100"), 2)
    assert taken.exec_type is ExecType.FILL and taken.commission == D("0.03")
    venue.submit(request(2, "99.50"), 3)  # rests
    [rested] = venue.on_quote(quote(venue="A", ask_price=D("99.5"), ask_size=D(100), bid_price=D("99"),
                                    bid_size=D(100)), 4)
    assert rested.commission == D("-0.02")


def test_resting_fill_probability_zero_never_fills_resting_orders():
    venue = SimulatedExchange("A", 1, SimulatedVenueConfig(resting_fill_probability=0.0))
    venue.submit(request(1, "99"), 1)
    assert venue.on_quote(quote(venue="A", ask_price=D("98"), ask_size=D(100), bid_price=D("97"), bid_size=D(100)), 2) == []
    with pytest.raises(ValueError):
        SimulatedVenueConfig(resting_fill_probability=1.5)


def test_synthetic_feed_fans_out_per_venue_with_offsets():
    q = quote(venue=None)
    tagged = per_venue(q, {"A": D(0), "B": D("0.01")})
    assert [(t.venue, t.ask_price - q.ask_price) for t in tagged] == [("A", 0), ("B", D("0.01"))]
    assert per_venue(q, None) == [q]

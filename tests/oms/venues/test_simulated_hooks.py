"""Tests of the simulated exchange's public hooks for richer models (`oms.venues.simulated`).

A subclass reads `order`, `working` and `touch`, and overrides `fill_price` (a fill taken from the
book) and `queue_ahead` (size queued before a resting order at a print's price); the plain
exchange's defaults leave its model unchanged. Its reports take the `built` fast path only for
values known valid; anything else is validated (and refused) as before.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from oms.domain.sor.fees import Liquidity
from oms.events import ExecType, Side, TimeInForce, Trade
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig, VenueOrder
from tests.oms.venues.test_simulated_exchange import T0, VENUE, market, quote, request


class Shifted(SimulatedExchange):
    """Every fill from the book 5 cents worse; 30 of each print queued ahead of every order."""

    def __init__(self) -> None:
        super().__init__(VENUE, 7, SimulatedVenueConfig(fill_on_trades=True))
        self.asked: list[tuple[str, D]] = []
        self.liquidity: list[Liquidity] = []

    def fill_price(self, order: VenueOrder, px: D, qty: D, liquidity: Liquidity) -> D:
        self.liquidity.append(liquidity)
        return px + D("0.05") if order.side is Side.BUY else px - D("0.05")

    def queue_ahead(self, order: VenueOrder, remaining: D) -> D:
        self.asked.append((order.order_id, remaining))
        return min(D(30), remaining)


def trade(price: str, size: str) -> Trade:
    return Trade(event_id="t-1", ts_event=T0, ts_init=T0, instrument="XYZ", price=D(price), size=D(size))


def test_queries_show_the_book_and_the_orders_without_private_state():
    venue = SimulatedExchange(VENUE, 7)
    assert venue.touch("XYZ", Side.BUY) is None and venue.order("ORD-1") is None
    venue.on_quote(quote(bid="99.90", bid_size="50", ask="100.10", ask_size="40"), T0)
    assert venue.touch("XYZ", Side.BUY) == (D("99.90"), D(50))
    assert venue.touch("XYZ", Side.SELL) == (D("100.10"), D(40))
    venue.submit(request(limit_price=D("99.00")), T0)
    order = venue.order("ORD-1")
    assert order is not None and order.working and order.limit_price == D("99.00")
    assert venue.working(order.venue_order_id) and not venue.working("nope")


def test_fill_price_prices_a_taker_fill_and_the_book_loses_the_displayed_size():
    venue = Shifted()
    venue.on_quote(quote(ask="100.10", ask_size="50"), T0)
    reports = venue.submit(market(quantity=D(20)), T0)
    fill = reports[-1]
    assert fill.exec_type is ExecType.FILL and fill.last_px == D("100.15") and fill.avg_px == D("100.15")
    assert venue.liquidity == [Liquidity.TAKER]
    assert venue.touch("XYZ", Side.SELL) == (D("100.10"), D(30))


def test_queue_ahead_eats_a_print_at_the_order_s_price_first():
    venue = Shifted()
    venue.on_quote(quote(bid="99.90", ask="100.10"), T0)
    venue.submit(request(limit_price=D("100.00"), quantity=D(100), time_in_force=TimeInForce.DAY), T0)
    [fill] = venue.on_trade(trade("100.00", "50"), T0 + 1)
    assert fill.last_qty == D(20) and fill.last_px == D("100.00")  # 30 of 50 went to the queue ahead
    assert venue.asked == [("ORD-1", D(50))]
    assert venue.on_trade(trade("100.00", "30"), T0 + 2) == [] and venue.asked[-1] == ("ORD-1", D(30))
    [through] = venue.on_trade(trade("99.95", "10"), T0 + 3)  # through the limit: nothing is ahead
    assert through.last_qty == D(10) and len(venue.asked) == 2


def test_the_plain_exchange_puts_a_resting_order_at_the_front():
    venue = SimulatedExchange(VENUE, 7, SimulatedVenueConfig(fill_on_trades=True))
    venue.on_quote(quote(bid="99.90", ask="100.10"), T0)
    venue.submit(request(limit_price=D("100.00"), quantity=D(100)), T0)
    [fill] = venue.on_trade(trade("100.00", "50"), T0 + 1)
    assert fill.last_qty == D(50)


# ------------------------------------------- reports built without a second validation


def test_reports_take_the_fast_path_only_for_values_known_valid(monkeypatch):
    import oms.venues.simulated as simulated

    calls = []
    monkeypatch.setattr(simulated, "built", lambda cls, **fields: calls.append(fields) or cls(**fields))
    venue = SimulatedExchange(VENUE, 7)
    venue.on_quote(quote(), T0)
    assert len(venue.submit(market(quantity=D(20)), T0)) == 2 and len(calls) == 2  # ack and fill: built
    with pytest.raises(ValidationError, match="reason"):  # too long for the wire: validated, refused
        venue.refuse(request(2, order_id="ORD-2"), "x" * 1025, T0)
    with pytest.raises(ValidationError, match="ts_event"):
        venue.submit(request(3, order_id="ORD-3"), 2**63)
    assert len(calls) == 2



def test_a_value_that_came_in_unchecked_sends_the_order_s_reports_through_validation(monkeypatch):
    import oms.venues.simulated as simulated

    calls = []
    monkeypatch.setattr(simulated, "built", lambda cls, **fields: calls.append(fields) or cls(**fields))
    venue = SimulatedExchange(VENUE, 7)
    venue.on_quote(quote(bid="99.90", ask="100.10"), T0)
    venue.submit(request(limit_price=D("99.00")), T0)
    assert len(calls) == 1
    with pytest.raises(ValidationError, match="limit_price"):  # nine places: refused, as validation says
        venue.restate("ORD-1", T0 + 1, limit_price=D("99.000000001"))
    assert len(calls) == 1

    class Subpenny(Shifted):
        def fill_price(self, order, px, qty, liquidity):
            return px + D("0.000000001")

    odd = Subpenny()
    odd.on_quote(quote(ask="100.10", ask_size="50"), T0)
    with pytest.raises(ValidationError, match="last_px"):
        odd.submit(market(quantity=D(20)), T0)

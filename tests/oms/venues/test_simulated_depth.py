"""The simulated exchange fills through a quote's displayed depth: level by level, within the limit, once per quote."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from oms.events import ExecType, OrderStatus, OrderType, Side, TimeInForce
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig
from tests.builders import GATEWAY_T0, numbered_request, xyz_quote

ASKS = [("100.50", 100), ("100.60", 200), ("100.70", 300)]
BIDS = [("100.40", 100), ("100.30", 200)]


def book(asks=ASKS, bids=BIDS, **overrides):
    """XYZ at SIM-A three asks deep (100 @ 100.50, 200 @ 100.60, 300 @ 100.70), two bids deep."""
    return xyz_quote(venue="SIM-A", ask_levels=[{"price": D(p), "size": D(s)} for p, s in asks],
                     bid_levels=[{"price": D(p), "size": D(s)} for p, s in bids], **overrides)


def exchange(**config) -> SimulatedExchange:
    venue = SimulatedExchange("SIM-A", 1, SimulatedVenueConfig(**config))
    venue.on_quote(book(), GATEWAY_T0)
    return venue


def fills(reports) -> list[tuple[D, D]]:
    return [(r.last_qty, r.last_px) for r in reports if r.exec_type in (ExecType.FILL, ExecType.PARTIAL_FILL)]


def test_a_marketable_limit_sweeps_the_levels_within_its_limit_one_report_a_level():
    venue = exchange()
    reports = venue.submit(numbered_request(1, quantity=D(250), limit_price=D("100.60")), GATEWAY_T0 + 1)
    assert fills(reports) == [(D(100), D("100.50")), (D(150), D("100.60"))]
    last = reports[-1]
    assert (last.exec_type, last.cum_qty, last.leaves_qty, last.avg_px) == (ExecType.FILL, 250, 0, D("100.56"))


def test_what_the_levels_within_the_limit_do_not_cover_rests():
    venue = exchange()
    reports = venue.submit(numbered_request(1, quantity=D(400), limit_price=D("100.60")), GATEWAY_T0 + 1)
    assert fills(reports) == [(D(100), D("100.50")), (D(200), D("100.60"))]
    assert reports[-1].order_status is OrderStatus.PARTIALLY_FILLED and reports[-1].leaves_qty == D(100)


def test_a_market_order_takes_every_level_and_a_sell_takes_the_bids():
    venue = exchange()
    bought = venue.submit(numbered_request(1, quantity=D(550), order_type=OrderType.MARKET, limit_price=None),
                          GATEWAY_T0 + 1)
    assert fills(bought) == [(D(100), D("100.50")), (D(200), D("100.60")), (D(250), D("100.70"))]
    sold = venue.submit(numbered_request(2, side=Side.SELL, quantity=D(150), limit_price=D("100.30")), GATEWAY_T0 + 2)
    assert fills(sold) == [(D(100), D("100.40")), (D(50), D("100.30"))]


def test_depth_taken_is_gone_until_the_next_quote():
    venue = exchange()
    venue.submit(numbered_request(1, quantity=D(150), limit_price=D("100.60")), GATEWAY_T0 + 1)
    second = venue.submit(numbered_request(2, quantity=D(500), limit_price=D("100.70")), GATEWAY_T0 + 2)
    assert fills(second) == [(D(150), D("100.60")), (D(300), D("100.70"))]
    assert venue.touch("XYZ", Side.SELL) == (D("100.50"), D(0))
    venue.on_quote(book(), GATEWAY_T0 + 3)  # fresh depth: the rest of the second order fills from it
    assert venue.touch("XYZ", Side.SELL) == (D("100.50"), D(50))


def test_fok_counts_the_depth_within_its_limit():
    venue = exchange()
    filled = venue.submit(numbered_request(1, quantity=D(300), limit_price=D("100.60"), time_in_force=TimeInForce.FOK),
                          GATEWAY_T0 + 1)
    assert fills(filled) == [(D(100), D("100.50")), (D(200), D("100.60"))]
    venue.on_quote(book(), GATEWAY_T0 + 2)
    killed = venue.submit(numbered_request(2, quantity=D(301), limit_price=D("100.60"), time_in_force=TimeInForce.FOK),
                          GATEWAY_T0 + 3)
    assert fills(killed) == [] and killed[-1].exec_type is ExecType.CANCELED


def test_max_fill_fraction_caps_each_level():
    venue = exchange(max_fill_fraction=D("0.5"))
    reports = venue.submit(numbered_request(1, quantity=D(1000), limit_price=D("100.70")), GATEWAY_T0 + 1)
    assert fills(reports) == [(D(50), D("100.50")), (D(100), D("100.60")), (D(150), D("100.70"))]


def test_a_resting_order_crossed_by_a_deeper_quote_fills_through_it_as_maker():
    venue = SimulatedExchange("SIM-A", 1)
    venue.on_quote(xyz_quote(venue="SIM-A"), GATEWAY_T0)  # 100.40 / 100.50
    venue.submit(numbered_request(1, quantity=D(250), limit_price=D("100.45")), GATEWAY_T0 + 1)
    crossed = venue.on_quote(book(asks=[("100.30", 100), ("100.40", 100), ("100.45", 100), ("100.46", 900)],
                                  bids=[("100.20", 10)], ask_price=D("100.30"), bid_price=D("100.20"),
                                  bid_size=D(10)), GATEWAY_T0 + 2)
    assert fills(crossed) == [(D(100), D("100.30")), (D(100), D("100.40")), (D(50), D("100.45"))]
    assert crossed[-1].order_status is OrderStatus.FILLED


def test_a_top_of_book_quote_is_one_level_as_before():
    venue = SimulatedExchange("SIM-A", 1)
    venue.on_quote(xyz_quote(venue="SIM-A"), GATEWAY_T0)
    reports = venue.submit(numbered_request(1, quantity=D(150), limit_price=D("101")), GATEWAY_T0 + 1)
    assert fills(reports) == [(D(100), D("100.50"))] and reports[-1].leaves_qty == D(50)


@st.composite
def books_and_orders(draw):
    asks, price = [], draw(st.integers(10_000, 10_100))
    for _ in range(draw(st.integers(1, 8))):
        asks.append((price, draw(st.integers(1, 500))))
        price += draw(st.integers(1, 4))
    side = draw(st.sampled_from([Side.BUY, Side.SELL]))
    limit = draw(st.none() | st.integers(asks[0][0] - 5, price + 5))
    return asks, side, limit, draw(st.integers(1, 3_000))


@settings(max_examples=150, deadline=None)
@given(books_and_orders())
def test_an_order_on_arrival_takes_exactly_the_depth_within_its_limit_best_first(case):
    levels, side, limit_ticks, quantity = case
    cent = D("0.01")
    asks = [(str(cent * p), s) for p, s in levels]
    bids = [(str(cent * (2 * levels[0][0] - p - 1)), s) for p, s in levels]  # mirrored below the asks
    venue = SimulatedExchange("SIM-A", 1)
    venue.on_quote(book(asks=asks, bids=bids, ask_price=D(asks[0][0]), ask_size=D(asks[0][1]),
                        bid_price=D(bids[0][0]), bid_size=D(bids[0][1])), GATEWAY_T0)
    taking = asks if side is Side.BUY else bids
    if limit_ticks is None:
        request = numbered_request(1, side=side, quantity=D(quantity), order_type=OrderType.MARKET, limit_price=None)
        within = taking
    else:
        limit = cent * (limit_ticks if side is Side.BUY else 2 * levels[0][0] - limit_ticks - 1)
        request = numbered_request(1, side=side, quantity=D(quantity), limit_price=limit)
        within = [(p, s) for p, s in taking if (D(p) <= limit if side is Side.BUY else D(p) >= limit)]
    taken = fills(venue.submit(request, GATEWAY_T0 + 1))
    assert sum(q for q, _ in taken) == min(D(quantity), sum((D(s) for _, s in within), D(0)))
    assert [px for _, px in taken] == [D(p) for p, _ in within][:len(taken)]  # level by level, best first
    assert all(q <= D(s) for (q, _), (_, s) in zip(taken, within))

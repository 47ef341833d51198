"""Tests of `oms.venues.simulated`: the seeded exchange model, pure (no broker, no clock).

Covers acks and seeded rejects, immediate fills against the last quote,
partial fills that rest and fill on the next quote, resting limits crossed by
the market, IOC and FOK, replaces and cancels (and their rejects), idempotency
by request id, determinism, busts, corrections and unsolicited cancels.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from oms.events import (
    ExecType,
    ExecutionReport,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    TimeInForce,
    Trade,
    VenueAction,
    VenueRequest,
)
from oms.venues import OpenOrder, VenueAdapter, handle_request
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig

VENUE = "SIM-A"
T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def request(n: int = 1, **overrides) -> VenueRequest:
    fields = {
        "event_id": f"vr-{n}",
        "ts_event": T0,
        "ts_init": T0,
        "action": VenueAction.NEW,
        "venue": VENUE,
        "account": "ACC1",
        "order_id": "ORD-1",
        "request_id": f"req-{n}",
        "instrument": "XYZ",
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": D("100"),
        "limit_price": D("100.00"),
        "time_in_force": TimeInForce.DAY,
    }
    fields.update(overrides)
    return VenueRequest(**fields)


def market(n: int = 1, **overrides) -> VenueRequest:
    return request(n, order_type=OrderType.MARKET, limit_price=None, **overrides)


def replace(n: int, orig: int, **overrides) -> VenueRequest:
    return request(n, action=VenueAction.REPLACE, orig_request_id=f"req-{orig}", **overrides)


def cancel(n: int, orig: int, **overrides) -> VenueRequest:
    return request(n, action=VenueAction.CANCEL, orig_request_id=f"req-{orig}", **overrides)


def quote(bid="99.90", bid_size="50", ask="100.10", ask_size="50", instrument="XYZ", venue=None) -> Quote:
    return Quote(
        event_id="q-1", ts_event=T0, ts_init=T0, instrument=instrument, venue=venue,
        bid_price=D(bid), bid_size=D(bid_size), ask_price=D(ask), ask_size=D(ask_size),
    )


def exchange(seed: int = 7, **config) -> SimulatedExchange:
    return SimulatedExchange(VENUE, seed, SimulatedVenueConfig(**config))


def kinds(reports: list[ExecutionReport]) -> list[tuple[ExecType, OrderStatus]]:
    return [(r.exec_type, r.order_status) for r in reports]


def assert_consistent(r: ExecutionReport) -> None:
    """Invariants every report keeps."""
    assert r.event_id == r.exec_id and r.exec_id.startswith(f"{VENUE}-")
    assert r.venue == VENUE
    if r.order_status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
        assert r.leaves_qty == r.order_qty - r.cum_qty
    else:
        assert r.leaves_qty == 0


# ------------------------------------------------------------------ ack / reject


def test_implements_the_venue_adapter_protocol():
    assert isinstance(exchange(), VenueAdapter)


def test_new_limit_without_a_market_is_acknowledged_and_rests():
    ex = exchange()
    [ack] = ex.submit(request(), T0)
    assert (ack.exec_type, ack.order_status) == (ExecType.NEW, OrderStatus.NEW)
    assert ack.venue_order_id == f"{VENUE}-O1" and ack.exec_id == f"{VENUE}-1"
    assert (ack.account, ack.order_id, ack.request_id, ack.instrument, ack.side) == (
        "ACC1", "ORD-1", "req-1", "XYZ", Side.BUY)
    assert (ack.order_qty, ack.cum_qty, ack.leaves_qty, ack.limit_price) == (D(100), 0, D(100), D("100.00"))
    [working] = ex.open_orders()
    assert isinstance(working, OpenOrder)
    assert (working.order_id, working.leaves_qty, working.status) == ("ORD-1", D(100), OrderStatus.NEW)


def test_reject_probability_one_rejects_with_a_reason():
    ex = exchange(reject_probability=1.0)
    [rej] = ex.submit(request(), T0)
    assert (rej.exec_type, rej.order_status) == (ExecType.REJECTED, OrderStatus.REJECTED)
    assert rej.reason == "simulated venue reject" and rej.leaves_qty == 0 and rej.venue_order_id is None
    assert ex.open_orders() == []


def test_seeded_rejects_are_random_but_reproducible():
    def outcomes(seed: int) -> list[ExecType]:
        ex = exchange(seed, reject_probability=0.5)
        return [ex.submit(request(i, order_id=f"ORD-{i}"), T0)[0].exec_type for i in range(40)]

    first = outcomes(7)
    assert first == outcomes(7)
    assert {ExecType.NEW, ExecType.REJECTED} == set(first)
    assert first != outcomes(8)


def test_market_order_without_a_quote_is_rejected_no_market():
    [rej] = exchange().submit(market(), T0)
    assert rej.exec_type is ExecType.REJECTED and rej.reason == "no market"


def test_limit_order_without_price_and_duplicate_working_order_id_are_rejected():
    ex = exchange()
    [rej] = ex.submit(request(1, limit_price=None), T0)
    assert rej.exec_type is ExecType.REJECTED and "limit price" in rej.reason
    ex.submit(request(2), T0)
    [dup] = ex.submit(request(3), T0)
    assert dup.exec_type is ExecType.REJECTED and "already working" in dup.reason
    assert len(ex.open_orders()) == 1


# ------------------------------------------------------------------------ fills


def test_market_order_fills_fully_at_the_ask():
    ex = exchange()
    assert ex.on_quote(quote(ask_size="500"), T0) == []
    ack, fill = ex.submit(market(), T0)
    assert ack.exec_type is ExecType.NEW
    assert (fill.exec_type, fill.order_status) == (ExecType.FILL, OrderStatus.FILLED)
    assert (fill.last_qty, fill.last_px, fill.cum_qty, fill.leaves_qty, fill.avg_px) == (
        D(100), D("100.10"), D(100), 0, D("100.10"))
    assert fill.limit_price is None and fill.request_id == "req-1"
    assert ex.open_orders() == []


def test_market_sell_fills_at_the_bid():
    ex = exchange()
    ex.on_quote(quote(bid_size="500"), T0)
    _, fill = ex.submit(market(side=Side.SELL), T0)
    assert fill.exec_type is ExecType.FILL and fill.last_px == D("99.90")


def test_larger_market_order_fills_displayed_size_then_rest_fills_on_next_quotes():
    ex = exchange()
    ex.on_quote(quote(ask="100.10", ask_size="30"), T0)
    ack, part = ex.submit(market(), T0)
    assert (part.exec_type, part.order_status) == (ExecType.PARTIAL_FILL, OrderStatus.PARTIALLY_FILLED)
    assert (part.last_qty, part.cum_qty, part.leaves_qty) == (D(30), D(30), D(70))
    # the displayed size is consumed: a second order finds nothing until the next quote
    [ack2] = ex.submit(market(2, order_id="ORD-2", side=Side.BUY), T0)
    assert ack2.exec_type is ExecType.NEW

    # ORD-1 arrived first: it takes the whole next quote, ORD-2 gets nothing from it
    [part2] = ex.on_quote(quote(ask="100.20", ask_size="50"), T0 + MS)
    assert (part2.order_id, part2.last_qty, part2.last_px, part2.cum_qty, part2.leaves_qty) == (
        "ORD-1", D(50), D("100.20"), D(80), D(20))
    assert part2.avg_px == D("100.1625")  # (30 * 100.10 + 50 * 100.20) / 80

    fill, fill2 = ex.on_quote(quote(ask="100.30", ask_size="1000"), T0 + 2 * MS)
    assert (fill.order_id, fill.exec_type, fill.order_status) == ("ORD-1", ExecType.FILL, OrderStatus.FILLED)
    assert (fill.last_qty, fill.cum_qty, fill.leaves_qty) == (D(20), D(100), 0)
    assert fill.avg_px == D("100.19")  # (3003 + 5010 + 2006) / 100
    assert (fill2.order_id, fill2.exec_type, fill2.last_qty) == ("ORD-2", ExecType.FILL, D(100))


def test_partial_fill_then_rest_fills_on_the_next_quote_for_one_order():
    ex = exchange()
    ex.on_quote(quote(ask_size="40"), T0)
    _, part = ex.submit(market(), T0)
    assert part.last_qty == D(40) and part.leaves_qty == D(60)
    [fill] = ex.on_quote(quote(ask="100.12", ask_size="60"), T0 + MS)
    assert fill.exec_type is ExecType.FILL and fill.cum_qty == D(100)
    assert fill.avg_px == D("100.112")  # (40 * 100.10 + 60 * 100.12) / 100


def test_avg_px_is_exact_and_quantized_to_8_places():
    ex = exchange()
    ex.on_quote(quote(bid="1", ask="1.00000001", ask_size="1"), T0)
    ex.submit(market(quantity=D(3)), T0)
    [fill] = ex.on_quote(quote(bid="1", ask="1.00000002", ask_size="2"), T0)
    assert fill.avg_px == D("1.00000002")  # 3.00000005 / 3 = 1.0000000166.. -> 8 places


def test_marketable_limit_fills_at_the_quote_price_and_rest_rests():
    ex = exchange()
    ex.on_quote(quote(ask="100.10", ask_size="60"), T0)
    ack, part = ex.submit(request(limit_price=D("100.50")), T0)
    assert part.last_px == D("100.10") and part.last_qty == D(60) and part.leaves_qty == D(40)
    [working] = ex.open_orders()
    assert working.leaves_qty == D(40) and working.status is OrderStatus.PARTIALLY_FILLED


def test_resting_limit_fills_when_a_later_quote_crosses_it():
    ex = exchange()
    ex.on_quote(quote(bid="99.00", ask="101.00", ask_size="1000"), T0)
    [ack] = ex.submit(request(limit_price=D("100.00")), T0)
    assert ex.on_quote(quote(bid="99.50", ask="100.01", ask_size="1000"), T0 + MS) == []  # not crossed yet
    [part] = ex.on_quote(quote(bid="99.50", ask="99.95", ask_size="30"), T0 + 2 * MS)
    assert (part.exec_type, part.last_px, part.last_qty, part.leaves_qty) == (
        ExecType.PARTIAL_FILL, D("99.95"), D(30), D(70))
    [fill] = ex.on_quote(quote(bid="99.00", ask="100.00", ask_size="500"), T0 + 3 * MS)
    assert (fill.exec_type, fill.last_px, fill.cum_qty) == (ExecType.FILL, D("100.00"), D(100))


def test_resting_sell_limit_fills_when_the_bid_reaches_it():
    ex = exchange()
    ex.submit(request(side=Side.SELL, limit_price=D("101")), T0)
    assert ex.on_quote(quote(bid="100.99", bid_size="500", ask="101.5"), T0) == []
    [fill] = ex.on_quote(quote(bid="101.20", bid_size="500", ask="101.5"), T0)
    assert fill.exec_type is ExecType.FILL and fill.last_px == D("101.20")


def test_resting_orders_fill_by_price_then_time_priority():
    ex = exchange()
    ex.submit(request(1, order_id="A", limit_price=D("100.00")), T0)
    ex.submit(request(2, order_id="B", limit_price=D("100.05")), T0)
    ex.submit(request(3, order_id="C", limit_price=D("100.05")), T0)
    reports = ex.on_quote(quote(ask="99.99", ask_size="150"), T0)
    assert [(r.order_id, r.last_qty) for r in reports] == [("B", D(100)), ("C", D(50))]


def test_quote_for_another_venue_or_instrument_is_ignored():
    ex = exchange()
    ex.submit(request(), T0)
    assert ex.on_quote(quote(ask="90", bid="89", venue="SIM-B"), T0) == []
    assert ex.on_quote(quote(ask="90", bid="89", instrument="ABC"), T0) == []
    assert len(ex.on_quote(quote(ask="90", bid="89", venue=VENUE), T0)) == 1


def test_max_fill_fraction_caps_each_order_per_quote():
    ex = exchange(max_fill_fraction=D("0.5"))
    ex.on_quote(quote(ask_size="60"), T0)
    _, part = ex.submit(market(), T0)
    assert part.last_qty == D(30)


def test_trade_prints_fill_resting_limits_only_when_enabled():
    trade = Trade(event_id="t-1", ts_event=T0, ts_init=T0, instrument="XYZ", price=D("99.98"), size=D("60"))
    off = exchange()
    off.submit(request(), T0)
    assert off.on_trade(trade, T0) == []
    on = exchange(fill_on_trades=True)
    on.submit(request(), T0)
    [fill] = on.on_trade(trade, T0)
    assert (fill.last_qty, fill.last_px, fill.leaves_qty) == (D(60), D("100.00"), D(40))


# ------------------------------------------------------------------- IOC / FOK


def test_ioc_fills_what_is_available_then_cancels_the_rest():
    ex = exchange()
    ex.on_quote(quote(ask_size="30"), T0)
    ack, part, canceled = ex.submit(request(limit_price=D("101"), time_in_force=TimeInForce.IOC), T0)
    assert part.last_qty == D(30)
    assert (canceled.exec_type, canceled.order_status) == (ExecType.CANCELED, OrderStatus.CANCELED)
    assert (canceled.cum_qty, canceled.leaves_qty, canceled.avg_px) == (D(30), 0, D("100.10"))
    assert "IOC" in canceled.reason and ex.open_orders() == []


def test_ioc_fully_filled_has_no_cancel_and_unmarketable_ioc_is_canceled():
    ex = exchange()
    ex.on_quote(quote(ask_size="500"), T0)
    assert kinds(ex.submit(market(1, time_in_force=TimeInForce.IOC), T0)) == [
        (ExecType.NEW, OrderStatus.NEW), (ExecType.FILL, OrderStatus.FILLED)]
    assert kinds(ex.submit(request(2, order_id="ORD-2", limit_price=D("99"), time_in_force=TimeInForce.IOC), T0)) == [
        (ExecType.NEW, OrderStatus.NEW), (ExecType.CANCELED, OrderStatus.CANCELED)]


def test_fok_fills_entirely_or_cancels_without_fill():
    ex = exchange()
    ex.on_quote(quote(ask_size="99"), T0)
    ack, canceled = ex.submit(market(1, time_in_force=TimeInForce.FOK), T0)
    assert canceled.exec_type is ExecType.CANCELED and canceled.cum_qty == 0 and "FOK" in canceled.reason
    ex.on_quote(quote(ask_size="100"), T0)
    ack, fill = ex.submit(market(2, order_id="ORD-2", time_in_force=TimeInForce.FOK), T0)
    assert (fill.exec_type, fill.last_qty, fill.cum_qty) == (ExecType.FILL, D(100), D(100))
    assert ex.open_orders() == []


def test_fok_limit_that_does_not_cross_is_canceled():
    ex = exchange()
    ex.on_quote(quote(ask_size="1000"), T0)
    assert kinds(ex.submit(request(limit_price=D("100.00"), time_in_force=TimeInForce.FOK), T0))[1] == (
        ExecType.CANCELED, OrderStatus.CANCELED)


# --------------------------------------------------------------------- replace


def test_replace_up_changes_quantity_and_price_and_rechecks_marketability():
    ex = exchange()
    ex.on_quote(quote(ask="100.10", ask_size="500"), T0)
    ex.submit(request(limit_price=D("100.00")), T0)
    replaced, fill = ex.amend(replace(2, 1, quantity=D(150), limit_price=D("100.10")), T0)
    assert (replaced.exec_type, replaced.order_status, replaced.request_id) == (
        ExecType.REPLACED, OrderStatus.NEW, "req-2")
    assert (replaced.order_qty, replaced.leaves_qty, replaced.limit_price) == (D(150), D(150), D("100.10"))
    assert (fill.exec_type, fill.request_id, fill.last_qty, fill.last_px) == (
        ExecType.FILL, "req-2", D(150), D("100.10"))


def test_replace_down_keeps_the_fills_and_later_fills_carry_the_new_request_id():
    ex = exchange()
    ex.on_quote(quote(ask_size="40"), T0)
    ex.submit(request(limit_price=D("100.10")), T0)  # 40 filled, 60 left
    [replaced] = ex.amend(replace(2, 1, quantity=D(70), limit_price=D("100.10")), T0)  # book consumed: no fill
    assert (replaced.order_status, replaced.cum_qty, replaced.leaves_qty) == (
        OrderStatus.PARTIALLY_FILLED, D(40), D(30))
    [fill] = ex.on_quote(quote(ask_size="1000"), T0 + MS)
    assert (fill.exec_type, fill.request_id, fill.last_qty, fill.cum_qty) == (ExecType.FILL, "req-2", D(30), D(70))


def test_replace_to_at_or_below_filled_quantity_ends_the_order():
    ex = exchange()
    ex.on_quote(quote(ask_size="40"), T0)
    ex.submit(request(limit_price=D("100.10")), T0)
    [replaced] = ex.amend(replace(2, 1, quantity=D(30)), T0)
    assert (replaced.exec_type, replaced.order_status, replaced.leaves_qty, replaced.cum_qty) == (
        ExecType.REPLACED, OrderStatus.FILLED, 0, D(40))
    assert ex.open_orders() == []


def test_replace_without_price_keeps_the_limit():
    ex = exchange()
    ex.submit(request(), T0)
    [replaced] = ex.amend(replace(2, 1, quantity=D(10), limit_price=None), T0)
    assert replaced.limit_price == D("100.00") and replaced.order_qty == D(10)


def test_replace_of_unknown_closed_or_changing_side_is_cancel_rejected():
    ex = exchange()
    [unknown] = ex.amend(replace(2, 1), T0)
    assert (unknown.exec_type, unknown.order_status, unknown.request_id, unknown.reason) == (
        ExecType.CANCEL_REJECTED, OrderStatus.REJECTED, "req-2", "unknown order")
    ex.submit(request(3, side=Side.BUY), T0)
    [side] = ex.amend(replace(4, 3, side=Side.SELL), T0)
    assert side.exec_type is ExecType.CANCEL_REJECTED and side.order_status is OrderStatus.NEW
    ex.cancel(cancel(5, 3), T0)
    [closed] = ex.amend(replace(6, 3), T0)
    assert (closed.exec_type, closed.order_status) == (ExecType.CANCEL_REJECTED, OrderStatus.CANCELED)


# ---------------------------------------------------------------------- cancel


def test_cancel_open_order():
    ex = exchange()
    ex.on_quote(quote(ask_size="25"), T0)
    ex.submit(request(limit_price=D("100.10")), T0)
    [canceled] = ex.cancel(cancel(2, 1), T0)
    assert (canceled.exec_type, canceled.order_status, canceled.request_id) == (
        ExecType.CANCELED, OrderStatus.CANCELED, "req-2")
    assert (canceled.cum_qty, canceled.leaves_qty) == (D(25), 0)
    assert ex.open_orders() == []


def test_cancel_of_unknown_or_closed_order_is_cancel_rejected():
    ex = exchange()
    [unknown] = ex.cancel(cancel(2, 1), T0)
    assert unknown.exec_type is ExecType.CANCEL_REJECTED and unknown.reason == "unknown order"
    ex.on_quote(quote(ask_size="500"), T0)
    ex.submit(market(3), T0)
    [filled] = ex.cancel(cancel(4, 3), T0)
    assert (filled.exec_type, filled.order_status, filled.cum_qty) == (
        ExecType.CANCEL_REJECTED, OrderStatus.FILLED, D(100))
    [twice] = ex.cancel(cancel(5, 99, order_id="ORD-X"), T0)
    assert twice.reason == "unknown order"


def test_cancel_finds_the_order_by_order_id_when_orig_request_id_is_missing():
    ex = exchange()
    ex.submit(request(), T0)
    [canceled] = ex.cancel(request(2, action=VenueAction.CANCEL), T0)
    assert canceled.exec_type is ExecType.CANCELED


def test_handle_request_dispatches_by_action():
    ex = exchange()
    assert handle_request(ex, request(), T0)[0].exec_type is ExecType.NEW
    assert handle_request(ex, replace(2, 1, quantity=D(5)), T0)[0].exec_type is ExecType.REPLACED
    assert handle_request(ex, cancel(3, 2), T0)[0].exec_type is ExecType.CANCELED


def test_requests_for_another_venue_or_wrong_method_are_refused_loudly():
    ex = exchange()
    with pytest.raises(ValueError, match="venue"):
        ex.submit(request(venue="SIM-B"), T0)
    with pytest.raises(ValueError, match="action"):
        ex.submit(cancel(2, 1), T0)


def test_refuse_answers_a_new_with_rejected_and_a_cancel_with_cancel_rejected():
    ex = exchange()
    [rej] = ex.refuse(request(), "rate limit", T0)
    assert (rej.exec_type, rej.reason) == (ExecType.REJECTED, "rate limit")
    assert ex.seen("req-1") and ex.submit(request(), T0) == [rej]
    [crej] = ex.refuse(cancel(2, 1), "rate limit", T0)
    assert (crej.exec_type, crej.order_status) == (ExecType.CANCEL_REJECTED, OrderStatus.REJECTED)


# ---------------------------------------------------------------- idempotency


def test_repeated_request_id_returns_the_same_reports_and_no_second_order():
    ex = exchange(latency_ns=MS, latency_jitter_ns=MS // 2)
    ex.on_quote(quote(ask_size="30"), T0)
    first = ex.submit(market(), T0)
    again = ex.submit(market(), T0 + 5 * MS)
    assert again == first
    assert len(ex.open_orders()) == 1 and ex.open_orders()[0].cum_qty == D(30)
    [c1] = ex.cancel(cancel(2, 1), T0)
    assert ex.cancel(cancel(2, 1), T0) == [c1]
    assert ex.amend(replace(3, 1), T0)[0].exec_type is ExecType.CANCEL_REJECTED
    assert ex.submit(market(), T0) == first


# ---------------------------------------------------------------- determinism


def scenario(seed: int) -> list[ExecutionReport]:
    ex = exchange(seed, latency_ns=2 * MS, latency_jitter_ns=MS, reject_probability=0.3)
    out = []
    for i in range(30):
        now = T0 + i * MS
        out += ex.on_quote(quote(ask=f"{100 + i % 5}.10", ask_size=str(10 + i), bid=f"{99 + i % 5}.90"), now)
        out += ex.submit(request(i, order_id=f"O{i}", limit_price=D(f"{100 + i % 3}.50"),
                                 side=Side.BUY if i % 2 else Side.SELL), now)
        if i % 4 == 3:
            out += ex.amend(replace(1000 + i, i - 1, order_id=f"O{i - 1}", side=Side.SELL,
                                    quantity=D(50), limit_price=D("98")), now)
        if i % 7 == 6:
            out += ex.cancel(cancel(2000 + i, i - 2, order_id=f"O{i - 2}"), now)
    return out


def test_same_seed_and_inputs_give_identical_reports():
    a, b = scenario(42), scenario(42)
    assert a == b and len(a) > 60
    assert scenario(43) != a
    exec_ids = [r.exec_id for r in a]
    assert len(set(exec_ids)) == len(exec_ids) == int(exec_ids[-1].rsplit("-", 1)[1])
    for r in a:
        assert_consistent(r)


def test_ts_event_is_now_plus_latency_and_never_goes_backwards():
    ex = exchange(latency_ns=3 * MS, latency_jitter_ns=2 * MS)
    stamps = []
    for i in range(50):
        [ack] = ex.submit(request(i, order_id=f"O{i}"), T0 + i * 10)
        assert ack.ts_event >= T0 + i * 10 + MS and ack.ts_init == ack.ts_event
        stamps.append(ack.ts_event)
    assert stamps == sorted(stamps) and len(set(stamps)) > 1
    fixed = exchange(latency_ns=3 * MS)
    assert fixed.submit(request(), T0)[0].ts_event == T0 + 3 * MS


# ------------------------------------------------------------ bust / correct


def filled_exchange() -> tuple[SimulatedExchange, ExecutionReport, ExecutionReport]:
    ex = exchange()
    ex.on_quote(quote(ask="100.00", ask_size="40"), T0)
    _, first = ex.submit(market(), T0)
    [second] = ex.on_quote(quote(ask="101.00", ask_size="60"), T0 + MS)
    return ex, first, second


def test_bust_of_a_fill_on_a_filled_order():
    ex, first, second = filled_exchange()
    assert second.order_status is OrderStatus.FILLED and second.avg_px == D("100.6")
    [bust] = ex.bust(first.exec_id, T0 + 2 * MS)
    assert (bust.exec_type, bust.ref_exec_id, bust.last_qty, bust.last_px) == (
        ExecType.TRADE_BUST, first.exec_id, D(40), D("100.00"))
    assert (bust.cum_qty, bust.leaves_qty, bust.avg_px, bust.order_status) == (
        D(60), 0, D("101.00"), OrderStatus.DONE_FOR_DAY)
    assert ex.open_orders() == []
    with pytest.raises(ValueError, match="already busted"):
        ex.bust(first.exec_id, T0)
    with pytest.raises(KeyError):
        ex.bust("SIM-A-999", T0)
    assert [r.exec_id for r in ex.fills()] == [first.exec_id, second.exec_id, bust.exec_id]
    assert [r.exec_id for r in ex.fills(since_ns=bust.ts_event)] == [bust.exec_id]


def test_bust_on_a_working_order_gives_the_quantity_back():
    ex = exchange()
    ex.on_quote(quote(ask_size="40"), T0)
    _, part = ex.submit(market(), T0)
    [bust] = ex.bust(part.exec_id, T0)
    assert (bust.order_status, bust.cum_qty, bust.leaves_qty, bust.avg_px) == (OrderStatus.NEW, 0, D(100), 0)
    assert ex.open_orders()[0].leaves_qty == D(100)


def test_correct_changes_quantity_and_price():
    ex, first, second = filled_exchange()
    [corr] = ex.correct(second.exec_id, D(60), D("100.50"), T0 + 2 * MS)
    assert (corr.exec_type, corr.ref_exec_id, corr.last_qty, corr.last_px) == (
        ExecType.TRADE_CORRECT, second.exec_id, D(60), D("100.50"))
    assert (corr.cum_qty, corr.leaves_qty, corr.avg_px, corr.order_status) == (
        D(100), 0, D("100.3"), OrderStatus.FILLED)
    [corr2] = ex.correct(second.exec_id, D(50), D("100.50"), T0 + 3 * MS)
    assert (corr2.ref_exec_id, corr2.cum_qty, corr2.order_status) == (
        second.exec_id, D(90), OrderStatus.DONE_FOR_DAY)
    with pytest.raises(ValueError, match="would fill"):
        ex.correct(first.exec_id, D(100), D(100), T0)
    with pytest.raises(ValueError, match="positive"):
        ex.correct(first.exec_id, D(0), D(100), T0)


def test_correct_that_completes_a_working_order_fills_it():
    ex = exchange()
    ex.on_quote(quote(ask_size="40"), T0)
    _, part = ex.submit(market(), T0)
    [corr] = ex.correct(part.exec_id, D(100), D("100.10"), T0)
    assert (corr.order_status, corr.leaves_qty) == (OrderStatus.FILLED, 0)
    assert ex.open_orders() == []


def test_unsolicited_cancel():
    ex = exchange()
    ex.submit(request(), T0)
    [canceled] = ex.cancel_unsolicited("ORD-1", T0, reason="self-trade prevention")
    assert (canceled.exec_type, canceled.order_status, canceled.request_id, canceled.reason) == (
        ExecType.CANCELED, OrderStatus.CANCELED, "req-1", "self-trade prevention")
    assert ex.cancel_unsolicited("ORD-1", T0) == []
    assert ex.cancel_unsolicited("nope", T0) == []


def test_config_is_validated():
    with pytest.raises(ValueError):
        SimulatedVenueConfig(reject_probability=1.5)
    with pytest.raises(ValueError):
        SimulatedVenueConfig(max_fill_fraction=D(0))
    with pytest.raises(ValueError):
        SimulatedVenueConfig(latency_ns=-1)
    with pytest.raises(ValueError):
        SimulatedExchange("bad name", 1, SimulatedVenueConfig())

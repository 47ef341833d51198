"""Tests of `oms.domain.risk`: the controls fold, account risk updates and every pre-trade check.

This module owns the evidence that each check holds at its boundary (exactly
at the limit passes, one tick or one lot over is denied), that breaches come
back all at once in the documented `BREACH_CODES` order, that the controls fold
applies overrides, stricter states, kill switches, entitlements and instrument
lists and refuses bad values, that REDUCING/HALTED/throttle behave as
documented, that amends are checked as the amended order, and (hypothesis)
that an order is denied iff a breach is reported and `denial_reason` names the
first. Pure: no Kafka, no clock; time is `T0` plus offsets in nanoseconds.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oms.domain.orders import Order, PendingRequest
from oms.domain.risk import (
    BREACH_CODES,
    DEFAULT_LIMITS,
    AccountRisk,
    Breach,
    Controls,
    Denial,
    apply_control,
    check_amend,
    check_new,
    denial_reason,
    killed,
    limit,
    take_token,
    trading_state,
    with_fill,
    with_order,
)
from oms.events import ControlKind, OrderStatus, OrderType, RiskControl, Side, TimeInForce, TradingState, VenueAction
from tests.builders import ACCOUNT, INSTRUMENT, T0, TRADER, amend, new_order

MS = 1_000_000
SEC = 1_000 * MS
L, TS, KS, EN, IN = (
    ControlKind.LIMIT,
    ControlKind.TRADING_STATE,
    ControlKind.KILL_SWITCH,
    ControlKind.ENTITLEMENT,
    ControlKind.INSTRUMENT,
)


def ctl(kind: ControlKind, name: str, value: str, scope: str = "*", ts: int = T0) -> RiskControl:
    return RiskControl(
        event_id=f"rc-{scope}-{kind.value}-{name}-{value}".replace("*", "all"),
        ts_event=ts,
        ts_init=ts,
        scope=scope,
        kind=kind,
        name=name,
        value=value,
        changed_by="ops.risk",
        reason="test",
    )


def controls(*specs: tuple) -> Controls:
    c = Controls()
    for spec in specs:
        c = apply_control(c, ctl(*spec))
    return c


def limits(scope: str = "*", **values: Any) -> Controls:
    return controls(*((L, name, str(value), scope) for name, value in values.items()))


def live(order_id: str, qty: str, price: str | None = "100", *, instrument: str = INSTRUMENT,
         side: Side = Side.BUY, cum: str = "0", status: OrderStatus = OrderStatus.NEW, **kw: Any) -> Order:
    q, c = D(qty), D(cum)
    fields: dict[str, Any] = dict(
        order_id=order_id, account=ACCOUNT, trader=TRADER, client_order_id=order_id, instrument=instrument,
        side=side, order_type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        time_in_force=TimeInForce.DAY, quantity=q, limit_price=D(price) if price is not None else None,
        status=status, cum_qty=c, leaves_qty=q - c, avg_px=D(0), venue="XNAS", request_id="r1", pending=None,
        fills=(), exec_ids=frozenset(), seq=2, ts_last=T0,
    )
    fields.update(kw)
    return Order(**fields)


def account(positions: dict[str, str] | None = None, orders: list[Order] = ()) -> AccountRisk:
    risk = AccountRisk()
    for instrument, qty in (positions or {}).items():
        q = D(qty)
        risk = with_fill(risk, instrument, Side.BUY if q > 0 else Side.SELL, abs(q))
    for order in orders:
        risk = with_order(risk, order)
    return risk


def codes(order, c: Controls, risk: AccountRisk = AccountRisk(), ref: str | None = "100", ref_ts: int | None = T0,
          now: int = T0, **kw: Any) -> list[str]:
    breaches, _ = check_new(order, c, risk, D(ref) if ref is not None else None, ref_ts, now, **kw)
    return [b.code for b in breaches]


def buy(qty: str = "100", price: str | None = "100", **kw: Any):
    if price is None:
        return new_order(quantity=D(qty), order_type=OrderType.MARKET, **kw)
    return new_order(quantity=D(qty), limit_price=D(price), **kw)


def sell(qty: str = "100", price: str | None = "100", **kw: Any):
    return buy(qty, price, side=Side.SELL, **kw)


# ----------------------------------------------------------------- boundaries


@pytest.mark.parametrize(
    "ctrl, at, over, code, kw",
    [
        (limits(max_order_qty=100), buy("100"), buy("101"), "MAX_ORDER_QTY", {}),
        (limits(max_order_qty="0.5"), buy("0.5"), buy("0.51"), "MAX_ORDER_QTY", {}),
        (limits(max_order_notional=18725), buy("100", "187.25"), buy("100", "187.26"), "MAX_ORDER_NOTIONAL", {}),
        (limits(max_order_notional=10000), buy("100", None), buy("101", None), "MAX_ORDER_NOTIONAL", {}),
        (limits(price_band_pct=5), buy("1", "105"), buy("1", "105.01"), "PRICE_BAND", {}),
        (limits(price_band_pct=5), sell("1", "95"), sell("1", "94.99"), "PRICE_BAND", {}),
        (limits(price_band_ticks=10, tick_size="0.01"), buy("1", "100.10"), buy("1", "100.11"), "PRICE_BAND", {}),
        (limits(price_band_ticks=10, tick_size="0.01"), buy("1", "99.90"), buy("1", "99.89"), "PRICE_BAND", {}),
        (limits(tick_size="0.05"), buy("1", "100.05"), buy("1", "100.06"), "TICK_SIZE", {}),
        (limits(lot_size=100), buy("200"), buy("201"), "LOT_SIZE", {}),
        (limits(lot_size="0.001"), buy("0.002"), buy("0.0021"), "LOT_SIZE", {}),
    ],
)
def test_order_level_limits_at_and_one_over(ctrl, at, over, code, kw):
    assert codes(at, ctrl, **kw) == []
    assert codes(over, ctrl, **kw) == [code]


def test_max_position_counts_position_and_open_orders_on_the_same_side():
    ctrl = limits(max_position=500)
    risk = account({INSTRUMENT: "300"}, [live("o1", "100"), live("o2", "999", side=Side.SELL),
                                         live("o3", "999", instrument="MSFT")])
    assert codes(buy("100"), ctrl, risk) == []  # 300 + 100 + 100 = 500
    assert codes(buy("101"), ctrl, risk) == ["MAX_POSITION"]
    # sell side: 300 - 999 open sells - this order
    assert codes(sell("1"), ctrl, risk) == ["MAX_POSITION"]  # |300 - 1000| = 700
    flat = account({INSTRUMENT: "300"})
    assert codes(sell("800"), ctrl, flat) == []  # -500
    assert codes(sell("801"), ctrl, flat) == ["MAX_POSITION"]


def test_max_open_orders_counts_this_order():
    ctrl = limits(max_open_orders=3)
    two = account(orders=[live("o1", "1"), live("o2", "1", instrument="MSFT")])
    three = with_order(two, live("o3", "1"))
    assert codes(buy("1"), ctrl, two) == []
    assert codes(buy("1"), ctrl, three) == ["MAX_OPEN_ORDERS"]


def test_gross_exposure_values_other_instruments_at_given_prices():
    ctrl = limits(max_gross_exposure=14000)
    risk = account({"MSFT": "-10"})
    prices = {"MSFT": D("400")}
    assert codes(buy("100"), ctrl, risk, prices=prices) == []  # 10*400 + 100*100
    assert codes(buy("101"), ctrl, risk, prices=prices) == ["MAX_GROSS_EXPOSURE"]
    # without a price, the last fill price (mark) values MSFT
    marked = with_fill(AccountRisk(), "MSFT", Side.SELL, D("10"), price=D("400"))
    assert codes(buy("100"), ctrl, marked) == []
    assert codes(buy("101"), ctrl, marked) == ["MAX_GROSS_EXPOSURE"]


def test_gross_exposure_includes_open_orders_worst_case():
    ctrl = limits(max_gross_exposure=10000)
    risk = account(orders=[live("o1", "60", side=Side.SELL)])
    # buy side worst case 40, sell side worst case |-60|: gross = 60 * 100
    assert codes(buy("40"), ctrl, risk) == []
    assert codes(buy("100"), ctrl, risk) == []  # max(100, 60) * 100 = 10000
    assert codes(buy("101"), ctrl, risk) == ["MAX_GROSS_EXPOSURE"]


def test_net_exposure_nets_across_instruments():
    ctrl = limits(max_net_exposure=10000)
    risk = account({"MSFT": "-50"})
    prices = {"MSFT": D("100")}
    assert codes(buy("150"), ctrl, risk, prices=prices) == []  # 150*100 - 50*100 = 10000
    assert codes(buy("151"), ctrl, risk, prices=prices) == ["MAX_NET_EXPOSURE"]
    assert codes(sell("50"), ctrl, risk, prices=prices) == []  # -100 * 100
    assert codes(sell("51"), ctrl, risk, prices=prices) == ["MAX_NET_EXPOSURE"]


def test_exposure_uses_the_order_price_when_no_reference():
    ctrl = limits(max_gross_exposure=10000)
    assert codes(buy("100", "100"), ctrl, ref=None) == []
    assert codes(buy("100", "100.01"), ctrl, ref=None) == ["MAX_GROSS_EXPOSURE"]


def test_require_reference_price_and_max_age():
    ctrl = limits(require_reference_price="true", reference_max_age_ms=500)
    assert codes(buy(), ctrl, ref="100", ref_ts=T0, now=T0 + 500 * MS) == []
    assert codes(buy(), ctrl, ref="100", ref_ts=T0, now=T0 + 500 * MS + 1) == ["NO_REFERENCE_PRICE"]
    assert codes(buy(), ctrl, ref=None) == ["NO_REFERENCE_PRICE"]
    assert codes(buy(), ctrl, ref="100", ref_ts=None) == ["NO_REFERENCE_PRICE"]
    assert codes(buy(), limits(require_reference_price="false"), ref=None) == []


def test_stale_reference_skips_the_band_and_market_notional():
    ctrl = limits(price_band_pct=1, reference_max_age_ms=100, max_order_notional=1)
    stale = dict(ref="100", ref_ts=T0, now=T0 + 101 * MS)
    assert codes(buy("1", None), ctrl, **stale) == []  # market: no price, notional skipped
    assert codes(buy("1", None), ctrl) == ["MAX_ORDER_NOTIONAL"]  # fresh: 1 x 100 > 1
    band_only = limits(price_band_pct=1, reference_max_age_ms=100)
    assert codes(buy("1", "200"), band_only, **stale) == []
    assert codes(buy("1", "200"), band_only) == ["PRICE_BAND"]


def test_market_order_without_reference_reports_only_when_required():
    relaxed = limits(max_order_notional=1, max_gross_exposure=1)
    assert codes(buy("100", None), relaxed, ref=None) == []
    strict = limits(max_order_notional=1, max_gross_exposure=1, require_reference_price="true")
    assert codes(buy("100", None), strict, ref=None) == ["NO_REFERENCE_PRICE"]


# ------------------------------------------------------------- breach order


def test_all_breaches_in_the_documented_order():
    ctrl = controls(
        (KS, "kill_switch", "on", ACCOUNT),
        (TS, "trading_state", "HALTED"),
        (EN, TRADER, "deny", ACCOUNT),
        (IN, INSTRUMENT, "halted"),
        (L, "max_order_qty", "10"),
        (L, "max_order_notional", "10"),
        (L, "max_position", "10"),
        (L, "max_gross_exposure", "10"),
        (L, "max_net_exposure", "10"),
        (L, "max_open_orders", "0"),
        (L, "price_band_pct", "1"),
        (L, "price_band_ticks", "1"),
        (L, "tick_size", "0.1"),
        (L, "lot_size", "7"),
        (L, "orders_per_second", "1"),
        (L, "order_burst", "1"),
    )
    _, risk = check_new(buy(), ctrl, AccountRisk(), D(100), T0, T0)  # empty the bucket
    breaches, _ = check_new(buy("100", "150.05"), ctrl, risk, D(100), T0, T0)
    got = [b.code for b in breaches]
    assert got == [
        "KILL_SWITCH", "TRADING_HALTED", "NOT_ENTITLED", "INSTRUMENT_HALTED", "MAX_ORDER_QTY",
        "MAX_ORDER_NOTIONAL", "MAX_POSITION", "MAX_GROSS_EXPOSURE", "MAX_NET_EXPOSURE", "MAX_OPEN_ORDERS",
        "PRICE_BAND", "PRICE_BAND", "TICK_SIZE", "LOT_SIZE", "THROTTLE",
    ]
    assert [b.limit for b in breaches if b.code == "PRICE_BAND"] == ["price_band_pct", "price_band_ticks"]
    denial = denial_reason(breaches)
    code, reason = denial.reason_code, denial.reason
    assert code == "KILL_SWITCH" and denial.breaches == tuple(breaches)
    assert reason.startswith("KILL_SWITCH: kill_switch=on attempted=-; TRADING_HALTED: trading_state=HALTED")
    assert "MAX_ORDER_QTY: max_order_qty=10 attempted=100" in reason
    assert reason.endswith("THROTTLE: orders_per_second=1 attempted=-")


def test_reduce_only_and_no_reference_in_order():
    ctrl = controls((TS, "trading_state", "REDUCING", ACCOUNT), (L, "require_reference_price", "true"),
                    (L, "lot_size", "3"))
    assert codes(buy("100"), ctrl, ref=None) == ["REDUCE_ONLY", "NO_REFERENCE_PRICE", "LOT_SIZE"]


def test_denial_reason_of_nothing_raises():
    with pytest.raises(ValueError):
        denial_reason([])
    b = Breach("MAX_ORDER_QTY", "max_order_qty", D(1), D(2), "x")
    assert denial_reason([b]) == Denial("MAX_ORDER_QTY", "MAX_ORDER_QTY: max_order_qty=1 attempted=2", (b,))


# ------------------------------------------------------------- controls fold


def test_account_limit_overrides_global_per_name():
    ctrl = controls((L, "max_order_qty", "100"), (L, "lot_size", "10"), (L, "max_order_qty", "500", ACCOUNT))
    assert limit(ctrl, ACCOUNT, "max_order_qty") == D(500)
    assert limit(ctrl, ACCOUNT, "lot_size") == D(10)
    assert limit(ctrl, "OTHER", "max_order_qty") == D(100)
    assert limit(ctrl, ACCOUNT, "max_position") == DEFAULT_LIMITS["max_position"]  # neither scope: the default
    assert limit(ctrl, ACCOUNT, "max_net_exposure") is None  # no scope and no default
    assert codes(buy("500"), ctrl) == []
    assert codes(buy("500", account="OTHER"), ctrl) == ["MAX_ORDER_QTY"]
    # clearing the account's own limit falls back to the "*" one
    cleared = apply_control(ctrl, ctl(L, "max_order_qty", "none", ACCOUNT))
    assert limit(cleared, ACCOUNT, "max_order_qty") == D(100)


def test_stricter_trading_state_applies():
    assert trading_state(Controls(), ACCOUNT) is TradingState.ACTIVE
    c = controls((TS, "trading_state", "REDUCING"), (TS, "trading_state", "ACTIVE", ACCOUNT))
    assert trading_state(c, ACCOUNT) is TradingState.REDUCING
    c = controls((TS, "trading_state", "ACTIVE"), (TS, "trading_state", "HALTED", ACCOUNT))
    assert trading_state(c, ACCOUNT) is TradingState.HALTED
    assert trading_state(c, "OTHER") is TradingState.ACTIVE
    c = controls((TS, "trading_state", "HALTED"), (TS, "trading_state", "REDUCING", ACCOUNT))
    assert trading_state(c, ACCOUNT) is TradingState.HALTED


def test_kill_switch_on_and_off():
    c = controls((KS, "kill_switch", "on", ACCOUNT))
    assert killed(c, ACCOUNT) and not killed(c, "OTHER")
    assert codes(buy(), c) == ["KILL_SWITCH"]
    c = apply_control(c, ctl(KS, "kill_switch", "off", ACCOUNT))
    assert not killed(c, ACCOUNT)
    assert codes(buy(), c) == []
    c = apply_control(c, ctl(KS, "kill_switch", "on"))
    assert killed(c, ACCOUNT) and killed(c, "OTHER")


def test_entitlements_allow_and_deny():
    open_ = Controls()
    assert codes(buy(), open_) == []
    allow_other = controls((EN, "trader.bob", "allow", ACCOUNT))
    assert codes(buy(), allow_other) == ["NOT_ENTITLED"]  # an allow-list now exists
    assert codes(buy(trader="trader.bob"), allow_other) == []
    allowed = apply_control(allow_other, ctl(EN, TRADER, "allow", ACCOUNT))
    assert codes(buy(), allowed) == []
    # '*' with the trader's name allows them on every account with an allow-list
    global_allow = apply_control(allow_other, ctl(EN, TRADER, "allow", "*"))
    assert codes(buy(), global_allow) == []
    # deny always wins
    assert codes(buy(), apply_control(allowed, ctl(EN, TRADER, "deny", ACCOUNT))) == ["NOT_ENTITLED"]
    assert codes(buy(), apply_control(allowed, ctl(EN, TRADER, "deny", "*"))) == ["NOT_ENTITLED"]
    assert codes(buy(), controls((EN, TRADER, "deny", "OTHER"))) == []


def test_instrument_lists():
    assert codes(buy(), controls((IN, INSTRUMENT, "halted"))) == ["INSTRUMENT_HALTED"]
    assert codes(buy(), controls((IN, INSTRUMENT, "restricted", ACCOUNT))) == ["INSTRUMENT_RESTRICTED"]
    assert codes(buy(), controls((IN, INSTRUMENT, "restricted"), (IN, INSTRUMENT, "halted", ACCOUNT))) == [
        "INSTRUMENT_HALTED"
    ]
    # stricter of '*' and account: an account 'tradable' does not lift a global restriction
    assert codes(buy(), controls((IN, INSTRUMENT, "restricted"), (IN, INSTRUMENT, "tradable", ACCOUNT))) == [
        "INSTRUMENT_RESTRICTED"
    ]
    only_msft = controls((IN, "MSFT", "tradable", ACCOUNT))
    assert codes(buy(), only_msft) == ["INSTRUMENT_NOT_TRADABLE"]
    assert codes(buy(instrument="MSFT"), only_msft) == []
    assert codes(buy(account="OTHER"), only_msft) == []
    both = apply_control(only_msft, ctl(IN, INSTRUMENT, "tradable", ACCOUNT))
    assert codes(buy(), both) == []
    cleared = apply_control(controls((IN, INSTRUMENT, "halted")), ctl(IN, INSTRUMENT, "none"))
    assert codes(buy(), cleared) == []


@pytest.mark.parametrize(
    "kind, name, value",
    [
        (L, "max_qty", "10"),
        (L, "max_order_qty", "abc"),
        (L, "max_order_qty", "-1"),
        (L, "max_order_qty", "NaN"),
        (L, "max_order_qty", "Infinity"),
        (L, "max_open_orders", "2.5"),
        (L, "tick_size", "0"),
        (L, "orders_per_second", "0"),
        (L, "require_reference_price", "yes"),
        (L, "unknown_limit", "none"),
        (TS, "trading_state", "PAUSED"),
        (KS, "kill_switch", "maybe"),
        (EN, TRADER, "permit"),
        (IN, INSTRUMENT, "open"),
    ],
)
def test_bad_control_raises_value_error(kind, name, value):
    before = limits(max_order_qty=5)
    with pytest.raises(ValueError, match=name if kind is L else value):
        apply_control(before, ctl(kind, name, value))
    assert limit(before, ACCOUNT, "max_order_qty") == D(5)


def test_audit_trail_records_every_applied_control():
    c = controls((L, "max_order_qty", "10", ACCOUNT), (KS, "kill_switch", "on"))
    assert [(a.ts_event, a.changed_by, a.scope, a.kind, a.name, a.value, a.reason) for a in c.audit] == [
        (T0, "ops.risk", ACCOUNT, L, "max_order_qty", "10", "test"),
        (T0, "ops.risk", "*", KS, "kill_switch", "on", "test"),
    ]


# ------------------------------------------------------- trading states


def test_reducing_allows_reducing_and_denies_increasing():
    ctrl = controls((TS, "trading_state", "REDUCING", ACCOUNT))
    long_ = account({INSTRUMENT: "100"})
    assert codes(sell("100"), ctrl, long_) == []  # to flat
    assert codes(sell("101"), ctrl, long_) == ["REDUCE_ONLY"]  # through flat
    assert codes(buy("1"), ctrl, long_) == ["REDUCE_ONLY"]
    with_open = with_order(long_, live("o1", "50", side=Side.SELL))
    assert codes(sell("50"), ctrl, with_open) == []
    assert codes(sell("51"), ctrl, with_open) == ["REDUCE_ONLY"]
    short = account({INSTRUMENT: "-20"})
    assert codes(buy("20"), ctrl, short) == []
    assert codes(sell("1"), ctrl, short) == ["REDUCE_ONLY"]
    assert codes(buy("1"), ctrl, AccountRisk()) == ["REDUCE_ONLY"]  # flat: nothing to reduce


def test_halted_denies_every_new_order_but_cancels_are_never_checked():
    ctrl = controls((TS, "trading_state", "HALTED"))
    long_ = account({INSTRUMENT: "100"})
    assert codes(sell("10"), ctrl, long_) == ["TRADING_HALTED"]
    assert codes(buy("10"), ctrl, long_) == ["TRADING_HALTED"]
    order = live("o1", "100")
    assert [b.code for b in check_amend(amend("o1", "o1-a", quantity=D(50)), order, ctrl, long_, D(100), T0, T0)] == [
        "TRADING_HALTED"
    ]


# ------------------------------------------------------------------- throttle


def test_throttle_burst_then_denial_then_refill():
    ctrl = limits(orders_per_second=2, order_burst=3)
    risk = AccountRisk()
    results = []
    for i in range(4):
        breaches, risk = check_new(buy(), ctrl, risk, D(100), T0, T0)
        results.append([b.code for b in breaches])
    assert results == [[], [], [], ["THROTTLE"]]
    breaches, risk = check_new(buy(), ctrl, risk, D(100), T0, T0 + SEC // 2 - 1)
    assert [b.code for b in breaches] == ["THROTTLE"]  # just short of one token
    breaches, risk = check_new(buy(), ctrl, risk, D(100), T0, T0 + SEC // 2)
    assert breaches == []
    breaches, risk = check_new(buy(), ctrl, risk, D(100), T0, T0 + SEC // 2)
    assert [b.code for b in breaches] == ["THROTTLE"]
    # a long idle refills to the burst, not beyond
    for i in range(3):
        breaches, risk = check_new(buy(), ctrl, risk, D(100), T0, T0 + 3600 * SEC)
        assert breaches == []
    breaches, risk = check_new(buy(), ctrl, risk, D(100), T0, T0 + 3600 * SEC)
    assert [b.code for b in breaches] == ["THROTTLE"]


def test_denied_order_still_consumes_a_token():
    ctrl = limits(orders_per_second=1, max_order_qty=1)
    breaches, risk = check_new(buy("5"), ctrl, AccountRisk(), D(100), T0, T0)
    assert [b.code for b in breaches] == ["MAX_ORDER_QTY"]
    breaches, _ = check_new(buy("1"), ctrl, risk, D(100), T0, T0)
    assert [b.code for b in breaches] == ["THROTTLE"]


def test_take_token_never_runs_backwards():
    risk, ok = take_token(AccountRisk(), T0, D(1), D(1))
    assert ok and risk.tokens == 0 and risk.last_refill == T0
    risk, ok = take_token(risk, T0 - SEC, D(1), D(1))
    assert not ok and risk.last_refill == T0
    risk, ok = take_token(risk, T0 + SEC, D(1), D(1))
    assert ok


# --------------------------------------------------------------- account risk


def test_with_order_tracks_live_orders_and_aggregates():
    risk = with_order(AccountRisk(), live("o1", "100"))
    risk = with_order(risk, live("o2", "30", side=Side.SELL))
    assert risk.open_qty == {INSTRUMENT: (D(100), D(30))}
    risk = with_order(risk, live("o1", "100", cum="40", status=OrderStatus.PARTIALLY_FILLED))
    assert risk.open_orders["o1"].leaves_qty == D(60) and risk.open_qty[INSTRUMENT] == (D(60), D(30))
    risk = with_order(risk, live("o1", "100", cum="100", status=OrderStatus.FILLED, leaves_qty=D(0)))
    risk = with_order(risk, live("o2", "30", side=Side.SELL, status=OrderStatus.CANCELED, leaves_qty=D(0)))
    assert risk.open_orders == {} and risk.open_qty == {}


def test_with_order_counts_a_pending_replace_at_its_larger_size():
    pending = PendingRequest(VenueAction.REPLACE, "r2", "o1-a", "cmd", quantity=D(250), limit_price=D(100))
    risk = with_order(AccountRisk(), live("o1", "100", status=OrderStatus.PENDING_REPLACE, pending=pending))
    assert risk.open_orders["o1"].leaves_qty == D(250)


def test_with_fill_moves_the_position_and_a_bust_undoes_it():
    risk = with_fill(AccountRisk(), INSTRUMENT, Side.BUY, D(100))
    risk = with_fill(risk, INSTRUMENT, Side.SELL, D("30.5"))
    assert risk.positions == {INSTRUMENT: D("69.5")}
    risk = with_fill(risk, INSTRUMENT, Side.SELL, D("-30.5"))  # bust of the sell
    risk = with_fill(risk, INSTRUMENT, Side.SELL, D(100))
    assert risk.positions == {}


# ---------------------------------------------------------------------- amends


def test_amend_is_checked_as_the_amended_order_without_counting_itself():
    order = live("o1", "100")
    risk = account(orders=[order])
    ctrl = limits(max_position=150, max_open_orders=1, max_order_qty=150, price_band_pct=5, tick_size="0.01")

    def amend_codes(**kw: Any) -> list[str]:
        return [b.code for b in check_amend(amend("o1", "o1-a", **kw), order, ctrl, risk, D(100), T0, T0)]

    assert amend_codes(quantity=D(150)) == []  # own 100 leaves not double counted, count stays 1
    assert amend_codes(quantity=D(151)) == ["MAX_ORDER_QTY", "MAX_POSITION"]
    assert amend_codes(limit_price=D("105")) == []
    assert amend_codes(limit_price=D("105.01")) == ["PRICE_BAND"]
    assert amend_codes(limit_price=D("104.995")) == ["TICK_SIZE"]


def test_amend_of_a_partly_filled_order_adds_only_the_new_leaves():
    order = live("o1", "100", cum="60", status=OrderStatus.PARTIALLY_FILLED)
    risk = account({INSTRUMENT: "60"}, [order])
    ctrl = limits(max_position=200)
    ok = check_amend(amend("o1", "o1-a", quantity=D(200)), order, ctrl, risk, D(100), T0, T0)
    over = check_amend(amend("o1", "o1-a", quantity=D(201)), order, ctrl, risk, D(100), T0, T0)
    assert ok == [] and [b.code for b in over] == ["MAX_POSITION"]


def test_amend_checks_the_amending_trader():
    order = live("o1", "100")
    ctrl = controls((EN, "trader.bob", "deny", ACCOUNT))
    breaches = check_amend(amend("o1", "o1-a", quantity=D(50), trader="trader.bob"), order, ctrl,
                           account(orders=[order]), D(100), T0, T0)
    assert [b.code for b in breaches] == ["NOT_ENTITLED"]


# ------------------------------------------------------------------- property

_ORDER_INDEX = {code: i for i, code in enumerate(BREACH_CODES)}


@st.composite
def scenario(draw):
    specs = []
    if draw(st.booleans()):
        specs.append((L, "max_order_qty", str(draw(st.integers(1, 500)))))
    if draw(st.booleans()):
        specs.append((L, "max_order_notional", str(draw(st.integers(1, 50_000)))))
    if draw(st.booleans()):
        specs.append((L, "max_position", str(draw(st.integers(0, 500)))))
    if draw(st.booleans()):
        specs.append((L, "max_gross_exposure", str(draw(st.integers(0, 80_000)))))
    if draw(st.booleans()):
        specs.append((L, "max_net_exposure", str(draw(st.integers(0, 80_000)))))
    if draw(st.booleans()):
        specs.append((L, "max_open_orders", str(draw(st.integers(0, 4)))))
    if draw(st.booleans()):
        specs.append((L, "price_band_pct", str(draw(st.integers(0, 20)))))
    if draw(st.booleans()):
        specs.append((L, "tick_size", draw(st.sampled_from(["0.01", "0.05", "1"]))))
        if draw(st.booleans()):
            specs.append((L, "price_band_ticks", str(draw(st.integers(0, 500)))))
    if draw(st.booleans()):
        specs.append((L, "lot_size", draw(st.sampled_from(["1", "10", "0.5"]))))
    if draw(st.booleans()):
        specs.append((L, "require_reference_price", draw(st.sampled_from(["true", "false"]))))
    if draw(st.booleans()):
        specs.append((TS, "trading_state", draw(st.sampled_from(["ACTIVE", "REDUCING", "HALTED"])),
                      draw(st.sampled_from(["*", ACCOUNT]))))
    if draw(st.booleans()):
        specs.append((KS, "kill_switch", draw(st.sampled_from(["on", "off"])), draw(st.sampled_from(["*", ACCOUNT]))))
    if draw(st.booleans()):
        specs.append((EN, draw(st.sampled_from([TRADER, "trader.bob"])), draw(st.sampled_from(["allow", "deny"])),
                      ACCOUNT))
    if draw(st.booleans()):
        specs.append((IN, draw(st.sampled_from([INSTRUMENT, "MSFT"])),
                      draw(st.sampled_from(["tradable", "restricted", "halted"])),
                      draw(st.sampled_from(["*", ACCOUNT]))))
    qty = D(draw(st.integers(1, 1000))) / draw(st.sampled_from([1, 2, 10]))
    market = draw(st.booleans())
    price = None if market else D(draw(st.integers(8000, 12000))) / 100
    side = draw(st.sampled_from([Side.BUY, Side.SELL]))
    position = draw(st.integers(-300, 300))
    n_open = draw(st.integers(0, 4))
    ref = draw(st.one_of(st.none(), st.integers(9000, 11000).map(lambda p: D(p) / 100)))
    return specs, qty, price, side, position, n_open, ref


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_denied_iff_a_breach_and_denial_names_the_first(case):
    specs, qty, price, side, position, n_open, ref = case
    ctrl = controls(*specs)
    orders = [live(f"o{i}", "10", instrument=(INSTRUMENT if i % 2 else "MSFT"), side=Side.BUY if i % 3 else Side.SELL)
              for i in range(n_open)]
    risk = account({INSTRUMENT: str(position)} if position else {}, orders)
    cmd = new_order(quantity=qty, side=side, order_type=OrderType.MARKET if price is None else OrderType.LIMIT,
                    limit_price=price)
    breaches, after = check_new(cmd, ctrl, risk, ref, T0, T0)
    found = [b.code for b in breaches]
    assert set(found) <= set(BREACH_CODES)
    assert [_ORDER_INDEX[c] for c in found] == sorted(_ORDER_INDEX[c] for c in found)
    denied = bool(breaches)
    if denied:
        denial = denial_reason(breaches)
        code, reason = denial.reason_code, denial.reason
        assert code == found[0] and list(denial.breaches) == breaches
        assert reason.count(": ") == len(breaches)
        assert all(f"{b.code}: {b.limit}=" in reason for b in breaches)
    else:
        with pytest.raises(ValueError):
            denial_reason(breaches)
    # independent oracles for the simple checks
    lim = {name: D(value) for kind, name, value, *_ in specs if kind is L and name != "require_reference_price"}
    if "max_order_qty" in lim:
        assert ("MAX_ORDER_QTY" in found) == (qty > lim["max_order_qty"])
    if "lot_size" in lim:
        assert ("LOT_SIZE" in found) == (qty % lim["lot_size"] != 0)
    if "tick_size" in lim:
        assert ("TICK_SIZE" in found) == (price is not None and price % lim["tick_size"] != 0)
    if "max_order_notional" in lim:
        valued = price if price is not None else ref
        assert ("MAX_ORDER_NOTIONAL" in found) == (valued is not None and qty * valued > lim["max_order_notional"])
    if "max_open_orders" in lim:
        assert ("MAX_OPEN_ORDERS" in found) == (n_open + 1 > lim["max_open_orders"])
    if "max_position" in lim:
        same = sum((o.leaves_qty for o in orders if o.instrument == INSTRUMENT and o.side is side), D(0))
        assert ("MAX_POSITION" in found) == (abs(position + side.sign * (same + qty)) > lim["max_position"])
    killed_ = any(k is KS and v == "on" for k, _, v, *_ in specs)
    assert ("KILL_SWITCH" in found) == killed_
    assert after == risk  # no throttle configured: state unchanged


def test_every_name_the_single_module_exported_still_imports_from_the_package():
    import oms.domain.orders as orders
    import oms.domain.risk as risk

    before = {
        "BREACH_CODES", "LIMIT_NAMES", "PostTradeActions", "post_trade_actions", "AccountRisk", "AuditEntry",
        "Breach", "Controls", "OpenOrder", "apply_control", "check_amend", "check_new", "denial_reason",
        "entitled", "instrument_state", "killed", "limit", "take_token", "trading_state", "with_fill", "with_order",
    }
    assert before <= set(risk.__all__) and all(hasattr(risk, name) for name in risk.__all__)
    assert all(hasattr(orders, name) for name in orders.__all__)


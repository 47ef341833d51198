"""Tests of the fail-closed risk defaults and of representability in the pre-trade checks.

This module owns the evidence that an account with no limits is held to the
default limits (built in, or parsed from configuration) beneath its own and
the `*` ones, name by name; that the defaults parser refuses what it cannot
apply; that `limits_in_force` names each limit's source; that ordinary desk
flow (the pipeline tests' and the demo's orders) passes the built-in
defaults; and that an order whose notional, projected exposure or projected
position does not fit the wire's decimal(28, 8) is denied whatever the
limits. Pure: no Kafka, no clock.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from oms.domain.representable import WIRE_LIMIT, representable
from oms.domain.risk import (
    BREACH_CODES,
    DEFAULT_LIMITS,
    AccountRisk,
    Controls,
    LimitInForce,
    apply_control,
    check_amend,
    check_new,
    denial_reason,
    limit,
    limits_in_force,
    parse_default_limits,
    with_fill,
    with_order,
)
from oms.events import ControlKind, OrderType, RiskControl, Side
from tests.builders import ACCOUNT, INSTRUMENT, T0, OrderHarness, amend, new_order

BIGGEST_QTY = D("99999999999999999999.99999999")
"""The largest quantity the wire accepts."""


def limit_control(name: str, value: str, scope: str = "*") -> RiskControl:
    return RiskControl(event_id=f"rc-{name}-{value}", ts_event=T0, ts_init=T0, scope=scope,
                       kind=ControlKind.LIMIT, name=name, value=value, changed_by="ops.risk", reason="test")


def codes(cmd, controls: Controls, risk: AccountRisk = AccountRisk(), ref: D | None = D(100)) -> list[str]:
    breaches, _ = check_new(cmd, controls, risk, ref, T0, T0)
    return [b.code for b in breaches]


UNLIMITED = Controls(defaults={})
"""No limits anywhere (only an explicit empty defaults mapping gives this)."""


# ------------------------------------------------------------------- defaults


def test_no_controls_means_the_default_limits_not_no_limits() -> None:
    huge = new_order(quantity=D("1e19"), order_type=OrderType.MARKET)
    assert codes(huge, Controls(), ref=None) == ["MAX_ORDER_QTY", "MAX_POSITION"]
    assert Controls().defaults == dict(DEFAULT_LIMITS)


def test_default_applies_only_beneath_the_account_and_star_limits() -> None:
    star = apply_control(Controls(), limit_control("max_order_qty", "10"))
    own = apply_control(star, limit_control("max_order_qty", "20", ACCOUNT))
    assert limit(Controls(), ACCOUNT, "max_order_qty") == DEFAULT_LIMITS["max_order_qty"]
    assert limit(star, ACCOUNT, "max_order_qty") == D(10)
    assert limit(own, ACCOUNT, "max_order_qty") == D(20)
    assert limit(own, ACCOUNT, "max_open_orders") == DEFAULT_LIMITS["max_open_orders"]
    cleared = apply_control(apply_control(own, limit_control("max_order_qty", "none", ACCOUNT)),
                            limit_control("max_order_qty", "none"))
    assert limit(cleared, ACCOUNT, "max_order_qty") == DEFAULT_LIMITS["max_order_qty"]  # back to the default


def test_a_larger_account_limit_lifts_the_default_for_that_account_only() -> None:
    big = new_order(quantity=D(200_000), limit_price=D(1))
    lifted = apply_control(Controls(), limit_control("max_order_qty", "1000000", ACCOUNT))
    assert codes(big, lifted) == []
    assert codes(new_order(quantity=D(200_000), limit_price=D(1), account="OTHER"), lifted) == ["MAX_ORDER_QTY"]


def test_configured_defaults_replace_the_builtin_ones_name_by_name() -> None:
    defaults = parse_default_limits("max_order_qty=50, max_order_notional=2000000")
    assert defaults == {**DEFAULT_LIMITS, "max_order_qty": D(50), "max_order_notional": D(2_000_000)}
    assert codes(new_order(quantity=D(51), limit_price=D(1)), Controls(defaults=defaults)) == ["MAX_ORDER_QTY"]


def test_configured_defaults_may_add_a_limit_and_drop_one() -> None:
    defaults = parse_default_limits("price_band_pct=10,max_open_orders=none")
    assert defaults["price_band_pct"] == D(10) and "max_open_orders" not in defaults
    assert parse_default_limits("") == dict(DEFAULT_LIMITS)
    assert parse_default_limits("max_order_qty=7", base={}) == {"max_order_qty": D(7)}


@pytest.mark.parametrize(
    "spec, message",
    [
        ("max_shares=10", "unknown limit"),
        ("max_order_qty=ten", "not a decimal"),
        ("max_order_qty=-1", "negative"),
        ("max_order_qty=Infinity", "not finite"),
        ("max_open_orders=1.5", "not an integer"),
        ("max_order_qty", "NAME=VALUE"),
        ("=5", "NAME=VALUE"),
        ("max_order_qty=1,max_order_qty=2", "twice"),
        ("nonsense=none", "unknown limit"),
    ],
)
def test_defaults_parser_refuses_what_it_cannot_apply(spec, message) -> None:
    with pytest.raises(ValueError, match=message):
        parse_default_limits(spec)


def test_limits_in_force_name_their_source() -> None:
    c = apply_control(apply_control(Controls(), limit_control("max_order_qty", "10")),
                      limit_control("max_open_orders", "3", ACCOUNT))
    shown = {entry.name: entry for entry in limits_in_force(c, ACCOUNT)}
    assert shown["max_open_orders"] == LimitInForce("max_open_orders", D(3), "account")
    assert shown["max_order_qty"] == LimitInForce("max_order_qty", D(10), "*")
    assert shown["max_gross_exposure"] == LimitInForce("max_gross_exposure", DEFAULT_LIMITS["max_gross_exposure"],
                                                       "default")
    assert {e.source for e in limits_in_force(c)} == {"*", "default"}  # `*`: an account with none of its own
    assert limits_in_force(UNLIMITED) == []


def test_builtin_defaults_let_ordinary_desk_flow_through() -> None:
    # the pipeline tests: ~100 shares at $100-200, resting limits far from the market
    assert codes(new_order(quantity=D(100), limit_price=D("187.25")), Controls()) == []
    assert codes(new_order(quantity=D(100), limit_price=D("1.00")), Controls(), ref=D(400)) == []
    assert codes(new_order(quantity=D(10), limit_price=D(999), side=Side.SELL), Controls(), ref=D(100)) == []
    # the demo: ~100 orders per account, sizes drawn from these, at these prices; worst case: all
    # buys, all resting, every fourth one filled as well
    sizes = (10, 20, 50, 50, 100, 100, 100, 200, 200, 300, 500, 1500)
    prices = {"AAPL": D("187.00"), "MSFT": D("411.50"), "TSLA": D("242.10"), "SPY": D("598.20")}
    names = list(prices)
    risk = AccountRisk()
    for i in range(100):
        instrument, qty = names[i % 4], D(sizes[i % len(sizes)])
        cmd = new_order(f"d-{i}", instrument=instrument, quantity=qty, limit_price=prices[instrument])
        breaches, risk = check_new(cmd, Controls(), risk, prices[instrument], T0, T0, prices)
        assert breaches == [], (i, breaches)
        h = OrderHarness()
        h.new(f"d-{i}", instrument=instrument, quantity=qty, limit_price=prices[instrument])
        risk = with_order(risk, h.order)
        if i % 4 == 0:
            risk = with_fill(risk, instrument, Side.BUY, qty, prices[instrument])


# ------------------------------------------------------------ representable


def test_wire_limit_is_the_first_magnitude_decimal_28_8_cannot_hold() -> None:
    assert representable(BIGGEST_QTY) and representable(-BIGGEST_QTY)
    assert not representable(WIRE_LIMIT) and not representable(-WIRE_LIMIT)
    assert not representable(D("99999999999999999999.999999995"))  # rounds up to 10^20 on the wire
    assert representable(D("0.000000001")) and not representable(D("NaN")) and not representable(D("Infinity"))


def test_unrepresentable_notional_is_denied_whatever_the_limits() -> None:
    cmd = new_order(quantity=D("1e18"), limit_price=D(1000))
    breaches, _ = check_new(cmd, UNLIMITED, AccountRisk(), D(1000), T0, T0)
    assert [b.code for b in breaches] == ["NOTIONAL_UNREPRESENTABLE", "NOTIONAL_UNREPRESENTABLE",
                                          "NOTIONAL_UNREPRESENTABLE"]
    assert [b.detail.split(" ")[0] for b in breaches] == ["notional", "projected", "projected"]
    denial = denial_reason(breaches)
    assert denial.reason_code == "NOTIONAL_UNREPRESENTABLE" and "decimal(28,8)" in denial.reason


def test_unrepresentable_notional_of_a_market_order_at_the_reference_is_denied() -> None:
    cmd = new_order(quantity=BIGGEST_QTY, order_type=OrderType.MARKET)
    assert codes(cmd, UNLIMITED, ref=D("0.5")) == []  # 5 x 10^19: fits
    assert codes(cmd, UNLIMITED, ref=D(2))[0] == "NOTIONAL_UNREPRESENTABLE"
    assert codes(cmd, UNLIMITED, ref=None) == []  # no price known: nothing to value, quantity fits


def test_unrepresentable_notional_comes_before_the_limits_it_also_breaks() -> None:
    cmd = new_order(quantity=D("1e18"), limit_price=D(1000))
    found = codes(cmd, Controls())
    assert found[:3] == ["NOTIONAL_UNREPRESENTABLE"] * 3
    assert found[3:] == ["MAX_ORDER_QTY", "MAX_ORDER_NOTIONAL", "MAX_POSITION", "MAX_GROSS_EXPOSURE"]
    index = [BREACH_CODES.index(code) for code in found]
    assert index == sorted(index)


def test_unrepresentable_projected_position_is_denied_whatever_the_limits() -> None:
    risk = with_fill(AccountRisk(), INSTRUMENT, Side.BUY, D("6e19"))
    cmd = new_order(quantity=D("5e19"), order_type=OrderType.MARKET)
    assert codes(cmd, UNLIMITED, risk, ref=None) == ["POSITION_UNREPRESENTABLE"]
    assert codes(new_order(quantity=D("5e19"), order_type=OrderType.MARKET, side=Side.SELL), UNLIMITED, risk,
                 ref=None) == []  # reduces: 1 x 10^19 fits


def test_unrepresentable_gross_exposure_across_instruments_is_denied() -> None:
    risk = with_fill(with_fill(AccountRisk(), "MSFT", Side.BUY, D("6e17"), D(100)), "TSLA", Side.BUY, D("6e17"),
                     D(100))
    cmd = new_order(quantity=D(1), limit_price=D(1))
    breaches, _ = check_new(cmd, UNLIMITED, risk, D(1), T0, T0)
    assert [b.code for b in breaches] == ["NOTIONAL_UNREPRESENTABLE", "NOTIONAL_UNREPRESENTABLE"]
    assert "gross exposure" in breaches[0].detail and "net exposure" in breaches[1].detail


def test_amend_to_an_unrepresentable_notional_is_refused() -> None:
    h = OrderHarness()
    order = h.working(quantity=D(10), limit_price=D(100))
    risk = with_order(AccountRisk(), order)
    breaches = check_amend(amend("cl-1", "cl-1a", quantity=D("1e19")), order, UNLIMITED, risk, D(100), T0, T0)
    assert [b.code for b in breaches][:1] == ["NOTIONAL_UNREPRESENTABLE"]


def test_the_engine_step_with_no_controls_configured_denies_a_huge_order() -> None:
    from oms.domain.engine import RiskView, step
    from oms.routing import StaticRouter

    huge = new_order(quantity=D("1e19"), order_type=OrderType.MARKET)
    outcome = step(lambda _: None, huge, StaticRouter(), T0, RiskView(), lambda _: None)
    assert [type(e).__name__ for e in outcome.journal] == ["OrderAccepted", "OrderDenied"]
    assert outcome.journal[1].reason_code == "MAX_ORDER_QTY" and outcome.requests == []

"""Tests of `oms.domain.risk.check_new` / `check_amend` against a reference recomputed from scratch.

This module owns the evidence (hypothesis) that the pre-trade checks, which
read running totals, a cached valuation, per-`Controls` plans and an
all-clear shortcut, decide exactly as the documented rules applied the
straightforward way: every limit read through `limit`, every open order and
position looped over, the exposure summed instrument by instrument at the
given prices, the throttle bucket refilled by its formula. Over random
accounts, controls, price mappings (reused, moved, absent) and sequences of
new orders and amends, with the returned state fed to the next check and
fills and order updates folded in between, the breaches (code, limit, value,
attempted, in order) and the throttle bucket must be equal.
"""

from __future__ import annotations

from decimal import Decimal as D
from decimal import localcontext

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms.domain.representable import representable
from oms.domain.risk import (
    AccountRisk,
    Controls,
    apply_control,
    check_amend,
    check_new,
    entitled,
    instrument_state,
    killed,
    limit,
    trading_state,
)
from oms.domain.risk._exact import EXACT
from oms.events import ControlKind, OrderStatus, OrderType, RiskControl, Side, TradingState
from tests.builders import ACCOUNT, T0, TRADER, amend, new_order
from tests.oms.domain.test_risk_totals import fold, order

NAMES = ["AAPL", "MSFT", "IBM"]
MS = 1_000_000
ZERO = D(0)


# ------------------------------------------------------------------ the reference


def reference_breaches(controls: Controls, risk: AccountRisk, trader: str, instrument: str, side: Side,
                       quantity: D, adds: D, price: D | None, exclude: str | None, reference: D | None,
                       reference_ts: int | None, now: int, prices: dict | None) -> list[tuple]:
    """(code, limit, value, attempted) of every breach but the throttle, by the module's conventions,
    recomputed from the open orders, positions and marks."""
    def get(name: str) -> D | None:
        return limit(controls, ACCOUNT, name)

    with localcontext(EXACT):
        fresh, age = reference, get("reference_max_age_ms")
        if fresh is not None and age is not None and (reference_ts is None or now - reference_ts > int(age) * MS):
            fresh = None
        orders = [entry for order_id, entry in risk.open_orders.items() if order_id != exclude]

        def leaves(name: str, on: Side) -> D:
            return sum((e.leaves_qty for e in orders if e.instrument == name and e.side is on), ZERO)

        held = risk.positions.get(instrument, ZERO)
        same = leaves(instrument, side)
        position = held + side.sign * (same + adds)
        priced = price if price is not None else fresh
        notional = quantity * priced if priced is not None else None
        gross = long = short = ZERO
        for name in {*risk.positions, *(e.instrument for e in orders), instrument}:
            at = (prices or {}).get(name)
            if at is None and name == instrument:
                at = fresh if fresh is not None else price
            if at is None:
                at = risk.marks.get(name)
            if at is None:
                continue
            buy, sell = leaves(name, Side.BUY), leaves(name, Side.SELL)
            if name == instrument:
                buy, sell = (buy + adds, sell) if side is Side.BUY else (buy, sell + adds)
            pos = risk.positions.get(name, ZERO)
            up, down = pos + buy, pos - sell
            gross += max(abs(up), abs(down)) * at
            long += up * at
            short += down * at
        net = max(abs(long), abs(short))

        found: list[tuple] = []
        if killed(controls, ACCOUNT):
            found.append(("KILL_SWITCH", "kill_switch", "on", None))
        state = trading_state(controls, ACCOUNT)
        if state is TradingState.HALTED:
            found.append(("TRADING_HALTED", "trading_state", "HALTED", None))
        elif state is TradingState.REDUCING:
            if not (held != 0 and (held > 0) != (side is Side.BUY) and same + adds <= abs(held)):
                found.append(("REDUCE_ONLY", "trading_state", "REDUCING", str(position)))
        if not entitled(controls, ACCOUNT, trader):
            found.append(("NOT_ENTITLED", "entitlement", "deny", trader))
        code = instrument_state(controls, ACCOUNT, instrument)
        if code is not None:
            found.append((code, "instrument", code.removeprefix("INSTRUMENT_").lower(), instrument))
        for value in (notional, gross, net):
            if value is not None and not representable(value):
                found.append(("NOTIONAL_UNREPRESENTABLE", "wire", "decimal(28,8)", value))
        if not representable(position):
            found.append(("POSITION_UNREPRESENTABLE", "wire", "decimal(28,8)", position))
        for code, name, attempted in (("MAX_ORDER_QTY", "max_order_qty", quantity),
                                      ("MAX_ORDER_NOTIONAL", "max_order_notional", notional),
                                      ("MAX_POSITION", "max_position", abs(position)),
                                      ("MAX_GROSS_EXPOSURE", "max_gross_exposure", gross),
                                      ("MAX_NET_EXPOSURE", "max_net_exposure", net),
                                      ("MAX_OPEN_ORDERS", "max_open_orders", D(len(orders) + 1))):
            value = get(name)
            if value is not None and attempted is not None and attempted > value:
                found.append((code, name, value, attempted))
        pct, ticks, tick = get("price_band_pct"), get("price_band_ticks"), get("tick_size")
        if price is not None and fresh is not None:
            if pct is not None and abs(price - fresh) > pct / 100 * fresh:
                found.append(("PRICE_BAND", "price_band_pct", pct, price))
            if ticks is not None and tick is not None and abs(price - fresh) > ticks * tick:
                found.append(("PRICE_BAND", "price_band_ticks", ticks, price))
        if fresh is None and get("require_reference_price") == 1:
            found.append(("NO_REFERENCE_PRICE", "require_reference_price", "true", None))
        if tick is not None and price is not None and price % tick != 0:
            found.append(("TICK_SIZE", "tick_size", tick, price))
        lot = get("lot_size")
        if lot is not None and quantity % lot != 0:
            found.append(("LOT_SIZE", "lot_size", lot, quantity))
    return found


def reference_bucket(controls: Controls, tokens: D | None, last: int | None, now: int) -> tuple[D | None, int | None, bool]:
    """The throttle bucket after one order at `now`: refilled by rate x elapsed seconds up to the burst,
    one token taken when there is one (None, None, True: no throttle configured)."""
    rate, burst = limit(controls, ACCOUNT, "orders_per_second"), limit(controls, ACCOUNT, "order_burst")
    if rate is None:
        return tokens, last, True
    burst = burst if burst is not None else max(D(1), rate)
    with localcontext(EXACT):
        if last is None:
            tokens, last = burst, now
        elif now > last:
            tokens, last = min(burst, tokens + rate * (now - last) / 1_000_000_000), now
        tokens = min(tokens, burst)
        if tokens < 1:
            return tokens, last, False
        return tokens - 1, last, True


def as_compared(breaches) -> list[tuple]:
    return [(b.code, b.limit, b.value, b.attempted) for b in breaches]


# ------------------------------------------------------------------ random accounts and commands


px = st.integers(1, 20_000).map(lambda n: D(n) / 100)
qty = st.integers(1, 500).map(D)
limits = st.fixed_dictionaries({}, optional={
    "max_order_qty": st.integers(1, 500).map(str),
    "max_order_notional": st.integers(1, 50_000).map(str),
    "max_position": st.integers(0, 600).map(str),
    "max_gross_exposure": st.integers(0, 200_000).map(str),
    "max_net_exposure": st.integers(0, 200_000).map(str),
    "max_open_orders": st.integers(0, 6).map(str),
    "price_band_pct": st.integers(0, 20).map(str),
    "price_band_ticks": st.integers(0, 500).map(str),
    "tick_size": st.sampled_from(["0.01", "0.05", "1"]),
    "lot_size": st.sampled_from(["1", "10", "0.5"]),
    "require_reference_price": st.sampled_from(["true", "false"]),
    "reference_max_age_ms": st.integers(0, 3).map(str),
    "orders_per_second": st.sampled_from(["0.5", "1", "3", "1000"]),
    "order_burst": st.integers(1, 3).map(str),
})
others = st.lists(st.sampled_from([
    (ControlKind.TRADING_STATE, "*", "trading_state", "REDUCING"),
    (ControlKind.TRADING_STATE, ACCOUNT, "trading_state", "HALTED"),
    (ControlKind.KILL_SWITCH, "*", "kill_switch", "on"),
    (ControlKind.ENTITLEMENT, ACCOUNT, "trader.bob", "allow"),
    (ControlKind.INSTRUMENT, "*", "MSFT", "tradable"),
    (ControlKind.INSTRUMENT, ACCOUNT, "AAPL", "restricted"),
]), max_size=2)
updates = st.one_of(
    st.tuples(st.just("order"), st.integers(0, 6), st.sampled_from(NAMES), st.sampled_from(list(Side)), qty,
              st.sampled_from([OrderStatus.NEW, OrderStatus.FILLED])),
    st.tuples(st.just("fill"), st.sampled_from(NAMES), st.sampled_from(list(Side)), qty, st.none() | px),
)
commands = st.tuples(
    st.sampled_from(NAMES), st.sampled_from(list(Side)),
    st.one_of(st.integers(1, 1_000).map(lambda n: D(n) / 2), st.just(D(10) ** 19)),  # the last: past the wire
    st.none() | px,                                          # limit price (None: market)
    st.none() | px,                                          # reference price
    st.integers(0, 5_000 * MS) | st.integers(0, 5 * MS),     # time since the previous command
    st.sampled_from([TRADER, "trader.bob"]),
    st.integers(0, 6),                                       # which open order an amend would change
    st.sampled_from(["same", "moved", "other", "none"]),     # the prices: as before, moved, others only, absent
    st.dictionaries(st.sampled_from(NAMES), px),
    st.lists(updates, max_size=3),                           # folded in after the command
)


def control(n: int, kind: ControlKind, scope: str, name: str, value: str) -> RiskControl:
    return RiskControl(event_id=f"rc{n}", ts_event=T0, ts_init=T0, scope=scope, kind=kind, name=name, value=value,
                       changed_by="test")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limits, others, st.lists(updates, max_size=20), st.lists(commands, min_size=1, max_size=8))
def test_checks_decide_as_the_reference_recomputed_from_scratch(limit_values, other, history, sequence):
    controls = Controls()
    for n, (name, value) in enumerate(limit_values.items()):
        controls = apply_control(controls, control(n, ControlKind.LIMIT, "*", name, value))
    for n, spec in enumerate(other):
        controls = apply_control(controls, control(100 + n, *spec))
    instruments: dict[int, str] = {}
    risk = fold(history, AccountRisk(), instruments)
    prices: dict = {}
    now = T0
    for n, (instrument, side, quantity, price, ref, elapsed, trader, which, mapping, new_prices,
            then) in enumerate(sequence):
        if mapping == "moved":
            prices = {**prices, **new_prices}  # unchanged instruments keep their price objects
        elif mapping == "other":
            prices = dict(new_prices)  # instruments priced before may have no price now
        given_prices = None if mapping == "none" else prices
        now += elapsed
        command = new_order(f"k{n}", instrument=instrument, side=side, quantity=quantity, trader=trader,
                            order_type=OrderType.MARKET if price is None else OrderType.LIMIT, limit_price=price)
        expected = reference_breaches(controls, risk, trader, instrument, side, quantity, quantity, price, None,
                                      ref, T0, now, given_prices)
        tokens, last, ok = reference_bucket(controls, risk.tokens if risk.last_refill is not None else None,
                                            risk.last_refill, now)
        breaches, after = check_new(command, controls, risk, ref, T0, now, given_prices)

        assert as_compared(breaches) == expected + ([] if ok else [
            ("THROTTLE", "orders_per_second", limit(controls, ACCOUNT, "orders_per_second"), None)])
        if limit(controls, ACCOUNT, "orders_per_second") is not None:
            assert (after.tokens, after.last_refill) == (tokens, last)
        assert (after.positions, after.open_qty, after.open_count, after.exposure) == (
            risk.positions, risk.open_qty, risk.open_count, risk.exposure)

        entry = after.open_orders.get(f"O{which}")
        if entry is not None:  # an amend of that open order, to this command's quantity and price
            live = order(which, entry.instrument, entry.side, entry.leaves_qty, OrderStatus.NEW)
            change = amend(f"c{which}", f"a{n}", quantity=quantity, limit_price=price or D(100), trader=trader)
            expected = reference_breaches(controls, after, trader, entry.instrument, entry.side, quantity, quantity,
                                          price or D(100), f"O{which}", ref, T0, now, given_prices)
            assert as_compared(check_amend(change, live, controls, after, ref, T0, now, given_prices)) == expected
        risk = fold(then, after, instruments)

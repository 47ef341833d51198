"""Post-trade risk decisions: loss limit, drawdown, exposure alerts, kill-switch cancels and their de-duplication."""

from __future__ import annotations

from decimal import Decimal as D

from oms.domain.orders import LIVE_STATUSES
from oms.domain.risk import STATE_RANK, Controls, apply_control, needs_kill_cancel, post_trade_actions
from oms.events import ControlKind, OrderStatus, RiskControl, TradingState
from tests.builders import order_view, position

NOW = 1_700_000_000_000_000_000


def controls(*entries) -> Controls:
    c = Controls()
    for n, (scope, kind, name, value) in enumerate(entries):
        c = apply_control(c, RiskControl(event_id=f"rc{n}", ts_event=NOW, ts_init=NOW, scope=scope, kind=kind,
                                         name=name, value=value, changed_by="test"))
    return c


def long_aapl(account="ACC-1", realized="0"):
    return position(account=account, instrument="AAPL", quantity=D(100), avg_price=D(100),
                    realized_pnl=D(realized))


def test_loss_at_the_limit_halts_the_account_and_one_cent_less_does_not():
    c = controls(("ACC-1", ControlKind.LIMIT, "max_loss", "500"))
    at_limit = post_trade_actions(c, [], [long_aapl()], {"AAPL": D(95)}, {}, set(), NOW)  # -500
    (change,) = at_limit.controls
    assert (change.scope, change.kind, change.value) == ("ACC-1", ControlKind.TRADING_STATE, "HALTED")
    assert "-500" in change.reason
    inside = post_trade_actions(c, [], [long_aapl()], {"AAPL": D("95.01")}, {}, set(), NOW)  # -499
    assert inside.controls == []


def test_drawdown_from_the_peak_moves_to_reducing_but_never_loosens_halted():
    c = controls(("ACC-1", ControlKind.LIMIT, "max_drawdown", "300"))
    peak = post_trade_actions(c, [], [long_aapl()], {"AAPL": D(110)}, {}, set(), NOW)  # +1000
    assert peak.controls == [] and peak.peaks["ACC-1"] == D(1000)
    down = post_trade_actions(c, [], [long_aapl()], {"AAPL": D(107)}, peak.peaks, set(), NOW)  # +700
    assert [x.value for x in down.controls] == [TradingState.REDUCING.value]
    halted = controls(("ACC-1", ControlKind.LIMIT, "max_drawdown", "300"),
                      ("ACC-1", ControlKind.TRADING_STATE, "state", "HALTED"))
    assert post_trade_actions(halted, [], [long_aapl()], {"AAPL": D(107)}, peak.peaks, set(), NOW).controls == []


def test_gross_exposure_above_its_limit_is_reported():
    c = controls(("ACC-1", ControlKind.LIMIT, "max_gross_exposure", "10000"))
    assert post_trade_actions(c, [], [long_aapl()], {"AAPL": D(100)}, {}, set(), NOW).alerts == []
    (alert,) = post_trade_actions(c, [], [long_aapl()], {"AAPL": D("100.01")}, {}, set(), NOW).alerts
    assert "ACC-1" in alert and "max_gross_exposure" in alert


def test_kill_switch_cancels_each_live_order_in_scope_once():
    c = controls(("ACC-1", ControlKind.KILL_SWITCH, "kill_switch", "on"))
    live = order_view(account="ACC-1", order_id="O1", client_order_id="c1", status=OrderStatus.NEW)
    done = order_view(account="ACC-1", order_id="O2", client_order_id="c2", status=OrderStatus.FILLED)
    other = order_view(account="ACC-2", order_id="O3", client_order_id="c3", status=OrderStatus.NEW)
    actions = post_trade_actions(c, [live, done, other], [], {}, {}, set(), NOW)
    (cancel,) = actions.cancels
    assert (cancel.account, cancel.orig_client_order_id, cancel.client_order_id) == ("ACC-1", "c1", "kill-O1")
    assert actions.canceled == {"O1"}
    again = post_trade_actions(c, [live], [], {}, {}, actions.canceled, NOW)
    assert again.cancels == [] and again.canceled == {"O1"}
    everyone = controls(("*", ControlKind.KILL_SWITCH, "kill_switch", "on"))
    assert len(post_trade_actions(everyone, [live, other], [], {}, {}, set(), NOW).cancels) == 2


def test_the_kill_switch_cancels_live_orders_with_no_cancel_in_flight_and_nothing_else():
    c = controls(("ACC-1", ControlKind.KILL_SWITCH, "kill_switch", "on"))
    views = {
        status: order_view(account="ACC-1", order_id=f"O-{status.value}", client_order_id=f"c-{status.value}",
                           status=status, leaves_qty=D(60) if status in LIVE_STATUSES else D(0))
        for status in OrderStatus
    }
    canceled = {c.orig_client_order_id for c in post_trade_actions(c, views.values(), [], {}, {}, set(), NOW).cancels}
    wanted = {OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_REPLACE,
              OrderStatus.SUSPENDED}  # a halted order is live: it may resume
    assert canceled == {f"c-{s.value}" for s in wanted}
    assert {s for s, view in views.items() if needs_kill_cancel(view)} == wanted
    # the rule is liveness (one definition) minus a cancel already in flight
    assert wanted == LIVE_STATUSES - {OrderStatus.PENDING_CANCEL}
    # DONE_FOR_DAY (FIX OrdStatus 3, no further executions today) is not live: the engine would refuse the cancel
    assert not needs_kill_cancel(views[OrderStatus.DONE_FOR_DAY])
    assert not needs_kill_cancel(views[OrderStatus.PENDING_CANCEL])


def test_the_canceled_set_grows_across_rounds_and_is_never_mutated():
    c = controls(("*", ControlKind.KILL_SWITCH, "kill_switch", "on"))
    first = order_view(account="ACC-1", order_id="O1", client_order_id="c1", status=OrderStatus.NEW)
    second = order_view(account="ACC-2", order_id="O2", client_order_id="c2", status=OrderStatus.NEW)
    given = frozenset()
    round1 = post_trade_actions(c, [first], [], {}, {}, given, NOW)
    assert round1.canceled == {"O1"} and given == frozenset()
    round2 = post_trade_actions(c, [first, second], [], {}, {}, round1.canceled, NOW + 1)
    assert [x.orig_client_order_id for x in round2.cancels] == ["c2"]
    assert round2.canceled == {"O1", "O2"} and round1.canceled == {"O1"}
    calm = post_trade_actions(controls(), [first], [], {}, {}, round2.canceled, NOW + 2)
    assert calm.cancels == [] and calm.canceled == round2.canceled


def test_escalation_uses_the_one_trading_state_rank():
    assert [s for s, _ in sorted(STATE_RANK.items(), key=lambda kv: kv[1])] == [
        TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED]
    reducing = controls(("ACC-1", ControlKind.LIMIT, "max_loss", "500"),
                        ("ACC-1", ControlKind.TRADING_STATE, "state", "REDUCING"))
    (change,) = post_trade_actions(reducing, [], [long_aapl()], {"AAPL": D(90)}, {}, set(), NOW).controls
    assert change.value == "HALTED"  # stricter than REDUCING: escalates
    halted_everywhere = controls(("ACC-1", ControlKind.LIMIT, "max_drawdown", "1"),
                                 ("*", ControlKind.TRADING_STATE, "state", "HALTED"))
    assert post_trade_actions(halted_everywhere, [], [long_aapl()], {"AAPL": D(90)}, {"ACC-1": D(0)}, set(),
                              NOW).controls == []

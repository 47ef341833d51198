"""Post-trade risk decisions: loss limit, drawdown, exposure alerts and kill-switch cancels."""

from __future__ import annotations

from decimal import Decimal as D

from oms.domain.risk import Controls, apply_control, post_trade_actions
from oms.events import ControlKind, OrderStatus, RiskControl, TradingState
from tests.stubs import order_view, position

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

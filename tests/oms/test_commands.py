"""`oms.commands`: order commands built by kind with one envelope, and validated risk controls."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from oms import commands, ids, keys
from oms.clock import TestClock
from oms.commands import CommandError
from oms.events import AmendOrder, CancelOrder, ControlKind, NewOrder, OrderType

CLOCK = TestClock(1_767_258_000_000_000_000)


def test_build_by_kind_stamps_one_envelope() -> None:
    common = dict(account="ACC1", trader="alice")
    new = commands.build("new", CLOCK, client_order_id="c-1", instrument="AAPL", side="buy", quantity="100",
                         limit_price="187.25", **common)
    amend = commands.build("amend", CLOCK, client_order_id="c-2", orig_client_order_id="c-1", quantity=150,
                           **common)
    cancel = commands.build("cancel", CLOCK, client_order_id="c-3", orig_client_order_id="c-1", **common)
    assert (type(new), type(amend), type(cancel)) == (NewOrder, AmendOrder, CancelOrder)
    assert new.order_type is OrderType.LIMIT and new.limit_price == D("187.25")
    assert amend.quantity == D(150) and amend.limit_price is None
    for command, kind in ((new, "new"), (amend, "amend"), (cancel, "cancel")):
        assert command.event_id == ids.command_id("ACC1", command.client_order_id, kind)
        assert command.ts_event == command.ts_init == CLOCK.now_ns()
        assert (command.account, command.trader) == ("ACC1", "alice")
    assert commands.new_order(CLOCK, client_order_id="c-1", instrument="AAPL", side="BUY", quantity="100",
                              limit_price="187.25", **common) == new


def test_build_refuses_an_unknown_kind_and_bad_fields() -> None:
    with pytest.raises(CommandError) as exc:
        commands.build("replace", CLOCK, account="ACC1")
    assert exc.value.field == "kind"
    with pytest.raises(CommandError) as exc:
        commands.build("new", CLOCK, account="ACC1", trader="t", client_order_id="c", instrument="AAPL",
                       side="BUY", quantity=1.5)
    assert exc.value.field == "quantity"


def test_risk_control_is_validated_like_the_engine_applies_it() -> None:
    control = commands.risk_control(CLOCK, event_id="rc.1", scope="*", kind="limit", name="max_order_qty",
                                    value="500", changed_by="alice", reason="desk")
    assert (control.kind, control.name, control.value, control.ts_event) == (
        ControlKind.LIMIT, "max_order_qty", "500", CLOCK.now_ns())
    assert keys.control(control.scope, control.kind.value, control.name) == "*|LIMIT|max_order_qty"
    for kind, name, value, field in (("LIMIT", "max_banana", "5", "control"), ("LIMIT", "max_order_qty", "lots",
                                     "control"), ("KILL_SWITCH", "kill_switch", "maybe", "control"),
                                     ("VIBES", "x", "y", "kind")):
        with pytest.raises(CommandError) as exc:
            commands.risk_control(CLOCK, event_id="rc.2", scope="ACC1", kind=kind, name=name, value=value,
                                  changed_by="cli")
        assert exc.value.field == field

"""Tests of `oms.keys`: every key layout, spelled once.

This module owns the evidence that store keys and topic record keys have the
documented layouts, that the position store key is its record key under the
`p/` prefix, and that keys of different kinds never collide.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from oms import keys
from oms.events import ControlKind, Position
from tests.builders import position


def test_store_keys_have_their_documented_layouts():
    assert keys.order("ACC-1:cl-1") == "o/ACC-1:cl-1"
    assert keys.account("ACC-1") == "a/ACC-1"
    assert keys.position("ACC-1", "AAPL") == "p/ACC-1|AAPL"
    assert keys.applied_offset("oms.commands") == "offset/oms.commands"


def test_a_position_store_key_is_its_record_key_under_the_prefix():
    assert keys.position_id("ACC-1", "AAPL") == "ACC-1|AAPL"
    assert keys.position("ACC-1", "AAPL") == keys.POSITION_PREFIX + keys.position_id("ACC-1", "AAPL")


def test_a_block_of_a_position_s_history_is_keyed_after_the_position_and_is_never_a_position_s_key():
    assert keys.position_history("ACC-1", "AAPL", 3) == "p/ACC-1|AAPL#3"
    with pytest.raises(ValidationError):  # no identifier holds "#": no instrument's key is another's block
        Position.model_validate({**position().model_dump(), "instrument": "AAPL#3"})


def test_a_risk_control_key_is_scope_kind_and_name():
    assert keys.control("*", ControlKind.KILL_SWITCH.value, "kill_switch") == "*|KILL_SWITCH|kill_switch"
    assert keys.control("ACC-1", "LIMIT", "max_loss") != keys.control("ACC-1", "LIMIT", "max_drawdown")


def test_kinds_never_collide_and_prefixes_select_one_kind():
    made = [keys.order("x"), keys.account("x"), keys.position("x", "y"), keys.applied_offset("x")]
    assert len(set(made)) == len(made)
    prefixes = [keys.ORDER_PREFIX, keys.ACCOUNT_PREFIX, keys.POSITION_PREFIX, keys.OFFSET_PREFIX]
    for key, prefix in zip(made, prefixes):
        assert [p for p in prefixes if key.startswith(p)] == [prefix]


def test_an_open_order_entry_is_keyed_under_its_account_apart_from_the_summary():
    assert keys.open_order("ACC-1", "O1") == "ao/ACC-1|O1" and keys.open_order("ACC-1", "O1").startswith(
        keys.open_orders("ACC-1"))
    assert not keys.open_order("ACC-1", "O1").startswith(keys.ACCOUNT_PREFIX)  # a summary scan never sees it
    assert not keys.changelog_checkpoint().startswith((keys.ORDER_PREFIX, keys.ACCOUNT_PREFIX,
                                                       keys.OPEN_ORDER_PREFIX, keys.OFFSET_PREFIX))

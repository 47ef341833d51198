"""Tests of `oms.ids`' child order ids: a child names its parent and its number, and stays an `Identifier`."""

from __future__ import annotations

import pytest

from oms import ids


def test_a_child_names_its_parent_and_number_and_only_a_child_does():
    parent = ids.order_id("ACC1", "client-1")
    child = ids.child_order_id(parent, 12)
    assert child == f"{parent}:c12" and len(child) <= ids.MAX_LEN
    assert ids.parent_of(child) == parent and ids.is_child(child)
    assert ids.parent_of(parent) is None and not ids.is_child(parent)
    assert ids.parent_of(f"{parent}:cx") is None and ids.parent_of(":c1") is None


def test_child_numbers_start_at_one():
    with pytest.raises(ValueError, match="start at 1"):
        ids.child_order_id("O1", 0)


"""Child order ids: a child is named after its parent and its number, so each finds the other.

This module owns the one derivation of child order ids: `child_order_id(parent, n)`
is `<parent order id>:c<n>` (n = 1, 2, ...; a parent id is 21 characters, so a
child id stays within the 64 of an `Identifier`), `parent_of(order_id)` gives the
parent of a child id (None for any other order) and `is_child` says whether an
id names a child. Numbers are handed out in order, so a parent's children are
found by asking for `:c1`, `:c2`, ... until one is missing. Pure.
"""

from __future__ import annotations

__all__ = ["child_order_id", "is_child", "parent_of"]

_MARK = ":c"


def child_order_id(parent_order_id: str, number: int) -> str:
    if number < 1:
        raise ValueError(f"child numbers start at 1, not {number}")
    return f"{parent_order_id}{_MARK}{number}"


def parent_of(order_id: str) -> str | None:
    parent, mark, number = order_id.rpartition(_MARK)
    return parent if mark and parent and number.isdigit() else None


def is_child(order_id: str) -> bool:
    return parent_of(order_id) is not None

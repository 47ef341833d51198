"""The old home of the child order ids, kept as a re-export: they live in `oms.ids` with every id derivation.

This module owns nothing: `child_order_id`, `parent_of` and `is_child` are
`oms.ids`'s. It stays only because `oms.domain.engine` and
`oms.domain.projection` import `is_child` from here; once they import it from
`oms.ids`, delete it.
"""

from __future__ import annotations

from oms.ids import child_order_id, is_child, parent_of

__all__ = ["child_order_id", "is_child", "parent_of"]

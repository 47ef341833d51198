"""The exact arithmetic every risk module computes in: a 100-digit Decimal context that traps.

Inputs have at most 28 digits and nothing here divides except by powers of
ten (and the price band's percentage, shown, never compared), so no value
rounds; an overflow or an invalid operation raises instead of hiding. It is
the token bucket's context (`oms.domain.tokens.EXACT`), so a check enters it
once for its checks and its throttle token together.
"""

from __future__ import annotations

from decimal import Decimal

from oms.domain.tokens import EXACT

__all__ = ["EXACT", "ONE", "ZERO"]

ZERO = Decimal(0)
ONE = Decimal(1)

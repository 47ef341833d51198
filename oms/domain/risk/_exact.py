"""The exact arithmetic every risk module computes in: a 100-digit Decimal context that traps.

Inputs have at most 28 digits and nothing here divides except by powers of
ten (and the price band's percentage, shown, never compared), so no value
rounds; an overflow or an invalid operation raises instead of hiding.
"""

from __future__ import annotations

from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow

ZERO = Decimal(0)
ONE = Decimal(1)
EXACT = Context(prec=100, traps=[InvalidOperation, DivisionByZero, Overflow])

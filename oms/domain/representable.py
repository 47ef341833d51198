"""What the wire can hold: the one test that a computed amount fits decimal(PRECISION, SCALE).

This module owns representability. Every price, quantity and amount on the
wire is an Avro decimal(28, 8) (`oms.events.PRECISION`, `SCALE`): at most 28
digits of which 8 are decimals, so a magnitude of 10^20 or more cannot be
written. Inputs are validated at the boundary, but what the domain computes
from them (a quantity x price notional, a projected position or exposure, a
position after a huge fill) can outgrow it. `representable(value)` says
whether `value`, quantized to 8 places half-even as the wire would hold it,
still fits; pre-trade risk denies an order whose notional or projection does
not fit (NOTIONAL_UNREPRESENTABLE, POSITION_UNREPRESENTABLE), and any other
writer of computed amounts asks the same question instead of failing on
validation. Finer fractions are not a reason to refuse: they are quantized.
Pure: no I/O.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

from oms.events import PRECISION, SCALE

__all__ = ["WIRE_LIMIT", "WIRE_TYPE", "representable"]

WIRE_LIMIT = Decimal(10) ** (PRECISION - SCALE)
"""The smallest magnitude the wire cannot hold (10^20)."""
WIRE_TYPE = f"decimal({PRECISION},{SCALE})"
_QUANTUM = Decimal(1).scaleb(-SCALE)
_WIDE = Context(prec=PRECISION + 100, rounding=ROUND_HALF_EVEN)


def representable(value: Decimal) -> bool:
    """True when `value` is finite and, quantized to `SCALE` places half-even, below `WIRE_LIMIT` in magnitude."""
    if not value.is_finite():
        return False
    if value.adjusted() >= PRECISION - SCALE + 1:  # far beyond: no need to quantize
        return False
    try:
        return abs(value.quantize(_QUANTUM, context=_WIDE)) < WIRE_LIMIT
    except InvalidOperation:  # pragma: no cover - the context is wide enough for any value that reaches here
        return False

"""What pre-trade risk hands the order aggregate: the breaches of one command and the denial they make.

This module owns the value that crosses from pre-trade risk into the order
aggregate. `Breach` is one failed check (`oms.domain.risk.check_new` and
`check_amend` return them, in the order of `BREACH_CODES`). `Denial` is the
refusal of one command: the first breach's code as `reason_code`, a readable
`reason` naming every breach, and the breaches themselves;
`oms.domain.risk.denial_reason(breaches)` builds it, and `decide_new` /
`decide_amend` write it on the `OrderDenied` / `OrderCancelRejected` they
decide. It sits beside both packages, not in either, because risk reads orders
(`Order`, `is_live`) and the order aggregate must not read risk back. Pure values.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Breach", "Denial"]


@dataclass(frozen=True, slots=True)
class Breach:
    """One failed check: stable `code`, the `limit` (control) it broke, the
    limit's `value`, what the order `attempted`, and a readable `detail`."""

    code: str
    limit: str
    value: Decimal | str | None
    attempted: Decimal | str | None
    detail: str


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a command may not go to a venue.

    `reason_code` is the stable code the journal records (the first breach's
    code when risk denied it); `reason` the readable text; `breaches` every
    check that failed, in `BREACH_CODES` order (empty for a denial that did
    not come from the checks).
    """

    reason_code: str
    reason: str
    breaches: tuple[Breach, ...] = ()

"""Risk: operator controls, per-account exposure state, pre-trade checks and post-trade decisions.

This package owns deciding whether an order may trade and what to do when an
account goes wrong, by concern, each module pure (no Kafka, no clock reads, no
I/O; money is exact Decimal in a 100-digit context, so nothing rounds):

- `controls`: `Controls`, the fold (`apply_control`) of `RiskControl` events:
  limits (`LIMIT_NAMES`), trading states, kill switches, entitlements and
  instrument lists per scope (an account or `*`), with an audit trail, over
  fail-closed default limits (`DEFAULT_LIMITS`, or `parse_default_limits`
  from configuration); and the questions asked of it (`limit`,
  `limits_in_force`, `trading_state`, `killed`, `entitled`, `instrument_state`);
- `account`: `AccountRisk`, what the engine knows of one account (net
  positions, open orders, marks, throttle bucket and running totals: open
  leaves, open count, `Exposure` at marks), updated by `with_order`,
  `with_fill` and `take_token`; `OpenOrders`, the open orders as stored
  entries under the changes since they were read;
- `checks`: pre-trade `check_new` / `check_amend`, which return every
  `Breach` in `BREACH_CODES` order, and `denial_reason(breaches) -> Denial`,
  the value the order aggregate's `decide_new` / `decide_amend` take;
- `post_trade`: `post_trade_actions`, the kill-switch cancels, loss-limit and
  drawdown escalations and exposure alerts of the post-trade monitor.
"""

from oms.domain.denial import Breach, Denial
from oms.domain.risk.account import (
    AccountRisk,
    Exposure,
    OpenOrder,
    OpenOrders,
    Valuation,
    exposure_at_marks,
    take_token,
    with_fill,
    with_order,
    with_order_fill,
)
from oms.domain.risk.checks import BREACH_CODES, Candidate, check_amend, check_new, denial_reason, valuation
from oms.domain.risk.controls import (
    DEFAULT_LIMITS,
    LIMIT_NAMES,
    STATE_RANK,
    AuditEntry,
    Controls,
    LimitInForce,
    apply_control,
    entitled,
    instrument_state,
    killed,
    limit,
    limits_in_force,
    parse_default_limits,
    stricter,
    trading_state,
)
from oms.domain.risk.post_trade import PostTradeActions, needs_kill_cancel, post_trade_actions

__all__ = [
    "BREACH_CODES",
    "DEFAULT_LIMITS",
    "LIMIT_NAMES",
    "STATE_RANK",
    "AccountRisk",
    "AuditEntry",
    "Breach",
    "Candidate",
    "Controls",
    "Denial",
    "Exposure",
    "LimitInForce",
    "OpenOrder",
    "OpenOrders",
    "Valuation",
    "PostTradeActions",
    "apply_control",
    "check_amend",
    "check_new",
    "denial_reason",
    "entitled",
    "exposure_at_marks",
    "instrument_state",
    "killed",
    "limit",
    "limits_in_force",
    "needs_kill_cancel",
    "parse_default_limits",
    "post_trade_actions",
    "stricter",
    "take_token",
    "trading_state",
    "valuation",
    "with_fill",
    "with_order",
    "with_order_fill",
]

"""The order aggregate: one FIX order state machine, its pure fold and its decisions.

This package owns the life of an order, in three modules read top to bottom:

- `table`: the one transition table `(status, trigger) -> next status`
  (`TRANSITIONS`, `next_status`, `Trigger`, fill levels) and the one
  definition of liveness (`LIVE_STATUSES`, `is_live`);
- `state`: the frozen `Order` and `evolve(order, event)`, the one place that
  says what a journal event does to an order; `fold(events)` replays a
  journal, `view(order)` is the row of the compacted orders topic;
- `decisions`: `decide_new`, `decide_amend`, `decide_cancel` and
  `decide_report` turn a client command or a venue execution report plus the
  current state into the events to publish (journal events, `VenueRequest`s,
  `Fill`s); they never raise on bad input and never mutate. A report's
  candidate journal event is validated by `evolve`, so nothing is decided twice.

Everything here is pure: no Kafka, no clock, no I/O, no randomness; time
comes in as `now` (integer UTC nanoseconds) and money is `Decimal`, exact.

Design decisions (the contract other modules rely on):

- Sequencing. Journal events that change an order carry seq 1, 2, 3, ...
  Records that do not change it carry seq 0 and are never applied: an
  `OrderDenied` for a command naming no order or a duplicate client order id,
  an `OrderCancelRejected` decided by the engine (order not live, request
  pending, nothing to change), and every `OrderAnomaly`. Their ids come from
  `ids.record_id(order_id, input event id, kind)`, so a redelivered input yields
  the same record. `evolve` refuses them like any gap; `fold` skips them.
  An anomaly's `source` is the venue of the report it is about.
- A new order is `OrderAccepted` (seq 1, PENDING_NEW: the engine has recorded
  it), then either `OrderRouted` (seq 2, with a `VenueRequest` NEW) or, when
  the router refuses it (`Route.denial`, UNKNOWN_VENUE: a venue not in the
  catalogue) or pre-trade risk passes a `Denial` to `decide_new`,
  `OrderDenied` (seq 2, PENDING_NEW -> REJECTED). So a denied order exists, is REJECTED with the
  reason, consumes its client order id and has a complete view; this mirrors
  nautilus_trader's OrderInitialized -> OrderDenied and needs no extra fields
  on `OrderDenied`.
- Order ids are `ids.order_id(account, client_order_id)` of the NewOrder. An
  amend or cancel finds its order through `orig_client_order_id`, which must
  name the original client order id; `Order.client_order_id` stays the
  original (the amend's own client order id travels in `pending` and in the
  `OrderReplaced` event).
- Triggers whose outcome depends on quantities carry the outcome in their name
  (like FIX's PARTIAL_FILL vs FILL): `_UNFILLED` (no fills standing),
  `_PARTIAL` (fills standing, order not complete), `_COMPLETE` (cum_qty >=
  quantity). So a cancel reject returns PENDING_CANCEL to NEW or
  PARTIALLY_FILLED as the table says, with no hidden rule. `trigger_of(order,
  event)` derives the trigger of a journal event.
- REPLACED is FIX's ExecType-like status of a replace report, never a resting
  state: after OrderReplaced the order is NEW, PARTIALLY_FILLED or FILLED by
  its new quantity and cum_qty (no key of the table has REPLACED on either side).
  A replace to a quantity at or below cum_qty is accepted: the venue sets the
  order quantity to cum_qty (FIX App. D C.3.b/C.3.c), so `OrderReplaced.quantity` is
  max(requested, cum_qty) and the order is FILLED with leaves 0.
- Answers name their request: a cancel reject whose request id is not the
  pending request's is an UNKNOWN_REQUEST anomaly and settles nothing. A cancel
  may be sent before the venue's ack (FIX App. D B.1.d): its `PendingRequest` is
  `unacknowledged` until an ack or fill, and a reject of it then returns the
  order to PENDING_NEW (trigger CANCEL_REJECT_UNACKED).
- Quantities. For a live order (PENDING_NEW, NEW, PARTIALLY_FILLED,
  PENDING_CANCEL, PENDING_REPLACE) cum_qty + leaves_qty == quantity; any other
  status has leaves_qty 0. cum_qty and avg_px are recomputed by the OMS from
  the standing fills (`Order.fills`), never taken from the venue:
  avg_px = sum(q*p) / sum(q) computed exactly and quantized to 8 places
  half-even (the only rounding). A venue whose cum/leaves disagree gets a
  seq-0 `OrderAnomaly` VENUE_MISMATCH next to the fill, which still applies.
- Pending requests form a chain (FIX request chains, Vol. 4 App. D group D):
  `pending` is the oldest cancel or replace awaiting the venue (the one it
  answers next), `queued` those sent after it; `Order.chain` is both. A cancel
  or a further replace may follow pending replaces (each `VenueRequest` names
  the previous request in `orig_request_id`, FIX OrigClOrdID chaining; a replace's
  unspecified terms are the last pending replace's); nothing follows a pending
  cancel (REQUEST_PENDING), and at most `MAX_CHAIN` requests are out. Each venue
  answer settles the request its request id names (REPLACED, CANCEL_REJECTED
  with `OrderCancelRejected.request_id`; CANCELED settles the cancel); while
  others are still out the order stays PENDING_CANCEL if a cancel is among them,
  else PENDING_REPLACE (triggers CHAIN_CANCEL / CHAIN_REPLACE). Requests survive
  a terminal status so a late reject (e.g. a fill completed the order while a
  cancel was pending) still finds them and applies with no status change. A bust
  or correction that reopens a FILLED order drops the chain (the venue answers
  "too late"; a later answer finds no request and is recorded as an anomaly).
- Busts and corrections name the fill by the venue exec id in `ref_exec_id`:
  the original exec id or that of the correction that last changed it. A
  correction replaces the standing fill under its own fill id; the `Fill` of
  kind CORRECTION carries the corrected quantity and price (not a delta), the
  `Fill` of kind BUST the busted quantity negated at the busted price.
- Idempotence: a report whose exec id was applied before yields no events
  when it says the same thing again (same exec type's journal event; same
  fill quantity, price and commission; same fill named by a bust or
  correction: `Order.execs` keeps an `ExecRecord` per applied exec id). One
  that reuses the exec id with other content (an ack's id now carrying a
  fill, a fill's id with another quantity) is a seq-0 `OrderAnomaly`
  CONFLICTING_EXEC_ID: journaled with the difference, never applied.
- DONE_FOR_DAY: the venue stops working the order for today (OrderDoneForDay;
  FIX OrdStatus 3, "no further executions forthcoming for the trading day").
  It is not live: the engine sends it no cancel or replace; the venue may
  still cancel or expire it later.
- Late fills: a fill for an order no longer working (CANCELED, EXPIRED,
  DONE_FOR_DAY, even REJECTED) is booked (an execution that crossed the end of the order): cum_qty grows,
  the status stays, the `OrderFilled` and its `Fill` carry `late=True`, and
  positions and account risk move like for any fill. Only a fill beyond the
  quantity is refused (OVERFILL).
- Precedence: while a cancel or replace is pending, PENDING_CANCEL and
  PENDING_REPLACE rank above FILLED (FIX OrdStatus precedence): a fill that
  completes the order leaves it pending with leaves 0, and the venue's answer
  settles it (a reject: FILLED; a replace to more: PARTIALLY_FILLED).
- Timestamps: every event decided here has ts_event = ts_init = `now`.
"""

from oms.domain.denial import Denial
from oms.domain.orders.decisions import (
    ExternalOrders,
    decide_amend,
    decide_cancel,
    decide_child,
    decide_new,
    decide_new_day,
    decide_report,
    decide_status,
)
from oms.domain.orders.state import (
    ExecRecord,
    FillRecord,
    InvalidEvent,
    Order,
    PendingRequest,
    SequenceError,
    evolve,
    fold,
    trigger_of,
    view,
)
from oms.domain.orders.table import (
    LIVE_STATUSES,
    TRANSITIONS,
    DomainError,
    FillLevel,
    InvalidTransition,
    Trigger,
    fill_level,
    is_amendable,
    is_live,
    next_status,
)

__all__ = [
    "Denial",
    "DomainError",
    "ExecRecord",
    "ExternalOrders",
    "FillLevel",
    "FillRecord",
    "InvalidEvent",
    "InvalidTransition",
    "LIVE_STATUSES",
    "Order",
    "PendingRequest",
    "SequenceError",
    "TRANSITIONS",
    "Trigger",
    "decide_amend",
    "decide_cancel",
    "decide_child",
    "decide_new",
    "decide_new_day",
    "decide_report",
    "decide_status",
    "evolve",
    "fold",
    "fill_level",
    "is_amendable",
    "is_live",
    "next_status",
    "trigger_of",
    "view",
]

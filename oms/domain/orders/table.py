"""The order state machine: one table `(status, trigger) -> next status`, fill levels and liveness.

This module owns what may happen to an order's status. `TRANSITIONS` is the
one table (FIX OrdStatus semantics); `next_status` reads it and raises
`InvalidTransition` naming both sides when there is no edge. Triggers whose
outcome depends on quantities carry the outcome in their name (`_UNFILLED`,
`_PARTIAL`, `_COMPLETE`, like FIX's PARTIAL_FILL vs FILL), chosen by
`leveled(family, quantity, cum_qty)`. `LIVE_STATUSES` / `is_live` are the one
definition of a live order in the code base. The error hierarchy of the order
aggregate is drawn here too:

    DomainError (ValueError)      a journal event that cannot be applied
    ├── InvalidTransition         (status, trigger) is not a key of the table
    ├── SequenceError             seq is not exactly order.seq + 1   (state.py)
    └── InvalidEvent              the event does not fit the order   (state.py)
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Protocol

from oms.events import OrderStatus

__all__ = [
    "DomainError",
    "FillLevel",
    "InvalidTransition",
    "LIVE_STATUSES",
    "TRANSITIONS",
    "Trigger",
    "fill_level",
    "is_amendable",
    "is_live",
    "leveled",
    "next_status",
]

# ------------------------------------------------------------------- errors


class DomainError(ValueError):
    """A journal event that cannot be applied to an order."""


class InvalidTransition(DomainError):
    """`(status, trigger)` is not a key of `TRANSITIONS`."""

    def __init__(self, status: OrderStatus, trigger: "Trigger") -> None:
        self.status = status
        self.trigger = trigger
        super().__init__(f"no transition from {status.value} on {trigger.value}")


# ------------------------------------------------------------ state machine

class Trigger(str, Enum):
    """What happens to an order. Suffixes name the fill level after the event."""

    DENY = "DENY"  # pre-trade risk refused the new order (engine)
    ROUTE = "ROUTE"  # the engine sent the new order to a venue
    ACK = "ACK"  # venue accepted the order (ExecType NEW)
    REJECT = "REJECT"  # venue refused the order (ExecType REJECTED)
    PARTIAL_FILL = "PARTIAL_FILL"  # a fill after which the order is not complete
    FILL = "FILL"  # a fill after which the order is complete
    CANCEL_REQUEST = "CANCEL_REQUEST"  # the engine sent a cancel
    REPLACE_REQUEST = "REPLACE_REQUEST"  # the engine sent a cancel/replace
    CANCELED = "CANCELED"  # venue canceled the order (requested or unsolicited)
    CANCEL_REJECT_UNACKED = "CANCEL_REJECT_UNACKED"  # venue refused a cancel sent before its ack
    CANCEL_REJECT_UNFILLED = "CANCEL_REJECT_UNFILLED"  # venue refused a cancel
    CANCEL_REJECT_PARTIAL = "CANCEL_REJECT_PARTIAL"
    CANCEL_REJECT_COMPLETE = "CANCEL_REJECT_COMPLETE"
    REPLACED_UNFILLED = "REPLACED_UNFILLED"  # venue replaced the order
    REPLACED_PARTIAL = "REPLACED_PARTIAL"
    REPLACED_COMPLETE = "REPLACED_COMPLETE"
    REPLACE_REJECT_UNFILLED = "REPLACE_REJECT_UNFILLED"  # venue refused a replace
    REPLACE_REJECT_PARTIAL = "REPLACE_REJECT_PARTIAL"
    REPLACE_REJECT_COMPLETE = "REPLACE_REJECT_COMPLETE"
    EXPIRE = "EXPIRE"  # venue expired the order (time in force, IOC/FOK rest)
    DONE_FOR_DAY = "DONE_FOR_DAY"  # venue stops working the order for the day
    BUST_UNFILLED = "BUST_UNFILLED"  # venue busted a fill
    BUST_PARTIAL = "BUST_PARTIAL"
    BUST_COMPLETE = "BUST_COMPLETE"
    CORRECT_PARTIAL = "CORRECT_PARTIAL"  # venue corrected a fill (never leaves it unfilled)
    CORRECT_COMPLETE = "CORRECT_COMPLETE"
    RESTATE_UNFILLED = "RESTATE_UNFILLED"  # venue restated the order (GT renewal, corporate action, resume)
    RESTATE_PARTIAL = "RESTATE_PARTIAL"
    RESTATE_COMPLETE = "RESTATE_COMPLETE"  # restated to a quantity at or below cum_qty: done
    SUSPEND = "SUSPEND"  # venue suspended the order (trading halt)
    # requests are still out after an answer settled one of a chain, or a resting order resumed
    # working (restated) with requests out: the order shows the pending status they give
    CHAIN_CANCEL = "CHAIN_CANCEL"  # a cancel is among them
    CHAIN_REPLACE = "CHAIN_REPLACE"  # only replaces


S = OrderStatus
T = Trigger

TRANSITIONS: dict[tuple[OrderStatus, Trigger], OrderStatus] = {
    # --- PENDING_NEW: recorded by the engine, sent (or about to be) to the venue.
    (S.PENDING_NEW, T.DENY): S.REJECTED,
    (S.PENDING_NEW, T.ROUTE): S.PENDING_NEW,  # routing sets venue and request id, status unchanged
    (S.PENDING_NEW, T.ACK): S.NEW,
    (S.PENDING_NEW, T.REJECT): S.REJECTED,
    (S.PENDING_NEW, T.PARTIAL_FILL): S.PARTIALLY_FILLED,  # fill before the ack: the fill implies it
    (S.PENDING_NEW, T.FILL): S.FILLED,  # e.g. a marketable IOC filled at once, no separate ack
    (S.PENDING_NEW, T.CANCELED): S.CANCELED,  # IOC with nothing to match, canceled without ack
    (S.PENDING_NEW, T.EXPIRE): S.EXPIRED,  # IOC/FOK with nothing to match, expired without ack
    # FIX 4.4 Vol. 4 App. D B.1.d/B.1.e (cancel request issued for an order not yet acknowledged): the trader may cancel
    # at once; the venue answers (ack then canceled, canceled, or a reject that leaves it PendingNew).
    (S.PENDING_NEW, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    # --- NEW: working, nothing filled.
    (S.NEW, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.NEW, T.FILL): S.FILLED,
    (S.NEW, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.NEW, T.REPLACE_REQUEST): S.PENDING_REPLACE,
    (S.NEW, T.CANCELED): S.CANCELED,  # unsolicited: the venue canceled on its own
    (S.NEW, T.EXPIRE): S.EXPIRED,
    (S.NEW, T.DONE_FOR_DAY): S.DONE_FOR_DAY,
    # --- PARTIALLY_FILLED: working, some filled.
    (S.PARTIALLY_FILLED, T.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, T.REPLACE_REQUEST): S.PENDING_REPLACE,
    (S.PARTIALLY_FILLED, T.CANCELED): S.CANCELED,  # unsolicited, or the IOC rest canceled
    (S.PARTIALLY_FILLED, T.EXPIRE): S.EXPIRED,  # IOC/FOK rest expired after a partial fill
    (S.PARTIALLY_FILLED, T.DONE_FOR_DAY): S.DONE_FOR_DAY,
    (S.PARTIALLY_FILLED, T.BUST_UNFILLED): S.NEW,  # the only fill busted
    (S.PARTIALLY_FILLED, T.BUST_PARTIAL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.CORRECT_PARTIAL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.CORRECT_COMPLETE): S.FILLED,  # corrected up to the full quantity
    # --- PENDING_CANCEL: a cancel is at the venue; the order still works until answered.
    (S.PENDING_CANCEL, T.PARTIAL_FILL): S.PENDING_CANCEL,  # fill raced the cancel: still pending
    # FIX OrdStatus precedence (Vol. 4 App. D B.1.c, cancel request for an order that becomes filled before the cancel is accepted): Pending Cancel
    # ranks above Filled, so a fill completing the order while the cancel is out leaves it
    # PENDING_CANCEL (leaves 0) until the venue answers; the cancel reject then settles it FILLED.
    (S.PENDING_CANCEL, T.FILL): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.CANCELED): S.CANCELED,
    (S.PENDING_CANCEL, T.ACK): S.PENDING_CANCEL,  # the ack of a new order we asked to cancel before it
    (S.PENDING_CANCEL, T.REJECT): S.REJECTED,  # the venue rejected the new order our cancel chased
    (S.PENDING_CANCEL, T.CANCEL_REJECT_UNACKED): S.PENDING_NEW,  # cancel refused before any ack: PendingNew again
    (S.PENDING_CANCEL, T.CANCEL_REJECT_UNFILLED): S.NEW,  # back to the prior state, from cum_qty
    (S.PENDING_CANCEL, T.CANCEL_REJECT_PARTIAL): S.PARTIALLY_FILLED,  # ditto (fills may have come meanwhile)
    (S.PENDING_CANCEL, T.CANCEL_REJECT_COMPLETE): S.FILLED,  # "too late to cancel": a fill completed it meanwhile
    (S.PENDING_CANCEL, T.EXPIRE): S.EXPIRED,  # expired (e.g. at the close) before the cancel
    (S.PENDING_CANCEL, T.DONE_FOR_DAY): S.DONE_FOR_DAY,
    (S.PENDING_CANCEL, T.BUST_UNFILLED): S.PENDING_CANCEL,  # quantities change, the cancel stays pending
    (S.PENDING_CANCEL, T.BUST_PARTIAL): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.CORRECT_PARTIAL): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.BUST_COMPLETE): S.PENDING_CANCEL,  # a bust that leaves it complete (overfilled before)
    (S.PENDING_CANCEL, T.CORRECT_COMPLETE): S.PENDING_CANCEL,  # like FILL: the pending cancel ranks above Filled
    # --- PENDING_REPLACE: a cancel/replace is at the venue; the old terms apply until answered.
    (S.PENDING_REPLACE, T.PARTIAL_FILL): S.PENDING_REPLACE,  # fill under the old terms, still pending
    # Pending Replace ranks above Filled too: the old quantity filled first, the order stays
    # PENDING_REPLACE (leaves 0); the venue's replace reject settles it FILLED, or its replace to
    # a larger quantity reopens it (FIX App. D C.1.b, fill while replace pending).
    (S.PENDING_REPLACE, T.FILL): S.PENDING_REPLACE,
    (S.PENDING_REPLACE, T.REPLACED_UNFILLED): S.NEW,  # REPLACED is never resting: status by quantities
    (S.PENDING_REPLACE, T.REPLACED_PARTIAL): S.PARTIALLY_FILLED,
    (S.PENDING_REPLACE, T.REPLACED_COMPLETE): S.FILLED,  # new quantity <= cum_qty: done (FIX)
    (S.PENDING_REPLACE, T.REPLACE_REJECT_UNFILLED): S.NEW,  # back to the prior state, from cum_qty
    (S.PENDING_REPLACE, T.REPLACE_REJECT_PARTIAL): S.PARTIALLY_FILLED,
    (S.PENDING_REPLACE, T.REPLACE_REJECT_COMPLETE): S.FILLED,  # "too late to replace": filled meanwhile
    (S.PENDING_REPLACE, T.CANCELED): S.CANCELED,  # unsolicited cancel while the replace was pending
    (S.PENDING_REPLACE, T.EXPIRE): S.EXPIRED,
    (S.PENDING_REPLACE, T.DONE_FOR_DAY): S.DONE_FOR_DAY,
    (S.PENDING_REPLACE, T.BUST_UNFILLED): S.PENDING_REPLACE,
    (S.PENDING_REPLACE, T.BUST_PARTIAL): S.PENDING_REPLACE,
    (S.PENDING_REPLACE, T.CORRECT_PARTIAL): S.PENDING_REPLACE,
    (S.PENDING_REPLACE, T.BUST_COMPLETE): S.PENDING_REPLACE,
    (S.PENDING_REPLACE, T.CORRECT_COMPLETE): S.PENDING_REPLACE,  # the pending replace ranks above Filled
    # --- Request chains (FIX 4.4 Vol. 4 App. D group D, sequencing and chaining, "cancel/replace chains"): a cancel while a
    # replace is pending, and a replace while one is pending, each chained by ClOrdID /
    # OrigClOrdID; the venue answers them in turn. Pending Cancel ranks above Pending Replace.
    (S.PENDING_REPLACE, T.CANCEL_REQUEST): S.PENDING_CANCEL,  # the trader gives up while a replace is out
    (S.PENDING_REPLACE, T.REPLACE_REQUEST): S.PENDING_REPLACE,  # a second replace queued behind the first
    (S.PENDING_REPLACE, T.CHAIN_REPLACE): S.PENDING_REPLACE,  # the first replace answered, later ones still out
    (S.PENDING_CANCEL, T.CHAIN_CANCEL): S.PENDING_CANCEL,  # a replace answered (replaced or rejected), the cancel still out
    (S.PENDING_CANCEL, T.CHAIN_REPLACE): S.PENDING_REPLACE,  # the cancel rejected, a replace sent before it still out
    # --- FILLED: complete. Only late answers and trade busts/corrections arrive.
    # FIX App. D C.1.c (increasing the quantity of a filled order): the trader buys more on the same
    # order; the venue's replace reopens it (PARTIALLY_FILLED), its reject leaves it FILLED.
    (S.FILLED, T.REPLACE_REQUEST): S.PENDING_REPLACE,
    (S.FILLED, T.CANCEL_REJECT_COMPLETE): S.FILLED,  # late reject of a cancel the final fill overtook
    (S.FILLED, T.REPLACE_REJECT_COMPLETE): S.FILLED,  # late reject of a replace the final fill overtook
    (S.FILLED, T.BUST_UNFILLED): S.NEW,  # every fill busted: the order works again, unfilled
    (S.FILLED, T.BUST_PARTIAL): S.PARTIALLY_FILLED,  # the busted quantity is open again
    (S.FILLED, T.BUST_COMPLETE): S.FILLED,  # replaced below cum_qty: still at or above quantity
    (S.FILLED, T.CORRECT_PARTIAL): S.PARTIALLY_FILLED,  # corrected down: the difference is open again
    (S.FILLED, T.CORRECT_COMPLETE): S.FILLED,
    # --- CANCELED: terminal. Busts/corrections change quantities, never the status.
    # Late fills (an execution that crossed the cancel): the execution happened
    # at the venue before the cancel took effect and its report crossed ours. FIX books it:
    # CumQty grows, OrdStatus stays Canceled; the OrderFilled carries late=True.
    (S.CANCELED, T.PARTIAL_FILL): S.CANCELED,
    (S.CANCELED, T.FILL): S.CANCELED,
    (S.CANCELED, T.CANCEL_REJECT_UNFILLED): S.CANCELED,  # late reject of a request overtaken by the cancel
    (S.CANCELED, T.CANCEL_REJECT_PARTIAL): S.CANCELED,
    (S.CANCELED, T.REPLACE_REJECT_UNFILLED): S.CANCELED,  # replace pending when the venue canceled
    (S.CANCELED, T.REPLACE_REJECT_PARTIAL): S.CANCELED,
    (S.CANCELED, T.BUST_UNFILLED): S.CANCELED,
    (S.CANCELED, T.BUST_PARTIAL): S.CANCELED,
    (S.CANCELED, T.CORRECT_PARTIAL): S.CANCELED,
    (S.CANCELED, T.CORRECT_COMPLETE): S.CANCELED,  # corrected up to the quantity: still canceled
    # --- EXPIRED: terminal, like CANCELED.
    (S.EXPIRED, T.PARTIAL_FILL): S.EXPIRED,  # late fill: executed before the expiry, reported after it
    (S.EXPIRED, T.FILL): S.EXPIRED,
    (S.EXPIRED, T.CANCEL_REJECT_UNACKED): S.EXPIRED,  # IOC expired unacked while our cancel chased it
    (S.EXPIRED, T.CANCEL_REJECT_UNFILLED): S.EXPIRED,  # "too late": expired while the cancel was pending
    (S.EXPIRED, T.CANCEL_REJECT_PARTIAL): S.EXPIRED,
    (S.EXPIRED, T.REPLACE_REJECT_UNFILLED): S.EXPIRED,
    (S.EXPIRED, T.REPLACE_REJECT_PARTIAL): S.EXPIRED,
    (S.EXPIRED, T.BUST_UNFILLED): S.EXPIRED,
    (S.EXPIRED, T.BUST_PARTIAL): S.EXPIRED,
    (S.EXPIRED, T.CORRECT_PARTIAL): S.EXPIRED,
    (S.EXPIRED, T.CORRECT_COMPLETE): S.EXPIRED,
    # --- DONE_FOR_DAY: not working today; the venue may still end it, nothing else.
    (S.DONE_FOR_DAY, T.CANCELED): S.CANCELED,  # e.g. a GTC order canceled by the venue overnight
    (S.DONE_FOR_DAY, T.EXPIRE): S.EXPIRED,  # e.g. a GTD/GTC order reaching its expiry
    (S.DONE_FOR_DAY, T.PARTIAL_FILL): S.DONE_FOR_DAY,  # late fill: executed before the close, reported after
    (S.DONE_FOR_DAY, T.FILL): S.DONE_FOR_DAY,
    (S.DONE_FOR_DAY, T.CANCEL_REJECT_UNACKED): S.DONE_FOR_DAY,  # closed before the ack our cancel chased
    (S.DONE_FOR_DAY, T.CANCEL_REJECT_UNFILLED): S.DONE_FOR_DAY,  # late answers, as for CANCELED
    (S.DONE_FOR_DAY, T.CANCEL_REJECT_PARTIAL): S.DONE_FOR_DAY,
    (S.DONE_FOR_DAY, T.REPLACE_REJECT_UNFILLED): S.DONE_FOR_DAY,
    (S.DONE_FOR_DAY, T.REPLACE_REJECT_PARTIAL): S.DONE_FOR_DAY,
    (S.DONE_FOR_DAY, T.BUST_UNFILLED): S.DONE_FOR_DAY,
    (S.DONE_FOR_DAY, T.BUST_PARTIAL): S.DONE_FOR_DAY,
    (S.DONE_FOR_DAY, T.CORRECT_PARTIAL): S.DONE_FOR_DAY,
    (S.DONE_FOR_DAY, T.CORRECT_COMPLETE): S.DONE_FOR_DAY,
    # --- Restatements (FIX ExecType Restated, App. D group E): the venue changes quantity or price
    # unsolicited (corporate action, split, venue-side reduction, repricing). A working order
    # takes the status its new quantity gives; a pending request keeps its precedence.
    (S.NEW, T.RESTATE_UNFILLED): S.NEW,
    (S.PARTIALLY_FILLED, T.RESTATE_PARTIAL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.RESTATE_COMPLETE): S.FILLED,  # venue reduced the order to what is filled
    (S.PENDING_CANCEL, T.RESTATE_UNFILLED): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.RESTATE_PARTIAL): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.RESTATE_COMPLETE): S.PENDING_CANCEL,
    (S.PENDING_REPLACE, T.RESTATE_UNFILLED): S.PENDING_REPLACE,
    (S.PENDING_REPLACE, T.RESTATE_PARTIAL): S.PENDING_REPLACE,
    (S.PENDING_REPLACE, T.RESTATE_COMPLETE): S.PENDING_REPLACE,
    # GT orders across days: a GTC order done for the day is renewed on the next trading day by
    # the venue's restatement (GT_RENEWAL) or the engine's session roll (`decide_new_day`).
    (S.DONE_FOR_DAY, T.RESTATE_UNFILLED): S.NEW,
    (S.DONE_FOR_DAY, T.RESTATE_PARTIAL): S.PARTIALLY_FILLED,
    (S.DONE_FOR_DAY, T.RESTATE_COMPLETE): S.FILLED,
    (S.DONE_FOR_DAY, T.CHAIN_CANCEL): S.PENDING_CANCEL,  # renewed while our overnight cancel is out
    (S.DONE_FOR_DAY, T.CHAIN_REPLACE): S.PENDING_REPLACE,
    # A cancel of a GT order resting overnight: the venue holds it, so it may cancel it; the
    # status stays DONE_FOR_DAY with the request pending until CANCELED or a reject answers it.
    (S.DONE_FOR_DAY, T.CANCEL_REQUEST): S.DONE_FOR_DAY,
    # --- SUSPENDED (FIX OrdStatus 9): the venue halted the order (a trading halt, a
    # limit-up/limit-down pause). It keeps its leaves; a restatement (RESUMED) makes it work again.
    (S.NEW, T.SUSPEND): S.SUSPENDED,
    (S.PARTIALLY_FILLED, T.SUSPEND): S.SUSPENDED,
    (S.PENDING_CANCEL, T.SUSPEND): S.SUSPENDED,  # halted while our cancel was out: the answer follows
    (S.PENDING_REPLACE, T.SUSPEND): S.SUSPENDED,
    (S.SUSPENDED, T.RESTATE_UNFILLED): S.NEW,  # resumed
    (S.SUSPENDED, T.RESTATE_PARTIAL): S.PARTIALLY_FILLED,
    (S.SUSPENDED, T.RESTATE_COMPLETE): S.FILLED,
    (S.SUSPENDED, T.CHAIN_CANCEL): S.PENDING_CANCEL,  # resumed while a cancel is out: it still ranks first
    (S.SUSPENDED, T.CHAIN_REPLACE): S.PENDING_REPLACE,
    (S.SUSPENDED, T.CANCEL_REQUEST): S.SUSPENDED,  # the trader cancels a halted order; the venue answers
    (S.SUSPENDED, T.CANCELED): S.CANCELED,  # e.g. CANCEL_ON_TRADING_HALT, or our cancel
    (S.SUSPENDED, T.EXPIRE): S.EXPIRED,
    (S.SUSPENDED, T.DONE_FOR_DAY): S.DONE_FOR_DAY,  # the halt lasted to the close
    (S.SUSPENDED, T.CANCEL_REJECT_UNFILLED): S.SUSPENDED,
    (S.SUSPENDED, T.CANCEL_REJECT_PARTIAL): S.SUSPENDED,
    (S.SUSPENDED, T.REPLACE_REJECT_UNFILLED): S.SUSPENDED,
    (S.SUSPENDED, T.REPLACE_REJECT_PARTIAL): S.SUSPENDED,
    (S.SUSPENDED, T.PARTIAL_FILL): S.SUSPENDED,  # executed before the halt, reported after: booked
    (S.SUSPENDED, T.FILL): S.SUSPENDED,
    (S.SUSPENDED, T.BUST_UNFILLED): S.SUSPENDED,
    (S.SUSPENDED, T.BUST_PARTIAL): S.SUSPENDED,
    (S.SUSPENDED, T.CORRECT_PARTIAL): S.SUSPENDED,
    (S.SUSPENDED, T.CORRECT_COMPLETE): S.SUSPENDED,
    # --- REJECTED: terminal. A venue that fills an order it rejected contradicts itself, but the
    # execution is real money: it is booked (late=True), and busts/corrections of it apply.
    (S.REJECTED, T.CANCEL_REJECT_UNACKED): S.REJECTED,  # "unknown order": the cancel chased a rejected order
    (S.REJECTED, T.PARTIAL_FILL): S.REJECTED,
    (S.REJECTED, T.FILL): S.REJECTED,
    (S.REJECTED, T.BUST_UNFILLED): S.REJECTED,
    (S.REJECTED, T.BUST_PARTIAL): S.REJECTED,
    (S.REJECTED, T.CORRECT_PARTIAL): S.REJECTED,
    (S.REJECTED, T.CORRECT_COMPLETE): S.REJECTED,
    # --- REPLACED: never a resting state (see the module docstring).
}

del S, T

LIVE_STATUSES: frozenset[OrderStatus] = frozenset(
    {
        OrderStatus.PENDING_NEW,
        OrderStatus.NEW,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.PENDING_CANCEL,
        OrderStatus.PENDING_REPLACE,
        OrderStatus.SUSPENDED,
    }
)
"""Statuses in which the order can still execute: cum_qty + leaves_qty == quantity.

The one definition of liveness. Not live: the terminal statuses (FILLED,
CANCELED, EXPIRED, REJECTED), REPLACED (never resting) and DONE_FOR_DAY: FIX
OrdStatus 3 means "no further executions forthcoming for the trading day", so
it has leaves 0, a fill that still arrives is booked late, and the engine sends no cancel or replace for
it, except a cancel of a GT order resting overnight; the venue ends it (CANCELED,
EXPIRED) or renews it on a new day (a restatement). A GTC order done for the day
keeps its leaves (quantity - cum_qty) for tomorrow, though it is not live today.
SUSPENDED is live: it keeps its leaves and counts as open exposure, since the
venue may resume it at any time."""


class HasStatus(Protocol):
    @property
    def status(self) -> OrderStatus: ...


def is_live(order: HasStatus) -> bool:
    """Whether an order (its state or its view: anything with a `status`) is live."""
    return order.status in LIVE_STATUSES


def is_amendable(order: HasStatus) -> bool:
    """Whether a cancel/replace of the order may go to the venue (so pre-trade risk must check it):
    a live order, or a FILLED one whose quantity a replace may increase (FIX App. D C.1.c)."""
    return order.status in LIVE_STATUSES or order.status is OrderStatus.FILLED


def next_status(status: OrderStatus, trigger: Trigger) -> OrderStatus:
    """The status after `trigger`; raises `InvalidTransition` naming both if none."""
    try:
        return TRANSITIONS[(status, trigger)]
    except KeyError:
        raise InvalidTransition(status, trigger) from None


class FillLevel(str, Enum):
    UNFILLED = "UNFILLED"  # cum_qty == 0
    PARTIAL = "PARTIAL"  # 0 < cum_qty < quantity
    COMPLETE = "COMPLETE"  # cum_qty >= quantity


def fill_level(quantity: Decimal, cum_qty: Decimal) -> FillLevel:
    if cum_qty <= 0:
        return FillLevel.UNFILLED
    if cum_qty >= quantity:
        return FillLevel.COMPLETE
    return FillLevel.PARTIAL


_BY_LEVEL: dict[str, dict[FillLevel, Trigger]] = {
    "FILL": {FillLevel.PARTIAL: Trigger.PARTIAL_FILL, FillLevel.COMPLETE: Trigger.FILL},
    "CANCEL_REJECT": {
        FillLevel.UNFILLED: Trigger.CANCEL_REJECT_UNFILLED,
        FillLevel.PARTIAL: Trigger.CANCEL_REJECT_PARTIAL,
        FillLevel.COMPLETE: Trigger.CANCEL_REJECT_COMPLETE,
    },
    "REPLACE_REJECT": {
        FillLevel.UNFILLED: Trigger.REPLACE_REJECT_UNFILLED,
        FillLevel.PARTIAL: Trigger.REPLACE_REJECT_PARTIAL,
        FillLevel.COMPLETE: Trigger.REPLACE_REJECT_COMPLETE,
    },
    "REPLACED": {
        FillLevel.UNFILLED: Trigger.REPLACED_UNFILLED,
        FillLevel.PARTIAL: Trigger.REPLACED_PARTIAL,
        FillLevel.COMPLETE: Trigger.REPLACED_COMPLETE,
    },
    "BUST": {
        FillLevel.UNFILLED: Trigger.BUST_UNFILLED,
        FillLevel.PARTIAL: Trigger.BUST_PARTIAL,
        FillLevel.COMPLETE: Trigger.BUST_COMPLETE,
    },
    "CORRECT": {FillLevel.PARTIAL: Trigger.CORRECT_PARTIAL, FillLevel.COMPLETE: Trigger.CORRECT_COMPLETE},
    "RESTATE": {
        FillLevel.UNFILLED: Trigger.RESTATE_UNFILLED,
        FillLevel.PARTIAL: Trigger.RESTATE_PARTIAL,
        FillLevel.COMPLETE: Trigger.RESTATE_COMPLETE,
    },
}


def leveled(family: str, quantity: Decimal, cum_qty: Decimal) -> Trigger:
    return _BY_LEVEL[family][fill_level(quantity, cum_qty)]


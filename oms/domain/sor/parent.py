"""Parent and child orders: what the engine decides around a smart-routed client order.

This module owns the parent/child protocol. A client order routed to
`SMART_VENUE` is a parent: it keeps its own journal (the client's view: cum
qty, average price, leaves), and its quantity is worked by child orders, each
an ordinary order (`<parent>:c<n>`, `oms.ids.child_order_id`) with its own journal
and its own venue requests. The decisions, each a pure function of the
current orders and a `SmartRouting` (strategy rules, books, venue statistics,
closed venues, fees):

- `place`: route what the parent has not placed yet (its leaves minus the
  live children's leaves) with the strategy its rules name; journal a
  seq-0 `RoutingDecided` (venues considered, scores, what went where, why)
  and each child's `OrderAccepted` + `OrderRouted` + `VenueRequest`. When
  nothing can be placed and no child is live, the parent ends: REJECTED if no
  venue ever acknowledged it, else CANCELED, with the reason (NO_ROUTE). A
  market parent's children carry the price the router saw and go out IOC: a
  piece whose price moved away before it arrived comes back canceled and is
  routed again, never left resting at a stale price.
- `after_child`: a child's applied journal event moves its parent. The first
  child acknowledgement acknowledges the parent; every child fill is a parent
  fill (the parent's own `OrderFilled` and `Fill`, exec id `<child>.<seq>`,
  the child's venue, price and commission; the order aggregate refuses a fill
  past the parent's quantity as OVERFILL, so child fills never exceed the
  parent); a child the venue rejected, canceled or expired is re-routed
  (excluding that venue) while the parent is live, has quantity left and no
  cancel or replace of its own is out - except a child that expired with the
  parent's own time in force (a DAY child at the close): the parent's time is
  up too, and it expires once no child is at a venue.
- `after_parent`: a parent cancel or amend cascades: each child a venue holds
  (live, or resting overnight) is canceled; once none is live the parent's
  cancel completes (CANCELED, or a cancel reject when its fills completed it
  meanwhile) and its amend is replaced, then its new leaves are placed. A
  parent fill that leaves no child at a venue places the parent's remainder
  (or ends an immediate-or-cancel parent), so a live parent always has a
  child at a venue.
- `refusal`: every placement after the parent's first (a re-route, an amend's
  new leaves, the remainder after a fill, a new day's remainder) obeys the
  account's kill switch and trading state as pre-trade risk does for a new
  order; refused, the `RoutingDecided` says why (KILL_SWITCH, TRADING_HALTED,
  REDUCE_ONLY), nothing is sent, and the parent ends CANCELED with that reason
  once no child of it is at a venue.
- `ask_children` and `renew`: a status request or mass status for a parent asks
  its children's venues; a child done for the day makes its parent done for the
  day once no child is worked, and a new trading day renews a GTC parent and its
  resting children together (`renew` gives the FIX reading).

The parent's answers are execution reports the engine writes for itself
(venue `SMART_VENUE`) and decides with the order aggregate's `decide_report`,
so the state machine, idempotence and the fill arithmetic stay in one place.
Pre-trade risk ran on the parent; children inherit its approval and their
quantities never sum past its leaves. No I/O, no clock: `now` comes in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Mapping

from oms import ids
from oms.domain.orders import Order, decide_cancel, decide_child, decide_new_day, decide_report, decide_status, is_live
from oms.domain.risk import AccountRisk, Controls, killed, trading_state
from oms.domain.route import NO_ROUTE, SMART_VENUE
from oms.domain.sor.book import ConsolidatedBook
from oms.domain.sor.fees import FeeSchedule
from oms.domain.sor.stats import VenueStatistics
from oms.domain.sor.strategies import Strategy, Want, best_price, plain, route
from oms.events import (
    CancelOrder,
    Event,
    ExecType,
    ExecutionReport,
    JournalEvent,
    NewTradingDay,
    OrderAcknowledged,
    OrderCanceled,
    OrderDenied,
    OrderDoneForDay,
    OrderExpired,
    OrderFilled,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderRejected,
    OrderRejectReason,
    OrderMassStatusRequest,
    OrderReplaced,
    OrderRestated,
    OrderStatus,
    OrderStatusRequest,
    RestatementReason,
    RoutingDecided,
    Side,
    TimeInForce,
    TradingState,
    VenueAction,
)

__all__ = ["SmartRouting", "after_child", "after_parent", "ask_children", "at_venue", "children_of", "held",
           "is_parent", "place", "refusal", "renew", "resting", "settle"]

ZERO = Decimal(0)
OrderLookup = Callable[[str], "Order | None"]


@dataclass(frozen=True)
class SmartRouting:
    """What parents are routed with: `strategy_for(account, instrument)` (None: static routing, today's
    path), the consolidated books by instrument, the venue statistics, the closed venues (venue -> why)
    and the fee schedules by venue."""

    strategy_for: Callable[[str, str], "tuple[str, Strategy] | None"]
    books: Mapping[str, ConsolidatedBook] = field(default_factory=dict)
    stats: VenueStatistics = field(default_factory=VenueStatistics)
    closed: Mapping[str, str] = field(default_factory=dict)
    fees: Mapping[str, FeeSchedule] = field(default_factory=dict)
    controls: Controls | None = None
    """The risk controls in force (None: not consulted). With them, every placement after a parent's
    first obeys its account's kill switch and trading state (`refusal`)."""
    accounts: Mapping[str, AccountRisk] = field(default_factory=dict)
    """The account risk states as the step has folded them so far (positions, open leaves): what a
    REDUCING account's placement is judged on."""

    def book(self, instrument: str) -> ConsolidatedBook:
        return self.books.get(instrument) or ConsolidatedBook(instrument)


def is_parent(order: Order | None) -> bool:
    return order is not None and order.venue == SMART_VENUE


def resting(order: Order) -> bool:
    """A GTC order done for the day: not live today, but its venue holds it for the next one."""
    return order.status is OrderStatus.DONE_FOR_DAY and order.time_in_force is TimeInForce.GTC


def held(child: Order) -> Decimal:
    """The quantity a child still holds at its venue: its leaves while live, what is left of it
    while it rests overnight, else nothing."""
    if is_live(child):
        return child.leaves_qty
    if resting(child):
        return child.quantity - child.cum_qty
    return ZERO


def at_venue(child: Order) -> bool:
    """Whether the child's venue holds it: live, or resting overnight."""
    return child.venue is not None and (is_live(child) or resting(child))


def refusal(parent: Order, routing: SmartRouting) -> tuple[str, str] | None:
    """(reason code, text) when the parent's account may not be sent another child now, else None.

    Pre-trade risk approved the parent when it arrived; a placement after that (a re-route, the new
    leaves of an amend, a new day's remainder) sends new orders to venues, so it obeys what pre-trade
    risk applies to a new order (`oms.domain.risk.checks`): no child while the account's kill switch
    is on (KILL_SWITCH) or its trading state is HALTED (TRADING_HALTED); REDUCING (REDUCE_ONLY) only
    while the parent reduces the position: on the side opposite a non-zero position, with the open
    leaves on its side (the parent's own among them) not past |position|. Without `routing.controls`
    nothing is refused."""
    controls = routing.controls
    if controls is None:
        return None
    account = parent.account
    if killed(controls, account):
        return "KILL_SWITCH", f"kill switch is on for {account}"
    state = trading_state(controls, account)
    if state is TradingState.HALTED:
        return "TRADING_HALTED", f"trading is halted for {account}"
    if state is TradingState.REDUCING:
        risk = routing.accounts.get(account) or AccountRisk()
        position = risk.positions.get(parent.instrument, ZERO)
        buy, sell = risk.open_qty.get(parent.instrument, (ZERO, ZERO))
        buying = parent.side is Side.BUY
        same_side = buy if buying else sell
        if position == 0 or (position > 0) == buying or same_side > abs(position):
            return "REDUCE_ONLY", (f"{account} is reduce-only: position {plain(position)} in {parent.instrument}, "
                                   f"open {parent.side.value.lower()} leaves {plain(same_side)}")
    return None


def children_of(lookup: OrderLookup, parent_id: str) -> list[Order]:
    """The parent's children, in the order they were placed (`:c1`, `:c2`, ... until one is missing)."""
    children = []
    while (child := lookup(ids.child_order_id(parent_id, len(children) + 1))) is not None:
        children.append(child)
    return children


def _report(parent: Order, exec_type: ExecType, exec_id: str, now: int, *, venue: str = SMART_VENUE,
            last_qty: Decimal = ZERO, last_px: Decimal = ZERO, commission: Decimal = ZERO,
            reason: str | None = None, request_id: str | None = None,
            order_qty: Decimal | None = None) -> ExecutionReport:
    """The execution report the smart router gives its parent (never published: the engine decides it)."""
    cum = parent.cum_qty + last_qty
    return ExecutionReport(
        event_id=exec_id, ts_event=now, ts_init=now, venue=venue, account=parent.account,
        order_id=parent.order_id, request_id=request_id or parent.request_id or parent.order_id,
        exec_id=exec_id, exec_type=exec_type, order_status=parent.status, instrument=parent.instrument,
        side=parent.side, order_qty=parent.quantity if order_qty is None else order_qty, last_qty=last_qty,
        last_px=last_px, cum_qty=cum, leaves_qty=max(parent.quantity - cum, ZERO), limit_price=parent.limit_price, commission=commission,
        reason=reason, ord_rej_reason=OrderRejectReason.OTHER if exec_type is ExecType.REJECTED else None,
    )


def place(parent: Order, lookup: OrderLookup, routing: SmartRouting, now: int, trigger: str, cause: str,
          exclude: frozenset[str] = frozenset()) -> list[Event]:
    """Route the parent's unplaced quantity (see the module docstring); [] when there is none. `cause` is
    the id of the journal event that made the router decide (its `RoutingDecided` id derives from it)."""
    children = children_of(lookup, parent.order_id)
    live = [c for c in children if at_venue(c)]
    unplaced = parent.leaves_qty - sum((held(c) for c in live), ZERO)
    if not is_live(parent) or unplaced <= 0:
        return []
    chosen = routing.strategy_for(parent.account, parent.instrument)
    if chosen is None:  # the rule changed since the parent arrived: the best price places what is left
        chosen = ("best", best_price)
    name, strategy = chosen
    book = routing.book(parent.instrument)
    record_id = ids.record_id(parent.order_id, cause, "routed")
    refused = refusal(parent, routing) if trigger != "NEW" else None
    if refused is not None:  # risk says no more children: the parent keeps those out, and ends once none is
        code, text = refused
        record = RoutingDecided(
            event_id=record_id, ts_event=now, ts_init=now, order_id=parent.order_id, account=parent.account, seq=0,
            strategy=name, instrument=parent.instrument, side=parent.side, quantity=ZERO, leaves_qty=unplaced,
            limit_price=parent.limit_price, reason=_clip(f"{code}: {text}; nothing more is routed"), trigger=trigger)
        if live:
            return [record]
        return [record, *decide_report(_report(parent, ExecType.CANCELED, f"{record_id}.end", now,
                                               reason=_clip(f"{code}: {text}; the unplaced rest is canceled")),
                                       parent, now)]
    want = Want(parent.instrument, parent.side, unplaced, parent.limit_price)
    decision = route(strategy, want, book, routing.stats, routing.closed, routing.fees, exclude)
    number = len(children)
    placed = []
    decided: list[Event] = []
    for child in decision.children:
        number += 1
        cid = ids.child_order_id(parent.order_id, number)
        # a market parent's children carry the price the router saw: sent immediate-or-cancel, so a piece
        # whose price moved away comes back canceled and is routed again, instead of resting at a stale price
        immediate = TimeInForce.IOC if parent.limit_price is None and child.limit_price is not None else None
        decided += decide_child(parent, cid, child.venue, child.quantity, child.limit_price, record_id, now,
                                immediate)
        price = plain(child.limit_price) if child.limit_price is not None else "MKT"
        placed.append(f"{cid} {child.venue} {plain(child.quantity)}@{price}")
    considered = "; ".join(f"{s.venue}={plain(s.score) if s.score is not None else '-'} ({s.note})"
                           for s in decision.considered)
    decision_record = RoutingDecided(
        event_id=record_id, ts_event=now, ts_init=now, order_id=parent.order_id, account=parent.account, seq=0,
        strategy=name, instrument=parent.instrument, side=parent.side, quantity=decision.quantity,
        leaves_qty=unplaced, limit_price=parent.limit_price, arrival_price=book.arrival_price(parent.side),
        reason=_clip(decision.reason), considered=_clip(considered), placed=_clip("; ".join(placed)), trigger=trigger,
    )
    if decision.children:
        return [decision_record, *decided]
    if live:
        return [decision_record]
    return [decision_record, *_end(parent, f"{NO_ROUTE}: {decision.reason}", now, f"{record_id}.end")]


def _clip(text: str) -> str:
    return text if len(text) <= 1024 else text[:1021] + "..."


def _end(parent: Order, reason: str, now: int, exec_id: str) -> list[Event]:
    """The parent ends for want of a venue: REJECTED when no venue ever took it, else CANCELED."""
    kind = ExecType.REJECTED if parent.status is OrderStatus.PENDING_NEW else ExecType.CANCELED
    return decide_report(_report(parent, kind, exec_id, now, reason=reason), parent, now)


def after_child(child: Order, event: JournalEvent, lookup: OrderLookup, routing: SmartRouting | None,
                now: int) -> list[Event]:
    """What an applied journal event of a child (`child` as it is after it) does to its parent."""
    parent = lookup(ids.parent_of(child.order_id) or "")
    if parent is None:
        return []
    if isinstance(event, OrderAcknowledged):
        if parent.status is OrderStatus.PENDING_NEW:
            return decide_report(_report(parent, ExecType.NEW, f"{child.order_id}.ack", now, venue=event.venue),
                                 parent, now)
        return []
    if isinstance(event, OrderFilled):
        out: list[Event] = []
        exec_id = f"{child.order_id}.{event.seq}"
        full = parent.cum_qty + event.last_qty >= parent.quantity
        kind = ExecType.FILL if full else ExecType.PARTIAL_FILL
        out += decide_report(_report(parent, kind, exec_id, now, venue=event.venue, last_qty=event.last_qty,
                                     last_px=event.last_px, commission=event.commission), parent, now)
        return out
    if isinstance(event, OrderDoneForDay):
        if parent.chain:  # the parent's own cancel or amend is out: its cascade settles it
            return settle(parent, lookup, routing, now)
        working = parent.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
        if not working or any(is_live(c) for c in children_of(lookup, parent.order_id)):
            return []  # another venue still works a child today: so does the parent
        return decide_report(_report(parent, ExecType.DONE_FOR_DAY, f"{child.order_id}.{event.seq}", now,
                                     venue=child.venue or SMART_VENUE,
                                     reason="no child is worked at a venue for the rest of the day"),
                             parent, now)
    if isinstance(event, (OrderRejected, OrderCanceled, OrderExpired)):
        if parent.chain:  # the parent's own cancel or amend is out: its cascade settles it
            return settle(parent, lookup, routing, now)
        if not is_live(parent):
            return []
        if isinstance(event, OrderCanceled) and not event.unsolicited:
            return []  # canceled on request (an operator, the kill switch): not the venue's doing, not re-routed
        children = children_of(lookup, parent.order_id)
        if isinstance(event, OrderExpired) and child.time_in_force is parent.time_in_force:
            # the child carried the parent's own time in force (a DAY order at the close, a GTD at its date):
            # the parent's time is up too, nothing is re-routed; it expires once no child is at a venue
            if any(at_venue(c) for c in children):
                return []
            return decide_report(_report(parent, ExecType.EXPIRED, f"{child.order_id}.{event.seq}", now,
                                         venue=child.venue or SMART_VENUE,
                                         reason=f"time in force {parent.time_in_force.value}: its time is up"),
                                 parent, now)
        if parent.time_in_force in _IMMEDIATE:  # the venue ended what could not trade now: so does the parent
            if any(is_live(c) for c in children):
                return []
            return _end(parent, f"time in force {parent.time_in_force.value}: the rest was not filled", now,
                        f"{child.order_id}.end")
        if routing is None:
            return []
        refused = frozenset(c.venue for c in children if c.venue and c.status in _REFUSED)
        return place(parent, lookup, routing, now, "REROUTE", event.event_id, refused)
    return []


_IMMEDIATE = (TimeInForce.IOC, TimeInForce.FOK)
_REFUSED = (OrderStatus.REJECTED, OrderStatus.CANCELED, OrderStatus.EXPIRED)
"""A child that ended in one of these statuses was refused or dropped by its venue: the parent's re-routes
avoid that venue from then on, so re-routing ends once every venue has been tried."""


def after_parent(parent: Order, event: JournalEvent, lookup: OrderLookup, routing: SmartRouting | None,
                 now: int) -> list[Event]:
    """What an applied journal event of a parent sends to its children: a cancel or amend cancels every
    live child (those without a cancel already out), and settles at once when none is live; a replaced
    parent places its new leaves."""
    if isinstance(event, OrderReplaced):
        return place(parent, lookup, routing, now, "AMEND", event.event_id) if routing is not None else []
    if isinstance(event, OrderRestated) and event.restatement_reason is RestatementReason.GT_RENEWAL:
        return place(parent, lookup, routing, now, "NEW_DAY", event.event_id) if routing is not None else []
    if isinstance(event, OrderFilled):
        return _after_fill(parent, event, lookup, routing, now)
    if not isinstance(event, (OrderPendingCancel, OrderPendingReplace)):
        return []
    out: list[Event] = []
    for child in children_of(lookup, parent.order_id):
        if not at_venue(child) or any(r.kind is VenueAction.CANCEL for r in child.chain):
            continue
        cancel = CancelOrder(event_id=f"{event.event_id}.{child.order_id.rpartition(':')[2]}", ts_event=now,
                             ts_init=now, account=child.account, trader=child.trader,
                             client_order_id=f"{event.event_id}.x", orig_client_order_id=child.client_order_id)
        out += decide_cancel(cancel, child, now)
    if out:
        return out
    return settle(parent, lookup, routing, now)


def _after_fill(parent: Order, event: OrderFilled, lookup: OrderLookup, routing: SmartRouting | None,
                now: int) -> list[Event]:
    """A parent fill that left no child at a venue while the parent still has quantity to place (the
    router placed less than its leaves, or refused to place more): the rest is placed now (and meets
    `refusal`), or, for an immediate-or-cancel parent, ends."""
    if routing is None or not is_live(parent) or parent.chain:
        return []
    if any(at_venue(c) for c in children_of(lookup, parent.order_id)):
        return []
    if parent.time_in_force in _IMMEDIATE:
        return _end(parent, f"time in force {parent.time_in_force.value}: the rest was not filled", now,
                    f"{event.event_id}.end")
    return place(parent, lookup, routing, now, "REROUTE", event.event_id)


def settle(parent: Order, lookup: OrderLookup, routing: SmartRouting | None, now: int) -> list[Event]:
    """The parent's oldest cancel or amend answered once no child is live (nor resting overnight with
    a request of ours out): a cancel completes (or is rejected when fills completed the parent); an
    amend is replaced and its new leaves placed."""
    if parent.pending is None or any(is_live(c) or (resting(c) and c.chain)
                                     for c in children_of(lookup, parent.order_id)):
        return []
    request = parent.pending
    exec_id = f"{request.request_id}.done"
    if request.kind is VenueAction.CANCEL:
        if parent.leaves_qty == 0:
            return decide_report(_report(parent, ExecType.CANCEL_REJECTED, exec_id, now, request_id=request.request_id,
                                         reason="the parent was filled before its children were canceled"), parent, now)
        return decide_report(_report(parent, ExecType.CANCELED, exec_id, now, request_id=request.request_id), parent, now)
    quantity = max(request.quantity if request.quantity is not None else parent.quantity, parent.cum_qty)
    return decide_report(_report(parent, ExecType.REPLACED, exec_id, now, request_id=request.request_id,
                                 order_qty=quantity), parent, now)


def ask_children(command: OrderStatusRequest | OrderMassStatusRequest, parent: Order, lookup: OrderLookup,
                 now: int) -> list[Event]:
    """A status request for a parent asks its children's venues, never `SMART_VENUE`: one STATUS request per
    child a venue holds (live, or resting overnight; a mass status naming a venue: only the children
    there). The venues' ORDER_STATUS answers are checked against each child (`decide_report`); the
    parent's own state is the OMS's, folded from its children. A parent with no child at a venue
    answers a status request for it with a seq-0 `OrderDenied` NOT_AT_VENUE (a mass status skips it)."""
    venue = command.venue if isinstance(command, OrderMassStatusRequest) else None
    out: list[Event] = []
    for child in children_of(lookup, parent.order_id):
        if at_venue(child) and (venue is None or child.venue == venue):
            out += decide_status(command, child, now)
    if out or isinstance(command, OrderMassStatusRequest):
        return out
    return [OrderDenied(
        event_id=ids.record_id(parent.order_id, command.event_id, "denied"), ts_event=now, ts_init=now,
        order_id=parent.order_id, account=parent.account, seq=0, trader=command.trader,
        client_order_id=command.client_order_id, command="OrderStatusRequest", reason_code="NOT_AT_VENUE",
        reason=f"parent {parent.order_id} ({parent.status.value}) has no child order at a venue: "
               "its state is the OMS's",
        command_id=command.event_id)]


def renew(parent: Order, command: NewTradingDay, lookup: OrderLookup, now: int) -> list[Event]:
    """A new trading day for a parent and its children (`decide_new_day` on each: a GTC order done for
    the day is renewed by a GT_RENEWAL restatement, any other order is left as it is).

    FIX semantics: DONE_FOR_DAY (OrdStatus 3) says no execution is forthcoming today. A child gets
    it from its venue at the close; the parent is the client's order, worked by the OMS across
    venues, so it is done for the day when no child is worked anywhere any more (`after_child`), and
    stays working while one venue still works a child. A GTC child resting overnight keeps its
    quantity at its venue, so the parent counts it as placed (`held`) and a cancel of the parent
    cancels it there too. On a new day the parent is renewed first - its remainder not held by a
    child is then placed (trigger NEW_DAY, under the account's risk controls: `refusal`) - and
    then every resting child is renewed, so parent and children work again together. A child renewed
    while its parent is not (the parent still working) is the same thing one level down."""
    out = decide_new_day(parent, command.trading_day, now)
    for child in children_of(lookup, parent.order_id):
        out += decide_new_day(child, command.trading_day, now)
    return out

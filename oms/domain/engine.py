"""The order engine's pure step: one input in, the journal events and effects it causes out.

`step(lookup, input, router, now)` finds the order an input concerns, runs the
pre-trade checks (which may take a throttle token from the account), asks the
order aggregate to decide, and folds the decided journal events with the
journal projection (`oms.domain.projection.JournalProjection`: new order
states and account risk) - the same fold the position manager (for positions)
and replay (for everything) run over the journal. It sorts everything into
what leaves the engine: journal events (the engine is their single writer),
venue requests, fills, the changed orders and the changed accounts. With a
`SmartRouting` an order becomes a parent worked by child orders
(`oms.domain.sor.parent`); without one, or for accounts and instruments with no
routing rule, routing is the static router's, as before. No Kafka,
no clock: `processors/engine.py` calls it for every input.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Callable, Mapping

from pydantic import ValidationError

from oms import ids
from oms.domain.orders import (
    ExternalOrders,
    Order,
    decide_amend,
    decide_cancel,
    decide_new,
    decide_new_day,
    decide_report,
    decide_status,
    is_amendable,
)
from oms.domain.projection import JournalProjection
from oms.domain.route import SMART_VENUE, Route
from oms.ids import is_child
from oms.domain.sor.parent import (
    SmartRouting,
    after_child,
    after_parent,
    ask_children,
    is_parent,
    place,
    renew,
)
from oms.domain.risk import AccountRisk, Controls, check_amend, check_new, denial_reason
from oms.events import (
    AmendOrder,
    CancelOrder,
    Event,
    ExecutionReport,
    Fill,
    JournalEvent,
    NewOrder,
    NewTradingDay,
    OrderDenied,
    OrderMassStatusRequest,
    OrderRouted,
    OrderStatusRequest,
    VenueRequest,
)

COMMANDS = {"oms.NewOrder": "NewOrder", "oms.AmendOrder": "AmendOrder", "oms.CancelOrder": "CancelOrder",
            "oms.OrderStatusRequest": "OrderStatusRequest"}
from oms.routing import Router

OrderLookup = Callable[[str], "Order | None"]
AccountLookup = Callable[[str], "AccountRisk | None"]


@dataclass(frozen=True)
class RiskView:
    """What pre-trade risk reads besides the account: the controls and the reference prices."""

    controls: Controls = field(default_factory=Controls)
    references: Mapping[str, tuple[Decimal, int]] = field(default_factory=dict)
    """instrument -> (reference price, its ts_event)."""

    def reference(self, instrument: str) -> tuple[Decimal | None, int | None]:
        return self.references.get(instrument, (None, None))

    def prices(self) -> Mapping[str, Decimal]:
        """The reference prices alone: one mapping per `references` value (the same object while
        it does not change, and the same price objects for the instruments it did not change), so
        the checks revalue an account only for the prices that moved (`oms.domain.risk.valuation`)."""
        global _LAST_PRICES
        seen, prices = _LAST_PRICES
        if seen is not self.references:
            prices = {instrument: price for instrument, (price, _) in self.references.items()}
            _LAST_PRICES = (self.references, prices)
        return prices


_LAST_PRICES: tuple[Mapping | None, Mapping[str, Decimal]] = (None, {})


@dataclass
class Outcome:
    journal: list[JournalEvent] = field(default_factory=list)
    requests: list[VenueRequest] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    orders: dict[str, Order] = field(default_factory=dict)
    """Orders whose state changed, by order id."""
    accounts: dict[str, AccountRisk] = field(default_factory=dict)
    """Accounts whose risk state changed (open orders, positions, throttle), by account."""


def decide(lookup: OrderLookup, event: Event, router: Router, now: int,
           risk: RiskView | None = None, accounts: dict[str, AccountRisk] | None = None,
           external: ExternalOrders = ExternalOrders.REJECT, smart: SmartRouting | None = None) -> list[Event]:
    """What the engine decides for one decoded input (commands and execution reports).

    With a `risk` view, new orders and amends pass the pre-trade checks first;
    `accounts` holds the account risk states, updated in place (throttle tokens).
    `external` is the policy for reports of orders the OMS did not create
    (`ExternalOrders`, configuration `OMS_EXTERNAL_ORDERS`). The default is REJECT:
    adopting books positions and exposure on the venue's word alone, so a report
    that is not the desk's (a drop copy of another account, a misrouted session,
    a venue bug) would move them; with REJECT it stays an UNKNOWN_ORDER anomaly for
    an operator or reconciliation to judge, and a desk opts in to ADOPT once its
    venue sessions carry only its own orders.
    """
    if isinstance(event, NewOrder):
        order_id = ids.order_id(event.account, event.client_order_id)
        existing = lookup(order_id)
        denial = None
        if risk is not None and existing is None and accounts is not None:
            price, ts = risk.reference(event.instrument)
            breaches, accounts[event.account] = check_new(
                event, risk.controls, accounts[event.account], price, ts, now, risk.prices())
            denial = denial_reason(breaches) if breaches else None
        smart_routed = smart is not None and event.venue is None and smart.strategy_for(event.account, event.instrument)
        return decide_new(event, existing, Route(SMART_VENUE) if smart_routed else router.route(event), now, denial,
                          order_id)
    if isinstance(event, AmendOrder):
        order = lookup(ids.order_id(event.account, event.orig_client_order_id))
        denial = None
        if risk is not None and order is not None and is_amendable(order) and accounts is not None:
            price, ts = risk.reference(order.instrument)
            breaches = check_amend(event, order, risk.controls, accounts[event.account], price, ts, now, risk.prices())
            denial = denial_reason(breaches) if breaches else None
        return decide_amend(event, order, now, denial)
    if isinstance(event, CancelOrder):
        return decide_cancel(event, lookup(ids.order_id(event.account, event.orig_client_order_id)), now)
    if isinstance(event, ExecutionReport):
        return decide_report(event, lookup(event.order_id), now, external)
    if isinstance(event, OrderStatusRequest):
        order = lookup(ids.order_id(event.account, event.client_order_id))
        if is_parent(order) and order.account == event.account:
            return ask_children(event, order, lookup, now)
        return decide_status(event, order, now)
    if isinstance(event, (OrderMassStatusRequest, NewTradingDay)):
        return _account_wide(lookup, event, now, (accounts or {}).get(event.account))
    raise TypeError(f"the order engine does not take {type(event).__name__}")


def _account_wide(lookup: OrderLookup, event: OrderMassStatusRequest | NewTradingDay, now: int,
                  risk: AccountRisk | None) -> list[Event]:
    """A command about every order of one account the venues hold (`AccountRisk.orders_at_venues`:
    open, or GTC resting overnight), decided order by order: a mass status asks each order's venue
    (only those at `venue` when it names one); a new trading day renews each GTC order done for the
    day (`decide_new_day`; the others decide nothing). The account's risk state is the index of
    its orders, so the step stays one input in, its events out. The account's risk state holds a
    smart-routed parent, not its children (`oms.domain.projection`): for a parent, a mass status
    asks each of its children's venues (`ask_children`, never `SMART_VENUE`) and a new trading
    day renews the parent and its resting children together (`renew`, which says why)."""
    decided: list[Event] = []
    for order_id in (risk.orders_at_venues() if risk is not None else []):
        order = lookup(order_id)
        if order is None:
            continue
        if isinstance(event, NewTradingDay):
            decided += renew(order, event, lookup, now) if is_parent(order) else decide_new_day(
                order, event.trading_day, now)
        elif is_parent(order):
            decided += ask_children(event, order, lookup, now)
        elif event.venue is None or order.venue == event.venue:
            decided += decide_status(event, order, now)
    return decided


def step(lookup: OrderLookup, event: Event, router: Router, now: int,
         risk: RiskView | None = None, account_lookup: AccountLookup | None = None,
         external: ExternalOrders = ExternalOrders.REJECT, smart: SmartRouting | None = None) -> Outcome:
    """One input decided (`decide`, with the `external` orders policy) and its journal events
    folded into the orders and accounts they change.

    Parents and children (`smart`, `oms.domain.sor.parent`): each applied journal event of a parent
    or a child may decide more (a parent routed places its children; a child's ack and fills move
    its parent; a child the venue ended is re-routed; a parent's cancel or amend cascades to its
    children), decided on the orders as the events before them left them, and folded in turn. A
    child's own `Fill` stays inside (the parent's is the downstream fill) and nothing is sent to
    `SMART_VENUE`. Without `smart`, children of a parent still move it; no re-routing happens. With
    `risk` and accounts, every placement after a parent's first (a re-route, an amend's new leaves, a
    new day's remainder) obeys the account's kill switch and trading state as pre-trade risk does for
    a new order (`oms.domain.sor.parent.refusal`): refused, nothing is sent and the parent ends
    CANCELED with the reason once no child of it is at a venue."""
    outcome = Outcome()
    account = getattr(event, "account", None)
    accounts: dict[str, AccountRisk] = {}
    if account is not None and account_lookup is not None:
        accounts[account] = account_lookup(account) or AccountRisk()
    decided = decide(lookup, event, router, now, risk, accounts if account_lookup else None, external, smart)
    projection = JournalProjection(lookup, account_lookup or (lambda _: None), project_positions=False,
                                   project_accounts=account_lookup is not None, accounts=accounts)
    if smart is not None and risk is not None and account_lookup is not None:
        # placements after a parent's first obey its account's risk controls, on the accounts as folded so far
        smart = replace(smart, controls=risk.controls, accounts=projection.accounts)

    _take(decided, outcome, projection, lookup, smart, now)
    outcome.orders = projection.orders
    if account_lookup is not None:
        outcome.accounts = projection.accounts
    return outcome


def _take(items: list[Event], outcome: Outcome, projection: JournalProjection, lookup: OrderLookup,
          smart: SmartRouting | None, now: int) -> None:
    """Fold `items` into `outcome` in order, each applied journal event's follow-ups (`_follow_up`)
    taken before the next item. A module function, not a closure of `step`: a closure that calls
    itself is a reference cycle, left for the garbage collector after every step."""
    for item in items:
        if isinstance(item, JournalEvent):
            outcome.journal.append(item)
            before = projection.orders.get(item.order_id) or lookup(item.order_id)
            projection.apply(item)
            after = projection.orders.get(item.order_id)
            if after is not None and after is not before and item.seq > 0:
                _take(_follow_up(after, item, projection.order, smart, now), outcome, projection, lookup, smart, now)
        elif isinstance(item, VenueRequest):
            if item.venue != SMART_VENUE:
                outcome.requests.append(item)
        elif isinstance(item, Fill):
            if not is_child(item.order_id):
                outcome.fills.append(item)
        else:  # pragma: no cover - the aggregate decides only the three kinds above
            raise TypeError(f"unexpected decision {type(item).__name__}")


def _follow_up(order: Order, event: JournalEvent, lookup: OrderLookup, smart: SmartRouting | None,
               now: int) -> list[Event]:
    """What an applied journal event of a parent or a child decides next (`oms.domain.sor.parent`)."""
    if is_child(order.order_id):
        return after_child(order, event, lookup, smart, now)
    if not is_parent(order):
        return []
    if isinstance(event, OrderRouted):
        if smart is None:  # a parent needs the router: without one it cannot be placed
            return place(order, lookup, SmartRouting(lambda _a, _i: None), now, "NEW", event.event_id)
        return place(order, lookup, smart, now, "NEW", event.event_id)
    return after_parent(order, event, lookup, smart, now)


def refuse_invalid_command(schema_name: str, record: dict, error: str, now: int) -> OrderDenied | None:
    """An OrderDenied (seq 0, never applied) for a command that decoded but failed validation.

    Returns None when the record is not a command or lacks a usable account and
    client order id: such input cannot be answered and goes to the dead-letter topic.
    """
    command = COMMANDS.get(schema_name)
    if command is None:
        return None
    account, client_order_id = record.get("account"), record.get("client_order_id")
    try:
        names_its_order = command in ("NewOrder", "OrderStatusRequest")
        target = client_order_id if names_its_order else record.get("orig_client_order_id")
        order_id = ids.order_id(str(account), str(target))
        return OrderDenied(
            event_id=ids.record_id(order_id, str(record.get("event_id")), "invalid"),
            ts_event=now,
            ts_init=now,
            order_id=order_id,
            account=account,
            seq=0,
            trader=record.get("trader") or "unknown",
            client_order_id=client_order_id,
            command=command,
            reason_code="INVALID_COMMAND",
            reason=error[:1024],
            command_id=str(record.get("event_id"))[:64],
        )
    except (ValidationError, TypeError):
        return None

"""The journal projection: the one fold of journal events into orders, positions and account risk.

The live engine, the live position manager and replay all fold the journal
with these rules, so replaying it gives back the state the live processors
hold:

- Orders: `oms.domain.orders.evolve`, skipping events with seq <= the order's
  current seq (already applied) and every seq-0 record (denials, anomalies:
  recorded, never applied) - `next_order`.
- Positions: every fill, bust and correction, whatever its seq (the position
  fold itself ignores a fill id it has applied), through
  `oms.domain.positions.evolve_position`, keyed `oms.keys.position_id(account,
  instrument)` - `position_key`, `evolve_position`.
- Account risk (`oms.domain.risk.AccountRisk`): an order the journal changed
  is re-entered with `with_order`; an applied `OrderFilled` moves the account's
  position by its quantity at its price and an applied `OrderFillBusted` by
  minus the busted fill's quantity at that fill's price (`with_fill`);
  corrections leave account risk alone - exactly the effect of the fills the
  engine step emits - `evolve_account` (a fill's order and position in one
  update, `with_order_fill`, equal to `with_order` then `with_fill`). The throttle bucket is the engine's
  decision state, not the journal's: the projection never touches it.

Child orders (`oms.domain.sor`: `<parent>:c<n>`) fold as orders but move
neither positions nor account risk: each child fill is also its parent's fill,
and pre-trade risk approved the parent, so the parent alone carries them.

Risk controls are their own fold (`fold_control`: `apply_control` on each
`RiskControl`, raising `ValueError` for one it refuses, which the caller skips).

`JournalProjection` applies these to a working set over lookups of stored
state (the engine's RocksDB slice) or over plain dicts (replay): `apply(event)`
updates what the event touches; `orders`, `positions`, `accounts` hold every
state it changed. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from oms import keys
from oms.domain.orders import Order, evolve
from oms.domain.positions import PositionState, evolve_position
from oms.ids import is_child
from oms.domain.risk import AccountRisk, Controls, apply_control, with_order, with_order_fill
from oms.events import Event, JournalEvent, RiskControl, OrderAnomaly, OrderFillBusted, OrderFillCorrected, OrderFilled

__all__ = ["FILL_EVENTS", "JournalProjection", "evolve_account", "next_order", "position_key"]

FILL_EVENTS = (OrderFilled, OrderFillBusted, OrderFillCorrected)
"""The journal events that move positions."""


def _nothing(_: str) -> None:
    return None


def next_order(order: Order | None, event: JournalEvent) -> Order | None:
    """The order after `event`, or None when the event is not applied (seq 0, or seq <= current).
    Raises `oms.domain.orders.DomainError` for a gap or an impossible transition."""
    if event.seq <= (order.seq if order is not None else 0):
        return None
    return evolve(order, event)


def position_key(event: Event) -> str | None:
    """The position a journal event moves (`oms.keys.position_id`), or None when it moves none. A
    child order's fill moves none: its parent's fill, journaled beside it, moves the position once."""
    if isinstance(event, FILL_EVENTS) and not is_child(event.order_id):
        return keys.position_id(event.account, event.instrument)
    return None


def evolve_account(risk: AccountRisk, before: Order | None, after: Order, event: JournalEvent) -> AccountRisk:
    """Account risk after an applied journal event took the order from `before` to `after`."""
    if isinstance(event, OrderFilled):
        return with_order_fill(risk, after, event.instrument, event.side, event.last_qty, event.last_px)
    if isinstance(event, OrderFillBusted) and before is not None:
        busted = next((f for f in before.fills if f.fill_id == event.ref_fill_id), None)
        if busted is not None:
            return with_order_fill(risk, after, after.instrument, after.side, -busted.qty, busted.px)
    return with_order(risk, after)


def fold_control(controls: Controls, event: Event) -> Controls:
    """Controls after one event of `risk.controls` (other events change nothing)."""
    return apply_control(controls, event) if isinstance(event, RiskControl) else controls


@dataclass
class JournalProjection:
    """A working set of orders, positions and accounts over lookups of stored state.

    `project_positions` / `project_accounts` switch those parts off (the
    engine holds no positions; the position manager runs `evolve_position`
    alone). Counters: `events` (journal events applied or not), `anomalies`.
    """

    order_lookup: Callable[[str], Order | None] = _nothing
    account_lookup: Callable[[str], AccountRisk | None] = _nothing
    position_lookup: Callable[[str], PositionState | None] = _nothing
    project_positions: bool = True
    project_accounts: bool = True
    orders: dict[str, Order] = field(default_factory=dict)
    positions: dict[str, PositionState] = field(default_factory=dict)
    accounts: dict[str, AccountRisk] = field(default_factory=dict)
    events: int = 0
    anomalies: int = 0

    def order(self, order_id: str) -> Order | None:
        found = self.orders.get(order_id)
        return found if found is not None else self.order_lookup(order_id)

    def account(self, account: str) -> AccountRisk:
        found = self.accounts.get(account)
        if found is None:
            found = self.account_lookup(account) or AccountRisk()
        return found

    def position(self, key: str) -> PositionState | None:
        found = self.positions.get(key)
        return found if found is not None else self.position_lookup(key)

    def apply(self, event: Event) -> None:
        """Fold one event (anything but a journal event is ignored). Positions move first, so an
        order the journal cannot fold (a `DomainError`, raised) still leaves them as the live
        position manager has them."""
        if not isinstance(event, JournalEvent):
            return
        self.events += 1
        if isinstance(event, OrderAnomaly):
            self.anomalies += 1
        child = is_child(event.order_id)  # a child's fills are its parent's: they move positions and risk once
        key = position_key(event) if self.project_positions else None
        if key is not None:
            after = evolve_position(self.position(key), event)
            if after is not None:
                self.positions[key] = after
        before = self.order(event.order_id)
        after_order = next_order(before, event)
        if after_order is None:
            return
        self.orders[event.order_id] = after_order
        if self.project_accounts and not child:
            self.accounts[after_order.account] = evolve_account(
                self.account(after_order.account), before, after_order, event)

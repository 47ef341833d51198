"""The position manager's pure fold: journal fills -> net position and P&L per (account, instrument).

This module owns how fills, busts and corrections from the order journal
(`OrderFilled`, `OrderFillBusted`, `OrderFillCorrected`) become a
`PositionState`, how a state is marked to market, how positions aggregate into
account exposure, and the `Position` event published for a state. It is pure:
no Kafka, no clock reads, no I/O; time is passed in as integer UTC nanoseconds.

Conventions:
- Average cost method. The open position is kept as a signed quantity and a
  signed cost basis (`cost`, the money paid for the open quantity, negative for
  a short); `avg_price` is `cost / quantity`. A fill in the direction of the
  position (or from flat) adds `qty * px` to the cost. A fill against it closes
  `closed = min(qty, |quantity|)` and realizes `(px - avg) * closed * sign`,
  where sign is +1 for a long and -1 for a short; the cost taken off is the
  proportional part of the cost basis, rounded half-even to 16 decimal places
  (the only rounding in the fold; closing the whole position takes the whole
  cost, so a flat position has cost exactly 0). A fill that crosses through
  zero closes the old position and opens the remainder at the fill price.
- Commission: `realized_pnl` is NET of commission. Every fill's commission
  (positive = paid, negative = rebate) is charged to realized P&L when the fill
  applies and is also accumulated in `commissions`, so the gross trading P&L is
  `realized_pnl + commissions` (`gross_realized_pnl`). With that, for any fill
  sequence and any mark: `realized_pnl + unrealized_pnl ==
  sum(-sign * qty * px) + quantity * mark - commissions`, exactly.
- Idempotence: every applied fill, bust or correction id is remembered; an event
  whose own `fill_id` was already applied is ignored.
- Busts and corrections: the state keeps the standing fills (id, side, qty, px,
  commission) in arrival order. A bust removes the referenced fill, a correction
  replaces its quantity and price (keeping its side and commission; a correction
  carries no commission), and the position is recomputed from the standing
  fills with the same step as incremental application. The reference may name
  the original fill or an earlier correction of it. A bust or correction whose
  reference is not standing (unknown, or already busted) is ignored.
- Representability: a `Position` event carries every amount as the wire's
  decimal(28,8). A state whose event would not fit (e.g. an exposure of
  10^21 after a fill of 10^19 at 100) is refused by `to_event` with
  `UnrepresentablePosition`, naming the amounts; nothing is rounded into range.
- History: `changed_position` gives the state after an event and the change
  the event made (`PositionChange`: what of it the fold reads), and
  `replay_changes` folds changes back into the same state, so a state can be
  stored as its history, appended to, rather than rewritten whole per fill.
- `fills` counts applied fill-type events (fills, busts and corrections). It
  only grows, so it is the state's version and keeps `Position.event_id` unique;
  `len(standing)` is the number of fills currently standing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Iterable, Mapping, NamedTuple

from oms.domain.representable import WIRE_TYPE, representable
from oms.events import (
    SCALE,
    Event,
    OrderFillBusted,
    OrderFillCorrected,
    OrderFilled,
    Position,
    Quote,
    Side,
    Trade,
)

__all__ = [
    "BUST",
    "CORRECTION",
    "FILL",
    "Exposure",
    "Marked",
    "PositionChange",
    "PositionKey",
    "PositionState",
    "StandingFill",
    "UnrepresentablePosition",
    "apply_bust",
    "apply_change",
    "apply_correction",
    "apply_fill",
    "changed_position",
    "evolve_position",
    "exposure",
    "fold_positions",
    "mark",
    "mid",
    "reference_price",
    "replay_changes",
    "position_event_id",
    "to_event",
]

PositionKey = tuple[str, str]
"""(account, instrument)."""

ZERO = Decimal(0)
_WIRE_QUANTUM = Decimal(1).scaleb(-SCALE)
"""Decimal places of a `Position` event's amounts (the wire scale)."""
_COST_QUANTUM = Decimal(1).scaleb(-2 * SCALE)
"""Rounding of the cost taken off on a partial close: the scale of qty * px."""
_CTX = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
"""Arithmetic context: wide enough that everything except the partial-close division is exact."""
_MAX_ID = 64


class StandingFill(NamedTuple):
    """A fill that currently counts towards the position."""

    fill_id: str
    side: Side
    qty: Decimal
    px: Decimal
    commission: Decimal


class PositionChange(NamedTuple):
    """One applied fill, bust or correction: what of the journal event the fold reads. A state is the
    fold of its changes in order (`replay_changes`), which is how a position manager may store it:
    as its history, appended to, instead of the whole state rewritten per fill."""

    kind: str
    """FILL, BUST or CORRECTION."""
    account: str
    instrument: str
    fill_id: str
    ref_fill_id: str | None = None
    side: Side | None = None
    last_qty: Decimal | None = None
    last_px: Decimal | None = None
    commission: Decimal | None = None


FILL, BUST, CORRECTION = "FILL", "BUST", "CORRECTION"


class Marked(NamedTuple):
    unrealized_pnl: Decimal
    gross_exposure: Decimal
    net_exposure: Decimal


class Exposure(NamedTuple):
    gross: Decimal
    net: Decimal
    unrealized: Decimal


@dataclass(frozen=True)
class PositionState:
    """Net position of one account in one instrument, with everything needed to rebuild it."""

    account: str
    instrument: str
    quantity: Decimal = ZERO
    """Signed: positive long, negative short."""
    cost: Decimal = ZERO
    """Signed cost basis of the open quantity (quantity * avg_price, unrounded)."""
    realized_pnl: Decimal = ZERO
    """Realized P&L net of commissions."""
    commissions: Decimal = ZERO
    """Total commission of the standing fills (already deducted from realized_pnl)."""
    fills: int = 0
    """Applied fill-type events (fills, busts, corrections): the state's version."""
    last_fill_id: str | None = None
    """Own id of the last applied fill, bust or correction."""
    applied: frozenset[str] = field(default=frozenset(), repr=False)
    """Own ids of every applied fill, bust and correction (duplicates are ignored)."""
    standing: tuple[StandingFill, ...] = field(default=(), repr=False)
    """Fills currently counting, in arrival order (busted ones removed, corrected ones replaced)."""
    aliases: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """(correction id, original fill id): lets a later bust or correction name a correction."""

    @property
    def key(self) -> PositionKey:
        return (self.account, self.instrument)

    @property
    def avg_price(self) -> Decimal:
        """Average price of the open position (0 when flat), rounded to the wire scale."""
        if self.quantity == 0:
            return ZERO
        with localcontext(_CTX):
            return (self.cost / self.quantity).quantize(_WIRE_QUANTUM)

    @property
    def gross_realized_pnl(self) -> Decimal:
        """Realized trading P&L before commissions."""
        with localcontext(_CTX):
            return self.realized_pnl + self.commissions

    def resolve(self, fill_id: str) -> str | None:
        """The standing fill a bust or correction reference means, or None if none stands."""
        target = fill_id
        for alias, original in self.aliases:
            if alias == fill_id:
                target = original
                break
        return target if any(f.fill_id == target for f in self.standing) else None


# ---------------------------------------------------------------- the step


def _advance(
    quantity: Decimal, cost: Decimal, realized: Decimal, side: Side, qty: Decimal, px: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """One fill applied to (quantity, cost, realized): the average cost method. Commission excluded.
    Runs in `_CTX` (the caller holds it: `localcontext(_CTX)`)."""
    signed = side.sign * qty
    if quantity == 0 or (quantity > 0) == (signed > 0):
        return quantity + signed, cost + signed * px, realized
    direction = 1 if quantity > 0 else -1
    open_qty = abs(quantity)
    closed = min(qty, open_qty)
    if closed == open_qty:
        taken = cost
    else:
        taken = (cost * closed / open_qty).quantize(_COST_QUANTUM)
    realized = realized + direction * closed * px - taken
    quantity = quantity - direction * closed
    cost = cost - taken
    remainder = qty - closed
    if remainder > 0:  # through zero: the rest opens a new position at the fill price
        quantity = side.sign * remainder
        cost = quantity * px
    return quantity, cost, realized


_new = object.__new__
_set = object.__setattr__


def _changed(state: PositionState, changes: dict) -> PositionState:
    """`dataclasses.replace(state, **changes)` for field names only, without the generated `__init__`
    (the fold makes a new state per fill): the fields are the instance's `__dict__`."""
    values = state.__dict__.copy()
    values.update(changes)
    new = _new(PositionState)
    _set(new, "__dict__", values)
    return new


def _moved(state: PositionState, fill: StandingFill) -> dict:
    """The fields `fill` changes on `state`: quantity, cost, realized P&L (net) and commissions."""
    with localcontext(_CTX):
        quantity, cost, realized = _advance(state.quantity, state.cost, state.realized_pnl, fill.side, fill.qty,
                                            fill.px)
        return {"quantity": quantity, "cost": cost, "realized_pnl": realized - fill.commission,
                "commissions": state.commissions + fill.commission}


def _with_fill(state: PositionState, fill: StandingFill) -> PositionState:
    return _changed(state, _moved(state, fill))


def _recomputed(state: PositionState, standing: tuple[StandingFill, ...]) -> PositionState:
    """`state` with its position rebuilt from `standing`, exactly as incremental application would."""
    out = replace(state, quantity=ZERO, cost=ZERO, realized_pnl=ZERO, commissions=ZERO, standing=standing)
    for fill in standing:
        out = _with_fill(out, fill)
    return out


def _check_account(state: PositionState, event: Event) -> None:
    account = getattr(event, "account")
    if account != state.account:
        raise ValueError(f"account: {type(event).__name__} for {account!r} applied to a position of {state.account!r}")


# ------------------------------------------------------------ transitions


def apply_fill(state: PositionState | None, event: OrderFilled) -> PositionState:
    """The position after a fill; a fill whose id was already applied leaves it unchanged."""
    if state is None:
        state = PositionState(event.account, event.instrument)
    elif (event.account, event.instrument) != state.key:
        raise ValueError(
            f"instrument: fill {event.fill_id} for {event.account}/{event.instrument} "
            f"applied to the position {state.account}/{state.instrument}"
        )
    if event.fill_id in state.applied:
        return state
    fill = StandingFill(event.fill_id, event.side, event.last_qty, event.last_px, event.commission)
    changes = _moved(state, fill)
    changes["fills"] = state.fills + 1
    changes["last_fill_id"] = event.fill_id
    changes["applied"] = state.applied | {event.fill_id}
    changes["standing"] = state.standing + (fill,)
    return _changed(state, changes)


def apply_bust(state: PositionState | None, event: OrderFillBusted) -> PositionState | None:
    """The position without the busted fill (recomputed); unchanged if it does not stand here."""
    if state is None:
        return None
    _check_account(state, event)
    if event.fill_id in state.applied:
        return state
    target = state.resolve(event.ref_fill_id)
    if target is None:
        return state
    out = _recomputed(state, tuple(f for f in state.standing if f.fill_id != target))
    return replace(
        out,
        fills=state.fills + 1,
        last_fill_id=event.fill_id,
        applied=state.applied | {event.fill_id},
    )


def apply_correction(state: PositionState | None, event: OrderFillCorrected) -> PositionState | None:
    """The position with the corrected fill's quantity and price replaced (recomputed)."""
    if state is None:
        return None
    _check_account(state, event)
    if event.fill_id in state.applied:
        return state
    target = state.resolve(event.ref_fill_id)
    if target is None:
        return state
    standing = tuple(
        f._replace(qty=event.last_qty, px=event.last_px) if f.fill_id == target else f for f in state.standing
    )
    out = _recomputed(state, standing)
    return replace(
        out,
        fills=state.fills + 1,
        last_fill_id=event.fill_id,
        applied=state.applied | {event.fill_id},
        aliases=state.aliases + ((event.fill_id, target),),
    )


def evolve_position(state: PositionState | None, event: Event) -> PositionState | None:
    """Apply one journal event; events that are not fills, busts or corrections change nothing."""
    if isinstance(event, OrderFilled):
        return apply_fill(state, event)
    if isinstance(event, OrderFillBusted):
        return apply_bust(state, event)
    if isinstance(event, OrderFillCorrected):
        return apply_correction(state, event)
    return state


def changed_position(state: PositionState | None, event: Event
                     ) -> tuple[PositionState, PositionChange] | None:
    """The position after `event` and the change it made, as stored history; None when it changes
    nothing (not a fill, bust or correction; an id already applied; a reference not standing)."""
    after = evolve_position(state, event)
    if after is None or after is state:
        return None
    if isinstance(event, OrderFilled):
        change = PositionChange(FILL, event.account, event.instrument, event.fill_id, None, event.side,
                                event.last_qty, event.last_px, event.commission)
    elif isinstance(event, OrderFillBusted):
        change = PositionChange(BUST, event.account, after.instrument, event.fill_id, event.ref_fill_id)
    else:
        change = PositionChange(CORRECTION, event.account, after.instrument, event.fill_id, event.ref_fill_id,
                                None, event.last_qty, event.last_px)
    return after, change


def apply_change(state: PositionState | None, change: PositionChange) -> PositionState | None:
    """`change` applied to `state`: the same step as the journal event it came from."""
    if change.kind == FILL:
        return apply_fill(state, change)  # type: ignore[arg-type]  # reads the same fields as an OrderFilled
    if change.kind == BUST:
        return apply_bust(state, change)  # type: ignore[arg-type]
    if change.kind == CORRECTION:
        return apply_correction(state, change)  # type: ignore[arg-type]
    raise ValueError(f"kind: unknown position change {change.kind!r}")


def replay_changes(state: PositionState | None, changes: Iterable[PositionChange]) -> PositionState | None:
    """`state` after `changes`, in order."""
    for change in changes:
        state = apply_change(state, change)
    return state


def fold_positions(journal_events: Iterable[Event]) -> dict[PositionKey, PositionState]:
    """Every position from a journal, in order. Busts and corrections (which carry no
    instrument) are routed to the position holding the fill they reference; those
    referencing a fill never seen are ignored."""
    positions: dict[PositionKey, PositionState] = {}
    fill_keys: dict[str, PositionKey] = {}
    for event in journal_events:
        if isinstance(event, OrderFilled):
            key = (event.account, event.instrument)
            fill_keys.setdefault(event.fill_id, key)
        elif isinstance(event, (OrderFillBusted, OrderFillCorrected)):
            key = fill_keys.get(event.ref_fill_id)
            if key is None:
                continue
            if isinstance(event, OrderFillCorrected):
                fill_keys.setdefault(event.fill_id, key)
        else:
            continue
        positions[key] = evolve_position(positions.get(key), event)
    return positions


# ---------------------------------------------------------------- marking


def mid(quote: Quote) -> Decimal:
    """The quote's mid price, exact."""
    with localcontext(_CTX):
        return (quote.bid_price + quote.ask_price) / 2


def reference_price(event: Event) -> Decimal | None:
    """The one reference price rule (risk bands, marks, post-trade P&L): a quote's mid,
    a trade's price; None for any other event."""
    if isinstance(event, Quote):
        return mid(event)
    if isinstance(event, Trade):
        return event.price
    return None


def mark(state: PositionState, price: Decimal) -> Marked:
    """(unrealized P&L, gross exposure |qty| * price, net exposure qty * price) at `price`, exact."""
    with localcontext(_CTX):
        net = state.quantity * price
        return Marked(net - state.cost, abs(state.quantity) * price, net)


def mark_view(position: Position, price: Decimal) -> Marked:
    """`mark` for a published `Position` (its rounded average price as the cost basis)."""
    with localcontext(_CTX):
        net = position.quantity * price
        return Marked(net - position.quantity * position.avg_price, abs(position.quantity) * price, net)


def exposure(
    positions: Mapping[PositionKey, PositionState] | Iterable[PositionState], marks: Mapping[str, Decimal]
) -> dict[str, Exposure]:
    """Per account: (gross, net, unrealized), summed over its instruments, exact.

    `marks` maps instrument to price. A position whose instrument has no mark is
    valued at cost (gross |cost|, net cost, unrealized 0) so that its exposure is
    never silently dropped."""
    states = positions.values() if isinstance(positions, Mapping) else positions
    out: dict[str, Exposure] = {}
    with localcontext(_CTX):
        for state in states:
            price = marks.get(state.instrument)
            if price is None:
                gross, net, unrealized = abs(state.cost), state.cost, ZERO
            else:
                unrealized, gross, net = mark(state, price)
            prev = out.get(state.account, Exposure(ZERO, ZERO, ZERO))
            out[state.account] = Exposure(prev.gross + gross, prev.net + net, prev.unrealized + unrealized)
    return out


# ------------------------------------------------------------------ output


def _bounded_id(head: str, tail: str) -> str:
    """`head + tail` if it fits an Identifier, else head trimmed with a digest kept unique."""
    whole = head + tail
    if len(whole) <= _MAX_ID:
        return whole
    digest = hashlib.sha256(head.encode("utf-8")).hexdigest()[:10]
    keep = _MAX_ID - len(tail) - len(digest) - 1
    return f"{head[:keep]}.{digest}{tail}"


def position_event_id(state: PositionState) -> str:
    """f"pos.{account}.{instrument}.{fills}"; beyond 64 characters the account/instrument
    part is trimmed and a digest of it added, so the id stays unique and keeps the version."""
    return _bounded_id(f"pos.{state.account}.{state.instrument}", f".{state.fills}")


def _wire(value: Decimal) -> Decimal:
    with localcontext(_CTX):
        return value.quantize(_WIRE_QUANTUM)


class UnrepresentablePosition(ValueError):
    """The `Position` event of a state cannot be written: an amount is beyond the wire's decimal(28,8)."""


def to_event(state: PositionState, mark_price: Decimal | None, now: int) -> Position:
    """The `Position` event for a state, amounts rounded half-even to the wire scale.

    With a mark, unrealized P&L and exposures are computed at the mark rounded
    to the wire scale (the one the event shows). Without one, unrealized P&L is
    0 and the exposures are at cost. Raises `UnrepresentablePosition` (naming
    the amounts) when an amount does not fit the wire."""
    if mark_price is not None and not representable(mark_price):
        raise UnrepresentablePosition(_beyond(state, {"mark_price": mark_price}))
    if mark_price is None:
        unrealized, gross, net = ZERO, abs(state.cost), state.cost
        shown_mark = None
    else:
        shown_mark = _wire(mark_price)
        unrealized, gross, net = mark(state, shown_mark)
    amounts = {
        "quantity": state.quantity,
        "realized_pnl": state.realized_pnl,
        "unrealized_pnl": unrealized,
        "gross_exposure": gross,
        "net_exposure": net,
    }
    too_large = {name: value for name, value in amounts.items() if not representable(value)}
    if too_large:
        raise UnrepresentablePosition(_beyond(state, too_large))
    return Position(
        event_id=position_event_id(state),
        ts_event=now,
        ts_init=now,
        account=state.account,
        instrument=state.instrument,
        quantity=_wire(state.quantity),
        avg_price=state.avg_price,
        realized_pnl=_wire(state.realized_pnl),
        unrealized_pnl=_wire(unrealized),
        mark_price=shown_mark,
        gross_exposure=_wire(gross),
        net_exposure=_wire(net),
        fills=state.fills,
        last_fill_id=state.last_fill_id,
    )


def _beyond(state: PositionState, amounts: Mapping[str, Decimal]) -> str:
    listed = ", ".join(f"{name} {value:E}" for name, value in amounts.items())
    return (f"position {state.account}/{state.instrument} after {state.last_fill_id}: "
            f"{listed} beyond the wire's {WIRE_TYPE}")

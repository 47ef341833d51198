"""Builders for the order aggregate's tests: commands, venue reports and a harness.

This module owns the test-side vocabulary of `oms.domain.orders`: `new_order`,
`amend` and `cancel` build client commands with deterministic ids; `report`
builds the `ExecutionReport` a well-behaved venue would send for an order
(cum/leaves computed from the order, overridable); `OrderHarness` drives one
order through decisions and folds their journal events, asserting on every
step that the events a decision returns are consistent with the state `evolve`
derives from them (contiguous seqs, same cum/leaves/avg_px). Pure: no clock,
no I/O; time is a counter starting at `T0`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal as D
from typing import Any

from oms import ids
from oms.domain.orders import LIVE_STATUSES, Denial, Order, decide_amend, decide_cancel, decide_new, decide_report, evolve
from oms.events import (
    AmendOrder,
    CancelOrder,
    Event,
    ExecType,
    ExecutionReport,
    Fill,
    JournalEvent,
    NewOrder,
    OrderFillBusted,
    OrderFillCorrected,
    OrderFilled,
    OrderReplaced,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)

T0 = 1_767_258_000_000_000_000
"""2026-01-01T09:00:00Z in nanoseconds."""
ACCOUNT = "ACC-001"
TRADER = "trader.jane"
INSTRUMENT = "AAPL"
VENUE = "XNAS"


def new_order(client_order_id: str = "cl-1", ts: int = T0, **overrides: Any) -> NewOrder:
    """A limit buy of 100 AAPL at 187.25, DAY, in ACC-001."""
    fields: dict[str, Any] = {
        "ts_event": ts,
        "ts_init": ts,
        "account": ACCOUNT,
        "trader": TRADER,
        "client_order_id": client_order_id,
        "instrument": INSTRUMENT,
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": D("100"),
        "limit_price": D("187.25"),
        "time_in_force": TimeInForce.DAY,
        **overrides,
    }
    if fields.get("order_type") is OrderType.MARKET and "limit_price" not in overrides:
        fields["limit_price"] = None
    fields.setdefault("event_id", ids.command_id(fields["account"], fields["client_order_id"], "new"))
    return NewOrder(**fields)


def amend(
    orig_client_order_id: str,
    client_order_id: str,
    quantity: D | None = None,
    limit_price: D | None = None,
    ts: int = T0,
    **overrides: Any,
) -> AmendOrder:
    fields: dict[str, Any] = {
        "ts_event": ts,
        "ts_init": ts,
        "account": ACCOUNT,
        "trader": TRADER,
        "client_order_id": client_order_id,
        "orig_client_order_id": orig_client_order_id,
        "quantity": quantity,
        "limit_price": limit_price,
        **overrides,
    }
    fields.setdefault("event_id", ids.command_id(fields["account"], client_order_id, "amend"))
    return AmendOrder(**fields)


def cancel(orig_client_order_id: str, client_order_id: str, ts: int = T0, **overrides: Any) -> CancelOrder:
    fields: dict[str, Any] = {
        "ts_event": ts,
        "ts_init": ts,
        "account": ACCOUNT,
        "trader": TRADER,
        "client_order_id": client_order_id,
        "orig_client_order_id": orig_client_order_id,
        **overrides,
    }
    fields.setdefault("event_id", ids.command_id(fields["account"], client_order_id, "cancel"))
    return CancelOrder(**fields)


_STATUS_OF = {
    ExecType.NEW: OrderStatus.NEW,
    ExecType.CANCELED: OrderStatus.CANCELED,
    ExecType.REPLACED: OrderStatus.NEW,
    ExecType.REJECTED: OrderStatus.REJECTED,
    ExecType.EXPIRED: OrderStatus.EXPIRED,
    ExecType.DONE_FOR_DAY: OrderStatus.DONE_FOR_DAY,
}


def report(
    order: Order | None,
    exec_type: ExecType,
    exec_id: str,
    *,
    last_qty: D = D(0),
    last_px: D = D(0),
    ref_exec_id: str | None = None,
    ts: int = T0,
    **overrides: Any,
) -> ExecutionReport:
    """What a consistent venue reports for `order` (cum/leaves from the order and
    `last_qty`; terminal exec types leave 0). Any field can be overridden; with
    `order=None`, `order_id` and the order's terms come from `overrides` or defaults."""
    quantity = order.quantity if order is not None else D("100")
    cum = order.cum_qty if order is not None else D(0)
    if exec_type in (ExecType.PARTIAL_FILL, ExecType.FILL):
        cum = cum + last_qty
    leaves = max(quantity - cum, D(0))
    if exec_type in (ExecType.CANCELED, ExecType.EXPIRED, ExecType.REJECTED, ExecType.DONE_FOR_DAY):
        leaves = D(0)
    if exec_type in (ExecType.PARTIAL_FILL, ExecType.FILL):
        status = OrderStatus.FILLED if leaves == 0 else OrderStatus.PARTIALLY_FILLED
    else:
        status = _STATUS_OF.get(exec_type, order.status if order is not None else OrderStatus.NEW)
    fields: dict[str, Any] = {
        "event_id": f"{VENUE}-{exec_id}",
        "ts_event": ts,
        "ts_init": ts,
        "venue": (order.venue if order is not None and order.venue else VENUE),
        "account": order.account if order is not None else ACCOUNT,
        "order_id": order.order_id if order is not None else "O00000000000000000000",
        "request_id": (order.request_id if order is not None and order.request_id else "R-unknown"),
        "exec_id": exec_id,
        "exec_type": exec_type,
        "order_status": status,
        "instrument": order.instrument if order is not None else INSTRUMENT,
        "side": order.side if order is not None else Side.BUY,
        "order_qty": quantity,
        "last_qty": last_qty,
        "last_px": last_px,
        "cum_qty": cum,
        "leaves_qty": leaves,
        "ref_exec_id": ref_exec_id,
        **overrides,
    }
    return ExecutionReport(**fields)


def check_consistent(before: Order | None, events: list[Event], after: Order | None) -> None:
    """The sequenced journal events of one decision are contiguous from
    before.seq + 1 and the numbers they carry are the ones evolve derives."""
    journal = [e for e in events if isinstance(e, JournalEvent) and e.seq > 0]
    start = (before.seq if before is not None else 0) + 1
    assert [e.seq for e in journal] == list(range(start, start + len(journal))), events
    if journal:
        assert after is not None and after.seq == journal[-1].seq
    for event in journal:
        if isinstance(event, (OrderFilled, OrderFillBusted, OrderFillCorrected)):
            assert (event.cum_qty, event.leaves_qty, event.avg_px) == (after.cum_qty, after.leaves_qty, after.avg_px)
        if isinstance(event, OrderReplaced):
            assert event.leaves_qty == after.leaves_qty
    for fill in (e for e in events if isinstance(e, Fill)):
        assert fill.fill_id == fill.event_id
        assert any(getattr(j, "fill_id", None) == fill.fill_id for j in journal)


def apply(order: Order | None, events: list[Event]) -> Order | None:
    """Fold a decision's sequenced journal events into `order`."""
    for event in events:
        if isinstance(event, JournalEvent) and event.seq > 0:
            order = evolve(order, event)
    return order


@dataclass
class OrderHarness:
    """One order driven through decisions; every output is kept in `outputs`
    and every journal event (seq 0 records included) in `journal`."""

    venue: str = VENUE
    order: Order | None = None
    outputs: list[Event] = field(default_factory=list)
    journal: list[JournalEvent] = field(default_factory=list)
    now: int = T0
    _exec: int = 0

    def tick(self) -> int:
        self.now += 1_000_000
        return self.now

    def _run(self, events: list[Event]) -> list[Event]:
        before = self.order
        after = apply(before, events)
        check_consistent(before, events, after)
        self.order = after
        self.outputs.extend(events)
        self.journal.extend(e for e in events if isinstance(e, JournalEvent))
        if after is not None and after.status in LIVE_STATUSES:
            assert after.cum_qty + after.leaves_qty == after.quantity
        return events

    def new(
        self, client_order_id: str = "cl-1", denial: Denial | tuple[str, str] | None = None, **kw: Any
    ) -> list[Event]:
        """Decide a new order; `denial` is pre-trade risk's `Denial`, or (reason_code, reason) for short."""
        cmd = new_order(client_order_id, ts=self.tick(), **kw)
        existing = self.order if self.order is not None and self.order.order_id == ids.order_id(
            cmd.account, cmd.client_order_id
        ) else None
        refused = Denial(*denial) if isinstance(denial, tuple) else denial
        return self._run(decide_new(cmd, existing, self.venue, self.now, denial=refused))

    def amend(
        self,
        client_order_id: str,
        quantity: D | None = None,
        limit_price: D | None = None,
        denial: Denial | None = None,
        **kw: Any,
    ) -> list[Event]:
        assert self.order is not None
        cmd = amend(self.order.client_order_id, client_order_id, quantity, limit_price, ts=self.tick(), **kw)
        return self._run(decide_amend(cmd, self.order, self.now, denial))

    def cancel(self, client_order_id: str, **kw: Any) -> list[Event]:
        assert self.order is not None
        cmd = cancel(self.order.client_order_id, client_order_id, ts=self.tick(), **kw)
        return self._run(decide_cancel(cmd, self.order, self.now))

    def next_exec_id(self) -> str:
        self._exec += 1
        return f"E{self._exec}"

    def report(self, exec_type: ExecType, exec_id: str | None = None, **kw: Any) -> ExecutionReport:
        return report(self.order, exec_type, exec_id or self.next_exec_id(), ts=self.tick(), **kw)

    def send(self, rep: ExecutionReport) -> list[Event]:
        return self._run(decide_report(rep, self.order, self.now))

    def venue_says(self, exec_type: ExecType, exec_id: str | None = None, **kw: Any) -> list[Event]:
        return self.send(self.report(exec_type, exec_id, **kw))

    def fill(self, qty: D | str | int, px: D | str = "10", exec_id: str | None = None, **kw: Any) -> list[Event]:
        qty, px = D(str(qty)), D(str(px))
        assert self.order is not None
        kind = ExecType.FILL if self.order.cum_qty + qty >= self.order.quantity else ExecType.PARTIAL_FILL
        return self.venue_says(kind, exec_id, last_qty=qty, last_px=px, **kw)

    def working(self, client_order_id: str = "cl-1", **kw: Any) -> Order:
        """New order, routed and acknowledged."""
        self.new(client_order_id, **kw)
        self.venue_says(ExecType.NEW)
        assert self.order is not None and self.order.status is OrderStatus.NEW
        return self.order

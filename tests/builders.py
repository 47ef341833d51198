"""The one builder module of the tests: a valid sample of every event type, and the order harness.

Sample events: one builder per event type with realistic values for one
order's life (account ACC-001 buying 100 AAPL at 187.25 on XNAS), taking
keyword overrides: `order_filled(last_qty=Decimal("5"))`. The client commands
`new_order`, `amend` and `cancel` carry the deterministic command ids a client
gives them. `sample_events()` covers every type in `EVENT_TYPES`, with each
optional field both set and unset; `schema_version()` makes other versions of
a record schema, for schema evolution tests.

The order aggregate: `report` builds the `ExecutionReport` a well-behaved
venue would send for an order (cum/leaves computed from the order,
overridable); `OrderHarness` drives one order through decisions and folds
their journal events, asserting on every step that the events a decision
returns are consistent with the state `evolve` derives from them (contiguous
seqs, same cum/leaves/avg_px). Pure: no clock, no I/O; time is a counter
starting at `T0`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import Decimal as D
from typing import Any

from oms import ids
from oms.domain.engine import RiskView, step
from oms.domain.risk import Controls
from oms.routing import StaticRouter
from oms.domain.orders import (
    LIVE_STATUSES,
    Denial,
    ExternalOrders,
    Order,
    decide_amend,
    decide_cancel,
    decide_new,
    decide_report,
    evolve,
)
from oms.events import (
    AmendOrder,
    CancelOrder,
    CancelRejectResponseTo,
    ControlKind,
    DeadLetter,
    Event,
    ExecType,
    ExecutionReport,
    Fill,
    FillKind,
    JournalEvent,
    NewOrder,
    NewTradingDay,
    OrderMassStatusRequest,
    OrderStatusRequest,
    OrderAccepted,
    OrderAcknowledged,
    OrderAnomaly,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderDoneForDay,
    OrderExpired,
    OrderFillBusted,
    OrderFillCorrected,
    OrderFilled,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderRejected,
    OrderReplaced,
    OrderRestated,
    OrderRouted,
    OrderStatus,
    OrderSuspended,
    RestatementReason,
    OrderRejectReason,
    CancelRejectReason,
    OrderType,
    OrderView,
    Position,
    Quote,
    RiskControl,
    Side,
    TimeInForce,
    Trade,
    VenueAction,
    VenueRequest,
)
from schemas import SchemaEntry, load_catalogue

T0 = 1_767_258_000_000_000_000
"""2026-01-01T09:00:00Z in nanoseconds."""
ACCOUNT = "ACC-001"
TRADER = "trader.jane"
INSTRUMENT = "AAPL"
VENUE = "XNAS"
ORDER_ID = "ORD-20260101-000001"
CLIENT_ORDER_ID = "cl-0001"
FILL_ID = "fill-ORD-20260101-000001-1"


def envelope(event_id: str, offset_us: int = 0) -> dict:
    """`event_id`, `ts_event` (T0 + offset) and `ts_init` (250 µs later)."""
    ts = T0 + offset_us * 1_000
    return {"event_id": event_id, "ts_event": ts, "ts_init": ts + 250_000}


def journal(seq: int, offset_us: int) -> dict:
    """Envelope plus `order_id`, `account`, `seq` of the sample order."""
    return {**envelope(f"{ORDER_ID}:{seq}", offset_us), "order_id": ORDER_ID, "account": ACCOUNT, "seq": seq}


# ---------------------------------------------------------------- commands


def new_order(client_order_id: str = "cl-1", ts: int = T0, **overrides: Any) -> NewOrder:
    """A limit buy of 100 AAPL at 187.25, DAY, in ACC-001, with the deterministic command id."""
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
    orig_client_order_id: str = "cl-1",
    client_order_id: str = "cl-2",
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


def cancel(orig_client_order_id: str = "cl-1", client_order_id: str = "cl-3", ts: int = T0, **overrides: Any) -> CancelOrder:
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


# ----------------------------------------------------------- venue traffic


def venue_request(**overrides) -> VenueRequest:
    return VenueRequest(
        **{
            **envelope("vr-0001", 300),
            "action": VenueAction.NEW,
            "venue": VENUE,
            "account": ACCOUNT,
            "order_id": ORDER_ID,
            "request_id": "req-0001",
            "orig_request_id": None,
            "instrument": INSTRUMENT,
            "side": Side.BUY,
            "order_type": OrderType.LIMIT,
            "quantity": D("100"),
            "limit_price": D("187.25"),
            "time_in_force": TimeInForce.DAY,
            **overrides,
        }
    )


def execution_report(**overrides) -> ExecutionReport:
    """A partial fill: 40 of 100 at 187.24."""
    return ExecutionReport(
        **{
            **envelope("XNAS-exec-0002", 2_000),
            "venue": VENUE,
            "account": ACCOUNT,
            "order_id": ORDER_ID,
            "request_id": "req-0001",
            "exec_id": "XNAS-exec-0002",
            "exec_type": ExecType.PARTIAL_FILL,
            "order_status": OrderStatus.PARTIALLY_FILLED,
            "instrument": INSTRUMENT,
            "side": Side.BUY,
            "order_qty": D("100"),
            "last_qty": D("40"),
            "last_px": D("187.24"),
            "cum_qty": D("40"),
            "leaves_qty": D("60"),
            "avg_px": D("187.24"),
            "limit_price": D("187.25"),
            "commission": D("0.40"),
            "venue_order_id": "XNAS-7788",
            "ref_exec_id": None,
            "reason": None,
            **overrides,
        }
    )


# ------------------------------------------------------------------ journal


def order_accepted(**overrides) -> OrderAccepted:
    return OrderAccepted(
        **{
            **journal(1, 100),
            "trader": TRADER,
            "client_order_id": CLIENT_ORDER_ID,
            "instrument": INSTRUMENT,
            "side": Side.BUY,
            "order_type": OrderType.LIMIT,
            "quantity": D("100"),
            "limit_price": D("187.25"),
            "time_in_force": TimeInForce.DAY,
            "command_id": "cmd-0001",
            **overrides,
        }
    )


def order_denied(**overrides) -> OrderDenied:
    return OrderDenied(
        **{
            **journal(0, 100),
            "trader": TRADER,
            "client_order_id": CLIENT_ORDER_ID,
            "command": "NewOrder",
            "reason_code": "MAX_ORDER_QTY",
            "reason": "quantity 100000 is above the account limit of 10000",
            "command_id": "cmd-0001",
            **overrides,
        }
    )


def order_routed(**overrides) -> OrderRouted:
    return OrderRouted(
        **{
            **journal(2, 300),
            "venue": VENUE,
            "request_id": "req-0001",
            "quantity": D("100"),
            "limit_price": D("187.25"),
            **overrides,
        }
    )


def order_acknowledged(**overrides) -> OrderAcknowledged:
    return OrderAcknowledged(
        **{
            **journal(3, 1_000),
            "venue": VENUE,
            "exec_id": "XNAS-exec-0001",
            "venue_order_id": "XNAS-7788",
            **overrides,
        }
    )


def order_rejected(**overrides) -> OrderRejected:
    return OrderRejected(
        **{
            **journal(3, 1_000),
            "venue": VENUE,
            "exec_id": "XNAS-exec-0001",
            "reason": "price outside collar",
            **overrides,
        }
    )


def order_filled(**overrides) -> OrderFilled:
    return OrderFilled(
        **{
            **journal(4, 2_000),
            "fill_id": FILL_ID,
            "exec_id": "XNAS-exec-0002",
            "venue": VENUE,
            "trader": TRADER,
            "client_order_id": CLIENT_ORDER_ID,
            "instrument": INSTRUMENT,
            "side": Side.BUY,
            "last_qty": D("40"),
            "last_px": D("187.24"),
            "cum_qty": D("40"),
            "leaves_qty": D("60"),
            "avg_px": D("187.24"),
            "commission": D("0.40"),
            **overrides,
        }
    )


def order_pending_cancel(**overrides) -> OrderPendingCancel:
    return OrderPendingCancel(
        **{
            **journal(5, 9_000),
            "client_order_id": "cl-0003",
            "request_id": "req-0003",
            "command_id": "cmd-0003",
            **overrides,
        }
    )


def order_canceled(**overrides) -> OrderCanceled:
    return OrderCanceled(
        **{
            **journal(6, 9_500),
            "exec_id": "XNAS-exec-0004",
            "unsolicited": False,
            "reason": None,
            **overrides,
        }
    )


def order_pending_replace(**overrides) -> OrderPendingReplace:
    return OrderPendingReplace(
        **{
            **journal(5, 5_000),
            "client_order_id": "cl-0002",
            "request_id": "req-0002",
            "quantity": D("150"),
            "limit_price": D("187.10"),
            "command_id": "cmd-0002",
            **overrides,
        }
    )


def order_replaced(**overrides) -> OrderReplaced:
    return OrderReplaced(
        **{
            **journal(6, 5_500),
            "client_order_id": "cl-0002",
            "request_id": "req-0002",
            "exec_id": "XNAS-exec-0003",
            "quantity": D("150"),
            "limit_price": D("187.10"),
            "leaves_qty": D("110"),
            **overrides,
        }
    )


def order_cancel_rejected(**overrides) -> OrderCancelRejected:
    return OrderCancelRejected(
        **{
            **journal(6, 9_500),
            "client_order_id": "cl-0003",
            "response_to": CancelRejectResponseTo.CANCEL,
            "reason_code": "TOO_LATE_TO_CANCEL",
            "reason": "order already filled",
            "exec_id": "XNAS-exec-0004",
            "request_id": "O-0001.5",
            **overrides,
        }
    )


def order_expired(**overrides) -> OrderExpired:
    return OrderExpired(
        **{
            **journal(7, 25_000_000),
            "exec_id": "XNAS-exec-0005",
            "reason": "end of trading day",
            **overrides,
        }
    )


def order_done_for_day(**overrides) -> OrderDoneForDay:
    return OrderDoneForDay(
        **{
            **journal(7, 25_000_000),
            "exec_id": "XNAS-exec-0005",
            "reason": "venue closed for the day",
            **overrides,
        }
    )


def order_restated(**overrides) -> OrderRestated:
    """The venue renews a GT order on a new trading day (FIX ExecType Restated, GT_RENEWAL)."""
    return OrderRestated(
        **{
            **journal(8, 90_000_000),
            "exec_id": "XNAS-exec-0007",
            "restatement_reason": RestatementReason.GT_RENEWAL,
            "quantity": D("100"),
            "limit_price": D("187.25"),
            "cum_qty": D("40"),
            "leaves_qty": D("60"),
            "day_order_qty": D("60"),
            "day_cum_qty": D("0"),
            "reason": "new trading day",
            **overrides,
        }
    )


def order_suspended(**overrides) -> OrderSuspended:
    return OrderSuspended(
        **{**journal(8, 80_000_000), "exec_id": "XNAS-exec-0008", "reason": "trading halt", **overrides}
    )


def order_fill_busted(**overrides) -> OrderFillBusted:
    return OrderFillBusted(
        **{
            **journal(7, 60_000_000),
            "fill_id": f"{FILL_ID}-bust",
            "exec_id": "XNAS-exec-0006",
            "ref_fill_id": FILL_ID,
            "instrument": INSTRUMENT,
            "cum_qty": D("0"),
            "leaves_qty": D("100"),
            "avg_px": D("0"),
            **overrides,
        }
    )


def order_fill_corrected(**overrides) -> OrderFillCorrected:
    return OrderFillCorrected(
        **{
            **journal(7, 60_000_000),
            "fill_id": f"{FILL_ID}-corr",
            "exec_id": "XNAS-exec-0006",
            "ref_fill_id": FILL_ID,
            "instrument": INSTRUMENT,
            "last_qty": D("40"),
            "last_px": D("187.20"),
            "cum_qty": D("40"),
            "leaves_qty": D("60"),
            "avg_px": D("187.20"),
            **overrides,
        }
    )


def order_anomaly(**overrides) -> OrderAnomaly:
    return OrderAnomaly(
        **{
            **journal(8, 70_000_000),
            "source": "exec.reports",
            "reason_code": "FILL_AFTER_CANCEL",
            "reason": "fill received for a canceled order",
            "exec_id": "XNAS-exec-0007",
            **overrides,
        }
    )


# --------------------------------------------------------- downstream views


def fill(**overrides) -> Fill:
    return Fill(
        **{
            **envelope(FILL_ID, 2_000),
            "fill_id": FILL_ID,
            "kind": FillKind.FILL,
            "ref_fill_id": None,
            "order_id": ORDER_ID,
            "account": ACCOUNT,
            "trader": TRADER,
            "client_order_id": CLIENT_ORDER_ID,
            "instrument": INSTRUMENT,
            "side": Side.BUY,
            "venue": VENUE,
            "exec_id": "XNAS-exec-0002",
            "quantity": D("40"),
            "price": D("187.24"),
            "commission": D("0.40"),
            **overrides,
        }
    )


def order_view(**overrides) -> OrderView:
    return OrderView(
        **{
            **envelope(f"{ORDER_ID}:4", 2_000),
            "order_id": ORDER_ID,
            "account": ACCOUNT,
            "trader": TRADER,
            "client_order_id": CLIENT_ORDER_ID,
            "instrument": INSTRUMENT,
            "side": Side.BUY,
            "order_type": OrderType.LIMIT,
            "time_in_force": TimeInForce.DAY,
            "status": OrderStatus.PARTIALLY_FILLED,
            "quantity": D("100"),
            "limit_price": D("187.25"),
            "cum_qty": D("40"),
            "leaves_qty": D("60"),
            "avg_px": D("187.24"),
            "venue": VENUE,
            "seq": 4,
            "reason": None,
            **overrides,
        }
    )


def position(**overrides) -> Position:
    return Position(
        **{
            **envelope(f"pos-{ACCOUNT}-{INSTRUMENT}-1", 2_000),
            "account": ACCOUNT,
            "instrument": INSTRUMENT,
            "quantity": D("40"),
            "avg_price": D("187.24"),
            "realized_pnl": D("0"),
            "unrealized_pnl": D("0.40"),
            "mark_price": D("187.25"),
            "gross_exposure": D("7490.00"),
            "net_exposure": D("7490.00"),
            "fills": 1,
            "last_fill_id": FILL_ID,
            **overrides,
        }
    )


# --------------------------------------------------------------- market data


def quote(**overrides) -> Quote:
    return Quote(
        **{
            **envelope("q-XNAS-AAPL-1"),
            "instrument": INSTRUMENT,
            "venue": VENUE,
            "bid_price": D("187.24"),
            "bid_size": D("300"),
            "ask_price": D("187.26"),
            "ask_size": D("200"),
            **overrides,
        }
    )


def depth_quote(**overrides) -> Quote:
    """XNAS's AAPL book three levels deep: bids 300 @ 187.24, 500 @ 187.23, 900 @ 187.22; asks 200 @ 187.26,
    400 @ 187.27, 800 @ 187.28 (the first level is the top of book)."""
    bids = [(D("187.24"), D(300)), (D("187.23"), D(500)), (D("187.22"), D(900))]
    asks = [(D("187.26"), D(200)), (D("187.27"), D(400)), (D("187.28"), D(800))]
    return quote(**{"bid_levels": [{"price": p, "size": s} for p, s in bids],
                    "ask_levels": [{"price": p, "size": s} for p, s in asks], **overrides})


def trade(**overrides) -> Trade:
    return Trade(
        **{
            **envelope("t-XNAS-AAPL-1", 2_000),
            "instrument": INSTRUMENT,
            "venue": VENUE,
            "price": D("187.24"),
            "size": D("40"),
            "aggressor": Side.BUY,
            "trade_id": "XNAS-T-000123",
            **overrides,
        }
    )


# ------------------------------------------------------------ risk and errors


def risk_control(**overrides) -> RiskControl:
    return RiskControl(
        **{
            **envelope("rc-ACC-001-max_order_qty-1"),
            "scope": ACCOUNT,
            "kind": ControlKind.LIMIT,
            "name": "max_order_qty",
            "value": "10000",
            "changed_by": "risk.ops",
            "reason": "desk limit for 2026",
            **overrides,
        }
    )


def dead_letter(**overrides) -> DeadLetter:
    return DeadLetter(
        **{
            **envelope("dlq-oms.commands-2-1234"),
            "source_topic": "oms.commands",
            "partition": 2,
            "offset": 1234,
            "key": ACCOUNT.encode(),
            "value": b"\x00\x00\x00\x00\x07garbage",
            "error": "oms.NewOrder record does not validate: quantity must be greater than 0",
            "processor": "order-engine",
            **overrides,
        }
    )


# ------------------------------------------------------------------ catalogue


def order_status_request(client_order_id: str = "cl-1", ts: int = T0, **overrides: Any) -> OrderStatusRequest:
    """An operator asking for the venue's state of order `client_order_id` in ACC-001."""
    fields = {"event_id": f"status-{client_order_id}-{ts}", "ts_event": ts, "ts_init": ts, "account": ACCOUNT,
              "trader": TRADER, "client_order_id": client_order_id}
    return OrderStatusRequest(**{**fields, **overrides})


def order_mass_status_request(ts: int = T0, **overrides: Any) -> OrderMassStatusRequest:
    """A mass status of ACC-001 (at every venue unless `venue` is given)."""
    fields = {"event_id": f"mass-{ts}", "ts_event": ts, "ts_init": ts, "account": ACCOUNT, "trader": TRADER,
              "mass_status_id": f"mass-{ts}"}
    return OrderMassStatusRequest(**{**fields, **overrides})


def new_trading_day(day: str = "2026-01-02", ts: int = T0, **overrides: Any) -> NewTradingDay:
    """The session roll of ACC-001 to `day`."""
    fields = {"event_id": f"roll-{ACCOUNT}-{day}", "ts_event": ts, "ts_init": ts, "account": ACCOUNT,
              "trading_day": day, "changed_by": "ops"}
    return NewTradingDay(**{**fields, **overrides})


def sample_events() -> list[Event]:
    """Every event type at least once; every optional field both set and unset."""
    return [
        new_order(venue=VENUE),
        new_order(
            side=Side.SELL,
            order_type=OrderType.MARKET,
            limit_price=None,
            time_in_force=TimeInForce.IOC,
            venue=None,
        ),
        amend(quantity=D("150"), limit_price=D("187.10")),
        amend(quantity=D("150")),
        amend(limit_price=D("187.10")),
        cancel(),
        order_status_request(),
        order_mass_status_request(venue=VENUE),
        order_mass_status_request(venue=None),
        new_trading_day(),
        venue_request(),
        venue_request(
            action=VenueAction.REPLACE,
            request_id="req-0002",
            orig_request_id="req-0001",
            quantity=D("150"),
            limit_price=D("187.10"),
        ),
        venue_request(order_type=OrderType.MARKET, limit_price=None, time_in_force=TimeInForce.IOC),
        execution_report(),
        execution_report(
            exec_id="XNAS-exec-0001",
            exec_type=ExecType.NEW,
            order_status=OrderStatus.NEW,
            last_qty=D(0),
            last_px=D(0),
            cum_qty=D(0),
            leaves_qty=D("100"),
            avg_px=D(0),
            commission=D(0),
            limit_price=None,
            venue_order_id=None,
        ),
        execution_report(
            exec_id="XNAS-exec-0006",
            exec_type=ExecType.TRADE_CORRECT,
            last_px=D("187.20"),
            avg_px=D("187.20"),
            ref_exec_id="XNAS-exec-0002",
            reason="price corrected by the venue",
        ),
        order_accepted(),
        order_accepted(order_type=OrderType.MARKET, limit_price=None),
        order_denied(),
        order_routed(),
        order_routed(limit_price=None),
        order_acknowledged(),
        order_acknowledged(venue_order_id=None),
        order_rejected(),
        order_rejected(reject_reason=OrderRejectReason.UNKNOWN_SYMBOL),
        order_filled(),
        order_filled(late=True),
        order_pending_cancel(),
        order_canceled(),
        order_canceled(exec_id=None, unsolicited=True, reason="venue canceled: self-trade prevention"),
        order_pending_replace(),
        order_pending_replace(limit_price=None),
        order_replaced(),
        order_replaced(limit_price=None),
        order_cancel_rejected(),
        order_cancel_rejected(response_to=CancelRejectResponseTo.REPLACE, reason_code="RISK_LIMIT", exec_id=None,
                              request_id=None),
        order_expired(),
        order_done_for_day(),
        order_expired(exec_id=None, reason=None),
        order_done_for_day(exec_id=None, reason=None),
        order_fill_busted(),
        order_fill_corrected(),
        order_restated(),
        order_restated(limit_price=None, day_order_qty=None, day_cum_qty=None, reason=None),
        order_suspended(),
        order_suspended(reason=None),
        execution_report(
            exec_id="XNAS-exec-0009",
            exec_type=ExecType.RESTATED,
            restatement_reason=RestatementReason.GT_RENEWAL,
            ord_rej_reason=OrderRejectReason.OTHER,
            cxl_rej_reason=CancelRejectReason.TOO_LATE_TO_CANCEL,
            day_order_qty=D("60"),
            day_cum_qty=D("0"),
        ),
        order_anomaly(),
        order_anomaly(source="commands", reason_code="UNKNOWN_ORDER", reason="no live order", exec_id=None),
        fill(),
        fill(
            kind=FillKind.BUST,
            fill_id=f"{FILL_ID}-bust",
            ref_fill_id=FILL_ID,
            quantity=D("-40"),
            commission=D("-0.40"),
        ),
        order_view(),
        order_view(
            order_type=OrderType.MARKET,
            status=OrderStatus.REJECTED,
            limit_price=None,
            cum_qty=D(0),
            leaves_qty=D(0),
            avg_px=D(0),
            venue=None,
            reason="price outside collar",
        ),
        position(),
        position(
            quantity=D(0),
            avg_price=D(0),
            unrealized_pnl=D(0),
            mark_price=None,
            gross_exposure=D(0),
            net_exposure=D(0),
            fills=0,
            last_fill_id=None,
        ),
        quote(),
        quote(venue=None),
        depth_quote(),
        trade(),
        trade(venue=None, aggressor=None, trade_id=None),
        risk_control(),
        risk_control(kind=ControlKind.KILL_SWITCH, name="kill_switch", value="off", reason=None),
        dead_letter(),
        dead_letter(key=None, value=None),
        *venue_status_samples(),
        venue_reconciliation(),
        *routing_decided_samples(),
    ]


def routing_decided_samples() -> list:
    """A smart-routing decision with every optional field set, and one with none (issue 12)."""
    from oms.events import RoutingDecided

    head = {**envelope("O1.routed", 4_000), "order_id": ORDER_ID, "account": ACCOUNT, "seq": 0, "strategy": "cost",
            "instrument": INSTRUMENT, "side": Side.BUY, "quantity": D(100), "leaves_qty": D(100),
            "reason": "swept 100 at SIM-A up to 187.25"}
    return [RoutingDecided(**head, limit_price=D("187.25"), arrival_price=D("187.20"), considered="SIM-A=187.2 (price)",
                           placed=f"{ORDER_ID}:c1 SIM-A 100@187.25", trigger="NEW"),
            RoutingDecided(**{**head, "event_id": "O1.routed.2"})]


def venue_reconciliation(**overrides) -> "VenueReconciliation":
    """A reconciliation of SIM-A that found one order unknown at the venue and re-sent two fills."""
    from oms.events import VenueReconciliation

    return VenueReconciliation(**{
        **envelope("SIM-A.0.reconciliation", 3_000), "venue": VENUE, "policy": "reject", "oms_open": 3,
        "venue_working": 2, "matched": 2, "reports": 3, "cancels": 0, "fills_resent": 2,
        "missed_fills": ORDER_ID, "unknown_at_venue": "O2", **overrides,
    })


# ------------------------------------------------- the order aggregate


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
    pending = order.pending if order is not None else None
    if exec_type is ExecType.REPLACED and pending is not None and pending.quantity is not None:
        quantity = max(pending.quantity, cum)  # FIX: replaced at or below cum qty, OrderQty = CumQty
    if exec_type in (ExecType.PARTIAL_FILL, ExecType.FILL):
        cum = cum + last_qty
    leaves = max(quantity - cum, D(0))
    ended = order is not None and order.status not in LIVE_STATUSES and order.status is not OrderStatus.FILLED
    if exec_type in (ExecType.CANCELED, ExecType.EXPIRED, ExecType.REJECTED, ExecType.DONE_FOR_DAY) or ended:
        leaves = D(0)
    if exec_type in (ExecType.PARTIAL_FILL, ExecType.FILL) and ended:
        status = order.status  # a late fill: the venue keeps the order's end status (an execution that crossed the cancel)
    elif exec_type in (ExecType.PARTIAL_FILL, ExecType.FILL):
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
        "request_id": _request_id(order, exec_type),
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


def _request_id(order: Order | None, exec_type: ExecType) -> str:
    """The ClOrdID a venue puts on a report: the pending request's for its answers, else the order's."""
    if order is None:
        return "R-unknown"
    answers = (ExecType.CANCEL_REJECTED, ExecType.REPLACED, ExecType.CANCELED)
    if order.pending is not None and exec_type in answers:
        return order.pending.request_id
    return order.request_id or "R-unknown"


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


class EngineHarness:
    """The engine step over in-memory state, as `processors.engine` runs it over RocksDB."""

    def __init__(self, controls: Controls = Controls(), external: ExternalOrders = ExternalOrders.REJECT) -> None:
        self.external = external
        self.orders: dict = {}
        self.accounts: dict = {}
        self.journal: list = []
        self.requests: list = []
        self.fills: list = []
        self.now = T0
        self.risk = RiskView(controls)

    def __call__(self, event):
        self.now += 1_000
        outcome = step(self.orders.get, event, StaticRouter(venues=frozenset({"SIM", VENUE})), self.now, self.risk,
                       self.accounts.get, self.external)
        self.orders.update(outcome.orders)
        self.accounts.update(outcome.accounts)
        self.journal += outcome.journal
        self.requests += outcome.requests
        self.fills += outcome.fills
        return outcome


# ------------------------------------------------------ venue gateway traffic


GATEWAY_T0 = 1_700_000_000_000_000_000
"""The time the venue gateway tests start at."""


def numbered_request(n: int, venue: str = "SIM-A", **overrides) -> VenueRequest:
    """The n-th NEW of the gateway tests: a limit buy of 150 XYZ at 101 in ACC1."""
    fields = {
        "event_id": f"vr-{n}", "ts_event": GATEWAY_T0, "ts_init": GATEWAY_T0, "action": VenueAction.NEW,
        "venue": venue, "account": "ACC1", "order_id": f"ORD-{n}", "request_id": f"req-{n}", "instrument": "XYZ",
        "side": Side.BUY, "order_type": OrderType.LIMIT, "quantity": D("150"), "limit_price": D("101"),
        "time_in_force": TimeInForce.DAY,
    }
    fields.update(overrides)
    return VenueRequest(**fields)


def xyz_quote(**overrides) -> Quote:
    """A top of book for XYZ: 100 at 100.40 / 100 at 100.50."""
    fields = {
        "event_id": "q-1", "ts_event": GATEWAY_T0, "ts_init": GATEWAY_T0, "instrument": "XYZ",
        "bid_price": D("100.40"), "bid_size": D("100"), "ask_price": D("100.50"), "ask_size": D("100"),
    }
    fields.update(overrides)
    return Quote(**fields)


# ----------------------------------------------------------- schema versions


def schema_version(name: str, *, drop: tuple[str, ...] = (), add: tuple[dict, ...] = ()) -> SchemaEntry:
    """Another version of the current schema `name`: fields dropped, fields appended.

    E.g. an older NewOrder, before `venue`: `schema_version("oms.NewOrder", drop=("venue",))`.
    Do not drop the first field using an enum that later fields refer to by name.
    """
    schema = copy.deepcopy(load_catalogue()[name].schema)
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in drop] + list(add)
    return SchemaEntry.from_schema(schema)


# ------------------------------------------------------------ venue status


def venue_status(**overrides: Any) -> "VenueStatus":
    """XNAS's gateway status: connected, breaker CLOSED, nothing queued."""
    from oms.events import BreakerState, ConnectionState, VenueStatus

    return VenueStatus(**{
        **envelope("vs-XNAS-1"), "venue": VENUE, "gateway": "venue-gateway", "connection": ConnectionState.CONNECTED,
        "breaker": BreakerState.CLOSED, "breaker_since": T0, "tokens": "orders=1000", **overrides,
    })


def venue_control(**overrides: Any) -> "VenueControl":
    """An operator forcing XNAS's breaker OPEN."""
    from oms.events import BreakerMode, VenueControl

    return VenueControl(**{
        **envelope("vc-XNAS-1"), "venue": VENUE, "mode": BreakerMode.OPEN, "changed_by": "ops",
        "reason": "venue outage announced", **overrides,
    })


def venue_reconcile_request(**overrides: Any) -> "VenueReconcileRequest":
    """An operator asking XNAS's gateway to reconcile now."""
    from oms.events import VenueReconcileRequest

    return VenueReconcileRequest(**{
        **envelope("vr-XNAS-1"), "venue": VENUE, "requested_by": "ops", "reason": "after the venue's restart",
        **overrides,
    })


def venue_alert(**overrides: Any) -> "VenueAlert":
    """A NEW of the sample order that XNAS never answered."""
    from oms.events import VenueAction, VenueAlert

    return VenueAlert(**{
        **envelope("va-XNAS-1"), "venue": VENUE, "account": ACCOUNT, "order_id": ORDER_ID, "request_id": "req-0001",
        "action": VenueAction.NEW, "reason_code": "NO_ANSWER", "reason": "no answer to the request or to a status query",
        "sent_at": T0, **overrides,
    })


def venue_status_samples() -> list[Event]:
    """The venue status events, every optional field both set and unset."""
    from oms.events import BreakerMode, BreakerState, ConnectionState

    return [
        venue_status(),
        venue_status(connection=ConnectionState.DISCONNECTED, breaker=BreakerState.OPEN, breaker_reason="3 failures",
                     forced=BreakerMode.OPEN, forced_by="ops", failures=3, in_flight=2, queued_cancel=1,
                     queued_new=4, throttled_until=T0 + 10**9, unanswered=1),
        venue_control(),
        venue_control(mode=BreakerMode.AUTO, reason=None),
        venue_alert(),
        venue_reconcile_request(),
        venue_reconcile_request(reason=None),
    ]

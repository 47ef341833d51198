"""Sample events for tests: one builder per event type, plus `sample_events()`.

Each builder returns a valid instance with realistic values for one order's
life (account ACC-001 buying 100 AAPL at 187.25 on XNAS) and takes keyword
overrides: `new_order(side=Side.SELL, quantity=Decimal("5"))`. `sample_events()`
covers every type in `EVENT_TYPES`, with each optional field both set and unset.
Keep one builder per type, in the order of `EVENT_TYPES`. `schema_version()`
makes other versions of a record schema, for schema evolution tests.
"""

from __future__ import annotations

import copy
from decimal import Decimal as D

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
    NewOrder,
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
    OrderRouted,
    OrderStatus,
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


def new_order(**overrides) -> NewOrder:
    return NewOrder(
        **{
            **envelope("cmd-0001"),
            "account": ACCOUNT,
            "trader": TRADER,
            "client_order_id": CLIENT_ORDER_ID,
            "instrument": INSTRUMENT,
            "side": Side.BUY,
            "order_type": OrderType.LIMIT,
            "quantity": D("100"),
            "limit_price": D("187.25"),
            "time_in_force": TimeInForce.DAY,
            "venue": VENUE,
            **overrides,
        }
    )


def amend_order(**overrides) -> AmendOrder:
    return AmendOrder(
        **{
            **envelope("cmd-0002", 5_000),
            "account": ACCOUNT,
            "trader": TRADER,
            "client_order_id": "cl-0002",
            "orig_client_order_id": CLIENT_ORDER_ID,
            "quantity": D("150"),
            "limit_price": D("187.10"),
            **overrides,
        }
    )


def cancel_order(**overrides) -> CancelOrder:
    return CancelOrder(
        **{
            **envelope("cmd-0003", 9_000),
            "account": ACCOUNT,
            "trader": TRADER,
            "client_order_id": "cl-0003",
            "orig_client_order_id": CLIENT_ORDER_ID,
            **overrides,
        }
    )


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


def sample_events() -> list[Event]:
    """Every event type at least once; every optional field both set and unset."""
    return [
        new_order(),
        new_order(
            side=Side.SELL,
            order_type=OrderType.MARKET,
            limit_price=None,
            time_in_force=TimeInForce.IOC,
            venue=None,
        ),
        amend_order(),
        amend_order(limit_price=None),
        amend_order(quantity=None),
        cancel_order(),
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
        order_filled(),
        order_pending_cancel(),
        order_canceled(),
        order_canceled(exec_id=None, unsolicited=True, reason="venue canceled: self-trade prevention"),
        order_pending_replace(),
        order_pending_replace(limit_price=None),
        order_replaced(),
        order_replaced(limit_price=None),
        order_cancel_rejected(),
        order_cancel_rejected(response_to=CancelRejectResponseTo.REPLACE, reason_code="RISK_LIMIT", exec_id=None),
        order_expired(),
        order_done_for_day(),
        order_expired(exec_id=None, reason=None),
        order_done_for_day(exec_id=None, reason=None),
        order_fill_busted(),
        order_fill_corrected(),
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
        trade(),
        trade(venue=None, aggressor=None, trade_id=None),
        risk_control(),
        risk_control(kind=ControlKind.KILL_SWITCH, name="kill_switch", value="off", reason=None),
        dead_letter(),
        dead_letter(key=None, value=None),
    ]


# ----------------------------------------------------------- schema versions


def schema_version(name: str, *, drop: tuple[str, ...] = (), add: tuple[dict, ...] = ()) -> SchemaEntry:
    """Another version of the current schema `name`: fields dropped, fields appended.

    E.g. an older NewOrder, before `venue`: `schema_version("oms.NewOrder", drop=("venue",))`.
    Do not drop the first field using an enum that later fields refer to by name.
    """
    schema = copy.deepcopy(load_catalogue()[name].schema)
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in drop] + list(add)
    return SchemaEntry.from_schema(schema)

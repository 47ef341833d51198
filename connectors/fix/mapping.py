"""The FIX 4.4 <-> OMS mapping, pure: no session, no I/O, no clock.

This module owns how a `VenueRequest` becomes the tags of a NewOrderSingle,
OrderCancelReplaceRequest, OrderCancelRequest or OrderStatusRequest (and an
OrderMassStatusRequest its tags), and how an incoming ExecutionReport or
OrderCancelReject (as a tag -> value dict, `parse_fields`) becomes an
`oms.events.ExecutionReport`. The OMS order a report concerns is found through
`OrderRef`s (what the adapter recorded for each ClOrdID it sent); a
BusinessMessageReject of a request is that request's REJECTED or
CANCEL_REJECTED report; a report for
a ClOrdID never sent names `order_id = request_id = ClOrdID` and the FIX
account. An OrderCancelReject becomes a CANCEL_REJECTED report whose exec id
is derived from its ClOrdID (a reject answers exactly one request, so a
resent reject gets the same id). Pending acknowledgements (ExecType 6, A, E)
carry nothing the OMS does not already know and map to None. Values the OMS
cannot represent raise `FixMappingError` naming the tag.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Callable, Mapping

from oms.events import (
    CancelRejectReason,
    ExecType,
    ExecutionReport,
    OrderRejectReason,
    OrderStatus,
    OrderType,
    RestatementReason,
    Side,
    TimeInForce,
    VenueAction,
    VenueRequest,
)

from connectors.fix.config import FixVenueConfig

__all__ = [
    "FixMappingError",
    "OrderRef",
    "Tags",
    "mass_status_request",
    "parse_fields",
    "parse_utc_timestamp",
    "request_message",
    "to_report",
    "transact_time",
]

SOH = "\x01"


class Tags:
    """The FIX 4.4 tag numbers this mapping reads and writes."""

    ACCOUNT = 1
    AVG_PX = 6
    CL_ORD_ID = 11
    CUM_QTY = 14
    EXEC_ID = 17
    EXEC_REF_ID = 19
    HANDL_INST = 21
    LAST_PX = 31
    LAST_QTY = 32
    MSG_SEQ_NUM = 34
    MSG_TYPE = 35
    ORDER_ID = 37
    ORDER_QTY = 38
    ORD_STATUS = 39
    ORD_TYPE = 40
    ORIG_CL_ORD_ID = 41
    POSS_DUP = 43
    PRICE = 44
    SIDE = 54
    SYMBOL = 55
    TEXT = 58
    TIME_IN_FORCE = 59
    TRANSACT_TIME = 60
    ORIG_SENDING_TIME = 122
    POSS_RESEND = 97
    CXL_REJ_REASON = 102
    ORD_REJ_REASON = 103
    EXEC_TYPE = 150
    LEAVES_QTY = 151
    EXEC_RESTATEMENT_REASON = 378
    BUSINESS_REJECT_REF_ID = 379
    BUSINESS_REJECT_REASON = 380
    CXL_REJ_RESPONSE_TO = 434
    MASS_STATUS_REQ_ID = 584
    MASS_STATUS_REQ_TYPE = 585
    ORD_STATUS_REQ_ID = 790
    TOT_NUM_REPORTS = 911
    LAST_RPT_REQUESTED = 912


class FixMappingError(ValueError):
    """A FIX message the OMS cannot represent; the message names the tag and the value."""


@dataclass(frozen=True)
class OrderRef:
    """What the adapter sent under one ClOrdID (or OrdStatusReqID): the OMS order it belongs to."""

    cl_ord_id: str
    action: VenueAction
    account: str
    order_id: str
    request_id: str
    instrument: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    limit_price: Decimal | None

    @classmethod
    def of(cls, request: VenueRequest, cl_ord_id: str | None = None) -> "OrderRef":
        return cls(
            cl_ord_id=cl_ord_id or request.request_id, action=request.action, account=request.account,
            order_id=request.order_id, request_id=request.request_id, instrument=request.instrument,
            side=request.side, order_type=request.order_type, time_in_force=request.time_in_force,
            quantity=request.quantity, limit_price=request.limit_price,
        )


# ------------------------------------------------------------------ code tables

SIDES = {Side.BUY: "1", Side.SELL: "2"}
ORD_TYPES = {OrderType.MARKET: "1", OrderType.LIMIT: "2"}
TIME_IN_FORCE = {TimeInForce.DAY: "0", TimeInForce.GTC: "1", TimeInForce.IOC: "3", TimeInForce.FOK: "4"}

EXEC_TYPES = {
    "0": ExecType.NEW, "3": ExecType.DONE_FOR_DAY, "4": ExecType.CANCELED, "5": ExecType.REPLACED,
    "8": ExecType.REJECTED, "9": ExecType.SUSPENDED, "C": ExecType.EXPIRED, "D": ExecType.RESTATED,
    "G": ExecType.TRADE_CORRECT, "H": ExecType.TRADE_BUST, "I": ExecType.ORDER_STATUS,
    "1": ExecType.PARTIAL_FILL, "2": ExecType.FILL,  # FIX 4.2 codes some venues still send
}
"""ExecType (150) -> OMS; "F" (Trade) is PARTIAL_FILL or FILL by OrdStatus."""
PENDING_EXEC_TYPES = frozenset({"6", "A", "E"})
"""Pending cancel / new / replace: acknowledgements the OMS's own pending state already holds."""

ORD_STATUSES = {
    "0": OrderStatus.NEW, "1": OrderStatus.PARTIALLY_FILLED, "2": OrderStatus.FILLED,
    "3": OrderStatus.DONE_FOR_DAY, "4": OrderStatus.CANCELED, "5": OrderStatus.REPLACED,
    "6": OrderStatus.PENDING_CANCEL, "8": OrderStatus.REJECTED, "9": OrderStatus.SUSPENDED,
    "A": OrderStatus.PENDING_NEW, "C": OrderStatus.EXPIRED, "E": OrderStatus.PENDING_REPLACE,
}

ORD_REJ_REASONS = {
    "0": OrderRejectReason.BROKER_OPTION, "1": OrderRejectReason.UNKNOWN_SYMBOL,
    "2": OrderRejectReason.EXCHANGE_CLOSED, "3": OrderRejectReason.ORDER_EXCEEDS_LIMIT,
    "4": OrderRejectReason.TOO_LATE_TO_ENTER, "5": OrderRejectReason.UNKNOWN_ORDER,
    "6": OrderRejectReason.DUPLICATE_ORDER, "8": OrderRejectReason.STALE_ORDER,
    "13": OrderRejectReason.INCORRECT_QUANTITY, "18": OrderRejectReason.INVALID_PRICE_INCREMENT,
}
CXL_REJ_REASONS = {
    "0": CancelRejectReason.TOO_LATE_TO_CANCEL, "1": CancelRejectReason.UNKNOWN_ORDER,
    "2": CancelRejectReason.BROKER_OPTION, "3": CancelRejectReason.ALREADY_PENDING,
    "6": CancelRejectReason.DUPLICATE_CLORDID,
}
RESTATEMENT_REASONS = {
    "0": RestatementReason.GT_CORPORATE_ACTION, "1": RestatementReason.GT_RENEWAL,
    "2": RestatementReason.VERBAL_CHANGE, "3": RestatementReason.REPRICING,
    "4": RestatementReason.BROKER_OPTION, "5": RestatementReason.PARTIAL_DECLINE,
    "6": RestatementReason.CANCEL_ON_TRADING_HALT, "8": RestatementReason.MARKET_OPTION,
}

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@\-]{0,63}$")


# ------------------------------------------------------------------ outgoing


def transact_time(now: int) -> str:
    """UTC nanoseconds as a FIX UTCTimestamp with milliseconds (YYYYMMDD-HH:MM:SS.sss)."""
    moment = datetime.fromtimestamp(now // 1_000_000_000, tz=timezone.utc)
    return f"{moment:%Y%m%d-%H:%M:%S}.{(now // 1_000_000) % 1000:03d}"


def parse_utc_timestamp(text: str) -> int:
    """A FIX UTCTimestamp (YYYYMMDD-HH:MM:SS[.fraction]) as UTC nanoseconds."""
    whole, _, fraction = text.partition(".")
    try:
        moment = datetime.strptime(whole, "%Y%m%d-%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        raise FixMappingError(f"UTCTimestamp: {text!r} is not YYYYMMDD-HH:MM:SS[.sss]") from None
    if fraction and not fraction.isdigit():
        raise FixMappingError(f"UTCTimestamp: {text!r} has a bad fraction of a second")
    return int(moment.timestamp()) * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


def request_message(request: VenueRequest, config: FixVenueConfig, now: int) -> tuple[str, list[tuple[int, str]]]:
    """(MsgType, body tags in order) of the FIX message that carries `request`."""
    symbol = config.venue_symbol(request.instrument)
    account = (config.account_tag, config.venue_account(request.account))
    side = (Tags.SIDE, SIDES[request.side])
    when = (Tags.TRANSACT_TIME, transact_time(now))
    qty = (Tags.ORDER_QTY, _decimal(request.quantity))
    order_terms = [(Tags.ORD_TYPE, ORD_TYPES[request.order_type])]
    if request.order_type is OrderType.LIMIT:
        if request.limit_price is None:
            raise FixMappingError("limit_price: a limit order needs a limit price")
        order_terms.append((Tags.PRICE, _decimal(request.limit_price)))
    order_terms.append((Tags.TIME_IN_FORCE, TIME_IN_FORCE[request.time_in_force]))
    handl = [(Tags.HANDL_INST, config.handl_inst)] if config.handl_inst else []

    if request.action is VenueAction.NEW:
        msg_type = "D"
        fields = [(Tags.CL_ORD_ID, request.request_id), account, *handl, (Tags.SYMBOL, symbol), side, when, qty,
                  *order_terms]
    elif request.action is VenueAction.REPLACE:
        msg_type = "G"
        fields = [(Tags.ORIG_CL_ORD_ID, _orig(request)), (Tags.CL_ORD_ID, request.request_id), account, *handl,
                  (Tags.SYMBOL, symbol), side, when, qty, *order_terms]
    elif request.action is VenueAction.CANCEL:
        msg_type = "F"
        fields = [(Tags.ORIG_CL_ORD_ID, _orig(request)), (Tags.CL_ORD_ID, request.request_id), account,
                  (Tags.SYMBOL, symbol), side, when, qty]
    elif request.action is VenueAction.STATUS:
        msg_type = "H"
        fields = [(Tags.CL_ORD_ID, request.orig_request_id or request.request_id),
                  (Tags.ORD_STATUS_REQ_ID, request.request_id), account, (Tags.SYMBOL, symbol), side]
    else:
        raise FixMappingError(f"action: no FIX message for venue action {request.action!r}")
    return msg_type, fields + sorted(config.extra_tags.get(msg_type, {}).items())


def mass_status_request(mass_status_id: str, config: FixVenueConfig) -> tuple[str, list[tuple[int, str]]]:
    """(MsgType, tags) of an OrderMassStatusRequest for every working order (MassStatusReqType 7)."""
    fields = [(Tags.MASS_STATUS_REQ_ID, mass_status_id), (Tags.MASS_STATUS_REQ_TYPE, "7")]
    return "AF", fields + sorted(config.extra_tags.get("AF", {}).items())


def _orig(request: VenueRequest) -> str:
    if not request.orig_request_id:
        raise FixMappingError(f"orig_request_id: a {request.action.value} must name the order's ClOrdID")
    return request.orig_request_id


def _decimal(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


# ------------------------------------------------------------------ incoming


def parse_fields(raw: str) -> dict[int, str]:
    """A FIX message's tags (header, body, trailer) -> value; the first occurrence of a tag wins."""
    fields: dict[int, str] = {}
    for part in raw.split(SOH):
        tag, sep, value = part.partition("=")
        if sep and tag.isdigit():
            fields.setdefault(int(tag), value)
    return fields


def to_report(
    fields: Mapping[int, str], venue: str, config: FixVenueConfig,
    refs: Callable[[str], OrderRef | None], now: int,
) -> ExecutionReport | None:
    """The OMS report an ExecutionReport (35=8) or OrderCancelReject (35=9) carries; None for a
    pending acknowledgement or a mass status answer that names no order (TotNumReports 0)."""
    msg_type = fields.get(Tags.MSG_TYPE)
    if msg_type == "8":
        return _execution_report(fields, venue, config, refs, now)
    if msg_type == "9":
        return _cancel_reject(fields, venue, config, refs, now)
    if msg_type == "j":
        return _business_reject(fields, venue, config, refs, now)
    raise FixMappingError(f"35 (MsgType): {msg_type!r} is not an ExecutionReport, OrderCancelReject or "
                          "BusinessMessageReject")


def _execution_report(fields, venue, config, refs, now) -> ExecutionReport | None:
    raw_type = _required(fields, Tags.EXEC_TYPE)
    if raw_type in PENDING_EXEC_TYPES:
        return None
    if fields.get(Tags.TOT_NUM_REPORTS) == "0":
        return None
    status = _code(fields, Tags.ORD_STATUS, ORD_STATUSES)
    if raw_type == "F":
        exec_type = ExecType.FILL if status is OrderStatus.FILLED else ExecType.PARTIAL_FILL
    else:
        exec_type = _code(fields, Tags.EXEC_TYPE, EXEC_TYPES)
    cl_ord_id = fields.get(Tags.CL_ORD_ID)
    ref = _ref(refs, cl_ord_id, fields.get(Tags.ORIG_CL_ORD_ID))
    request_id = cl_ord_id
    if exec_type is ExecType.ORDER_STATUS and (status_req := fields.get(Tags.ORD_STATUS_REQ_ID)):
        status_ref = refs(status_req)
        if status_ref is not None:
            ref, request_id = status_ref, status_req
    exec_id = _identifier(_required(fields, Tags.EXEC_ID))
    identity = _identity(fields, config, ref, request_id)
    order_qty = _qty(fields, Tags.ORDER_QTY, ref.quantity if ref else Decimal(0))
    limit = fields.get(Tags.PRICE)
    limit_price = _dec(Tags.PRICE, limit) if limit else (ref.limit_price if ref else None)
    if limit_price is not None and limit_price <= 0:
        limit_price = None
    optional = {}
    if exec_type is ExecType.REJECTED or status is OrderStatus.REJECTED:
        reason = fields.get(Tags.ORD_REJ_REASON)
        if reason is not None:
            optional["ord_rej_reason"] = ORD_REJ_REASONS.get(reason, OrderRejectReason.OTHER)
    if exec_type is ExecType.RESTATED:
        optional["restatement_reason"] = RESTATEMENT_REASONS.get(
            fields.get(Tags.EXEC_RESTATEMENT_REASON, ""), RestatementReason.OTHER)
    if exec_type in (ExecType.TRADE_BUST, ExecType.TRADE_CORRECT) and Tags.EXEC_REF_ID in fields:
        optional["ref_exec_id"] = _identifier(fields[Tags.EXEC_REF_ID])
    return _report(
        venue, exec_id, now, fields.get(Tags.ORDER_ID),
        exec_type=exec_type,
        order_status=status,
        **identity,
        order_qty=order_qty,
        last_qty=_qty(fields, Tags.LAST_QTY, Decimal(0)),
        last_px=_dec(Tags.LAST_PX, fields[Tags.LAST_PX]) if Tags.LAST_PX in fields else Decimal(0),
        cum_qty=_qty(fields, Tags.CUM_QTY, Decimal(0)),
        leaves_qty=_qty(fields, Tags.LEAVES_QTY, Decimal(0)),
        avg_px=_dec(Tags.AVG_PX, fields[Tags.AVG_PX]) if Tags.AVG_PX in fields else Decimal(0),
        limit_price=limit_price,
        reason=fields.get(Tags.TEXT),
        **optional,
    )


def _report(venue: str, exec_id: str, now: int, venue_order_id: str | None, **fields) -> ExecutionReport:
    """The ExecutionReport of one FIX message: its envelope (event id from the venue and exec id, both
    timestamps `now`), the venue's OrderID (37) unless absent or "NONE", and `fields`."""
    return ExecutionReport(
        event_id=_event_id(venue, exec_id), ts_event=now, ts_init=now, venue=venue, exec_id=exec_id,
        venue_order_id=_identifier(venue_order_id) if venue_order_id and venue_order_id != "NONE" else None,
        **fields,
    )


def _cancel_reject(fields, venue, config, refs, now) -> ExecutionReport:
    cl_ord_id = _required(fields, Tags.CL_ORD_ID)
    ref = _ref(refs, cl_ord_id, fields.get(Tags.ORIG_CL_ORD_ID))
    exec_id = _identifier(f"CXLREJ-{cl_ord_id}")
    reason = fields.get(Tags.CXL_REJ_REASON)
    return _report(
        venue, exec_id, now, fields.get(Tags.ORDER_ID),
        exec_type=ExecType.CANCEL_REJECTED,
        order_status=_code(fields, Tags.ORD_STATUS, ORD_STATUSES),
        **_identity(fields, config, ref, cl_ord_id),
        order_qty=ref.quantity if ref else Decimal(0),
        limit_price=ref.limit_price if ref else None,
        reason=fields.get(Tags.TEXT),
        cxl_rej_reason=CXL_REJ_REASONS.get(reason, CancelRejectReason.OTHER) if reason is not None else None,
    )


def _business_reject(fields, venue, config, refs, now) -> ExecutionReport | None:
    """A BusinessMessageReject of one of our requests (BusinessRejectRefID = its ClOrdID): the NEW is
    REJECTED, the REPLACE or CANCEL is CANCEL_REJECTED; None for anything else (a status or mass
    status request, or a reference the adapter never sent: nothing in the OMS waits on it)."""
    ref_id = fields.get(Tags.BUSINESS_REJECT_REF_ID)
    ref = refs(ref_id) if ref_id else None
    if ref is None or ref.action is VenueAction.STATUS:
        return None
    exec_id = _identifier(f"BMR-{ref_id}")
    text = fields.get(Tags.TEXT) or f"business message reject (380={fields.get(Tags.BUSINESS_REJECT_REASON)})"
    if ref.action is VenueAction.NEW:
        exec_type, status, extra = ExecType.REJECTED, OrderStatus.REJECTED, {"ord_rej_reason": OrderRejectReason.OTHER}
    else:
        exec_type, status, extra = ExecType.CANCEL_REJECTED, OrderStatus.REJECTED, {
            "cxl_rej_reason": CancelRejectReason.OTHER}
    return _report(
        venue, exec_id, now, None, exec_type=exec_type, order_status=status, account=ref.account, order_id=ref.order_id,
        request_id=ref.request_id, instrument=ref.instrument, side=ref.side, order_qty=ref.quantity,
        limit_price=ref.limit_price, reason=text[:1024], **extra,
    )


def _ref(refs, cl_ord_id: str | None, orig_cl_ord_id: str | None) -> OrderRef | None:
    for key in (cl_ord_id, orig_cl_ord_id):
        if key:
            ref = refs(key)
            if ref is not None:
                return ref
    return None


def _identity(fields, config: FixVenueConfig, ref: OrderRef | None, request_id: str | None) -> dict:
    """account, order_id, request_id, instrument, side: from our records, else from the message."""
    symbol = fields.get(Tags.SYMBOL)
    side = fields.get(Tags.SIDE)
    if ref is not None:
        return {
            "account": ref.account, "order_id": ref.order_id,
            "request_id": _identifier(request_id) if request_id else ref.request_id,
            "instrument": config.instrument(symbol) if symbol else ref.instrument,
            "side": _side(side) if side else ref.side,
        }
    if not request_id:
        raise FixMappingError("11 (ClOrdID): missing on a report for an order the OMS never sent")
    account = fields.get(config.account_tag)
    return {
        "account": _identifier(config.oms_account(account)) if account else "UNKNOWN",
        "order_id": _identifier(request_id), "request_id": _identifier(request_id),
        "instrument": _identifier(config.instrument(symbol)) if symbol else "UNKNOWN",
        "side": _side(side) if side else Side.BUY,
    }


def _side(code: str) -> Side:
    for side, fix in SIDES.items():
        if fix == code:
            return side
    raise FixMappingError(f"54 (Side): {code!r} is neither buy (1) nor sell (2)")


def _required(fields: Mapping[int, str], tag: int) -> str:
    value = fields.get(tag)
    if not value:
        raise FixMappingError(f"{tag}: required tag missing")
    return value


def _code(fields: Mapping[int, str], tag: int, table: Mapping):
    value = _required(fields, tag)
    try:
        return table[value]
    except KeyError:
        raise FixMappingError(f"{tag}: value {value!r} has no OMS equivalent") from None


def _dec(tag: int, value: str) -> Decimal:
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise FixMappingError(f"{tag}: {value!r} is not a decimal") from None
    if not result.is_finite():
        raise FixMappingError(f"{tag}: {value!r} is not a finite decimal")
    return result


def _qty(fields: Mapping[int, str], tag: int, default: Decimal) -> Decimal:
    value = fields.get(tag)
    if value is None:
        return default
    result = _dec(tag, value)
    if result < 0:
        raise FixMappingError(f"{tag}: quantity {value!r} is negative")
    return result


def _identifier(value: str) -> str:
    """A venue's id as an OMS Identifier: as it is when it fits, else "X" + a digest of it."""
    if _IDENTIFIER.match(value):
        return value
    return "X" + hashlib.sha256(value.encode()).hexdigest()[:40]


def _event_id(venue: str, exec_id: str) -> str:
    """The report's event id: the venue and its exec id (unique per venue), digested if too long."""
    return _identifier(f"{venue}:{exec_id}")

"""The event catalogue as validated Python values.

Each class here mirrors one Avro schema in `schemas/` (the source of truth for
the wire); `tests/oms/test_schemas.py` proves that fields, types, optionality and
enum symbols agree. Values are frozen pydantic models that validate at the
boundary: a command that fails validation is never published, and an event
that decodes but does not validate is refused with a reason. Events the engine
derives from values already validated are made with `built` (no second
validation; tests run it under `checking_built()`, which validates and compares).

Conventions:
- every event starts with the envelope `event_id`, `ts_event`, `ts_init`
  (deterministic id; event and processing time in UTC nanoseconds);
- prices, quantities and money are `Decimal` (Avro decimal, scale 8), never floats;
- journal events (`order.events`) carry `order_id`, `account` and `seq`,
  the order's contiguous sequence number starting at 1.
"""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Annotated, ClassVar, Optional, TypeVar

from pydantic import (BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError,
                      model_validator)

SCALE = 8
"""Decimal places of every price, quantity and amount on the wire."""
PRECISION = 28
_WIRE_LIMIT = Decimal(10) ** (PRECISION - SCALE)
"""Every wire amount is below this (decimal(28, 8): 20 integer digits)."""

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@\-]*$")
]
"""Accounts, traders, client order ids, instruments, venues: short printable names."""
Scope = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._:/@\-]*)$")
]
"""An account, or `*` for every account."""
Text = Annotated[str, StringConstraints(max_length=1024)]
Price = Annotated[Decimal, Field(max_digits=PRECISION, decimal_places=SCALE, allow_inf_nan=False)]
Amount = Price
Quantity = Annotated[Decimal, Field(ge=0, max_digits=PRECISION, decimal_places=SCALE, allow_inf_nan=False)]
PositiveQuantity = Annotated[Decimal, Field(gt=0, max_digits=PRECISION, decimal_places=SCALE, allow_inf_nan=False)]
PositivePrice = Annotated[Decimal, Field(gt=0, max_digits=PRECISION, decimal_places=SCALE, allow_inf_nan=False)]
Nanos = Annotated[int, Field(ge=0, lt=2**63)]
Seq = Annotated[int, Field(ge=0, lt=2**63)]


# --------------------------------------------------------------------- enums


class Side(str, Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(str, Enum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"


class TimeInForce(str, Enum):
    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(str, Enum):
    """FIX OrdStatus."""

    PENDING_NEW = "PENDING_NEW"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    CANCELED = "CANCELED"
    PENDING_REPLACE = "PENDING_REPLACE"
    REPLACED = "REPLACED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    DONE_FOR_DAY = "DONE_FOR_DAY"
    SUSPENDED = "SUSPENDED"


class ExecType(str, Enum):
    """FIX ExecType of a venue's execution report."""

    NEW = "NEW"
    PARTIAL_FILL = "PARTIAL_FILL"
    FILL = "FILL"
    CANCELED = "CANCELED"
    REPLACED = "REPLACED"
    REJECTED = "REJECTED"
    CANCEL_REJECTED = "CANCEL_REJECTED"
    EXPIRED = "EXPIRED"
    TRADE_BUST = "TRADE_BUST"
    TRADE_CORRECT = "TRADE_CORRECT"
    DONE_FOR_DAY = "DONE_FOR_DAY"
    RESTATED = "RESTATED"  # the venue changed the order unsolicited (see RestatementReason)
    SUSPENDED = "SUSPENDED"  # the venue suspended the order (e.g. a trading halt)
    ORDER_STATUS = "ORDER_STATUS"  # FIX 150=I: the answer to a status request; changes nothing by itself
    UNKNOWN = "UNKNOWN"  # the Avro default: a symbol this reader does not know


class RestatementReason(str, Enum):
    """FIX ExecRestatementReason (378); RESUMED: a suspended order works again."""

    GT_RENEWAL = "GT_RENEWAL"
    GT_CORPORATE_ACTION = "GT_CORPORATE_ACTION"
    VERBAL_CHANGE = "VERBAL_CHANGE"
    REPRICING = "REPRICING"
    BROKER_OPTION = "BROKER_OPTION"
    PARTIAL_DECLINE = "PARTIAL_DECLINE"
    CANCEL_ON_TRADING_HALT = "CANCEL_ON_TRADING_HALT"
    MARKET_OPTION = "MARKET_OPTION"
    RESUMED = "RESUMED"
    OTHER = "OTHER"


class OrderRejectReason(str, Enum):
    """FIX OrdRejReason (103)."""

    BROKER_OPTION = "BROKER_OPTION"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    EXCHANGE_CLOSED = "EXCHANGE_CLOSED"
    ORDER_EXCEEDS_LIMIT = "ORDER_EXCEEDS_LIMIT"
    TOO_LATE_TO_ENTER = "TOO_LATE_TO_ENTER"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    DUPLICATE_ORDER = "DUPLICATE_ORDER"
    STALE_ORDER = "STALE_ORDER"
    INVALID_PRICE_INCREMENT = "INVALID_PRICE_INCREMENT"
    INCORRECT_QUANTITY = "INCORRECT_QUANTITY"
    OTHER = "OTHER"


class CancelRejectReason(str, Enum):
    """FIX CxlRejReason (102)."""

    TOO_LATE_TO_CANCEL = "TOO_LATE_TO_CANCEL"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    BROKER_OPTION = "BROKER_OPTION"
    ALREADY_PENDING = "ALREADY_PENDING"
    DUPLICATE_CLORDID = "DUPLICATE_CLORDID"
    OTHER = "OTHER"


class VenueAction(str, Enum):
    NEW = "NEW"
    REPLACE = "REPLACE"
    CANCEL = "CANCEL"
    STATUS = "STATUS"  # FIX OrderStatusRequest (35=H): the venue answers an ORDER_STATUS report


class CancelRejectResponseTo(str, Enum):
    """FIX CxlRejResponseTo: which request a cancel reject answers."""

    CANCEL = "CANCEL"
    REPLACE = "REPLACE"


class FillKind(str, Enum):
    FILL = "FILL"
    BUST = "BUST"
    CORRECTION = "CORRECTION"


class TradingState(str, Enum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class ControlKind(str, Enum):
    LIMIT = "LIMIT"
    TRADING_STATE = "TRADING_STATE"
    KILL_SWITCH = "KILL_SWITCH"
    ENTITLEMENT = "ENTITLEMENT"
    INSTRUMENT = "INSTRUMENT"


# -------------------------------------------------------------------- base


class Event(BaseModel):
    """The envelope shared by every event."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)
    schema_name: ClassVar[str] = ""

    event_id: Identifier
    ts_event: Nanos
    ts_init: Nanos

    def to_record(self) -> dict:
        """The value as a plain dict for the Avro encoder (enums as symbols)."""
        return {k: (v.value if isinstance(v, Enum) else v) for k, v in self.__dict__.items()}


# ----------------------------------------------------------------- commands


class NewOrder(Event):
    """A request to open an order, published by a trader or algorithm on `commands`."""

    schema_name: ClassVar[str] = "oms.NewOrder"

    account: Identifier
    trader: Identifier
    client_order_id: Identifier
    instrument: Identifier
    side: Side
    order_type: OrderType
    quantity: PositiveQuantity
    limit_price: Optional[PositivePrice] = None
    time_in_force: TimeInForce = TimeInForce.DAY
    venue: Optional[Identifier] = None

    @model_validator(mode="after")
    def _price_matches_type(self) -> "NewOrder":
        if self.order_type is OrderType.MARKET and self.limit_price is not None:
            raise ValueError("limit_price: a market order takes no limit price")
        if self.order_type is OrderType.LIMIT and self.limit_price is None:
            raise ValueError("limit_price: a limit order needs a limit price")
        return self


class AmendOrder(Event):
    """Cancel/replace: a new quantity and/or limit price for a live order."""

    schema_name: ClassVar[str] = "oms.AmendOrder"

    account: Identifier
    trader: Identifier
    client_order_id: Identifier
    orig_client_order_id: Identifier
    quantity: Optional[PositiveQuantity] = None
    limit_price: Optional[PositivePrice] = None

    @model_validator(mode="after")
    def _changes_something(self) -> "AmendOrder":
        if self.quantity is None and self.limit_price is None:
            raise ValueError("quantity: an amend changes the quantity, the limit price or both")
        return self


class CancelOrder(Event):
    """A request to cancel the rest of a live order."""

    schema_name: ClassVar[str] = "oms.CancelOrder"

    account: Identifier
    trader: Identifier
    client_order_id: Identifier
    orig_client_order_id: Identifier


class OrderStatusRequest(Event):
    """Ask the venue for the state of one order (FIX OrderStatusRequest, 35=H). The engine sends a
    `VenueRequest` STATUS; the venue answers an ORDER_STATUS report, which changes nothing unless
    it disagrees with the OMS (a VENUE_MISMATCH anomaly)."""

    schema_name: ClassVar[str] = "oms.OrderStatusRequest"

    account: Identifier
    trader: Identifier
    client_order_id: Identifier
    """The order's client order id (the one its NewOrder gave)."""


class OrderMassStatusRequest(Event):
    """Ask the venues for the state of every order of the account still working or resting
    (FIX OrderMassStatusRequest, 35=AF), or only of those at `venue`: one STATUS request each."""

    schema_name: ClassVar[str] = "oms.OrderMassStatusRequest"

    account: Identifier
    trader: Identifier
    mass_status_id: Identifier
    """FIX MassStatusReqID: names this request (the status requests it fans out into carry it)."""
    venue: Optional[Identifier] = None


class NewTradingDay(Event):
    """The engine's session roll for one account: every GTC order of the account done for the day
    is renewed for `trading_day` (an `OrderRestated` GT_RENEWAL each; once per order and day)."""

    schema_name: ClassVar[str] = "oms.NewTradingDay"

    account: Identifier
    trading_day: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    """The new trading day, ISO `YYYY-MM-DD`."""
    changed_by: Identifier


Command = NewOrder | AmendOrder | CancelOrder | OrderStatusRequest | OrderMassStatusRequest | NewTradingDay


# ------------------------------------------------------------ venue traffic


class VenueRequest(Event):
    """What the order engine asks a venue to do (on `venue.requests`, keyed by venue)."""

    schema_name: ClassVar[str] = "oms.VenueRequest"

    action: VenueAction
    venue: Identifier
    account: Identifier
    order_id: Identifier
    request_id: Identifier
    """Unique per request (the venue's ClOrdID); cancels and replaces name the order's current one."""
    orig_request_id: Optional[Identifier] = None
    instrument: Identifier
    side: Side
    order_type: OrderType
    quantity: PositiveQuantity
    limit_price: Optional[PositivePrice] = None
    time_in_force: TimeInForce


class ExecutionReport(Event):
    """A venue's normalized answer (on `exec.reports`, keyed by account)."""

    schema_name: ClassVar[str] = "oms.ExecutionReport"

    venue: Identifier
    account: Identifier
    order_id: Identifier
    request_id: Identifier
    exec_id: Identifier
    exec_type: ExecType
    order_status: OrderStatus
    instrument: Identifier
    side: Side
    order_qty: Quantity
    last_qty: Quantity = Decimal(0)
    last_px: Price = Decimal(0)
    cum_qty: Quantity = Decimal(0)
    leaves_qty: Quantity = Decimal(0)
    avg_px: Price = Decimal(0)
    limit_price: Optional[PositivePrice] = None
    commission: Amount = Decimal(0)
    venue_order_id: Optional[Identifier] = None
    ref_exec_id: Optional[Identifier] = None
    """For TRADE_BUST and TRADE_CORRECT: the exec id of the fill being busted or corrected."""
    reason: Optional[Text] = None
    ord_rej_reason: Optional[OrderRejectReason] = None
    """For REJECTED: FIX OrdRejReason."""
    cxl_rej_reason: Optional[CancelRejectReason] = None
    """For CANCEL_REJECTED: FIX CxlRejReason."""
    restatement_reason: Optional[RestatementReason] = None
    """For RESTATED: FIX ExecRestatementReason."""
    day_order_qty: Optional[Quantity] = None
    """FIX DayOrderQty (GT orders): the quantity working today."""
    day_cum_qty: Optional[Quantity] = None
    """FIX DayCumQty (GT orders): the quantity filled today."""


# ------------------------------------------------------------------ journal


class JournalEvent(Event):
    """A decision or fact about one order, written by the order engine only."""

    order_id: Identifier
    account: Identifier
    seq: Seq


class OrderAccepted(JournalEvent):
    schema_name: ClassVar[str] = "oms.OrderAccepted"

    trader: Identifier
    client_order_id: Identifier
    instrument: Identifier
    side: Side
    order_type: OrderType
    quantity: PositiveQuantity
    limit_price: Optional[PositivePrice] = None
    time_in_force: TimeInForce
    command_id: Identifier
    external: bool = False
    """Adopted from a venue report for an order the OMS did not create (phoned in, entered at the
    venue, found by reconciliation); `command_id` is then the report's event id."""


class OrderDenied(JournalEvent):
    """A command refused before reaching a venue. `order_id` is the order it
    would have created or the order it named; `seq` is 0 when no order exists."""

    schema_name: ClassVar[str] = "oms.OrderDenied"

    trader: Identifier
    client_order_id: Identifier
    command: Identifier
    reason_code: Identifier
    reason: Text
    command_id: Identifier


class OrderRouted(JournalEvent):
    schema_name: ClassVar[str] = "oms.OrderRouted"

    venue: Identifier
    request_id: Identifier
    quantity: PositiveQuantity
    limit_price: Optional[PositivePrice] = None


class OrderAcknowledged(JournalEvent):
    schema_name: ClassVar[str] = "oms.OrderAcknowledged"

    venue: Identifier
    exec_id: Identifier
    venue_order_id: Optional[Identifier] = None


class OrderRejected(JournalEvent):
    """The venue refused the order."""

    schema_name: ClassVar[str] = "oms.OrderRejected"

    venue: Identifier
    exec_id: Identifier
    reason: Text
    reject_reason: OrderRejectReason = OrderRejectReason.OTHER
    """FIX OrdRejReason; `reason` is the text beside it."""


class OrderFilled(JournalEvent):
    schema_name: ClassVar[str] = "oms.OrderFilled"

    fill_id: Identifier
    exec_id: Identifier
    venue: Identifier
    trader: Identifier
    client_order_id: Identifier
    instrument: Identifier
    side: Side
    last_qty: PositiveQuantity
    last_px: PositivePrice
    cum_qty: Quantity
    leaves_qty: Quantity
    avg_px: Price
    commission: Amount = Decimal(0)
    late: bool = False
    """A fill booked on an order no longer working (canceled, expired, done for the day,
    rejected): the execution crossed the order's end at the venue. FIX books it (CumQty
    grows, OrdStatus stays); the flag marks it in the journal."""


class OrderPendingCancel(JournalEvent):
    schema_name: ClassVar[str] = "oms.OrderPendingCancel"

    client_order_id: Identifier
    request_id: Identifier
    command_id: Identifier


class OrderCanceled(JournalEvent):
    schema_name: ClassVar[str] = "oms.OrderCanceled"

    exec_id: Optional[Identifier] = None
    unsolicited: bool = False
    reason: Optional[Text] = None


class OrderPendingReplace(JournalEvent):
    schema_name: ClassVar[str] = "oms.OrderPendingReplace"

    client_order_id: Identifier
    request_id: Identifier
    quantity: PositiveQuantity
    limit_price: Optional[PositivePrice] = None
    command_id: Identifier


class OrderReplaced(JournalEvent):
    schema_name: ClassVar[str] = "oms.OrderReplaced"

    client_order_id: Identifier
    request_id: Identifier
    exec_id: Identifier
    quantity: PositiveQuantity
    limit_price: Optional[PositivePrice] = None
    leaves_qty: Quantity


class OrderCancelRejected(JournalEvent):
    """A cancel or replace refused by the engine (risk, state) or by the venue.

    With `seq` 0 the record is kept in the journal but never applied to the order."""

    schema_name: ClassVar[str] = "oms.OrderCancelRejected"

    client_order_id: Identifier
    response_to: CancelRejectResponseTo
    reason_code: Identifier
    reason: Text
    exec_id: Optional[Identifier] = None
    cancel_reject_reason: CancelRejectReason = CancelRejectReason.OTHER
    """FIX CxlRejReason; `reason_code` / `reason` keep the engine's code and the text."""
    request_id: Optional[Identifier] = None
    """The venue request the reject answers (its ClOrdID), settling that request of a chain;
    None on the engine's own refusals (and on rejects journaled before chains)."""


class OrderExpired(JournalEvent):
    schema_name: ClassVar[str] = "oms.OrderExpired"

    exec_id: Optional[Identifier] = None
    reason: Optional[Text] = None


class OrderDoneForDay(JournalEvent):
    """The venue stopped working the order for today; it may still be canceled or expire."""

    schema_name: ClassVar[str] = "oms.OrderDoneForDay"

    exec_id: Optional[Identifier] = None
    reason: Optional[Text] = None


class OrderRestated(JournalEvent):
    """The venue changed the order unsolicited (FIX ExecType Restated): a GT renewal on a new
    trading day (back to working from DONE_FOR_DAY), a corporate action, a venue-side reduction,
    a repricing, or the end of a suspension (RESUMED). `quantity` is max(the venue's, cum_qty)."""

    schema_name: ClassVar[str] = "oms.OrderRestated"

    exec_id: Identifier
    restatement_reason: RestatementReason = RestatementReason.OTHER
    quantity: PositiveQuantity
    limit_price: Optional[PositivePrice] = None
    cum_qty: Quantity
    leaves_qty: Quantity
    day_order_qty: Optional[Quantity] = None
    day_cum_qty: Optional[Quantity] = None
    reason: Optional[Text] = None


class OrderSuspended(JournalEvent):
    """The venue suspended the order (FIX Suspended, e.g. a trading halt): it keeps its leaves
    and does not work until the venue restates it (RESUMED), cancels or expires it."""

    schema_name: ClassVar[str] = "oms.OrderSuspended"

    exec_id: Identifier
    reason: Optional[Text] = None


class OrderFillBusted(JournalEvent):
    schema_name: ClassVar[str] = "oms.OrderFillBusted"

    fill_id: Identifier
    exec_id: Identifier
    ref_fill_id: Identifier
    instrument: Identifier
    cum_qty: Quantity
    leaves_qty: Quantity
    avg_px: Price


class OrderFillCorrected(JournalEvent):
    schema_name: ClassVar[str] = "oms.OrderFillCorrected"

    fill_id: Identifier
    exec_id: Identifier
    ref_fill_id: Identifier
    instrument: Identifier
    last_qty: PositiveQuantity
    last_px: PositivePrice
    cum_qty: Quantity
    leaves_qty: Quantity
    avg_px: Price


class OrderAnomaly(JournalEvent):
    """An input that cannot apply (unknown order, impossible transition): kept with `seq` 0, never applied."""

    schema_name: ClassVar[str] = "oms.OrderAnomaly"

    source: Identifier
    reason_code: Identifier
    reason: Text
    exec_id: Optional[Identifier] = None


# --------------------------------------------------------- downstream views


class Fill(Event):
    """The downstream contract on `fills`: one event per execution, never duplicated.

    A bust or a correction is a new event of kind BUST or CORRECTION that names
    the fill it changes in `ref_fill_id`; a bust has the busted quantity negated.
    """

    schema_name: ClassVar[str] = "oms.Fill"

    fill_id: Identifier
    kind: FillKind
    ref_fill_id: Optional[Identifier] = None
    order_id: Identifier
    account: Identifier
    trader: Identifier
    client_order_id: Identifier
    instrument: Identifier
    side: Side
    venue: Identifier
    exec_id: Identifier
    quantity: Price
    price: Price
    commission: Amount = Decimal(0)
    late: bool = False
    """The fill was booked after the order stopped working (see `OrderFilled.late`)."""


class OrderView(Event):
    """Latest state of one order (compacted `orders` topic, keyed by order id)."""

    schema_name: ClassVar[str] = "oms.OrderView"

    order_id: Identifier
    account: Identifier
    trader: Identifier
    client_order_id: Identifier
    instrument: Identifier
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    status: OrderStatus
    quantity: Quantity
    limit_price: Optional[PositivePrice] = None
    cum_qty: Quantity
    leaves_qty: Quantity
    avg_px: Price
    venue: Optional[Identifier] = None
    seq: Seq
    reason: Optional[Text] = None


class Position(Event):
    """Net position of one account in one instrument (compacted `positions`)."""

    schema_name: ClassVar[str] = "oms.Position"

    account: Identifier
    instrument: Identifier
    quantity: Price
    """Signed: positive long, negative short."""
    avg_price: Price
    realized_pnl: Amount
    unrealized_pnl: Amount
    mark_price: Optional[Price] = None
    gross_exposure: Amount
    net_exposure: Amount
    fills: Seq
    last_fill_id: Optional[Identifier] = None


# --------------------------------------------------------------- market data


MAX_QUOTE_LEVELS = 50
"""The most levels a quote may show on one side."""

LevelPrice = Annotated[Decimal, Field(gt=0, lt=_WIRE_LIMIT, max_digits=PRECISION, decimal_places=SCALE,
                                      allow_inf_nan=False)]
LevelSize = LevelPrice
"""A level's price or size: positive and within the wire's decimal(28, 8) as it is (levels are nested
records, written without the codec's quantizing of top-level fields)."""


class BookLevel(BaseModel):
    """One price level of a quote's side (Avro `oms.BookLevel`, nested in `oms.Quote`): `size` shown at `price`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    price: LevelPrice
    size: LevelSize


class Quote(Event):
    """A venue's top of book and, when the source shows it, its depth: `bid_levels` highest first and
    `ask_levels` lowest first, the first level of each equal to the top (`bid_price`/`bid_size`,
    `ask_price`/`ask_size`), prices strictly ordered, sizes positive, at most `MAX_QUOTE_LEVELS` a
    side. Empty levels (the default, and what records written before depth read as) mean top of
    book only."""

    schema_name: ClassVar[str] = "oms.Quote"

    instrument: Identifier
    venue: Optional[Identifier] = None
    bid_price: PositivePrice
    bid_size: Quantity
    ask_price: PositivePrice
    ask_size: Quantity
    bid_levels: tuple[BookLevel, ...] = Field(default=(), max_length=MAX_QUOTE_LEVELS)
    ask_levels: tuple[BookLevel, ...] = Field(default=(), max_length=MAX_QUOTE_LEVELS)

    @model_validator(mode="after")
    def _not_crossed(self) -> "Quote":
        if self.bid_price > self.ask_price:
            raise ValueError("bid_price: a quote's bid is above its ask")
        _check_levels("bid_levels", self.bid_levels, self.bid_price, self.bid_size, descending=True)
        _check_levels("ask_levels", self.ask_levels, self.ask_price, self.ask_size, descending=False)
        return self

    def to_record(self) -> dict:
        record = super().to_record()
        for name in ("bid_levels", "ask_levels"):
            record[name] = [{"price": level.price, "size": level.size} for level in record[name]]
        return record


def _check_levels(name: str, levels: tuple[BookLevel, ...], top_price: Decimal, top_size: Decimal,
                  descending: bool) -> None:
    """The first level is the top of book; each later one is strictly worse (lower bids, higher asks).
    Messages count levels from 1, as market data files do."""
    if not levels:
        return
    if levels[0].price != top_price or levels[0].size != top_size:
        side = name.split("_")[0]
        raise ValueError(f"{name}: level 1 ({levels[0].size} @ {levels[0].price}) is not the top of book, "
                         f"{side}_size @ {side}_price ({top_size} @ {top_price})")
    for n in range(1, len(levels)):
        before, price = levels[n - 1].price, levels[n].price
        if (price >= before) if descending else (price <= before):
            order = "below" if descending else "above"
            raise ValueError(f"{name}: level {n + 1} at {price} is not strictly {order} level {n} at {before}")


class Trade(Event):
    schema_name: ClassVar[str] = "oms.Trade"

    instrument: Identifier
    venue: Optional[Identifier] = None
    price: PositivePrice
    size: PositiveQuantity
    aggressor: Optional[Side] = None
    trade_id: Optional[Identifier] = None


# -------------------------------------------------------------- risk controls


class RiskControl(Event):
    """One operator or post-trade decision on `risk.controls` (compacted by scope and name).

    `scope` is an account or `*` for every account. `kind` says how to read
    `name` and `value`: a LIMIT names a limit and gives its decimal value; a
    TRADING_STATE gives ACTIVE, REDUCING or HALTED; a KILL_SWITCH gives
    `on` or `off`; an ENTITLEMENT names a trader and gives `allow` or `deny`;
    an INSTRUMENT names an instrument and gives `tradable`, `restricted` or `halted`.
    """

    schema_name: ClassVar[str] = "oms.RiskControl"

    scope: Scope
    kind: ControlKind
    name: Identifier
    value: Text
    changed_by: Identifier
    reason: Optional[Text] = None


# ---------------------------------------------------------------- dead letter


class DeadLetter(Event):
    """Input a processor could not decode or validate, kept with the reason."""

    schema_name: ClassVar[str] = "oms.DeadLetter"

    source_topic: Text
    partition: int
    offset: int
    key: Optional[bytes] = None
    value: Optional[bytes] = None
    error: Text
    processor: Identifier


# ------------------------------------------------------------------ registry

JOURNAL_EVENTS: tuple[type[JournalEvent], ...] = (
    OrderAccepted,
    OrderDenied,
    OrderRouted,
    OrderAcknowledged,
    OrderRejected,
    OrderFilled,
    OrderPendingCancel,
    OrderCanceled,
    OrderPendingReplace,
    OrderReplaced,
    OrderCancelRejected,
    OrderExpired,
    OrderDoneForDay,
    OrderFillBusted,
    OrderFillCorrected,
    OrderAnomaly,
    OrderRestated,
    OrderSuspended,
)

EVENT_TYPES: tuple[type[Event], ...] = (
    NewOrder,
    AmendOrder,
    CancelOrder,
    OrderStatusRequest,
    OrderMassStatusRequest,
    NewTradingDay,
    VenueRequest,
    ExecutionReport,
    *JOURNAL_EVENTS,
    Fill,
    OrderView,
    Position,
    Quote,
    Trade,
    RiskControl,
    DeadLetter,
)

BY_SCHEMA_NAME: dict[str, type[Event]] = {cls.schema_name: cls for cls in EVENT_TYPES}

ENUMS: tuple[type[Enum], ...] = (
    Side,
    OrderType,
    TimeInForce,
    OrderStatus,
    ExecType,
    VenueAction,
    CancelRejectResponseTo,
    FillKind,
    TradingState,
    ControlKind,
    RestatementReason,
    OrderRejectReason,
    CancelRejectReason,
)


# ------------------------------------------------------------ venue status
# (issue 11: the venue gateway's connection, circuit breaker and rate-limit state, and operator
# overrides, on the compacted `venue.status`; added after the registry, which they extend)


class ConnectionState(str, Enum):
    """Whether a venue's session is up (`oms.venues.ConnectionState` is this enum)."""

    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"


class BreakerState(str, Enum):
    """A venue circuit breaker's state: CLOSED passes requests, OPEN refuses NEW and REPLACE,
    HALF_OPEN lets a few probe requests through to see whether the venue is back."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class BreakerMode(str, Enum):
    """An operator's override of a venue circuit breaker: AUTO (the breaker decides), or forced OPEN / CLOSED."""

    AUTO = "AUTO"
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class VenueStatus(Event):
    """One venue as its gateway sees it, on `venue.status` keyed by venue (compacted: the latest
    wins), published on every change and every few seconds.

    `queued_*` count the requests waiting for rate-limit tokens (or for the
    venue to connect) per class; `tokens` lists the tokens left per pool
    (`orders=12.5 cancels=40`); `throttled_until` is set while the venue is
    paused after it answered "throttled"; `unanswered` counts requests past
    their second deadline (each also raised as a `VenueAlert`)."""

    schema_name: ClassVar[str] = "oms.VenueStatus"

    venue: Identifier
    gateway: Identifier
    connection: ConnectionState
    breaker: BreakerState
    breaker_since: Nanos
    breaker_reason: Optional[Text] = None
    forced: BreakerMode = BreakerMode.AUTO
    forced_by: Optional[Identifier] = None
    failures: int = 0
    """Breaker failures counted in the current window."""
    in_flight: int = 0
    queued_cancel: int = 0
    queued_replace: int = 0
    queued_status: int = 0
    queued_new: int = 0
    tokens: Text = ""
    throttled_until: Optional[Nanos] = None
    unanswered: int = 0


class VenueControl(Event):
    """An operator forcing a venue's circuit breaker OPEN or CLOSED, or handing it back (AUTO), on
    `venue.status` keyed `<venue>|control` (compacted: the latest per venue wins), audited with
    who and why like a `RiskControl`."""

    schema_name: ClassVar[str] = "oms.VenueControl"

    venue: Identifier
    mode: BreakerMode
    changed_by: Identifier
    reason: Optional[Text] = None


class VenueAlert(Event):
    """A request a venue never answered, on `venue.status` keyed `<venue>|alert|<request id>`: past
    its deadline the gateway asked the venue for the order's status, and that was not answered
    either. The order stays pending in the engine (visible in `orders`) until a report comes."""

    schema_name: ClassVar[str] = "oms.VenueAlert"

    venue: Identifier
    account: Identifier
    order_id: Identifier
    request_id: Identifier
    action: VenueAction
    reason_code: Identifier
    reason: Text
    sent_at: Nanos


class VenueReconcileRequest(Event):
    """An operator asking a venue's gateway to reconcile the venue against the OMS now (`oms venue
    reconcile VENUE`), on `venue.status` keyed `<venue>|reconcile` (compacted: the latest per venue
    wins), with who and why; the gateway serving the venue reconciles once per request."""

    schema_name: ClassVar[str] = "oms.VenueReconcileRequest"

    venue: Identifier
    requested_by: Identifier
    reason: Optional[Text] = None


VENUE_STATUS_EVENTS: tuple[type[Event], ...] = (VenueStatus, VenueControl, VenueAlert, VenueReconcileRequest)
EVENT_TYPES = (*EVENT_TYPES, *VENUE_STATUS_EVENTS)
BY_SCHEMA_NAME.update({cls.schema_name: cls for cls in VENUE_STATUS_EVENTS})
ENUMS = (*ENUMS, ConnectionState, BreakerState, BreakerMode)

# ------------------------------------------------------------ reconciliation


class VenueReconciliation(Event):
    """What one reconciliation of a venue against the OMS found and did (on `venue.reconciliations`,
    keyed by venue; `oms.venues.reconcile`). Counts, then the order ids of each case, space-separated."""

    schema_name: ClassVar[str] = "oms.VenueReconciliation"

    venue: Identifier
    policy: Identifier
    """The external-order policy applied: `reject` or `adopt`."""
    oms_open: int
    """Orders the OMS had open at the venue."""
    venue_working: int
    """Orders the venue reported working."""
    matched: int
    """Open orders on both sides (their missed fills, if any, re-sent)."""
    reports: int
    """Execution reports published to repair the divergences."""
    cancels: int
    """Cancel requests sent to the venue."""
    fills_resent: int
    """Of the reports, the venue's fills, busts and corrections sent again."""
    missed_fills: str = ""
    closed_at_venue: str = ""
    """Canceled, expired or done for the day at the venue while the OMS was away."""
    unknown_at_venue: str = ""
    """Open in the OMS, unknown at the venue: canceled with the reason."""
    adopted: str = ""
    canceled_external: str = ""
    """Working at the venue, not OMS orders (policy reject): anomaly kept, cancel sent."""
    closed_in_oms: str = ""
    in_flight: str = ""
    """PENDING_NEW in the OMS, unknown at the venue: left to the in-flight deadline."""
    acknowledged: str = ""
    """PENDING_NEW in the OMS, working at the venue: its lost ack sent."""


EVENT_TYPES = (*EVENT_TYPES, VenueReconciliation)
BY_SCHEMA_NAME[VenueReconciliation.schema_name] = VenueReconciliation

# ------------------------------------------------------------ smart order routing


class RoutingDecided(JournalEvent):
    """A smart-routing decision for a parent order (`oms.domain.sor`): seq 0, never applied to the
    order; its children's own `OrderAccepted` and `OrderRouted` follow it in the journal. `considered`
    lists each venue weighed as `venue=score (note)`, `placed` each child as
    `child-order-id venue quantity@limit`, both separated by `; `."""

    schema_name: ClassVar[str] = "oms.RoutingDecided"

    strategy: Identifier
    instrument: Identifier
    side: Side
    quantity: Quantity
    """The quantity the decision placed."""
    leaves_qty: Quantity
    """The parent's quantity left to place when it decided."""
    limit_price: Optional[PositivePrice] = None
    arrival_price: Optional[PositivePrice] = None
    """The consolidated best price on the parent's side when it arrived (slippage is measured against it)."""
    reason: Text
    considered: Text = ""
    placed: Text = ""
    trigger: Identifier = "NEW"
    """What made the router decide: NEW (the parent arrived), REROUTE (a child was rejected, canceled or
    filled by its venue while the parent had quantity left unplaced), AMEND (the parent's amend left new
    leaves to place) or NEW_DAY (a new trading day renewed a GTC parent with quantity unplaced)."""


JOURNAL_EVENTS = (*JOURNAL_EVENTS, RoutingDecided)
EVENT_TYPES = (*EVENT_TYPES, RoutingDecided)
BY_SCHEMA_NAME[RoutingDecided.schema_name] = RoutingDecided


# ------------------------------------------------------------- built events

_E = TypeVar("_E", bound=Event)
_CHECK_BUILT = [False]
"""While true (`checking_built`), `built` also validates and fails on any difference."""
_IDENTIFIER = TypeAdapter(Identifier)


_new_model = object.__new__
_set = object.__setattr__
_LAYOUTS: dict[type, tuple[dict[str, object], frozenset[str]]] = {}


def _layout(cls: type[Event]) -> tuple[dict[str, object], frozenset[str]]:
    """({field name: default (None when required)} in field order, the required names): what
    `model_construct` reads of a class, once per class (events have no aliases, factories or
    post-init hooks). A copy of the template updated with the given fields keeps field order."""
    if cls.__pydantic_post_init__ or any(
            info.default_factory is not None or info.alias is not None or info.validation_alias is not None
            for info in cls.model_fields.values()):  # pragma: no cover - no event has any of them
        raise TypeError(f"{cls.__name__} needs model_construct's general path: build it with validation")
    template = {name: None if info.is_required() else info.default for name, info in cls.model_fields.items()}
    required = frozenset(name for name, info in cls.model_fields.items() if info.is_required())
    _LAYOUTS[cls] = template, required
    return _LAYOUTS[cls]


def built(cls: type[_E], /, **fields) -> _E:
    """A `cls` event the engine builds from values that are already valid, without validating them
    again (what pydantic's `model_construct` does, without its general path): every field must be
    given exactly as validation would leave it (enums as members, money as Decimal within the wire's decimal(28, 8), ids that match
    `Identifier`). Callers use it only where each value comes from a validated event or command, or
    from an id or amount they checked (`is_identifier`, `fits_wire`); input crossing the boundary
    (decoded records, users' commands) keeps full validation. One reader builds decoded records
    with it: replay of the journal, which only the engine writes, from validated events
    (`streams.codec` decode with `validate=False`; `oms replay --strict` validates them too). Under `checking_built()` (tests)
    every built event is also validated, and a value that validation would reject or change
    (including its type) raises `AssertionError`: the fast path cannot drift from the validated one."""
    template, required = _LAYOUTS.get(cls) or _layout(cls)
    if not required <= fields.keys():
        raise TypeError(f"{cls.__name__} built without {', '.join(sorted(required - fields.keys()))}")
    values = template.copy()
    values.update(fields)
    if len(values) != len(template):
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(fields.keys() - template.keys()))}")
    event = _new_model(cls)
    _set(event, "__dict__", values)
    _set(event, "__pydantic_fields_set__", set(fields))
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    if _CHECK_BUILT[0]:
        validated = cls(**fields)
        drift = {name: (value, validated.__dict__.get(name)) for name, value in event.__dict__.items()
                 if type(value) is not type(validated.__dict__.get(name)) or value != validated.__dict__.get(name)}
        if drift or validated != event:
            raise AssertionError(f"built {cls.__name__} differs from the validated one: {drift}")
    return event


@contextmanager
def checking_built():
    """Within it, `built` validates each event it builds and compares (for tests)."""
    before, _CHECK_BUILT[0] = _CHECK_BUILT[0], True
    try:
        yield
    finally:
        _CHECK_BUILT[0] = before


@lru_cache(maxsize=4096)
def is_identifier(value: str) -> bool:
    """True when `value` is a valid `Identifier` (cached: venue names and the like repeat)."""
    try:
        _IDENTIFIER.validate_python(value)
    except ValidationError:
        return False
    return True


def fits_wire(value: Decimal) -> bool:
    """True when `value` passes a `Quantity` field as it is: finite, >= 0, at most `SCALE`
    decimal places and below 10^(PRECISION - SCALE)."""
    return value.is_finite() and value >= 0 and value.as_tuple().exponent >= -SCALE and value < _WIRE_LIMIT

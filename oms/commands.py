"""Building commands from user input, validated before anything is published.

Order commands: `build(kind, clock, **fields)` turns loosely typed input
(strings from a command line, numbers from a script) into a frozen
`NewOrder`, `AmendOrder` or `CancelOrder` for `kind` "new", "amend" or
"cancel" (`new_order`, `amend` and `cancel` are the same builders by name),
or raises `CommandError` naming the offending field. The envelope (command
id, timestamps, account, trader, client order id) is stamped in one place,
`_command`; the command id is deterministic in (account, client order id,
kind), so a retried publication is recognisably the same command.

Queries and operations: `order_status`, `mass_status` and `new_trading_day`
build the `OrderStatusRequest`, `OrderMassStatusRequest` and `NewTradingDay`
commands (`oms status`, `oms session roll`).

Risk controls: `risk_control` builds a `RiskControl` and refuses one the
engine could not apply (an unknown limit, a value its kind does not accept).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from pydantic import ValidationError

from oms import ids
from oms.clock import Clock
from oms.domain.risk import Controls, apply_control
from oms.events import (
    AmendOrder,
    CancelOrder,
    ControlKind,
    NewOrder,
    NewTradingDay,
    OrderMassStatusRequest,
    OrderStatusRequest,
    OrderType,
    RiskControl,
    Side,
    TimeInForce,
)

OrderCommand = NewOrder | AmendOrder | CancelOrder


class CommandError(ValueError):
    """An invalid command; `field` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _decimal(field: str, value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        raise CommandError(field, "give a decimal string or Decimal, not a binary float")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise CommandError(field, f"{value!r} is not a number") from None
    if not number.is_finite():
        raise CommandError(field, f"{value!r} is not a finite number")
    return number


def _enum(field: str, enum: type, value: Any):
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).upper())
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise CommandError(field, f"{value!r} is not one of {allowed}") from None


def _build(cls, **fields):
    try:
        return cls(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or first["msg"].split(":")[0].removeprefix("Value error, ")
        msg = first["msg"].removeprefix("Value error, ")
        if msg.startswith(f"{loc}: "):
            msg = msg[len(loc) + 2:]
        raise CommandError(loc, msg) from None


def _command(cls, kind: str, clock: Clock, account: str, trader: str, client_order_id: str, **fields):
    """The one place an order command's envelope is stamped and the whole command validated."""
    now = clock.now_ns()
    return _build(
        cls,
        event_id=ids.command_id(str(account), str(client_order_id), kind),
        ts_event=now,
        ts_init=now,
        account=account,
        trader=trader,
        client_order_id=client_order_id,
        **fields,
    )


def new_order(
    clock: Clock,
    *,
    account: str,
    trader: str,
    client_order_id: str,
    instrument: str,
    side: str | Side,
    quantity: Any,
    order_type: str | OrderType | None = None,
    limit_price: Any = None,
    time_in_force: str | TimeInForce = TimeInForce.DAY,
    venue: str | None = None,
) -> NewOrder:
    """A validated NewOrder. The order type defaults to LIMIT when a price is given, else MARKET."""
    price = _decimal("limit_price", limit_price)
    kind = _enum("order_type", OrderType, order_type) if order_type else (
        OrderType.LIMIT if price is not None else OrderType.MARKET
    )
    return _command(
        NewOrder, "new", clock, account, trader, client_order_id,
        instrument=instrument,
        side=_enum("side", Side, side),
        order_type=kind,
        quantity=_decimal("quantity", quantity),
        limit_price=price,
        time_in_force=_enum("time_in_force", TimeInForce, time_in_force),
        venue=venue or None,
    )


def amend(
    clock: Clock,
    *,
    account: str,
    trader: str,
    client_order_id: str,
    orig_client_order_id: str,
    quantity: Any = None,
    limit_price: Any = None,
) -> AmendOrder:
    """A validated AmendOrder (cancel/replace): a new quantity, a new limit price, or both."""
    return _command(
        AmendOrder, "amend", clock, account, trader, client_order_id,
        orig_client_order_id=orig_client_order_id,
        quantity=_decimal("quantity", quantity),
        limit_price=_decimal("limit_price", limit_price),
    )


def cancel(
    clock: Clock, *, account: str, trader: str, client_order_id: str, orig_client_order_id: str
) -> CancelOrder:
    """A validated CancelOrder."""
    return _command(CancelOrder, "cancel", clock, account, trader, client_order_id,
                    orig_client_order_id=orig_client_order_id)


BUILDERS: dict[str, Callable[..., OrderCommand]] = {"new": new_order, "amend": amend, "cancel": cancel}
"""Order command kind -> its builder."""


def build(kind: str, clock: Clock, **fields: Any) -> OrderCommand:
    """The order command of `kind` ("new", "amend" or "cancel") from `fields`; raises `CommandError`."""
    try:
        builder = BUILDERS[kind]
    except KeyError:
        raise CommandError("kind", f"{kind!r} is not one of {', '.join(BUILDERS)}") from None
    return builder(clock, **fields)


def order_status(clock: Clock, *, account: str, trader: str, client_order_id: str) -> OrderStatusRequest:
    """A validated OrderStatusRequest for the order `client_order_id` of `account`. Its id carries
    the time: each query is a new question to the venue, not a retry of the last one."""
    now = clock.now_ns()
    return _build(OrderStatusRequest, event_id=ids.command_id(str(account), str(client_order_id), f"STATUS@{now}"),
                  ts_event=now, ts_init=now, account=account, trader=trader, client_order_id=client_order_id)


def mass_status(clock: Clock, *, account: str, trader: str, venue: str | None = None) -> OrderMassStatusRequest:
    """A validated OrderMassStatusRequest of `account` (only orders at `venue` when given)."""
    now = clock.now_ns()
    event_id = ids.command_id(str(account), str(venue or "*"), f"MASS_STATUS@{now}")
    return _build(OrderMassStatusRequest, event_id=event_id, ts_event=now, ts_init=now, account=account,
                  trader=trader, mass_status_id=event_id, venue=venue or None)


def new_trading_day(clock: Clock, *, account: str, trading_day: str, changed_by: str) -> NewTradingDay:
    """A validated NewTradingDay (session roll) of `account` to `trading_day` (YYYY-MM-DD). Its id
    is deterministic in (account, day): rolling twice is the same command."""
    now = clock.now_ns()
    return _build(NewTradingDay, event_id=ids.command_id(str(account), str(trading_day), "NEW_TRADING_DAY"),
                  ts_event=now, ts_init=now, account=account, trading_day=trading_day, changed_by=changed_by)


def risk_control(
    clock: Clock,
    *,
    event_id: str,
    scope: str,
    kind: str | ControlKind,
    name: str,
    value: str,
    changed_by: str,
    reason: str | None = None,
) -> RiskControl:
    """A validated RiskControl: refused (`CommandError` on "control") when the engine could not apply it."""
    now = clock.now_ns()
    control = _build(
        RiskControl, event_id=event_id, ts_event=now, ts_init=now, scope=scope,
        kind=_enum("kind", ControlKind, kind), name=name, value=value, changed_by=changed_by, reason=reason,
    )
    try:
        apply_control(Controls(), control)
    except ValueError as exc:
        raise CommandError("control", str(exc).splitlines()[0]) from None
    return control

"""Building order commands from user input, validated before anything is published.

`new_order`, `amend` and `cancel` turn loosely typed input (strings from a
command line, numbers from a script) into frozen `NewOrder`, `AmendOrder` and
`CancelOrder` values, or raise `CommandError` naming the offending field. The
command id is deterministic in (account, client order id, kind), so a retried
publication is recognisably the same command.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from oms import ids
from oms.clock import Clock
from oms.events import AmendOrder, CancelOrder, NewOrder, OrderType, Side, TimeInForce


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
    now = clock.now_ns()
    return _build(
        NewOrder,
        event_id=ids.command_id(str(account), str(client_order_id), "new"),
        ts_event=now,
        ts_init=now,
        account=account,
        trader=trader,
        client_order_id=client_order_id,
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
    now = clock.now_ns()
    return _build(
        AmendOrder,
        event_id=ids.command_id(str(account), str(client_order_id), "amend"),
        ts_event=now,
        ts_init=now,
        account=account,
        trader=trader,
        client_order_id=client_order_id,
        orig_client_order_id=orig_client_order_id,
        quantity=_decimal("quantity", quantity),
        limit_price=_decimal("limit_price", limit_price),
    )


def cancel(
    clock: Clock, *, account: str, trader: str, client_order_id: str, orig_client_order_id: str
) -> CancelOrder:
    now = clock.now_ns()
    return _build(
        CancelOrder,
        event_id=ids.command_id(str(account), str(client_order_id), "cancel"),
        ts_event=now,
        ts_init=now,
        account=account,
        trader=trader,
        client_order_id=client_order_id,
        orig_client_order_id=orig_client_order_id,
    )

"""The producer clients: how traders, algorithms and operators publish commands and risk controls.

    client = OrderClient.connect(settings, trader="alice", clock=LiveClock())
    client.new_order(account="ACC1", client_order_id="c-1", instrument="AAPL",
                     side="BUY", quantity="100", limit_price="187.25")
    client.amend(account="ACC1", client_order_id="c-2", orig_client_order_id="c-1",
                 quantity="150")
    client.cancel(account="ACC1", client_order_id="c-3", orig_client_order_id="c-1")
    client.flush()

One path from input to a published order command: `submit(kind, **fields)`
builds and validates the command (`oms.commands.build`; an invalid one raises
`CommandError` and nothing is published) and `publish(command)` sends it to
`commands`, keyed by account. `new_order`, `amend` and `cancel` are `submit`
by name; the CLI builds first (to refuse bad input before connecting) and
calls `publish`. `publish_control` sends a `RiskControl` to `risk.controls` under its
record key (`oms.keys.control`).
"""

from __future__ import annotations

from typing import Any, Callable

from oms import commands, keys
from oms.clock import Clock
from oms.config import Settings
from oms.commands import OrderCommand
from oms.events import AmendOrder, CancelOrder, NewOrder, RiskControl
from streams.kafka import EventProducer
from streams.topics import Topics

Delivered = Callable[[str | None], None]
"""Told of one command's delivery: None once the broker has it, else why it was refused."""


class OrderClient:
    """Publishes order commands for one trader, stamped by the clock given."""

    def __init__(self, producer: EventProducer, topics: Topics, trader: str, clock: Clock) -> None:
        self._producer = producer
        self._topics = topics
        self._trader = trader
        self._clock = clock

    @classmethod
    def connect(cls, settings: Settings, trader: str, clock: Clock) -> "OrderClient":
        from streams.runtime import connect  # local: resolving may start the local broker

        rt = connect(settings)
        return cls(rt.event_producer(), rt.topics, trader, clock)

    def publish(self, command: OrderCommand, on_delivery: Delivered | None = None) -> OrderCommand:
        """Send a built command to `commands`, keyed by its account (not flushed). `on_delivery(None)`
        is called once the broker has it, `on_delivery(reason)` if the broker refused it for good
        (the command did not reach the OMS: send it again, the engine refuses a repeated client order id)."""
        self._producer.send(self._topics.commands, command.account, command, on_delivery)
        return command

    def submit(self, kind: str, *, on_delivery: Delivered | None = None, **fields: Any) -> OrderCommand:
        """Build the `kind` command ("new", "amend", "cancel") from `fields` and publish it (not flushed)."""
        fields.setdefault("trader", self._trader)
        return self.publish(commands.build(kind, self._clock, **fields), on_delivery)

    def new_order(self, *, on_delivery: Delivered | None = None, **fields: Any) -> NewOrder:
        return self.submit("new", on_delivery=on_delivery, **fields)

    def amend(self, *, on_delivery: Delivered | None = None, **fields: Any) -> AmendOrder:
        return self.submit("amend", on_delivery=on_delivery, **fields)

    def cancel(self, *, on_delivery: Delivered | None = None, **fields: Any) -> CancelOrder:
        return self.submit("cancel", on_delivery=on_delivery, **fields)

    def flush(self, timeout: float = 30.0) -> None:
        self._producer.flush(timeout)


def publish_control(producer: EventProducer, topics: Topics, control: RiskControl) -> None:
    """Send `control` to `risk.controls` under its record key and wait until it is delivered."""
    producer.send(topics.risk_controls, keys.control(control.scope, control.kind.value, control.name), control)
    producer.flush()

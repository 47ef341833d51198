"""The producer client: how traders and algorithms publish order commands.

    client = OrderClient.connect(settings, trader="alice")
    client.new_order(account="ACC1", client_order_id="c-1", instrument="AAPL",
                     side="BUY", quantity="100", limit_price="187.25")
    client.amend(account="ACC1", client_order_id="c-2", orig_client_order_id="c-1",
                 quantity="150")
    client.cancel(account="ACC1", client_order_id="c-3", orig_client_order_id="c-1")
    client.flush()

Every command is validated first (`oms.commands`); an invalid one raises
`CommandError` and nothing is published. Commands are keyed by account on the
`commands` topic.
"""

from __future__ import annotations

from typing import Any


from oms import commands
from oms.clock import Clock, LiveClock
from oms.config import Settings
from oms.events import AmendOrder, CancelOrder, NewOrder
from streams.kafka import EventProducer
from streams.topics import Topics


class OrderClient:
    def __init__(self, producer: EventProducer, topics: Topics, trader: str, clock: Clock | None = None) -> None:
        self._producer = producer
        self._topics = topics
        self._trader = trader
        self._clock = clock or LiveClock()

    @classmethod
    def connect(cls, settings: Settings, trader: str, clock: Clock | None = None) -> "OrderClient":
        from streams.runtime import connect  # local: resolving may start the local broker

        rt = connect(settings)
        return cls(rt.event_producer(), rt.topics, trader, clock)

    def _publish(self, command: NewOrder | AmendOrder | CancelOrder):
        self._producer.send(self._topics.commands, command.account, command)
        return command

    def new_order(self, **fields: Any) -> NewOrder:
        fields.setdefault("trader", self._trader)
        return self._publish(commands.new_order(self._clock, **fields))

    def amend(self, **fields: Any) -> AmendOrder:
        fields.setdefault("trader", self._trader)
        return self._publish(commands.amend(self._clock, **fields))

    def cancel(self, **fields: Any) -> CancelOrder:
        fields.setdefault("trader", self._trader)
        return self._publish(commands.cancel(self._clock, **fields))

    def flush(self, timeout: float = 30.0) -> None:
        self._producer.flush(timeout)

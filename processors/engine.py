"""The order engine process: commands and execution reports in; journal, venue requests, fills and views out.

A thin adapter: it decodes each input, calls the pure `oms.domain.engine.step`,
and hands back what to publish; `streams.processor.TransactionalProcessor`
makes each batch's outputs, state changes and consumed offsets one Kafka
transaction. The engine is the single writer of the journal.

faust's exactly_once mode was measured losing engine state under kill -9: with
transactions on, faust commits without flushing the buffered table-changelog
sends, and it picks the transactional producer by the destination partition,
so a changelog write or an output could fall outside the transaction of its
input. The engine therefore runs on confluent-kafka transactions directly.
"""

from __future__ import annotations

import logging
from pathlib import Path

from confluent_kafka import Message

from oms.clock import Clock, LiveClock
from oms.domain.engine import RiskView, refuse_invalid_command, step
from oms.domain.positions import reference_price
from oms.domain.risk import Controls, apply_control
from oms.domain.orders import view
from oms.events import Event, OrderAnomaly, RiskControl
from oms.routing import Router, StaticRouter
from oms.state import RocksStore, dump_account, dump_order, load_account, load_order
from streams.codec import Codec, DecodeError, InvalidRecord
from streams.kafka import dead_letter
from streams.processor import Output, PartitionState, TransactionalProcessor
from streams.tables import FollowedTopic, StaticTable
from streams.topics import Topics

log = logging.getLogger("oms.engine")


class OrderEngine:
    """The handler: one input message → the outputs to publish, state changes staged in `state`."""

    def __init__(self, topics: Topics, codec: Codec, router: Router, clock: Clock,
                 controls=None, references=None) -> None:
        self.topics = topics
        self.codec = codec
        self.router = router
        self.clock = clock
        self.controls = controls if controls is not None else StaticTable(Controls())
        self.references = references if references is not None else StaticTable({})

    def __call__(self, state: PartitionState, message: Message) -> list[Output]:
        now = self.clock.now_ns()
        key = (message.key() or b"").decode("utf-8", "replace")
        try:
            decoded = self.codec.decode(message.topic(), message.value() or b"")
            risk = RiskView(self.controls.value, self.references.value)
            outcome = step(lambda oid: load_order(state.get(f"o/{oid}")), decoded, self.router, now,
                           risk, lambda account: load_account(state.get(f"a/{account}")))
        except InvalidRecord as exc:  # decodes, but invalid: refused with a reason when it can be answered
            denial = refuse_invalid_command(exc.schema_name, exc.record, str(exc), now)
            if denial is not None:
                log.warning("refused invalid %s %s: %s", denial.command, denial.client_order_id, exc)
                return [(self.topics.journal, denial.account, denial)]
            return self._dead_letter(message, key, str(exc), now)
        except (DecodeError, TypeError) as exc:
            return self._dead_letter(message, key, str(exc), now)

        outputs: list[Output] = []
        for event in outcome.journal:
            if isinstance(event, OrderAnomaly):
                log.error("ALERT order anomaly %s on %s: %s", event.reason_code, event.order_id, event.reason)
            outputs.append((self.topics.journal, event.account, event))
        outputs += [(self.topics.venue_requests, r.venue, r) for r in outcome.requests]
        outputs += [(self.topics.fills, f.account, f) for f in outcome.fills]
        for order_id, order in outcome.orders.items():
            state.put(f"o/{order_id}", dump_order(order))
            outputs.append((self.topics.orders, order_id, view(order)))
        for account, risk in outcome.accounts.items():
            state.put(f"a/{account}", dump_account(risk))
        return outputs

    def _dead_letter(self, message: Message, key: str, error: str, now: int) -> list[Output]:
        log.warning("dead-lettered %s[%d]@%d: %s", message.topic(), message.partition(), message.offset(), error)
        return [(self.topics.deadletter, key or "-", dead_letter(message, error, "order-engine", now))]


def fold_control(controls: Controls, event: Event) -> Controls:
    return apply_control(controls, event) if isinstance(event, RiskControl) else controls


def fold_reference(references: dict, event: Event) -> dict:
    """Latest reference price per instrument (`oms.domain.positions.reference_price`) and its time."""
    price = reference_price(event)
    if price is None:
        return references
    return {**references, event.instrument: (price, event.ts_event)}


def follow_risk_inputs(bootstrap_servers: str, topics: Topics, codec: Codec):
    """The controls (from the beginning) and reference prices (from now on) as global tables."""
    controls = FollowedTopic(bootstrap_servers, topics.risk_controls, codec, Controls(), fold_control).start()
    references = FollowedTopic(bootstrap_servers, topics.marketdata, codec, {}, fold_reference,
                               from_end=True).start()
    return controls, references


def create_engine(
    bootstrap_servers: str,
    topics: Topics,
    codec: Codec,
    home: Path,
    *,
    router: Router = StaticRouter(),
    clock: Clock | None = None,
    instance: str = "0",
    controls=None,
    references=None,
) -> TransactionalProcessor:
    name = f"{topics.prefix}order-engine"
    clock = clock or LiveClock()
    return TransactionalProcessor(
        name=name,
        bootstrap_servers=bootstrap_servers,
        group_id=name,
        transactional_id=f"{name}-{instance}",
        inputs=[topics.commands, topics.exec_reports],
        changelog=topics.engine_state,
        store=RocksStore(home / "engine" / topics.prefix.rstrip(".")),
        codec=codec,
        handler=OrderEngine(topics, codec, router, clock, controls, references),
        deadletter=topics.deadletter,
        clock=clock,
    )

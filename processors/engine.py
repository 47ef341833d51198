"""The order engine process: commands and execution reports in; journal, venue requests, fills and views out.

A thin adapter: it decodes each input, admits on each topic only the event
types the catalogue gives it (`streams.topics.admitted`: commands on
`commands`, execution reports on `exec.reports`; anything else is
dead-lettered with the reason, never applied or journaled), calls the pure `oms.domain.engine.step`,
and hands back what to publish; `streams.processor.TransactionalProcessor`
makes each batch's outputs, state changes and consumed offsets one Kafka
transaction. The engine is the single writer of the journal. Its state store
(keys per `oms.keys`) holds the orders, the account risk states and, per
partition, a snapshot of the risk controls it decides with (written when they
change, with the `risk.controls` offsets they fold), so replay can verify both.
An account is stored as a small summary and one entry per open order
(`oms.account_state`): each input reads and writes the summary and the entries
it touches, so its cost does not grow with the account's open orders. With
smart routing on, the venue statistics (`oms.domain.sor.stats`: fill rate,
time to fill, rejects, slippage, latency per venue and instrument, of every
order the engine sends, routed or static) are state too (`oms.venue_state`):
folded from each input's journal events into the partition's store, written
only where they changed, in the same transaction, so a restart or rebalance
restores them and an aborted transaction never counts an input twice; replay
verifies them against the journal's fold (`replay.journal.verify_live`).
Without smart routing nothing reads them, and the engine keeps none (an input
writes only the orders and accounts it changed).

faust's exactly_once mode was measured losing engine state under kill -9: with
transactions on, faust commits without flushing the buffered table-changelog
sends, and it picks the transactional producer by the destination partition,
so a changelog write or an output could fall outside the transaction of its
input. The engine therefore runs on confluent-kafka transactions directly.

Smart order routing (`SmartRoutingSource`): for accounts and instruments with a
routing rule the step works parents through child orders, reading the
consolidated books (`follow_books`), the closed venues and the venue statistics
of the input's partition (the orders its accounts sent); every other order
keeps the static route.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import Mapping

from oms import keys
from oms.clock import Clock
from oms.domain.engine import RiskView, refuse_invalid_command, step
from oms.domain.orders import ExternalOrders, Order, view
from oms.domain.positions import reference_price
from oms.domain.projection import fold_control
from oms.domain.risk import DEFAULT_LIMITS, AccountRisk, Controls
from oms.events import Event, OrderAnomaly, Quote
from oms.account_state import account_writes, load_account_risk
from oms.domain.sor import FeeSchedule, VenueStatistics, fold_quote
from oms.venue_state import fold_writes, stored_statistics
from oms.domain.sor.parent import SmartRouting
from oms.routing import Router, RoutingRules, StaticRouter, VenueAvailability, VenueGuard
from oms.state import ControlsSnapshot, RocksStore, dump_controls, dump_order, load_order
from streams import metrics
from streams.codec import Codec, DecodeError, InvalidRecord
from streams.processor import Output, PartitionState, TransactionalProcessor
from streams.records import Record, dead_letter
from streams.tables import FollowedTopic, Snapshot, StaticTable
from streams.topics import Topics, admitting

log = logging.getLogger("oms.engine")

__all__ = ["OrderEngine", "SmartRoutingSource", "create_engine", "fold_books", "fold_control", "fold_reference",
           "follow_books", "follow_controls", "follow_risk_inputs", "follow_venue_status"]

ORDERS_HELD = 50_000
"""Orders the engine keeps decoded beside their stored bytes (the most recently written): an order's
next input (its acknowledgement, its fills) finds it without decoding it again."""


class OrderEngine:
    """The handler: one input message → the outputs to publish, state changes staged in `state`."""

    def __init__(self, topics: Topics, codec: Codec, router: Router, clock: Clock,
                 controls=None, references=None, external_orders: ExternalOrders = ExternalOrders.REJECT,
                 smart: "SmartRoutingSource | None" = None) -> None:
        self.topics = topics
        self.codec = codec
        self.router = router
        self.clock = clock
        self.controls = controls if controls is not None else StaticTable(Controls())
        self.references = references if references is not None else StaticTable({})
        self.external_orders = external_orders
        self.smart = smart
        self._encoded: tuple[Snapshot | None, bytes | None] = (None, None)
        self._summaries: dict[str, tuple[bytes, AccountRisk]] = {}
        """account -> the summary last written and the account it stores (`load_account_risk`'s `known`)."""
        self._orders: dict[str, tuple[bytes, Order]] = {}
        """order id -> the state last written and the order it stores, the `ORDERS_HELD` most recently
        written (`_order`: the store's bytes are decoded only when they are not those)."""

    def _order(self, state: PartitionState, order_id: str) -> Order | None:
        """The order as stored: the order last written for it when the store holds those very bytes
        (`load_order(dump_order(o)) == o`, field for field), else decoded."""
        data = state.get(keys.order(order_id))
        if data is None:
            return None
        known = self._orders.get(order_id)
        if known is not None and known[0] == data:
            return known[1]
        return load_order(data)

    def _wrote(self, order_id: str, data: bytes, order: Order) -> None:
        held = self._orders
        held.pop(order_id, None)  # re-inserted last: the dict keeps the most recently written
        held[order_id] = (data, order)
        if len(held) > ORDERS_HELD:
            del held[next(iter(held))]

    def __call__(self, state: PartitionState, record: Record) -> list[Output]:
        now = self.clock.now_ns()
        key = record.text_key or ""
        controls = self.controls.snapshot()
        try:
            decoded = self.codec.decode(record.topic, record.value or b"")
            refusal = self.topics.admitted(record.topic, decoded)
            if refusal is not None:  # e.g. an ExecutionReport on commands: never applied, never journaled
                return self._dead_letter(record, key, refusal, now)
            risk = RiskView(controls.value, self.references.value)
            venues = stored_statistics(state.get) if self.smart is not None else None
            outcome = step(lambda oid: self._order(state, oid), decoded, self.router, now,
                           risk, lambda account: load_account_risk(account, state.get, state.items,
                                                                   self._summaries.get(account)),
                           self.external_orders, self.smart.routing(venues) if self.smart is not None else None)
        except InvalidRecord as exc:  # decodes, but invalid: refused with a reason when it can be answered
            refusal = self.topics.admitted(record.topic, exc.schema_name)
            if refusal is not None:
                return self._dead_letter(record, key, f"{refusal}; and it is invalid: {exc}", now)
            denial = refuse_invalid_command(exc.schema_name, exc.record, str(exc), now)
            if denial is not None:
                log.warning("refused invalid %s %s: %s", denial.command, denial.client_order_id, exc)
                return [(self.topics.journal, denial.account, denial)]
            return self._dead_letter(record, key, str(exc), now)
        except (DecodeError, TypeError) as exc:
            return self._dead_letter(record, key, str(exc), now)
        self._record_controls(state, controls)
        metrics.journaled(decoded, outcome.journal)
        if venues is not None:
            for key, value in fold_writes(venues, outcome.journal):
                state.put(key, value)

        outputs: list[Output] = []
        for event in outcome.journal:
            if isinstance(event, OrderAnomaly):
                log.error("ALERT order anomaly %s on %s: %s", event.reason_code, event.order_id, event.reason)
            outputs.append((self.topics.journal, event.account, event))
        outputs += [(self.topics.venue_requests, r.venue, r) for r in outcome.requests]
        outputs += [(self.topics.fills, f.account, f) for f in outcome.fills]
        for order_id, order in outcome.orders.items():
            data = dump_order(order)
            state.put(keys.order(order_id), data)
            self._wrote(order_id, data, order)
            outputs.append((self.topics.orders, order_id, view(order)))
        for account, risk in outcome.accounts.items():
            writes = account_writes(account, risk)
            self._summaries[account] = (writes[0][1], risk)
            for key, value in writes:
                state.put(key, value)
        return outputs

    def _record_controls(self, state: PartitionState, controls: Snapshot) -> None:
        """Keep the controls this input was decided with in the partition's state, when they changed
        (a fixed `StaticTable` folds no topic: nothing to record)."""
        if not controls.offsets:
            return
        seen, encoded = self._encoded
        if seen is not controls:
            encoded = dump_controls(ControlsSnapshot.of(controls.value, controls.offsets))
            self._encoded = (controls, encoded)
        if state.get(keys.controls_snapshot()) != encoded:
            state.put(keys.controls_snapshot(), encoded)

    def _dead_letter(self, record: Record, key: str, error: str, now: int) -> list[Output]:
        log.warning("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, error)
        return [(self.topics.deadletter, key or "-", dead_letter(record, error, "order-engine", now))]


class SmartRoutingSource:
    """What the engine smart-routes with, read fresh for each input (`routing(stats)`): the routing rules,
    the fee schedules, the consolidated books (a global table of `marketdata`, `follow_books`), the
    closed venues (the `venue.status` table) and `stats`, the venue statistics in the state of the
    input's partition (`OrderEngine` folds them from the journal events it writes; replay folds the
    same statistics from the journal topic)."""

    def __init__(self, rules: RoutingRules, fees: Mapping[str, FeeSchedule] | None = None, books=None,
                 venues=None) -> None:
        self.rules = rules
        self.fees = dict(fees or {})
        self.books = books if books is not None else StaticTable({})
        self.venues = venues

    def routing(self, stats: VenueStatistics) -> SmartRouting:
        closed = self.venues.value.closed if self.venues is not None else {}
        return SmartRouting(self.rules.strategy_for, self.books.value, stats, closed, self.fees)


def fold_books(books: dict, event: Event) -> dict:
    """The consolidated book per instrument after one `marketdata` event (quotes; trades change nothing)."""
    return fold_quote(books, event) if isinstance(event, Quote) else books


def follow_books(bootstrap_servers: str, topics: Topics, codec: Codec) -> FollowedTopic[dict]:
    """`marketdata` from now on as a global table of consolidated books (instrument -> book)."""
    return FollowedTopic(bootstrap_servers, topics.marketdata, codec, {},
                         admitting("marketdata", fold_books), from_end=True).start()


def fold_reference(references: dict, event: Event) -> dict:
    """Latest reference price per instrument (`oms.domain.positions.reference_price`) and its time."""
    price = reference_price(event)
    if price is None:
        return references
    return {**references, event.instrument: (price, event.ts_event)}


def follow_controls(bootstrap_servers: str, topics: Topics, codec: Codec,
                    defaults: Mapping[str, Decimal] = DEFAULT_LIMITS) -> FollowedTopic[Controls]:
    """`risk.controls` from the beginning as a global table over `Controls(defaults=defaults)`:
    the fail-closed default limits from configuration (`Settings.default_limits`), else the
    built-in ones. Only RiskControl events are folded (`streams.topics.admitting`)."""
    return FollowedTopic(bootstrap_servers, topics.risk_controls, codec, Controls(defaults=dict(defaults)),
                         admitting("risk.controls", fold_control)).start()


def follow_risk_inputs(bootstrap_servers: str, topics: Topics, codec: Codec,
                       defaults: Mapping[str, Decimal] = DEFAULT_LIMITS):
    """The controls (from the beginning, over the default limits `defaults`) and reference prices
    (from now on) as global tables."""
    controls = follow_controls(bootstrap_servers, topics, codec, defaults)
    references = FollowedTopic(bootstrap_servers, topics.marketdata, codec, {},
                               admitting("marketdata", fold_reference), from_end=True).start()
    return controls, references


def follow_venue_status(bootstrap_servers: str, topics: Topics, codec: Codec) -> FollowedTopic[VenueAvailability]:
    """`venue.status` from the beginning as a global table: which venues take new orders (a venue
    whose breaker is open, or forced open, gets VENUE_UNAVAILABLE denials through `VenueGuard`)."""
    return FollowedTopic(bootstrap_servers, topics.venue_status, codec, VenueAvailability(),
                         admitting("venue.status", VenueAvailability.fold)).start()


def create_engine(
    bootstrap_servers: str,
    topics: Topics,
    codec: Codec,
    home: Path,
    *,
    router: Router = StaticRouter(),
    clock: Clock,
    instance: str = "0",
    controls=None,
    references=None,
    external_orders: ExternalOrders = ExternalOrders.REJECT,
    venues: FollowedTopic[VenueAvailability] | None = None,
    smart: SmartRoutingSource | None = None,
) -> TransactionalProcessor:
    """The order engine on its transactional processor. `smart` (`SmartRoutingSource`) routes the orders
    its rules cover as parents with child orders; without it every order takes `router`'s static route."""
    name = f"{topics.prefix}order-engine"
    if venues is not None:  # deny new orders for venues whose circuit breaker is open
        router = VenueGuard(router, lambda: venues.value.closed)
    return TransactionalProcessor(
        name=name,
        bootstrap_servers=bootstrap_servers,
        group_id=name,
        transactional_id=f"{name}-{instance}",
        inputs=[topics.commands, topics.exec_reports],
        changelog=topics.engine_state,
        store=RocksStore(home / "engine" / topics.prefix.rstrip(".")),
        codec=codec,
        handler=OrderEngine(topics, codec, router, clock, controls, references, external_orders, smart),
        deadletter=topics.deadletter,
        clock=clock,
    )

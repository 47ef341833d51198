"""The backtest runner: historical market data through the same pure engine, risk, routing and venues, in process.

This module owns running a backtest. `run_backtest(market_data, strategy,
config)` walks the market data in time order on a simulated clock and keeps a
queue of what is in flight: requests on their way to a venue, reports on their
way back, market data on its way to the strategy, the strategy's timers. Every
command goes through `oms.domain.engine.step` (pre-trade risk, the `Router` -
wrapped in `VenueGuard` so an open breaker denies VENUE_UNAVAILABLE - and the
order state machine), exactly as the live engine decides it; every venue is a
`replay.models.QueueExchange` driven by its `VenueModel` (latency, queue
position, slippage and impact, rejects, API failures, outages), and each venue
has a circuit breaker (`oms.venues.breaker`) that failures open and successes
close. While a venue is down its reports are lost (it keeps matching resting
orders); when the outage ends the runner reconciles it (`oms.venues.reconcile`:
missed fills re-sent, orders closed there closed here, strays canceled). A
request the model fails gets no answer (the venue took it and the answer was
lost, or it never reached the venue): at its deadline (`deadline_ns` after the
engine sent it) the runner does what the live gateway does with a silent
request - a breaker failure and a STATUS query for the order (the answer goes
to the engine, which notes any disagreement as a VENUE_MISMATCH anomaly) - and
reconciles the order with the venue's answer and executions: an order the venue
took is acknowledged and its missed fills are booked; a NEW the venue does not
hold is rejected with a reason naming the silence; a CANCEL or REPLACE of an
order still working there is sent again under the same request id (the venue
answers a request it already took with its first answer, and takes one it never
saw; a request is failed once at most). A `Strategy` gets callbacks (`on_start`, `on_quote`, `on_trade`,
`on_fill`, `on_timer`) with a `Context` and returns commands; `Recorded`
replays recorded commands at their own times. Everything random is drawn from
generators seeded by `config.seed` and the venue name, so the same seed and
inputs give a byte-identical journal (`BacktestResult.journal_bytes`: the
journal events in the wire's Avro single-object encoding, each prefixed by its
length). The result also holds the fills (with fees, passive or not, and
slippage against the arrival mid), the orders, a P&L curve sampled on the
simulated clock, and the order-entry latencies; `replay.report` writes them.
"""

from __future__ import annotations

import gc
import heapq
import random
import struct
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from oms.domain.engine import RiskView, step
from oms.domain.orders import ExternalOrders, Order
from oms.domain.positions import reference_price
from oms.domain.risk import AccountRisk, Controls
from oms.domain.sor.fees import FeeSchedule
from oms.events import (AmendOrder, CancelOrder, Event, ExecType, ExecutionReport, Fill, JournalEvent, NewOrder,
                        OrderRejectReason, OrderType, Quote, Side, TimeInForce, Trade, VenueAction, VenueRequest)
from oms.marketdata import MarketData
from oms.routing import Router, StaticRouter, VenueGuard
from oms.venues import breaker as breakers
from oms.venues.gateway import refusal
from oms.venues.inflight import status_probe
from oms.venues.reconcile import WORKING, OmsOrder, reconcile
from replay.models import QueueExchange, VenueModel

__all__ = ["BacktestConfig", "BacktestResult", "Context", "Recorded", "Strategy", "publish_journal", "run_backtest"]

S = 1_000_000_000
_VENUE_REQUEST, _ENGINE_REPORT, _STRATEGY_DATA, _TIMER, _COMMAND, _RECONNECT, _DEADLINE = range(7)
LOST = "no answer from {venue} in {ms} ms and the venue does not know the order (status query): the request was lost"
"""Reason of the rejection of a NEW that got no answer and that the venue's status query does not know."""
REJECTED_THERE = "no answer from {venue} in {ms} ms; the venue rejected the order (status query)"
"""Reason of the rejection of a NEW that got no answer and that the venue's status query says it rejected."""


@dataclass(frozen=True)
class BacktestConfig:
    """What a backtest runs with. `venues`: name -> model (the router's catalogue); `router`: None means
    the command's venue, else the first venue; `controls`: the risk controls (default limits unless given);
    `fees`: the venues' fee schedules."""

    venues: Mapping[str, VenueModel] = field(default_factory=lambda: {"SIM": VenueModel()})
    seed: int = 0
    account: str = "BT"
    trader: str = "backtest"
    router: Router | None = None
    controls: Controls = field(default_factory=Controls)
    breaker: breakers.BreakerPolicy = breakers.BreakerPolicy()
    timer_ns: int | None = None
    """Period of the strategy's `on_timer` (None: no timer)."""
    sample_ns: int = S
    """Spacing of the P&L curve's points on the simulated clock."""
    deadline_ns: int = 5 * S
    """How long a request may go unanswered before the status query (the live gateway's default)."""
    fees: Mapping[str, FeeSchedule] = field(default_factory=dict)
    """Venue -> fee schedule (`oms.domain.sor.fees.parse_fees` of the `OMS_VENUE_FEES` form, the schedules
    smart routing weighs), given to those venues' models (`VenueModel.with_fees`); a venue not named keeps
    its model's own fees. Schedules of venues the backtest does not run are ignored."""

    def __post_init__(self) -> None:
        if not self.venues:
            raise ValueError("venues: name at least one venue")
        if self.timer_ns is not None and self.timer_ns <= 0:
            raise ValueError(f"timer_ns: {self.timer_ns} is not positive")
        if self.sample_ns <= 0:
            raise ValueError(f"sample_ns: {self.sample_ns} is not positive")
        if self.deadline_ns <= 0:
            raise ValueError(f"deadline_ns: {self.deadline_ns} is not positive")
        if self.fees:
            object.__setattr__(self, "venues", {name: model.with_fees(self.fees[name]) if name in self.fees else model
                                                for name, model in self.venues.items()})


class Context:
    """The strategy's view: the time, the last quote per (instrument, venue), positions, live orders,
    and the builders of commands (`buy`, `sell`, `cancel`, `amend`)."""

    def __init__(self, account: str, trader: str) -> None:
        self.account, self.trader = account, trader
        self.now = 0
        self.quotes: dict[tuple[str, str | None], Quote] = {}
        self.positions: dict[str, Decimal] = {}
        self.orders: dict[str, Order] = {}
        """client order id -> the order as the engine last decided it (open or not)."""
        self._n = 0

    def position(self, instrument: str) -> Decimal:
        return self.positions.get(instrument, Decimal(0))

    def open_orders(self, instrument: str | None = None) -> list[Order]:
        return [o for o in self.orders.values() if o.leaves_qty > 0 and o.status.value not in _DONE
                and (instrument is None or o.instrument == instrument)]

    def _next(self) -> tuple[str, str]:
        self._n += 1
        return f"bt-{self._n}", f"C{self._n:07d}"

    def order(self, side: Side, instrument: str, quantity: Decimal | int | str, price: Decimal | str | None = None,
              venue: str | None = None, tif: TimeInForce = TimeInForce.DAY) -> NewOrder:
        event_id, client_order_id = self._next()
        return NewOrder(event_id=event_id, ts_event=self.now, ts_init=self.now, account=self.account,
                        trader=self.trader, client_order_id=client_order_id, instrument=instrument, side=side,
                        order_type=OrderType.MARKET if price is None else OrderType.LIMIT,
                        quantity=Decimal(quantity), limit_price=None if price is None else Decimal(price),
                        time_in_force=tif, venue=venue)

    def buy(self, instrument: str, quantity, price=None, venue: str | None = None,
            tif: TimeInForce = TimeInForce.DAY) -> NewOrder:
        return self.order(Side.BUY, instrument, quantity, price, venue, tif)

    def sell(self, instrument: str, quantity, price=None, venue: str | None = None,
             tif: TimeInForce = TimeInForce.DAY) -> NewOrder:
        return self.order(Side.SELL, instrument, quantity, price, venue, tif)

    def cancel(self, client_order_id: str) -> CancelOrder:
        event_id, own = self._next()
        return CancelOrder(event_id=event_id, ts_event=self.now, ts_init=self.now, account=self.account,
                           trader=self.trader, client_order_id=own, orig_client_order_id=client_order_id)

    def amend(self, client_order_id: str, quantity=None, price=None) -> AmendOrder:
        event_id, own = self._next()
        return AmendOrder(event_id=event_id, ts_event=self.now, ts_init=self.now, account=self.account,
                          trader=self.trader, client_order_id=own, orig_client_order_id=client_order_id,
                          quantity=None if quantity is None else Decimal(quantity),
                          limit_price=None if price is None else Decimal(price))


_DONE = {"FILLED", "CANCELED", "REJECTED", "EXPIRED", "DONE_FOR_DAY", "REPLACED"}
Commands = Sequence[Event] | None


class Strategy:
    """A strategy: override the callbacks it needs; each returns the commands to send (or None)."""

    def on_start(self, ctx: Context) -> Commands:
        return None

    def on_quote(self, quote: Quote, ctx: Context) -> Commands:
        return None

    def on_trade(self, trade: Trade, ctx: Context) -> Commands:
        return None

    def on_fill(self, fill: Fill, ctx: Context) -> Commands:
        return None

    def on_timer(self, ctx: Context) -> Commands:
        return None


class Recorded(Strategy):
    """Recorded commands (NewOrder, AmendOrder, CancelOrder, ...) sent again at their own `ts_event`."""

    def __init__(self, commands: Iterable[Event]) -> None:
        self.commands = sorted(commands, key=lambda c: c.ts_event)


@dataclass
class BacktestResult:
    config: BacktestConfig
    journal: list[JournalEvent]
    fills: list[dict]
    """One row per fill: ts, venue, instrument, side, quantity, price, notional, fee, passive, arrival, slippage_bps."""
    orders: list[dict]
    """One row per order the engine decided: order_id, client_order_id, instrument, side, quantity, venue,
    status, cum_qty, avg_px, reason."""
    pnl: list[dict]
    """The P&L curve: ts, pnl (marked to the last mid, after fees), fees, position value."""
    latencies: list[dict]
    """One row per venue answer to a request: venue, action, ns from the command to the answer's arrival."""
    market_data_events: int = 0
    breaker_opened: dict[str, int] = field(default_factory=dict)
    """Venue -> how many times its breaker opened."""
    reconciliations: list = field(default_factory=list)
    """The `VenueReconciliation` of each reconnect after an outage and of each unanswered request's
    order at its deadline, in time order."""
    lost_reports: int = 0
    """Venue reports that never reached the OMS (sent while the venue was down, or answers an API failure lost)."""
    unanswered: int = 0
    """Requests that got no answer (API failures), each settled at its deadline."""
    venues: dict = field(default_factory=dict)
    """Venue name -> its simulated exchange as the run left it (`QueueExchange`: orders, fills)."""

    def journal_bytes(self) -> bytes:
        """The journal in Avro single-object encoding, each event prefixed by its length (4 bytes, big end)."""
        from streams.codec import SingleObjectCodec  # local: the codec loads the schema catalogue

        codec = SingleObjectCodec()
        out = bytearray()
        for event in self.journal:
            data = codec.encode("order.events", event)
            out += struct.pack(">I", len(data)) + data
        return bytes(out)

    def venue_stats(self) -> list[dict]:
        """Per venue: orders, routed and filled quantity, fill ratio, fees, rejects, median answer latency."""
        stats: dict[str, dict] = {}
        for name in self.config.venues:
            stats[name] = dict(venue=name, orders=0, quantity=Decimal(0), filled=Decimal(0), fees=Decimal(0),
                               rejected=0)
        for o in self.orders:
            if o["venue"] in stats:
                s = stats[o["venue"]]
                s["orders"] += 1
                s["quantity"] += o["quantity"]
                s["filled"] += o["cum_qty"]
                s["rejected"] += o["status"] == "REJECTED"
        for f in self.fills:
            stats[f["venue"]]["fees"] += f["fee"]
        for s in stats.values():
            s["fill_ratio"] = (s["filled"] / s["quantity"]).quantize(Decimal("0.0001")) if s["quantity"] else Decimal(0)
            lat = sorted(x["ns"] for x in self.latencies if x["venue"] == s["venue"])
            s["latency_p50_us"] = lat[len(lat) // 2] / 1000 if lat else None
            s["breaker_opened"] = self.breaker_opened.get(s["venue"], 0)
        return list(stats.values())

    def summary(self) -> dict:
        """The headline numbers: P&L, max drawdown, fills, fees, fill ratio, mean slippage, denied orders,
        requests that got no answer."""
        pnl = [p["pnl"] for p in self.pnl]
        peak, drawdown = None, Decimal(0)
        for value in pnl:
            peak = value if peak is None or value > peak else peak
            drawdown = max(drawdown, peak - value)
        qty = sum((o["quantity"] for o in self.orders), Decimal(0))
        filled = sum((o["cum_qty"] for o in self.orders), Decimal(0))
        slips = [f["slippage_bps"] for f in self.fills if f["slippage_bps"] is not None]
        return dict(market_data_events=self.market_data_events, orders=len(self.orders), fills=len(self.fills),
                    journal_events=len(self.journal), pnl=pnl[-1] if pnl else Decimal(0), max_drawdown=drawdown,
                    fees=sum((f["fee"] for f in self.fills), Decimal(0)),
                    fill_ratio=(filled / qty).quantize(Decimal("0.0001")) if qty else Decimal(0),
                    mean_slippage_bps=(sum(slips, Decimal(0)) / len(slips)).quantize(Decimal("0.01")) if slips
                    else Decimal(0),
                    denied=sum(1 for e in self.journal if type(e).__name__ == "OrderDenied"),
                    unanswered=self.unanswered)


class _Runner:
    def __init__(self, strategy: Strategy, config: BacktestConfig) -> None:
        self.strategy, self.config = strategy, config
        self.ctx = Context(config.account, config.trader)
        self.venues = {name: QueueExchange(name, config.seed, model) for name, model in config.venues.items()}
        self.models = config.venues
        self.rngs = {name: random.Random(f"{config.seed}:{name}:model") for name in config.venues}
        self.breakers = {name: breakers.Breaker() for name in config.venues}
        self.opened: dict[str, int] = {}
        inner = config.router or StaticRouter(next(iter(config.venues)), venues=frozenset(config.venues))
        self.router = VenueGuard(inner, self._closed)
        self.orders: dict[str, Order] = {}
        self.accounts: dict[str, AccountRisk] = {}
        self.last: dict[str, MarketData] = {}
        """instrument -> its last quote or trade the OMS has seen (reference prices are derived when needed)."""
        self._references: dict | None = None
        self.queue: list = []
        self.seq = 0
        self.now = 0
        self.journal: list[JournalEvent] = []
        self.fills: list[dict] = []
        self.pnl: list[dict] = []
        self.latencies: list[dict] = []
        self.sent: dict[str, int] = {}
        """request id -> when its command entered the engine (for the answer latency)."""
        self.arrival: dict[str, Decimal | None] = {}
        self.reconciliations: list = []
        self.lost = 0
        self.unanswered = 0
        self.silent: dict[str, int] = {}
        """request id -> when the engine sent it, for requests the model failed (answered at their deadline)."""
        self.resent: set[str] = set()
        """Request ids sent again after a failure (not failed a second time)."""
        self.cash = Decimal(0)
        self.fees = Decimal(0)
        self.next_sample = None

    # -------------------------------------------------------------- plumbing

    def _push(self, at: int, kind: int, payload) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, kind, payload))

    def _closed(self) -> Mapping[str, str]:
        closed = {}
        for name, b in self.breakers.items():
            b = self.breakers[name] = breakers.tick(b, self.config.breaker, self.now)
            if b.effective.value == "OPEN":
                closed[name] = b.effective_reason or "breaker open"
        return closed

    def _risk(self) -> RiskView:
        if self._references is None:
            self._references = {i: (reference_price(e), e.ts_event) for i, e in self.last.items()}
        return RiskView(self.config.controls, self._references)

    def _mark_of(self, instrument: str) -> Decimal | None:
        """The reference price (`oms.domain.positions.reference_price`) of the instrument's last event."""
        event = self.last.get(instrument)
        return reference_price(event) if event is not None else None

    # --------------------------------------------------------------- engine

    def _engine(self, event: Event) -> None:
        outcome = step(self.orders.get, event, self.router, self.now, self._risk(), self.accounts.get)
        self.orders.update(outcome.orders)
        self.accounts.update(outcome.accounts)
        self.journal.extend(outcome.journal)
        for order in outcome.orders.values():
            self.ctx.orders[order.client_order_id] = order
        for request in outcome.requests:
            if request.action is VenueAction.NEW:
                self.arrival[request.order_id] = self._mark_of(request.instrument)
            self.sent[request.request_id] = self.now
            model = self.models.get(request.venue)
            delay = model.entry.draw(self.rngs[request.venue]) if model is not None else 0
            self._push(self.now + delay, _VENUE_REQUEST, request)
        for fill in outcome.fills:
            self._book_fill(fill)
            self._commands(self.strategy.on_fill(fill, self.ctx))

    def _commands(self, commands: Commands) -> None:
        for command in commands or ():
            self._engine(command)

    def _book_fill(self, fill: Fill) -> None:
        venue = self.venues.get(fill.venue)
        passive = venue.passive(fill.exec_id) if venue is not None else False
        notional = fill.quantity * fill.price
        fee = fill.commission  # the venue's fee schedule, charged by the exchange on the fill
        sign = 1 if fill.side is Side.BUY else -1
        self.cash -= sign * notional
        self.fees += fee
        self.ctx.positions[fill.instrument] = self.ctx.position(fill.instrument) + sign * fill.quantity
        arrival = self.arrival.get(fill.order_id)
        slippage = None
        if arrival:
            slippage = (sign * (fill.price - arrival) / arrival * 10_000).quantize(Decimal("0.01"))
        self.fills.append(dict(ts=self.now, venue=fill.venue, instrument=fill.instrument, side=fill.side.value,
                               quantity=fill.quantity, price=fill.price, notional=notional, fee=fee,
                               passive=passive, arrival=arrival, slippage_bps=slippage, order_id=fill.order_id,
                               exec_id=fill.exec_id))

    # --------------------------------------------------------------- venues

    def _at_venue(self, request: VenueRequest) -> None:
        name, now = request.venue, self.now
        venue, model = self.venues[name], self.models[name]
        b, admitted = breakers.admit(breakers.tick(self.breakers[name], self.config.breaker, now),
                                     self.config.breaker, now)
        self.breakers[name] = b
        if request.action in (VenueAction.NEW, VenueAction.REPLACE) and not admitted:
            self._reports(name, [refusal(request, now, f"venue {name} circuit open", "breaker-open")])
            return
        if model.down(now):
            self._failure(name, "venue unavailable (outage)")
            self._reports(name, [refusal(request, now, "venue unavailable (outage)", "unavailable")])
            return
        if (model.api_failure_probability and request.request_id not in self.resent
                and self.rngs[name].random() < model.api_failure_probability):
            if self.rngs[name].random() < model.failure_after_venue:
                self.lost += len(self._handler(venue, request)(request, now))  # taken; the answer is lost
            sent = self.sent.pop(request.request_id, now)
            self.silent[request.request_id] = sent
            self._push(max(sent + self.config.deadline_ns, now), _DEADLINE, request)
            return
        reports = self._handler(venue, request)(request, now)
        if admitted:
            self.breakers[name] = breakers.success(self.breakers[name], self.config.breaker, now)
        self._reports(name, reports)

    @staticmethod
    def _handler(venue: QueueExchange, request: VenueRequest):
        return {VenueAction.NEW: venue.submit, VenueAction.REPLACE: venue.amend,
                VenueAction.CANCEL: venue.cancel}.get(request.action, venue.status)

    def _failure(self, name: str, reason: str) -> None:
        """A breaker failure at venue `name`; counts the breaker's opening."""
        b = self.breakers[name]
        was = b.effective.value
        b = self.breakers[name] = breakers.failure(b, self.config.breaker, self.now, reason)
        if b.effective.value == "OPEN" and was != "OPEN":
            self.opened[name] = self.opened.get(name, 0) + 1

    def _no_answer(self, request: VenueRequest) -> None:
        """A failed request's deadline: a breaker failure, the STATUS query for its order (the answer goes to
        the engine), and the order reconciled with that answer and the venue's executions since the request
        (`oms.venues.reconcile`); then a NEW the venue does not hold is rejected, and a CANCEL or REPLACE of
        an order still working there is sent again under its request id (see the module docstring)."""
        name, now = request.venue, self.now
        venue = self.venues[name]
        sent = self.silent.pop(request.request_id)
        self.unanswered += 1
        waited_ms = (now - sent) // 1_000_000
        self._failure(name, f"no answer to {request.request_id} in {waited_ms} ms")
        answer = [r for r in venue.status(status_probe(request, now), now) if r.exec_type is ExecType.ORDER_STATUS]
        order = self.orders.get(request.order_id)
        reports = list(answer)
        if order is not None:
            result = reconcile(name, [OmsOrder.of_order(order)], answer, venue.fills(sent), ExternalOrders.REJECT,
                               now)
            self.reconciliations.append(result.summary)
            reports += result.reports
            held = answer[0] if answer else None
            unknown = held is None or held.order_status.value == "REJECTED"
            if request.action is VenueAction.NEW and unknown and order.order_id in result.summary.in_flight.split():
                lost = held is None or held.ord_rej_reason is OrderRejectReason.UNKNOWN_ORDER
                reason = (LOST if lost else REJECTED_THERE).format(venue=name, ms=waited_ms)
                reports.append(refusal(request, now, reason, "lost" if lost else "rejected-there"))
            elif request.action is not VenueAction.NEW and not unknown and held.order_status in WORKING:
                self.resent.add(request.request_id)
                self.sent[request.request_id] = sent
                self._push(now + self.models[name].entry.draw(self.rngs[name]), _VENUE_REQUEST, request)
        self._reports(name, reports)

    def _reports(self, venue: str, reports: list[ExecutionReport]) -> None:
        if not reports:
            return
        if self.models[venue].outages and self.models[venue].down(self.now):
            self.lost += len(reports)  # the session is down: the venue keeps them, reconciliation finds them
            return
        rng, latency = self.rngs[venue], self.models[venue].entry
        for report in reports:
            self._push(max(report.ts_event, self.now) + latency.draw(rng), _ENGINE_REPORT, report)

    # ------------------------------------------------------------------ run

    def _handle(self, kind: int, payload) -> None:
        if kind == _VENUE_REQUEST:
            self._at_venue(payload)
        elif kind == _ENGINE_REPORT:
            sent = self.sent.pop(payload.request_id, None)
            if sent is not None:
                self.latencies.append(dict(venue=payload.venue, exec_type=payload.exec_type.value,
                                           ns=self.now - sent))
            self._engine(payload)
        elif kind == _STRATEGY_DATA:
            self._deliver(payload)
        elif kind == _TIMER:
            self._commands(self.strategy.on_timer(self.ctx))
            self._push(self.now + self.config.timer_ns, _TIMER, None)
        elif kind == _COMMAND:
            self._engine(payload)
        elif kind == _RECONNECT:
            self._reconcile(*payload)
        elif kind == _DEADLINE:
            self._no_answer(payload)

    def _reconcile(self, name: str, since: int) -> None:
        """After an outage: the venue's working orders and fills since it went down against the
        engine's orders there (`oms.venues.reconcile`); the repairs go to the engine, the cancels to the venue."""
        venue = self.venues[name]
        oms = [OmsOrder.of_order(o) for o in self.orders.values() if o.venue == name]
        result = reconcile(name, oms, venue.mass_status(self.now), venue.fills(since), ExternalOrders.REJECT,
                           self.now)
        self.reconciliations.append(result.summary)
        self._reports(name, result.reports)
        rng, latency = self.rngs[name], self.models[name].entry
        for request in result.cancels:
            self._push(self.now + latency.draw(rng), _VENUE_REQUEST, request)

    def _deliver(self, event: MarketData) -> None:
        self.last[event.instrument] = event
        self._references = None
        if type(event) is Quote:
            self.ctx.quotes[(event.instrument, event.venue)] = event
            self._commands(self.strategy.on_quote(event, self.ctx))
        else:
            self._commands(self.strategy.on_trade(event, self.ctx))

    def _advance(self, until: int) -> None:
        queue = self.queue
        while queue and queue[0][0] <= until:
            at, _, kind, payload = heapq.heappop(queue)
            self.now = self.ctx.now = max(self.now, at)
            self._handle(kind, payload)

    def _sample(self, now: int) -> None:
        value = sum((q * self._mark_of(i) for i, q in self.ctx.positions.items() if q and i in self.last),
                    Decimal(0))
        self.pnl.append(dict(ts=now, pnl=self.cash + value - self.fees, fees=self.fees, position_value=value))

    def run(self, market_data: Iterable[MarketData]) -> BacktestResult:
        count = 0
        started = False
        for event in market_data:
            t = event.ts_event
            if not started:
                started = True
                self.now = self.ctx.now = t
                self.next_sample = t
                self._commands(self.strategy.on_start(self.ctx))
                if isinstance(self.strategy, Recorded):
                    for command in self.strategy.commands:
                        self._push(command.ts_event, _COMMAND, command)
                if self.config.timer_ns:
                    self._push(t + self.config.timer_ns, _TIMER, None)
                for name, model in self.models.items():
                    for outage in model.outages:
                        self._push(outage.end_ns, _RECONNECT, (name, outage.start_ns))
            if self.queue and self.queue[0][0] <= t:
                self._advance(t)
            self.now = self.ctx.now = t
            count += 1
            venue = self.venues.get(event.venue) if event.venue is not None else None
            targets = (venue,) if venue is not None else self.venues.values() if event.venue is None else ()
            for v in targets:
                reports = v.on_quote(event, t) if type(event) is Quote else v.on_trade(event, t)
                if reports:
                    self._reports(v.name, reports)
            model = self.models.get(event.venue) if event.venue is not None else None
            delay = model.market_data.draw(self.rngs[event.venue]) if model is not None and (
                model.market_data.fixed_ns or model.market_data.jitter_ns) else 0
            if delay:
                self._push(t + delay, _STRATEGY_DATA, event)
            else:
                self._deliver(event)
            if t >= self.next_sample:
                self._sample(t)
                self.next_sample = t + self.config.sample_ns
        # what is still in flight lands; timers stop with the data
        self.queue = [item for item in self.queue if item[2] != _TIMER]
        heapq.heapify(self.queue)
        while self.queue:
            self._advance(self.queue[0][0])
        self._sample(self.now)
        return BacktestResult(self.config, self.journal, self.fills, self._orders(), self.pnl, self.latencies,
                              count, dict(self.opened), self.reconciliations, self.lost, self.unanswered,
                              dict(self.venues))

    def _orders(self) -> list[dict]:
        rows = []
        for order in self.orders.values():
            rows.append(dict(order_id=order.order_id, client_order_id=order.client_order_id,
                             instrument=order.instrument, side=order.side.value, quantity=order.quantity,
                             limit_price=order.limit_price, venue=order.venue, status=order.status.value,
                             cum_qty=order.cum_qty, avg_px=order.avg_px, reason=order.reason))
        return rows


def publish_journal(result: BacktestResult, runtime) -> int:
    """Publish the backtest's journal to the journal topic of `runtime` (a `streams.runtime` connection,
    typically under a sandbox topic prefix), keyed by account as the engine writes it; returns the count."""
    producer = runtime.event_producer()
    for event in result.journal:
        producer.send(runtime.topics.journal, event.account, event)
    producer.flush()
    return len(result.journal)


def run_backtest(market_data: Iterable[MarketData], strategy: Strategy,
                 config: BacktestConfig = BacktestConfig()) -> BacktestResult:
    """Run `strategy` over `market_data` (in `ts_event` order) with `config`; see the module docstring.

    While it runs, the cyclic garbage collector's youngest generation waits for `_GC_YOUNG`
    allocations instead of 700: a run allocates millions of short-lived acyclic values (events,
    orders, decimals), and a collection pass every 700 of them was measured at up to a fifth of its time."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], _GC_YOUNG), *thresholds[1:])
    try:
        return _Runner(strategy, config).run(market_data)
    finally:
        gc.set_threshold(*thresholds)


_GC_YOUNG = 50_000

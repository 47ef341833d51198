"""The routing comparison: one seeded flow of orders run in process through the engine's pure step and simulated
venues, once per routing rule, and the outcomes compared.

This module owns the routing comparison the demo prints and the bench times.
`run_flow(rules, seed, orders)` drives the same deterministic market (three
simulated venues with their own prices, depth and fee schedules, `VENUES`)
and the same orders (60% IOC marketable limits, the rest DAY limits at or near the
touch) through `oms.domain.engine.step` - with `RoutingRules`
(smart routing: parents and children) or without (the static route to one
venue) - feeding each venue's reports back into the step until nothing is
left to decide, on a simulated clock. `FlowResult` holds the fills per venue,
children per venue, fees paid (net of rebates), the cost of the fills and the
venue statistics; `improvement(static, smart)` is the all-in improvement per
share (price against arrival plus fees) of the smart run over the static one on
the same flow, `matched_improvement` the price improvement on the shares both
runs filled of each order. No Kafka: the
venues are `oms.venues.simulated.SimulatedExchange`s, the time `now` a counter.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from oms import ids
from oms.domain.engine import RiskView, step
from oms.domain.sor import VenueStatistics, fold_quote, parse_fees
from oms.ids import is_child
from oms.domain.sor.parent import SmartRouting
from oms.events import NewOrder, OrderStatus, OrderType, Quote, Side, TimeInForce, VenueAction
from oms.routing import RoutingRules, StaticRouter
from oms.venues import handle_request
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig

__all__ = ["FEES", "VENUES", "FlowResult", "improvement", "matched_improvement", "run_flow"]

VENUES = ("SIM-A", "SIM-B", "SIM-C")
FEES = parse_fees("SIM-A=taker:0.0030,maker:-0.0020;SIM-B=taker:0.0010,maker:0;SIM-C=taker:0.1bps,maker:-0.05bps")
LATENCY_NS = {"SIM-A": 200_000, "SIM-B": 500_000, "SIM-C": 1_500_000}
"""Each venue's mean latency (reports come back this much after the request, +-20%)."""
REJECTS = {"SIM-A": 0.0, "SIM-B": 0.01, "SIM-C": 0.03}
"""Each venue's chance of rejecting a new order."""
OFFSETS = {"SIM-A": Decimal("0.00"), "SIM-B": Decimal("0.01"), "SIM-C": Decimal("-0.01")}
"""Each venue's usual price offset from the reference (a draw moves it by a tick either way)."""
START = {"AAPL": Decimal("187.00"), "MSFT": Decimal("411.50")}
T0 = 1_767_258_000_000_000_000
ACCOUNT = "WHATIF-1"
TICK = Decimal("0.01")


@dataclass
class FlowResult:
    fills: Counter = field(default_factory=Counter)
    """venue -> quantity filled there."""
    children: Counter = field(default_factory=Counter)
    """venue -> child orders (or, static, orders) sent there."""
    fees: dict = field(default_factory=lambda: defaultdict(Decimal))
    """venue -> commissions paid (negative: rebates earned)."""
    cost: Decimal = Decimal(0)
    """Sum over fills of qty * px, buys positive and sells negative (what the flow paid, net)."""
    quantity: Decimal = Decimal(0)
    """Quantity filled, buys and sells alike."""
    signed_arrival: Decimal = Decimal(0)
    """Sum over fills of qty * arrival price, signed like `cost`."""
    orders: int = 0
    filled_orders: int = 0
    journal: int = 0
    stats: VenueStatistics = field(default_factory=VenueStatistics)
    by_order: dict = field(default_factory=lambda: defaultdict(list))
    """order id -> its fills in the order they came, as (quantity, price, side sign)."""
    step_ns: list = field(default_factory=list)
    """The engine step's time for each NewOrder (with the routing it triggers), in ns."""

    @property
    def total_fees(self) -> Decimal:
        return sum(self.fees.values(), Decimal(0))

    @property
    def slippage_per_share(self) -> Decimal:
        """Mean (price paid - arrival) per share, sells mirrored: lower is better."""
        return (self.cost - self.signed_arrival) / self.quantity if self.quantity else Decimal(0)


def improvement(static: FlowResult, smart: FlowResult) -> Decimal:
    """Price improvement per share of `smart` over `static` (fees included): positive is better."""
    def all_in(result: FlowResult) -> Decimal:
        return result.slippage_per_share + (result.total_fees / result.quantity if result.quantity else 0)
    return all_in(static) - all_in(smart)


def _first(fills: list, shares: Decimal) -> Decimal:
    """The notional of the first `shares` of `fills` (in the order they came)."""
    notional, left = Decimal(0), shares
    for qty, px, _ in fills:
        take = min(qty, left)
        notional += take * px
        left -= take
        if left <= 0:
            break
    return notional


def matched_improvement(static: FlowResult, smart: FlowResult) -> Decimal:
    """Price improvement per share of `smart` over `static` on the shares both runs filled of each
    order: for each order the first min(filled) shares of each run, static's notional minus smart's
    (sells mirrored), summed over orders and divided by the shares compared. Fees are left out (see
    `improvement`): this is the price alone."""
    shares = gained = Decimal(0)
    for order_id, fills in static.by_order.items():
        other = smart.by_order.get(order_id)
        if not fills or not other:
            continue
        common = min(sum(q for q, _, _ in fills), sum(q for q, _, _ in other))
        gained += fills[0][2] * (_first(fills, common) - _first(other, common))
        shares += common
    return gained / shares if shares else Decimal(0)


def _market(rng: random.Random, refs: dict[str, Decimal], n: int, now: int) -> list[Quote]:
    quotes = []
    for instrument in sorted(refs):
        refs[instrument] += TICK * rng.choice((-2, -1, 0, 0, 1, 2))
        for venue in VENUES:
            mid = refs[instrument] + OFFSETS[venue] + TICK * rng.choice((-1, 0, 0, 1))
            size = Decimal(rng.choice((100, 200, 300, 500)))
            quotes.append(Quote(event_id=f"q{n}-{instrument}-{venue}", ts_event=now, ts_init=now, instrument=instrument,
                                venue=venue, bid_price=mid - TICK, bid_size=size, ask_price=mid + TICK, ask_size=size))
    return quotes


def run_flow(rules: RoutingRules | None, seed: int = 7, orders: int = 200) -> FlowResult:
    """The seeded flow through the engine with `rules` (None: static routing to SIM-A)."""
    rng = random.Random(seed)
    venues = {v: SimulatedExchange(v, seed, SimulatedVenueConfig(
        fees=FEES[v], resting_fill_probability=0.7, latency_ns=LATENCY_NS[v], latency_jitter_ns=LATENCY_NS[v] // 5,
        reject_probability=REJECTS[v])) for v in VENUES}
    router = StaticRouter("SIM-A", venues=frozenset(VENUES))
    store: dict = {}
    accounts: dict = {}
    risk = RiskView()
    result = FlowResult()
    books: dict = {}
    refs = dict(START)
    arrival: dict[str, Decimal] = {}
    now = T0

    def smart() -> SmartRouting | None:
        return None if rules is None else SmartRouting(rules.strategy_for, books, result.stats, {}, FEES)

    def decide(event) -> None:
        nonlocal now
        pending = [event]
        while pending:
            item = pending.pop(0)
            now = max(now + 1_000, item.ts_event)  # a venue's report arrives at its (simulated) event time
            t0 = time.perf_counter_ns()
            outcome = step(store.get, item, router, now, risk, accounts.get, smart=smart())
            if isinstance(item, NewOrder):
                result.step_ns.append(time.perf_counter_ns() - t0)
            store.update(outcome.orders)
            accounts.update(outcome.accounts)
            result.journal += len(outcome.journal)
            for event in outcome.journal:
                result.stats.apply(event)
            for fill in outcome.fills:
                sign = 1 if fill.side is Side.BUY else -1
                result.fills[fill.venue] += fill.quantity
                result.fees[fill.venue] += fill.commission
                result.cost += sign * fill.quantity * fill.price
                result.signed_arrival += sign * fill.quantity * arrival[fill.order_id]
                result.quantity += fill.quantity
                result.by_order[fill.order_id].append((fill.quantity, fill.price, sign))
            for request in outcome.requests:
                if request.action is VenueAction.NEW:
                    result.children[request.venue] += 1
                pending += handle_request(venues[request.venue], request, now)

    for n in range(orders):
        now += 1_000_000
        for quote in _market(rng, refs, n, now):
            books = fold_quote(books, quote)
            for report in venues[quote.venue].on_quote(quote, now):
                decide(report)
        instrument = rng.choice(sorted(START))
        side = rng.choice((Side.BUY, Side.SELL))
        book = books[instrument]
        best = book.arrival_price(side)
        immediate = rng.random() < 0.6  # most of the flow must trade now (IOC); the rest may rest (DAY)
        reach = TICK * rng.choice((1, 2, 3) if immediate else (0, 1))
        limit = best + reach if side is Side.BUY else best - reach
        quantity = Decimal(rng.choice((100, 200, 300, 500, 800)))
        order = NewOrder(event_id=f"whatif-{n}", ts_event=now, ts_init=now, account=ACCOUNT, trader="whatif",
                         client_order_id=f"w{n}", instrument=instrument, side=side, order_type=OrderType.LIMIT,
                         quantity=quantity, limit_price=limit,
                         time_in_force=TimeInForce.IOC if immediate else TimeInForce.DAY)
        arrival[ids.order_id(ACCOUNT, order.client_order_id)] = best
        result.orders += 1
        decide(order)
    result.filled_orders = sum(1 for oid, o in store.items() if not is_child(oid) and o.status is OrderStatus.FILLED)
    return result

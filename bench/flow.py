"""Bench data made the way the OMS makes it: commands through the pure engine and a simulated venue.

`journal(events)` builds a journal of about `events` records by running real
client commands (`oms.commands`) through the engine's pure step
(`oms.domain.engine.step`) and a seeded `SimulatedExchange` in memory, on a
`TestClock`: orders in several accounts are accepted, routed, acknowledged and
filled in partial fills as quotes with limited size arrive. `sample_new_order`
and `sample_fill_report` are one realistic command and one partial-fill report
for the codec bench. Benchmarks build their inputs here, never from the tests.
"""

from __future__ import annotations

from decimal import Decimal as D

from oms import commands
from oms.clock import TestClock
from oms.domain.engine import step
from oms.domain.orders import Order
from oms.events import ExecType, ExecutionReport, JournalEvent, NewOrder, OrderStatus, Quote, Side
from oms.routing import StaticRouter
from oms.venues import handle_request
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig

T0 = 1_767_258_000_000_000_000
"""2026-01-01T09:00:00Z in nanoseconds."""
VENUE = "SIM"
MS = 1_000_000


def sample_new_order() -> NewOrder:
    return commands.new_order(
        TestClock(T0), account="ACC-001", trader="trader.jane", client_order_id="cl-0001", instrument="AAPL",
        side="BUY", quantity="100", limit_price="187.25", time_in_force="DAY", venue="XNAS",
    )


def sample_fill_report() -> ExecutionReport:
    """A partial fill: 40 of 100 at 187.24."""
    return ExecutionReport(
        event_id="XNAS-exec-0002", ts_event=T0, ts_init=T0 + 250_000, venue="XNAS", account="ACC-001",
        order_id="O0123456789abcdef0123", request_id="O0123456789abcdef0123.2", exec_id="XNAS-exec-0002",
        exec_type=ExecType.PARTIAL_FILL, order_status=OrderStatus.PARTIALLY_FILLED, instrument="AAPL",
        side=Side.BUY, order_qty=D("100"), last_qty=D("40"), last_px=D("187.24"), cum_qty=D("40"),
        leaves_qty=D("60"), avg_px=D("187.24"), limit_price=D("187.25"), commission=D("0.40"),
        venue_order_id="XNAS-7788",
    )


def _quote(instrument: str, n: int, now: int, size: str) -> Quote:
    bid = D(100 + n % 13) + D("0.25")
    return Quote(event_id=f"q-{instrument}-{n}", ts_event=now, ts_init=now, instrument=instrument, venue=VENUE,
                 bid_price=bid, bid_size=D(size), ask_price=bid + D("0.01"), ask_size=D(size))


def journal(events: int = 20_000, accounts: int = 12, instruments: int = 7, seed: int = 7) -> list[JournalEvent]:
    """About `events` journal records from market buy orders of 100, each filled 25 at a time."""
    clock = TestClock(T0)
    router = StaticRouter(VENUE)
    venue = SimulatedExchange(VENUE, seed, SimulatedVenueConfig(max_fill_fraction=D(1)))
    orders: dict[str, Order] = {}
    out: list[JournalEvent] = []

    def apply(event) -> list:
        outcome = step(orders.get, event, router, clock.now_ns())
        orders.update(outcome.orders)
        out.extend(outcome.journal)
        reports = []
        for request in outcome.requests:
            reports += handle_request(venue, request, clock.now_ns())
        return reports

    n = 0
    while len(out) < events:
        instrument = f"SYM{n % instruments}"
        venue.on_quote(_quote(instrument, n, clock.advance(MS), "25"), clock.now_ns())
        command = commands.new_order(
            clock, account=f"ACC-{n % accounts:03d}", trader="bench", client_order_id=f"cl-{n}",
            instrument=instrument, side="BUY", quantity="100", limit_price=str(_quote(instrument, n, 0, "1").ask_price),
            time_in_force="GTC",
        )
        pending = apply(command)
        for _ in range(4):  # four quotes of 25 fill the rest of the order
            clock.advance(MS)
            while pending:
                pending = [r for report in pending for r in apply(report)]
            pending = venue.on_quote(_quote(instrument, n, clock.now_ns(), "25"), clock.now_ns())
        while pending:
            pending = [r for report in pending for r in apply(report)]
        n += 1
    return out

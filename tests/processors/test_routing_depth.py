"""Depth on the wire, end to end on the real broker: quotes with levels published on `marketdata` reach the
engine's consolidated book level for level, and the smart router splits and sweeps by the depth two venues
display; the simulated venues (behind a venue gateway) fill the children through the same depth.

The synthetic feed goes out through the market data handler (`run_synthetic`, two venues shaped differently,
five levels) and the engine's book is compared with what the same seeded feed shows. Then explicit books:
A shows 100 @ 100.01, 200 @ 100.02, 300 @ 100.03 and B 50 @ 100.01, 50 @ 100.02. A split buy of 350 up to
100.02 sees 300 at A and 100 at B within its limit (top of book alone would show 100 and 50) and sends 263
and 87; a sweep of 250 up to 100.03 takes 100.01 then 100.02, B first at each price (its lower taker fee),
and fills B 100 and A 150 through the second level instead of posting what the top would not cover.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal as D
from uuid import uuid4

import pytest

from oms import ids
from oms.clock import LiveClock, TestClock
from oms.config import Settings
from oms.domain.sor import parse_fees
from oms.events import OrderFilled, Quote, RoutingDecided
from oms.marketdata import SyntheticFeed, VenueDepth, VenueShape
from oms.routing import RoutingRules, StaticRouter
from oms.venues.policy import VenueLimits, VenuePolicy
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig
from processors.engine import SmartRoutingSource, create_engine, follow_books, follow_venue_status
from processors.marketdata_handler import run_synthetic
from streams.client import OrderClient
from streams.runtime import connect
from streams.views import TopicView
from tests.gateway_thread import gateway_thread

pytestmark = pytest.mark.kafka

FEES = parse_fees("A=taker:0.003,maker:-0.002;B=taker:0.001,maker:0")
SHAPES = {"A": VenueShape(), "B": VenueShape(offset=D("0.01"), spread=D("0.04"), size=D(300))}
T0 = 1_717_425_000_000_000_000


def depth_quote(venue: str, n: int, asks: list[tuple[str, int]], bids: list[tuple[str, int]]) -> Quote:
    now = time.time_ns()
    ask_levels = [{"price": D(p), "size": D(s)} for p, s in asks]
    bid_levels = [{"price": D(p), "size": D(s)} for p, s in bids]
    return Quote(event_id=f"q-{venue}-{n}", ts_event=now, ts_init=now, instrument="AAPL", venue=venue,
                 bid_price=bid_levels[0]["price"], bid_size=bid_levels[0]["size"], ask_price=ask_levels[0]["price"],
                 ask_size=ask_levels[0]["size"], bid_levels=bid_levels, ask_levels=ask_levels)


A_BOOK = dict(asks=[("100.01", 100), ("100.02", 200), ("100.03", 300)], bids=[("100.00", 100), ("99.99", 100)])
B_BOOK = dict(asks=[("100.01", 50), ("100.02", 50)], bids=[("100.00", 50)])


def test_depth_on_the_wire_reaches_the_book_and_routes_splits_and_sweeps(bootstrap_servers, tmp_path):
    settings = Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"d{uuid4().hex[:8]}.", home=tmp_path,
                        partitions=3)
    rt = connect(settings)
    rt.ensure_topics()
    clock = LiveClock()
    exchanges = {name: SimulatedExchange(name, 7, SimulatedVenueConfig(fees=FEES[name])) for name in "AB"}
    limits = VenueLimits(venues={name: VenuePolicy(max_wait_ms=10_000) for name in exchanges})
    stop = threading.Event()
    venues = follow_venue_status(bootstrap_servers, rt.topics, rt.codec)
    books = follow_books(bootstrap_servers, rt.topics, rt.codec)
    smart = SmartRoutingSource(RoutingRules.parse("account:SPLIT-1=split,default=best"), FEES, books, venues)
    engine = create_engine(bootstrap_servers, rt.topics, rt.codec, tmp_path, clock=clock, venues=venues, smart=smart,
                           router=StaticRouter("A", venues=frozenset("AB")))
    engine_thread = threading.Thread(target=engine.run, args=(stop,), name="order-engine", daemon=True)
    journal = TopicView(rt, rt.topics.journal, keep_all=True)
    fills = TopicView(rt, rt.topics.fills, keep_all=True)
    producer = rt.event_producer()
    client = OrderClient(producer, rt.topics, trader="tester", clock=clock)
    numbers = iter(range(1_000_000))

    def show(venue: str, book: dict) -> Quote:
        quote = depth_quote(venue, next(numbers), **book)
        producer.send(rt.topics.marketdata, "AAPL", quote)
        producer.flush()
        return quote

    def wait(predicate, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        journal.refresh(idle=0.1)
        seen = "\n".join(f"{type(e).__name__} {getattr(e, 'order_id', '')} {getattr(e, 'reason', '')}"
                         for e in journal.all[-12:])
        raise AssertionError(f"timed out waiting for {what}; the journal ends with:\n{seen}")

    def shows(instrument: str, venue: str, quote: Quote) -> bool:
        book = books.value.get(instrument)
        shown = book.venues.get(venue) if book is not None else None
        return shown is not None and shown.ts_event == quote.ts_event and [tuple(x) for x in shown.asks] == [
            (x.price, x.size) for x in quote.ask_levels] and [tuple(x) for x in shown.bids] == [
            (x.price, x.size) for x in quote.bid_levels]

    def decision(order_id: str) -> RoutingDecided:
        journal.refresh(idle=0.1)
        [decided] = [e for e in journal.all if isinstance(e, RoutingDecided) and e.order_id == order_id]
        return decided

    def filled(order_id: str) -> bool:
        """Whether the parent's journal has its last fill (nothing left)."""
        journal.refresh(idle=0.1)
        return any(isinstance(e, OrderFilled) and e.order_id == order_id and e.leaves_qty == 0 for e in journal.all)

    def fills_of(order_id: str) -> list[tuple[str, D, D]]:
        """The parent's fills on `fills` (venue, quantity, price), sorted."""
        fills.refresh(idle=0.2)
        return sorted((f.venue, f.quantity, f.price) for f in fills.all if f.order_id == order_id)

    def venue_shows(venue: str, quote: Quote) -> bool:
        """Whether the simulated venue holds `quote`'s levels whole (none taken since it came)."""
        return exchanges[venue].displayed("AAPL") == (tuple((x.price, x.size) for x in quote.bid_levels),
                                                      tuple((x.price, x.size) for x in quote.ask_levels))

    def buy_on_fresh_depth(account: str, quantity: str, limit: str) -> tuple[str, RoutingDecided]:
        """Show A_BOOK and B_BOOK afresh, wait until the engine's book and both venues have them (the gateway
        reads the quotes on its own), buy; the parent's id and routing decision once it is filled."""
        quotes = [show("A", A_BOOK), show("B", B_BOOK)]
        wait(lambda: shows("AAPL", "A", quotes[0]) and shows("AAPL", "B", quotes[1]), "the AAPL depth")
        wait(lambda: venue_shows("A", quotes[0]) and venue_shows("B", quotes[1]), "the AAPL depth at the venues")
        client.new_order(account=account, client_order_id="buy", instrument="AAPL", side="BUY", quantity=quantity,
                         limit_price=limit)
        client.flush()
        order_id = ids.order_id(account, "buy")
        wait(lambda: filled(order_id), f"the {account} buy to fill")
        return order_id, decision(order_id)

    try:
        with gateway_thread(settings, [], 0, runtime=rt, adapters=exchanges, limits=limits, reconcile=None):
            engine_thread.start()
            assert books.wait_caught_up(30)

            # 1. the market data handler's depth for two venues reaches the engine's book level for level
            published = run_synthetic(settings, {"MSFT": D("411.50")}, seed=5, rate_hz=50, duration_s=0.1,
                                      clock=TestClock(T0), runtime=rt, venues=SHAPES, depth=5)
            feed, shown = SyntheticFeed({"MSFT": D("411.50")}, 5), VenueDepth(SHAPES, 5, depth=5)
            sent = [tagged for _ in range(5) for event in feed.next(T0) for tagged in shown.tagged(event)]
            assert published == len(sent)
            last = {q.venue: q for q in sent if isinstance(q, Quote)}
            assert [len(last[v].ask_levels) for v in "AB"] == [5, 5]
            wait(lambda: all(shows("MSFT", v, last[v]) for v in "AB"), "the synthetic depth in the engine's book")
            best = min(q.ask_price for q in last.values())
            at_best = sum(q.ask_size for q in last.values() if q.ask_price == best)
            assert (books.value["MSFT"].best_offer().price, books.value["MSFT"].best_offer().size) == (best, at_best)
            assert last["B"].ask_price - last["B"].bid_price == D("0.04") and last["B"].ask_size == D(300)

            # 2. a split follows the depth each venue shows within the limit: 300 at A, 100 at B
            split, decided = buy_on_fresh_depth("SPLIT-1", "350", "100.02")
            assert decided.strategy == "split"
            assert "A=300 (depth within the limit)" in decided.considered
            assert "B=100 (depth within the limit)" in decided.considered
            placed = sorted(p.split()[1:] for p in decided.placed.split("; "))
            assert placed == [["A", "263@100.02"], ["B", "87@100.02"]]
            assert fills_of(split) == [("A", D(100), D("100.01")), ("A", D(163), D("100.02")),
                                       ("B", D(37), D("100.02")), ("B", D(50), D("100.01"))]

            # 3. a sweep takes 100.01 then 100.02 across both venues, B first at each price (lower taker fee)
            sweep, decided = buy_on_fresh_depth("SWEEP-1", "250", "100.03")
            assert decided.strategy == "best"
            assert [p.split()[1:] for p in decided.placed.split("; ")] == [["B", "100@100.02"], ["A", "150@100.02"]]
            assert fills_of(sweep) == [("A", D(50), D("100.02")), ("A", D(100), D("100.01")),
                                       ("B", D(50), D("100.01")), ("B", D(50), D("100.02"))]
    finally:
        stop.set()
        engine_thread.join(30)
        for view in (journal, fills):
            view.close()
        venues.stop()
        books.stop()

"""The OMS trading over FIX on the real broker against the real QuickFIX/J acceptor, end to end.

One OMS for the module: the worker and one venue gateway process
(`python -m entrypoints.venue --venues SIM --fix FIXV.toml --fix FIXR.toml`)
serving the simulator and two FIX venues, each FIX venue its own session
(SenderCompID) at the session's acceptor (`tests/conftest.py`). FIXR is rate
limited to 20 requests a second (`OMS_VENUE_LIMITS`). Each test trades under
its own account and checks the journal, the `orders` view, the fills and the
positions against what the acceptor did:

* the whole lifecycle: new, partial fills, replace, a cancel rejected by the
  venue (its fill withheld, so the reject arrives over a sequence gap and the
  fill is resent first), cancel;
* a disconnect while the exchange keeps filling: resend and reconciliation
  book every fill exactly once, a `VenueReconciliation` is published;
* a burst over the rate limit: the acceptor never sees more than 20 a second
  and a cancel sent after the burst overtakes the NEWs still queued;
* kill -9 of the gateway with fills made while it is dead: after the restart
  the OMS converges with the acceptor's book, no fill lost or doubled.
"""

from __future__ import annotations

import json
import signal
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest

from entrypoints.supervisor import Processes
from oms import ids
from oms.clock import LiveClock
from oms.config import Settings
from oms.events import ExecType, OrderStatus, VenueReconciliation
from streams.client import OrderClient
from streams.runtime import connect
from streams.views import TopicView
from tests.pipeline import Pipeline

pytestmark = pytest.mark.kafka

FIXV, FIXR = "FIXV", "FIXR"
RATE = 20
LIMITS = {FIXR: {"pools": {"orders": {"per_second": RATE, "burst": 1}}, "max_wait_ms": 30_000}}


def write_fix_config(path: Path, venue: str, comp_id: str, acceptor) -> Path:
    """A FIX venue configuration file as an operator writes it (data_dir and cache_dir left to the defaults)."""
    path.write_text(f'venue = "{venue}"\nsender_comp_id = "{comp_id}"\ntarget_comp_id = "{acceptor.comp_id}"\n'
                    f'port = {acceptor.info.port}\nreconnect_interval = 1\nheartbeat = 5\n')
    return path


class FixOms:
    """The module's OMS: a `Pipeline` (views, client, processes) plus its FIX sessions and reconciliations."""

    def __init__(self, bootstrap_servers: str, home: Path, acceptor) -> None:
        self.acceptor = acceptor
        self.comp_ids = {FIXV: f"OMS{uuid4().hex[:10].upper()}", FIXR: f"OMS{uuid4().hex[:10].upper()}"}
        self.configs = [write_fix_config(home / f"{v}.toml", v, c, acceptor) for v, c in self.comp_ids.items()]
        settings = Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"t{uuid4().hex[:10]}.", home=home,
                            partitions=3, venue_limits=json.dumps(LIMITS))
        rt = connect(settings)
        rt.ensure_topics()
        procs = Processes(settings, bootstrap_servers)
        self.p = Pipeline(rt, procs, OrderClient(rt.event_producer(), rt.topics, trader="tester", clock=LiveClock()))
        for name in ("orders", "fills", "journal", "positions", "exec_reports"):
            self.p.views[name] = TopicView(rt, getattr(rt.topics, name), keep_all=True)
        self.p.views["reconciliations"] = TopicView(rt, rt.topics.venue_reconciliations, keep_all=True)
        self.start_gateway()
        procs.start_worker("--venues", f"SIM,{FIXV},{FIXR}")
        self.wait_reconciled({FIXV: 1, FIXR: 1}, what="both FIX venues logged on and reconciled")

    def start_gateway(self) -> None:
        args = ["--venues", "SIM", "--no-create-topics"]
        for config in self.configs:
            args += ["--fix", str(config)]
        self.p.procs.start("venue", "entrypoints.venue", *args)

    def reconciliations(self, venue: str) -> list[VenueReconciliation]:
        return [r for r in self.p.views["reconciliations"].all or [] if r.venue == venue]

    def wait_reconciled(self, counts: dict[str, int], what: str, timeout: float = 60) -> None:
        self.p.wait(lambda: all(len(self.reconciliations(v)) >= n for v, n in counts.items()), timeout, what)

    def view(self, order_id: str):
        return self.p.views["orders"].latest.get(order_id)

    def status(self, order_id: str) -> OrderStatus | None:
        view = self.view(order_id)
        return None if view is None else view.status

    def cl_ord_id(self, order_id: str) -> str:
        """The ClOrdID the order was sent with (its NEW request id: the acceptor knows the chain by it)."""
        return next(r.request_id for r in self.p.views["exec_reports"].all
                    if r.order_id == order_id and r.exec_type is ExecType.NEW)

    def venue_order_id(self, order_id: str) -> str:
        return next(r.venue_order_id for r in self.p.views["exec_reports"].all
                    if r.order_id == order_id and r.exec_type is ExecType.NEW)

    def new(self, account: str, cl: str, venue: str, quantity: int, price: str) -> str:
        self.p.client.new_order(account=account, client_order_id=cl, instrument="AAPL", side="BUY",
                                quantity=quantity, limit_price=price, venue=venue)
        return ids.order_id(account, cl)

    def fills(self, account: str) -> list:
        return [f for f in self.p.views["fills"].all or [] if f.account == account]

    def journal(self, account: str) -> list:
        return [e for e in self.p.journal() if getattr(e, "account", None) == account]

    def assert_books_agree(self, account: str) -> None:
        """One fill per exec id, the journal's fills equal the `fills` topic, and the position is their sum."""
        self.p.refresh()
        fills = self.fills(account)
        assert len({f.exec_id for f in fills}) == len({f.fill_id for f in fills}) == len(fills)
        filled = [e for e in self.journal(account) if type(e).__name__ == "OrderFilled"]
        assert sorted(e.last_qty for e in filled) == sorted(f.quantity for f in fills)
        total = sum((f.quantity * f.side.sign for f in fills), Decimal(0))

        def position() -> Decimal:
            held = self.p.views["positions"].latest.get(f"{account}|AAPL")
            return held.quantity if held is not None else Decimal(0)

        self.p.wait(lambda: position() == total, 30, f"the position to reach the sum of fills {total}")
        for order_id in {f.order_id for f in fills}:
            assert self.view(order_id).cum_qty == sum(f.quantity for f in fills if f.order_id == order_id)


@pytest.fixture(scope="module")
def oms(bootstrap_servers, fix_acceptor, tmp_path_factory):
    fix_oms = FixOms(bootstrap_servers, tmp_path_factory.mktemp("fix-oms"), fix_acceptor)
    yield fix_oms
    fix_oms.p.stop()


def test_lifecycle_over_fix_new_partial_fills_replace_cancel_reject_and_cancel(oms: FixOms):
    account = f"LC{uuid4().hex[:6]}"
    a = oms.new(account, "a", FIXV, 100, "99.00")
    b = oms.new(account, "b", FIXV, 40, "98.00")
    oms.p.client.flush()
    oms.p.wait(lambda: oms.status(a) is OrderStatus.NEW and oms.status(b) is OrderStatus.NEW, 30, "both acked")
    assert (oms.view(a).venue, oms.view(a).leaves_qty) == (FIXV, 100)

    oms.acceptor.control(f"fill {oms.cl_ord_id(a)} 30 99")  # a partial fill
    oms.p.wait(lambda: oms.status(a) is OrderStatus.PARTIALLY_FILLED, 30, "the partial fill")
    oms.p.client.amend(account=account, client_order_id="a2", orig_client_order_id="a", quantity=80,
                       limit_price="99.50")
    oms.p.client.flush()
    oms.p.wait(lambda: oms.view(a).quantity == 80 and oms.status(a) is OrderStatus.PARTIALLY_FILLED, 30,
               "the replace")
    assert oms.view(a).limit_price == Decimal("99.50")
    oms.acceptor.control(f"fill {oms.cl_ord_id(a)} 20 99.5")
    oms.p.wait(lambda: oms.view(a).cum_qty == 50, 30, "the second partial fill")

    # the venue fills the rest but withholds the report; the cancel crosses it and is rejected (order
    # closed), that reject arrives over a sequence gap: the fill is resent first and booked once
    oms.acceptor.control(f"withhold 1 {oms.comp_ids[FIXV]}")
    oms.acceptor.control(f"fill {oms.cl_ord_id(a)} 30 99.5")
    oms.p.client.cancel(account=account, client_order_id="a3", orig_client_order_id="a")
    oms.p.client.cancel(account=account, client_order_id="b2", orig_client_order_id="b")
    oms.p.client.flush()
    oms.p.wait(lambda: oms.status(a) is OrderStatus.FILLED and oms.status(b) is OrderStatus.CANCELED
               and any(type(e).__name__ == "OrderCancelRejected" for e in oms.journal(account)), 30,
               "the fill, the cancel reject and the cancel")

    [venue_a] = [o for o in oms.acceptor.book(oms.comp_ids[FIXV]).values()
                 if o["order_id"] == oms.venue_order_id(a)]
    assert (venue_a["status"], Decimal(venue_a["cum_qty"])) == ("2", 80)  # the acceptor and the OMS agree
    assert (oms.view(a).cum_qty, oms.view(a).leaves_qty, oms.view(b).cum_qty) == (80, 0, 0)
    kinds = [type(e).__name__ for e in oms.journal(account) if e.order_id == a]
    assert kinds.count("OrderFilled") == 3 and "OrderReplaced" in kinds and "OrderCancelRejected" in kinds
    assert [f.quantity for f in oms.fills(account)] == [30, 20, 30]
    assert "OrderCanceled" in [type(e).__name__ for e in oms.journal(account) if e.order_id == b]
    oms.assert_books_agree(account)


def test_disconnect_while_the_exchange_fills_books_every_fill_once(oms: FixOms):
    account = f"DC{uuid4().hex[:6]}"
    orders = [oms.new(account, f"d{n}", FIXV, 10 + n, "97.00") for n in range(6)]
    oms.p.client.flush()
    oms.p.wait(lambda: all(oms.status(o) is OrderStatus.NEW for o in orders), 30, "the orders resting")
    oms.acceptor.control(f"fill {oms.cl_ord_id(orders[0])} 4 97")  # one partially filled before the drop
    oms.p.wait(lambda: oms.status(orders[0]) is OrderStatus.PARTIALLY_FILLED, 30, "the first fill")
    before = len(oms.reconciliations(FIXV))

    comp_id = oms.comp_ids[FIXV]
    oms.acceptor.control(f"refuse {comp_id} on")
    oms.acceptor.control(f"drop {comp_id}")
    assert oms.acceptor.control(f"fill-all 96.5 {comp_id}") == "6"  # filled while the OMS is away
    oms.acceptor.control(f"refuse {comp_id} off")

    oms.wait_reconciled({FIXV: before + 1}, "the reconnect's reconciliation")
    oms.p.wait(lambda: all(oms.status(o) is OrderStatus.FILLED for o in orders), 30, "every order filled")
    report = oms.reconciliations(FIXV)[-1]
    assert report.venue == FIXV and report.policy
    for order, n in zip(orders, range(6)):
        assert oms.view(order).cum_qty == 10 + n
    fills = oms.fills(account)
    assert len(fills) == 7  # 4 before the drop, then the rest of every order: each once
    oms.assert_books_agree(account)


def test_a_burst_beyond_the_rate_limit_is_paced_and_a_cancel_overtakes_it(oms: FixOms):
    account = f"RL{uuid4().hex[:6]}"
    burst = 3 * RATE
    orders = [oms.new(account, f"r{n}", FIXR, 1, "95.00") for n in range(burst)]
    oms.p.client.cancel(account=account, client_order_id="r0-x", orig_client_order_id="r0")  # after the burst
    oms.p.client.flush()
    oms.p.wait(lambda: all(oms.status(o) is OrderStatus.NEW for o in orders[1:])
               and oms.status(orders[0]) is OrderStatus.CANCELED, 60, "the burst acked and the cancel done")

    reports = [r for r in oms.p.views["exec_reports"].all if r.account == account]
    canceled = next(i for i, r in enumerate(reports) if r.exec_type is ExecType.CANCELED)
    acked_after = [r for r in reports[canceled:] if r.exec_type is ExecType.NEW]
    assert len(acked_after) >= burst // 2, f"the cancel waited behind {burst - 1 - len(acked_after)} queued NEWs"
    most, total = oms.acceptor.max_rate(oms.comp_ids[FIXR])
    assert total >= burst + 1 and most <= RATE, (most, total)


def test_kill_9_of_the_fix_gateway_then_restart_converges_with_the_acceptor(oms: FixOms):
    account = f"K9{uuid4().hex[:6]}"
    comp_id = oms.comp_ids[FIXV]
    orders = [oms.new(account, f"k{n}", FIXV, 10, "96.00") for n in range(5)]
    oms.p.client.flush()
    oms.p.wait(lambda: all(oms.status(o) is OrderStatus.NEW for o in orders), 30, "the orders resting")
    oms.acceptor.control(f"fill {oms.cl_ord_id(orders[0])} 10 96")
    oms.acceptor.control(f"fill {oms.cl_ord_id(orders[1])} 3 96")
    oms.p.wait(lambda: oms.status(orders[0]) is OrderStatus.FILLED, 30, "a fill before the kill")
    before = len(oms.reconciliations(FIXV))
    cl_ord_ids = {o: oms.cl_ord_id(o) for o in orders}

    oms.p.procs.kill("venue", signal.SIGKILL)
    oms.acceptor.control(f"fill {cl_ord_ids[orders[1]]} 7 95.9")  # the exchange trades on without the OMS
    oms.acceptor.control(f"fill {cl_ord_ids[orders[2]]} 5 95.8")
    oms.start_gateway()

    oms.wait_reconciled({FIXV: before + 1}, "the restarted gateway's reconciliation")
    oms.p.wait(lambda: oms.status(orders[1]) is OrderStatus.FILLED
               and oms.status(orders[2]) is OrderStatus.PARTIALLY_FILLED, 30, "the missed fills booked")
    book = oms.acceptor.book(comp_id)
    for order in orders:
        venue = book[cl_ord_ids[order]]
        assert Decimal(venue["cum_qty"]) == oms.view(order).cum_qty, order
        assert Decimal(venue["leaves_qty"]) == oms.view(order).leaves_qty, order
    fills = oms.fills(account)
    assert sorted(f.quantity for f in fills) == [3, 5, 7, 10]
    orders_of = defaultdict(set)
    for r in oms.p.views["exec_reports"].all:
        orders_of[r.exec_id].add(r.order_id)
    assert {e: o for e, o in orders_of.items() if len(o) > 1} == {}
    oms.assert_books_agree(account)

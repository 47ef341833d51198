"""kill -9 of the venue gateway on the real broker, then a restart: reconciliation at start makes
the OMS converge with the venue, with the venue's book kept (the orders still rest there) and
lost (the OMS cancels them, reason "unknown at venue on reconciliation"). Afterwards: every order's
state equals the venue's, no exec id names two orders on `exec.reports`, positions equal the sum of
fills, and cancels of every order still open succeed."""

from __future__ import annotations

import signal
from collections import defaultdict
from decimal import Decimal

import pytest

from oms import ids
from oms.events import ExecType, OrderStatus, VenueReconciliation
from oms.venues.reconcile import UNKNOWN_AT_VENUE
from streams.views import TopicView
from tests.pipeline import Pipeline

pytestmark = [pytest.mark.kafka]

RESTING = 12
FILLED = 3
ACCOUNT = "GW1"


def _start_gateway(p: Pipeline, state_dir) -> None:
    args = ["--venues", "SIM", "--seed", "7"] + (["--state-dir", str(state_dir)] if state_dir else [])
    p.procs.start("venue", "tests.processors.gateway_process", *args)


@pytest.mark.parametrize("keep_book", [True, False], ids=["book-kept", "book-lost"])
def test_kill_9_the_gateway_and_restart_converges_with_the_venue(bootstrap_servers, tmp_path, unique_name,
                                                                  keep_book):
    p = Pipeline.start(bootstrap_servers, f"{unique_name}.", tmp_path)
    state_dir = tmp_path / "venues" if keep_book else None
    p.procs.stop("venue")  # the pipeline's gateway, replaced by one whose book can be kept
    _start_gateway(p, state_dir)
    reconciliations = TopicView(p.rt, p.rt.topics.name("venue.reconciliations"), keep_all=True)
    try:
        resting = [f"r-{n}" for n in range(RESTING)]
        filled = [f"f-{n}" for n in range(FILLED)]
        for cl in resting:  # far below the market: they rest
            p.client.new_order(account=ACCOUNT, client_order_id=cl, instrument="AAPL", side="BUY", quantity=10,
                               limit_price="1.00")
        for cl in filled:
            p.client.new_order(account=ACCOUNT, client_order_id=cl, instrument="AAPL", side="BUY", quantity=5)
        p.client.flush()
        oid = {cl: ids.order_id(ACCOUNT, cl) for cl in resting + filled}

        def status(cl):
            view = p.views["orders"].latest.get(oid[cl])
            return None if view is None else view.status

        try:
            p.wait(lambda: all(status(cl) is OrderStatus.NEW for cl in resting)
                   and all(status(cl) is OrderStatus.FILLED for cl in filled), timeout=90,
                   what="orders resting, filled")
        except TimeoutError as exc:  # say where each order stopped and what the gateway and worker said
            found = {cl: status(cl) for cl in resting + filled}
            raise AssertionError(f"{exc}: {found}\nvenue log:\n{p.procs.log_tail('venue', 60)}\n"
                                 f"worker log:\n{p.procs.log_tail('worker', 60)}") from exc

        reconciliations.refresh(idle=0.5)
        earlier = len(reconciliations.all or [])  # the reconciliations of the gateways before the kill
        p.procs.kill("venue", signal.SIGKILL)
        _start_gateway(p, state_dir)

        def reconciled():
            reconciliations.refresh(idle=0.1, first_wait=0.5)
            return len(reconciliations.all) > earlier  # and the restarted one's

        p.wait(reconciled, timeout=90, what="the restarted gateway's reconciliation")
        report: VenueReconciliation = reconciliations.all[-1]
        if keep_book:
            assert (report.oms_open, report.venue_working, report.matched) == (RESTING, RESTING, RESTING)
            assert report.reports == 0
        else:
            assert (report.oms_open, report.venue_working) == (RESTING, 0)
            assert sorted(report.unknown_at_venue.split()) == sorted(oid[cl] for cl in resting)
            p.wait(lambda: all(status(cl) is OrderStatus.CANCELED for cl in resting), timeout=30,
                   what="the orders unknown at the venue canceled")
            reasons = {e.reason for e in p.journal() if type(e).__name__ == "OrderCanceled"}
            assert reasons == {UNKNOWN_AT_VENUE}

        # cancels of every order still open succeed
        still_open = [cl for cl in resting if status(cl) is OrderStatus.NEW]
        assert len(still_open) == (RESTING if keep_book else 0)
        for cl in still_open:
            p.client.cancel(account=ACCOUNT, client_order_id=f"{cl}-x", orig_client_order_id=cl)
        p.client.flush()
        p.wait(lambda: all(status(cl) is OrderStatus.CANCELED for cl in resting), timeout=30,
               what="every remaining order canceled")
        p.wait(lambda: len(p.views["positions"].latest) > 0, timeout=30, what="the position")
        p.refresh()
    finally:
        reconciliations.close()
        p.stop()

    # every order's state equals the venue's last word on it
    last = {}
    for r in p.views["exec_reports"].all:
        if r.exec_type is not ExecType.ORDER_STATUS:
            last[r.order_id] = r
    for cl, order_id in oid.items():
        view = p.views["orders"].latest[order_id]
        assert (view.status, view.cum_qty) == (last[order_id].order_status, last[order_id].cum_qty), cl
    # no exec id names two different orders
    orders_of = defaultdict(set)
    for r in p.views["exec_reports"].all:
        orders_of[r.exec_id].add(r.order_id)
    assert {e: o for e, o in orders_of.items() if len(o) > 1} == {}
    # one fill per venue execution, and positions equal the sum of fills
    fills = p.views["fills"].all
    assert len({f.fill_id for f in fills}) == len(fills) == FILLED
    expected = defaultdict(Decimal)
    for f in fills:
        expected[f"{f.account}|{f.instrument}"] += f.quantity * f.side.sign
    assert {k: v.quantity for k, v in p.views["positions"].latest.items()} == dict(expected)

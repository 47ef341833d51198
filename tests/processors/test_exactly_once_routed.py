"""Exactly-once effects under kill -9 with smart order routing on: parents, their children at three
venues, the router's decisions and venue statistics survive the worker dying at random points.

Every account is smart-routed (`OMS_ROUTING`: `best`, `cost` and `split`), so each client order is
a parent routed to `SOR` whose quantity is worked by children `<parent>:c1..` at SIM-A, SIM-B and
SIM-C (one gateway, a synthetic feed fanned out to the three with different prices, venue fees),
some of them refused by their venue and re-routed. While about 800 market and limit orders (some
canceled) flow, the worker (order engine and position manager) is killed with SIGKILL three times
and restarted. Afterwards, beyond the properties of `test_exactly_once` applied to the children
(every child in its venue's last reported state, no fill twice on `fills`, one fill per venue
execution, positions equal to the sum of the fills): every parent's cum qty equals the sum of its
children's fills in the journal and never exceeds its quantity; each parent's `fills` entries are its
children's venue executions one for one (same quantity and price); no child is sent twice (one NEW
request per child on `venue.requests`, none to `SOR`); every fill on `fills` is a parent's, so the
positions are the sum of the parents' fills; no journal event is written twice; every parent has one
NEW routing decision; and the venue statistics the engine holds in its state equal the fold of the journal.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from oms import ids
from oms.domain.route import SMART_VENUE
from oms.events import ExecType, FillKind, OrderAccepted, OrderFilled, OrderStatus, RoutingDecided, VenueAction
from replay.journal import live_engine_state, verify_venue_stats
from replay.routing import venue_statistics
from streams.views import TopicView
from tests.pipeline import Pipeline
from tests.processors.test_exactly_once import (ACCOUNTS, PENDING, WIDE_LIMITS, _assert_exactly_once, _sender,
                                                _settle, _venue_executions)

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(1500)]

ORDERS = 800
KILLS = 3
VENUES = "SIM-A,SIM-B,SIM-C"
VENUE_OFFSETS = "SIM-A:0,SIM-B:0.01,SIM-C:-0.01"
VENUE_FEES = "SIM-A=taker:0.003,maker:-0.002;SIM-B=taker:0.0025,maker:-0.0015;SIM-C=taker:1bps,maker:0"
STRATEGIES = ("best", "best", "cost", "split", "split", "best")
ROUTING = ",".join(f"account:{account}={strategy}" for account, strategy in zip(ACCOUNTS, STRATEGIES))
WORKER_ARGS = ("--loglevel", "info", "--default-venue", "SIM-A")
FILLED = (ExecType.PARTIAL_FILL, ExecType.FILL)


def _warm_up(p: Pipeline, sent: list[tuple[str, str]]) -> None:
    """Market orders until one fills: the worker runs and its consolidated book shows the venues (a
    parent that arrives before any quote ends NO_ROUTE). Each is recorded in `sent` and checked too."""
    for n in range(20):
        account, cl = ACCOUNTS[0], f"warm-{n}"
        p.client.new_order(account=account, client_order_id=cl, instrument="AAPL", side="BUY", quantity=10)
        p.client.flush()
        sent.append((account, cl))
        order_id = ids.order_id(account, cl)
        view = p.wait(lambda: (lambda v: v if v is not None and v.status not in PENDING else None)(
            p.views["orders"].latest.get(order_id)), timeout=120, what=f"warm-up order {cl} to be decided")
        if view.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
            return
        time.sleep(1.0)
    raise AssertionError("no warm-up order filled: the router never saw the venues' quotes")


def _children(p: Pipeline, parents: set[str]) -> set[str]:
    """The children the journal shows accepted for `parents`."""
    return {e.order_id for e in p.views["journal"].all
            if isinstance(e, OrderAccepted) and ids.parent_of(e.order_id) in parents}


def _trail(p: Pipeline, parent: str) -> str:
    """The journal of `parent` and its children, one line per event, for a failure's report."""
    lines = []
    for e in p.views["journal"].all:
        if e.order_id == parent or ids.parent_of(e.order_id) == parent:
            detail = " ".join(f"{k}={getattr(e, k)}" for k in ("exec_id", "last_qty", "cum_qty", "venue", "trigger",
                                                               "placed", "reason") if getattr(e, k, None) not in (None, ""))
            lines.append(f"  {type(e).__name__} {e.order_id} seq={e.seq} {detail}")
    return "\n".join(lines)


def _assert_parents_and_children(p: Pipeline, parents: set[str], children: set[str]) -> dict[str, int]:
    """The routed properties (module docstring); returns counts for the report."""
    journal = p.views["journal"].all
    fills = [f for f in p.views["fills"].all if f.kind is FillKind.FILL]

    # no journal event twice, and one NEW routing decision per parent the engine accepted
    twice = [i for i, n in Counter(e.event_id for e in journal).items() if n > 1]
    assert not twice, f"{len(twice)} journal events written twice: {twice[:10]}"
    accepted = {e.order_id for e in journal if isinstance(e, OrderAccepted) and e.order_id in parents}
    decided = Counter(e.order_id for e in journal if isinstance(e, RoutingDecided) and e.trigger == "NEW")
    assert set(decided) == accepted and set(decided.values()) == {1}, \
        f"parents without one NEW decision: {sorted(o for o in accepted if decided[o] != 1)[:10]}"

    # every parent's cum qty is the sum of its children's fills (journal), never past its quantity
    child_filled: dict[str, Decimal] = defaultdict(Decimal)
    for e in journal:
        if isinstance(e, OrderFilled) and e.order_id in children:
            child_filled[ids.parent_of(e.order_id)] += e.last_qty
    latest = p.views["orders"].latest
    wrong = [(o, latest[o].cum_qty, child_filled[o], latest[o].quantity) for o in sorted(accepted)
             if latest[o].cum_qty != child_filled[o] or latest[o].cum_qty > latest[o].quantity]
    assert not wrong, (f"{len(wrong)} parents (id, cum qty, children's fills, quantity): {wrong[:10]}\n"
                       + _trail(p, wrong[0][0]))

    # each parent's fills are its children's venue executions one for one, at the venue's quantity and price
    execution = _venue_executions(p)
    executed = {(r.order_id, r.exec_id): (r.last_qty, r.last_px) for r in p.views["exec_reports"].all
                if r.exec_type in FILLED and r.order_id in children}
    booked: dict[str, list] = defaultdict(list)
    for f in fills:
        booked[f.order_id].append((execution(f), f.quantity, f.price))
    at_venue: dict[str, list] = defaultdict(list)
    for (child, exec_id), (qty, px) in executed.items():
        at_venue[ids.parent_of(child)].append(((child, exec_id), qty, px))
    unequal = [o for o in sorted(booked.keys() | at_venue.keys()) if sorted(booked[o]) != sorted(at_venue[o])]
    assert not unequal, (f"{len(unequal)} parents whose fills differ from their children's executions, e.g. "
                         f"{unequal[0]}: fills {sorted(booked[unequal[0]])} venue {sorted(at_venue[unequal[0]])}\n"
                         + _trail(p, unequal[0]))

    # no child sent twice, nothing sent to the smart router's pseudo-venue, every fill a parent's
    requests = p.views["venue_requests"].all
    sent_new = Counter(r.order_id for r in requests if r.action is VenueAction.NEW)
    assert {o for o, n in sent_new.items() if n > 1} == set()
    assert set(sent_new) == children
    assert all(r.venue != SMART_VENUE and ids.is_child(r.order_id) for r in requests)
    assert {f.order_id for f in fills} <= parents

    # the venue statistics the engine holds equal the fold of its journal
    held = live_engine_state(p.rt).venue_stats
    assert verify_venue_stats(venue_statistics(journal).stats, held) == []
    assert {venue for venue, _ in held} == set(VENUES.split(","))
    return {"parents": len(accepted), "children": len(children), "fills": len(fills),
            "reroutes": sum(1 for e in journal if isinstance(e, RoutingDecided) and e.trigger == "REROUTE"),
            "venue requests": len(requests)}


def test_kill_9_the_worker_repeatedly_with_smart_routing(bootstrap_servers, tmp_path, unique_name):
    rng = random.Random(20261206)
    p = Pipeline.start(bootstrap_servers, f"{unique_name}.", tmp_path, gateway_args=("--reject-prob", "0.02"),
                       risk_defaults=WIDE_LIMITS, worker_args=WORKER_ARGS, venues=VENUES, venue_offsets=VENUE_OFFSETS,
                       routing=ROUTING, venue_fees=VENUE_FEES)
    p.views["venue_requests"] = TopicView(p.rt, p.rt.topics.venue_requests, keep_all=True)
    began = time.monotonic()
    try:
        sent: list[tuple[str, str]] = []
        _warm_up(p, sent)
        done_sending = threading.Event()
        # 50 orders every 2 s: the kills land while orders still arrive, not only on a backlog
        sender = _sender(p, rng, ORDERS, sent, done_sending, pause=2.0)
        kills = 0
        while kills < KILLS:
            time.sleep(rng.uniform(4.0, 10.0))
            p.procs.kill("worker", signal.SIGKILL)
            kills += 1
            p.procs.start_worker(*WORKER_ARGS)
        sender.join(timeout=600)
        assert done_sending.is_set()
        parents = {ids.order_id(a, c) for a, c in sent}
        stacks = _settle(p, parents, at_venue=lambda: _children(p, parents))
        children = _children(p, parents)
    finally:
        p.stop()
    _assert_exactly_once(p, parents, stacks, at_venue=children)
    counts = _assert_parents_and_children(p, parents, children)
    assert kills == KILLS
    assert counts["reroutes"] > 0 and counts["children"] > counts["parents"]
    print(f"routed kill -9 run: {kills} kills, {counts}, {time.monotonic() - began:.0f}s")

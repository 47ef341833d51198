"""Exactly-once effects under kill -9: the worker dies at random points and restarts, or, with two
workers sharing the partitions, one dies and the other takes over its partitions.

A run of 2,000 orders goes through the real pipeline while the worker (order
engine and position manager) is killed with SIGKILL several times. Afterwards
every order is in the state the venue last reported, no fill appears twice on
`fills` (read with read_committed), and every position equals the sum of its fills.
The scale-out run starts a second worker (`--instance 1`: its own transactional
and static member id, its own state stores), checks that the engine's consumer
group splits the partitions between the two, kills one with SIGKILL mid-run
without restarting it, checks that the survivor holds every partition, and
asserts the same three properties.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import defaultdict
from decimal import Decimal
from typing import Callable

import pytest

from oms import ids
from oms.events import ExecType, Fill, FillKind, OrderFilled, OrderStatus
from bench.scale import group_assignment
from oms import keys
from oms.state import load_changes
from processors.app import app_id
from streams.reader import TopicReader
from tests.pipeline import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.fixture(autouse=True)
def _log_each_fill(monkeypatch):
    """The workers log every fill-type journal record they meet (`oms.worker.fills`): a position that
    diverges is reported with what each worker did with the fills it lacks (`_fill_trail`)."""
    monkeypatch.setenv("OMS_DEBUG", "oms.worker.fills")

ORDERS = 2000
KILLS = 4
WIDE_LIMITS = "max_order_notional=10000000,max_gross_exposure=100000000000,max_open_orders=5000"
ACCOUNTS = tuple(f"K{n}" for n in range(6))
PENDING = {OrderStatus.PENDING_NEW, OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE}


def _sender(p: Pipeline, rng: random.Random, orders: int, sent: list[tuple[str, str]],
            done: threading.Event, pause: float = 0.05) -> threading.Thread:
    """A thread sending `orders` random orders (market, near and far limits, some canceled) over six
    accounts (`ACCOUNTS`), `pause` seconds after every 50, recording (account, client order id) in
    `sent` and setting `done` at the end."""
    accounts = list(ACCOUNTS)

    def send() -> None:
        for n in range(orders):
            account, cl = rng.choice(accounts), f"k-{n}"
            instrument = rng.choice(("AAPL", "MSFT"))
            side = rng.choice(("BUY", "SELL"))
            kind = rng.random()
            if kind < 0.4:
                p.client.new_order(account=account, client_order_id=cl, instrument=instrument, side=side,
                                   quantity=rng.choice((10, 100, 700)))
            else:
                far = kind > 0.8
                price = "1.00" if far and side == "BUY" else "9999.00" if far else (
                    "450.00" if side == "BUY" else "50.00")
                p.client.new_order(account=account, client_order_id=cl, instrument=instrument, side=side,
                                   quantity=rng.choice((10, 100, 700)), limit_price=price)
                if far and n % 2 == 0:
                    p.client.cancel(account=account, client_order_id=f"{cl}-x", orig_client_order_id=cl)
            sent.append((account, cl))
            if n % 50 == 0:
                p.client.flush()
                time.sleep(pause)
        p.client.flush()
        done.set()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def _settle(p: Pipeline, order_ids: set[str], positions_s: float = 300,
            at_venue: Callable[[], set[str]] | None = None) -> str:
    """Wait for every order to leave its pending states and (up to `positions_s`) for the positions to
    catch up; returns the worker's thread stacks if they did not (for the report), else "".
    `at_venue` gives the orders the venues hold when they are not `order_ids` themselves (a smart-routed
    parent's children): those must also leave their pending states and reach the venue's last word."""
    venue_orders = at_venue or (lambda: order_ids)

    def settled() -> bool:
        latest = p.views["orders"].latest
        return all(o in latest and latest[o].status not in PENDING for o in order_ids | venue_orders())

    p.wait(settled, timeout=600, what=f"all {len(order_ids):,} orders to settle after the kills")

    def converged() -> bool:
        # an order out of its pending states may still have reports to apply: a worker that takes a dead
        # one's partitions over sees nothing past that worker's open transaction until the broker aborts
        # it (the transaction timeout), so wait for every order to reach the venue's last word on it
        return not _diverged(p, venue_orders())

    stacks = ""
    try:  # a timeout here is reported by the assertions below, with the orders that diverge
        p.wait(converged, timeout=300, what="every order to reach the venue's last reported state")
    except TimeoutError:
        stacks = p.stacks("worker")

    def positions_caught_up() -> bool:
        expected = _positions_from_fills(p.views["fills"].all)
        latest = p.views["positions"].latest
        return all(k in latest and latest[k].quantity == q for k, q in expected.items())

    try:  # the position manager follows the journal; give it time to catch up, then assert below
        p.wait(positions_caught_up, timeout=positions_s, what="the positions to catch up with the fills")
    except TimeoutError:
        stacks = stacks or p.stacks("worker")
    p.refresh()
    return stacks


def _diverged(p: Pipeline, order_ids: set[str]) -> list[tuple]:
    """The orders whose view differs from the venue's last report on them: (order id, view status,
    view cum qty, venue status, venue cum qty), the venue's fields None when it never answered."""
    last_report = {}
    for report in p.views["exec_reports"].all:
        last_report[report.order_id] = report
    latest = p.views["orders"].latest
    diverged = []
    for order_id in sorted(order_ids):
        view, report = latest.get(order_id), last_report.get(order_id)
        mine = (None, None) if view is None else (view.status, view.cum_qty)
        theirs = (None, None) if report is None else (report.order_status, report.cum_qty)
        if report is None or mine != theirs:
            diverged.append((order_id, *mine, *theirs))
    return diverged


def _missed(p: Pipeline, actual: dict[str, Decimal], expected: dict[str, Decimal]) -> dict[str, str]:
    """Per position that differs from its fills: the difference, the position's fill count and last
    fill, and where in the journal's fills of that position those stand (which fills it lacks)."""
    positions = p.views["positions"].latest
    journal = [e for e in p.views["journal"].all if isinstance(e, OrderFilled) and not ids.is_child(e.order_id)]
    out = {}
    for key in sorted(k for k in expected if actual.get(k) != expected[k]):
        held = positions.get(key)
        ids_in_order = [e.fill_id for e in journal if f"{e.account}|{e.instrument}" == key]
        at = ids_in_order.index(held.last_fill_id) if held is not None and held.last_fill_id in ids_in_order else None
        out[key] = (f"off by {(actual.get(key) or Decimal(0)) - expected[key]}, "
                    f"{held.fills if held else 0} fills applied of {len(ids_in_order)} journaled, "
                    f"last applied is journal fill #{at}")
    return out


def _venue_executions(p: Pipeline) -> Callable[[Fill], tuple[str, str | None]]:
    """A function from a fill on `fills` to the venue execution it books, (order id at the venue, venue
    exec id): the fill's own for an order the venue holds; for a smart-routed parent's fill (exec id
    `<child>.<child seq>`, `oms.domain.sor.parent.after_child`) the child's and the exec id of the
    child's `OrderFilled` with that seq in the journal (None when the journal has no such fill)."""
    child_fills = {(e.order_id, e.seq): e.exec_id for e in p.views["journal"].all
                   if isinstance(e, OrderFilled) and ids.is_child(e.order_id)}

    def execution(fill: Fill) -> tuple[str, str | None]:
        child, _, seq = fill.exec_id.rpartition(".")
        if ids.parent_of(child) == fill.order_id and seq.isdigit():
            return child, child_fills.get((child, int(seq)))
        return fill.order_id, fill.exec_id

    return execution


def _assert_exactly_once(p: Pipeline, order_ids: set[str], stacks: str = "", at_venue: set[str] | None = None) -> None:
    """The three properties over `order_ids`; `at_venue`: the orders the venues hold when they are not
    `order_ids` themselves (a smart-routed parent's children), checked against the venue's reports."""
    # 1. every order ends in the state the venue last reported
    mismatched = _diverged(p, order_ids if at_venue is None else at_venue)
    assert not mismatched, f"{len(mismatched)} orders differ from the venue: {mismatched[:10]}\n{stacks}"

    # 2. no fill twice on `fills`, and one fill per venue execution
    fills = p.views["fills"].all
    assert len({f.fill_id for f in fills}) == len(fills)
    venue_fills = {(r.order_id, r.exec_id) for r in p.views["exec_reports"].all
                   if r.exec_type in (ExecType.PARTIAL_FILL, ExecType.FILL)}
    execution = _venue_executions(p)
    assert {execution(f) for f in fills if f.kind is FillKind.FILL} == venue_fills
    assert len([f for f in fills if f.kind is FillKind.FILL]) == len(venue_fills)

    # 3. positions equal the sum of fills
    expected = _positions_from_fills(fills)
    positions = p.views["positions"].latest
    actual = {k: positions[k].quantity for k in expected if k in positions}
    if actual != expected:  # say whether the journal agrees with the fills and where the position manager stopped
        journaled: dict[str, Decimal] = defaultdict(Decimal)
        for e in p.views["journal"].all:
            if isinstance(e, OrderFilled) and not ids.is_child(e.order_id):  # a child's fill is its parent's
                journaled[f"{e.account}|{e.instrument}"] += e.last_qty * e.side.sign
        last = max((v.ts_event for v in positions.values()), default=0)
        journal_last = max((e.ts_event for e in p.views["journal"].all), default=0)
        tail = [line for line in p.procs.log_tail("worker", 20000).splitlines() if "oms.worker.fills" not in line]
        log = "\n".join(line for line in tail[-400:] if "kafka" not in line and not line.startswith("%"))[-8000:]
        alerts = "\n".join(line for line in tail if "ERROR" in line or "position-manager" in line
                           or "where the state ends" in line)[-4000:]
        found = (f"positions differ from the fills on {_missed(p, actual, expected)}; "
                 f"journal-derived differs from the fills on "
                 f"{ {k: v for k, v in journaled.items() if expected.get(k) != v} }; "
                 f"last position update {last}, last journal event {journal_last}; worker errors:\n{alerts}\n"
                 f"the fills the stored positions lack, and what the workers logged of them:\n"
                 f"{_fill_trail(p, [k for k in expected if actual.get(k) != expected[k]])}\n"
                 f"positions {actual} != fills {expected}; journal-derived {dict(journaled)}; worker log:\n{log}\n"
                 f"worker threads when the wait ended:\n{stacks}")
        raise PositionsDiverged(found)
    assert set(expected) <= set(positions)


def _fill_trail(p: Pipeline, diverged: list[str]) -> str:
    """Per diverged position (account|instrument): the journal's fills its history in the position
    manager's changelog lacks, and the lines the workers logged about those fills and about where they
    resumed the journal (`oms.worker.fills` at DEBUG, which the kill -9 tests turn on)."""
    reader = TopicReader.connect(p.rt.bootstrap_servers)
    try:
        reader.assign(f"{app_id(p.rt.topics)}-positions-changelog")
        stored = {r.key: r.value for r in reader.records(idle_timeout=30) if r.key is not None}
    finally:
        reader.close()
    journal = [e for e in p.views["journal"].all if isinstance(e, OrderFilled) and not ids.is_child(e.order_id)]
    lacking: list[str] = []
    out = []
    for key in diverged:
        account, instrument = key.split("|")
        prefix = keys.position(account, instrument).encode() + b"#"
        held = {c.fill_id for k, v in stored.items() if k.startswith(prefix) for c in load_changes(v) or ()}
        missing = [e.fill_id for e in journal if f"{e.account}|{e.instrument}" == key and e.fill_id not in held]
        lacking += missing
        out.append(f"{key}: {len(held)} fills stored, lacking {missing}")
    path = p.procs.log_dir / "worker.log"
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    about = [line for line in lines if "resuming at" in line or "where the state ends" in line
             or any(fill_id in line for fill_id in lacking)]
    return "\n".join(out + about[-300:])


class PositionsDiverged(AssertionError):
    """Property 3 failed: a position differs from the sum of its fills."""


@pytest.mark.xfail(raises=PositionsDiverged, strict=False, reason=(
    "open bug: after repeated kill -9 the position manager can miss 1-2 fills of a position that the "
    "journal and `fills` hold (seen in about 1 in 3 whole-suite runs); orders and fills stay exactly once"))
def test_kill_9_the_worker_repeatedly_during_2000_orders(bootstrap_servers, tmp_path, unique_name):
    rng = random.Random(20261121)
    # Orders of up to 700 at prices up to 9,999 rest in six accounts: limits wide enough that risk denies none.
    p = Pipeline.start(bootstrap_servers, f"{unique_name}.", tmp_path, gateway_args=("--reject-prob", "0.02"),
                       risk_defaults=WIDE_LIMITS, worker_args=("--loglevel", "info"))
    try:
        sent: list[tuple[str, str]] = []
        done_sending = threading.Event()
        sender = _sender(p, rng, ORDERS, sent, done_sending)
        kills = 0
        while kills < KILLS:
            time.sleep(rng.uniform(4.0, 10.0))
            p.procs.kill("worker", signal.SIGKILL)
            kills += 1
            p.procs.start_worker("--loglevel", "info")
        sender.join(timeout=600)
        assert done_sending.is_set()
        order_ids = {ids.order_id(a, c) for a, c in sent}
        stacks = _settle(p, order_ids)
    finally:
        p.stop()
    _assert_exactly_once(p, order_ids, stacks)
    assert kills == KILLS


SCALE_ORDERS = 800


def test_two_workers_split_the_partitions_and_one_takes_over_after_kill_9(bootstrap_servers, tmp_path,
                                                                        unique_name):
    rng = random.Random(20261129)
    prefix = f"{unique_name}."
    p = Pipeline.start(bootstrap_servers, prefix, tmp_path, gateway_args=("--reject-prob", "0.02"),
                       risk_defaults=WIDE_LIMITS)
    group = f"{prefix}order-engine"
    try:
        inputs = {(topic, n) for topic in (p.rt.topics.commands, p.rt.topics.exec_reports) for n in range(3)}
        p.procs.start("worker-1", "entrypoints.worker", "--instance", "1")
        split = p.procs.wait_until(
            lambda: (lambda a: a if len(a) == 2 and all(a.values()) else None)(group_assignment(
                bootstrap_servers, group)), timeout=120, what="the two workers to share the engine's partitions")
        held = [tp for parts in split.values() for tp in parts]
        assert sorted(held) == sorted(inputs)  # split between the two, none held twice
        sent: list[tuple[str, str]] = []
        done_sending = threading.Event()
        sender = _sender(p, rng, SCALE_ORDERS, sent, done_sending)
        time.sleep(rng.uniform(3.0, 6.0))
        p.procs.kill("worker-1", signal.SIGKILL)  # not restarted: worker 0 must take its partitions over
        assert p.procs.stop("worker-1") == -signal.SIGKILL  # dead, and no longer watched
        survivor = p.procs.wait_until(
            lambda: (lambda a: a if len(a) == 1 and set().union(*a.values()) == inputs else None)(
                group_assignment(bootstrap_servers, group)), timeout=120,
            what="the surviving worker to hold every partition")
        sender.join(timeout=600)
        assert done_sending.is_set()
        order_ids = {ids.order_id(a, c) for a, c in sent}
        # the survivor's position manager (faust) waits out the dead member's session (60 s) before it
        # takes the journal partitions over and restores their positions from the changelog
        stacks = _settle(p, order_ids, positions_s=300)
    finally:
        p.stop()
    assert list(survivor) == [f"{group}-0"]  # the worker left is instance 0, holding every input partition
    _assert_exactly_once(p, order_ids, stacks)


def _positions_from_fills(fills) -> dict[str, Decimal]:
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for f in fills:
        expected[f"{f.account}|{f.instrument}"] += f.quantity * f.side.sign
    return dict(expected)

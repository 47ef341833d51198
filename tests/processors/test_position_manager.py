"""The position manager on a real broker: no update vanishes, failures are dead-lettered and the
agent goes on, a stuck faust side stops the worker non-zero, and no journal offset is committed
before the table writes it caused are in the changelog.

The worker runs as a process with faults injected (`tests.processors.faulty_worker`: `boom*` fills
make the fold raise, `hang*` fills block the event loop, the table writes of `HOLD*` accounts are
held on their way to the Kafka client); everything else is the real worker. Fills are crafted and
written straight to the journal (`order.events`) under a unique prefix.
"""

from __future__ import annotations

import signal
import subprocess
import time
from decimal import Decimal
from uuid import uuid4

import pytest
from confluent_kafka import TopicPartition

from oms.events import OrderFilled
from oms import keys
from processors.app import app_id
from streams.idempotence import partition_key
from tests.pipeline import Pipeline
from tests.builders import order_acknowledged, order_filled

pytestmark = pytest.mark.kafka

HUGE = Decimal(10) ** 19
"""A fill quantity the wire holds whose exposure at 100 (10^21) it does not."""


@pytest.fixture(scope="module")
def pipeline(bootstrap_servers, tmp_path_factory):
    p = Pipeline.start(bootstrap_servers, f"pm{uuid4().hex[:8]}.", tmp_path_factory.mktemp("oms"), worker=False)
    p.procs.start("worker", "tests.processors.faulty_worker")
    yield p
    p.stop()


def _journal_fill(p: Pipeline, account: str, fill_id: str, qty: Decimal, instrument: str = "AAPL") -> OrderFilled:
    fill = order_filled(account=account, instrument=instrument, fill_id=fill_id, exec_id=f"x-{fill_id}",
                        order_id=f"O{account}", last_qty=qty, last_px=Decimal(100), cum_qty=qty,
                        leaves_qty=Decimal(0), avg_px=Decimal(100), commission=Decimal(0))
    sender = p.rt.event_producer()
    sender.send(p.rt.topics.journal, account, fill)
    sender.flush()
    return fill


def _positions(p: Pipeline, key: str):
    return [e for e in p.views["positions"].all or [] if f"{e.account}|{e.instrument}" == key]


def _letters(p: Pipeline, account: str):
    return [d for d in p.views["deadletter"].all or []
            if d.source_topic == p.rt.topics.journal and d.key == account.encode()]


def test_a_fill_whose_exposure_overflows_is_dead_lettered_and_the_next_fill_applies(pipeline):
    p, account = pipeline, "ACC-HUGE"
    key = f"{account}|AAPL"
    _journal_fill(p, account, "f1", Decimal(2))
    p.wait(lambda: _positions(p, key), 90, "the first position")

    _journal_fill(p, account, "f2", HUGE)
    (letter,) = p.wait(lambda: _letters(p, account), 60, "the dead letter of the huge fill")
    assert letter.processor == "position-manager"
    assert "unrepresentable position" in letter.error and "gross_exposure" in letter.error
    assert "after f2" in letter.error and "decimal(28,8)" in letter.error

    _journal_fill(p, account, "f3", Decimal(3))
    p.wait(lambda: any(e.last_fill_id == "f3" for e in _positions(p, key)), 60, "the next fill's position")
    published = {(e.quantity, e.fills, e.last_fill_id) for e in _positions(p, key)}
    assert published == {(Decimal(2), 1, "f1"), (Decimal(5), 2, "f3")}  # nothing of f2, ever
    assert "ALERT position-manager" in p.procs.log_tail("worker", 400)


def test_a_handler_exception_dead_letters_its_input_and_the_agent_goes_on(pipeline):
    p, account = pipeline, "ACC-BOOM"
    key = f"{account}|MSFT"
    _journal_fill(p, account, "boom-1", Decimal(7), instrument="MSFT")
    (letter,) = p.wait(lambda: _letters(p, account), 90, "the dead letter of the failing fill")
    assert "RuntimeError: injected fault on boom-1" in letter.error
    assert letter.offset >= 0 and letter.value  # the input's own bytes, to replay once fixed

    _journal_fill(p, account, "after-1", Decimal(4), instrument="MSFT")
    p.wait(lambda: _positions(p, key), 60, "the next fill's position")
    (position,) = {(e.quantity, e.fills, e.last_fill_id) for e in _positions(p, key)}
    assert position == (Decimal(4), 1, "after-1")


def test_a_stuck_position_manager_stops_the_worker_non_zero(pipeline):
    p = pipeline  # runs last in this module: it ends the worker
    worker = p.procs.procs["worker"]
    _journal_fill(p, "ACC-HANG", "hang-1", Decimal(1))
    for n in range(3):  # the journal grows while the position manager is stuck
        _journal_fill(p, "ACC-MORE", f"more-{n}", Decimal(1))
    try:
        code = worker.wait(timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the stuck worker did not exit:\n{p.procs.log_tail('worker')}")
    log = p.procs.log_tail("worker", 400)
    assert code != 0
    assert "faust side stuck" in log and "handled nothing" in log


def test_fills_of_an_aborted_transaction_never_reach_positions(bootstrap_servers, tmp_path):
    """The journal is written in Kafka transactions; the position manager reads committed data only."""
    from confluent_kafka import Producer

    p, account = Pipeline.start(bootstrap_servers, f"pa{uuid4().hex[:8]}.", tmp_path), "ACC-ABORT"
    key = f"{account}|AAPL"
    producer = Producer({"bootstrap.servers": p.rt.bootstrap_servers, "transactional.id": f"t-{uuid4().hex[:8]}"})
    producer.init_transactions(30)
    for fill_id, commit in (("aborted-1", False), ("committed-1", True)):
        fill = order_filled(account=account, instrument="AAPL", fill_id=fill_id, exec_id=f"x-{fill_id}",
                            order_id=f"O{account}", last_qty=Decimal(4), last_px=Decimal(100), cum_qty=Decimal(4),
                            leaves_qty=Decimal(0), avg_px=Decimal(100), commission=Decimal(0))
        producer.begin_transaction()
        producer.produce(p.rt.topics.journal, key=account.encode(), value=p.rt.codec.encode(p.rt.topics.journal, fill))
        producer.flush(30)
        (producer.commit_transaction if commit else producer.abort_transaction)(30)

    try:
        p.wait(lambda: any(e.last_fill_id == "committed-1" for e in _positions(p, key)), 90, "the committed fill")
        assert {(e.quantity, e.fills, e.last_fill_id) for e in _positions(p, key)} == {
            (Decimal(4), 1, "committed-1")}
    finally:
        p.stop()


def _offsets(p: Pipeline, group: str, topic: str) -> dict[int, tuple[int, int | None]]:
    """Per partition of `topic` that holds records: (end offset, the group's committed offset or None)."""
    reader = p.rt.reader(group)
    try:
        ends = {n: end for n, end in reader.end_offsets(topic).items() if end > 0}
        committed = reader.consumer.committed([TopicPartition(topic, n) for n in ends], timeout=30)
    finally:
        reader.close()
    return {tp.partition: (ends[tp.partition], tp.offset if tp.offset >= 0 else None) for tp in committed}


def test_a_fill_is_committed_only_once_its_state_is_in_the_changelog(bootstrap_servers, tmp_path):
    """The worker is killed while a fill's table writes (its position state and its applied offset)
    are held between faust and the Kafka client, several commit intervals after the fill was handled
    and its `Position` published: the fill's journal offset must not have been committed, so the
    restarted worker reads the fill again and the next fill lands on a position that holds both."""
    p, account = Pipeline.start(bootstrap_servers, f"ph{uuid4().hex[:8]}.", tmp_path, worker=False), "HOLD-1"
    key = f"{account}|AAPL"
    p.procs.start("worker", "tests.processors.faulty_worker")
    try:
        _journal_fill(p, account, "held-1", Decimal(5))
        p.wait(lambda: _positions(p, key), 180, "the held fill's position")  # published, then stored (held)
        time.sleep(3.0)  # six commit intervals of the worker while the state is held
        offsets = _offsets(p, app_id(p.rt.topics), p.rt.topics.journal)
        assert "holding the table write" in p.procs.log_tail("worker", 400)
        p.procs.kill("worker", signal.SIGKILL)
        p.procs.start_worker()

        _journal_fill(p, account, "next-1", Decimal(3))
        p.wait(lambda: any(e.last_fill_id == "next-1" for e in _positions(p, key)), 180, "the next fill's position")
        after = [(e.quantity, e.fills) for e in _positions(p, key) if e.last_fill_id == "next-1"]
    finally:
        p.stop()
    assert set(after) == {(Decimal(8), 2)}, f"the held fill was lost: {after}; (end, committed) of the journal {offsets}"
    assert list(offsets.values()) in ([(1, None)], [(1, 0)]), \
        f"(end, committed) {offsets}: the fill's offset was committed before its state was in the changelog"


def test_the_journal_is_read_from_where_the_restored_state_ends_not_from_the_committed_offset(
        bootstrap_servers, tmp_path):
    """The worker's group has committed past a fill the position manager never handled (faust's
    offset bookkeeping can commit past an unacknowledged record): the restarted worker reads the
    journal from its state's applied offset, so the fill still lands on the position."""
    p, account = Pipeline.start(bootstrap_servers, f"pr{uuid4().hex[:8]}.", tmp_path,
                                worker_args=("--loglevel", "info")), "ACC-RESUME"
    key, group, journal = f"{account}|AAPL", app_id(p.rt.topics), p.rt.topics.journal
    try:
        _journal_fill(p, account, "r1", Decimal(2))
        p.wait(lambda: _positions(p, key), 180, "the first fill's position")
        assert p.procs.stop("worker") == 0  # leaves the group: its offsets may be set from outside
        _journal_fill(p, account, "r2", Decimal(3))
        reader = p.rt.reader(group)
        try:
            ends = {n: end for n, end in reader.end_offsets(journal).items() if end > 0}
            assert reader.commit((journal, n, end) for n, end in ends.items())
        finally:
            reader.close()
        assert _offsets(p, group, journal) == {n: (end, end) for n, end in ends.items()}  # past r2
        p.procs.start_worker("--loglevel", "info")
        p.wait(lambda: any(e.last_fill_id == "r2" for e in _positions(p, key)), 180, "the skipped fill's position")
        after = [(e.quantity, e.fills) for e in _positions(p, key) if e.last_fill_id == "r2"]
        log = p.procs.log_tail("worker", 400)
    finally:
        p.stop()
    assert set(after) == {(Decimal(5), 2)}
    assert any(f"{journal}[" in line and "where the state ends" in line and "committed" in line
               for line in log.splitlines())


def _applied_offsets(p: Pipeline, partition: int) -> list[int]:
    """The journal offsets the position manager wrote as `partition`'s applied offset, in the order of
    its table's changelog."""
    journal = p.rt.topics.journal
    marker = partition_key(partition, keys.applied_offset(journal))
    reader = p.rt.reader()
    try:
        reader.assign(f"{app_id(p.rt.topics)}-positions-changelog", partitions=[partition])
        return [int(r.value) for r in reader.records() if r.key == marker]
    finally:
        reader.close()


def test_events_that_move_no_position_advance_the_applied_offset_once_every_thousand(bootstrap_servers, tmp_path):
    """A restart reads again at most `WorkerOptions.mark_passed_every` journal events that move no
    position: passing them by writes nothing but, once every 1,000, the partition's applied offset."""
    p, account = Pipeline.start(bootstrap_servers, f"pq{uuid4().hex[:8]}.", tmp_path), "ACC-QUIET"
    reader = p.rt.reader()
    try:
        before = reader.end_offsets(p.rt.topics.journal)
        _journal_fill(p, account, "q1", Decimal(1))
        (partition,) = [n for n, end in reader.end_offsets(p.rt.topics.journal).items() if end > before[n]]
        fill_at = before[partition]
        sender = p.rt.event_producer()
        for n in range(1, 1201):
            sender.send(p.rt.topics.journal, account, order_acknowledged(
                account=account, order_id=f"O{account}", event_id=f"ack-{account}-{n}"))
        sender.flush()
        assert reader.end_offsets(p.rt.topics.journal)[partition] == fill_at + 1201
        thousandth = fill_at + 1000

        def marked() -> list[int] | None:
            marks = _applied_offsets(p, partition)
            return marks if thousandth in marks else None

        marks = p.wait(marked, 120, "the applied offset of the thousandth event passed by")
        time.sleep(2.0)  # the last 200 are passed by meanwhile, and write nothing
        last = _applied_offsets(p, partition)[-2:]
    finally:
        reader.close()
        p.stop()
    assert last == marks[-2:] == [fill_at, thousandth]  # the fill's, then the thousandth passed event's

"""Which transactional-producer errors the processor retries, aborts on, or rebuilds its producer for
(`streams.processor.remedy`): librdkafka's prescription, on errors built by hand (no broker); and the
processor on a broker of its own killed (SIGKILL) right after acknowledging a commit, whose restart
can lose that transaction's commit markers."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from oms.clock import TestClock
from oms.config import Settings
from oms.state import RocksStore
from streams.broker import LocalBroker
from streams.kafka import read_all
from streams.processor import FENCED, Remedy, TransactionalProcessor, consumer_fatal, remedy
from streams.runtime import connect
from tests.builders import fill

T0 = 1_700_000_000_000_000_000


def _error(code: int, *, fatal: bool = False, retriable: bool = False, abortable: bool = False) -> KafkaError:
    return KafkaError(code, "test", fatal=fatal, retriable=retriable, txn_requires_abort=abortable)


@pytest.mark.parametrize("code", [KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError.COORDINATOR_NOT_AVAILABLE,
                                  KafkaError.NOT_COORDINATOR, KafkaError.CONCURRENT_TRANSACTIONS])
def test_a_retriable_error_retries_the_same_call(code):
    assert remedy(_error(code, retriable=True)) is Remedy.RETRY


@pytest.mark.parametrize("code", [KafkaError._TIMED_OUT, KafkaError._MSG_TIMED_OUT, KafkaError._INCONSISTENT,
                                  KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID])
def test_an_abortable_error_aborts_and_rewinds_even_when_also_retriable(code):
    assert remedy(_error(code, abortable=True)) is Remedy.ABORT
    assert remedy(_error(code, abortable=True, retriable=True)) is Remedy.ABORT


@pytest.mark.parametrize("code", sorted(FENCED))
def test_fencing_rebuilds_the_producer_whatever_the_flags(code):
    assert remedy(_error(code)) is Remedy.REBUILD
    assert remedy(_error(code, abortable=True)) is Remedy.REBUILD
    assert remedy(_error(code, retriable=True)) is Remedy.REBUILD


def test_the_fenced_codes_are_the_three_librdkafka_reports():
    assert FENCED == {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}


@pytest.mark.parametrize("code", [KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, KafkaError._TIMED_OUT,
                                  KafkaError.INVALID_TXN_STATE])
def test_a_fatal_error_rebuilds_before_anything_else(code):
    assert remedy(_error(code, fatal=True, retriable=True, abortable=True)) is Remedy.REBUILD


@pytest.mark.parametrize("code", [KafkaError._STATE, KafkaError._INVALID_ARG, KafkaError.UNKNOWN])
def test_an_unclassified_error_aborts_the_transaction(code):
    assert remedy(_error(code)) is Remedy.ABORT


def test_a_fenced_static_member_is_a_fatal_consumer_error_even_when_fatal_says_no():
    # librdkafka delivers "Static consumer fenced by other consumer with same group.instance.id"
    # as an error event with code _FATAL and fatal() False: the consumer never delivers again
    fenced = KafkaError(KafkaError._FATAL, "Fatal error: Broker: Static consumer fenced", fatal=False)
    assert not fenced.fatal()
    assert consumer_fatal(fenced)
    assert consumer_fatal(_error(KafkaError.FENCED_INSTANCE_ID))
    assert consumer_fatal(_error(KafkaError.UNKNOWN, fatal=True))


@pytest.mark.parametrize("code", [KafkaError._PARTITION_EOF, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN,
                                  KafkaError.UNKNOWN_TOPIC_OR_PART])
def test_a_passing_consumer_error_keeps_the_consumer(code):
    assert not consumer_fatal(_error(code))
    assert not consumer_fatal(None)


# ------------------------------------------------------------------ a broker killed right after a commit


def open_transactions(bootstrap: str, prefix: str) -> list[str]:
    """Every partition of the topics named `prefix`* whose high watermark lies above its last stable
    offset (where a committed read stops): a transaction open there, or one whose markers were lost."""
    probes = {isolation: Consumer({"bootstrap.servers": bootstrap, "group.id": f"{prefix}probe",
                                   "isolation.level": isolation}) for isolation in ("read_uncommitted", "read_committed")}
    found = []
    try:
        topics = probes["read_committed"].list_topics(timeout=10).topics
        for topic in sorted(t for t in topics if t.startswith(prefix)):
            for partition in sorted(topics[topic].partitions):
                tp = TopicPartition(topic, partition)
                high, stable = (_end(probes[i], tp) for i in ("read_uncommitted", "read_committed"))
                if stable < high:  # (measured in that order: records added in between raise only `stable`)
                    found.append(f"{topic}[{partition}]: high watermark {high}, last stable offset {stable}")
    finally:
        for probe in probes.values():
            probe.close()
    return found


def _end(probe: Consumer, tp: TopicPartition) -> int:
    """`tp`'s end as `probe` reads it, asked again while a restarted broker elects its leaders."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return probe.get_watermark_offsets(tp, timeout=10, cached=False)[1]
        except KafkaException as exc:
            if exc.args[0].code() not in _NO_LEADER or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


_NO_LEADER = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError._UNKNOWN_PARTITION}


class OutputsLost(AssertionError):
    """Inputs whose committed state holds them but whose outputs are not on the output topic."""


@pytest.mark.xfail(raises=OutputsLost, strict=False, reason=(
    "kept as an expected failure until whole-suite runs confirm the fix: a restarted broker kept a commit's "
    "markers on the changelog and lost them on output partitions, and those outputs were ended as aborted while "
    "the state held their inputs; the processor now sends such outputs again (`_resend_lost_outputs`)"))
@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_processor_goes_on_when_its_broker_is_killed_right_after_acknowledging_a_commit(tmp_path, unique_name):
    """The broker is killed (SIGKILL) the moment a commit returns, three times, and restarted on its
    data. A restarted single-node broker (Kafka 4.3.1) then often loses that transaction's commit
    markers: its records stay above the last stable offset and its offsets stay pending in the group,
    so a committed read of them never returns. The processor must commit again after each restart,
    apply every input (the open records ended as aborted, their inputs applied again) and leave no
    transaction open. An input may show twice, as the same output: when the broker wrote the lost
    commit's markers on an output partition but not on the changelog, the state is rebuilt without that
    commit and its inputs applied again (`streams.processor`); a state applied twice would show as a
    second output with the next count, and none may."""
    broker = LocalBroker(tmp_path / "broker", Settings.from_env().cache_dir)
    bootstrap = broker.start().bootstrap_servers
    prefix = f"{unique_name}."
    names = {n: f"{prefix}{n}" for n in ("in", "state", "out")}
    rt = connect(Settings(bootstrap_servers=bootstrap, topic_prefix=prefix))
    admin = rt.admin()
    for future in admin.create_topics([NewTopic(names["in"], 3, 1), NewTopic(names["out"], 3, 1),
                                       NewTopic(names["state"], 3, 1, config={"cleanup.policy": "compact"}),
                                       NewTopic(rt.topics.deadletter, 1, 1)]).values():
        future.result()

    def handler(state, record):  # one fill per input, named after it; its count kept in state
        key = record.text_key
        count = int(state.get(f"n/{key}") or b"0") + 1
        state.put(f"n/{key}", str(count).encode())
        return [(names["out"], key, fill(fill_id=f"f.{key}.{count}", event_id=f"f.{key}.{count}",
                                         quantity=Decimal(count)))]

    processor = TransactionalProcessor(
        name=f"{prefix}proc", bootstrap_servers=bootstrap, group_id=f"{prefix}group", transactional_id=f"{prefix}tx",
        inputs=[names["in"]], changelog=names["state"], store=RocksStore(tmp_path / "store"), codec=rt.codec,
        handler=handler, deadletter=rt.topics.deadletter, clock=TestClock(T0), batch_size=5)
    kill_now, killed = threading.Event(), threading.Event()
    call_all = processor._call_all

    def commit_then_kill(calls, then=None):
        took = call_all(calls, then)
        if kill_now.is_set() and "commit_transaction" in took:
            kill_now.clear()
            os.kill(int(broker.pid_file.read_text()), signal.SIGKILL)
            killed.set()
        return took

    processor._call_all = commit_then_kill
    stop, sending = threading.Event(), threading.Event()
    sent: list[str] = []
    feed = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})

    def send() -> None:
        while sending.is_set():
            key = f"k{len(sent)}"
            feed.produce(names["in"], key=key.encode(), value=b"x", partition=len(sent) % 3)
            sent.append(key)
            feed.poll(0)
            time.sleep(0.03)

    engine = threading.Thread(target=processor.run, args=(stop,), daemon=True)
    feeder = threading.Thread(target=send, daemon=True)
    lost: list[list[str]] = []
    try:
        engine.start()
        sending.set()
        feeder.start()
        for _ in range(3):
            time.sleep(4)
            kill_now.set()
            assert killed.wait(60), "no commit to kill the broker after"
            killed.clear()
            pid = int(broker.pid_file.read_text())
            while broker._alive(pid):
                time.sleep(0.05)
            committed_before = processor.stats.transactions
            broker.start()
            answered = time.monotonic()
            lost.append(open_transactions(bootstrap, prefix))
            while processor.stats.transactions <= committed_before + 3 and time.monotonic() - answered < 90:
                time.sleep(0.2)
            assert processor.stats.transactions > committed_before + 3, (
                f"no commit within 90 s of the broker answering; health {processor.health}; open: {lost[-1]}")
            print(f"\nbroker restarted: committing again {time.monotonic() - answered:.1f}s after it answered; "
                  f"open right after the restart: {lost[-1] or 'none'}")
        sending.clear()
        feeder.join(10)
        assert feed.flush(60) == 0
        consumer = rt.event_consumer(f"{prefix}check", "test", deadletter=False)
        try:
            deadline = time.monotonic() + 240
            while True:
                fills = [r.event for r in read_all(consumer, [names["out"]], timeout=10)]
                if {f.fill_id for f in fills} >= {f"f.{key}.1" for key in sent} or time.monotonic() > deadline:
                    break
                time.sleep(1)
        finally:
            consumer.close()
        left_open = open_transactions(bootstrap, prefix)
    finally:
        sending.clear()
        stop.set()
        engine.join(60)
        processor.store.close()
        broker.stop()

    applied = [f.fill_id for f in fills]
    repeated = sorted(i for i, n in Counter(applied).items() if n > 1)
    print(f"{len(sent)} inputs, {len(applied)} outputs, {len(set(applied))} distinct; shown twice: {repeated}")
    expected = {f"f.{key}.1" for key in sent}
    missing, extra = sorted(expected - set(applied)), sorted(set(applied) - expected)
    # every input applied, on its own state: none applied to a state that already held it, none missing
    assert not extra, (
        f"{len(extra)} outputs of an input applied twice {extra[:20]}; health {processor.health}; "
        f"stats {processor.stats}; open after each restart {lost}")
    assert left_open == [], f"transactions left open: {left_open}; open right after each restart: {lost}"
    if missing:
        raise OutputsLost(
            f"{len(missing)} inputs without their output {missing[:20]}; health {processor.health}; "
            f"stats {processor.stats}; open after each restart {lost}")


"""The transactional processor's batch, without a broker: the transactional calls at the end of a
batch handed over together (a retriable error retries from the call that failed, the next begin never
fails the batch), the state changes written to the changelog once per key with the last value, and the
input offsets the store holds committed on their own (after a restore, and when a rewind cannot read
the committed offsets: offsets a lost commit marker left pending)."""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from oms import keys
from oms.clock import TestClock
from oms.state import RocksStore
from streams.codec import make_codec
from streams.idempotence import partition_key
from streams.processor import RETRIES, Remedy, TransactionalProcessor, TransactionFault

T0 = 1_700_000_000_000_000_000


class RecordingProducer:
    """Stands in for the transactional producer: records what is produced and each call made."""

    def __init__(self, failures: dict[str, list[KafkaError]] | None = None) -> None:
        self.produced: list[tuple[str, bytes | None, bytes, int | None, bool]] = []
        self.calls: list[str] = []
        self.failures = failures or {}
        self.offsets_sent: list[list[tuple[str, int, int]]] = []

    def _call(self, what: str) -> None:
        self.calls.append(what)
        queued = self.failures.get(what)
        if queued:
            raise KafkaException(queued.pop(0))

    def produce(self, topic, key=None, value=None, partition=None, on_delivery=None) -> None:
        self.produced.append((topic, key, value, partition, on_delivery is not None))

    def poll(self, timeout: float) -> int:
        return 0

    def send_offsets_to_transaction(self, positions, *args) -> None:
        self._call("send_offsets_to_transaction")
        self.offsets_sent.append(sorted((tp.topic, tp.partition, tp.offset) for tp in positions))

    def commit_transaction(self, *args) -> None:
        self._call("commit_transaction")

    def begin_transaction(self) -> None:
        self._call("begin_transaction")


def _error(code: int, *, fatal: bool = False, retriable: bool = False) -> KafkaError:
    return KafkaError(code, "test", fatal=fatal, retriable=retriable)


@pytest.fixture
def processor(tmp_path):
    def handler(state, record):
        count = int(state.get("n") or b"0") + 1
        state.put("n", str(count).encode())
        state.put(f"seen/{record.offset}", b"1")
        return []

    made = TransactionalProcessor(
        name="test-proc", bootstrap_servers="127.0.0.1:9", group_id="test-group", transactional_id="test-tx",
        inputs=["in"], changelog="state", store=RocksStore(tmp_path), codec=make_codec(None), handler=handler,
        clock=TestClock(T0),
    )
    made._stop = threading.Event()
    yield made
    made._calls.close()
    made.store.close()


class GroupConsumer:
    """Stands in for the input consumer: its assignment, and committed offsets that cannot be read
    (a committed read waiting on offsets left pending) until `readable` is set."""

    def __init__(self, assignment: list[tuple[str, int]], committed: dict[tuple[str, int], int]) -> None:
        self._assignment = [TopicPartition(topic, partition) for topic, partition in assignment]
        self._committed = committed
        self.readable = lambda: True
        self.committed_reads = 0
        self.seeks: list[tuple[str, int, int]] = []

    def assignment(self) -> list[TopicPartition]:
        return list(self._assignment)

    def consumer_group_metadata(self) -> object:
        return "group-metadata"

    def committed(self, partitions, timeout=None) -> list[TopicPartition]:
        self.committed_reads += 1
        if not self.readable():
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "Failed to get committed offsets: Local: Timed out"))
        return [TopicPartition(tp.topic, tp.partition, self._committed[(tp.topic, tp.partition)]) for tp in partitions]

    def seek(self, tp: TopicPartition) -> None:
        self.seeks.append((tp.topic, tp.partition, tp.offset))

    def consume(self, num_messages: int, timeout: float) -> list:
        return []


def _applied(processor, topic: str, partition: int, offset: int) -> None:
    """The store holds `offset` as the last input applied from `topic`[`partition`]."""
    processor.store.write_batch([(partition_key(partition, keys.applied_offset(topic)), str(offset).encode())])


def _end_of_batch(processor, producer):
    return processor._call_all([
        ("send_offsets_to_transaction", producer.send_offsets_to_transaction, ([],), Remedy.ABORT),
        ("commit_transaction", producer.commit_transaction, (), Remedy.REBUILD),
    ], then=("begin_transaction", producer.begin_transaction))


def test_the_offsets_the_commit_and_the_next_begin_run_in_one_hand_over(processor):
    producer = RecordingProducer()

    took = _end_of_batch(processor, producer)

    assert producer.calls == ["send_offsets_to_transaction", "commit_transaction", "begin_transaction"]
    assert set(took) == {"send_offsets_to_transaction", "commit_transaction", "begin_transaction"}


def test_a_retriable_error_retries_from_the_call_that_failed(processor):
    producer = RecordingProducer({"commit_transaction": [_error(KafkaError._TIMED_OUT, retriable=True)]})

    _end_of_batch(processor, producer)

    assert producer.calls == ["send_offsets_to_transaction", "commit_transaction", "commit_transaction",
                              "begin_transaction"]


def test_a_call_that_keeps_failing_escalates_to_its_own_remedy(processor, monkeypatch):
    monkeypatch.setattr("streams.processor.BACKOFF_S", (0.001, 0.001))
    timeouts = [_error(KafkaError._TIMED_OUT, retriable=True) for _ in range(RETRIES)]
    producer = RecordingProducer({"commit_transaction": timeouts})

    with pytest.raises(TransactionFault) as fault:
        _end_of_batch(processor, producer)

    assert fault.value.call == "commit_transaction" and fault.value.remedy is Remedy.REBUILD
    assert producer.calls == ["send_offsets_to_transaction"] + ["commit_transaction"] * RETRIES


def test_a_fatal_error_is_raised_at_once_with_its_remedy(processor):
    producer = RecordingProducer({"send_offsets_to_transaction": [_error(KafkaError._FENCED, fatal=True)]})

    with pytest.raises(TransactionFault) as fault:
        _end_of_batch(processor, producer)

    assert fault.value.call == "send_offsets_to_transaction" and fault.value.remedy is Remedy.REBUILD
    assert producer.calls == ["send_offsets_to_transaction"]


def test_a_failed_begin_of_the_next_transaction_does_not_fail_the_committed_one(processor):
    producer = RecordingProducer({"begin_transaction": [_error(KafkaError._STATE)]})

    took = _end_of_batch(processor, producer)

    assert "commit_transaction" in took and "begin_transaction" not in took


def test_a_batch_writes_each_changed_key_once_with_its_last_value(processor):
    producer = RecordingProducer()
    processor._producer = producer
    staged: dict[bytes, bytes] = {}
    changes: dict[int, dict[bytes, bytes]] = {}
    inputs = [Message(topic="in", partition=1, offset=offset, key=b"k", value=b"v") for offset in range(3)]

    for message in inputs:
        processor._apply(message, staged, changes)
    processor._write_changelog(changes)

    written = [(key, value) for topic, key, value, partition, _ in producer.produced if topic == "state"]
    assert {partition for topic, _, _, partition, _ in producer.produced} == {1}
    assert len(written) == len({key for key, _ in written})  # each key once
    assert dict(written)[b"n"] == b"3"  # its last value
    assert {b"seen/0", b"seen/1", b"seen/2"} <= set(dict(written))
    assert [reports for *_, reports in producer.produced] == [False] * (len(written) - 1) + [True]


def test_settling_commits_the_offset_after_the_last_input_the_store_applied_on_each_assigned_partition(processor):
    processor._producer = producer = RecordingProducer()
    processor._consumer = GroupConsumer([("in", 0), ("in", 1), ("in", 2)], {})
    _applied(processor, "in", 0, 41)
    _applied(processor, "in", 2, 7)
    _applied(processor, "other", 1, 99)  # not an assigned input

    processor._settle()

    assert producer.offsets_sent == [[("in", 0, 42), ("in", 2, 8)]]  # in[1]: nothing applied yet, left out
    assert producer.calls == ["begin_transaction", "send_offsets_to_transaction", "commit_transaction",
                              "begin_transaction"]


def test_settling_after_a_restore_commits_only_the_restored_partitions(processor):
    processor._producer = producer = RecordingProducer()
    processor._consumer = GroupConsumer([("in", 0), ("in", 1)], {})
    _applied(processor, "in", 0, 3)
    _applied(processor, "in", 1, 5)

    processor._settle({1})

    assert producer.offsets_sent == [[("in", 1, 6)]]


def test_settling_with_no_input_applied_makes_no_transaction(processor):
    processor._producer = producer = RecordingProducer()
    processor._consumer = GroupConsumer([("in", 0)], {})

    processor._settle()

    assert producer.calls == [] and producer.offsets_sent == []


def test_a_rewind_that_cannot_read_the_committed_offsets_restores_settles_and_then_reads_them(processor, monkeypatch):
    monkeypatch.setattr("streams.processor.BACKOFF_S", (0.001, 0.001))
    restored: list[set[int]] = []
    monkeypatch.setattr(processor, "_restore", restored.append)
    processor._producer = producer = RecordingProducer()
    consumer = processor._consumer = GroupConsumer([("in", 0)], {("in", 0): 42})
    consumer.readable = lambda: "commit_transaction" in producer.calls  # pending until a commit of ours
    _applied(processor, "in", 0, 41)

    processor._rewind()

    assert restored == [{0}]  # the store first brought to what the changelog shows committed
    assert producer.offsets_sent == [[("in", 0, 42)]]
    assert consumer.seeks == [("in", 0, 42)]
    assert consumer.committed_reads == 2


def test_a_rewind_settles_once_however_long_the_offsets_stay_unreadable(processor, monkeypatch):
    monkeypatch.setattr("streams.processor.BACKOFF_S", (0.001, 0.001))
    monkeypatch.setattr(processor, "_restore", lambda partitions: None)
    processor._producer = producer = RecordingProducer()
    consumer = processor._consumer = GroupConsumer([("in", 0)], {("in", 0): 42})
    consumer.readable = lambda: consumer.committed_reads > 4  # the broker answers late
    _applied(processor, "in", 0, 41)

    processor._rewind()

    assert len(producer.offsets_sent) == 1
    assert consumer.seeks == [("in", 0, 42)]


def test_a_rewind_whose_restore_fails_settles_nothing_and_tries_again(processor, monkeypatch):
    monkeypatch.setattr("streams.processor.BACKOFF_S", (0.001, 0.001))
    attempts: list[set[int]] = []

    def restore(partitions):
        attempts.append(partitions)
        if len(attempts) == 1:
            raise TimeoutError("changelog not read")

    monkeypatch.setattr(processor, "_restore", restore)
    processor._producer = producer = RecordingProducer()
    consumer = processor._consumer = GroupConsumer([("in", 0)], {("in", 0): 42})
    consumer.readable = lambda: "commit_transaction" in producer.calls
    _applied(processor, "in", 0, 41)

    processor._rewind()

    assert attempts == [{0}, {0}]
    assert producer.offsets_sent == [[("in", 0, 42)]]
    assert processor._to_restore == set()

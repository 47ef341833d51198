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
from streams.processor import RETRIES, Remedy, Sent, TransactionalProcessor, TransactionFault

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


class FetchingConsumer(GroupConsumer):
    """A group consumer whose next fetch returns one input record, and whose committed offsets are
    those the producer last sent (`committed_by`)."""

    def __init__(self, assignment, committed, committed_by: RecordingProducer) -> None:
        super().__init__(assignment, committed)
        self._producer = committed_by
        self.fetched = 0

    def committed(self, partitions, timeout=None) -> list[TopicPartition]:
        for topic, partition, offset in (self._producer.offsets_sent or [[]])[-1]:
            self._committed[(topic, partition)] = offset
        return super().committed(partitions, timeout)

    def consume(self, num_messages: int, timeout: float) -> list:
        self.fetched += 1
        return []


def test_a_restore_that_rebuilds_a_slice_without_a_commit_reads_its_inputs_again(processor, monkeypatch):
    """The broker kept a commit's markers on the group's offsets (the consumer stands after its inputs)
    and lost them on the changelog: the restore rebuilds that slice without the commit. The step then
    settles the store's offsets and reads on from them, so the commit's inputs are applied again."""
    processor._producer = producer = RecordingProducer()
    consumer = processor._consumer = FetchingConsumer([("in", 0), ("in", 1)], {("in", 0): 10, ("in", 1): 25}, producer)
    _applied(processor, "in", 0, 9)
    _applied(processor, "in", 1, 24)

    def restore(partitions):  # in[1]'s slice rebuilt from what is committed: without inputs 20..24
        _applied(processor, "in", 1, 19)

    monkeypatch.setattr(processor, "_restore", restore)
    processor._to_restore = {0, 1}

    processor._step()

    assert producer.offsets_sent == [[("in", 0, 10), ("in", 1, 20)]]
    assert consumer.seeks == [("in", 0, 10), ("in", 1, 20)]  # not from 25, where the consumer stood
    assert processor.stats.inputs == 0  # nothing of the batch fetched before the restore was applied


class _Fetched:
    """An input record a consumer fetched."""

    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self._where = (topic, partition, offset)

    def topic(self): return self._where[0]
    def partition(self): return self._where[1]
    def offset(self): return self._where[2]
    def error(self): return None


def test_a_batch_that_starts_where_the_restored_state_ends_is_processed_as_it_is(processor):
    processor._consumer = consumer = GroupConsumer([("in", 0), ("in", 1)], {})
    _applied(processor, "in", 0, 9)
    _applied(processor, "in", 1, 19)

    put_back = processor._read_on_from_store({0, 1}, [_Fetched("in", 0, 10), _Fetched("in", 1, 20),
                                                      _Fetched("in", 1, 21)])

    assert not put_back and consumer.seeks == []


def test_a_batch_past_the_restored_state_is_put_back_and_read_again_from_the_state(processor):
    processor._consumer = consumer = GroupConsumer([("in", 0), ("in", 1), ("in", 2)], {})
    _applied(processor, "in", 1, 19)

    put_back = processor._read_on_from_store({1}, [_Fetched("in", 0, 7), _Fetched("in", 1, 25),
                                                   _Fetched("in", 0, 8)])

    assert put_back
    assert sorted(consumer.seeks) == [("in", 0, 7), ("in", 1, 20)]  # in[0] from its batch again, in[1] from 20


def test_a_restored_partition_the_batch_has_nothing_of_is_sought_to_where_its_state_ends(processor):
    processor._consumer = consumer = GroupConsumer([("in", 0), ("in", 1)], {})
    _applied(processor, "in", 0, 9)
    _applied(processor, "in", 1, 19)

    put_back = processor._read_on_from_store({0, 1}, [_Fetched("in", 0, 10)])

    assert put_back and sorted(consumer.seeks) == [("in", 0, 10), ("in", 1, 20)]


class _Delivered:
    """A delivery report's message."""

    def __init__(self, topic: str, partition: int, offset: int, key: bytes, value: bytes) -> None:
        self._fields = (topic, partition, offset, key, value)

    def topic(self): return self._fields[0]
    def partition(self): return self._fields[1]
    def offset(self): return self._fields[2]
    def key(self): return self._fields[3]
    def value(self): return self._fields[4]


class DeliveringProducer(RecordingProducer):
    """A recording producer that reports each record delivered at the next offset of its partition (the
    partition given, else 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: dict[tuple[str, int], int] = {}

    def produce(self, topic, key=None, value=None, partition=None, on_delivery=None) -> None:
        super().produce(topic, key, value, partition, on_delivery)
        where = (topic, 0 if partition is None else partition)
        offset = self.ends.get(where, 0)
        self.ends[where] = offset + 1
        if on_delivery is not None:
            on_delivery(None, _Delivered(topic, where[1], offset, key, value))


class PositionedConsumer(GroupConsumer):
    def position(self, partitions):
        return [TopicPartition(tp.topic, tp.partition, 0) for tp in partitions]


def _sent(topic: str, partition: int, offset: int, source_offset: int, transaction: int = 1) -> Sent:
    return Sent(topic, partition, offset, b"k", f"{topic}{partition}@{offset}".encode(), ("in", 0, source_offset),
                transaction)


def _committed_on(processor, monkeypatch, committed: set[tuple[str, int]],
                  aborted_then: dict[tuple[str, int], int] | None = None) -> list[str]:
    """Outputs read back as committed on the partitions `committed` only; elsewhere a committed read
    returns the offset `aborted_then` gives (the first committed record after aborted ones) or nothing
    (open, or aborted at the end); returns the record of the open records ended as aborted."""
    ended: list[str] = []
    monkeypatch.setattr(processor, "_first_from", lambda offset, isolation, *, topic, partition:
                        offset if (topic, partition) in committed else (aborted_then or {}).get((topic, partition)))
    monkeypatch.setattr(processor, "_abort_open_records", lambda: ended.append("aborted"))
    return ended


def test_outputs_of_the_last_commit_not_committed_on_their_partition_go_out_again(processor, monkeypatch):
    """The broker kept a commit's markers on the changelog (the state holds its inputs) and lost them on
    out[1]: those outputs are ended as aborted where still open, and sent again; out[0]'s stand."""
    _applied(processor, "in", 0, 20)
    processor._last_commit = [_sent("out", 0, 5, 18), _sent("out", 1, 7, 19), _sent("out", 1, 8, 20)]
    ended = _committed_on(processor, monkeypatch, {("out", 0)})

    processor._resend_lost_outputs()

    assert ended == ["aborted"]
    assert [(s.topic, s.partition, s.offset) for s in processor._resend] == [("out", 1, 7), ("out", 1, 8)]
    assert processor._last_commit == []


def test_outputs_whose_inputs_the_state_does_not_hold_are_left_to_their_inputs(processor, monkeypatch):
    """The changelog's records of that commit were lost too: the state is rebuilt without them and the
    inputs applied again make those outputs again, so they are not sent a second time."""
    _applied(processor, "in", 0, 17)
    processor._last_commit = [_sent("out", 1, 7, 18), _sent("out", 1, 8, 19)]
    ended = _committed_on(processor, monkeypatch, set())

    processor._resend_lost_outputs()

    assert ended == [] and processor._resend == []


def test_outputs_committed_everywhere_are_not_touched(processor, monkeypatch):
    _applied(processor, "in", 0, 20)
    processor._last_commit = [_sent("out", 0, 5, 18), _sent("out", 1, 7, 19)]
    ended = _committed_on(processor, monkeypatch, {("out", 0), ("out", 1)})

    processor._resend_lost_outputs()

    assert ended == [] and processor._resend == [] and processor._last_commit == []


def test_the_next_transaction_carries_the_outputs_again_to_their_partitions_and_only_its_own_count(processor):
    """Sent again to the partition they were on, in a transaction of their own when no input comes; once
    committed they are the last commit's outputs (a later recovery checks them in turn), and a late
    delivery report of an earlier transaction is not."""
    processor._producer = producer = DeliveringProducer()
    processor._consumer = PositionedConsumer([("in", 0)], {})
    processor._resend = [_sent("out", 1, 7, 19), _sent("out", 1, 8, 20)]
    processor._sent = [_sent("out", 2, 3, 4, transaction=-5)]  # a late report of an aborted transaction

    processor._process([], [])

    assert [(topic, partition) for topic, _, _, partition, _ in producer.produced] == [("out", 1), ("out", 1)]
    assert [value for _, _, value, _, _ in producer.produced] == [b"out1@7", b"out1@8"]
    assert "commit_transaction" in producer.calls
    assert processor._resend == []
    assert [(s.topic, s.partition, s.source) for s in processor._last_commit] == [("out", 1, ("in", 0, 19)),
                                                                                  ("out", 1, ("in", 0, 20))]


def test_a_recovery_has_the_last_commits_outputs_checked_and_forgets_the_aborted_transactions(processor, monkeypatch):
    processor._sent = [_sent("out", 0, 9, 30, transaction=3)]
    monkeypatch.setattr(processor, "_rebuild", lambda: None)
    monkeypatch.setattr(processor, "_rewind", lambda: None)

    processor._recover(TransactionFault("commit_transaction", None, Remedy.REBUILD))

    assert processor._check_outputs and processor._sent == []


def test_outputs_already_ended_as_aborted_are_sent_again_without_ending_anything(processor, monkeypatch):
    """The recovery's abort ended them (a committed read finds a later record): nothing is left open,
    so no transaction is aborted on purpose; they are sent again."""
    _applied(processor, "in", 0, 20)
    processor._last_commit = [_sent("out", 1, 7, 19), _sent("out", 1, 8, 20)]
    ended = _committed_on(processor, monkeypatch, set(), aborted_then={("out", 1): 10})

    processor._resend_lost_outputs()

    assert ended == []
    assert [(s.partition, s.offset) for s in processor._resend] == [(1, 7), (1, 8)]

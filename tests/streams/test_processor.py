"""The transactional processor on a real broker: state restored from its changelog after a
restart, inputs applied once, and a failing handler dead-letters its input and goes on."""

from __future__ import annotations

import threading
from decimal import Decimal

from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic

import pytest

from oms.clock import TestClock
from oms.config import Settings
from oms.state import RocksStore
from streams.kafka import read_all
from streams.processor import TransactionalProcessor
from streams.reader import TopicReader
from streams.runtime import connect
from tests.builders import fill

pytestmark = pytest.mark.kafka

T0 = 1_700_000_000_000_000_000


def _setup(bootstrap_servers, unique_name):
    rt = connect(Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"{unique_name}."))
    rt.ensure_topics()
    names = {n: f"{unique_name}.proc.{n}" for n in ("in", "state", "out")}
    admin = rt.admin()  # keep the client alive until the futures complete
    futures = admin.create_topics([
        NewTopic(names["in"], 2, 1), NewTopic(names["out"], 1, 1),
        NewTopic(names["state"], 2, 1, config={"cleanup.policy": "compact"}),
    ])
    for future in futures.values():
        future.result()
    return rt, names


def _counter(rt, names):
    """Counts the inputs per key in state; emits a Fill per input carrying the running count."""

    def handler(state, record):
        if record.value == b"boom":
            raise RuntimeError("handler bug")
        key = record.text_key
        count = int(state.get(f"n/{key}") or b"0") + 1
        state.put(f"n/{key}", str(count).encode())
        return [(names["out"], key, fill(fill_id=f"f.{key}.{count}", event_id=f"f.{key}.{count}",
                                         quantity=Decimal(count)))]

    return handler


def _run(rt, names, tmp_path, handler, stop_after: int, ran: list | None = None):
    processor = TransactionalProcessor(
        name=f"{names['in']}-proc", bootstrap_servers=rt.bootstrap_servers, group_id=f"{names['in']}-group",
        transactional_id=f"{names['in']}-tx", inputs=[names["in"]], changelog=names["state"],
        store=RocksStore(tmp_path), codec=rt.codec, handler=handler, deadletter=rt.topics.deadletter,
        clock=TestClock(T0),
    )
    if ran is not None:
        ran.append(processor)
    stop = threading.Event()
    thread = threading.Thread(target=processor.run, args=(stop,), daemon=True)
    thread.start()
    consumer = rt.event_consumer(f"{names['out']}-check", "test", deadletter=False)
    try:
        import time

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            out = read_all(consumer, [names["out"]], timeout=5)
            if len(out) >= stop_after:
                break
            time.sleep(0.5)
    finally:
        stop.set()
        thread.join(30)
        consumer.close()
        processor.store.close()
    return [r.event for r in out]


def test_state_survives_a_restart_with_a_fresh_store_and_inputs_apply_once(bootstrap_servers, unique_name, tmp_path):
    rt, names = _setup(bootstrap_servers, unique_name)
    producer = Producer({"bootstrap.servers": rt.bootstrap_servers})
    for _ in range(3):
        producer.produce(names["in"], key=b"a", value=b"x")
    producer.flush()
    first = _run(rt, names, tmp_path / "one", _counter(rt, names), stop_after=3)
    assert [e.quantity for e in first] == [1, 2, 3]

    for _ in range(2):
        producer.produce(names["in"], key=b"a", value=b"x")
    producer.flush()
    second = _run(rt, names, tmp_path / "two", _counter(rt, names), stop_after=5)  # new, empty store
    assert [e.quantity for e in second] == [1, 2, 3, 4, 5]  # counted on from the restored state, no repeats


def test_a_restart_on_its_own_store_reads_only_the_changelog_records_the_store_lacks(
        bootstrap_servers, unique_name, tmp_path):
    """A commit whose store write was lost (kill -9 between the two) is read back from the changelog
    past the store's checkpoint; the records the store holds are not read again."""
    from oms import keys
    from streams.idempotence import partition_key

    rt, names = _setup(bootstrap_servers, unique_name)
    producer = Producer({"bootstrap.servers": rt.bootstrap_servers})
    for _ in range(3):
        producer.produce(names["in"], key=b"a", value=b"x")
    producer.flush()
    assert [e.quantity for e in _run(rt, names, tmp_path, _counter(rt, names), stop_after=3)] == [1, 2, 3]
    store = RocksStore(tmp_path)
    [partition] = [p for p in (0, 1) if store.get(partition_key(p, "n/a")) == b"3"]
    checkpoint = store.get(partition_key(partition, keys.changelog_checkpoint()))
    store.close()
    reader = TopicReader.connect(rt.bootstrap_servers)
    reader.assign(names["state"], partitions=[partition])
    last = max(record.offset for record in reader.records(idle_timeout=10))
    reader.close()
    assert checkpoint is not None and int(checkpoint) == last + 1  # past every state write committed

    producer.produce(names["state"], key=b"n/a", value=b"10", partition=partition)  # committed, never stored
    for _ in range(2):
        producer.produce(names["in"], key=b"a", value=b"x")
    producer.flush()
    ran: list = []
    again = _run(rt, names, tmp_path, _counter(rt, names), stop_after=5, ran=ran)
    assert [e.quantity for e in again][3:] == [11, 12]  # counted on from the record the store lacked
    assert ran[0].stats.restored == 1  # and nothing else was read back


def test_a_failing_handler_dead_letters_the_input_and_the_processor_goes_on(bootstrap_servers, unique_name, tmp_path):
    rt, names = _setup(bootstrap_servers, unique_name)
    producer = Producer({"bootstrap.servers": rt.bootstrap_servers})
    producer.produce(names["in"], key=b"b", value=b"boom", partition=0)
    producer.produce(names["in"], key=b"b", value=b"x", partition=0)
    producer.flush()
    out = _run(rt, names, tmp_path, _counter(rt, names), stop_after=1)
    assert [e.quantity for e in out] == [1]
    consumer = rt.event_consumer(f"{unique_name}-dl", "test", deadletter=False)
    try:
        letters = [r.event for r in read_all(consumer, [rt.topics.deadletter], timeout=10)]
    finally:
        consumer.close()
    assert len(letters) == 1 and letters[0].value == b"boom" and "handler bug" in letters[0].error
    assert letters[0].ts_init == T0 and letters[0].processor == f"{names['in']}-proc"


def test_a_processor_fenced_as_a_static_member_joins_again_and_goes_on(bootstrap_servers, unique_name, tmp_path):
    """Another consumer takes the processor's `group.instance.id` (as the processor's own earlier
    member does after a broker outage longer than its session): librdkafka fences the processor's
    consumer for good, with an error event whose code is _FATAL and whose fatal() is False. The
    processor must replace its consumer and go on from the committed offsets, not sit idle."""
    import time

    from confluent_kafka import Consumer

    from streams.processor import processor_consumer_config

    rt, names = _setup(bootstrap_servers, unique_name)
    producer = Producer({"bootstrap.servers": rt.bootstrap_servers})
    for _ in range(3):
        producer.produce(names["in"], key=b"a", value=b"x")
    producer.flush()
    processor = TransactionalProcessor(
        name=f"{names['in']}-proc", bootstrap_servers=rt.bootstrap_servers, group_id=f"{names['in']}-group",
        transactional_id=f"{names['in']}-tx", inputs=[names["in"]], changelog=names["state"],
        store=RocksStore(tmp_path), codec=rt.codec, handler=_counter(rt, names), deadletter=rt.topics.deadletter,
        clock=TestClock(T0),
    )
    stop = threading.Event()
    thread = threading.Thread(target=processor.run, args=(stop,), daemon=True)
    thread.start()
    check = rt.event_consumer(f"{names['out']}-check", "test", deadletter=False)
    def outputs(n: int) -> list:
        """Every output so far, once there are at least `n` (or after 90 s)."""
        deadline = time.monotonic() + 90
        out = read_all(check, [names["out"]], timeout=2)
        while len(out) < n and time.monotonic() < deadline:
            time.sleep(0.5)
            out = read_all(check, [names["out"]], timeout=2)
        return [r.event.quantity for r in out]

    try:
        assert outputs(3) == [1, 2, 3]
        rogue = Consumer(processor_consumer_config(rt.bootstrap_servers, f"{names['in']}-group", f"{names['in']}-tx"))
        rogue.subscribe([names["in"]])
        deadline = time.monotonic() + 30
        while not rogue.assignment() and time.monotonic() < deadline:
            rogue.poll(0.2)
        assert rogue.assignment(), "the second member with the processor's instance id got no partitions"
        rogue.close()  # a static member leaves no LeaveGroup: the instance id stays with its member id
        for _ in range(2):
            producer.produce(names["in"], key=b"a", value=b"x")
        producer.flush()
        assert outputs(5) == [1, 2, 3, 4, 5]  # went on, counting on from the committed state, nothing twice
        assert processor.health.rebuilds >= 1
    finally:
        stop.set()
        thread.join(30)
        check.close()
        processor.store.close()

"""Tests of `streams.broker`: the session's real broker does what the OMS relies on.

Against the real cluster (no mocks): plain produce and consume, transactions
seen through `read_committed`, committed consumer-group offsets. Without a
broker: the rendered configuration, the cluster id and the jar cache.
"""

from __future__ import annotations

import base64
import re
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streams import broker
from streams.broker import (
    KAFKA_VERSION,
    BrokerError,
    LocalBroker,
    new_cluster_id,
    render_server_properties,
)

# --------------------------------------------------------------------------- helpers


def create_topic(bootstrap: str, name: str, partitions: int = 1) -> str:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    futures[name].result(timeout=30)
    return name


def consumer(bootstrap: str, group: str, **extra) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **extra,
        }
    )


def consume_until(c: Consumer, last_value: bytes, timeout: float = 30.0) -> list[bytes]:
    """Values polled up to and including `last_value`."""
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            raise KafkaException(msg.error())
        values.append(msg.value())
        if msg.value() == last_value:
            return values
    raise AssertionError(f"{last_value!r} not consumed within {timeout} s; got {values!r}")


def properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


# --------------------------------------------------------------------------- against the real broker


def test_produce_and_consume(bootstrap_servers: str, unique_name: str) -> None:
    topic = create_topic(bootstrap_servers, unique_name)
    producer = Producer({"bootstrap.servers": bootstrap_servers, "enable.idempotence": True})
    producer.produce(topic, key=b"ACC-1", value=b"hello")
    assert producer.flush(30) == 0

    c = consumer(bootstrap_servers, unique_name)
    c.subscribe([topic])
    try:
        msg_values = consume_until(c, b"hello")
    finally:
        c.close()
    assert msg_values == [b"hello"]


def test_read_committed_sees_committed_not_aborted(bootstrap_servers: str, unique_name: str) -> None:
    topic = create_topic(bootstrap_servers, unique_name)
    producer = Producer({"bootstrap.servers": bootstrap_servers, "transactional.id": unique_name})
    producer.init_transactions(30)

    producer.begin_transaction()
    producer.produce(topic, value=b"committed")
    producer.commit_transaction(30)

    producer.begin_transaction()
    producer.produce(topic, value=b"aborted")
    producer.flush(30)  # the aborted record really reaches the log
    producer.abort_transaction(30)

    producer.begin_transaction()
    producer.produce(topic, value=b"last")
    producer.commit_transaction(30)

    committed = consumer(bootstrap_servers, f"{unique_name}-rc", **{"isolation.level": "read_committed"})
    uncommitted = consumer(bootstrap_servers, f"{unique_name}-ru", **{"isolation.level": "read_uncommitted"})
    committed.subscribe([topic])
    uncommitted.subscribe([topic])
    try:
        assert consume_until(committed, b"last") == [b"committed", b"last"]
        assert consume_until(uncommitted, b"last") == [b"committed", b"aborted", b"last"]
    finally:
        committed.close()
        uncommitted.close()


def test_consumer_group_commits_offsets(bootstrap_servers: str, unique_name: str) -> None:
    topic = create_topic(bootstrap_servers, unique_name)
    producer = Producer({"bootstrap.servers": bootstrap_servers})
    for value in (b"1", b"2", b"3"):
        producer.produce(topic, value=value)
    assert producer.flush(30) == 0

    first = consumer(bootstrap_servers, unique_name)
    first.subscribe([topic])
    try:
        assert consume_until(first, b"3") == [b"1", b"2", b"3"]
        first.commit(asynchronous=False)
    finally:
        first.close()

    producer.produce(topic, value=b"4")
    assert producer.flush(30) == 0

    second = consumer(bootstrap_servers, unique_name)
    try:
        [committed] = second.committed([TopicPartition(topic, 0)], timeout=30)
        assert committed.offset == 3
        second.subscribe([topic])
        assert consume_until(second, b"4") == [b"4"]  # resumes after the committed offset
    finally:
        second.close()


# --------------------------------------------------------------------------- without a broker


def test_server_properties_fit_a_single_node(tmp_path: Path) -> None:
    props = properties(render_server_properties(tmp_path, 19092, 19093))

    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert props["log.dirs"] == str(tmp_path / "kraft")
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
    ):
        assert props[key] == "1", key
    assert props["auto.create.topics.enable"] == "false"


def test_cluster_id_is_base64url_of_16_bytes() -> None:
    ids = {new_cluster_id() for _ in range(100)}
    assert len(ids) == 100
    for cluster_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id)
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_cached_jars_are_not_resolved_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / f"kafka-{KAFKA_VERSION}"
    (home / "libs").mkdir(parents=True)
    (home / ".complete").write_text("done\n")

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"subprocess.run called: {args}")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    assert LocalBroker(tmp_path / "data", tmp_path).resolve_jars() == home / "libs"


def test_missing_maven_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(broker.shutil, "which", lambda name: None)
    with pytest.raises(BrokerError, match="mvn"):
        LocalBroker(tmp_path / "data", tmp_path).resolve_jars()

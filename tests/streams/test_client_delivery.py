"""A trader's client is told, per command, whether the broker took it.

`OrderClient.new_order(on_delivery=...)` calls back with None once the
command is on `commands`, and with the reason when the broker refused it for
good, so a client can send a refused command again instead of losing it.
"""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from oms.clock import TestClock
from oms.config import Settings
from streams.client import OrderClient
from streams.codec import make_codec
from streams.kafka import DeliveryError, EventProducer
from streams.reader import TopicReader
from streams.runtime import connect
from streams.topics import Topics

ORDER = dict(account="ACC1", client_order_id="c-1", instrument="AAPL", side="BUY", quantity=10)


@pytest.mark.kafka
def test_a_delivered_command_is_confirmed_and_on_the_topic(bootstrap_servers, unique_name):
    rt = connect(Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"{unique_name}."))
    rt.ensure_topics()
    told: list[str | None] = []
    client = OrderClient(rt.event_producer(), rt.topics, "alice", TestClock())
    client.new_order(on_delivery=told.append, **ORDER)
    client.flush(30)
    assert told == [None]
    reader = TopicReader.connect(bootstrap_servers, f"{unique_name}-check")
    try:
        reader.assign(rt.topics.commands)
        values = [rt.codec.decode(r.topic, r.value) for r in reader.records(idle_timeout=5)]
    finally:
        reader.close()
    assert [(v.account, v.client_order_id) for v in values] == [("ACC1", "c-1")]


def test_a_refused_command_is_reported_with_its_reason():
    # nothing listens on port 9: the record's message timeout runs out, which is a refusal for good
    producer = Producer({"bootstrap.servers": "127.0.0.1:9", "message.timeout.ms": 300,
                         "socket.connection.setup.timeout.ms": 1000, "log_level": 0})
    told: list[str | None] = []
    client = OrderClient(EventProducer(producer, make_codec(None)), Topics("t."), "alice", TestClock())
    client.new_order(on_delivery=told.append, **ORDER)
    with pytest.raises(DeliveryError):
        client.flush(10)
    assert len(told) == 1 and told[0] is not None and "timed out" in told[0].lower()

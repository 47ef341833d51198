"""The faust side's Kafka client settings: the position manager reads committed data only.

faust-streaming builds its worker consumer `read_uncommitted` unless the app
itself runs exactly-once, so an at-least-once faust agent would see the
records of transactions the order engine aborted (a handler fault, a broker
outage) — fills that never happened. `read_committed(app)` gives a faust app a
transport whose worker consumer reads `read_committed`, like every other
consumer of the OMS. Call it right after creating the app, before any topic
or agent touches `app.transport`. It also hands the app the process's SASL/TLS
client security (`streams.security.faust_credentials`), so faust's clients
authenticate like the confluent-kafka ones.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.security import faust_credentials

__all__ = ["read_committed"]


class _ReadCommittedConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any):
        consumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = "read_committed"  # aiokafka hands it to its fetcher at start()
        return consumer


class _ReadCommittedConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _ReadCommittedTransport(faust_aiokafka.Transport):
    Consumer = _ReadCommittedConsumer


def read_committed(app: faust.App) -> faust.App:
    """Make `app`'s worker consumer read committed records only, with the process's client
    security; returns the app."""
    if app._transport is not None:
        raise RuntimeError("read_committed(app) must run before anything uses app.transport")
    credentials = faust_credentials()
    if credentials is not None:
        app.conf.broker_credentials = credentials
    app.transport = _ReadCommittedTransport(app.conf.broker_consumer, app)
    return app

"""One connection to the cluster: bootstrap servers, codec, topic names and client factories.

`connect(settings)` applies the project-wide resolution order for the broker
(`KAFKA_BOOTSTRAP_SERVERS`, else the local broker, started if needed) and the
codec (Confluent wire format when a schema registry is configured, else Avro
single-object encoding with schemas on the compacted `schemas` topic). It
also installs the settings' SASL/TLS client security (`streams.security.use`)
for every Kafka client the process builds from then on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import Consumer, Producer

from oms.clock import Clock
from oms.config import Settings
from streams.broker import resolve_bootstrap
from streams.codec import Codec, SingleObjectCodec, make_codec
from streams.kafka import EventConsumer, EventProducer, admin_client, consumer_config, producer_config
from streams.reader import TopicReader
from streams.schema_topic import learn_schemas, publish_schemas
from streams import metrics, security
from streams.topics import Topics, create_topics


@dataclass
class Runtime:
    settings: Settings
    bootstrap_servers: str
    codec: Codec
    topics: Topics
    _schemas_published: bool = field(default=False, repr=False)

    def admin(self):
        return admin_client(self.bootstrap_servers)

    def ensure_topics(self):
        """Create the catalogue's topics (idempotent) and publish the schemas."""
        statuses = create_topics(self.admin(), self.topics, self.settings.partitions)
        self.publish_schemas()
        return statuses

    def publish_schemas(self) -> None:
        if isinstance(self.codec, SingleObjectCodec) and not self._schemas_published:
            producer = Producer(producer_config(self.bootstrap_servers))
            publish_schemas(producer, self.topics.schemas, self.codec)
            self._schemas_published = True

    def learn_schemas(self) -> int:
        """Teach the codec every schema version ever published (for reading older data)."""
        if isinstance(self.codec, SingleObjectCodec):
            return learn_schemas(self.bootstrap_servers, self.topics.schemas, self.codec)
        return 0

    def producer(self, **extra) -> Producer:
        return Producer(producer_config(self.bootstrap_servers, **extra))

    def event_producer(self, **extra) -> EventProducer:
        self.publish_schemas()
        return EventProducer(self.producer(**extra), self.codec)

    def consumer(self, group_id: str, **extra) -> Consumer:
        """A group consumer that reports its lag per partition (`streams.metrics.lag_config`)."""
        return Consumer(consumer_config(self.bootstrap_servers, group_id, **{**metrics.lag_config(group_id), **extra}))

    def reader(self, group_id: str | None = None, **extra) -> TopicReader:
        """The one topic reader (`streams.reader`), read_committed, on a fresh consumer."""
        return TopicReader.connect(self.bootstrap_servers, group_id, **extra)

    def event_consumer(
        self, group_id: str, processor: str, *, deadletter: bool = True, on_error=None,
        clock: Clock | None = None, **extra
    ) -> EventConsumer:
        """A decoding consumer; with `deadletter` (the default) it needs the `clock` stamping dead letters."""
        return EventConsumer(
            TopicReader(self.consumer(group_id, **extra)),
            self.codec,
            processor=processor,
            deadletter=(self.producer(), self.topics) if deadletter else None,
            on_error=on_error,
            clock=clock,
        )


def connect(settings: Settings, *, start_broker: bool = True) -> Runtime:
    security.use(settings)
    if settings.bootstrap_servers:
        bootstrap = settings.bootstrap_servers
    elif start_broker:
        bootstrap, _ = resolve_bootstrap(settings)
    else:
        raise RuntimeError("no broker configured: set KAFKA_BOOTSTRAP_SERVERS or run `oms broker start`")
    return Runtime(settings, bootstrap, make_codec(settings.schema_registry_url), Topics(settings.topic_prefix))

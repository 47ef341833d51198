"""Everything that knows Kafka: broker, topics, codec, clients."""

"""Stream processors: thin adapters that feed Kafka input to the pure domain and publish what it decides."""

"""The pure domain: folds and decisions over events, free of Kafka, clocks and I/O."""

"""An event-sourced order management system on Apache Kafka.

The package `oms` holds the pure domain (events, order state machine, positions,
risk), the producer client and the command line. Kafka plumbing lives in
`streams`, stream processors in `processors`, log replay in `replay`.
"""

__version__ = "0.1.0"

"""Network I/O with venues that is not Kafka: the FIX 4.4 session (`connectors.fix`) and the
QuickFIX/J exchange that plays the counterparty in tests (`connectors.fix_acceptor`).

A sibling of `streams` in the layers: it may import `oms` (the domain values and the
`VenueAdapter` contract) and never `streams`, `processors` or Kafka.
"""

"""Benchmark of `replay.journal`: journal events folded per second, from memory and from the broker.

Builds a journal of about 20,000 events the way the OMS writes one
(`bench.flow.journal`: client commands through the engine's pure step and a
simulated venue; orders in several accounts, each accepted, routed,
acknowledged and filled in four partial fills), then times the pure fold (`Replayer.apply` over the list, the
final states written to an in-memory store) and, when `KAFKA_BOOTSTRAP_SERVERS`
is set, `replay_journal` over the same journal published to fresh topics under
a unique prefix (read, decode, fold, write to a temporary RocksDB). Run with
`python -m bench.replay [-n EVENTS]`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

from oms.events import JournalEvent
from oms.state import MemoryStore, RocksStore
from replay.journal import replay_events, replay_journal
from bench.flow import journal

def synthetic_journal(events: int = 20_000) -> list[JournalEvent]:
    return journal(events)


def bench_memory(journal: list[JournalEvent], repeat: int = 3) -> float:
    best = 0.0
    for _ in range(repeat):
        result = replay_events(journal, MemoryStore())
        best = max(best, result.events_per_s)
    return best


def bench_broker(journal: list[JournalEvent], bootstrap: str) -> tuple[float, float]:
    """(events/s of replay_journal, seconds to publish) on fresh topics."""
    from oms.config import Settings
    from streams.runtime import connect

    rt = connect(Settings(bootstrap_servers=bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:8]}."))
    rt.ensure_topics()
    producer = rt.event_producer(**{"linger.ms": 20})
    t0 = time.perf_counter()
    for event in journal:
        producer.send(rt.topics.journal, event.account, event)
    producer.flush(120)
    published = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="oms-bench-replay-") as tmp:
        store = RocksStore(Path(tmp) / "db")
        try:
            result = replay_journal(rt, store, progress=False)
        finally:
            store.close()
    assert result.events == len(journal), (result.events, len(journal))
    return result.events_per_s, published


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--events", type=int, default=20_000)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    journal = synthetic_journal(args.events)
    print(f"synthetic journal: {len(journal):,} events built in {time.perf_counter() - t0:.1f}s")
    print(f"fold from memory: {bench_memory(journal):,.0f} events/s")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if bootstrap:
        rate, published = bench_broker(journal, bootstrap)
        print(f"replay from the broker ({bootstrap}): {rate:,.0f} events/s (published in {published:.1f}s)")
    else:
        print("replay from the broker: skipped (KAFKA_BOOTSTRAP_SERVERS not set)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark of `replay.journal`: journal events folded per second, from memory and from the broker.

Builds a journal of about 20,000 events the way the OMS writes one
(`bench.flow.journal`: client commands through the engine's pure step and a
simulated venue; orders in several accounts, each accepted, routed,
acknowledged and filled in four partial fills), then times the pure fold (`Replayer.apply` over the list, the
final states written to an in-memory store), then `replay_journal` over the
same journal published to fresh topics under a unique prefix (read, decode,
fold, write to a temporary RocksDB), beside a bare consume of the same topic, a
bare consume + strict decode and a bare consume + the journal decode replay
uses, in the same run, with their ratios and the load average before and
after. The broker is `KAFKA_BOOTSTRAP_SERVERS`, else a local one started under
a temporary home and stopped at the end (`--no-broker`: the fold alone). Run
with `python -m bench.replay [-n EVENTS] [--no-broker] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

from bench.pipeline import load_average
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


def bare_rates(rt) -> tuple[float, float, float]:
    """records/s of a bare consume of the journal topic, of a bare consume + strict decode (the
    re-encoding check and validation, as for outside input), and of a bare consume + the journal
    decode replay uses (neither: `streams.codec`): the one topic reader's consumer settings and
    fetch (wait for the first message, then take what is already fetched, up to `FETCH`), the
    runtime's codec, no fold."""
    from streams.reader import FETCH, TopicReader

    rates = []
    for strict in (None, True, False):
        reader = TopicReader.connect(rt.bootstrap_servers, **{"fetch.max.bytes": 52428800})
        consumer = reader.consumer
        try:
            total = reader.assign(rt.topics.journal, skip_empty=True)
            seen = 0
            t0 = time.perf_counter()
            while seen < total:
                first = consumer.poll(1.0)
                if first is None:
                    continue
                for message in [first, *consumer.consume(FETCH - 1, 0)]:
                    if message.error() is None:
                        seen += 1
                        if strict is not None:
                            rt.codec.decode(rt.topics.journal, message.value(), canonical=strict, validate=strict)
            rates.append(seen / (time.perf_counter() - t0))
        finally:
            reader.close()
    return rates[0], rates[1], rates[2]


def bench_broker(journal: list[JournalEvent], bootstrap: str) -> dict[str, float]:
    """events/s of replay_journal, of a bare consume and of a bare consume + decode of the same
    topic (fresh topics, the same run), and the seconds it took to publish the journal."""
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
    rt.learn_schemas()
    consume, strict, decode = bare_rates(rt)
    rates = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory(prefix="oms-bench-replay-") as tmp:
            store = RocksStore(Path(tmp) / "db")
            try:
                result = replay_journal(rt, store, progress=False, workers=workers)
            finally:
                store.close()
        assert result.events == len(journal), (result.events, len(journal))
        rates[workers] = result.events_per_s
    return {"replay": rates[1], "replay_2_workers": rates[2], "consume": consume, "consume_decode": decode,
            "consume_strict_decode": strict, "published_s": published,
            "partitions": result.partitions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--events", type=int, default=20_000)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--no-broker", action="store_true", help="the fold from memory only")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    journal = synthetic_journal(args.events)
    print(f"synthetic journal: {len(journal):,} events built in {time.perf_counter() - t0:.1f}s")
    figures: dict = {"events": len(journal), "load_before": load_average(), "fold_memory": bench_memory(journal)}
    print(f"fold from memory: {figures['fold_memory']:,.0f} events/s")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    local = None
    if not bootstrap and not args.no_broker:
        from streams.broker import LocalBroker
        from oms.config import Settings
        from streams.runtime import connect

        settings = Settings.from_env().with_(home=Path(tempfile.mkdtemp(prefix="oms-bench-replay-broker-")))
        local = LocalBroker(settings.home / "broker", settings.cache_dir)
        bootstrap = connect(settings).bootstrap_servers
        print(f"local broker started for this run at {bootstrap}")
    if bootstrap:
        try:
            got = bench_broker(journal, bootstrap)
        finally:
            if local is not None:
                local.stop()
        got["broker"] = "local, started by this run" if local is not None else "external (KAFKA_BOOTSTRAP_SERVERS)"
        figures.update(got)
        print(f"from the broker ({bootstrap}, {got['partitions']} partitions, published in {got['published_s']:.1f}s):")
        print(f"  bare consume:                  {got['consume']:>10,.0f} events/s")
        print(f"  bare consume + strict decode:  {got['consume_strict_decode']:>10,.0f} events/s")
        print(f"  bare consume + journal decode: {got['consume_decode']:>10,.0f} events/s "
              f"(no re-encoding check, no validation)")
        print(f"  replay_journal:                {got['replay']:>10,.0f} events/s "
              f"({got['replay'] / got['consume_decode']:.2f}x consume + journal decode, "
              f"{got['replay'] / got['consume_strict_decode']:.2f}x consume + strict decode)")
        print(f"  replay_journal, 2 processes:   {got['replay_2_workers']:>10,.0f} events/s "
              f"({got['replay_2_workers'] / got['consume_decode']:.2f}x consume + journal decode; "
              f"process start-up included)")
        figures["replay_over_consume_decode"] = got["replay"] / got["consume_decode"]
        figures["replay_2_workers_over_consume_decode"] = got["replay_2_workers"] / got["consume_decode"]
    else:
        print("replay from the broker: skipped (--no-broker)")
    figures["load_after"] = load_average()
    print(f"load average (1/5/15 min): {figures['load_before']} before, {figures['load_after']} after")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The market data handler: publishes normalized quotes and trades to `marketdata`, keyed by instrument.

This processor owns getting market data onto Kafka: `run_synthetic` steps a
seeded `oms.marketdata.SyntheticFeed` at a fixed rate (event times from the
`Clock` passed in, pacing by the monotonic timer) and `publish_csv` publishes
a CSV file of quotes and trades as fast as the producer takes them. What the
events are is decided in `oms.marketdata`; this module only publishes them.
`main` is the entry point (`python -m processors.marketdata_handler`): it reads
`Settings.from_env()`, creates the topics if needed and stops cleanly on
SIGTERM or SIGINT, flushing what it has produced.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
import threading
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Mapping, Sequence

from oms.clock import Clock, LiveClock
from oms.config import Settings
from oms.marketdata import SyntheticFeed, read_csv

log = logging.getLogger("oms.marketdata")

FLUSH_EVERY_S = 1.0
"""How often (in stepped time) the synthetic publisher flushes, so delivery errors surface."""


def _runtime(settings: Settings, runtime):
    if runtime is not None:
        return runtime
    from streams.runtime import connect  # local: resolving may start the local broker

    return connect(settings)


def run_synthetic(
    settings: Settings,
    instruments: Mapping[str, Decimal],
    seed: int = 0,
    rate_hz: float = 10.0,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
    clock: Clock | None = None,
    *,
    tick: Decimal = Decimal("0.01"),
    spread_ticks: int = 2,
    runtime=None,
) -> int:
    """Publish a synthetic feed at `rate_hz` steps per second (a quote per instrument per
    step, sometimes a trade) until `duration_s` worth of steps (`ceil(duration_s * rate_hz)`)
    are done or `stop` is set. Returns the number of events published (all flushed).
    `clock` is required: it stamps the events (LiveClock() in a process, TestClock in tests)."""
    if clock is None:
        raise TypeError("run_synthetic: pass the clock that stamps the events")
    if rate_hz <= 0:
        raise ValueError(f"rate_hz: {rate_hz} is not positive")
    stop = stop or threading.Event()
    rt = _runtime(settings, runtime)
    topic = rt.topics.marketdata
    producer = rt.event_producer()
    feed = SyntheticFeed(instruments, seed, tick=tick, spread_ticks=spread_ticks)
    steps = None if duration_s is None else math.ceil(duration_s * rate_hz)
    interval = 1.0 / rate_hz
    flush_every = max(1, round(FLUSH_EVERY_S * rate_hz))
    published = step = 0
    start = time.monotonic()
    log.info("synthetic feed: %s at %s Hz to %s", ", ".join(feed.instruments), rate_hz, topic)
    try:
        while not stop.is_set() and (steps is None or step < steps):
            for event in feed.next(clock.now_ns()):
                producer.send(topic, event.instrument, event)
                published += 1
            step += 1
            if step % flush_every == 0:
                producer.flush()
            if steps is not None and step >= steps:
                break
            # fixed rate without drift: wait for the next step's slot (or a stop)
            stop.wait(max(0.0, start + step * interval - time.monotonic()))
    finally:
        producer.flush()
    log.info("synthetic feed: published %d events in %d steps", published, step)
    return published


def publish_csv(
    settings: Settings,
    path: str | Path,
    clock: Clock | None = None,
    *,
    stop: threading.Event | None = None,
    runtime=None,
) -> int:
    """Publish every quote and trade of a CSV file (see `oms.marketdata.read_csv`); returns the count.

    The file is checked completely before anything is published, so a bad row
    publishes nothing. `ts_init` is the clock's time, `ts_event` the file's."""
    events = list(read_csv(path, clock))
    rt = _runtime(settings, runtime)
    topic = rt.topics.marketdata
    producer = rt.event_producer()
    published = 0
    try:
        for event in events:
            if stop is not None and stop.is_set():
                break
            producer.send(topic, event.instrument, event)
            published += 1
    finally:
        producer.flush()
    log.info("published %d events from %s to %s", published, path, topic)
    return published


# ------------------------------------------------------------ entry point


def parse_instruments(text: str) -> dict[str, Decimal]:
    """`AAPL:187.00,MSFT:411.50` -> {"AAPL": Decimal("187.00"), "MSFT": Decimal("411.50")}."""
    out: dict[str, Decimal] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, price = part.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"instruments: {part!r} is not INSTRUMENT:START_PRICE")
        try:
            value = Decimal(price.strip())
        except InvalidOperation:
            raise ValueError(f"instruments: start price {price!r} of {name} is not a decimal") from None
        if not value.is_finite() or value <= 0:
            raise ValueError(f"instruments: start price {price!r} of {name} is not positive")
        out[name.strip()] = value
    if not out:
        raise ValueError("instruments: give at least one INSTRUMENT:START_PRICE")
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m processors.marketdata_handler",
        description="Publish quotes and trades to the marketdata topic, keyed by instrument.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--synthetic", action="store_true", help="a seeded random walk per instrument")
    source.add_argument("--csv", metavar="FILE", help="a CSV of quotes and trades to publish")
    parser.add_argument("--instruments", default="AAPL:187.00,MSFT:411.50",
                        help="synthetic: INSTRUMENT:START_PRICE,... (default %(default)s)")
    parser.add_argument("--rate", type=float, default=10.0, help="synthetic: steps per second (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic: random seed (default %(default)s)")
    parser.add_argument("--duration", type=float, default=None,
                        help="synthetic: seconds of steps to publish (default: until stopped)")
    parser.add_argument("--tick", default="0.01", help="synthetic: price tick (default %(default)s)")
    parser.add_argument("--spread-ticks", type=int, default=2, help="synthetic: spread in ticks (default %(default)s)")
    parser.add_argument("--no-create-topics", action="store_true", help="do not create missing topics first")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    instruments: dict[str, Decimal] = {}
    if args.synthetic:
        try:
            instruments = parse_instruments(args.instruments)
            tick = Decimal(args.tick)
        except (ValueError, InvalidOperation) as exc:
            parser.error(str(exc) if isinstance(exc, ValueError) else f"tick: {args.tick!r} is not a decimal")
        if args.rate <= 0:
            parser.error(f"rate: {args.rate} is not positive")

    settings = Settings.from_env()
    stop = threading.Event()

    def on_signal(signum, _frame):
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        from streams.runtime import connect

        rt = connect(settings)
        if not args.no_create_topics:
            rt.ensure_topics()
        clock = LiveClock()
        if args.synthetic:
            count = run_synthetic(
                settings, instruments, seed=args.seed, rate_hz=args.rate, duration_s=args.duration,
                stop=stop, clock=clock, tick=tick, spread_ticks=args.spread_ticks, runtime=rt,
            )
        else:
            count = publish_csv(settings, args.csv, clock, stop=stop, runtime=rt)
    except ValueError as exc:  # a bad CSV row or argument: say where
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"published {count} market data events to {rt.topics.marketdata}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

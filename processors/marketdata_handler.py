"""The market data handler: publishes normalized quotes and trades to `marketdata`, keyed by instrument.

This processor owns getting market data onto Kafka: `run_synthetic` steps a
seeded `oms.marketdata.SyntheticFeed` at a fixed rate (event times from the
`Clock` passed in, pacing by the monotonic timer) and `publish_csv` publishes
a CSV or Parquet file of quotes and trades as fast as the producer takes them. What the
events are is decided in `oms.marketdata`; this module only publishes them.
The synthetic feed goes out through `oms.marketdata.VenueDepth`: with `venues`
(venue -> `VenueShape`: price offset, spread, level size) each quote and trade
is published once per venue, tagged with it and shaped by it, so the venues
show different prices and sizes for one instrument (the engine's consolidated
book, `oms.domain.sor.book`, and each simulated venue's own book read them by
venue); with `depth` above 1 every quote carries that many levels a side.
Its entry point is `entrypoints.marketdata` (`oms marketdata`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Mapping

from oms.clock import Clock
from oms.config import Settings
from connectors.marketdata_files import ColumnMap, LoadReport, TimeFormat, load_file
from oms.marketdata import SyntheticFeed, VenueDepth, VenueShape
from streams import metrics

log = logging.getLogger("oms.marketdata")

FLUSH_EVERY_S = 1.0
"""How often (in stepped time) the synthetic publisher flushes, so delivery errors surface."""


def _runtime(settings: Settings, runtime):
    if runtime is not None:
        return runtime
    from streams.runtime import connect  # local: resolving may start the local broker

    return connect(settings)


def venue_shapes(venues: Mapping[str, VenueShape | Decimal] | None) -> dict[str, VenueShape] | None:
    """`venues` with a bare price offset read as `VenueShape(offset=...)`."""
    if not venues:
        return None
    return {venue: shape if isinstance(shape, VenueShape) else VenueShape(offset=Decimal(shape))
            for venue, shape in venues.items()}


def per_venue(event, venues: Mapping[str, VenueShape | Decimal] | None) -> list:
    """`event` (a Quote or Trade) once per venue of `venues`, tagged with it and its prices shifted by the
    venue's offset (event id suffixed with the venue), top of book only; `[event]` unchanged without venues."""
    if not venues:
        return [event]
    return VenueDepth(venue_shapes(venues), seed=0).tagged(event)


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
    venues: Mapping[str, VenueShape | Decimal] | None = None,
    depth: int = 1,
) -> int:
    """Publish a synthetic feed at `rate_hz` steps per second (a quote per instrument per
    step, sometimes a trade; per venue of `venues`, `depth` levels a side, `VenueDepth`) until
    `duration_s` worth of steps (`ceil(duration_s * rate_hz)`) are done or `stop` is set. Returns
    the number of events published (all flushed). `clock` is required: it stamps the events
    (LiveClock() in a process, TestClock in tests)."""
    if clock is None:
        raise TypeError("run_synthetic: pass the clock that stamps the events")
    if rate_hz <= 0:
        raise ValueError(f"rate_hz: {rate_hz} is not positive")
    stop = stop or threading.Event()
    feed = SyntheticFeed(instruments, seed, tick=tick, spread_ticks=spread_ticks)
    shown = VenueDepth(venue_shapes(venues), seed, depth=depth, tick=tick)
    rt = _runtime(settings, runtime)
    metrics.serve(settings, "marketdata")
    topic = rt.topics.marketdata
    producer = rt.event_producer()
    steps = None if duration_s is None else math.ceil(duration_s * rate_hz)
    interval = 1.0 / rate_hz
    flush_every = max(1, round(FLUSH_EVERY_S * rate_hz))
    published = step = 0
    start = time.monotonic()
    log.info("synthetic feed: %s at %s Hz to %s", ", ".join(feed.instruments), rate_hz, topic)
    try:
        while not stop.is_set() and (steps is None or step < steps):
            for event in feed.next(clock.now_ns()):
                for tagged in shown.tagged(event):
                    producer.send(topic, tagged.instrument, tagged)
                    published += 1
            step += 1
            if step % flush_every == 0:
                producer.flush()
                metrics.activity("marketdata", published)
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
    columns: ColumnMap = ColumnMap(),
    time_format: TimeFormat = TimeFormat.AUTO,
    skip_bad: bool = False,
    report: LoadReport | None = None,
    **options,
) -> int:
    """Publish every quote and trade of a CSV or Parquet file (`connectors.marketdata_files.load_file`
    with `columns`, `time_format`, `skip_bad` and `options`: kind, instrument, venue); returns the count.

    The file is read completely before anything is published, so a bad row (unless skipped,
    then counted in `report`) publishes nothing. `ts_init` is the clock's time, `ts_event` the file's."""
    events = list(load_file(path, columns, time_format=time_format, skip_bad=skip_bad, report=report, **options))
    if clock is not None:
        events = [e.model_copy(update={"ts_init": clock.now_ns()}) for e in events]
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

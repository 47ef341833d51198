"""Benchmark of `streams.codec`: microseconds per event to encode and decode.

Measures NewOrder, a partially filled ExecutionReport and a venue's Quote (top of
book only, and five levels a side as `oms marketdata --synthetic` publishes it) in the single-object
and Confluent formats (the latter against confluent-kafka's in-memory mock
registry, so no network), decode including pydantic validation; and, for
comparison, the model alone (`to_record` / `model_validate`) and raw fastavro
schemaless encode/decode of the same record. Each figure is the median of
per-call `perf_counter_ns` timings. Run with `python -m bench.codec [-n N]`.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from decimal import Decimal
from functools import partial
from typing import Callable

import fastavro
from rich.console import Console
from rich.table import Table

from oms.events import BY_SCHEMA_NAME, Event, Quote
from oms.marketdata import SyntheticFeed, VenueDepth, VenueShape
from schemas import load_catalogue
from streams.codec import SingleObjectCodec, make_codec
from bench.flow import T0, sample_fill_report, sample_new_order

TOPIC = "oms.bench"
QUOTE_DEPTH = 5


def sample_quote(depth: int) -> Quote:
    """SIM-A's first AAPL quote of the seeded synthetic feed, `depth` levels a side (1: top of book only)."""
    feed = SyntheticFeed({"AAPL": Decimal("187.00")}, seed=7)
    quote = next(e for e in feed.next(T0) if isinstance(e, Quote))
    [shown] = VenueDepth({"SIM-A": VenueShape(size=Decimal(300))}, seed=7, depth=depth).tagged(quote)
    return shown


def median_us(fn: Callable[[], object], iterations: int) -> float:
    """Median wall time of one call, in microseconds, after a short warm-up."""
    for _ in range(min(1_000, iterations)):
        fn()
    clock = time.perf_counter_ns
    samples = []
    for _ in range(iterations):
        start = clock()
        fn()
        samples.append(clock() - start)
    return statistics.median(samples) / 1_000


Case = tuple[str, Callable[[], object], Callable[[], object], int | None]


def cases(event: Event) -> list[Case]:
    """(label, encode, decode, encoded size) for each way of putting `event` on the wire."""
    single = SingleObjectCodec()
    out: list[Case] = []
    for label, codec in (("single-object", single), ("Confluent, mock registry", make_codec("mock://bench"))):
        data = codec.encode(TOPIC, event)
        out.append((label, partial(codec.encode, TOPIC, event), partial(codec.decode, TOPIC, data), len(data)))

    model = BY_SCHEMA_NAME[event.schema_name]
    record = single.decode(TOPIC, single.encode(TOPIC, event)).to_record()  # decimals at the wire scale
    out.append(("model only ¹", event.to_record, partial(model.model_validate, record), None))

    parsed = load_catalogue()[event.schema_name].parsed

    def raw_encode() -> bytes:
        body = io.BytesIO()
        fastavro.schemaless_writer(body, parsed, record)
        return body.getvalue()

    body = raw_encode()

    def raw_decode() -> dict:
        return fastavro.schemaless_reader(io.BytesIO(body), parsed)

    out.append(("raw fastavro ²", raw_encode, raw_decode, len(body)))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--iterations", type=int, default=20_000, help="timed calls per figure")
    args = parser.parse_args(argv)

    table = Table(
        title=f"Codec cost per event, median of {args.iterations:,} calls",
        caption="¹ to_record() / model_validate() alone   ² schemaless, record dict, no framing or pydantic",
    )
    table.add_column("event")
    table.add_column("format")
    table.add_column("encode µs", justify="right")
    table.add_column("decode µs", justify="right")
    table.add_column("bytes", justify="right")
    events = {"NewOrder": sample_new_order(), "ExecutionReport, partial fill": sample_fill_report(),
              "Quote, top of book": sample_quote(1), f"Quote, {QUOTE_DEPTH} levels a side": sample_quote(QUOTE_DEPTH)}
    for name, event in events.items():
        for label, encode, decode, size in cases(event):
            encode_us, decode_us = median_us(encode, args.iterations), median_us(decode, args.iterations)
            table.add_row(name, label, f"{encode_us:.2f}", f"{decode_us:.2f}", "" if size is None else str(size))
        table.add_section()
    Console(width=max(Console().width, 100)).print(table)


if __name__ == "__main__":
    main()

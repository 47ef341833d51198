"""The generated multi-venue sample data set for backtests (`replay/data/backtest/`).

This module owns making that data set: one seeded random walk per instrument
(`oms.marketdata.SyntheticFeed`) quoted on two venues - SIM-A shows the walk,
SIM-B the same prices a millisecond later with its own sizes, and one tick
wider a third of the time - with trade prints on both. One CSV per venue, in
the project's column layout with a venue column, timestamps in ISO 8601 for
SIM-A and epoch milliseconds for SIM-B (the loaders read both).
"""

from __future__ import annotations

import csv
import random
from decimal import Decimal
from pathlib import Path

from oms.clock import ns_to_iso
from oms.events import Quote
from oms.marketdata import SyntheticFeed

__all__ = ["VENUES", "generate"]

VENUES = ("SIM-A", "SIM-B")
START = 1_717_425_000_000_000_000  # 2024-06-03T14:30:00Z
HEADER = ["type", "ts", "instrument", "venue", "bid_price", "bid_size", "ask_price", "ask_size", "price", "size",
          "side"]


def generate(directory: str | Path, steps: int = 1000, seed: int = 7, step_ns: int = 50_000_000,
             instruments: dict[str, Decimal] | None = None) -> list[Path]:
    """Write `SIM-A.csv` and `SIM-B.csv` under `directory` (`steps` steps of `step_ns`); returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    feed = SyntheticFeed(instruments or {"AAPL": Decimal("187.00")}, seed, trade_probability=0.6,
                         trade_sizes=(Decimal(100), Decimal(200), Decimal(300), Decimal(500)))
    rng = random.Random(seed + 1)
    paths = [directory / f"{v}.csv" for v in VENUES]
    with paths[0].open("w", newline="") as fa, paths[1].open("w", newline="") as fb:
        a, b = csv.writer(fa), csv.writer(fb)
        a.writerow(HEADER)
        b.writerow(HEADER)
        for n in range(steps):
            now = START + n * step_ns
            for e in feed.next(now):
                later = (now + 1_000_000) // 1_000_000
                if isinstance(e, Quote):
                    a.writerow(["quote", ns_to_iso(now), e.instrument, "SIM-A", e.bid_price, e.bid_size,
                                e.ask_price, e.ask_size, "", "", ""])
                    wide = rng.random() < 0.33
                    b.writerow(["quote", later, e.instrument, "SIM-B", e.bid_price - (feed.tick if wide else 0),
                                rng.choice(feed.sizes), e.ask_price, rng.choice(feed.sizes), "", "", ""])
                else:
                    side = e.aggressor.value[0]
                    a.writerow(["trade", ns_to_iso(now), e.instrument, "SIM-A", "", "", "", "", e.price, e.size, side])
                    if rng.random() < 0.5:
                        b.writerow(["trade", later, e.instrument, "SIM-B", "", "", "", "", e.price,
                                    rng.choice(feed.trade_sizes), side])
    return paths


if __name__ == "__main__":
    import sys

    for path in generate(sys.argv[1] if len(sys.argv) > 1 else "replay/data/backtest"):
        print(path)

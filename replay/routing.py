"""Replay of smart order routing: venue statistics folded from the journal, and their verification.

This module owns rebuilding the venue statistics (`oms.domain.sor.stats`) from
journal events (`venue_statistics`: the same fold the engine runs over what it
writes) and comparing them with the live engine's (`verify_venue_statistics`,
one `Difference` per differing counter, kind "venue"). Parents and children are
orders: `replay.journal.replay_journal` rebuilds them with the one journal
projection, and `replay.journal.verify` compares them with the `orders` view.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Iterable

from oms.domain.sor.stats import VenueStatistics, VenueStats
from oms.events import Event, JournalEvent
from replay.journal import Difference

__all__ = ["venue_statistics", "verify_venue_statistics"]


def venue_statistics(events: Iterable[Event]) -> VenueStatistics:
    """The venue statistics of a journal (each account's events in journal order; other events skipped)."""
    stats = VenueStatistics()
    for event in events:
        if isinstance(event, JournalEvent):
            stats.apply(event)
    return stats


def verify_venue_statistics(replayed: VenueStatistics, live: VenueStatistics) -> list[Difference]:
    """Every counter that differs between replayed and live statistics, per (venue, instrument)."""
    out = []
    for key in sorted(replayed.stats.keys() | live.stats.keys()):
        a, b = replayed.get(*key), live.get(*key)
        for f in fields(VenueStats):
            if getattr(a, f.name) != getattr(b, f.name):
                out.append(Difference("venue", "/".join(key), f.name, getattr(a, f.name), getattr(b, f.name)))
    return out

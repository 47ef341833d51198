"""Replay of smart order routing: venue statistics folded from the journal, and their verification.

This module owns rebuilding the venue statistics (`oms.domain.sor.stats`) from
journal events (`venue_statistics`: the same fold the engine runs over what it
writes into its state) and comparing two of them held in memory
(`verify_venue_statistics`, one `Difference` per differing counter, kind
"venue"; `replay.journal.verify_venue_stats` compares the replay with the
engine's state). Parents and children are
orders: `replay.journal.replay_journal` rebuilds them with the one journal
projection, and `replay.journal.verify` compares them with the `orders` view.
"""

from __future__ import annotations

from typing import Iterable

from oms.domain.sor.stats import VenueStatistics
from oms.events import Event, JournalEvent
from replay.journal import Difference, verify_venue_stats

__all__ = ["venue_statistics", "verify_venue_statistics"]


def venue_statistics(events: Iterable[Event]) -> VenueStatistics:
    """The venue statistics of a journal (each account's events in journal order; other events skipped)."""
    stats = VenueStatistics()
    for event in events:
        if isinstance(event, JournalEvent):
            stats.apply(event)
    return stats


def verify_venue_statistics(replayed: VenueStatistics, live: VenueStatistics) -> list[Difference]:
    """Every counter that differs between replayed and live statistics held in memory, per (venue,
    instrument) (`replay.journal.verify_venue_stats`)."""
    return verify_venue_stats(replayed.stats, live.stats)

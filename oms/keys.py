"""Key layouts, defined once: state store keys and the record keys of keyed topics.

The engine's store, the position manager's table and replay's fresh store all
hold the same kinds of state under the same keys; the compacted topics are
keyed the same way by whoever writes them. Nothing else in the code base
spells a key.

| state | store key | topic record key |
|---|---|---|
| an order | `o/<order id>` | `orders`: the order id |
| an account's risk state (its summary: positions, open leaves, marks, running totals) | `a/<account>` | |
| one open order of an account's risk state | `ao/<account>|<order id>` | |
| a position | `p/<account>|<instrument>` | `positions`: `<account>|<instrument>` |
| a block of a position's history (the position manager's table) | `p/<account>|<instrument>#<block>` | |
| venue statistics of the orders a partition's accounts sent (per venue and instrument) | `vs/<venue>|<instrument>` | |
| an order the venue statistics follow until it ends | `vw/<order id>` | |
| a smart-routed parent's arrival price (slippage is measured against it) | `vp/<order id>` | |
| the last applied input offset of a partition | `offset/<topic>` | |
| the risk controls the engine decided with (per partition) | `controls` | |
| how far a partition's local store reflects its changelog (local only, never in the changelog) | `checkpoint/changelog` | |
| a risk control | | `risk.controls`: `<scope>|<kind>|<name>` |
| a venue's status / operator override / unanswered request | | `venue.status`: `<venue>`, `<venue>|control`, `<venue>|alert|<request id>` |
"""

from __future__ import annotations

ORDER_PREFIX = "o/"
ACCOUNT_PREFIX = "a/"
OPEN_ORDER_PREFIX = "ao/"
POSITION_PREFIX = "p/"
VENUE_STATS_PREFIX = "vs/"
VENUE_WORKING_PREFIX = "vw/"
VENUE_ARRIVAL_PREFIX = "vp/"
OFFSET_PREFIX = "offset/"
CONTROLS_SNAPSHOT = "controls"
CHANGELOG_CHECKPOINT = "checkpoint/changelog"


def order(order_id: str) -> str:
    return ORDER_PREFIX + order_id


def account(account_id: str) -> str:
    return ACCOUNT_PREFIX + account_id


def open_orders(account_id: str) -> str:
    """The prefix of every open-order entry of an account's risk state."""
    return f"{OPEN_ORDER_PREFIX}{account_id}|"


def open_order(account_id: str, order_id: str) -> str:
    """One open order of an account's risk state: stored apart, so an input writes only what it changed."""
    return open_orders(account_id) + order_id


def position_id(account_id: str, instrument: str) -> str:
    """A position's identity: the record key on `positions`."""
    return f"{account_id}|{instrument}"


def position(account_id: str, instrument: str) -> str:
    return POSITION_PREFIX + position_id(account_id, instrument)


def position_history(account_id: str, instrument: str, block: int) -> str:
    """Block `block` of a position's history (`oms.domain.positions.PositionChange`, a fixed number a
    block), after the whole state under `position` if one was stored there (before histories)."""
    return f"{position(account_id, instrument)}#{block}"


def venue_stats(venue: str, instrument: str) -> str:
    """One venue's statistics in one instrument (`oms.domain.sor.stats.VenueStats`). Venue and instrument
    names are identifiers, which never hold `|`."""
    return f"{VENUE_STATS_PREFIX}{venue}|{instrument}"


def venue_stats_of(key: str) -> tuple[str, str]:
    """(venue, instrument) of a `venue_stats` key."""
    venue, _, instrument = key[len(VENUE_STATS_PREFIX):].partition("|")
    return venue, instrument


def venue_working(order_id: str) -> str:
    """An order the venue statistics follow until it ends (`oms.domain.sor.stats.Working`)."""
    return VENUE_WORKING_PREFIX + order_id


def venue_arrival(order_id: str) -> str:
    """A smart-routed parent's arrival price, as its last routing decision saw it."""
    return VENUE_ARRIVAL_PREFIX + order_id


def applied_offset(topic: str) -> str:
    """Where a processor keeps the last input offset it applied from `topic` (per partition)."""
    return OFFSET_PREFIX + topic


def changelog_checkpoint() -> str:
    """Where a processor's local store keeps, per partition, the changelog offset below which every
    committed record is in the store: a restart restores only from there."""
    return CHANGELOG_CHECKPOINT


def controls_snapshot() -> str:
    """Where the engine keeps the risk controls it decided with, and which prefix of `risk.controls` they fold."""
    return CONTROLS_SNAPSHOT


def control(scope: str, kind: str, name: str) -> str:
    """The record key of a risk control on the compacted `risk.controls`: last writer wins per key."""
    return f"{scope}|{kind}|{name}"


def venue_status(venue: str) -> str:
    """The record key of a venue's `VenueStatus` on the compacted `venue.status`."""
    return venue


def venue_control(venue: str) -> str:
    """The record key of an operator's `VenueControl` on `venue.status`: the latest per venue wins."""
    return f"{venue}|control"


def venue_reconcile(venue: str) -> str:
    """The record key of an operator's `VenueReconcileRequest` on `venue.status`: the latest per venue wins."""
    return f"{venue}|reconcile"


def venue_alert(venue: str, request_id: str) -> str:
    """The record key of a `VenueAlert` on `venue.status`: one per unanswered request, kept."""
    return f"{venue}|alert|{request_id}"

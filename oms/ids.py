"""Deterministic identifiers: every id the OMS mints is a pure function of its inputs.

This module owns the shape of order ids, journal event ids, venue request ids,
fill ids, client command ids, child order ids (a smart-routed parent's
children: `child_order_id`, `parent_of`, `is_child`) and the ids of
unsequenced records (denials, engine-side cancel rejects and anomalies that
are journaled but never applied to an order). The same inputs always give the same id, so a replayed or
redelivered decision produces byte-identical events that downstream consumers
can deduplicate by `event_id`. Every id matches the `Identifier` pattern of
`oms.events` (at most 64 characters, `^[A-Za-z0-9][A-Za-z0-9._:/@\\-]*$`).
"""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("9a3c1f0e-5b7d-5d2a-8e41-6c0f2b9d7e13")
"""Fixed uuid5 namespace of this OMS. Changing it changes every order id: never do."""

_SEP = "\x1f"
"""Unit separator between hashed parts: it cannot occur in an Identifier, so
("a/b", "c") and ("a", "b/c") never hash alike."""

MAX_LEN = 64


def _digest(*parts: str) -> str:
    return uuid.uuid5(NAMESPACE, _SEP.join(parts)).hex


def order_id(account: str, client_order_id: str) -> str:
    """The order id of `client_order_id` in `account`: "O" + 20 hex characters."""
    return "O" + _digest("order", account, client_order_id)[:20]


_CHILD_MARK = ":c"


def child_order_id(parent_order_id: str, number: int) -> str:
    """The order id of a parent's `number`-th child (1, 2, ...): `<parent order id>:c<number>`. A parent
    id is 21 characters, so a child id stays within the 64 of an `Identifier`. Numbers are handed out in
    order, so a parent's children are found by asking for `:c1`, `:c2`, ... until one is missing."""
    if number < 1:
        raise ValueError(f"child numbers start at 1, not {number}")
    return f"{parent_order_id}{_CHILD_MARK}{number}"


def parent_of(order_id: str) -> str | None:
    """The parent of a child order id; None for any other order id."""
    parent, mark, number = order_id.rpartition(_CHILD_MARK)
    return parent if mark and parent and number.isdigit() else None


def is_child(order_id: str) -> bool:
    """Whether `order_id` names a child order."""
    return parent_of(order_id) is not None


def journal_event_id(order_id: str, seq: int) -> str:
    """The id of the journal event with sequence number `seq` (>= 1) of an order."""
    return f"{order_id}.{seq}"


def request_id(order_id: str, seq: int) -> str:
    """A venue request (new, cancel, replace) is named after the journal event
    that created it (OrderRouted, OrderPendingCancel, OrderPendingReplace)."""
    return journal_event_id(order_id, seq)


def fill_id(order_id: str, seq: int) -> str:
    """A fill (and a bust or correction) is named after its journal event."""
    return journal_event_id(order_id, seq)


def venue_request_event_id(request_id: str) -> str:
    """The event id of the `VenueRequest` that carries `request_id`."""
    return f"{request_id}.req"


def view_event_id(order_id: str, seq: int) -> str:
    """The event id of the `OrderView` of an order as of `seq`."""
    return f"{order_id}.{seq}.view"


def command_id(account: str, client_order_id: str, kind: str) -> str:
    """The event id a client gives a command (`kind` e.g. "NEW", "AMEND", "CANCEL"):
    a uuid5 string, so a resent command carries the id of the first attempt."""
    return str(uuid.uuid5(NAMESPACE, _SEP.join(("command", account, client_order_id, kind))))


def record_id(order_id: str, source_id: str, kind: str) -> str:
    """The id of an unsequenced record (seq 0) about `order_id` caused by the input
    `source_id` (a command's or report's event id); `kind` tells records of one
    input apart ("denied", "cancel-rejected", "anomaly", "mismatch").

    `order_id` is normally ours (21 characters); if a venue names a longer,
    foreign order id the record falls back to "R" + 32 hex characters.
    """
    digest = _digest("record", kind, order_id, source_id)
    candidate = f"{order_id}.0.{digest[:16]}"
    return candidate if len(candidate) <= MAX_LEN else "R" + digest

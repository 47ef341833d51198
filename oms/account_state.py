"""The stored form of account risk: a small summary per account and one entry per open order.

This module owns how an `AccountRisk` is kept in a key/value store (the
engine's RocksDB slice and its changelog, replay's fresh store), so that an
input writes what it changed, never the whole account: the summary
(`oms.keys.account`: positions, open leaves per instrument, marks, throttle
bucket, resting GTC orders and the running totals, with `open_orders` left
empty) and one entry per open order (`oms.keys.open_order`: instrument,
side, leaves, limit price; an empty value once the order is no longer open).
`load_account_risk` gives the account over lookups of the store, its open
orders an `OpenOrders` that reads entries one by one; `account_writes` lists
the records to write after an update: the summary and only the entries that
changed. A summary written before the split (its open orders inline) still
loads: its orders are the base, and the next write moves them into entries.
Pure: bytes in and out, the store reached only through the functions given.
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Callable, Iterable, Iterator

from oms import keys
from oms.domain.risk import AccountRisk, OpenOrder, OpenOrders, exposure_at_marks
from oms.events import Side
from oms.state import dump_account, load_account

__all__ = ["account_writes", "dump_open_order", "load_account_risk", "load_open_order", "materialized"]

Get = Callable[[str], "bytes | None"]
Scan = Callable[[str], Iterable[tuple[str, bytes]]]
"""Every (key, value) stored under a key prefix, the prefix included in the key."""


def dump_open_order(entry: OpenOrder | None) -> bytes:
    """One open order's entry; empty bytes when the order is no longer open."""
    if entry is None:
        return b""
    price = None if entry.limit_price is None else str(entry.limit_price)
    return json.dumps([entry.instrument, entry.side.value, str(entry.leaves_qty), price]).encode()


def load_open_order(data: bytes | None) -> OpenOrder | None:
    if not data:
        return None
    instrument, side, leaves, price = json.loads(data)
    return OpenOrder(instrument, Side(side), Decimal(leaves), None if price is None else Decimal(price))


def _summary(data: bytes | None) -> AccountRisk:
    risk = load_account(data) or AccountRisk()
    if data is not None and b'"exposure"' not in data:  # written before the running totals existed
        risk = replace(risk, open_count=len(risk.open_orders))
        risk = replace(risk, exposure=exposure_at_marks(risk))
    return risk


def load_account_risk(account: str, get: Get, scan: Scan, known: tuple[bytes, AccountRisk] | None = None
                      ) -> AccountRisk:
    """The account as stored (an empty one when nothing is), its open orders read entry by entry.
    `known` is a summary this process wrote and the account it wrote it for: when the store still
    holds those very bytes, that account is taken again (its valuation cache too) instead of decoding."""
    data = get(keys.account(account))
    if known is not None and data is not None and known[0] == data:
        return _reading(replace(known[1], open_orders={}), account, get, scan)
    return _reading(_summary(data), account, get, scan)


def _reading(risk: AccountRisk, account: str, get: Get, scan: Scan) -> AccountRisk:
    """`risk` with its open orders read from the store's entries (under its inline ones, if any)."""
    prefix = keys.open_orders(account)

    def lookup(order_id: str) -> OpenOrder | None:
        return load_open_order(get(prefix + order_id))

    def listed() -> Iterator[str]:
        for key, value in scan(prefix):
            order_id = key[len(prefix):]
            if value and "|" not in order_id:  # "|" would be another account's ("ACC|X|...") entry
                yield order_id

    inline = dict(risk.open_orders)  # a summary from before the split: its orders move to entries
    return replace(risk, open_orders=OpenOrders(lookup, listed, risk.open_count, inline or None))


def account_writes(account: str, risk: AccountRisk) -> list[tuple[str, bytes]]:
    """The records that store `risk`: its summary, and the entries of the open orders that changed
    since it was loaded (every open order when they are a plain mapping, e.g. a replayed account)."""
    orders = risk.open_orders
    changed = orders.changes if isinstance(orders, OpenOrders) else dict(orders)
    writes = [(keys.account(account), dump_account(replace(risk, open_orders={}, valued=None)))]
    writes += [(keys.open_order(account, order_id), dump_open_order(entry)) for order_id, entry in changed.items()]
    return writes


def materialized(account: str, summary: bytes, entries: Iterable[tuple[str, bytes]]) -> AccountRisk:
    """The account from its summary and its entries (key, value) read in full (replay's view of the
    engine's changelog), its open orders a plain dict: inline ones first, entries over them."""
    risk = _summary(summary)
    orders = dict(risk.open_orders)
    prefix = keys.open_orders(account)
    for key, value in entries:
        order_id = key[len(prefix):]
        if not key.startswith(prefix) or "|" in order_id:
            continue
        entry = load_open_order(value)
        if entry is None:
            orders.pop(order_id, None)
        else:
            orders[order_id] = entry
    return replace(risk, open_orders=orders)

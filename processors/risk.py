"""Post-trade risk: watches orders, positions and P&L, and acts through `risk.controls` and `commands`.

- Kill switch: when an account (or `*`) is killed, every open order in scope
  gets a CancelOrder on `commands` (client order id `kill-<order id>`), so the
  engine cancels them at the venues through the normal path; the engine
  itself refuses new orders while the switch is on.
- Loss limit: when an account's P&L (realized + unrealized at the reference
  price) falls to `-max_loss` or below, the account is moved to HALTED.
- Drawdown: when it falls `max_drawdown` below its peak since the monitor
  started (the trading day), the account is moved to REDUCING.
- Exposure: gross exposure above `max_gross_exposure` after fills is reported.

The decisions are pure (`oms.domain.risk.post_trade_actions`); this module only
follows the topics (each admitting only its own event type, `streams.topics.admitting`;
the controls over the configured default limits) and publishes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping

from immutables import Map

from oms import keys
from oms.clock import Clock
from oms.domain.orders.table import is_live
from oms.domain.risk import DEFAULT_LIMITS, post_trade_actions
from oms.events import Event, OrderView, Position
from processors.engine import follow_controls
from streams.codec import Codec
from streams.kafka import EventProducer
from streams.tables import FollowedTopic
from streams.topics import Topics, admitting

log = logging.getLogger("oms.risk")


def live_orders(table: Map, view: OrderView) -> Map:
    """The monitor's orders: the latest view of every live order (`is_live`; the kill switch acts on
    no other), so the table holds the open orders, not the day's."""
    if is_live(view):
        return table.set(view.order_id, view)
    return table.delete(view.order_id) if view.order_id in table else table


def latest_positions(table: Map, position: Position) -> Map:
    """The monitor's positions: the latest of each account and instrument."""
    return table.set(keys.position_id(position.account, position.instrument), position)


@dataclass
class MonitorStats:
    cancels: int = 0
    state_changes: int = 0
    alerts: list[str] = field(default_factory=list)


def run_monitor(bootstrap_servers: str, topics: Topics, codec: Codec, producer: EventProducer,
                stop: threading.Event, *, clock: Clock, controls=None, references=None,
                defaults: Mapping[str, Decimal] = DEFAULT_LIMITS, interval_s: float = 0.5) -> MonitorStats:
    """Watch until `stop` is set. `controls` is the engine's table when the worker shares it; else
    the monitor follows `risk.controls` itself over the default limits `defaults`."""
    own_controls = controls is None
    if controls is None:
        controls = follow_controls(bootstrap_servers, topics, codec, defaults)
    # persistent maps: a change costs O(log n) and the monitor reads a consistent value without a copy
    # written by the engine and the position manager only, from validated events: decoded as trusted
    orders = FollowedTopic(bootstrap_servers, topics.orders, codec, Map(), admitting("orders", live_orders),
                           trusted=True).start()
    positions = FollowedTopic(bootstrap_servers, topics.positions, codec, Map(),
                              admitting("positions", latest_positions), trusted=True).start()
    stats = MonitorStats()
    canceled: frozenset[str] = frozenset()
    peaks: dict[str, object] = {}
    try:
        while not stop.wait(interval_s):
            now = clock.now_ns()
            refs = references.value if references is not None else {}
            actions = post_trade_actions(
                controls.value,
                [o for o in orders.value.values() if isinstance(o, OrderView)],
                [p for p in positions.value.values() if isinstance(p, Position)],
                {instrument: price for instrument, (price, _) in refs.items()},
                peaks,
                canceled,
                now,
            )
            peaks, canceled = actions.peaks, actions.canceled
            for cancel in actions.cancels:
                producer.send(topics.commands, cancel.account, cancel)
                stats.cancels += 1
            for control in actions.controls:
                producer.send(topics.risk_controls, keys.control(control.scope, control.kind.value, control.name),
                              control)
                log.error("ALERT post-trade risk: %s %s -> %s (%s)", control.scope, control.name, control.value,
                          control.reason)
                stats.state_changes += 1
            for alert in actions.alerts:
                if alert not in stats.alerts:
                    log.error("ALERT post-trade risk: %s", alert)
                    stats.alerts.append(alert)
            if actions.cancels or actions.controls:
                producer.flush()
    finally:
        orders.stop()
        positions.stop()
        if own_controls:
            controls.stop()
    return stats


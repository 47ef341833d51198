"""What-if through a live engine: recorded commands replayed into a sandbox topic prefix and decided by a worker.

This module owns the sandboxed what-if run (`oms whatif --kafka-prefix P`).
`run_sandbox(settings, sandbox, commands, market_data)` creates the topics
under the sandbox prefix, publishes the market data up to the first command,
starts a venue gateway (the simulated exchanges of `entrypoints.venue`, with the
venue models' order-entry latency, reject rate and the fee schedules; the
backtest-only models - queue position, slippage, API failures, outages - are
not part of a live venue) and a worker (`entrypoints.worker`: the order engine
with the what-if's default limits, routes and default venue) as processes of
their own (`entrypoints.supervisor.Processes`), waits for each venue's status,
then walks the market data and the commands in time order (a command before the
market data of the same instant, as the backtest does): market data is
published as it comes; before a command that follows new market data it waits
`settle_s` for the gateway to take it, sends the command on the commands topic
and waits until the engine has decided it and, if it went to a venue, the venue
has answered (a journal event of its order after the decision). Then the rest
of the market data, a last `settle_s`, the journal read to its end, and the
processes stopped. The sandbox prefix must not be the live one, and its commands and
journal topics must be empty (a fresh prefix per run). The recorded commands keep their own ids and times, so the
sandbox journal is diffed against what happened order by order
(`replay.whatif.against_sandbox`). A process that exits, or a command not
settled within `timeout_s`, ends the run with an error naming it and the tail of
that process's log.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from entrypoints.supervisor import Processes
from oms.config import Settings
from oms.events import Event, JournalEvent, OrderDenied, OrderPendingCancel, OrderPendingReplace, OrderRouted
from oms.marketdata import MarketData
from replay.models import VenueModel

__all__ = ["Sandbox", "SandboxError", "run_sandbox"]

_ASKING = (OrderRouted, OrderPendingCancel, OrderPendingReplace)
"""Journal events that wait for a venue's answer (the decision of a command, or its routing)."""


class SandboxError(RuntimeError):
    """The sandbox run could not finish: a process exited, or a command was not settled in time."""


@dataclass(frozen=True)
class Sandbox:
    """Where and with what a sandboxed what-if runs. `risk_defaults`, `routes` and `default_venue` are
    the worker's (`OMS_RISK_DEFAULTS`, `--route`, `--default-venue`: the what-if's limits and routing);
    the venues charge their models' fee schedules (`VenueModel.schedule`)."""

    prefix: str
    venues: Mapping[str, VenueModel]
    seed: int = 0
    risk_defaults: str = ""
    routes: str = ""
    default_venue: str | None = None
    settle_s: float = 0.3
    timeout_s: float = 120.0
    start_timeout_s: float = 180.0
    """How long the gateway may take to come up (the first status of every venue)."""

    def __post_init__(self) -> None:
        if not self.prefix:
            raise ValueError("sandbox: give a topic prefix (the sandbox must not write to the live topics)")
        if not self.venues:
            raise ValueError("sandbox: name at least one venue")


def _venue_config(name: str, model: VenueModel) -> str:
    """The gateway's `--venue-config` of one venue model (latency and reject rate)."""
    parts = [f"latency_ms={model.entry.fixed_ns / 1_000_000}", f"jitter_ms={model.entry.jitter_ns / 1_000_000}",
             f"reject_prob={model.reject_probability}"]
    return f"{name}:{','.join(parts)}"


def fees_spec(venues: Mapping[str, VenueModel]) -> str:
    """The venues' fee schedules in the `OMS_VENUE_FEES` form (`oms.domain.sor.fees.parse_fees` reads it back)."""
    from oms.domain.sor.fees import FeeUnit

    parts = []
    for name, model in venues.items():
        schedule = model.schedule
        if schedule is not None:
            unit = "bps" if schedule.unit is FeeUnit.BPS else ""
            parts.append(f"{name}=taker:{schedule.taker}{unit},maker:{schedule.maker}{unit}")
    return ";".join(parts)


class _Journal:
    """The sandbox journal as it arrives: per order, its events in order; per command id, its decision."""

    def __init__(self, runtime) -> None:
        from streams.views import TopicView

        self.view = TopicView(runtime, runtime.topics.journal, keep_all=True)
        self.seen = 0
        self.events: dict[str, list[JournalEvent]] = {}
        self.decisions: dict[str, JournalEvent] = {}

    def refresh(self, idle: float = 0.05) -> None:
        self.view.refresh(idle=idle, first_wait=idle)
        for event in self.view.all[self.seen:]:
            if isinstance(event, JournalEvent):
                self.events.setdefault(event.order_id, []).append(event)
                command_id = getattr(event, "command_id", None)
                if command_id is not None:
                    self.decisions[command_id] = event
        self.seen = len(self.view.all)

    def settled(self, command: Event) -> bool:
        """Whether the engine decided `command` and, when that asked a venue, the venue answered."""
        decision = self.decisions.get(command.event_id)
        if decision is None:
            return False
        if isinstance(decision, OrderDenied):
            return True
        last = self.events[decision.order_id][-1]
        return last.seq > decision.seq and not isinstance(last, _ASKING)


def run_sandbox(settings: Settings, bootstrap_servers: str, sandbox: Sandbox, commands: Iterable[Event],
                market_data: Iterable[MarketData], say: Callable[[str], None] = lambda _: None) -> list[Event]:
    """Run the recorded `commands` over `market_data` through a live worker and gateway under the
    sandbox prefix (see the module docstring); returns the sandbox journal."""
    from streams.runtime import connect

    if sandbox.prefix == settings.topic_prefix:
        raise SandboxError(f"the sandbox prefix {sandbox.prefix!r} is the live topic prefix: give another one")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", sandbox.prefix)
    fees = fees_spec(sandbox.venues)
    config = settings.with_(topic_prefix=sandbox.prefix, risk_defaults=sandbox.risk_defaults,
                            venues=",".join(sandbox.venues), venue_fees=fees, routing="",
                            home=settings.home / "sandboxes" / safe)
    runtime = connect(config)
    runtime.ensure_topics()
    used = _records(runtime, (runtime.topics.commands, runtime.topics.journal))
    if used:
        raise SandboxError(f"the sandbox prefix {sandbox.prefix!r} already has records ({used}; an earlier run): "
                           f"give a fresh prefix")
    journal = _Journal(runtime)
    producer = runtime.event_producer()
    commands = sorted(commands, key=lambda c: c.ts_event)
    market = list(market_data)
    first = commands[0].ts_event if commands else None
    i = 0
    while i < len(market) and (first is None or market[i].ts_event < first):
        producer.send(runtime.topics.marketdata, market[i].instrument, market[i])
        i += 1
    producer.flush()
    say(f"sandbox {sandbox.prefix}: {i} market data events before the first command published")

    procs = Processes(config, bootstrap_servers)
    names = ",".join(sandbox.venues)
    worker_args = ["--venues", names, "--default-venue", sandbox.default_venue or next(iter(sandbox.venues))]
    if sandbox.routes:
        worker_args += ["--route", sandbox.routes]
    if sandbox.risk_defaults:
        worker_args += ["--risk-defaults", sandbox.risk_defaults]
    gateway_args = ["--forget-book", "--rate-limit", "0", "-q"]
    for name, model in sandbox.venues.items():
        gateway_args += ["--venue-config", _venue_config(name, model)]
    if fees:
        gateway_args += ["--fees", fees]
    try:
        procs.start_gateway(names, sandbox.seed, *gateway_args)
        procs.start_worker(*worker_args)
        statuses = _venue_statuses(runtime)
        procs.wait_until(lambda: statuses() >= set(sandbox.venues), sandbox.start_timeout_s,
                         f"the status of venues {names} from the sandbox gateway")
        fresh = False
        for command in commands:
            while i < len(market) and market[i].ts_event < command.ts_event:
                producer.send(runtime.topics.marketdata, market[i].instrument, market[i])
                i, fresh = i + 1, True
            if fresh:
                producer.flush()
                time.sleep(sandbox.settle_s)
                fresh = False
            producer.send(runtime.topics.commands, command.account, command)
            producer.flush()

            def settled(command=command) -> bool:
                journal.refresh()
                return journal.settled(command)

            procs.wait_until(settled, sandbox.timeout_s, f"the sandbox engine to settle {command.client_order_id}",
                             poll=0.02)
        while i < len(market):
            producer.send(runtime.topics.marketdata, market[i].instrument, market[i])
            i += 1
        producer.flush()
        time.sleep(sandbox.settle_s)
        journal.refresh(idle=max(1.0, sandbox.settle_s))
        say(f"sandbox {sandbox.prefix}: {len(commands)} commands decided, {journal.seen} journal events")
        return [e for e in journal.view.all if isinstance(e, JournalEvent)]
    except (RuntimeError, TimeoutError) as exc:
        logs = "\n".join(f"--- {name} ---\n{procs.log_tail(name)}" for name in ("worker", "venue"))
        raise SandboxError(f"{exc}\n{logs}") from None
    finally:
        procs.stop_all()


def _records(runtime, topics) -> str:
    """The topics of `topics` holding records, with their end offsets summed over the partitions ("" if none)."""
    consumer = runtime.event_consumer(f"sandbox-check-{uuid.uuid4().hex[:8]}", "sandbox", deadletter=False)
    try:
        ends = {topic: sum(consumer.end_offsets(topic).values()) for topic in topics}
    finally:
        consumer.close()
    return ", ".join(f"{topic}: {end}" for topic, end in ends.items() if end)


def _venue_statuses(runtime) -> Callable[[], set[str]]:
    """A function giving the venues whose status the sandbox gateway has published so far."""
    from oms.events import VenueStatus
    from streams.views import TopicView

    view = TopicView(runtime, runtime.topics.venue_status)

    def seen() -> set[str]:
        view.refresh(idle=0.1, first_wait=0.5)
        return {e.venue for e in view.latest.values() if isinstance(e, VenueStatus)}

    return seen

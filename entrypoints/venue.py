"""`oms venue` / `python -m entrypoints.venue`: the venue gateway process (simulated and FIX venues), and venue operations.

Without an action the options become a `SimulatedVenueConfig` for the
simulated venues of `--venues`, and each `--fix CONFIG` (repeatable) a FIX 4.4
venue (`connectors.fix.FixVenue` over `FixVenueConfig.load(CONFIG)`; its
`data_dir` defaults to `$OMS_HOME/fix/<venue>` and its `cache_dir` to
`OMS_CACHE_DIR` when the file does not set them); the gateway serves them all
side by side. Every
simulated venue starts from the plain options (`--reject-prob`, `--latency-ms`,
`--resting-fill-prob`, ...); `--fees` gives them fee schedules in the
`OMS_VENUE_FEES` form (`oms.domain.sor.parse_fees`, default: `OMS_VENUE_FEES`,
so the venues charge what the smart router weighs) and each `--venue-config
VENUE:KEY=VALUE,...` (repeatable) overrides the options of one venue
(`simulated_venue_configs`; keys in `VENUE_CONFIG_KEYS`), so several simulated
venues can differ without code. The
policies (`Settings.venue_policies` from `OMS_VENUE_LIMITS` when set, else
one pool at `--rate-limit` / `--burst` per venue, 0 for none), checked
before anything connects; then `processors.venue_gateway.run_gateway` runs
the venues until SIGTERM or SIGINT, on the entry point's clock.
`oms venue stats [VENUE]` prints the venue statistics per venue and instrument, folded
from the journal (`entrypoints.venue_stats`). `oms venue status [VENUE]` shows what `venue.status` holds: each venue's latest
status, the operators' overrides with who and why, and the requests a venue
never answered. `oms venue breaker VENUE open|close|auto --by USER --reason WHY` publishes an
operator's `VenueControl` on `venue.status` (audited with who and why, like
`oms risk set`): the gateway forces the venue's circuit breaker OPEN or
CLOSED, or hands it back to AUTO, and the engine denies new orders for a
venue forced open. `oms venue reconcile VENUE --by USER --reason WHY` asks the
gateway serving the venue to reconcile it against the OMS now (the report goes
to `venue.reconciliations`). The simulated venues keep their books across a
restart of the gateway (`--state-dir`, default `$OMS_HOME/venues/<prefix>`), as
a real venue outlives its gateway; `--forget-book` makes them start empty.
"""

from __future__ import annotations

import dataclasses
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Optional, Sequence

import typer

from entrypoints.context import configure_logging, entry, refused, run, stopping
from oms.commands import CommandError
from oms.domain.sor.fees import FeeSchedule, parse_fees
from oms.domain.tokens import RateLimit
from oms.venues.policy import VenueLimits, VenuePolicy
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig

DEFAULT_RATE_LIMIT = 1_000
"""Requests per second per venue when neither `--rate-limit` nor `OMS_VENUE_LIMITS` is given."""
BREAKER_MODES = {"open": "OPEN", "close": "CLOSED", "closed": "CLOSED", "auto": "AUTO"}

VENUE_CONFIG_KEYS = {
    "latency_ms": "mean simulated latency in milliseconds (decimal)",
    "jitter_ms": "uniform latency jitter in milliseconds (decimal)",
    "reject_prob": "probability that a NEW is rejected, in [0, 1]",
    "late_fill_prob": "probability that a cancel crosses an execution, in [0, 1]",
    "resting_fill_prob": "probability that a crossed resting order fills on a quote, in [0, 1]",
    "max_fill_fraction": "most of a quote's displayed size one order takes, in (0, 1]",
    "fill_on_trades": "whether trade prints fill resting limit orders (true or false)",
}
"""The keys of `--venue-config VENUE:KEY=VALUE,...`, each a plain option's per-venue override."""

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def _decimal(venue: str, key: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise CommandError("venue-config", f"{venue}: {key}={text!r} is not a finite decimal")
    return value


def _probability(venue: str, key: str, text: str) -> float:
    value = _decimal(venue, key, text)
    if not 0 <= value <= 1:
        raise CommandError("venue-config", f"{venue}: {key}={text} is not in [0, 1]")
    return float(value)


def _flag(venue: str, key: str, text: str) -> bool:
    if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
        raise CommandError("venue-config", f"{venue}: {key}={text!r} is not true or false")
    return text.lower() in ("true", "yes", "1")


def _nanoseconds(venue: str, key: str, text: str) -> int:
    value = _decimal(venue, key, text)
    if value < 0:
        raise CommandError("venue-config", f"{venue}: {key}={text} is negative")
    return int(value * 1_000_000)


_OVERRIDES = {  # --venue-config key -> (SimulatedVenueConfig field, parser)
    "latency_ms": ("latency_ns", _nanoseconds),
    "jitter_ms": ("latency_jitter_ns", _nanoseconds),
    "reject_prob": ("reject_probability", _probability),
    "late_fill_prob": ("late_fill_probability", _probability),
    "resting_fill_prob": ("resting_fill_probability", _probability),
    "max_fill_fraction": ("max_fill_fraction", _decimal),
    "fill_on_trades": ("fill_on_trades", _flag),
}
assert _OVERRIDES.keys() == VENUE_CONFIG_KEYS.keys()


def parse_venue_config(spec: str) -> tuple[str, dict[str, object]]:
    """`"SIM-A:latency_ms=2,reject_prob=0.01"` -> ("SIM-A", {"latency_ns": 2000000, "reject_probability": 0.01}):
    one venue's overrides as `SimulatedVenueConfig` fields. A `CommandError` (field `venue-config`) names the
    venue and the bad part: no venue, an unknown key (the known ones listed), a key twice or a bad value."""
    venue, sep, body = spec.partition(":")
    venue = venue.strip()
    if not sep or not venue:
        raise CommandError("venue-config", f"{spec!r} is not VENUE:KEY=VALUE,... (keys: {', '.join(VENUE_CONFIG_KEYS)})")
    changes: dict[str, object] = {}
    seen: set[str] = set()
    for item in (i.strip() for i in body.split(",")):
        if not item:
            continue
        key, sep, text = item.partition("=")
        key, text = key.strip(), text.strip()
        if key not in _OVERRIDES:
            raise CommandError("venue-config", f"{venue}: unknown key {key!r} (known: {', '.join(VENUE_CONFIG_KEYS)})")
        if not sep or not text:
            raise CommandError("venue-config", f"{venue}: {key} has no value ({key}=VALUE)")
        if key in seen:
            raise CommandError("venue-config", f"{venue}: {key} given twice")
        seen.add(key)
        name, parse = _OVERRIDES[key]
        changes[name] = parse(venue, key, text)
    if not changes:
        raise CommandError("venue-config", f"{venue}: no KEY=VALUE (keys: {', '.join(VENUE_CONFIG_KEYS)})")
    return venue, changes


def simulated_venue_configs(names: Sequence[str], base: SimulatedVenueConfig, fees: str = "",
                            venue_config: Sequence[str] = (), *, other_venues_fees: bool = False
                            ) -> dict[str, SimulatedVenueConfig]:
    """The config of each simulated venue of `names`: `base` (the plain options), its fee schedule from
    `fees` (the `OMS_VENUE_FEES` form, `oms.domain.sor.parse_fees`) and its `--venue-config` overrides
    (`parse_venue_config`). A fee schedule (unless `other_venues_fees`: `OMS_VENUE_FEES` names the venues
    of every gateway) or an override for a venue outside `names`, a venue given two `--venue-config`s,
    and a value the simulator refuses are a `CommandError` naming the venue."""
    try:
        schedules: dict[str, FeeSchedule] = parse_fees(fees) if fees.strip() else {}
    except ValueError as exc:
        raise CommandError("fees", str(exc)) from None
    overrides: dict[str, dict[str, object]] = {}
    for spec in venue_config:
        venue, changes = parse_venue_config(spec)
        if venue in overrides:
            raise CommandError("venue-config", f"{venue}: given twice (put all its keys in one --venue-config)")
        overrides[venue] = changes
    for option, named in (("fees", {} if other_venues_fees else schedules), ("venue-config", overrides)):
        stray = sorted(set(named) - set(names))
        if stray:
            raise CommandError(option, f"{', '.join(stray)} is not a simulated venue of --venues "
                                       f"({', '.join(names) or 'none'})")
    configs = {}
    for name in names:
        try:
            configs[name] = dataclasses.replace(base, fees=schedules.get(name, base.fees), **overrides.get(name, {}))
        except ValueError as exc:
            raise CommandError("venue-config", f"{name}: {exc}") from None
    return configs


def decimal_option(text: str) -> Decimal:
    """A finite decimal option value (a usage error otherwise)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise typer.BadParameter(f"{text!r} is not a decimal") from None
    if not value.is_finite():
        raise typer.BadParameter(f"{text!r} is not a finite decimal")
    return value


@app.command("venue")
def venue(
    ctx: typer.Context,
    action: Annotated[Optional[str], typer.Argument(
        help="none: run the gateway; `breaker VENUE open|close|auto`: force a venue's circuit breaker; "
             "`status [VENUE]`: venue status, operator overrides and alerts; "
             "`stats [VENUE]`: venue statistics per venue and instrument, folded from the journal; "
             "`reconcile VENUE`: reconcile the venue against the OMS now")] = None,
    target: Annotated[Optional[str], typer.Argument(help="breaker, status, stats, reconcile: the venue")] = None,
    mode: Annotated[Optional[str], typer.Argument(help="breaker: open, close or auto")] = None,
    venues: Annotated[Optional[str], typer.Option(help="comma-separated simulated venue names, e.g. SIM-A,SIM-B")
                      ] = None,
    fix: Annotated[Optional[list[Path]], typer.Option(
        "--fix", help="a FIX venue's configuration (.toml or .json, `connectors.fix.FixVenueConfig`); repeatable")
                   ] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    reject_prob: Annotated[float, typer.Option(help="probability that a NEW is rejected")] = 0.0,
    late_fill_prob: Annotated[float, typer.Option(
        help="probability that a cancel crosses an execution: a late fill follows the CANCELED")] = 0.0,
    resting_fill_prob: Annotated[float, typer.Option(
        help="probability that a resting order a new quote crosses fills on it")] = 1.0,
    fees: Annotated[Optional[str], typer.Option(
        help="fee schedules of the simulated venues, e.g. 'SIM-A=taker:0.003,maker:-0.002;SIM-B=taker:1bps' "
             "(default: OMS_VENUE_FEES)")] = None,
    venue_config: Annotated[Optional[list[str]], typer.Option(
        "--venue-config", help="one simulated venue's own settings, e.g. "
                               "SIM-A:latency_ms=2,reject_prob=0.01,resting_fill_prob=0.5; repeatable "
                               f"(keys: {', '.join(VENUE_CONFIG_KEYS)})")] = None,
    latency_ms: Annotated[Decimal, typer.Option(parser=decimal_option, help="mean simulated latency in milliseconds")
                          ] = Decimal(1),
    jitter_ms: Annotated[Decimal, typer.Option(parser=decimal_option, help="uniform latency jitter in milliseconds")
                         ] = Decimal(0),
    max_fill_fraction: Annotated[Decimal, typer.Option(
        parser=decimal_option, help="most of a quote's displayed size one order takes")] = Decimal(1),
    fill_on_trades: Annotated[bool, typer.Option("--fill-on-trades", help="trade prints fill resting limit orders")
                              ] = False,
    rate_limit: Annotated[int, typer.Option(
        help="requests per second per venue, 0 for no limit (OMS_VENUE_LIMITS, when set, wins)")
                          ] = DEFAULT_RATE_LIMIT,
    burst: Annotated[Optional[int], typer.Option(help="rate limit burst (default: the rate)")] = None,
    group_id: Annotated[Optional[str], typer.Option(help="consumer group (default: <prefix>venue-gateway)")] = None,
    state_dir: Annotated[Optional[Path], typer.Option(
        help="where the simulated venues keep their books across restarts (default: $OMS_HOME/venues/<prefix>)")
                         ] = None,
    forget_book: Annotated[bool, typer.Option(
        "--forget-book", help="simulated venues start empty on every restart (reconciliation cancels what they lost)")
                           ] = False,
    no_create_topics: Annotated[bool, typer.Option("--no-create-topics", help="do not create missing topics first")
                                ] = False,
    instrument: Annotated[Optional[str], typer.Option(help="stats: only this instrument")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="stats: print JSON instead of a table")] = False,
    by: Annotated[str, typer.Option(help="breaker, reconcile: who asks (kept in the audit trail)")] = "cli",
    reason: Annotated[Optional[str], typer.Option(help="breaker, reconcile: why (kept in the audit trail)")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="log warnings only")] = False,
) -> None:
    """Run the venue gateway (venue.requests and marketdata in, exec.reports and venue.status out), or
    `breaker VENUE open|close|auto`: force a venue's circuit breaker (audited with --by and --reason),
    or `status [VENUE]`: show the venues' status, the overrides' audit trail and the alerts,
    or `stats [VENUE]`: the venue statistics folded from the journal."""
    if action is not None:
        if action == "breaker":
            force_breaker(ctx, target, mode, by, reason)
        elif action == "status":
            show_status(ctx, target)
        elif action == "reconcile":
            request_reconciliation(ctx, target, by, reason)
        elif action == "stats":
            from entrypoints.venue_stats import show_venue_stats

            show_venue_stats(entry(ctx), target, instrument, as_json)
        else:
            raise CommandError("action", f"unknown action {action!r} (known: breaker, status, stats, reconcile)")
        return
    from processors.venue_gateway import run_gateway
    from streams.runtime import connect

    names = [v.strip() for v in (venues or "").split(",") if v.strip()]
    if not names and not fix:
        raise CommandError("venues", "give at least one venue (--venues SIM-A,SIM-B or --fix CONFIG)")
    e = entry(ctx)
    fix_configs = fix_venue_configs(e.settings, fix or [])
    duplicates = sorted({n for n in names + [c.venue for c in fix_configs]
                         if (names + [c.venue for c in fix_configs]).count(n) > 1})
    if duplicates:
        raise CommandError("venues", f"venue {', '.join(duplicates)} named twice")
    books = None if forget_book else (state_dir or e.settings.home / "venues" / (e.settings.topic_prefix or "default"))
    try:
        base = SimulatedVenueConfig(
            latency_ns=int(latency_ms * 1_000_000),
            latency_jitter_ns=int(jitter_ms * 1_000_000),
            reject_probability=reject_prob,
            late_fill_probability=late_fill_prob,
            resting_fill_probability=resting_fill_prob,
            max_fill_fraction=max_fill_fraction,
            fill_on_trades=fill_on_trades,
            state_dir=books,
        )
        configs = simulated_venue_configs(names, base, e.settings.venue_fees if fees is None else fees,
                                          venue_config or (), other_venues_fees=fees is None)
        limits = venue_limits(e.settings, names + [c.venue for c in fix_configs], rate_limit, burst)
        for name in names:  # validate the names before connecting
            SimulatedExchange(name, seed, dataclasses.replace(configs[name], state_dir=None))
    except CommandError:
        raise
    except ValueError as exc:
        raise refused(exc, "venues") from None
    configure_logging("warning" if quiet else "info")
    with stopping() as stop:
        rt = connect(e.settings)
        if not no_create_topics:
            rt.ensure_topics()
        adapters = None
        if fix_configs:  # the simulated venues as run_gateway makes them, beside the FIX sessions
            from connectors.fix.adapter import FixVenue

            adapters = {name: SimulatedExchange(name, seed, configs[name], started_ns=e.clock.now_ns())
                        for name in names}
            for fix_config in fix_configs:
                adapters[fix_config.venue] = FixVenue(fix_config, clock=e.clock)
        run_gateway(e.settings, names, seed, configs, stop=stop, clock=e.clock, group_id=group_id,
                    limits=limits, adapters=adapters, runtime=rt)


def fix_venue_configs(settings, paths: Sequence[Path]) -> list:
    """`FixVenueConfig.load(path)` for every `--fix` file, `data_dir` defaulting to `$OMS_HOME/fix/<venue>`
    and `cache_dir` to `Settings.cache_dir`; a file that cannot be read or is invalid is a usage error."""
    from pydantic import ValidationError

    from connectors.fix.config import FixVenueConfig

    configs = []
    for path in paths:
        try:
            configs.append(FixVenueConfig.load(path, data_root=settings.home / "fix", cache_dir=settings.cache_dir))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise CommandError("fix", f"{path}: {where}: {first['msg']}") from None
        except (OSError, ValueError) as exc:
            raise CommandError("fix", f"{path}: {exc}") from None
    return configs


def venue_limits(settings, names: list[str], rate_limit: int, burst: int | None) -> VenueLimits:
    """The venue policies: `OMS_VENUE_LIMITS` when set, else the default policy with one pool at
    `--rate-limit` / `--burst` for every venue (0: no limit); the rate limit is checked either way."""
    limit = None if rate_limit <= 0 else RateLimit.of(rate_limit, burst)
    if settings.venue_limits:
        return settings.venue_policies
    return VenueLimits(venues={name: VenuePolicy.single(limit) for name in names})


def force_breaker(ctx: typer.Context, venue: str | None, mode: str | None, by: str, reason: str | None) -> None:
    """Publish an operator's `VenueControl` on `venue.status` (validated before connecting) and say so."""
    import uuid

    from pydantic import ValidationError

    from oms import keys
    from oms.events import BreakerMode, VenueControl
    from streams.runtime import connect

    if not venue:
        raise CommandError("venue", "`oms venue breaker VENUE open|close|auto` needs the venue")
    if (mode or "").lower() not in BREAKER_MODES:
        raise CommandError("mode", f"{mode!r} is not open, close or auto")
    e = entry(ctx)
    now = e.clock.now_ns()
    try:
        control = VenueControl(event_id=f"vc.{uuid.uuid4().hex}", ts_event=now, ts_init=now, venue=venue,
                               mode=BreakerMode(BREAKER_MODES[mode.lower()]), changed_by=by, reason=reason)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CommandError(str(first["loc"][0]), first["msg"]) from None
    rt = connect(e.settings)
    producer = rt.event_producer()
    producer.send(rt.topics.venue_status, keys.venue_control(venue), control)
    producer.flush()
    e.console.print(f"venue {venue} circuit breaker {control.mode.value} set by {by}"
                    + (f": {reason}" if reason else ""))


def request_reconciliation(ctx: typer.Context, venue: str | None, by: str, reason: str | None) -> None:
    """Publish an operator's `VenueReconcileRequest` on `venue.status`: the gateway serving the venue
    reconciles it against the OMS and publishes the report on `venue.reconciliations`."""
    import uuid

    from oms import keys
    from oms.events import VenueReconcileRequest
    from streams.runtime import connect

    if not venue:
        raise CommandError("venue", "`oms venue reconcile VENUE` needs the venue")
    e = entry(ctx)
    now = e.clock.now_ns()
    request = VenueReconcileRequest(event_id=f"vr.{uuid.uuid4().hex}", ts_event=now, ts_init=now, venue=venue,
                                    requested_by=by, reason=reason)
    rt = connect(e.settings)
    producer = rt.event_producer()
    producer.send(rt.topics.venue_status, keys.venue_reconcile(venue), request)
    producer.flush()
    e.console.print(f"reconciliation of venue {venue} requested by {by}" + (f": {reason}" if reason else "")
                    + f"; the report follows on {rt.topics.venue_reconciliations}")


def show_status(ctx: typer.Context, venue: str | None) -> None:
    """Print the latest `VenueStatus` per venue, the `VenueControl` audit trail and the `VenueAlert`s."""
    import uuid

    from rich.table import Table

    from oms.clock import ns_to_iso
    from oms.events import VenueAlert, VenueControl, VenueStatus
    from streams.kafka import read_all
    from streams.runtime import connect

    e = entry(ctx)
    rt = connect(e.settings)
    consumer = rt.event_consumer(f"oms-venue-status-{uuid.uuid4().hex[:8]}", "venue-status", deadletter=False)
    try:
        received = [r.event for r in read_all(consumer, [rt.topics.venue_status], timeout=10)
                    if venue is None or getattr(r.event, "venue", None) == venue]
    finally:
        consumer.close()
    latest = {s.venue: s for s in received if isinstance(s, VenueStatus)}
    table = Table("venue", "as of (UTC)", "connection", "breaker", "since (UTC)", "reason", "forced", "failures",
                  "in flight", "queued C/R/S/N", "tokens", "throttled until", "unanswered", title="venue status")
    for s in (latest[name] for name in sorted(latest)):
        table.add_row(s.venue, ns_to_iso(s.ts_event)[:23], s.connection.value, s.breaker.value,
                      ns_to_iso(s.breaker_since)[:23], s.breaker_reason or "",
                      "" if s.forced.value == "AUTO" else f"{s.forced.value} by {s.forced_by}", str(s.failures),
                      str(s.in_flight), f"{s.queued_cancel}/{s.queued_replace}/{s.queued_status}/{s.queued_new}",
                      s.tokens, ns_to_iso(s.throttled_until)[:23] if s.throttled_until else "", str(s.unanswered))
    e.console.print(table)
    audit = Table("time (UTC)", "venue", "breaker", "changed by", "reason", title="operator overrides")
    for c in (c for c in received if isinstance(c, VenueControl)):
        audit.add_row(ns_to_iso(c.ts_event)[:26], c.venue, c.mode.value, c.changed_by, c.reason or "")
    e.console.print(audit)
    alerts = [a for a in received if isinstance(a, VenueAlert)]
    if alerts:
        table = Table("time (UTC)", "venue", "account", "order", "request", "action", "reason", title="alerts")
        for a in alerts:
            table.add_row(ns_to_iso(a.ts_event)[:26], a.venue, a.account, a.order_id, a.request_id, a.action.value,
                          a.reason)
        e.console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    return run(app, argv, prog_name="python -m entrypoints.venue")


if __name__ == "__main__":
    sys.exit(main())

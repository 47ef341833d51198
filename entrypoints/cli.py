"""The `oms` command: one Typer command tree over every entry point of the OMS.

`oms broker|topics` run the cluster side, `oms submit|amend|cancel` publish
order commands, `oms tail` decodes a topic, `oms risk|kill` publish and show
risk controls, `oms worker|venue|marketdata` run the processes (the same
commands as `python -m entrypoints.<name>`), `oms replay` folds the journal
back into state and `oms demo` runs everything end to end. The environment is
read once, by the root callback (`entrypoints.context.entry`), and the
settings, clock and consoles are passed down from there. Invalid input ends
with a message naming the field and exit status 2; nothing is published when
a command is invalid. `main(argv)` returns the exit status.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from enum import Enum
from typing import Annotated, Optional, Sequence

import typer
from rich.table import Table

from entrypoints import backtest as backtest_module
from entrypoints import demo_fix as demo_fix_module
from entrypoints import blotter as blotter_module
from entrypoints import demo as demo_module
from entrypoints import export as export_module
from entrypoints import marketdata as marketdata_module
from entrypoints import replay as replay_module
from entrypoints import status as status_module
from entrypoints import tables
from entrypoints import venue as venue_module
from entrypoints import worker as worker_module
from entrypoints.context import Entry, configure_logging, entry, run
from oms import commands
from oms.clock import ns_to_iso
from oms.commands import CommandError
from oms.events import Event

app = typer.Typer(
    name="oms",
    help="Event-sourced order management on Apache Kafka",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="log at INFO level")] = False,
) -> None:
    """Event-sourced order management on Apache Kafka."""
    configure_logging("info" if verbose else "warning")
    entry(ctx)  # the environment, read once for the whole command line


# ------------------------------------------------------------------ broker


class BrokerAction(str, Enum):
    start = "start"
    stop = "stop"
    status = "status"


@app.command()
def broker(ctx: typer.Context, action: Annotated[BrokerAction, typer.Argument()]) -> None:
    """The local single-node Kafka broker."""
    from streams.broker import LocalBroker

    e = entry(ctx)
    local = LocalBroker(e.settings.home / "broker", e.settings.cache_dir)
    if action is BrokerAction.start:
        t0 = time.monotonic()
        info = local.start()
        e.console.print(
            f"broker up at [bold]{info.bootstrap_servers}[/] (pid {info.pid}) in {time.monotonic() - t0:.1f}s; "
            f"log: {info.log_file}"
        )
        e.console.print(f"export KAFKA_BOOTSTRAP_SERVERS={info.bootstrap_servers}")
    elif action is BrokerAction.stop:
        e.console.print("broker stopped" if local.stop() else "broker was not running")
    else:
        info = local.status()
        if info is None:
            e.console.print("broker: not running")
            raise typer.Exit(1)
        e.console.print(f"broker: running at {info.bootstrap_servers} (pid {info.pid}), data {info.data_dir}")


# ------------------------------------------------------------------ topics


class TopicsAction(str, Enum):
    create = "create"
    list = "list"
    describe = "describe"


@app.command()
def topics(ctx: typer.Context, action: Annotated[TopicsAction, typer.Argument()]) -> None:
    """The topic catalogue: create the topics, list the catalogue, or describe the topics on the cluster."""
    from streams.runtime import connect
    from streams.topics import CATALOGUE, describe_topics

    e = entry(ctx)
    rt = connect(e.settings)
    if action is TopicsAction.create:
        statuses = rt.ensure_topics()
        table = tables.table("topic", "partitions", "cleanup", "result", title=f"topics on {rt.bootstrap_servers}")
        for s in statuses:
            table.add_row(s.name, str(s.partitions), s.cleanup, "created" if s.created else "exists")
    elif action is TopicsAction.list:
        table = tables.table("topic", "key", "partitions", "cleanup", "retention", "written by", "holds")
        for spec in CATALOGUE:
            parts = str(spec.partition_count(e.settings.partitions))
            retention = "forever" if spec.retention_ms < 0 else f"{spec.retention_ms // 86_400_000}d"
            table.add_row(rt.topics.name(spec.name), spec.key, parts, spec.cleanup, retention,
                          spec.written_by, spec.holds)
    else:
        table = tables.table("topic", "exists", "key", "partitions", "cleanup", "retention.ms")
        for row in describe_topics(rt.admin(), rt.topics):
            if row["exists"]:
                table.add_row(row["topic"], "yes", row["key"], str(row["partitions"]), row["cleanup"],
                              str(row["retention_ms"]))
            else:
                table.add_row(row["topic"], "[red]no[/]", row["key"], "", "", "")
    e.console.print(table)


# ------------------------------------------------------------- order entry

Account = Annotated[str, typer.Option("--account", help="the account the order belongs to")]
Trader = Annotated[str, typer.Option("--trader", help="who enters the command")]
ClientOrderId = Annotated[Optional[str], typer.Option(
    "--client-order-id", "--cl-ord-id", help="client order id of this command (default: a fresh id)")]
Orig = Annotated[str, typer.Option("--orig", help="client order id of the order to change")]
Quantity = Annotated[Optional[str], typer.Option("--quantity", "--qty", "-q", help="order quantity")]
Price = Annotated[Optional[str], typer.Option("--price", "-p", help="limit price")]


def publish_order_command(e: Entry, kind: str, *, account: str, trader: str, client_order_id: str | None,
                          **fields) -> Event:
    """The one CLI path of `submit`, `amend` and `cancel`: build and validate the command (before
    connecting to anything), publish it with the order client, wait for delivery, say what was sent."""
    from streams.client import OrderClient

    command = commands.build(kind, e.clock, account=account, trader=trader,
                             client_order_id=client_order_id or f"c-{uuid.uuid4().hex[:12]}", **fields)
    client = OrderClient.connect(e.settings, trader=trader, clock=e.clock)
    client.publish(command)
    client.flush()
    e.console.print(f"published {type(command).__name__} [bold]{command.client_order_id}[/] "
                    f"for account {command.account} (event {command.event_id})")
    return command


@app.command()
def submit(
    ctx: typer.Context,
    account: Account,
    instrument: Annotated[str, typer.Option("--instrument", "-i", help="the instrument to trade")],
    side: Annotated[str, typer.Option("--side", "-s", help="BUY or SELL")],
    quantity: Annotated[str, typer.Option("--quantity", "--qty", "-q", help="order quantity")],
    price: Annotated[Optional[str], typer.Option("--price", "-p", help="limit price (implies a LIMIT order)")
                     ] = None,
    order_type: Annotated[Optional[str], typer.Option(
        "--type", help="MARKET or LIMIT (default: LIMIT with a price, else MARKET)")] = None,
    tif: Annotated[str, typer.Option("--tif", help="DAY, GTC, IOC or FOK")] = "DAY",
    venue: Annotated[Optional[str], typer.Option("--venue", help="route to this venue")] = None,
    trader: Trader = "cli",
    client_order_id: ClientOrderId = None,
) -> None:
    """Publish a NewOrder."""
    publish_order_command(entry(ctx), "new", account=account, trader=trader, client_order_id=client_order_id,
                          instrument=instrument, side=side, quantity=quantity, order_type=order_type,
                          limit_price=price, time_in_force=tif, venue=venue)


@app.command()
def amend(
    ctx: typer.Context,
    account: Account,
    orig: Orig,
    quantity: Quantity = None,
    price: Price = None,
    trader: Trader = "cli",
    client_order_id: ClientOrderId = None,
) -> None:
    """Publish an AmendOrder (cancel/replace)."""
    publish_order_command(entry(ctx), "amend", account=account, trader=trader, client_order_id=client_order_id,
                          orig_client_order_id=orig, quantity=quantity, limit_price=price)


@app.command()
def cancel(
    ctx: typer.Context,
    account: Account,
    orig: Orig,
    trader: Trader = "cli",
    client_order_id: ClientOrderId = None,
) -> None:
    """Publish a CancelOrder."""
    publish_order_command(entry(ctx), "cancel", account=account, trader=trader, client_order_id=client_order_id,
                          orig_client_order_id=orig)


def publish_command(e: Entry, command: Event, trader: str) -> Event:
    """Publish an already validated command on `commands` (keyed by its account) and say so."""
    from streams.client import OrderClient

    client = OrderClient.connect(e.settings, trader=trader, clock=e.clock)
    client.publish(command)
    client.flush()
    e.console.print(f"published {type(command).__name__} for account {command.account} (event {command.event_id})")
    return command


@app.command()
def status(
    ctx: typer.Context,
    order: Annotated[Optional[str], typer.Argument(help="client order id of the order (omit with --all)")] = None,
    account: Account = ...,
    all_orders: Annotated[bool, typer.Option("--all", help="mass status: every order of the account")] = False,
    venue: Annotated[Optional[str], typer.Option("--venue", help="with --all: only orders at this venue")] = None,
    trader: Trader = "cli",
) -> None:
    """Ask the venue for an order's state (an OrderStatusRequest; --all: an OrderMassStatusRequest).
    The venue's ORDER_STATUS reports change nothing unless they disagree: `oms tail order.events`
    shows a VENUE_MISMATCH anomaly then."""
    e = entry(ctx)
    if all_orders == (order is not None):
        raise CommandError("order", "name one client order id, or give --all")
    if all_orders:
        command = commands.mass_status(e.clock, account=account, trader=trader, venue=venue)
    else:
        command = commands.order_status(e.clock, account=account, trader=trader, client_order_id=order)
    publish_command(e, command, trader)


app.command("health")(status_module.health)  # the processes' liveness and lag, and the broker's state


session_app = typer.Typer(help="Trading session operations.", no_args_is_help=True)
app.add_typer(session_app, name="session")


@session_app.command("roll")
def session_roll(
    ctx: typer.Context,
    day: Annotated[str, typer.Argument(help="the new trading day, YYYY-MM-DD")],
    account: Annotated[list[str], typer.Option("--account", help="an account to roll (repeat for more)")],
    by: Annotated[str, typer.Option("--by", help="who rolls the session")] = "operator",
) -> None:
    """Roll accounts to a new trading day: a NewTradingDay per account; the engine renews the GTC
    orders done for the day (OrderRestated GT_RENEWAL), once per order and day."""
    e = entry(ctx)
    built = [commands.new_trading_day(e.clock, account=a, trading_day=day, changed_by=by) for a in account]
    for command in built:
        publish_command(e, command, by)


# -------------------------------------------------------------------- tail

SUMMARY_FIELDS = (
    "account", "order_id", "client_order_id", "instrument", "side", "order_type", "quantity", "limit_price",
    "status", "exec_type", "last_qty", "last_px", "cum_qty", "leaves_qty", "avg_px", "price", "bid_price",
    "ask_price", "reason_code", "reason", "venue", "action", "error", "scope", "kind", "name", "value",
)


def event_summary(event: Event) -> str:
    values = event.model_dump()
    parts = []
    for name in SUMMARY_FIELDS:
        value = values.get(name)
        if value is None:
            continue
        if hasattr(value, "value"):
            value = value.value
        if hasattr(value, "normalize"):
            value = f"{value.normalize():f}"
        parts.append(f"{name}={value}")
    return " ".join(parts)


def event_json(event: Event) -> dict:
    return {"type": type(event).__name__, **event.model_dump(mode="json")}


@app.command()
def tail(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help="catalogue name (commands, order.events, fills, ...) or full name")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
    max_events: Annotated[int, typer.Option("--max", help="only the last N events")] = 0,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new events")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to read up to the end")] = 10.0,
) -> None:
    """Decode and print the events on a topic."""
    from streams.kafka import read_all
    from streams.runtime import connect

    e = entry(ctx)
    rt = connect(e.settings)
    try:
        name = rt.topics.name(rt.topics.short(topic))
    except KeyError as exc:
        raise CommandError("topic", str(exc.args[0]) if exc.args else topic) from None
    rt.learn_schemas()

    def line(r) -> str:
        return json.dumps({"partition": r.partition, "offset": r.offset, "key": r.key, **event_json(r.event)})

    def on_error(msg, error):
        if as_json:
            print(json.dumps({"type": "UNDECODABLE", "partition": msg.partition, "offset": msg.offset,
                              "error": error}), flush=True)
        else:
            e.err_console.print(f"[red]undecodable[/] {msg.topic}[{msg.partition}]@{msg.offset}: {error}")

    consumer = rt.event_consumer(f"oms-tail-{uuid.uuid4().hex[:8]}", "tail", deadletter=False, on_error=on_error)
    try:
        received = read_all(consumer, [name], timeout=timeout)
        if max_events:
            received = received[-max_events:]
        if as_json:
            for r in received:
                print(line(r), flush=True)
        else:
            table = tables.table("p", "offset", "key", "time (UTC)", "type", "event", title=name)
            for r in received:
                table.add_row(str(r.partition), str(r.offset), r.key or "", ns_to_iso(r.event.ts_event)[11:26],
                              type(r.event).__name__, event_summary(r.event))
            e.console.print(table)
        while follow:
            r = consumer.poll(1.0)
            if r is None:
                continue
            if as_json:
                print(line(r), flush=True)
            else:
                e.console.print(f"{r.partition}:{r.offset} {type(r.event).__name__} {event_summary(r.event)}")
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


# -------------------------------------------------------------------- risk


def publish_risk_control(e: Entry, scope: str, kind: str, name: str, value: str, by: str,
                         reason: str | None) -> Event:
    """Build and validate a risk control (before connecting), publish it to `risk.controls`, say so."""
    from streams.client import publish_control
    from streams.runtime import connect

    control = commands.risk_control(e.clock, event_id=f"rc.{uuid.uuid4().hex}", scope=scope, kind=kind,
                                    name=name, value=value, changed_by=by, reason=reason)
    rt = connect(e.settings)
    publish_control(rt.event_producer(), rt.topics, control)
    e.console.print(f"{control.kind.value} {control.name}={control.value} set for {control.scope} by {by}")
    return control


class RiskAction(str, Enum):
    set = "set"
    show = "show"


@app.command()
def risk(
    ctx: typer.Context,
    action: Annotated[RiskAction, typer.Argument()],
    scope: Annotated[str, typer.Argument(help="an account, or * for every account")] = "*",
    kind: Annotated[Optional[str], typer.Argument(help="LIMIT, TRADING_STATE, ENTITLEMENT or INSTRUMENT")] = None,
    name: Annotated[Optional[str], typer.Argument(help="limit name, 'state', trader or instrument")] = None,
    value: Annotated[Optional[str], typer.Argument(
        help="limit value, ACTIVE/REDUCING/HALTED, allow/deny, tradable/restricted/halted")] = None,
    by: Annotated[str, typer.Option(help="who makes the change (kept in the audit trail)")] = "cli",
    reason: Annotated[Optional[str], typer.Option(help="why (kept in the audit trail)")] = None,
) -> None:
    """Risk controls: set one, or show the audit trail and the limits in force (for SCOPE, else for every scope)."""
    e = entry(ctx)
    if action is RiskAction.set:
        for field, given in (("kind", kind), ("name", name), ("value", value)):
            if not given:
                raise CommandError(field, "`oms risk set SCOPE KIND NAME VALUE` needs all four")
        publish_risk_control(e, scope, kind, name, value, by, reason)
        return
    from oms.domain.risk import Controls, apply_control
    from streams.kafka import read_all
    from streams.runtime import connect

    rt = connect(e.settings)
    consumer = rt.event_consumer(f"oms-risk-show-{uuid.uuid4().hex[:8]}", "risk-show", deadletter=False)
    try:
        received = read_all(consumer, [rt.topics.risk_controls], timeout=10)
    finally:
        consumer.close()
    controls = Controls(defaults=e.settings.default_limits)
    table = tables.table("time (UTC)", "scope", "kind", "name", "value", "changed by", "reason",
                  title="risk.controls audit trail")
    for r in received:
        try:
            refusal = rt.topics.admitted(r.topic, r.event)
            if refusal is not None:
                raise ValueError(refusal)
            controls = apply_control(controls, r.event)
        except ValueError as exc:
            e.err_console.print(f"[yellow]not applied[/]: {exc}")
            continue
        c = r.event
        table.add_row(ns_to_iso(c.ts_event)[:26], c.scope, c.kind.value, c.name, c.value, c.changed_by,
                      c.reason or "")
    e.console.print(table)
    e.console.print(limits_table(controls, None if scope == "*" else scope))


def limits_table(controls, account: str | None = None) -> Table:
    """The limits in force (`oms.domain.risk.limits_in_force`) with their source (the account,
    `*` or the default), for `account`, else for `*` and every account with limits of its own;
    with each scope's trading state and kill switch."""
    from oms.domain.risk import killed, limits_in_force, trading_state

    own = {*controls.limits, *controls.states, *controls.kill} - {"*"}
    scopes = [account] if account is not None else ["*", *sorted(own)]
    table = tables.table("scope", "limit", "value", "source", "trading state", "kill switch",
                  title="limits in force (source: the account, * for every account, or the default)")
    for scope in scopes:
        state, kill_switch = trading_state(controls, scope).value, "on" if killed(controls, scope) else "off"
        for n, shown in enumerate(limits_in_force(controls, scope)):
            first = n == 0
            value = f"{shown.value:,f}"
            value = value.rstrip("0").rstrip(".") if "." in value else value
            table.add_row(scope if first else "", shown.name, value,
                          shown.source, state if first else "", kill_switch if first else "")
        table.add_section()
    return table


@app.command()
def kill(
    ctx: typer.Context,
    account: Annotated[Optional[str], typer.Argument(help="the account (or give --all)")] = None,
    every: Annotated[bool, typer.Option("--all", help="every account")] = False,
    off: Annotated[bool, typer.Option("--off", help="release the kill switch")] = False,
    by: Annotated[str, typer.Option(help="who makes the change (kept in the audit trail)")] = "cli",
    reason: Annotated[Optional[str], typer.Option(help="why (kept in the audit trail)")] = None,
) -> None:
    """Engage (or release) the kill switch: no new orders, open orders canceled."""
    scope = "*" if every else account
    if not scope:
        raise CommandError("account", "name an account or give --all")
    publish_risk_control(entry(ctx), scope, "KILL_SWITCH", "kill_switch", "off" if off else "on", by, reason)


# ------------------------------------------------- processes, replay, demo

app.command("worker")(worker_module.worker)
app.command("venue")(venue_module.venue)
app.command("marketdata")(marketdata_module.marketdata)
app.command("replay")(replay_module.replay_command)
app.command("blotter")(blotter_module.blotter)
app.command("backtest")(backtest_module.backtest)
app.command("whatif")(backtest_module.whatif)
app.command("export")(export_module.export_command)
app.command("demo-fix")(demo_fix_module.demo_fix)


@app.command()
def demo(
    ctx: typer.Context,
    orders: Annotated[int, typer.Option(help="how many orders the flow sends")] = 300,
    seed: Annotated[int, typer.Option(help="random seed of the flow, the venue and the feed")] = 7,
    blotter: Annotated[bool, typer.Option("--blotter/--no-blotter", help="serve the web blotter during the demo")
                       ] = True,
    blotter_port: Annotated[int, typer.Option(help="the blotter's port (0, or taken: any free port)")
                            ] = blotter_module.DEFAULT_PORT,
    linger: Annotated[float, typer.Option(help="seconds the blotter stays up after the flow")] = 0.0,
) -> None:
    """Run the OMS on the embedded default and print the results (and the web blotter's address)."""
    e = entry(ctx)
    code = demo_module.run_demo(e.settings, e.clock, e.console, orders=orders, seed=seed,
                                blotter_port=blotter_port if blotter else None, linger=linger)
    if code:
        raise typer.Exit(code)


def main(argv: Sequence[str] | None = None, *, obj: Entry | None = None) -> int:
    """Run `oms` on `argv` (default: the process's arguments); returns the exit status."""
    return run(app, argv, prog_name="oms", obj=obj)


if __name__ == "__main__":
    sys.exit(main())

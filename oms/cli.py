"""The `oms` command line: broker, topics, order entry, tailing, processors, replay and the demo.

The environment is read once here (`Settings.from_env`) and passed down.
Errors in user input end with a message naming the field and exit status 2;
nothing is published when a command is invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Sequence

from rich.console import Console
from rich.table import Table

from oms.clock import ns_to_iso
from oms.commands import CommandError
from oms.config import Settings
from oms.events import Event

console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)

EXIT_USAGE = 2


# ------------------------------------------------------------------ broker


def cmd_broker(args, settings: Settings) -> int:
    from streams.broker import LocalBroker

    broker = LocalBroker(settings.home / "broker", settings.cache_dir)
    if args.action == "start":
        t0 = time.monotonic()
        info = broker.start()
        console.print(
            f"broker up at [bold]{info.bootstrap_servers}[/] (pid {info.pid}) in {time.monotonic() - t0:.1f}s; "
            f"log: {info.log_file}"
        )
        console.print(f"export KAFKA_BOOTSTRAP_SERVERS={info.bootstrap_servers}")
    elif args.action == "stop":
        console.print("broker stopped" if broker.stop() else "broker was not running")
    else:
        info = broker.status()
        if info is None:
            console.print("broker: not running")
            return 1
        console.print(f"broker: running at {info.bootstrap_servers} (pid {info.pid}), data {info.data_dir}")
    return 0


# ------------------------------------------------------------------ topics


def cmd_topics(args, settings: Settings) -> int:
    from streams.runtime import connect
    from streams.topics import CATALOGUE, describe_topics

    rt = connect(settings)
    if args.action == "create":
        statuses = rt.ensure_topics()
        table = Table("topic", "partitions", "cleanup", "result", title=f"topics on {rt.bootstrap_servers}")
        for s in statuses:
            table.add_row(s.name, str(s.partitions), s.cleanup, "created" if s.created else "exists")
        console.print(table)
    elif args.action == "list":
        table = Table("topic", "key", "partitions", "cleanup", "retention", "written by", "holds")
        for spec in CATALOGUE:
            parts = str(spec.partition_count(settings.partitions))
            retention = "forever" if spec.retention_ms < 0 else f"{spec.retention_ms // 86_400_000}d"
            table.add_row(rt.topics.name(spec.name), spec.key, parts, spec.cleanup, retention,
                          spec.written_by, spec.holds)
        console.print(table)
    else:
        table = Table("topic", "exists", "key", "partitions", "cleanup", "retention.ms")
        for row in describe_topics(rt.admin(), rt.topics):
            if row["exists"]:
                table.add_row(row["topic"], "yes", row["key"], str(row["partitions"]), row["cleanup"],
                              str(row["retention_ms"]))
            else:
                table.add_row(row["topic"], "[red]no[/]", row["key"], "", "", "")
        console.print(table)
    return 0


# ------------------------------------------------------------- order entry


def _client(settings: Settings, trader: str):
    from streams.client import OrderClient

    return OrderClient.connect(settings, trader=trader)


def _print_command(command: Event) -> None:
    console.print(f"published {type(command).__name__} [bold]{command.client_order_id}[/] "
                  f"for account {command.account} (event {command.event_id})")


def cmd_submit(args, settings: Settings) -> int:
    from oms import commands
    from oms.clock import LiveClock

    fields = dict(
        account=args.account, trader=args.trader, client_order_id=args.client_order_id or f"c-{uuid.uuid4().hex[:12]}",
        instrument=args.instrument, side=args.side, quantity=args.quantity, order_type=args.type,
        limit_price=args.price, time_in_force=args.tif, venue=args.venue,
    )
    commands.new_order(LiveClock(), **fields)  # validate before connecting to anything
    client = _client(settings, args.trader)
    command = client.new_order(**fields)
    client.flush()
    _print_command(command)
    return 0


def cmd_amend(args, settings: Settings) -> int:
    from oms import commands
    from oms.clock import LiveClock

    fields = dict(
        account=args.account, trader=args.trader, client_order_id=args.client_order_id or f"c-{uuid.uuid4().hex[:12]}",
        orig_client_order_id=args.orig, quantity=args.quantity, limit_price=args.price,
    )
    commands.amend(LiveClock(), **fields)
    client = _client(settings, args.trader)
    command = client.amend(**fields)
    client.flush()
    _print_command(command)
    return 0


def cmd_cancel(args, settings: Settings) -> int:
    from oms import commands
    from oms.clock import LiveClock

    fields = dict(
        account=args.account, trader=args.trader, client_order_id=args.client_order_id or f"c-{uuid.uuid4().hex[:12]}",
        orig_client_order_id=args.orig,
    )
    commands.cancel(LiveClock(), **fields)
    client = _client(settings, args.trader)
    command = client.cancel(**fields)
    client.flush()
    _print_command(command)
    return 0


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


def cmd_tail(args, settings: Settings) -> int:
    from streams.kafka import read_all
    from streams.runtime import connect

    rt = connect(settings)
    topic = rt.topics.name(rt.topics.short(args.topic))
    rt.learn_schemas()

    def on_error(msg, error):
        if args.json:
            print(json.dumps({"type": "UNDECODABLE", "partition": msg.partition(), "offset": msg.offset(),
                              "error": error}), flush=True)
        else:
            err_console.print(f"[red]undecodable[/] {msg.topic()}[{msg.partition()}]@{msg.offset()}: {error}")

    consumer = rt.event_consumer(f"oms-tail-{uuid.uuid4().hex[:8]}", "tail", deadletter=False, on_error=on_error)
    try:
        received = read_all(consumer, [topic], timeout=args.timeout)
        if args.max:
            received = received[-args.max:]
        if args.json:
            for r in received:
                print(json.dumps({"partition": r.partition, "offset": r.offset, "key": r.key,
                                  **event_json(r.event)}), flush=True)
        else:
            table = Table("p", "offset", "key", "time (UTC)", "type", "event", title=topic)
            for r in received:
                table.add_row(str(r.partition), str(r.offset), r.key or "", ns_to_iso(r.event.ts_event)[11:26],
                              type(r.event).__name__, event_summary(r.event))
            console.print(table)
        if args.follow:
            while True:
                r = consumer.poll(1.0)
                if r is None:
                    continue
                if args.json:
                    print(json.dumps({"partition": r.partition, "offset": r.offset, "key": r.key,
                                      **event_json(r.event)}), flush=True)
                else:
                    console.print(f"{r.partition}:{r.offset} {type(r.event).__name__} {event_summary(r.event)}")
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0


# -------------------------------------------------------------------- risk


def _publish_control(settings: Settings, scope: str, kind: str, name: str, value: str, by: str,
                     reason: str | None) -> Event:
    from oms.clock import LiveClock
    from oms.domain.risk import Controls, apply_control
    from oms.events import ControlKind, RiskControl
    from streams.runtime import connect

    now = LiveClock().now_ns()
    try:
        control = RiskControl(
            event_id=f"rc.{uuid.uuid4().hex}", ts_event=now, ts_init=now, scope=scope,
            kind=ControlKind(kind.upper()), name=name, value=value, changed_by=by, reason=reason,
        )
        apply_control(Controls(), control)  # refuse what the engine could not apply
    except ValueError as exc:
        raise CommandError("control", str(exc).splitlines()[0]) from None
    rt = connect(settings)
    producer = rt.event_producer()
    producer.send(rt.topics.risk_controls, f"{control.scope}|{control.kind.value}|{control.name}", control)
    producer.flush()
    console.print(f"{control.kind.value} {control.name}={control.value} set for {control.scope} by {by}")
    return control


def cmd_risk(args, settings: Settings) -> int:
    if args.action == "set":
        for field in ("kind", "name", "value"):
            if not getattr(args, field):
                raise CommandError(field, "`oms risk set SCOPE KIND NAME VALUE` needs all four")
        _publish_control(settings, args.scope, args.kind, args.name, args.value, args.by, args.reason)
        return 0
    from oms.domain.risk import Controls, apply_control
    from streams.kafka import read_all
    from streams.runtime import connect

    rt = connect(settings)
    consumer = rt.event_consumer(f"oms-risk-show-{uuid.uuid4().hex[:8]}", "risk-show", deadletter=False)
    try:
        received = read_all(consumer, [rt.topics.risk_controls], timeout=10)
    finally:
        consumer.close()
    controls = Controls()
    table = Table("time (UTC)", "scope", "kind", "name", "value", "changed by", "reason", title="risk.controls audit trail")
    for r in received:
        try:
            controls = apply_control(controls, r.event)
        except ValueError as exc:
            err_console.print(f"[yellow]not applied[/]: {exc}")
            continue
        e = r.event
        table.add_row(ns_to_iso(e.ts_event)[:26], e.scope, e.kind.value, e.name, e.value, e.changed_by, e.reason or "")
    console.print(table)
    return 0


def cmd_kill(args, settings: Settings) -> int:
    scope = "*" if args.all else args.account
    if not scope:
        raise CommandError("account", "name an account or give --all")
    _publish_control(settings, scope, "KILL_SWITCH", "kill_switch", "off" if args.off else "on", args.by,
                     args.reason)
    return 0


# -------------------------------------------------------------- processors


def cmd_worker(args, settings: Settings) -> int:
    from processors.worker import main as worker_main

    return worker_main(args.args)


def cmd_venue(args, settings: Settings) -> int:
    from processors.venue_gateway import main as venue_main

    return venue_main(args.args)


def cmd_marketdata(args, settings: Settings) -> int:
    from processors.marketdata_handler import main as marketdata_main

    return marketdata_main(args.args)


# -------------------------------------------------------------------- demo


def cmd_demo(args, settings: Settings) -> int:
    from processors.demo import run_demo

    return run_demo(settings, orders=args.orders, seed=args.seed, console=console)


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oms", description="Event-sourced order management on Apache Kafka")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("broker", help="the local single-node Kafka broker")
    p.add_argument("action", choices=["start", "stop", "status"])
    p.set_defaults(func=cmd_broker)

    p = sub.add_parser("topics", help="the topic catalogue")
    p.add_argument("action", choices=["create", "list", "describe"])
    p.set_defaults(func=cmd_topics)

    def order_args(p, *, orig: bool):
        p.add_argument("--account", required=True)
        p.add_argument("--trader", default="cli")
        p.add_argument("--client-order-id", "--cl-ord-id", dest="client_order_id",
                       help="defaults to a fresh id")
        if orig:
            p.add_argument("--orig", required=True, help="client order id of the order to change")

    p = sub.add_parser("submit", help="publish a NewOrder")
    order_args(p, orig=False)
    p.add_argument("--instrument", "-i", required=True)
    p.add_argument("--side", "-s", required=True, help="BUY or SELL")
    p.add_argument("--quantity", "--qty", "-q", required=True)
    p.add_argument("--price", "-p", help="limit price (implies a LIMIT order)")
    p.add_argument("--type", help="MARKET or LIMIT (default: LIMIT with a price, else MARKET)")
    p.add_argument("--tif", default="DAY", help="DAY, GTC, IOC or FOK")
    p.add_argument("--venue", help="route to this venue")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("amend", help="publish an AmendOrder (cancel/replace)")
    order_args(p, orig=True)
    p.add_argument("--quantity", "--qty", "-q")
    p.add_argument("--price", "-p")
    p.set_defaults(func=cmd_amend)

    p = sub.add_parser("cancel", help="publish a CancelOrder")
    order_args(p, orig=True)
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser("tail", help="decode and print the events on a topic")
    p.add_argument("topic", help="catalogue name (commands, order.events, fills, ...) or full name")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.add_argument("--max", type=int, default=0, help="only the last N events")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to read up to the end")
    p.set_defaults(func=cmd_tail)

    p = sub.add_parser("risk", help="risk controls: set one, or show the current set and audit trail")
    p.add_argument("action", choices=["set", "show"])
    p.add_argument("scope", nargs="?", default="*", help="an account, or * for every account")
    p.add_argument("kind", nargs="?", help="LIMIT, TRADING_STATE, ENTITLEMENT or INSTRUMENT")
    p.add_argument("name", nargs="?", help="limit name, 'state', trader or instrument")
    p.add_argument("value", nargs="?", help="limit value, ACTIVE/REDUCING/HALTED, allow/deny, tradable/restricted/halted")
    p.add_argument("--by", default="cli", help="who makes the change (kept in the audit trail)")
    p.add_argument("--reason")
    p.set_defaults(func=cmd_risk)

    p = sub.add_parser("kill", help="engage (or release) the kill switch: no new orders, open orders canceled")
    p.add_argument("account", nargs="?")
    p.add_argument("--all", action="store_true", help="every account")
    p.add_argument("--off", action="store_true", help="release the kill switch")
    p.add_argument("--by", default="cli")
    p.add_argument("--reason")
    p.set_defaults(func=cmd_kill)

    p = sub.add_parser("worker", help="run the order engine and position manager (faust worker)", add_help=False)
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("venue", help="run the simulated venue gateway", add_help=False)
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_venue)

    p = sub.add_parser("marketdata", help="publish market data (synthetic feed or CSV)", add_help=False)
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_marketdata)

    from replay.journal import add_parser as add_replay_parser

    add_replay_parser(sub)

    p = sub.add_parser("demo", help="run the OMS on the embedded default and print the results")
    p.add_argument("--orders", type=int, default=300)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=cmd_demo)
    return parser


PASSTHROUGH = {"worker", "venue", "marketdata"}
"""Subcommands whose options belong to the processor they start."""


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    args, extra = parser.parse_known_args(argv)
    if extra and args.command in PASSTHROUGH:
        args.args = [*args.args, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    import logging

    parser = build_parser()
    args = parse(parser, argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = Settings.from_env()
    try:
        return args.func(args, settings)
    except CommandError as exc:
        err_console.print(f"[red]error[/]: {exc.field}: {exc.message}")
        return EXIT_USAGE
    except KeyError as exc:
        err_console.print(f"[red]error[/]: {exc.args[0]}")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())

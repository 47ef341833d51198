"""The OMS's main job on the embedded default: the whole lifecycle end to end, printed.

`oms demo` starts (or finds) the local broker, creates a fresh set of topics,
starts the worker (order engine, position manager), the simulated venue and a
synthetic market data feed, sends a few hundred orders of mixed kinds through
the producer client (market, limit, IOC, amends, cancels, a few invalid ones
and one undecodable record), waits until every order has settled, prints a
blotter and the late fills (the venue fills a quarter of the canceled orders
after their cancel; each is booked and on the `fills` topic with late=True), then replays the journal into a fresh RocksDB store and verifies it
against the live views. Last, the routing section (`show_routing`): one seeded flow
run in process through the engine's step and three simulated venues with their own
prices and fees, routed statically and by the smart strategies, printed side by
side - children and fills per venue, fees, cost against arrival, and the price
improvement over static routing - with the venue statistics the router folded. Every timestamp it writes comes from the clock its
entry point passes in.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from entrypoints.supervisor import Processes
from oms import commands, keys
from oms.clock import Clock, ns_to_iso
from oms.config import Settings
from oms.domain.positions import mark_view, mid
from oms.events import Fill, OrderStatus, OrderView, Position, Quote, RiskControl
from streams.client import OrderClient, publish_control
from streams.runtime import Runtime, connect
from streams.views import TopicView

INSTRUMENTS = {"AAPL": Decimal("187.00"), "MSFT": Decimal("411.50"), "TSLA": Decimal("242.10"), "SPY": Decimal("598.20")}
ACCOUNTS = ("ACC-ALPHA", "ACC-BETA", "ACC-GAMMA")
PENDING = {OrderStatus.PENDING_NEW, OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE}


def _fmt(value: Decimal | None, places: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value.quantize(Decimal(1).scaleb(-places)):,}"


def send_flow(client: OrderClient, orders: int, seed: int, wait_acks) -> dict[str, int]:
    """A seeded mix of order kinds; returns how many commands of each kind were sent."""
    rng = random.Random(seed)
    sent: Counter[str] = Counter()
    resting: list[tuple[str, str, str, Decimal]] = []  # (account, client order id, side, price)
    for n in range(orders):
        account = rng.choice(ACCOUNTS)
        instrument = rng.choice(list(INSTRUMENTS))
        ref = INSTRUMENTS[instrument]
        side = rng.choice(("BUY", "SELL"))
        qty = rng.choice((10, 20, 50, 50, 100, 100, 100, 200, 200, 300, 500, 1500))
        cl = f"demo-{n:04d}"
        kind = rng.random()
        if kind < 0.25:
            client.new_order(account=account, client_order_id=cl, instrument=instrument, side=side, quantity=qty)
            sent["market"] += 1
        elif kind < 0.35:
            price = ref * (Decimal("1.01") if side == "BUY" else Decimal("0.99"))
            client.new_order(account=account, client_order_id=cl, instrument=instrument, side=side, quantity=qty,
                             limit_price=price.quantize(Decimal("0.01")), time_in_force="IOC")
            sent["ioc"] += 1
        else:
            away = Decimal(rng.choice((-10, -5, -2, 2, 5, 10, -10, -5, 30))) / Decimal(1000)  # 3% away: off band
            price = (ref * (1 + (away if side == "BUY" else -away))).quantize(Decimal("0.01"))
            client.new_order(account=account, client_order_id=cl, instrument=instrument, side=side, quantity=qty,
                             limit_price=price, time_in_force=rng.choice(("DAY", "GTC")))
            sent["limit"] += 1
            if away < 0:
                resting.append((account, cl, side, price))
    client.flush()
    wait_acks()
    rng.shuffle(resting)
    for i, (account, cl, side, price) in enumerate(resting):
        if i % 3 == 0:
            better = price * (Decimal("1.002") if side == "BUY" else Decimal("0.998"))
            client.amend(account=account, client_order_id=f"{cl}-a", orig_client_order_id=cl,
                         limit_price=better.quantize(Decimal("0.01")), quantity=rng.choice((20, 100, 300)))
            sent["amend"] += 1
        elif i % 3 == 1:
            client.cancel(account=account, client_order_id=f"{cl}-c", orig_client_order_id=cl)
            sent["cancel"] += 1
    # commands that the engine must refuse: a repeated client order id, a cancel of an unknown order
    client.new_order(account=ACCOUNTS[0], client_order_id="demo-0000", instrument="AAPL", side="BUY", quantity=1)
    client.cancel(account=ACCOUNTS[0], client_order_id="demo-x", orig_client_order_id="no-such-order")
    # a fat-finger price: ten times the market
    client.new_order(account=ACCOUNTS[1], client_order_id="demo-fat-finger", instrument="MSFT", side="BUY",
                     quantity=10, limit_price=INSTRUMENTS["MSFT"] * 10)
    sent["refused"] += 3
    client.flush()
    return dict(sent)


def positions_booked(positions: TopicView, fills: TopicView) -> bool:
    """Whether every position on the `positions` view equals the sum of its fills on `fills` (the
    position manager follows the journal on its own: a position lags its fills for a moment)."""
    positions.refresh()
    fills.refresh()
    expected: Counter[str] = Counter()
    for fill in fills.all or []:
        expected[keys.position_id(fill.account, fill.instrument)] += fill.quantity * fill.side.sign
    latest = positions.latest
    return all(key in latest and latest[key].quantity == quantity for key, quantity in expected.items())


def blotter(console: Console, orders: dict[str, OrderView], positions: dict[str, Position],
            marks: dict[str, Decimal], fills: int, journal: list, deadletters: int) -> None:
    by_status = Counter(o.status.value for o in orders.values())
    table = Table("status", "orders", title="Orders by status")
    for status, count in sorted(by_status.items(), key=lambda kv: -kv[1]):
        table.add_row(status, str(count))
    table.add_row("[bold]total[/]", f"[bold]{len(orders)}[/]")
    console.print(table)

    table = Table("journal event", "count", title="Journal (order.events)")
    for name, count in Counter(type(e).__name__ for e in journal).most_common():
        table.add_row(name, str(count))
    console.print(table)

    refusals = Counter((type(e).__name__, e.reason_code) for e in journal if hasattr(e, "reason_code"))
    table = Table("event", "reason code", "count", "example", title="Refusals, rejects and anomalies")
    for (name, code), count in refusals.most_common():
        example = next(e.reason for e in journal if type(e).__name__ == name and e.reason_code == code)
        table.add_row(name, code, str(count), example[:70])
    rejected = [e for e in journal if type(e).__name__ == "OrderRejected"]
    if rejected:
        table.add_row("OrderRejected", "VENUE", str(len(rejected)), rejected[0].reason[:70])
    console.print(table)

    table = Table("account", "instrument", "position", "avg price", "mark", "realized P&L", "unrealized P&L",
                  "gross exposure", "net exposure", title="Positions (marked to the latest mid)")
    totals = {"realized": Decimal(0), "unrealized": Decimal(0)}
    for key in sorted(positions):
        p = positions[key]
        mark = marks.get(p.instrument)
        unrealized, gross, net = mark_view(p, mark if mark is not None else p.avg_price)
        totals["realized"] += p.realized_pnl
        totals["unrealized"] += unrealized
        table.add_row(p.account, p.instrument, _fmt(p.quantity, 0), _fmt(p.avg_price, 4), _fmt(mark, 3),
                      _fmt(p.realized_pnl), _fmt(unrealized), _fmt(gross), _fmt(net))
    table.add_row("[bold]total[/]", "", "", "", "", f"[bold]{_fmt(totals['realized'])}[/]",
                  f"[bold]{_fmt(totals['unrealized'])}[/]", "", "")
    console.print(table)
    console.print(f"fills on the fills topic: [bold]{fills}[/]; dead letters: [bold]{deadletters}[/]")


DEMO_LIMITS = (
    ("*", "max_order_qty", "1000"),
    ("*", "price_band_pct", "2.5"),
    ("*", "max_open_orders", "80"),
    ("*", "max_order_notional", "500000"),
)


def set_demo_limits(rt: Runtime, clock: Clock) -> list[RiskControl]:
    """Pre-trade limits for the demo, set live through risk.controls before the flow starts."""
    now = clock.now_ns()
    controls = [
        commands.risk_control(clock, event_id=f"demo.{name}.{now}", scope=scope, kind="LIMIT", name=name,
                              value=value, changed_by="demo", reason="demo limits")
        for scope, name, value in DEMO_LIMITS
    ]
    producer = rt.event_producer()
    for control in controls:
        publish_control(producer, rt.topics, control)
    time.sleep(1.0)  # the engine follows risk.controls as a global table
    return controls


def _open_orders(orders: dict, account: str) -> int:
    live = {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_NEW, OrderStatus.PENDING_REPLACE}
    return sum(1 for o in orders.values() if o.account == account and o.status in live)


def run_demo(settings: Settings, clock: Clock, console: Console, orders: int = 300, seed: int = 7, *,
             blotter_port: int | None = None, linger: float = 0.0, on_blotter=None) -> int:
    """The demo on fresh topics under `<prefix>demo-<UTC time>.`; returns 0 when the replay verified.
    With `blotter_port` (0: any free port; a busy port falls back to any) the web blotter
    (`entrypoints.blotter`) follows the demo and its address is printed, with an operator token made
    for the run when `OMS_BLOTTER_TOKENS` has none; it stays up `linger` seconds after the flow
    settles, and `on_blotter(server)` (if given) is called then, before the processes stop."""
    started = time.monotonic()
    stamp = ns_to_iso(clock.now_ns())[:19].replace("-", "").replace(":", "").replace("T", "-")
    prefix = f"{settings.topic_prefix}demo-{stamp}."
    settings = settings.with_(topic_prefix=prefix)
    with console.status("starting the broker and creating topics"):
        rt: Runtime = connect(settings)
        rt.ensure_topics()
    console.print(f"broker [bold]{rt.bootstrap_servers}[/], topics under prefix [bold]{prefix}[/]")

    procs = Processes(settings, rt.bootstrap_servers)
    views = {}
    blotter_server = None
    try:
        if blotter_port is not None:
            blotter_server = start_demo_blotter(settings, clock, console, blotter_port)
        procs.start_marketdata(",".join(f"{k}:{v}" for k, v in INSTRUMENTS.items()), seed=seed, rate=20)
        # a quarter of the cancels cross an execution at the venue: the late fill must still be booked
        procs.start_gateway("SIM", seed, "--reject-prob", "0.02", "--late-fill-prob", "0.25")
        procs.start_worker("--venues", "SIM")  # the catalogue: the one venue the gateway serves
        for name, topic in (("orders", rt.topics.orders), ("positions", rt.topics.positions),
                            ("quotes", rt.topics.marketdata), ("fills", rt.topics.fills),
                            ("journal", rt.topics.journal), ("deadletter", rt.topics.deadletter)):
            views[name] = TopicView(rt, topic, keep_all=name == "fills")
        client = OrderClient(rt.event_producer(), rt.topics, trader="demo", clock=clock)
        controls = set_demo_limits(rt, clock)
        console.print("risk limits: " + ", ".join(f"{c.scope} {c.name}={c.value}" for c in controls))
        # one record that no consumer can decode: it must end on the dead-letter topic
        raw = rt.producer()
        raw.produce(rt.topics.commands, key=b"ACC-ALPHA", value=b"\x00 not an avro event")
        raw.flush(10)

        def acknowledged() -> bool:
            views["orders"].refresh()
            latest = views["orders"].latest.values()
            return len(latest) >= orders and not any(o.status is OrderStatus.PENDING_NEW for o in latest)

        def wait_acks() -> None:
            procs.wait_until(acknowledged, timeout=180, what="the orders to be acknowledged")

        with console.status(f"sending {orders} orders and waiting for acknowledgements"):
            sent = send_flow(client, orders, seed, wait_acks)
        console.print("commands sent: " + ", ".join(f"{k} {v}" for k, v in sent.items()))

        def settled() -> bool:
            views["orders"].refresh()
            return not any(o.status in PENDING for o in views["orders"].latest.values())

        with console.status("waiting until every order has settled"):
            procs.wait_until(settled, timeout=180, what="every order to settle")
        killed_account = ACCOUNTS[2]
        open_before = _open_orders(views["orders"].latest, killed_account)
        kill = commands.risk_control(clock, event_id=f"demo.kill.{clock.now_ns()}", scope=killed_account,
                                     kind="KILL_SWITCH", name="kill_switch", value="on", changed_by="demo",
                                     reason="demo: kill switch")
        publish_control(rt.event_producer(), rt.topics, kill)
        with console.status(f"kill switch on {killed_account}: canceling its open orders"):
            procs.wait_until(lambda: settled() and not _open_orders(views["orders"].latest, killed_account),
                             timeout=120, what="the kill switch to cancel every open order")
        console.print(f"kill switch on [bold]{killed_account}[/]: {open_before} open orders canceled at the venue")
        with console.status("waiting for the position manager to book every fill"):
            procs.wait_until(lambda: positions_booked(views["positions"], views["fills"]), timeout=120,
                             what="the positions to equal the sum of the fills")
        with console.status("collecting the results"):
            for view in views.values():
                view.refresh()
        journal = _journal_events(rt)
        blotter(console, views["orders"].latest, views["positions"].latest,
                {k: mid(v) if isinstance(v, Quote) else v.price for k, v in views["quotes"].latest.items()},
                views["fills"].count, journal, views["deadletter"].count)
        show_late_fills(console, views["fills"].all or [], views["orders"].latest)
        if blotter_server is not None:
            if on_blotter is not None:
                on_blotter(blotter_server)
            if linger > 0:
                console.print(f"the blotter stays up {linger:.0f}s at [bold]{blotter_server.url}[/]")
                time.sleep(linger)
    finally:
        if blotter_server is not None:
            blotter_server.stop()
        with console.status("stopping the processors"):
            procs.stop_all()
        for view in views.values():
            view.close()

    code = _replay_and_verify(rt, console)
    show_routing(console, seed)
    console.print(f"demo finished in {time.monotonic() - started:.0f}s; inspect it with "
                  f"OMS_TOPIC_PREFIX={prefix} oms tail order.events")
    return code


def start_demo_blotter(settings: Settings, clock: Clock, console: Console, port: int):
    """The web blotter on the demo's topics, its address printed (with a token made for the run if none is set)."""
    import secrets

    from entrypoints.blotter import start_blotter
    from oms.access import Grant, Role
    from oms.commands import CommandError

    grants = settings.blotter_grants
    token = None
    if not grants:
        token = secrets.token_urlsafe(12)
        grants = {token: Grant("demo", Role.OPERATE)}
    try:
        server = start_blotter(settings, clock, port=port, grants=grants)
    except CommandError:  # the port is taken: any free one
        server = start_blotter(settings, clock, port=0, grants=grants)
    shown = f"{server.url}#token={token}" if token else f"{server.url} (a token from OMS_BLOTTER_TOKENS)"
    console.print(f"blotter: [bold]{shown}[/]")
    return server


def show_late_fills(console: Console, fills: list, orders: dict[str, OrderView]) -> int:
    """Print the fills the venue reported after an order's cancel (FIX D.8) as they stand on the
    `fills` topic (late=True): booked, not lost. Returns how many."""
    late = [f for f in fills if isinstance(f, Fill) and f.late]
    console.print(f"late fills after a cancel, booked and published on the fills topic: [bold]{len(late)}[/]")
    for fill in late[:3]:
        order = orders.get(fill.order_id)
        status = order.status.value if order is not None else "?"
        console.print(f"  late fill {fill.fill_id}: {fill.side.value} {_fmt(fill.quantity, 0)} {fill.instrument} "
                      f"@ {_fmt(fill.price)} on {fill.client_order_id} (order {status}, late=True)")
    return len(late)


def _journal_events(rt: Runtime):
    from streams.kafka import read_all

    consumer = rt.event_consumer(f"{rt.topics.prefix}demo-journal", "demo", deadletter=False)
    try:
        return [r.event for r in read_all(consumer, [rt.topics.journal], timeout=30)]
    finally:
        consumer.close()


def _replay_and_verify(rt: Runtime, console: Console) -> int:
    """Fold the journal into a fresh RocksDB store and compare it with everything live."""
    from oms.state import RocksStore
    from replay.journal import verify_all

    with tempfile.TemporaryDirectory(prefix="oms-replay-") as tmp:
        store = RocksStore(Path(tmp) / "state")
        try:
            report = verify_all(rt, store=store, progress=True)
        finally:
            store.close()
    result = report.result
    console.print(f"replayed {result.events} journal events into a fresh RocksDB store "
                  f"({result.events_per_s:,.0f} events/s)")
    if not report.ok:
        table = Table("kind", "key", "field", "replayed", "live", title="[red]replay differs from the live state[/]")
        for d in report.differences[:50]:
            table.add_row(d.kind, d.key, d.field, str(d.replayed), str(d.live))
        console.print(table)
        for error in result.errors[:10]:
            console.print(f"[red]unfoldable[/]: {error}")
        return 1
    console.print(f"[bold green]replay verified[/]: {report.summary()} equal to the live state, field for field")
    return 0


ROUTING_STRATEGIES = ("best", "cost")
ROUTING_ORDERS = 80


def show_routing(console: Console, seed: int, orders: int = ROUTING_ORDERS) -> None:
    """The routing comparison (`replay.routing_flow`): static routing against the smart strategies on one flow."""
    from oms.routing import RoutingRules
    from replay.routing_flow import VENUES, improvement, matched_improvement, run_flow

    with console.status(f"routing {orders} orders across {len(VENUES)} simulated venues, static and smart"):
        static = run_flow(None, seed, orders)
        smart = {name: run_flow(RoutingRules(default=name), seed, orders) for name in ROUTING_STRATEGIES}
    table = Table(title=f"smart order routing: one flow of {orders} orders (60% IOC), {', '.join(VENUES)}")
    for column in ("routing", "children per venue", "filled per venue", "filled", "fees (net)",
                   "vs arrival /sh", "all-in /sh", "improvement /sh", "matched px impr /sh"):
        table.add_column(column, justify="left" if column in ("routing", "children per venue", "filled per venue") else "right")

    def row(name: str, result) -> None:
        per_share = result.total_fees / result.quantity if result.quantity else Decimal(0)
        table.add_row(
            name, " ".join(f"{v[-1]}:{result.children[v]}" for v in VENUES),
            " ".join(f"{v[-1]}:{result.fills[v]:,}" for v in VENUES), f"{result.quantity:,}",
            _fmt(result.total_fees), _fmt(result.slippage_per_share, 4), _fmt(result.slippage_per_share + per_share, 4),
            "-" if result is static else _fmt(improvement(static, result), 4),
            "-" if result is static else _fmt(matched_improvement(static, result), 4))

    row("static (SIM-A)", static)
    for name, result in smart.items():
        row(name, result)
    console.print(table)
    stats = Table(title="venue statistics folded from the journal (cost-aware run)")
    for column in ("venue", "instrument", "routed", "fill rate", "reject rate", "latency ms", "time to fill ms",
                   "slippage /sh"):
        stats.add_column(column, justify="left" if column in ("venue", "instrument") else "right")
    for venue, instrument, v in smart["cost"].stats.rows():
        ttf, latency = v.mean_time_to_fill_ns, v.mean_latency_ns
        stats.add_row(venue, instrument, str(v.routed), _fmt(v.fill_rate, 3), _fmt(v.reject_rate, 3),
                      "-" if latency is None else f"{latency / 1e6:.2f}", "-" if ttf is None else f"{ttf / 1e6:.1f}",
                      _fmt(v.mean_slippage, 4))
    console.print(stats)
    console.print("improvement: static's all-in cost per share (price against the consolidated arrival price, "
                  "plus fees net of rebates) minus the strategy's; positive is better. The smart routes also "
                  f"fill more of the IOC flow: {', '.join(f'{n} {r.quantity / static.quantity:.2f}x' for n, r in smart.items())} "
                  "the static quantity.")

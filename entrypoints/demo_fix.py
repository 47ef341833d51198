"""`oms demo-fix` (`make demo-fix`): a FIX venue trading beside the simulator, a venue disconnect and its reconciliation.

It starts (or finds) the local broker, creates fresh topics under
`<prefix>demo-fix-<UTC time>.`, starts the QuickFIX/J test exchange
(its files and the FIX session's under `$OMS_HOME/demo-fix/<UTC time>`)
(`connectors.fix_acceptor.LocalAcceptor`) on loopback, writes the FIX venue's
configuration file, and starts the market data feed, the worker and one venue
gateway serving both venues (`python -m entrypoints.venue --venues SIM --fix
FIX-DEMO.toml`). A flow goes to both venues (market orders that fill, limit
orders that rest), each venue under its own account; then the FIX session is
dropped while the exchange fills some resting orders, part-fills others and
cancels one itself (`refuse on`, `drop`, `fill`, `cancel-unsolicited`,
`refuse off`); after the reconnect the resend and the
reconciliation book those fills, and the reconciliation report is printed
(what was found, what was done). Last, a blotter per venue: orders by status,
fills, and the positions beside the sum of the fills. Returns 0 when every
venue's positions equal its fills and no exec id was booked twice.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from entrypoints.context import entry
from entrypoints.supervisor import Processes
from oms.clock import Clock, ns_to_iso
from oms.config import Settings
from oms.events import ExecType, Fill, OrderStatus, VenueReconciliation

FIX_VENUE = "FIX-DEMO"
SIM_VENUE = "SIM"
ACCOUNTS = {SIM_VENUE: "ACC-SIM", FIX_VENUE: "ACC-FIX"}
INSTRUMENTS = {"AAPL": Decimal("187.00"), "MSFT": Decimal("411.50")}
FILL_PRICE = "186.90"
"""The price at which the exchange fills the FIX venue's resting orders while the OMS is away."""
SETTLED = {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELED,
           OrderStatus.REJECTED, OrderStatus.EXPIRED}


def send_flow(client, orders_per_venue: int) -> dict[str, list[str]]:
    """Market orders (they fill) and limit orders 2% below the market (they rest), to both venues."""
    from oms import ids

    sent: dict[str, list[str]] = defaultdict(list)
    for venue, account in ACCOUNTS.items():
        for n in range(orders_per_venue):
            instrument = list(INSTRUMENTS)[n % len(INSTRUMENTS)]
            cl = f"{venue.lower()}-{n:03d}"
            fields = dict(account=account, client_order_id=cl, instrument=instrument, side="BUY",
                          quantity=10 * (1 + n % 5), venue=venue)
            if n % 2:
                fields["limit_price"] = (INSTRUMENTS[instrument] * Decimal("0.98")).quantize(Decimal("0.01"))
            client.new_order(**fields)
            sent[venue].append(ids.order_id(account, cl))
    client.flush()
    return sent


def reconciliation_table(report: VenueReconciliation) -> Table:
    table = Table("found / done", "value", title=f"Reconciliation of {report.venue} after the reconnect "
                                                 f"({ns_to_iso(report.ts_event)[11:23]} UTC)")
    for label, value in (("open in the OMS", report.oms_open), ("working at the venue", report.venue_working),
                         ("matched", report.matched), ("missed fills", report.missed_fills or "-"),
                         ("fills re-sent", report.fills_resent),
                         ("closed at the venue while away", report.closed_at_venue or "-"),
                         ("unknown at the venue (canceled)", report.unknown_at_venue or "-"),
                         ("external orders adopted", report.adopted or "-"),
                         ("external orders canceled", report.canceled_external or "-"),
                         ("repair reports published", report.reports), ("cancels sent", report.cancels),
                         ("external-order policy", report.policy)):
        table.add_row(label, str(value))
    return table


def venue_blotter(console: Console, venue: str, order_ids: list[str], orders: dict, fills: list[Fill],
                  positions: dict) -> bool:
    """Orders by status, fills and positions of one venue's account; whether positions equal the fills."""
    account = ACCOUNTS[venue]
    statuses = Counter(orders[o].status.value for o in order_ids if o in orders)
    mine = [f for f in fills if f.account == account]
    summed: dict[str, Decimal] = defaultdict(Decimal)
    for f in mine:
        summed[f.instrument] += f.quantity * f.side.sign
    table = Table("instrument", "fills", "sum of fills", "position", "equal", title=f"Venue {venue}: account "
                  f"{account}; orders " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    ok = len({f.exec_id for f in mine}) == len(mine)
    for instrument in sorted(set(summed) | {p.instrument for p in positions.values() if p.account == account}):
        held = positions.get(f"{account}|{instrument}")
        quantity = held.quantity if held is not None else Decimal(0)
        equal = quantity == summed[instrument]
        ok = ok and equal
        table.add_row(instrument, str(sum(1 for f in mine if f.instrument == instrument)),
                      f"{summed[instrument]:,.0f}", f"{quantity:,.0f}", "yes" if equal else "[red]NO[/]")
    console.print(table)
    return ok


def run_demo_fix(settings: Settings, clock: Clock, console: Console, orders_per_venue: int = 10) -> int:
    """The FIX demo on fresh topics (see the module docstring); 0 when every venue's books agree."""
    from connectors.fix_acceptor import LocalAcceptor
    from streams.client import OrderClient
    from streams.runtime import connect
    from streams.views import TopicView

    started = time.monotonic()
    stamp = ns_to_iso(clock.now_ns())[:19].replace("-", "").replace(":", "").replace("T", "-")
    prefix = f"{settings.topic_prefix}demo-fix-{stamp}."
    home = settings.home / "demo-fix" / stamp
    home.mkdir(parents=True, exist_ok=True)
    settings = settings.with_(topic_prefix=prefix)  # the same home: the same local broker
    with console.status("starting the broker and the FIX exchange (QuickFIX/J), creating topics"):
        rt = connect(settings)
        rt.ensure_topics()
        acceptor = LocalAcceptor(home / "exchange", settings.cache_dir, market_price=str(INSTRUMENTS["AAPL"]))
        info = acceptor.start()
    comp_id = "OMS-DEMO"
    config = home / f"{FIX_VENUE}.toml"
    config.write_text(f'venue = "{FIX_VENUE}"\nsender_comp_id = "{comp_id}"\ntarget_comp_id = "{info.comp_id}"\n'
                      f'port = {info.port}\nreconnect_interval = 1\nheartbeat = 5\n'
                      f'data_dir = "{home / "fix" / FIX_VENUE}"\n')  # this run's session: a fresh exchange
    console.print(f"broker [bold]{rt.bootstrap_servers}[/], topics under [bold]{prefix}[/]; FIX exchange "
                  f"{info.comp_id} on {info.host}:{info.port}; venue config {config}")

    procs = Processes(settings, rt.bootstrap_servers)
    views: dict[str, TopicView] = {}
    code = 1
    try:
        procs.start_marketdata(",".join(f"{k}:{v}" for k, v in INSTRUMENTS.items()), seed=7, rate=20)
        procs.start("venue", "entrypoints.venue", "--venues", SIM_VENUE, "--fix", str(config), "--no-create-topics")
        procs.start_worker("--venues", f"{SIM_VENUE},{FIX_VENUE}")
        for name in ("orders", "positions", "fills", "venue_reconciliations", "exec_reports"):
            views[name] = TopicView(rt, getattr(rt.topics, name), keep_all=name != "orders" and name != "positions")

        def reconciliations() -> list[VenueReconciliation]:
            views["venue_reconciliations"].refresh(idle=0.1)
            return [r for r in views["venue_reconciliations"].all or [] if r.venue == FIX_VENUE]

        with console.status("the gateway logs on to the FIX venue and reconciles it"):
            procs.wait_until(lambda: reconciliations(), timeout=60, what="the FIX venue's first reconciliation")
        console.print(f"FIX session {comp_id} -> {info.comp_id} logged on; first reconciliation done")
        client = OrderClient(rt.event_producer(), rt.topics, trader="demo", clock=clock)
        sent = send_flow(client, orders_per_venue)
        every = [o for ids_ in sent.values() for o in ids_]

        def settled() -> bool:
            views["orders"].refresh(idle=0.1)
            latest = views["orders"].latest
            return all(o in latest and latest[o].status in SETTLED for o in every)

        with console.status(f"{len(every)} orders to {SIM_VENUE} and {FIX_VENUE}: waiting until they settle"):
            procs.wait_until(settled, timeout=60, what="the flow to settle")
        views["exec_reports"].refresh(idle=0.1)
        resting = [o for o in sent[FIX_VENUE] if views["orders"].latest[o].status is OrderStatus.NEW]
        console.print(f"flow settled: {len(sent[SIM_VENUE])} orders on {SIM_VENUE}, {len(sent[FIX_VENUE])} on "
                      f"{FIX_VENUE} ({len(resting)} resting there)")

        # while the OMS is away the exchange trades on: fills some resting orders, part-fills others,
        # cancels one itself; the resend (and the reconciliation after the logon) must book all of it once
        cl_ord_ids = {r.order_id: r.request_id for r in views["exec_reports"].all or []
                      if r.exec_type is ExecType.NEW and r.order_id in resting}
        fill_now, part_fill, cancel = resting[:2], resting[2:-1], resting[-1:]
        views["fills"].refresh(idle=0.2)
        fills_before = len([f for f in views["fills"].all or [] if f.account == ACCOUNTS[FIX_VENUE]])
        before = len(reconciliations())
        agreed = True
        acceptor.control(f"refuse {comp_id} on")
        acceptor.control(f"drop {comp_id}")
        for order in fill_now:
            acceptor.control(f"fill {cl_ord_ids[order]} {views['orders'].latest[order].leaves_qty} {FILL_PRICE}")
        for order in part_fill:
            acceptor.control(f"fill {cl_ord_ids[order]} 5 {FILL_PRICE}")
        for order in cancel:
            acceptor.control(f"cancel-unsolicited {cl_ord_ids[order]}")
        console.print(f"[bold]venue disconnect[/]: the exchange dropped the FIX session; while the OMS was away "
                      f"it filled {len(fill_now)} resting orders, part-filled {len(part_fill)} and canceled "
                      f"{len(cancel)} itself")
        time.sleep(1.0)
        acceptor.control(f"refuse {comp_id} off")

        def caught_up() -> bool:
            latest = views["orders"].latest
            return (settled() and all(latest[o].status is OrderStatus.FILLED for o in fill_now)
                    and all(latest[o].status is OrderStatus.PARTIALLY_FILLED for o in part_fill)
                    and all(latest[o].status is OrderStatus.CANCELED for o in cancel))

        with console.status("reconnecting: resend and reconciliation"):
            procs.wait_until(lambda: len(reconciliations()) > before, timeout=60, what="the reconciliation")
            try:
                procs.wait_until(caught_up, timeout=60, what="what happened while away to be booked")
            except TimeoutError:
                latest = views["orders"].latest
                console.print("[bold red]the OMS does not agree with the exchange on the orders it traded while "
                              "away[/]: " + ", ".join(f"{o} {latest[o].status.value} (exchange: {want})" for o, want
                              in [(o, "FILLED") for o in fill_now] + [(o, "PARTIALLY_FILLED") for o in part_fill]
                              + [(o, "CANCELED") for o in cancel]))
                agreed = False
        views["fills"].refresh(idle=0.1)
        booked = len([f for f in views["fills"].all or [] if f.account == ACCOUNTS[FIX_VENUE]]) - fills_before
        console.print(f"FIX session back: the {booked} fills and the cancel made while away were booked once "
                      f"(resent by the exchange, PossDupFlag=Y), and the reconciliation compared both books:")
        console.print(reconciliation_table(reconciliations()[-1]))

        def positions_caught_up() -> bool:
            for view in views.values():
                view.refresh(idle=0.1)
            fills = [f for f in views["fills"].all or [] if isinstance(f, Fill)]
            sums: dict[str, Decimal] = defaultdict(Decimal)
            for f in fills:
                sums[f"{f.account}|{f.instrument}"] += f.quantity * f.side.sign
            return all(views["positions"].latest.get(k) is not None
                       and views["positions"].latest[k].quantity == v for k, v in sums.items())

        try:
            procs.wait_until(positions_caught_up, timeout=30, what="the positions")
        except TimeoutError:
            pass  # the blotter shows the difference
        fills = [f for f in views["fills"].all or [] if isinstance(f, Fill)]
        ok = all([venue_blotter(console, venue, sent[venue], views["orders"].latest, fills,
                                views["positions"].latest) for venue in ACCOUNTS])
        console.print(("[bold green]positions equal the sum of fills on every venue[/]" if ok
                       else "[bold red]positions differ from the fills[/]")
                      + f"; {len(fills)} fills, no exec id booked twice" * ok)
        code = 0 if ok and agreed else 1
    finally:
        with console.status("stopping the processes and the FIX exchange"):
            procs.stop_all()
            acceptor.stop()
        for view in views.values():
            view.close()
    console.print(f"demo-fix finished in {time.monotonic() - started:.0f}s; inspect it with "
                  f"OMS_TOPIC_PREFIX={prefix} oms venue status")
    return code


def demo_fix(
    ctx: typer.Context,
    orders: Annotated[int, typer.Option(help="orders sent to each venue")] = 10,
) -> None:
    """Run a FIX venue (QuickFIX/J exchange on loopback) beside the simulator: a flow to both, a venue
    disconnect with fills while away, the reconnect's reconciliation report, a blotter per venue."""
    e = entry(ctx)
    code = run_demo_fix(e.settings, e.clock, e.console, orders_per_venue=orders)
    if code:
        raise typer.Exit(code)

"""`oms venue` per-venue settings and `oms venue stats` on the real broker, through the process entry points.

One run of the OMS as processes: the synthetic feed fanned out to two venues (`oms marketdata --venues`,
SIM-B 5 cents dearer), one gateway serving both with different fee schedules (`oms venue --fees`,
per share at SIM-A, basis points at SIM-B, and a `--venue-config` for SIM-B), and a worker that
smart-routes account SOR-1 (`OMS_ROUTING`). Orders sent to each venue are charged that venue's fees;
after a routed order, `oms venue stats --json` prints the venue statistics the journal folds to.
"""

from __future__ import annotations

import io
import json
from decimal import ROUND_HALF_EVEN, Decimal as D

import pytest
from rich.console import Console

from entrypoints import venue
from entrypoints.context import Entry, run
from entrypoints.supervisor import Processes
from entrypoints.venue_stats import stats_rows
from oms import ids
from oms.clock import LiveClock
from oms.config import Settings
from oms.events import RoutingDecided
from replay.routing import venue_statistics
from streams.client import OrderClient
from streams.runtime import connect
from streams.views import TopicView

pytestmark = pytest.mark.kafka

GATEWAY_FEES = "SIM-A=taker:0.003,maker:-0.002;SIM-B=taker:1bps,maker:0"


def test_venues_charge_their_own_fees_and_stats_show_the_routed_flow(bootstrap_servers, unique_name, tmp_path):
    settings = Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"{unique_name}.", home=tmp_path,
                        partitions=1, venues="SIM-A,SIM-B", routing="account:SOR-1=best",
                        venue_fees=GATEWAY_FEES)
    rt = connect(settings)
    rt.ensure_topics()
    procs = Processes(settings, bootstrap_servers)
    fills = TopicView(rt, rt.topics.fills, keep_all=True)
    journal = TopicView(rt, rt.topics.journal, keep_all=True)
    try:
        procs.start("marketdata", "entrypoints.marketdata", "--synthetic", "--instruments", "AAPL:100.00",
                    "--venues", "SIM-A:0,SIM-B:0.05", "--seed", "3", "--rate", "20", "--no-create-topics")
        procs.start_gateway("SIM-A,SIM-B", 7, "--fees", GATEWAY_FEES, "--venue-config", "SIM-B:latency_ms=2")
        procs.start_worker("--default-venue", "SIM-A")
        client = OrderClient(rt.event_producer(), rt.topics, trader="tester", clock=LiveClock())
        for name in ("SIM-A", "SIM-B"):
            client.new_order(account="FEE-1", client_order_id=f"at-{name}", instrument="AAPL", side="BUY",
                             quantity="10", venue=name)
        client.new_order(account="SOR-1", client_order_id="routed", instrument="AAPL", side="BUY", quantity="20")
        client.flush()

        def filled(cid: str, account: str, qty: str) -> bool:
            return sum((f.quantity for f in fills.all if f.client_order_id == cid and f.account == account),
                       D(0)) == D(qty)

        def done() -> bool:
            fills.refresh(idle=0.1)
            return filled("at-SIM-A", "FEE-1", "10") and filled("at-SIM-B", "FEE-1", "10") \
                and filled("routed", "SOR-1", "20")

        procs.wait_until(done, timeout=90, what="the three orders to fill", poll=0.3)

        # each venue charged its own schedule: 0.003 per share at SIM-A, 1 bp of the notional at SIM-B
        at = {name: [f for f in fills.all if f.client_order_id == f"at-{name}"] for name in ("SIM-A", "SIM-B")}
        assert {f.venue for f in at["SIM-A"]} == {"SIM-A"} and {f.venue for f in at["SIM-B"]} == {"SIM-B"}
        assert all(f.commission == f.quantity * D("0.003") for f in at["SIM-A"])
        assert all(f.commission == (f.quantity * f.price / 10_000).quantize(D("1E-8"), ROUND_HALF_EVEN)
                   for f in at["SIM-B"])
        assert sum(f.commission for f in at["SIM-A"]) == D("0.030")
        assert all(f.commission > 0 for f in at["SIM-B"])

        # the routed parent went through the smart router; its children went to real venues
        journal.refresh(idle=0.2)
        parent = ids.order_id("SOR-1", "routed")
        assert any(isinstance(e, RoutingDecided) and e.order_id == parent for e in journal.all)
        expected = stats_rows(venue_statistics(journal.all))
        assert {r["venue"] for r in expected} == {"SIM-A", "SIM-B"}

        # oms venue stats --json prints the journal's fold; the table shows every venue
        out = io.StringIO()
        entry = Entry(settings, LiveClock(), console=Console(file=out, width=200))
        assert run(venue.app, ["stats", "--json"], prog_name="oms venue", obj=entry) == 0
        printed = json.loads(out.getvalue())
        assert printed == expected
        sim_a = next(r for r in printed if r["venue"] == "SIM-A")
        assert sim_a["instrument"] == "AAPL" and sim_a["routed"] >= 2 and sim_a["rejected"] == 0
        assert D(sim_a["filled_qty"]) >= 10 and sim_a["mean_latency_ns"] is not None
        assert sum(D(r["filled_qty"]) for r in printed) == D(40)

        out.truncate(0), out.seek(0)
        assert run(venue.app, ["stats", "SIM-B"], prog_name="oms venue", obj=entry) == 0
        table = out.getvalue()
        assert "SIM-B" in table and "SIM-A" not in table and "AAPL" in table and "fill rate" in table
    finally:
        procs.stop_all()
        fills.close()
        journal.close()

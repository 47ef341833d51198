"""A running OMS for integration tests: topics under a unique prefix, worker and venue processes.

`Pipeline` starts the synthetic market data feed, the simulated venue gateway
and the worker as real processes against the session's broker (returning once
the feed has published its first quote), and offers views of the output topics
plus helpers to wait for a condition.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from oms.config import Settings
from oms.events import Event
from entrypoints.supervisor import Processes
from oms.clock import LiveClock
from streams.client import OrderClient
from streams.runtime import Runtime, connect
from streams.views import TopicView


@dataclass
class Pipeline:
    rt: Runtime
    procs: Processes
    client: OrderClient
    views: dict[str, TopicView] = field(default_factory=dict)

    @classmethod
    def start(cls, bootstrap_servers: str, prefix: str, home: Path, *, gateway_args: tuple[str, ...] = (),
              instruments: str = "AAPL:100.00,MSFT:400.00", worker: bool = True,
              risk_defaults: str = "", worker_args: tuple[str, ...] = (), venues: str | None = None,
              venue_offsets: str = "", routing: str = "", venue_fees: str = "") -> "Pipeline":
        """`risk_defaults`: the worker's default limits (`OMS_RISK_DEFAULTS`; empty: the built-in ones).
        Smart routing: `venues` ("SIM-A,SIM-B,SIM-C") are the venues the gateway serves and the worker's
        catalogue (`OMS_VENUES`; None: one venue, SIM); `venue_offsets` ("SIM-A:0,SIM-B:0.01") fans the
        synthetic feed out to those venues (`--venues` of the market data; empty: one unnamed feed);
        `routing` (`OMS_ROUTING`) and `venue_fees` (`OMS_VENUE_FEES`) go to the worker and the gateway."""
        settings = Settings(bootstrap_servers=bootstrap_servers, topic_prefix=prefix, home=home, partitions=3,
                            risk_defaults=risk_defaults, venues=venues, routing=routing, venue_fees=venue_fees)
        rt = connect(settings)
        rt.ensure_topics()
        procs = Processes(settings, bootstrap_servers)
        if venue_offsets:
            procs.start("marketdata", "entrypoints.marketdata", "--synthetic", "--instruments", instruments,
                        "--venues", venue_offsets, "--seed", "3", "--rate", "20", "--no-create-topics")
        else:
            procs.start_marketdata(instruments, seed=3, rate=20)
        procs.start_gateway(venues or "SIM", 7, *gateway_args)
        if worker:
            procs.start_worker(*worker_args)
        client = OrderClient(rt.event_producer(), rt.topics, trader="tester", clock=LiveClock())
        pipeline = cls(rt, procs, client)
        # a venue refuses a market order until it has a quote ("no market"); a venue gateway started
        # after the first quote is fed the last one at start, and one started before reads it live
        quotes = TopicView(rt, rt.topics.marketdata)
        try:
            procs.wait_until(lambda: quotes.refresh(idle=0.1, budget=1), timeout=60, what="the feed's first quote")
        finally:
            quotes.close()
        for name in ("orders", "fills", "journal", "deadletter", "positions", "exec_reports"):
            topic = getattr(rt.topics, name)
            pipeline.views[name] = TopicView(rt, topic, keep_all=True)
        return pipeline

    def refresh(self) -> None:
        for view in self.views.values():
            view.refresh(idle=0.1)

    def wait(self, predicate, timeout: float = 60.0, what: str = "a condition"):
        def check():
            self.refresh()
            return predicate()

        return self.procs.wait_until(check, timeout=timeout, what=what, poll=0.2)

    def journal(self, order_id: str | None = None) -> list[Event]:
        events = self.views["journal"].all or []
        return [e for e in events if order_id is None or e.order_id == order_id]

    def stacks(self, name: str) -> str:
        """The thread stacks of process `name` (py-spy), for the report of a test that found it stuck."""
        proc = self.procs.procs.get(name)
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if proc is None or proc.poll() is not None or not Path(spy).exists():
            return f"(no stacks for {name})"
        try:
            done = subprocess.run([spy, "dump", "--pid", str(proc.pid)], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"(py-spy failed: {exc})"
        return done.stdout + done.stderr

    def stop(self) -> None:
        self.procs.stop_all()
        for view in self.views.values():
            view.close()

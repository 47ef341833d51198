"""`oms health`: is each OMS process alive and keeping up, and does the broker answer?

Each process serves its Prometheus metrics and says where in
`<home>/run/<process>-<pid>.json` (`streams.metrics.serve`). `oms health`
reads those files, scrapes each live process's `/metrics` and prints one row
per process — liveness, the processor's health, consumer lag (summed over its
groups and partitions, and the worst partition), transactions, dead letters,
and how long ago it last did work — then the broker's state: reachable, its
controller, its brokers and the topics under the OMS's prefix. Exit status 1
when the broker does not answer or a process is down, 0 otherwise.
(`oms status ORDER` is something else: one order's status.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable

import typer

from entrypoints import tables
from entrypoints.context import entry, run
from oms.config import Settings
from streams import metrics
from streams.broker import BrokerState, describe_broker

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@dataclass(frozen=True)
class ProcessHealth:
    """One process as its run file and its `/metrics` tell."""

    process: str
    pid: int
    url: str
    alive: bool
    answered: bool = False
    state: str = "-"
    lag: int | None = None
    worst_lag: str = "-"
    transactions: int = 0
    dead_letters: int = 0
    idle_s: float | None = None
    """Seconds since the process last did work (None: nothing yet)."""


def _total(samples: dict, name: str) -> float:
    return sum(value for _, value in samples.get(name, []))


def process_health(endpoint: metrics.Endpoint, now_s: float,
                   scrape: Callable[[str], dict] = metrics.scrape) -> ProcessHealth:
    """The health of one process: down when its pid is gone, silent when `/metrics` does not answer."""
    base = ProcessHealth(endpoint.process, endpoint.pid, endpoint.url, endpoint.alive)
    if not base.alive:
        return base
    try:
        samples = scrape(endpoint.url)
    except OSError:
        return base
    states = [labels for labels, value in samples.get("oms_processor_health", []) if value == 1]
    worst = ("-", 0.0)
    for labels, value in samples.get("oms_consumer_lag", []):
        if value >= worst[1]:
            worst = (f"{labels.get('topic')}[{labels.get('partition')}]={int(value)}", value)
    lags = samples.get("oms_consumer_lag", [])
    activity = [value for _, value in samples.get("oms_last_activity_timestamp_seconds", [])]
    return ProcessHealth(
        endpoint.process, endpoint.pid, endpoint.url, True, answered=True,
        state=",".join(sorted({labels["oms_processor_health"] for labels in states})) or "UP",
        lag=int(sum(value for _, value in lags)) if lags else None,
        worst_lag=worst[0],
        transactions=int(_total(samples, "oms_transactions_total")),
        dead_letters=int(_total(samples, "oms_dead_letters_total")),
        idle_s=max(0.0, now_s - max(activity)) if activity else None,
    )


def gather(settings: Settings, bootstrap_servers: str | None, now_s: float,
           scrape: Callable[[str], dict] = metrics.scrape) -> tuple[list[ProcessHealth], BrokerState | None]:
    """Every process under `settings.home` and the broker (None when no broker is configured)."""
    processes = [process_health(e, now_s, scrape) for e in metrics.endpoints(settings.home)]
    broker = describe_broker(bootstrap_servers, prefix=settings.topic_prefix) if bootstrap_servers else None
    return processes, broker


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s ago"


def render(console, processes: list[ProcessHealth], broker: BrokerState | None) -> bool:
    """Print the tables; True when everything is healthy."""
    healthy = True
    rows = tables.table("process", "pid", "alive", "state", "lag", "worst partition", "transactions",
                        "dead letters", "last activity", "metrics", title="OMS processes")
    for p in processes:
        healthy &= p.alive and p.answered and "FAILED" not in p.state
        rows.add_row(p.process, str(p.pid), "yes" if p.alive else "[red]no[/]",
                     p.state if p.answered else ("[red]silent[/]" if p.alive else "-"),
                     "-" if p.lag is None else str(p.lag), p.worst_lag, str(p.transactions), str(p.dead_letters),
                     _seconds(p.idle_s), p.url)
    if processes:
        console.print(rows)
    else:
        console.print("no OMS process has written a run file under this OMS_HOME")
    if broker is None:
        console.print("broker: none configured (KAFKA_BOOTSTRAP_SERVERS unset, local broker not running)")
        return False
    info = tables.table("broker", "reachable", "controller", "brokers", "topics", title="Kafka")
    info.add_row(broker.bootstrap_servers, "yes" if broker.reachable else f"[red]no[/] {broker.error or ''}",
                 broker.controller or "-", str(broker.brokers), str(len(broker.topics)))
    console.print(info)
    return healthy and broker.reachable


@app.command()
def health(ctx: typer.Context) -> None:
    """Liveness, lag and last activity of each OMS process, and the broker's state."""
    e = entry(ctx)
    settings = e.settings
    bootstrap = settings.bootstrap_servers
    if bootstrap is None:  # the local broker, if it runs (never started by a health check)
        from streams.broker import LocalBroker

        info = LocalBroker(settings.home / "broker", settings.cache_dir).status()
        bootstrap = info.bootstrap_servers if info is not None else None
    from streams import security

    security.use(settings)
    processes, broker = gather(settings, bootstrap, e.clock.now_ns() / 1e9)
    if not render(e.console, processes, broker):
        raise typer.Exit(1)


def main(argv: list[str] | None = None) -> int:
    return run(app, argv, prog_name="oms health")


if __name__ == "__main__":
    raise SystemExit(main())

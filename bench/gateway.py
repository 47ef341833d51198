"""Benchmark of `oms.venues.gateway`: requests per second through the gateway core over the simulator, no Kafka.

Three figures, each the best of a few runs of N requests on the event-time
clock (no sleeping): a NEW then its CANCEL per order within the rate limit
(the everyday path: queue, tokens, breaker, in-flight tracking, the
simulator's answer, holding and releasing reports); a burst of N NEWs ten
times over the limit followed by a CANCEL (everything queues; the figure
includes draining the queue as tokens come back, and the CANCEL must go
first); and the former direct path for comparison (`handle_request` on the
simulator alone). Run with `python -m bench.gateway [-n N]`.
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal

from oms.domain.tokens import RateLimit
from oms.events import ExecType, OrderType, Side, TimeInForce, VenueAction, VenueRequest
from oms.venues import handle_request
from oms.venues.gateway import GatewayCore
from oms.venues.policy import VenueLimits, VenuePolicy
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def request(n: int, action: VenueAction = VenueAction.NEW, order: int | None = None) -> VenueRequest:
    order = n if order is None else order
    return VenueRequest(
        event_id=f"vr-{n}", ts_event=T0, ts_init=T0, action=action, venue="SIM", account="ACC1",
        order_id=f"ORD-{order}", request_id=f"req-{n}", orig_request_id=None if action is VenueAction.NEW else
        f"req-{order}", instrument="XYZ", side=Side.BUY, order_type=OrderType.LIMIT, quantity=Decimal(10),
        limit_price=Decimal(1), time_in_force=TimeInForce.DAY)


def exchange() -> SimulatedExchange:
    return SimulatedExchange("SIM", 7, SimulatedVenueConfig(latency_ns=0))


def everyday(n: int) -> float:
    core = GatewayCore({"SIM": exchange()}, RateLimit.of(10**9))
    pairs = [(request(2 * k), request(2 * k + 1, VenueAction.CANCEL, order=2 * k)) for k in range(n // 2)]
    start = time.perf_counter()
    for k, (new, cancel) in enumerate(pairs):
        now = T0 + k * MS
        core.on_request("vr", 0, 2 * k, new, now)
        core.on_request("vr", 0, 2 * k + 1, cancel, now)
        core.release(now)
    elapsed = time.perf_counter() - start
    assert core.stats.requests == 2 * len(pairs) and core.queued() == 0
    return 2 * len(pairs) / elapsed


def burst(n: int) -> float:
    rate = max(1, n // 10)
    policy = VenuePolicy.single(RateLimit.of(rate, rate), max_wait_ms=60_000)
    core = GatewayCore({"SIM": exchange()}, limits=VenueLimits(venues={"SIM": policy}))
    requests = [request(k) for k in range(n)]
    start = time.perf_counter()
    for k, r in enumerate(requests):
        core.on_request("vr", 0, k, r, T0)
    core.on_request("vr", 0, n, request(n, VenueAction.CANCEL, order=0), T0 + MS)  # ORD-0 went in the burst
    now, sent = T0 + MS, []
    while core.queued():
        now = max(now + 1, core.next_due(now) or now + MS)
        sent += [r.request_id for r in core.tick(now).reports]
        core.release(now)
    elapsed = time.perf_counter() - start
    assert core.stats.rate_limited == 0 and sent[0] == f"req-{n}", sent[:3]  # the cancel went first
    return (n + 1) / elapsed


def direct(n: int) -> float:
    venue = exchange()
    requests = [request(k) for k in range(n)]
    start = time.perf_counter()
    for k, r in enumerate(requests):
        handle_request(venue, r, T0 + k)
    return n / (time.perf_counter() - start)


def measure_on_broker(settings, adapters: dict, n: int, round_trips: int, *, market: bool = False,
                      first: int = 0) -> dict[str, float]:
    """Throughput (requests/s: acknowledged NEWs) and round-trip latency (ms, median and p99, request
    published to its NEW ack read back) of `run_gateway` over `adapters` on the broker of `settings`
    (topics under its prefix, created here). `market`: MARKET orders (they fill at once: a FIX venue's
    book stays small) instead of resting LIMIT orders; `first`: the number of the first request."""
    import statistics
    import threading

    from oms.clock import LiveClock
    from processors.venue_gateway import run_gateway
    from streams.runtime import connect

    rt = connect(settings)
    rt.ensure_topics()
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=run_gateway, daemon=True, kwargs=dict(
        settings=settings, venue_names=[], seed=0, stop=stop, clock=LiveClock(), ready=ready, runtime=rt,
        adapters=adapters, rate_limit=None, reconcile=None))
    thread.start()
    reader = rt.event_consumer(f"{settings.topic_prefix}bench-reader", "bench", deadletter=False)
    reader.reader.assign(rt.topics.exec_reports, from_end=True)
    producer = rt.event_producer()
    venue = next(iter(adapters))
    try:
        assert ready.wait(60), "the gateway did not start"
        def make(k: int) -> VenueRequest:
            update = {"venue": venue} | ({"order_type": OrderType.MARKET, "limit_price": None} if market else {})
            return request(first + k).model_copy(update=update)

        requests = [make(k) for k in range(n)]
        start = time.perf_counter()
        for r in requests:
            producer.send(rt.topics.venue_requests, venue, r)
        producer.flush()
        got = 0
        while got < n and time.perf_counter() - start < 120:
            received = reader.poll(0.5)
            if received is not None and received.event.exec_type is ExecType.NEW:
                got += 1
        throughput = got / (time.perf_counter() - start)
        latencies = []
        for k in range(round_trips):
            r = make(n + k)
            sent = time.perf_counter()
            producer.send(rt.topics.venue_requests, venue, r)
            producer.flush()
            while (received := reader.poll(5.0)) is not None and received.event.request_id != r.request_id:
                pass
            latencies.append((time.perf_counter() - sent) * 1000)
        latencies.sort()
        return {"requests_per_s": throughput, "round_trip_ms_p50": statistics.median(latencies),
                "round_trip_ms_p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}
    finally:
        stop.set()
        thread.join(20)
        reader.close()


def measure_fix_on_broker(settings, n: int, round_trips: int) -> dict[str, float]:
    """`measure_on_broker` over a `FixVenue` logged on to the QuickFIX/J test acceptor on loopback
    (started in a temporary directory, warmed up with a few hundred orders first, stopped after)."""
    import tempfile
    import uuid
    from pathlib import Path

    from connectors.fix.adapter import FixVenue
    from connectors.fix.config import FixVenueConfig
    from connectors.fix_acceptor import LocalAcceptor

    with tempfile.TemporaryDirectory(prefix="bench-gateway-fix-") as home:
        acceptor = LocalAcceptor(Path(home) / "exchange", settings.cache_dir)
        info = acceptor.start()
        venue = None
        try:
            venue = FixVenue(FixVenueConfig(
                venue="SIM", sender_comp_id=f"B{uuid.uuid4().hex[:8].upper()}", target_comp_id=info.comp_id,
                port=info.port, data_dir=Path(home) / "fix", cache_dir=settings.cache_dir, file_log=False))
            if not venue.wait_connected(20):
                raise TimeoutError("the FIX session did not log on")
            # warm the JVM's JIT and the session on throwaway topics first (same adapter: fresh request ids)
            measure_on_broker(settings.with_(topic_prefix=f"bench{uuid.uuid4().hex[:6]}."), {"SIM": _Kept(venue)},
                              min(n, 500), 20, market=True, first=10**6)
            return measure_on_broker(settings.with_(topic_prefix=f"bench{uuid.uuid4().hex[:6]}."),
                                     {"SIM": venue}, n, round_trips, market=True)
        finally:
            if venue is not None:
                venue.close()
            acceptor.stop()


class _Kept:
    """An adapter whose `close` does nothing: the warm-up gateway must not close the session it borrows."""

    def __init__(self, adapter) -> None:
        self._adapter = adapter

    def __getattr__(self, name):
        return getattr(self._adapter, name)

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5_000)
    parser.add_argument("--kafka", action="store_true", help="measure the gateway loop on a broker")
    parser.add_argument("--round-trips", type=int, default=200)
    parser.add_argument("--no-fix", action="store_true", help="with --kafka: the simulator only")
    args = parser.parse_args()
    n = args.n
    if args.kafka:
        import uuid

        from oms.config import Settings

        base = Settings.from_env()
        rows = [("simulator", measure_on_broker(base.with_(topic_prefix=f"bench{uuid.uuid4().hex[:6]}."),
                                                {"SIM": exchange()}, n, args.round_trips))]
        if not args.no_fix:
            rows.append(("FIX (QuickFIX/J acceptor)", measure_fix_on_broker(base, n, args.round_trips)))
        for name, figures in rows:
            print(f"gateway on the broker, {name:<26} {figures['requests_per_s']:>8,.0f} requests/s; round trip "
                  f"p50 {figures['round_trip_ms_p50']:.2f} ms, p99 {figures['round_trip_ms_p99']:.2f} ms")
        return
    for name, fn in (("gateway core, within the limit (NEW + CANCEL)", everyday),
                     ("gateway core, burst 10x over the limit, drained", burst),
                     ("simulator alone (handle_request)", direct)):
        best = max(fn(n) for _ in range(3))
        print(f"{name:<50} {best:>10,.0f} requests/s")


if __name__ == "__main__":
    main()

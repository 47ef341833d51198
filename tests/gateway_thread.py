"""The venue gateway run in a thread of the test process, for the gateway's tests on the broker.

`gateway_thread(settings, *args, **kwargs)` starts
`processors.venue_gateway.run_gateway(settings, *args, stop=..., ready=..., clock=LiveClock(), **kwargs)`
in a daemon thread and waits until the gateway is ready; an error it met before that is raised in
the test. It yields a `GatewayThread`. On leaving, it stops the gateway, waits for its thread, and
raises the error the gateway ended with, if any; `stats` then holds what `run_gateway` returned.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from oms.clock import LiveClock
from oms.config import Settings
from oms.venues.gateway import GatewayStats
from processors.venue_gateway import run_gateway


@dataclass
class GatewayThread:
    stop: threading.Event
    stats: GatewayStats | None = None
    error: BaseException | None = None


@contextmanager
def gateway_thread(settings: Settings, *args, ready_timeout: float = 30.0, join_timeout: float = 20.0,
                   **kwargs) -> Iterator[GatewayThread]:
    ready = threading.Event()
    gateway = GatewayThread(stop=threading.Event())

    def run() -> None:
        try:
            gateway.stats = run_gateway(settings, *args, stop=gateway.stop, clock=LiveClock(), ready=ready,
                                        **kwargs)
        except BaseException as exc:  # raised in the test thread
            gateway.error = exc
            ready.set()

    thread = threading.Thread(target=run, name="venue-gateway", daemon=True)
    thread.start()
    try:
        assert ready.wait(ready_timeout), f"the gateway was not ready within {ready_timeout:.0f}s"
        if gateway.error is not None:
            raise gateway.error
        yield gateway
    finally:
        gateway.stop.set()
        thread.join(join_timeout)
    assert not thread.is_alive(), f"the gateway did not stop within {join_timeout:.0f}s"
    if gateway.error is not None:
        raise gateway.error

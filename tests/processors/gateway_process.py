"""A venue gateway process for the restart tests: `python -m tests.processors.gateway_process
--venues SIM --seed 7 [--state-dir DIR]` runs `processors.venue_gateway.run_gateway` (reconciliation
at start included) with a simulated venue that keeps its book under DIR, or in memory without it,
until SIGTERM; the settings come from the environment like any process's. Its request consumer
is a static group member (`group.instance.id`): a gateway restarted after kill -9 takes its
partitions over at once instead of waiting for the dead member's session to time out."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from entrypoints.context import stopping
from oms.clock import LiveClock
from oms.config import Settings
from oms.venues.simulated import SimulatedVenueConfig
from processors.venue_gateway import run_gateway
from streams.runtime import connect


class _StaticMembers:
    """The runtime, with the gateway's request consumer a static member of its group."""

    def __init__(self, runtime) -> None:
        self._runtime = runtime

    def __getattr__(self, name):
        return getattr(self._runtime, name)

    def event_consumer(self, group_id: str, processor: str, **extra):
        if group_id.endswith("venue-gateway"):
            extra = {**extra, "group.instance.id": f"{group_id}-1", "session.timeout.ms": 10_000}
        return self._runtime.event_consumer(group_id, processor, **extra)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venues", default="SIM")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--state-dir", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = SimulatedVenueConfig(latency_ns=1_000_000, state_dir=args.state_dir)
    with stopping() as stop:
        settings = Settings.from_env()
        run_gateway(settings, args.venues.split(","), args.seed, config, stop=stop, clock=LiveClock(),
                    runtime=_StaticMembers(connect(settings)))


if __name__ == "__main__":
    main()

"""A worker process with faults injected into the position manager, for the tests that need a
handler to fail or hang on a real broker: `python -m tests.processors.faulty_worker`.

A journal fill whose id starts with `boom` makes the position fold raise; one whose id starts with
`hang` blocks the faust event loop. Everything else is the real worker (`run_worker`), with a
short liveness timeout (`FAULTY_WORKER_LIVENESS_S`, default 6 s).
"""

from __future__ import annotations

import logging
import os
import sys
import time

import processors.app
from oms.clock import LiveClock
from oms.config import Settings
from processors.app import WorkerOptions
from processors.worker import run_worker

_real_evolve = processors.app.evolve_position


def _faulty_evolve(state, event):
    fill_id = getattr(event, "fill_id", "")
    if fill_id.startswith("boom"):
        raise RuntimeError(f"injected fault on {fill_id}")
    if fill_id.startswith("hang"):
        time.sleep(3600)
    return _real_evolve(state, event)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    processors.app.evolve_position = _faulty_evolve
    settings = Settings.from_env()
    timeout = float(os.environ.get("FAULTY_WORKER_LIVENESS_S", "6"))
    options = WorkerOptions(liveness_timeout_s=timeout, liveness_interval_s=1.0)
    return run_worker(settings, settings.bootstrap_servers, options, clock=LiveClock())


if __name__ == "__main__":
    sys.exit(main())

"""A worker process with faults injected into the position manager, for the tests that need a
handler to fail or hang on a real broker: `python -m tests.processors.faulty_worker`.

A journal fill whose id starts with `boom` makes the position fold raise; one whose id starts with
`hang` blocks the faust event loop. The table writes of a position whose account starts with `HOLD`
are held for `HOLD_S` seconds on their way from faust's producer buffer to the Kafka client (a busy
event loop, a client waiting for metadata or buffer space), and every table write made after them
waits behind them. Everything else is the real worker (`run_worker`), with a short liveness timeout
(`FAULTY_WORKER_LIVENESS_S`, default 6 s).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time

from faust.transport.producer import ProducerBuffer

import processors.app
from oms import keys
from oms.clock import LiveClock
from oms.config import Settings
from processors.app import WorkerOptions
from processors.worker import run_worker

_real_changed = processors.app.changed_position
_real_send_pending = ProducerBuffer._send_pending
HOLD_S = 60.0
HELD = (keys.POSITION_PREFIX + "HOLD").encode()


def _faulty_changed(state, event):
    fill_id = getattr(event, "fill_id", "")
    if fill_id.startswith("boom"):
        raise RuntimeError(f"injected fault on {fill_id}")
    if fill_id.startswith("hang"):
        time.sleep(3600)
    return _real_changed(state, event)


async def _held_send_pending(buffer: ProducerBuffer, fut) -> None:
    key = fut.message.key
    if isinstance(key, bytes) and key.startswith(HELD):
        logging.getLogger("oms.worker").warning("holding the table write of %r for %.0fs", key, HOLD_S)
        await asyncio.sleep(HOLD_S)
    await _real_send_pending(buffer, fut)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    processors.app.changed_position = _faulty_changed
    ProducerBuffer._send_pending = _held_send_pending
    settings = Settings.from_env()
    timeout = float(os.environ.get("FAULTY_WORKER_LIVENESS_S", "6"))
    options = WorkerOptions(liveness_timeout_s=timeout, liveness_interval_s=1.0)
    return run_worker(settings, settings.bootstrap_servers, options, clock=LiveClock())


if __name__ == "__main__":
    sys.exit(main())

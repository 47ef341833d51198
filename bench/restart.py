"""Benchmark of a processor restart: how long until it processes again, with and without a checkpoint.

This module owns measuring the restart of `streams.processor.TransactionalProcessor`
over a changelog holding `--records` records of state (default 1,000,000,
written straight to a fresh compacted changelog topic, three partitions). It
times, from the processor's construction to its first committed input (a
record produced before it starts): a start on an empty store (every record
restored, as before checkpoints and as on a new machine), run in a child
process that is then killed with SIGKILL once it processes, and a restart on
the store the killed process left (only the records past the store's
checkpoint restored). The broker is `KAFKA_BOOTSTRAP_SERVERS`, else
a local one started under a temporary home and stopped at the end. Run with
`python -m bench.restart [--records N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from uuid import uuid4

from rich.console import Console
from rich.table import Table

from oms.clock import LiveClock
from oms.config import Settings
from oms.state import RocksStore
from streams.broker import LocalBroker
from streams.processor import TransactionalProcessor
from streams.runtime import connect

PARTITIONS = 3


def fill_changelog(rt, topic: str, records: int) -> float:
    """Write `records` state records (~100-byte values, distinct keys) to `topic`; seconds taken."""
    producer = rt.producer(**{"linger.ms": 50, "batch.num.messages": 10000, "compression.type": "lz4"})
    value = b"v" * 100
    started = time.perf_counter()
    for n in range(records):
        while True:
            try:
                producer.produce(topic, key=f"o/{n:09d}".encode(), value=value, partition=n % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.05)
        if n % 10_000 == 0:
            producer.poll(0)
    producer.flush(300)
    return time.perf_counter() - started


def _seen(state, record):
    """The bench processor's handler: one state write per input, no output."""
    state.put("seen/" + (record.text_key or ""), b"1")
    return []


def until_processing(rt, names: dict, store_path: Path, key: bytes = b"",
                     keep_running: bool = False) -> tuple[float, float, int]:
    """(seconds from construction to the first committed input, seconds of the restore, records
    restored) of a processor over `store_path`; then stopped and its store closed (or, with
    `keep_running`, left running until this process is killed)."""
    handler = _seen
    started = time.perf_counter()
    processor = TransactionalProcessor(
        name=names["in"], bootstrap_servers=rt.bootstrap_servers, group_id=f"{names['in']}-group",
        transactional_id=f"{names['in']}-tx", inputs=[names["in"]], changelog=names["state"],
        store=RocksStore(store_path), codec=rt.codec, handler=handler, clock=LiveClock())
    restore = processor._restore
    spent = [0.0]

    def timed_restore(partitions):
        began = time.perf_counter()
        try:
            restore(partitions)
        finally:
            spent[0] += time.perf_counter() - began

    processor._restore = timed_restore
    stop = threading.Event()
    thread = threading.Thread(target=processor.run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 600
        while processor.stats.transactions < 1 and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.01)
        ready = time.perf_counter() - started
        if keep_running:
            print(json.dumps([ready, spent[0], processor.stats.restored]), flush=True)
            thread.join()  # until SIGKILL
    finally:
        stop.set()
        thread.join(60)
        processor.store.close()
    return ready, spent[0], processor.stats.restored


def killed_after_processing(rt, names: dict, store_path: Path) -> tuple[float, float, int]:
    """`until_processing` in a child process, killed with SIGKILL as soon as it has processed."""
    code = ("import json, sys; from pathlib import Path; from oms.config import Settings; "
            "from streams.runtime import connect; from bench.restart import until_processing; "
            f"rt = connect(Settings(bootstrap_servers={rt.bootstrap_servers!r}, topic_prefix={rt.topics.prefix!r})); "
            f"until_processing(rt, {names!r}, Path({str(store_path)!r}), keep_running=True)")
    root = Path(__file__).resolve().parent.parent
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=root,
                             env={**os.environ, "PYTHONPATH": str(root)})
    try:
        line = child.stdout.readline()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    ready, restoring, restored = json.loads(line)
    return ready, restoring, restored


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="state records in the changelog")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    settings = Settings.from_env().with_(topic_prefix=f"bench{uuid4().hex[:6]}.",
                                         home=Path(tempfile.mkdtemp(prefix="oms-bench-restart-")))
    external = bool(settings.bootstrap_servers)
    rt = connect(settings)
    try:
        from confluent_kafka.admin import NewTopic

        names = {n: f"{settings.topic_prefix}restart.{n}" for n in ("in", "state")}
        admin = rt.admin()
        for future in admin.create_topics([
            NewTopic(names["in"], PARTITIONS, 1),
            NewTopic(names["state"], PARTITIONS, 1, config={"cleanup.policy": "compact"}),
        ]).values():
            future.result()
        filled = fill_changelog(rt, names["state"], args.records)
        producer = rt.producer()
        rows = []
        store = settings.home / "store"
        producer.produce(names["in"], key=uuid4().hex.encode(), value=b"x")
        producer.flush(30)
        ready, restoring, restored = killed_after_processing(rt, names, store)
        rows.append({"case": "empty store: full restore (then kill -9)", "processing_after_s": ready,
                     "restore_s": restoring, "restored": restored})
        producer.produce(names["in"], key=uuid4().hex.encode(), value=b"x")
        producer.flush(30)
        ready, restoring, restored = until_processing(rt, names, store)
        rows.append({"case": "restart after kill -9 on its store", "processing_after_s": ready,
                     "restore_s": restoring, "restored": restored})
        table = Table(title=f"Processor restart with {args.records:,} changelog records of state "
                            f"({PARTITIONS} partitions; written in {filled:.1f}s)")
        for column in ("case", "records restored", "restore s", "processing again after s"):
            table.add_column(column, justify="right")
        for row in rows:
            table.add_row(row["case"], f"{row['restored']:,}", f"{row['restore_s']:.2f}",
                          f"{row['processing_after_s']:.2f}")
        table.caption = ("broker: " + ("external (KAFKA_BOOTSTRAP_SERVERS)" if external else "local, started by this run")
                         + "; 'processing again' = construction to the first committed input")
        Console(width=110).print(table)
        figures = {"records": args.records, "broker": "external" if external else "local, started by this run",
                   "rows": rows}
        if args.json is not None:
            args.json.write_text(json.dumps(figures, indent=2))
        return figures
    finally:
        if not external:
            LocalBroker(settings.home / "broker", settings.cache_dir).stop()


if __name__ == "__main__":
    main()

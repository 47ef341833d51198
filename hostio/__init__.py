"""Small helpers for processes that run local services: free loopback ports, file locks, atomic writes, thread names.

This package owns the host-level plumbing shared by the local Kafka broker
(`streams.broker`) and the local FIX exchange (`connectors.fix_acceptor`,
`connectors.quickfixj`): choosing loopback ports that are free right now,
holding an exclusive `flock` across processes while jars are resolved or a
data directory is set up, and replacing a file atomically so that a reader
never sees half of it; and naming a thread for the operating system
(`name_thread`), so that per-thread CPU (`/proc/<pid>/task`, `top -H`, the
pipeline bench) says which thread it is. It knows nothing of Kafka, FIX or the domain.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["file_lock", "free_ports", "name_thread", "write_atomic"]


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports free right now (all sockets held until all are chosen)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive `flock` on `path`, held for the block (blocks other processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


THREAD_NAME_BYTES = 15
"""The longest thread name Linux keeps (`comm`, 16 bytes with its terminating NUL)."""


def name_thread(name: str) -> bool:
    """Give the calling thread `name` (cut to `THREAD_NAME_BYTES`) as its operating-system name, the
    one `/proc/<pid>/task/<tid>/comm`, `top -H` and `ps -L` show (Python's own thread names are not
    passed on). Whether it was set: False where there is no such file (not Linux), never raises."""
    data = name.encode("utf-8", "replace")[:THREAD_NAME_BYTES]
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/comm", "wb") as fh:
            fh.write(data)
    except OSError:
        return False
    return True

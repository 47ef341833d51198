"""Small helpers for processes that run local services: free loopback ports, file locks, atomic writes.

This package owns the host-level plumbing shared by the local Kafka broker
(`streams.broker`) and the local FIX exchange (`connectors.fix_acceptor`,
`connectors.quickfixj`): choosing loopback ports that are free right now,
holding an exclusive `flock` across processes while jars are resolved or a
data directory is set up, and replacing a file atomically so that a reader
never sees half of it. It knows nothing of Kafka, FIX or the domain.
"""

from __future__ import annotations

import fcntl
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["file_lock", "free_ports", "write_atomic"]


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

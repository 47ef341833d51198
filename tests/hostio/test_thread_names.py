"""`hostio.name_thread`: the operating-system name of the calling thread, as /proc shows it."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from hostio import THREAD_NAME_BYTES, name_thread

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread names in /proc are Linux's")


def _named(name: str) -> tuple[bool, str, str]:
    """(what name_thread returned, the thread's comm after, the main thread's comm) from a new thread."""
    out: list = []

    def run() -> None:
        ok = name_thread(name)
        out.append((ok, Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().rstrip("\n")))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    main = Path(f"/proc/self/task/{threading.main_thread().native_id}/comm").read_text().rstrip("\n")
    return out[0][0], out[0][1], main


def test_a_thread_names_itself_and_only_itself() -> None:
    before = Path(f"/proc/self/task/{threading.main_thread().native_id}/comm").read_text()
    ok, comm, main = _named("order-engine")
    assert ok and comm == "order-engine"
    assert main + "\n" == before


def test_a_long_name_keeps_its_first_bytes() -> None:
    ok, comm, _ = _named("post-trade risk monitor")
    assert ok and comm == "post-trade risk monitor"[:THREAD_NAME_BYTES] == "post-trade risk"

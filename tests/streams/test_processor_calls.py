"""The thread a transactional producer's calls run on: results and errors handed back, one thread for
every call, and a call that never returns given up with a rebuild (the watchdog)."""

from __future__ import annotations

import threading

import pytest

from streams.processor import Remedy, TransactionCalls, TransactionFault


def test_a_call_returns_its_result_on_the_callers_side():
    calls = TransactionCalls("test-txn")

    result = calls.run("commit_transaction", lambda a, b: a + b, 2, 3)

    assert result == 5
    calls.close()


def test_a_calls_exception_is_raised_in_the_caller():
    calls = TransactionCalls("test-txn")

    def refuse():
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        calls.run("send_offsets_to_transaction", refuse)
    assert calls.run("begin_transaction", lambda: "still serving") == "still serving"
    calls.close()


def test_every_call_runs_on_the_same_thread_and_never_on_the_callers():
    calls = TransactionCalls("test-txn")

    seen = {calls.run(f"call-{i}", lambda: threading.get_ident()) for i in range(50)}

    assert len(seen) == 1 and threading.get_ident() not in seen
    calls.close()


def test_a_call_that_does_not_return_in_time_is_given_up_with_a_rebuild_and_so_are_later_calls():
    calls = TransactionCalls("test-txn", patience=0.2)
    release = threading.Event()

    with pytest.raises(TransactionFault) as hung:
        calls.run("send_offsets_to_transaction", release.wait, 30)
    with pytest.raises(TransactionFault) as after:
        calls.run("commit_transaction", lambda: "never run")

    assert hung.value.remedy is Remedy.REBUILD and hung.value.call == "send_offsets_to_transaction"
    assert "no answer within" in hung.value.why
    assert after.value.remedy is Remedy.REBUILD and "send_offsets_to_transaction" in after.value.why
    assert calls.hung == "send_offsets_to_transaction"
    release.set()
    calls.close()


def test_closed_its_thread_ends():
    calls = TransactionCalls("test-txn")
    calls.run("begin_transaction", lambda: None)

    calls.close()
    calls._thread.join(5)

    assert not calls._thread.is_alive()


def test_a_bounded_call_that_raises_is_logged_not_left_to_the_thread(caplog):
    import logging

    from streams.processor import _bounded

    def close() -> None:
        raise RuntimeError("fenced: an old epoch")

    seen: list = []
    previous = threading.excepthook
    threading.excepthook = seen.append  # an exception escaping a thread would land here
    try:
        with caplog.at_level(logging.WARNING, logger="oms.processor"):
            _bounded(close, 5.0, "producer close")
    finally:
        threading.excepthook = previous
    assert seen == []
    assert any("producer close failed: fenced: an old epoch" in r.getMessage() for r in caplog.records)


def test_a_bounded_call_that_hangs_is_left_behind_after_its_timeout():
    from streams.processor import _bounded

    release = threading.Event()
    _bounded(lambda: release.wait(10), 0.2, "hung close")
    assert any(t.name == "hung close" and t.is_alive() for t in threading.enumerate())
    release.set()

"""The faust side's liveness rule (`processors.worker.Liveness`): stuck only when the journal grows
while the position manager handles nothing, for longer than the timeout."""

from __future__ import annotations

import threading

from processors.app import Progress
from processors.worker import Liveness, watch_liveness


def test_a_quiet_journal_is_healthy_however_long():
    live = Liveness(timeout_s=10)
    for now in range(0, 1000, 5):
        assert live.stuck_for(float(now), handled=7, ends={0: 100, 1: 50}) == 0.0


def test_growth_without_progress_is_stuck_after_the_timeout():
    live = Liveness(timeout_s=10)
    live.stuck_for(0.0, 3, {0: 100})
    assert live.stuck_for(5.0, 3, {0: 120}) == 0.0  # the clock starts at the first growth seen
    assert live.stuck_for(12.0, 3, {0: 140}) == 7.0
    assert live.stuck_for(16.0, 3, {0: 140}) == 11.0 > live.timeout_s


def test_progress_resets_the_clock():
    live = Liveness(timeout_s=10)
    live.stuck_for(0.0, 3, {0: 100})
    live.stuck_for(5.0, 3, {0: 120})
    assert live.stuck_for(14.0, 4, {0: 130}) == 0.0
    assert live.stuck_for(20.0, 4, {0: 130}) == 0.0
    assert live.stuck_for(25.0, 4, {0: 131}) == 0.0  # one more offset: a commit marker, no news
    assert live.stuck_for(30.0, 4, {0: 150}) == 0.0
    assert live.stuck_for(41.0, 4, {0: 150}) == 11.0


def test_an_unanswering_broker_is_no_evidence_and_restarts_the_clock():
    live = Liveness(timeout_s=10)
    live.stuck_for(0.0, 3, {0: 100})
    live.stuck_for(5.0, 3, {0: 120})
    assert live.stuck_for(30.0, 3, None) == 0.0
    assert live.stuck_for(35.0, 3, {0: 120}) == 0.0
    assert live.stuck_for(40.0, 3, {0: 120}) == 5.0


def test_another_assignment_is_a_new_baseline():
    live = Liveness(timeout_s=10)
    live.stuck_for(0.0, 3, {0: 100})
    assert live.stuck_for(50.0, 3, {0: 100, 2: 900}) == 0.0  # partition 2's old records are no news
    assert live.stuck_for(100.0, 3, {0: 100, 2: 900}) == 0.0


def test_the_watch_gives_up_at_once_when_the_position_manager_halted():
    progress = Progress(halted="publishing failed")
    reasons: list[str] = []
    watch_liveness(progress, lambda: {0: 1}, Liveness(60), 0.01, threading.Event(), reasons.append)
    assert reasons == ["the position manager halted: publishing failed"]


def test_the_watch_gives_up_when_stuck_and_not_before():
    progress = Progress(handled=1)
    ends = iter([{0: 10}] + [{0: 20}] * 1000)
    reasons: list[str] = []
    stop = threading.Event()
    watch_liveness(progress, lambda: next(ends), Liveness(0.05), 0.01, stop, reasons.append)
    assert len(reasons) == 1 and "handled nothing" in reasons[0]


def test_the_watch_ends_with_stop_on_a_healthy_worker():
    progress = Progress()
    stop = threading.Event()
    reasons: list[str] = []
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    watch_liveness(progress, lambda: {0: 10}, Liveness(0.05), 0.01, stop, reasons.append)
    assert reasons == [] and stop.is_set()

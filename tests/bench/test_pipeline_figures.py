"""The pipeline benchmark's arithmetic: percentiles, per-hop latencies, ratios against the floor, CPU from /proc."""

import os

from bench.pipeline import RunResult, cpu_seconds, hop_table, percentile, ratio_rows


def test_percentile_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 50) != percentile([], 50)  # NaN


def test_hops_from_record_timestamps_skip_missing_stamps():
    hops = hop_table({"a": [100, 103, 110, 111, 120], "b": [200, None, 215, 216, 230]})
    assert hops["command -> request"] == [3]
    assert hops["request -> report"] == [7]
    assert hops["report -> fill"] == [1, 1]
    assert hops["fill -> seen"] == [9, 14]


def test_ratios_pipeline_over_floor_in_the_same_run():
    floor = RunResult("floor", 50, 3, [10.0, 10.0, 20.0], {}, {}, {})
    pipe = RunResult("pipeline", 50, 3, [15.0, 15.0, 40.0], {}, {}, {})
    bursts = {"floor": {"filled_per_s": 1000.0}, "pipeline": {"filled_per_s": 300.0}}
    ratios = ratio_rows([floor, pipe], bursts)
    assert ratios["p50 pipeline/floor at 50/s"] == 1.5
    assert ratios["p99 pipeline/floor at 50/s"] == 2.0
    assert ratios["throughput pipeline/floor"] == 0.3


def test_cpu_seconds_of_this_process():
    spent = cpu_seconds(os.getpid())
    assert spent is not None and spent > 0
    assert cpu_seconds(None) is None


def test_thread_cpu_by_the_names_the_threads_gave_themselves():
    import threading
    import time

    from hostio import name_thread

    from bench.pipeline import ThreadMeter, thread_cpu_seconds

    spun, done = threading.Event(), threading.Event()

    def spin() -> None:
        name_thread("bench-spinner")
        end = time.thread_time() + 0.2
        while time.thread_time() < end:
            pass
        spun.set()
        done.wait(30)  # alive, so that /proc still lists it when the meter reads

    meter = ThreadMeter({"me": os.getpid(), "nobody": None})
    meter.start()
    thread = threading.Thread(target=spin)
    thread.start()
    assert spun.wait(30)
    spent = meter.read()
    done.set()
    thread.join()
    assert 0.15 <= spent["me"]["bench-spinner"] <= 1.0  # the spinner's own CPU, by its name
    assert "main" in thread_cpu_seconds(os.getpid())
    assert spent["nobody"] == {}

"""The GIL experiment: same predictions whatever the parallelism; the probe's measurements."""

import math

import pandas as pd
import pytest

from helpers import exercises
from helpers.core.config import LabError
from helpers.lab import gil


@pytest.fixture(scope="module")
def runs():
    return gil.gil_experiment(rows=20_000, workers=2, repeats=1, control_rows=5_000)


def test_modes_and_parity(runs):
    p = runs[runs.work == "lightgbm predict"].set_index("mode")
    assert list(p.index) == ["serial", "threads", "processes", "openmp"]
    assert (p.max_abs_diff == 0).all()
    assert p.loc["serial", "speedup"] == 1.0 and (p.rows == 20_000).all()
    assert p.loc["threads", "parallelism"] == 2
    assert math.isnan(p.loc["processes", "cpu_s"])  # not measured for child processes
    c = runs[runs.work != "lightgbm predict"]
    assert list(c["mode"]) == ["serial", "threads"] and (c.rows == 5_000).all()


def test_speedup_is_serial_over_mode(runs):
    p = runs[runs.work == "lightgbm predict"].set_index("mode")
    for mode in ("threads", "processes", "openmp"):
        assert p.loc[mode, "speedup"] == pytest.approx(
            p.loc["serial", "wall_s"] / p.loc[mode, "wall_s"]
        )
    truth = p.loc["openmp", "speedup"]
    assert "Correct" in exercises.check_gil_speedup(truth, runs, "openmp")
    assert "Not quite" in exercises.check_gil_speedup(truth * 2, runs, "openmp")
    with pytest.raises(LabError):
        exercises.check_gil_speedup(1.0, runs, "fibers")
    text = " ".join(f.text() for f in gil.gil_findings(runs))
    assert f"{p.loc['threads', 'speedup']:.2f}x" in text


def test_the_learners_work_function_is_what_the_threads_run():
    calls = []

    def score(booster, X):
        calls.append(len(X))
        return booster.predict(X, num_threads=1) + 1.0  # off by one: parity must show it

    runs = gil.gil_experiment(rows=4_000, workers=2, repeats=1, control_rows=1_000, work=score)
    p = runs[runs.work == "lightgbm predict"].set_index("mode")
    assert p.loc["serial", "max_abs_diff"] == pytest.approx(1.0)
    assert p.loc["threads", "max_abs_diff"] == pytest.approx(1.0)  # both vs the reference
    assert p.loc["processes", "max_abs_diff"] == 0.0  # plain processes run the kit's predict
    assert sorted(set(calls)) == [10, 2_000, 4_000]  # warm-up, one block per thread, serial


def test_bad_input():
    with pytest.raises(LabError):
        gil.gil_experiment(rows=1, workers=2)
    with pytest.raises(LabError):
        gil.gil_experiment(rows=0)


def test_probe_shape():
    probe = gil.gil_probe(rows=5_000, python_rows=2_000, rounds=1)
    assert list(probe.main_thread_doing) == [
        "sleeping (idle)",
        "lightgbm predict (C, via ctypes)",
        "pure-Python loop (holds the GIL)",
    ]
    assert (probe.counter_core_share > 0).all() and (probe.process_cores_used > 0).all()


def _runs(cores_used, threads=1.8):
    """A hand-made gil_experiment result: predict in 4 modes, then the control in 2."""
    return pd.DataFrame(
        {
            "mode": ["serial", "threads", "processes", "openmp", "serial", "threads"],
            "work": ["lightgbm predict"] * 4 + ["pure-Python loop (control)"] * 2,
            "parallelism": [1, 2, 2, 2, 1, 2],
            "cores_used": cores_used,
            "speedup": [1.0, threads, 1.9, 1.95, 1.0, 0.97],
        }
    )


def test_gil_findings_follow_the_numbers():
    (f,) = gil.gil_findings(_runs([1.0, 1.9, None, 1.95, 1.0, 1.0]))
    assert f.key == "speedups" and f.values["verdict"] == "fill"
    assert f.values["workers"] == 2 and f.values["threads"] == 1.8
    assert f.text() == (
        "**1.80x with 2 threads** (threads filled the cores), using 1.90 cores at once against "
        "1.00 for GIL-holding threads: the GIL was released during predict."
    )
    (f,) = gil.gil_findings(_runs([1.0, 1.2, None, 1.95, 1.0, 1.0], threads=1.2))
    assert f.values["verdict"] == "short"
    assert "(short of 2x)" in f.text() and "this run showed no overlap" in f.text()
    # a serial run crowded out to 0.40 of a core: the speedups are called unreliable
    (f,) = gil.gil_findings(_runs([0.4, 0.5, None, 0.6, 0.4, 0.5], threads=1.8))
    assert f.values["verdict"] == "busy"
    assert "(unreliable: one thread got 0.40 core)" in f.text()
    assert "using 0.50 cores at once against 0.50 for GIL-holding threads" in f.text()
    assert "filled" not in f.text()


def _probe(predict_cores):
    return pd.DataFrame(
        {
            "main_thread_doing": [gil.PROBE_IDLE, gil.PROBE_PREDICT, gil.PROBE_PYTHON],
            "rounds": [1, 1, 1],
            "counter_core_share": [1.0, 0.98, 0.4],
            "process_cores_used": [1.0, predict_cores, 1.05],
        }
    )


def test_probe_findings_follow_the_numbers():
    (f,) = gil.probe_findings(_probe(1.9))
    assert f.key == "probe" and f.text() == (
        "Inside predict the process used 1.90 cores, two threads at once, so the GIL was free; "
        "in pure Python 1.05: one thread at a time."
    )
    (f,) = gil.probe_findings(_probe(1.1))
    assert "used 1.10 cores, too busy a machine to show the overlap" in f.text()
    assert "GIL was free" not in f.text()

"""The GIL experiment: same predictions whatever the parallelism; the probe's measurements."""

import math

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
    note = gil.cores_per_executor_note(runs)
    assert f"{p.loc['threads', 'speedup']:.2f}x" in note


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


def test_notes_follow_the_numbers(runs):
    import pandas as pd

    fake = runs.copy()
    fake["cores_used"] = [1.0, 1.9, None, 1.95, 1.0, 1.0]
    assert "GIL was released" in gil.cores_per_executor_note(fake)
    assert "Careful" not in gil.cores_per_executor_note(fake)
    fake["cores_used"] = [0.4, 0.5, None, 0.6, 0.4, 0.5]
    note = gil.cores_per_executor_note(fake)
    assert "Careful" in note and "does not show the overlap" in note
    probe = pd.DataFrame(
        {
            "main_thread_doing": ["idle", "predict", "python"],
            "rounds": [1, 1, 1],
            "counter_core_share": [1.0, 0.98, 0.4],
            "process_cores_used": [1.0, 1.9, 1.0],
        }
    )
    assert "GIL was free" in gil.probe_note(probe)

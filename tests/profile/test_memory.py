"""Memory profiles: timeline alignment (synthetic), the hierarchy arithmetic, and a real memray
job through the `memory` CLI (its own JVM in a child process)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import exercises
from helpers.core.config import LabError
from helpers.profile import memory as mp

ROOT = Path(__file__).resolve().parents[2]


def _tidy(rows):
    return pd.DataFrame(rows, columns=["t", "source", "layer", "pid", "bytes"])


def test_align_timelines_puts_sources_on_one_axis():
    t0 = 1_000.0
    proc = _tidy([(1000.5, "process", "jvm RSS", 1, 100), (999.9, "process", "jvm RSS", 1, 90)])
    # memray stamps epoch milliseconds; memray_snapshots converts them to seconds
    mem = _tidy([(1_000_250 / 1000, "memray", "Python heap (memray)", 7, 5)])
    out = mp.align_timelines([proc, mem, _tidy([])], t0)
    assert list(out.t) == pytest.approx([-0.1, 0.25, 0.5])
    assert list(out.layer) == ["jvm RSS", "Python heap (memray)", "jvm RSS"]
    assert mp.align_timelines([], t0).empty


def test_on_grid_is_a_step_function():
    tl = _tidy(
        [
            (0.0, "jvm", "JVM heap used", None, 10),
            (0.25, "jvm", "JVM heap used", None, 30),
            (0.1, "memray", "Python heap (memray)", 7, 5),
        ]
    )
    g = mp.on_grid(tl, step=0.1, start=0.0, end=0.3)
    assert list(g.index) == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert list(g["JVM heap used"]) == [10, 10, 10, 30]
    heap = g["Python heap (memray) [7]"]
    assert np.isnan(heap.iloc[0]) and list(heap.iloc[1:]) == [5, 5, 5]
    with pytest.raises(LabError):
        mp.on_grid(tl, step=0)


def _run(timeline, captures, batch=1000, rows=4000, partitions=1, before=0, after=500_000):
    return mp.MemoryRun(
        "map_in_pandas", rows, batch, partitions, 1.0, 0.0, timeline, captures, before, after
    )


def test_layer_peaks_and_hierarchy():
    tl = _tidy(
        [
            (-0.1, "process", "python_worker RSS", 5, 1_000),
            (0.2, "process", "python_worker RSS", 5, 4_000),
            (0.2, "process", "python_worker RSS", 6, 2_000),
            (-0.1, "jvm", "JVM direct pool (NIO)", None, 50),
            (0.3, "jvm", "JVM direct pool (NIO)", None, 150),
            (-0.1, "jvm", "JVM heap used", None, 10),
        ]
    )
    caps = pd.DataFrame({"pid": [5, 5], "seq": [0, 1], "peak_bytes": [300_000, 408_000]})
    peaks = mp.layer_peaks(_run(tl, caps)).set_index("layer")
    # two workers at t=0.2 are summed: 4000 + 2000; before the job only worker 5 existed (1000)
    assert peaks.loc["python_worker RSS", "peak_bytes"] == 6_000
    assert peaks.loc["python_worker RSS", "rise_bytes"] == 5_000
    assert peaks.loc["JVM direct pool (NIO)", "rise_bytes"] == 100
    h = mp.memory_hierarchy(_run(tl, caps)).set_index("layer")
    raw = 1000 * 136
    assert h.iloc[0].bytes == raw and h.attrs["batch_rows"] == 1000
    assert h.loc["Python heap peak (memray, largest task)", "factor_vs_raw"] == pytest.approx(3.0)
    assert h.loc["JVM Arrow allocator peak (this job's peak)", "bytes"] == 500_000
    hh = mp.memory_hierarchy(_run(tl, caps)).reset_index(drop=True)
    assert "Correct" in exercises.check_factor(3.0, hh) and "Not quite" in exercises.check_factor(
        9.0, hh
    )
    # a batch larger than a task's rows is capped at the rows of that task
    assert (
        mp.memory_hierarchy(_run(tl, caps, batch=10_000, rows=4000, partitions=2)).iloc[0].bytes
        == 2000 * 136
    )
    with pytest.raises(LabError):
        mp.memory_hierarchy(mp.MemoryRun("synapseml", 10, None, 1, 1.0, 0.0, tl, caps))


def test_peak_per_worker():
    caps = pd.DataFrame({"pid": [5, 5, 6], "seq": [0, 1, 0], "peak_bytes": [10, 30, 20]})
    w = mp.peak_per_worker(caps).set_index("pid")
    assert w.loc[5, "tasks"] == 2 and w.loc[5, "peak_bytes"] == 30 and w.loc[6, "peak_bytes"] == 20


@pytest.mark.spark  # starts Spark in a child process
def test_memory_cli_real_job(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers",
            "memory",
            "--scenario",
            "map_in_pandas",
            "--rows",
            "4000",
            "--batch-size",
            "1000",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    caps = json.loads((tmp_path / "captures.json").read_text())
    tl = pd.read_csv(tmp_path / "timeline.csv")
    # one memray capture per task; every task ran in a Python worker seen by the process sampler
    assert summary["tasks"] == summary["partitions"] == len(caps["tasks"])
    worker_pids = set(tl.loc[tl.layer == "python_worker RSS", "pid"].astype(int))
    assert {int(w["pid"]) for w in caps["workers"]} <= worker_pids
    assert all(w["peak_bytes"] > 4000 * 136 / summary["partitions"] for w in caps["workers"])
    assert sum(w["tasks"] for w in caps["workers"]) == summary["tasks"]
    peaks = {p["layer"]: p["peak_bytes"] for p in summary["layer_peaks"]}
    for layer in ("JVM heap used", "jvm RSS", "python_worker RSS", "Python heap (memray)"):
        assert peaks[layer] > 0, layer
    assert set(tl.columns) == {"t", "source", "layer", "pid", "bytes"}
    assert tl.t.min() < 0 < tl.t.max()  # baseline before the job, samples after it started


def test_memory_cli_bad_scenario(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "helpers", "memory", "--scenario", "nope", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert (
        out.returncode == 2
        and "Unknown scenario" in out.stderr
        and len(out.stderr.strip().splitlines()) == 1
    )

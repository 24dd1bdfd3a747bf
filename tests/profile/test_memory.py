"""Memory profiles: timeline alignment (synthetic), the hierarchy arithmetic, every findings
branch (hand-made runs and tables), and a real memray job through the `memory` CLI (its own JVM
in a child process)."""

import json
from pathlib import Path
from types import SimpleNamespace

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


MiB = 2**20


def _keys(findings):
    return [f.key for f in findings]


def _hierarchy_timeline():
    return _tidy(
        [
            (-0.1, "process", "python_worker RSS", 5, 1 * MiB),
            (0.2, "process", "python_worker RSS", 5, 5 * MiB),
            (-0.1, "jvm", "JVM direct pool (NIO)", None, 50),
            (0.3, "jvm", "JVM direct pool (NIO)", None, 150),
        ]
    )


def test_hierarchy_findings_one_task_this_jobs_arrow_peak():
    caps = pd.DataFrame({"pid": [5], "seq": [0], "peak_bytes": [3 * 136_000]})
    run = _run(_hierarchy_timeline(), caps, before=0, after=2 * 136_000)
    found = mp.hierarchy_findings(run)
    assert _keys(found) == ["python_heap"]  # the Arrow peak is the table's own row
    (heap,) = found
    assert heap.values["batch_rows"] == 1000
    assert heap.values["raw_mib"] == pytest.approx(136_000 / MiB)
    assert heap.values["heap_factor"] == pytest.approx(3.0)
    assert heap.values["rss_mib"] == pytest.approx(4.0)  # 5 MiB at its peak - 1 MiB before
    assert "3.0× one raw batch" in heap.text() and "1,000 rows" in heap.text()


def test_hierarchy_findings_no_capture_earlier_arrow_peak_several_tasks():
    caps = pd.DataFrame(columns=["pid", "seq", "peak_bytes"])
    run = _run(_hierarchy_timeline(), caps, partitions=2, before=900_000, after=900_000)
    found = mp.hierarchy_findings(run)
    assert _keys(found) == ["no_capture"]
    assert found[0].values["rss_mib"] == pytest.approx(4.0)
    assert "heap peak is unknown" in found[0].text()


def _batch_table(peaks_mib, tasks=(2, 2, 2), workers=(2, 2, 2)):
    raw = [b * 136 for b in (50_000, 1_000, 10_000)]  # unsorted on purpose
    peak = [m * MiB for m in peaks_mib]
    return pd.DataFrame(
        {
            "batch_size": [50_000, 1_000, 10_000],
            "raw_batch_bytes": raw,
            "python_peak_bytes": peak,
            "python_peak_over_raw": [p / r for p, r in zip(peak, raw)],
            "tasks": list(tasks),
            "python_workers": list(workers),
        }
    )


def test_batch_size_findings_fixed_part():
    # peak = 4 MiB + 2 x raw: the intercept is the fixed part
    peaks = [4 + 2 * b * 136 / MiB for b in (50_000, 1_000, 10_000)]
    found = mp.batch_size_findings(_batch_table(peaks))
    assert _keys(found) == ["peak_range", "fixed_part"]
    v = found[0].values
    assert (v["lo"], v["hi"]) == (1000, 50_000) and v["lo_mib"] == pytest.approx(peaks[1])
    assert "From 1,000 to 50,000 rows per batch" in found[0].text()
    assert found[1].values["fixed_mib"] == pytest.approx(4.0)
    assert found[1].values["lo_fixed"] == pytest.approx(4 / peaks[1])
    assert found[1].values["hi_fixed"] == pytest.approx(4 / peaks[0])


@pytest.mark.parametrize("rises, ordered", [((30.0, 2.0, 9.0), True), ((3.0, 12.0, 9.0), False)])
def test_batch_size_findings_rss_rise_in_or_out_of_batch_order(rises, ordered):
    # rises listed for batch sizes 50,000, 1,000, 10,000 (the table's order)
    t = _batch_table([4 + 2 * b * 136 / MiB for b in (50_000, 1_000, 10_000)])
    t["worker_rss_rise_bytes"] = [r * MiB for r in rises]
    found = mp.batch_size_findings(t)
    assert _keys(found) == ["peak_range", "fixed_part", "rss"]
    ordered_rises = ", ".join(f"{r:.1f}" for r in (rises[1], rises[2], rises[0]))
    assert f"rose {ordered_rises} MiB at 1,000, 10,000, 50,000 rows" in found[2].text()
    assert found[2].values["order"] == mp.RSS_ORDER[ordered]
    assert ("not in the order" in found[2].text()) is not ordered


def test_batch_size_findings_no_fixed_part():
    peaks = [2 * b * 136 / MiB - 1 for b in (50_000, 1_000, 10_000)]  # intercept -1 MiB
    found = mp.batch_size_findings(_batch_table(peaks, tasks=(2, 3, 2), workers=(1, 2, 2)))
    assert _keys(found) == ["peak_range", "fixed_part"]
    assert found[1].values["fixed_mib"] == pytest.approx(-1.0)
    assert found[1].values["lo_fixed"] == 0.0 and found[1].values["hi_fixed"] == 0.0
    one = mp.batch_size_findings(_batch_table(peaks).iloc[:1])  # one run: no line to draw
    assert _keys(one) == ["peak_range"]
    with pytest.raises(LabError):
        mp.batch_size_findings(_batch_table(peaks).iloc[:0])


def _scenario_table(pandas_heap, arrow_heap, direct, alloc=17.0, raw=6.5):
    t = pd.DataFrame(
        {"map_in_pandas": [pandas_heap, alloc, direct], "map_in_arrow": [arrow_heap, 16.0, 1.0]},
        index=[mp.PY_HEAP_ROW, "JVM Arrow allocator", "JVM direct pool (NIO)"],
    )
    t.attrs["raw_batch_mib"] = raw
    return t


def test_scenario_findings_every_branch():
    less = mp.scenario_findings(_scenario_table(27.0, 20.0, 1.8))
    assert _keys(less) == ["heap", "meters"]
    assert less[0].values["diff_mib"] == pytest.approx(7.0)
    assert less[0].values["batches"] == pytest.approx(7.0 / 6.5)
    assert less[0].values["verdict"] == mp.HEAP_VERDICT["copy"]
    assert "7.0 MiB below mapInPandas's** (20.0 vs 27.0 MiB)" in less[0].text()
    assert less[1].values["verdict"] == mp.METER_VERDICT["differ"]
    assert {k: less[1].values[k] for k in ("pandas_alloc", "pandas_direct")} == {
        "pandas_alloc": 17.0, "pandas_direct": 1.8
    }  # fmt: skip
    partly = mp.scenario_findings(_scenario_table(27.0, 25.7, 1.8))
    assert partly[0].values["verdict"] == mp.HEAP_VERDICT["part"] and "0.2×" in partly[0].text()
    more = mp.scenario_findings(_scenario_table(20.0, 27.0, 17.0))
    assert more[0].values["verdict"] == mp.HEAP_VERDICT["none"]
    assert "7.0 MiB above" in more[0].text()
    assert more[1].values["verdict"] == mp.METER_VERDICT["close"]
    higher = mp.scenario_findings(_scenario_table(20.0, 27.0, 18.3, alloc=8.5))
    assert higher[1].values["verdict"] == mp.METER_VERDICT["direct_higher"]
    with pytest.raises(LabError, match="map_in_arrow"):
        mp.scenario_findings(_scenario_table(1, 1, 1).drop(columns="map_in_arrow"))


def test_peaks_by_scenario_in_mib_with_missing_layers():
    tl = _tidy(
        [
            (0.1, "process", "python_worker RSS", 5, 2 * MiB),
            (0.1, "process", "python_worker RSS", 6, 3 * MiB),
            (0.2, "jvm", "JVM heap used", None, 8 * MiB),
        ]
    )
    caps = pd.DataFrame({"pid": [5], "seq": [0], "peak_bytes": [1]})
    pandas_run, arrow_run = _run(tl, caps), _run(tl.iloc[:2], caps)
    arrow_run.scenario = "map_in_arrow"
    t = mp.peaks_by_scenario([pandas_run, arrow_run])
    assert list(t.index) == list(mp.SCENARIO_LAYERS) and t.index.name == "peak MiB"
    assert list(t.columns) == ["map_in_pandas", "map_in_arrow"]
    assert t.loc["python_worker RSS", "map_in_pandas"] == 5.0  # two workers at one instant
    assert t.loc["JVM heap used", "map_in_pandas"] == 8.0
    assert np.isnan(t.loc["JVM heap used", "map_in_arrow"])
    # the Python heap row is the largest task's memray peak, the meter of memory_hierarchy
    assert t.loc[mp.PY_HEAP_ROW, "map_in_pandas"] == 1 / MiB
    assert t.attrs["raw_batch_mib"] == pytest.approx(1000 * 136 / MiB)
    with pytest.raises(LabError):
        mp.peaks_by_scenario([pandas_run, pandas_run])


def test_versions_line():
    fake = SimpleNamespace(version="9.9.9", sparkContext=SimpleNamespace(master="local[2]"))
    line = mp.versions(fake)
    assert line.startswith("Spark 9.9.9 | pyspark ") and line.endswith("| master local[2]")
    assert "| memray " in line and "| pyarrow " in line


@pytest.mark.spark  # starts Spark in a child process
def test_memory_cli_real_job(cli, tmp_path):
    out = cli(
        "memory",
        "--scenario",
        "map_in_pandas",
        "--rows",
        "4000",
        "--batch-size",
        "1000",
        "--out",
        str(tmp_path),
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
    meters = pd.read_csv(tmp_path / "meters.csv").set_index("spark_metric")
    # Spark's own meter saw the same Python processes as psutil (both sample peaks: same order)
    py = meters.loc["ProcessTreePythonRSSMemory"]
    assert py.kit_peak_bytes > 0 and 0.3 < py.spark_over_kit < 3, meters
    assert meters.loc["JVMHeapMemory"].spark_peak_bytes > 0


def test_meters_side_by_side_sums_python_processes():
    tl = _tidy(
        [
            (0.1, "process", "daemon RSS", 4, 30),
            (0.1, "process", "python_worker RSS", 5, 100),
            (0.2, "process", "python_worker RSS", 5, 120),
            (0.2, "process", "daemon RSS", 4, 30),
            (0.1, "process", "jvm RSS", 3, 900),
            (0.1, "jvm", "JVM heap used", None, 400),
        ]
    )
    spark = pd.DataFrame(
        {
            "executor": ["driver", "driver", "driver", "1"],
            "metric": [
                "ProcessTreePythonRSSMemory",
                "ProcessTreeJVMRSSMemory",
                "JVMHeapMemory",
                "JVMHeapMemory",
            ],
            "bytes": [150, 1000, 500, 1],
        }
    )
    t = mp.meters_side_by_side(_run(tl, pd.DataFrame()), spark).set_index("spark_metric")
    assert t.loc["ProcessTreePythonRSSMemory"].kit_peak_bytes == 150  # 30 + 120 at t = 0.2
    assert t.loc["ProcessTreePythonRSSMemory"].spark_over_kit == 1.0
    assert t.loc["JVMHeapMemory"].spark_peak_bytes == 500  # the driver's, not executor 1's
    assert np.isnan(t.loc["DirectPoolMemory"].spark_peak_bytes)
    assert np.isnan(t.loc["DirectPoolMemory"].kit_peak_bytes)


def test_processes_sampled_at_different_instants_are_summed():
    # two workers whose snapshots never share a timestamp: 10 then 30 (pid 1), 20 (pid 2)
    tl = pd.DataFrame(
        {"t": [0.0, 0.2, 0.1, 0.3], "pid": [1, 1, 2, 2], "bytes": [10, 30, 20, 5], "layer": "h"}
    )
    per_t = mp.summed_over_processes(tl)
    assert per_t.to_dict() == {0.0: 10, 0.1: 30, 0.2: 50, 0.3: 5}  # pid 1 ended at 0.2
    one = pd.DataFrame({"t": [0.0, 0.1], "pid": [7, 7], "bytes": [1, 2], "layer": "h"})
    assert mp.summed_over_processes(one).to_dict() == {0.0: 1, 0.1: 2}

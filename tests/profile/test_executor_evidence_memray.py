"""memray peaks per executor (`profile.executor_evidence`, `profile.memory.read_capture`): what a
collecting task reads from real memray captures in its folder, filing by executor, the job window,
the per-executor aggregation and its files, the CLI table. Pure: no Spark (the cluster run is
tests/profile/test_memray_cluster.py)."""

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from helpers.cli.memory import memray_table
from helpers.core import session
from helpers.profile import executor_evidence
from helpers.profile import memory as mp
from helpers.workers import profiled_daemon

MiB = 2**20
CAPTURE = """
import sys, memray, numpy as np
def hold():
    return [np.ones(2**20 // 8) for _ in range(int(sys.argv[2]))]
with memray.Tracker(sys.argv[1], follow_fork=False):
    kept = hold()
    del kept
"""


def _capture(path, mib):
    """A real memray capture of a process that held `mib` MiB of numpy arrays at its peak."""
    subprocess.run([sys.executable, "-c", CAPTURE, str(path), str(mib)], check=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("exec") / executor_evidence.EXECUTOR_DIR
    d.mkdir()
    _capture(d / "memray-11-0.bin", 4)
    _capture(d / "memray-11-1.bin", 12)
    _capture(d / "memray-12-0.bin", 1)
    (d / "memray-12-1.running").touch()  # a task still recording: its capture is skipped
    (d / "memray-12-1.bin").write_bytes(b"partial")
    (d / "memray-13-0.bin").write_bytes(b"not a capture")  # unreadable: reported, not raised
    (d / "cpu-11-0.collapsed").write_text("# pid=11 seq=0 start=1.0\nmain 5\n")
    return d


def test_read_capture_gives_the_peak_and_the_sites_at_it(folder):
    cap = mp.read_capture(folder / "memray-11-1.bin", top=3)
    assert 12 * MiB <= cap["peak_bytes"] < 14 * MiB
    assert cap["allocations"] >= 12 and cap["end"] >= cap["start"] > 1e9
    site = cap["top_sites"][0]
    assert site["site"].startswith("ones (numpy/") and site["bytes"] >= 12 * MiB
    assert site["allocations"] >= 12 and 0 <= cap["read_s"] < 30
    assert "top_sites" not in mp.read_capture(folder / "memray-11-0.bin")


def test_allocation_sites_group_by_innermost_frame():
    def rec(size, n, frames):
        return SimpleNamespace(size=size, n_allocations=n, stack_trace=lambda k: frames[:k])

    lib = "/x/lib/python3.11/site-packages/numpy/core/numeric.py"
    records = [
        rec(10, 1, [("ones", lib, 191), ("f", "/a/b/c.py", 3)]),
        rec(30, 2, [("ones", lib, 191), ("g", "/a/b/c.py", 9)]),
        rec(25, 5, []),
    ]
    sites = mp.allocation_sites(records, top=2)
    assert sites == [
        {"site": "ones (numpy/core/numeric.py:191)", "bytes": 40, "allocations": 3},
        {"site": mp.NO_PYTHON_FRAME, "bytes": 25, "allocations": 5},
    ]


def test_short_path_and_an_import_that_patches_nothing():
    import pyspark.daemon as d

    before = (getattr(d, "worker_main", None), d.worker)
    assert profiled_daemon.short_path("/v/lib/python3.11/site-packages/pyspark/worker.py") == (
        "pyspark/worker.py"
    )
    assert profiled_daemon.short_path("/t/helpers-ab.zip/helpers/model/cache.py") == (
        "helpers/model/cache.py"
    )
    assert profiled_daemon.short_path("/x/pyspark.zip/pyspark/worker.py") == "pyspark/worker.py"
    assert (getattr(d, "worker_main", None), d.worker) == before


def test_a_collecting_task_reads_finished_captures_where_they_lie(folder, monkeypatch):
    monkeypatch.chdir(folder.parent)
    monkeypatch.delenv("LAB_PROFILE_DIR", raising=False)
    (rec,) = executor_evidence.read_executor_folder(1, iter(()), pause_s=0)
    assert list(rec["files"]) == ["cpu-11-0.collapsed"]
    caps = rec["memray"]
    assert sorted(caps) == [
        "memray-11-0.bin",
        "memray-11-1.bin",
        "memray-12-0.bin",
        "memray-13-0.bin",
    ]
    assert caps["memray-11-1.bin"]["pid"] == 11 and caps["memray-11-1.bin"]["seq"] == 1
    assert caps["memray-11-1.bin"]["top_sites"] and "error" in caps["memray-13-0.bin"]
    json.dumps(caps)  # plain data: it travels back with collect()


def test_captures_are_filed_under_their_executor():
    records = [
        {"index": i, "host": "h", "folder": "/w", "jvm_pid": 1, "files": {}, "memray": m}
        for i, m in [(0, {"a": {"x": 1}}), (1, {"b": {"x": 2}}), (2, {"c": {"x": 3}})]
    ]
    tasks = pd.DataFrame({"index": [0, 1, 2], "executor": ["0", "1", "0"]})
    got = executor_evidence.file_by_executor(records, tasks)
    assert sorted(got["0"].memray) == ["a", "c"] and list(got["1"].memray) == ["b"]


def _cap(pid, seq, start, end, peak, sites=()):
    return {
        "pid": pid,
        "seq": seq,
        "start": start,
        "end": end,
        "peak_bytes": peak,
        "allocations": 10,
        "duration_s": end - start,
        "top_sites": [{"site": s, "bytes": b, "allocations": 1} for s, b in sites],
    }


def _memray_evidence():
    ev0 = executor_evidence.ExecutorEvidence("0", "h", "/w/0", 100)
    ev0.memray = {
        "memray-7-0.bin": _cap(7, 0, 50.0, 51.0, 99 * MiB),  # warm-up, before the window
        "memray-7-1.bin": _cap(7, 1, 100.0, 101.0, 30 * MiB, [("ones (numpy/x.py:1)", 20 * MiB)]),
        "memray-7-2.bin": _cap(7, 2, 101.5, 102.0, 10 * MiB),
        "memray-8-0.bin": {"pid": 8, "seq": 0, "error": "OSError: truncated"},
    }
    ev1 = executor_evidence.ExecutorEvidence("1", "h", "/w/1", 101)
    ev1.memray = {
        "memray-9-0.bin": _cap(9, 0, 100.0, 102.0, 8 * MiB),
        "memray-10-0.bin": _cap(10, 0, 101.0, 103.0, 6 * MiB),  # overlaps 9-0 (two cores)
    }
    ev2 = executor_evidence.ExecutorEvidence("2", "h", "/w/2", 102)  # ran no Python task
    return {"0": ev0, "1": ev1, "2": ev2}


def test_window_and_the_concurrent_bound():
    caps = _memray_evidence()["0"].memray
    in_window = executor_evidence.memray_in_window(caps, 90, 110)
    assert sorted(in_window) == ["memray-7-1.bin", "memray-7-2.bin"]
    assert len(executor_evidence.memray_in_window(caps)) == 3  # the unreadable one never counts
    one_core = list(executor_evidence.memray_in_window(caps, 90, 110).values())
    assert executor_evidence.concurrent_peak(one_core) == (1, 30 * MiB)
    two = list(_memray_evidence()["1"].memray.values())
    assert executor_evidence.concurrent_peak(two) == (2, 14 * MiB)
    assert executor_evidence.concurrent_peak([]) == (0, 0)


def test_per_executor_peaks_and_their_files(tmp_path):
    table = executor_evidence.write_memray_peaks(tmp_path, _memray_evidence(), 90, 110)
    assert list(table.columns) == executor_evidence.MEMRAY_COLUMNS
    t = table.set_index("executor")
    assert list(t.peak_bytes) == [30 * MiB, 8 * MiB, 0]
    assert list(t.tasks) == [2, 2, 0] and list(t.workers) == [1, 2, 0]
    assert t.loc["0", "peak_task"] == "7-1" and t.loc["0", "unreadable"] == 1
    assert t.loc["0", "top_site"] == "ones (numpy/x.py:1)" and t.loc["0", "allocations"] == 20
    assert t.loc["1", "concurrent_tasks"] == 2 and t.loc["1", "concurrent_peak_bytes"] == 14 * MiB
    assert pd.isna(t.loc["2", "peak_task"])
    saved = pd.read_csv(tmp_path / "memray_peaks.csv", dtype={"executor": str})
    assert list(saved.executor) == ["0", "1", "2"] and list(saved.peak_bytes) == list(t.peak_bytes)
    rec = json.loads((tmp_path / "executors" / "0" / "memray-peak.json").read_text())
    assert rec["peak_bytes"] == 30 * MiB and rec["top_sites"][0]["bytes"] == 20 * MiB
    assert [c["seq"] for c in rec["captures"]] == [1, 2]
    assert not list(tmp_path.rglob("*.tmp"))


def test_layout_json_leaves_the_captures_out(tmp_path):
    payload = executor_evidence.write_layout(tmp_path, _memray_evidence())
    assert all("memray" not in e for e in payload["executors"])


def test_memray_conf_on_a_cluster():
    conf = executor_evidence.cluster_memray_conf()
    assert conf["spark.python.daemon.module"] == session.PROFILER_DAEMON
    assert conf["spark.executorEnv.LAB_PROFILE_MODE"] == "memray"
    assert conf["spark.executorEnv.LAB_PROFILE_DIR"] == executor_evidence.EXECUTOR_DIR
    assert conf["spark.executor.processTreeMetrics.enabled"] == "true"
    native = executor_evidence.cluster_memray_conf(native=True)
    assert native["spark.executorEnv.LAB_PROFILE_NATIVE"] == "1"


def test_the_cli_table():
    table = executor_evidence.memray_peaks(_memray_evidence(), 90, 110)
    text = memray_table(json.loads(table.to_json(orient="records")))
    lines = text.splitlines()
    assert lines[0].startswith("memray peaks") and len(lines) == 5
    assert "30.0" in lines[2] and "ones (numpy/x.py:1) 20.0 MiB" in lines[2]
    assert lines[4].split()[:4] == ["2", "0", "0", "0.0"]
    assert memray_table([]).startswith("memray: no executor")
    assert np.isfinite(table.peak_bytes).all()

"""`memory --cluster 2 --memray` for real: memray in the Python workers of two executors whose
Python cannot import the kit except from the shipped zip; each executor's peak comes back through
a collecting Spark job (no executor disk read by the driver); nothing of the cluster survives."""

import json

import psutil
import pytest

from helpers.cli.memory import run_memory_cluster
from helpers.core.processes import is_running


@pytest.mark.spark
def test_memray_peaks_of_two_executors(tmp_path, kitless_executors):
    out = tmp_path / "out"
    summary = run_memory_cluster("map_in_pandas", 8000, 1000, out, 2, memray=True)

    peaks = {r["executor"]: r for r in summary["memray"]}
    assert sorted(peaks) == ["0", "1"]
    for eid, rec in peaks.items():
        assert rec["peak_bytes"] > 0 and rec["tasks"] >= 1 and rec["workers"] >= 1
        assert rec["unreadable"] == 0
        saved = json.loads((out / "executors" / eid / "memray-peak.json").read_text())
        assert saved["peak_bytes"] == rec["peak_bytes"] and saved["top_sites"]
        assert len(saved["captures"]) == rec["tasks"]
    assert len({r["jvm_pid"] for r in peaks.values()}) == 2  # two executor JVMs
    assert (out / "memray_peaks.csv").exists() and (out / "executor_memory.csv").exists()
    assert summary["left_running"] == 0 and len(summary["pids"]) >= 7
    assert not [
        p for p in summary["pids"] if psutil.pid_exists(p) and is_running(psutil.Process(p))
    ]

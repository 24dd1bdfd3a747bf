"""`profile --cluster 2` for real: two executor JVMs on a standalone cluster whose Python cannot
import the kit except from the shipped zip; each executor's Python and JVM stacks come back
through Spark and the shared JFR folder; nothing of the cluster survives."""

import json

import psutil
import pytest

from helpers.cli.profile import run_profile_cluster
from helpers.core.processes import is_running
from helpers.profile.stacks import merge, read_collapsed


@pytest.mark.spark
def test_profile_on_two_executors(tmp_path, kitless_executors):
    out = tmp_path / "out"
    # 20,000 rows per executor: its task thread waits on the worker long enough for JFR's
    # native-method sampler (20 ms, one thread per period) to catch it; at 4,000 one executor
    # often had no sample at all (4.3.0, quiet machine: 0 and 10 samples)
    summary = run_profile_cluster("map_in_pandas", 40_000, out, 2, batch_size=1000)

    assert summary["executors"] == ["0", "1"] and summary["missing_jfr"] == []
    saved = json.loads((out / "executors.json").read_text())["executors"]
    assert len({e["jvm_pid"] for e in saved}) == 2  # two executor JVMs
    per_py, per_jvm = [], []
    for e in saved:
        d = out / "executors" / e["executor"]
        assert e["python_tasks"] >= 1 and e["folder"].endswith("lab-worker-profile")
        assert f"hotspot-pid-{e['jvm_pid']}-" in e["jfr_path"]
        assert e["jfr_path"].startswith(str(out / "shared" / "jfr"))
        per_py.append(read_collapsed(d / "python.collapsed"))
        per_jvm.append(read_collapsed(d / "jvm.collapsed"))
        assert per_py[-1] and per_jvm[-1] and (d / "python.html").exists()
        assert len(list((d / "tasks").iterdir())) == e["python_tasks"]
    assert read_collapsed(out / "python.collapsed") == merge(*per_py)
    assert read_collapsed(out / "jvm.collapsed") == merge(*per_jvm)
    assert any("predict" in s for s in merge(*per_py))  # the model ran in the executors' workers
    for name in ("python.html", "jvm.html", "tasks.csv", "memory.csv", "summary.json"):
        assert (out / name).exists(), name
    assert summary["tasks"] >= 2 and summary["left_running"] == 0
    assert len(summary["pids"]) >= 7  # master, 2 workers, 2 executors, their Python daemons
    assert not [
        p for p in summary["pids"] if psutil.pid_exists(p) and is_running(psutil.Process(p))
    ]

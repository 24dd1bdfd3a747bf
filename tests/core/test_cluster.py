"""LAB_MASTER with a real master URL: a two-worker standalone cluster on 127.0.0.1 (the kit shipped
to the executors as a zip), three paths with parity, and nothing of the cluster left afterwards;
a cluster that cannot start says why in one line and leaves no process."""

import json
import os
import socket
import subprocess
import sys

import psutil
import pytest

from helpers.core import cluster as cluster_mod
from helpers.core.cluster import LocalStandalone
from helpers.core.config import ROOT, LabError
from helpers.core.processes import is_running
from helpers.inference.scenarios import SCENARIOS

NAMES = [n for n in ("pandas_udf", "map_in_arrow", "synapseml") if n in SCENARIOS]
SCRIPT = r"""
import json
from helpers.inference.scenarios import SCENARIOS
from helpers.measure.timing import run_scenario
from helpers.core.session import start_session, stop_session
spark = start_session("cluster-check")
try:
    sc = spark.sparkContext
    out = {"master": sc.master, "parallelism": sc.defaultParallelism}
    for name in [n for n in ("pandas_udf", "map_in_arrow", "synapseml") if n in SCENARIOS]:
        out[name] = run_scenario(spark, name, 20000, batch_size=5000).max_abs_diff
finally:
    stop_session()
print(json.dumps(out))
"""


@pytest.mark.spark  # starts Spark in a child process
def test_paths_agree_on_a_standalone_cluster():
    with LocalStandalone(workers=2, cores=1) as cluster:
        pids = [p.pid for p in cluster.procs]
        assert cluster.status()["aliveworkers"] == 2 and len(pids) == 3
        env = {**os.environ, "LAB_MASTER": cluster.master_url}
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        r = json.loads(out.stdout.strip().splitlines()[-1])
        assert r["master"] == cluster.master_url and r["parallelism"] == 2
        for name in NAMES:
            assert r[name] <= 1e-9, name
        executors = [p for pid in pids for p in psutil.Process(pid).children(recursive=True)]
    assert not [pid for pid in pids if _alive(pid)]
    assert not [p.pid for p in executors if is_running(p)]


def _alive(pid: int) -> bool:
    try:
        return is_running(psutil.Process(pid))
    except psutil.Error:
        return False


def _own_children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_a_taken_port_fails_in_one_line_before_anything_starts():
    before = _own_children()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(LabError, match=f"Port {port} on 127.0.0.1 is taken") as exc:
            with LocalStandalone(workers=2, port=port):
                pass
    assert "\n" not in str(exc.value)
    assert _own_children() == before


def test_missing_java_fails_in_one_line(monkeypatch):
    before = _own_children()
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(LabError, match="Java not found"):
        with LocalStandalone(workers=2):
            pass
    assert _own_children() == before


def test_short_memory_fails_in_one_line():
    before = _own_children()
    with pytest.raises(LabError, match="Not enough memory for 2 workers x 4096g"):
        with LocalStandalone(workers=2, memory="4096g"):
            pass
    assert _own_children() == before
    need = cluster_mod.cluster_memory_bytes(2, "1g")
    assert cluster_mod.require_memory(2, "1g", available=need) == need
    with pytest.raises(LabError, match="fewer workers"):
        cluster_mod.require_memory(2, "1g", available=need - 1)


def test_bad_shapes_are_refused():
    with pytest.raises(LabError, match="workers must be a positive integer"):
        LocalStandalone(workers=0)
    with pytest.raises(LabError, match="memory size"):
        LocalStandalone(memory="lots")

"""LAB_MASTER with a real master URL: a one-worker standalone cluster on 127.0.0.1, three paths with
parity, and nothing of the cluster left afterwards."""

import json
import os
import subprocess
import sys

import psutil
import pytest

from helpers.core.cluster import LocalStandalone
from helpers.core.config import ROOT
from helpers.core.processes import is_running
from helpers.paths.scenarios import SCENARIOS

NAMES = [n for n in ("pandas_udf", "map_in_arrow", "synapseml") if n in SCENARIOS]
SCRIPT = r"""
import json
from helpers.paths.scenarios import SCENARIOS
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
    with LocalStandalone(cores=2) as cluster:
        pids = [p.pid for p in cluster.procs]
        assert cluster.status()["aliveworkers"] == 1
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

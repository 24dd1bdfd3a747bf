"""The per-task cost experiment: the lean daemon's path surgery, the invalidate_caches timing's
set-up, and a real child run with both daemons (structure and parity, never timings)."""

import json
import os
import subprocess
import sys
import zipfile

import pandas as pd
import pytest

from helpers.core import validate
from helpers.core.config import ROOT, LabError
from helpers.lab import taskcost

PROBE = (
    "import json, sys, helpers.workers.lean_daemon as d; removed = d.drop_spark_zips(); "
    "import pyspark; print(json.dumps({'removed': removed, 'file': pyspark.__file__, "
    "'zips_on_path': d.spark_zips(sys.path)}))"
)


def _probe(pythonpath: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([pythonpath, str(ROOT)])}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, cwd="/", timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_lean_daemon_imports_pyspark_from_site_packages():
    entries = taskcost.spark_python_path().split(os.pathsep)
    zips = [e for e in entries if e.endswith(".zip")]
    assert len(zips) == 2 and any("spark-core_" in e for e in entries)  # Spark's own path
    r = _probe(os.pathsep.join(entries))
    assert sorted(r["removed"]) == sorted(zips) and r["zips_on_path"] == []
    assert ".zip" not in r["file"] and r["file"].endswith("pyspark/__init__.py")


def test_lean_daemon_drops_jars_without_python(tmp_path, monkeypatch):
    from helpers.workers import lean_daemon

    classes, mixed = tmp_path / "classes.jar", tmp_path / "mixed.jar"
    with zipfile.ZipFile(classes, "w") as z:
        z.writestr("org/example/A.class", b"\xca\xfe")
    with zipfile.ZipFile(mixed, "w") as z:
        z.writestr("org/example/B.class", b"\xca\xfe")
        z.writestr("kit/mod.py", "")
    missing = str(tmp_path / "gone.jar")
    path = [str(tmp_path), str(classes), str(mixed), missing]
    assert lean_daemon.python_free_jars(path) == [str(classes)]
    monkeypatch.setattr(sys, "path", list(path))
    sys.path_importer_cache[str(classes) + "/org"] = object()
    assert lean_daemon.drop_python_free_jars() == [str(classes)]
    assert sys.path == [str(tmp_path), str(mixed), missing]
    assert not any(k.startswith(str(classes)) for k in sys.path_importer_cache)


def test_lean_daemon_keeps_a_zip_of_another_version(tmp_path):
    fake = tmp_path / "pyspark.zip"
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("pyspark/__init__.py", "")
        z.writestr("pyspark/version.py", '__version__: str = "0.0.1"\n')
    r = _probe(str(fake))
    assert r["removed"] == [] and r["file"] == str(fake / "pyspark" / "__init__.py")


def test_invalidate_cost_setup():
    t = taskcost.invalidate_cost(repeats=3).set_index("imported_from")
    zipped, plain = t.iloc[0], t.iloc[1]
    assert ".zip/pyspark/" in zipped.pyspark_file and zipped.zip_importers >= 2
    assert ".zip" not in plain.pyspark_file and plain.zip_importers == 0
    assert (t.median_ms > 0).all()


def test_parse_partitions_and_slope():
    assert validate.parse_partitions("32, 2") == [2, 32]
    for bad in ("4", "2,x", "0,4", "3,3"):
        with pytest.raises(LabError):
            validate.parse_partitions(bad)
    t = pd.DataFrame(
        {"daemon": ["a", "a", "a"], "partitions": [2, 4, 8], "wall_s": [1.0, 1.2, 1.6]}
    )
    s = taskcost.per_task_seconds(t).iloc[0]
    assert s.per_task_wall_ms == pytest.approx(100.0) and s.wall_s_at_most_tasks == 1.6


@pytest.mark.spark  # starts Spark in a child process
def test_real_child_run_both_daemons():
    t = taskcost.task_overhead_in_child("map_in_pandas", rows=20_000, partitions=(2, 4), repeats=1)
    daemons = set(taskcost.offered_daemons())
    assert len(t) == 2 * len(daemons) and set(t.daemon) == daemons and set(t.partitions) == {2, 4}
    checked = t.dropna(subset=["max_abs_diff"])
    assert (
        list(checked.partitions) == [4] * len(daemons)
        and (checked.max_abs_diff <= 1e-9).all()
        and (t.wall_s > 0).all()
    )
    if "lean" not in daemons:
        return
    stock, lean = (
        t[t.daemon == "stock"].pyspark_file.iloc[0],
        t[t.daemon == "lean"].pyspark_file.iloc[0],
    )
    assert ".zip/pyspark/" in stock and ".zip" not in lean


# ---- findings ----------------------------------------------------------------------------------

CALLS = pd.DataFrame(
    [
        {"imported_from": "pyspark.zip", "pyspark_file": "/s/pyspark.zip/pyspark/__init__.py",
         "zip_importers": 2, "median_ms": 3.25, "min_ms": 3.0},
        {"imported_from": "site-packages", "pyspark_file": "/v/site-packages/pyspark/__init__.py",
         "zip_importers": 0, "median_ms": 0.0042, "min_ms": 0.004},
    ]
)  # fmt: skip


def _tasks(lean_at_8: float, spread: float = 0.02) -> pd.DataFrame:
    stock, lean = "/s/python/lib/pyspark.zip/pyspark/__init__.py", "/v/site-packages/pyspark/x.py"
    walls = [1.0, 1.6, 1.0, lean_at_8]
    return pd.DataFrame(
        {
            "daemon": ["stock", "stock", "lean", "lean"],
            "partitions": [2, 8, 2, 8],
            "wall_s": walls,
            "wall_max_s": [w + spread for w in walls],
            "pyspark_file": [stock, stock, lean, lean],
            "max_abs_diff": [None, 0.0, None, 1e-12],
        }
    )


def test_per_task_noise_band_from_the_repeats_spread():
    s = taskcost.per_task_seconds(_tasks(1.2, spread=0.06)).set_index("daemon")
    assert s.loc["stock", "per_task_wall_ms"] == pytest.approx(100.0)
    assert s.loc["stock", "noise_ms"] == pytest.approx(20.0)  # (60 + 60) ms over 6 partitions
    assert taskcost.per_task_seconds(_tasks(1.2).drop(columns="wall_max_s")).noise_ms.isna().all()


@pytest.mark.parametrize(
    "lean_at_8, spread, key",
    [
        (1.2, 0.02, "saves time"),  # 100 vs 33 ms, noise +-13 ms
        (2.2, 0.02, "was slower"),  # 100 vs 200 ms
        (1.5, 0.06, "inside the noise"),  # 100 vs 83 ms, noise +-40 ms
    ],
)
def test_taskcost_verdict_against_the_noise_band(lean_at_8, spread, key):
    fs = taskcost.taskcost_findings(CALLS, _tasks(lean_at_8, spread), "3.5.9", stacks_share=0.12)
    assert [f.key for f in fs] == ["in_stacks", "daemons"]
    assert fs[0].values["when"] == "at the start of every task" and "12.0%" in fs[0].text()
    assert key in fs[1].values["verdict"]
    assert fs[1].values["stock_ms"] == pytest.approx(100.0)
    assert fs[1].values["lean"] == f"{(lean_at_8 - 1.0) / 6 * 1e3:.0f} ms"
    assert fs[1].values["noise_ms"] == pytest.approx(2 * 2 * spread * 1e3 / 6)


@pytest.mark.parametrize(
    "seconds, verdict",
    [(0.054, "one call per task"), (0.2, "2 workers and the JVM share 2 cores"),
     (0.02, "read the share as a floor")],
)  # fmt: skip
def test_stacks_time_per_task_beside_one_call_alone(seconds, verdict):
    # 12% of `seconds` sampled over 2 tasks, against one call of 3.25 ms alone
    fs = taskcost.taskcost_findings(CALLS, _tasks(1.2), "3.5.9", 0.12, "my_job", seconds, 2)
    assert [f.key for f in fs] == ["in_stacks", "per_task", "daemons"]
    assert verdict in fs[1].values["verdict"] and "alone (3.2 ms)" in fs[1].text()
    assert fs[1].values["per_task_ms"] == pytest.approx(0.12 * seconds / 2 * 1e3)
    assert fs[1].values["ratio"] == pytest.approx(0.12 * seconds / 2 / 3.25e-3)
    # no share (4.2+ calls it only when sys.path changed): nothing to reconcile
    fs = taskcost.taskcost_findings(CALLS, _tasks(1.2), "4.3.0", 0.0, "x", 1.0, 2)
    assert "per_task" not in {f.key for f in fs}


@pytest.mark.parametrize("version,offered", [("3.5.9", True), ("4.1.3", True), ("4.3.0", False)])
def test_lean_daemon_offered_only_where_every_task_invalidates(version, offered):
    assert taskcost.lean_daemon_offered(version) == offered
    assert ("lean" in taskcost.offered_daemons(version)) == offered


def test_taskcost_findings_without_the_lean_daemon():
    fs = taskcost.taskcost_findings(
        CALLS, _tasks(1.2).query("daemon == 'stock'"), "4.3.0", stacks_share=0.0
    )
    assert [f.key for f in fs] == ["in_stacks", "daemons"]
    assert "only when a task changed `sys.path`" in fs[0].text() and "Spark 4.3.0" in fs[0].text()
    text = fs[1].text()
    assert "**100 ms**" in text and "apache/spark#53518" in text and "not run" in text
    assert [f.key for f in taskcost.taskcost_findings(CALLS, _tasks(1.2), "3.5.9")] == ["daemons"]

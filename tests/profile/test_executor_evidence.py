"""Executor-side evidence brought to the driver (`profile.executor_evidence`): the confs, what a
collecting task reads on an executor, filing by executor id, the JFR dumps, merging and the folder
layout. Pure: no Spark (the cluster run is tests/profile/test_executor_evidence_cluster.py)."""

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from helpers.core import session, ship
from helpers.core.config import LabError
from helpers.measure.executor_metrics import stragglers
from helpers.profile import executor_evidence

JFR_FIX = Path(__file__).resolve().parents[1] / "fixtures" / "jfr_samples.json"
MAIN = "main (pyspark/worker.py)"


def _task_file(pid, seq, start, stacks):
    head = f"# pid={pid} seq={seq} start={start:.6f} busy_s=1.0 samples=10 unit=us\n"
    return head + "".join(f"{s} {w}\n" for s, w in stacks.items())


def test_jfr_option_dumps_into_a_folder_at_exit(tmp_path):
    opt = executor_evidence.executor_jfr_option(tmp_path)
    assert opt.startswith("-XX:StartFlightRecording=name=lab,settings=profile,")
    assert f"filename={tmp_path}," in opt and opt.endswith("dumponexit=true")
    with pytest.raises(LabError, match="space or comma"):
        executor_evidence.executor_jfr_option(tmp_path / "a b")


def test_cluster_conf_keeps_files_in_each_executors_working_directory(tmp_path):
    conf = executor_evidence.cluster_profile_conf(tmp_path / "shared")
    assert conf["spark.executorEnv.LAB_PROFILE_DIR"] == executor_evidence.EXECUTOR_DIR  # relative
    assert conf["spark.python.daemon.module"] == session.PROFILER_DAEMON
    assert (tmp_path / "shared" / "jfr").is_dir()
    opts = conf["spark.executor.extraJavaOptions"]
    assert f"filename={(tmp_path / 'shared' / 'jfr').resolve()}," in opts
    assert all(flag in opts for flag in session.ARROW_JAVA_FLAGS)
    assert conf["spark.executor.processTreeMetrics.enabled"] == "true"
    with pytest.raises(LabError, match="relative"):
        session.worker_profiler_conf("cpu", None, executor_dir=str(tmp_path))


def test_a_kit_daemon_gets_the_zip_on_its_path():
    assert session.daemon_path_conf({"spark.python.daemon.module": "pyspark.daemon"}) == {}
    conf = session.daemon_path_conf({"spark.python.daemon.module": session.PROFILER_DAEMON})
    assert conf == {"spark.executorEnv.PYTHONPATH": ship.kit_archive().name}
    mine = {"spark.python.daemon.module": session.PROFILER_DAEMON, session.KIT_PATH_CONF: "x"}
    assert session.daemon_path_conf(mine) == {}
    err = ship.kit_missing_hint(
        RuntimeError(
            "Error while finding module specification for 'helpers.workers.profiled_daemon' "
            "(ModuleNotFoundError: No module named 'helpers')"
        )
    )
    assert "spark.executorEnv.PYTHONPATH=helpers-" in str(err) and "\n" not in str(err)


def test_a_collecting_task_reads_finished_files_of_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / executor_evidence.EXECUTOR_DIR
    folder.mkdir()
    (folder / "cpu-11-0.collapsed").write_text(_task_file(11, 0, 1.0, {MAIN: 5}))
    (folder / "cpu-11-1.running").touch()
    (folder / "PAUSED").touch()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LAB_PROFILE_DIR", raising=False)
    (rec,) = executor_evidence.read_executor_folder(3, iter(()), pause_s=0)
    assert rec["index"] == 3 and rec["folder"] == str(folder)
    assert list(rec["files"]) == ["cpu-11-0.collapsed"]
    assert rec["jvm_pid"] is None or isinstance(rec["jvm_pid"], int)


def test_files_are_filed_under_the_executor_that_ran_the_task():
    records = [
        {"index": i, "host": "h", "folder": f"/w/{e}", "jvm_pid": 100 + int(e), "files": f}
        for i, e, f in [(0, "0", {"a": "x"}), (1, "1", {"b": "y"}), (2, "0", {"c": "z"})]
    ]
    tasks = pd.DataFrame({"index": [0, 1, 2], "executor": ["0", "1", "0"]})
    got = executor_evidence.file_by_executor(records + [{**records[0], "index": 9}], tasks)
    assert sorted(got) == ["0", "1"]
    assert sorted(got["0"].files) == ["a", "c"] and got["1"].jvm_pid == 101


def test_task_window_reads_the_header():
    text = _task_file(1, 0, 100.5, {MAIN: 1})
    assert executor_evidence.file_start(text) == 100.5
    assert executor_evidence.in_window(text, 100, 101)
    assert not executor_evidence.in_window(text, 101, None)
    assert executor_evidence.in_window("no header\n", None, None)
    assert not executor_evidence.in_window("no header\n", 0, None)


def _evidence():
    out = {}
    for eid, pid in (("0", 7), ("1", 8)):
        ev = executor_evidence.ExecutorEvidence(eid, "h", f"/w/{eid}", 1000 + pid)
        ev.files = {
            f"cpu-{pid}-0.collapsed": _task_file(pid, 0, 50.0, {MAIN: 999}),  # warm-up
            f"cpu-{pid}-1.collapsed": _task_file(pid, 1, 100.0, {MAIN: 10, f"{MAIN};f": 5}),
        }
        ev.jvm = {"thread:Executor task launch worker;X.run": 20_000 * (pid - 6)}
        out[eid] = ev
    return out


def test_layout_per_executor_and_merged(tmp_path):
    tasks = pd.DataFrame({"stage": [1], "duration_s": [1.0]})
    payload = executor_evidence.write_layout(tmp_path, _evidence(), 90, 110, tasks)
    for eid in ("0", "1"):
        d = tmp_path / "executors" / eid
        assert (d / "python.collapsed").read_text() == f"{MAIN} 10\n{MAIN};f 5\n"
        assert sorted(p.name for p in (d / "tasks").iterdir()) == [
            f"cpu-{7 + int(eid)}-1.collapsed"
        ]
        assert (d / "jvm.collapsed").exists()
    assert (tmp_path / "python.collapsed").read_text() == f"{MAIN} 20\n{MAIN};f 10\n"
    assert (tmp_path / "jvm.collapsed").read_text().endswith(" 60000\n")
    assert (tmp_path / "tasks.csv").exists()
    saved = json.loads((tmp_path / "executors.json").read_text())
    assert saved == payload and [e["executor"] for e in saved["executors"]] == ["0", "1"]
    assert saved["executors"][0]["python_tasks"] == 1 and saved["executors"][0]["jvm_s"] == 0.02


def test_run_merges_its_executors():
    run = executor_evidence.ClusterRun(1.0, 90, 110, _evidence(), pd.DataFrame(), pd.DataFrame())
    assert run.python == {MAIN: 20, f"{MAIN};f": 10}
    assert sum(run.jvm.values()) == 60_000
    assert sorted(run.per_executor("jvm")) == ["0", "1"]


def test_jfr_dumps_found_by_pid_and_parsed(tmp_path, monkeypatch):
    events = json.loads(JFR_FIX.read_text())["recording"]["events"]
    folder = tmp_path / "jfr"
    folder.mkdir()
    (folder / "hotspot-pid-1007-id-1-2026_12_01_05_10_51.jfr").write_bytes(b"x" * 10)
    (folder / "other.jfr").write_bytes(b"x")
    assert list(executor_evidence.jfr_files(folder)) == [1007]
    assert executor_evidence.jfr_files(tmp_path / "none") == {}
    monkeypatch.setattr(executor_evidence, "jfr_events", lambda path: events)
    ev = _evidence()
    for e in ev.values():
        e.jvm = {}
    t0 = time.monotonic()
    missing = executor_evidence.attach_jvm_stacks(ev, folder, None, None, timeout=1.5)
    assert missing == ["1"] and time.monotonic() - t0 < 5
    assert ev["0"].jfr_path.endswith(".jfr") and ev["0"].jvm
    assert all(s.startswith("thread:") for s in ev["0"].jvm)


def test_wait_for_jfr_returns_once_every_dump_is_steady(tmp_path):
    (tmp_path / "hotspot-pid-5-id-1-x.jfr").write_bytes(b"abc")
    t0 = time.monotonic()
    assert list(executor_evidence.wait_for_jfr(tmp_path, [5, None], timeout=10)) == [5]
    assert time.monotonic() - t0 < 5
    assert os.path.exists(tmp_path / "hotspot-pid-5-id-1-x.jfr")


def _run_with(tasks, memory, missing=()):
    return executor_evidence.ClusterRun(1.0, 90, 110, _evidence(), tasks, memory, list(missing))


def test_findings_over_executors_and_stragglers():
    tasks = pd.DataFrame({"stage": 1, "executor": ["0", "1", "0"], "duration_s": [1.0, 1.1, 3.0]})
    mem = pd.DataFrame(
        {
            "executor": ["0", "1", "0"],
            "metric": ["ProcessTreePythonRSSMemory"] * 2 + ["ProcessTreeJVMRSSMemory"],
            "bytes": [100 * 2**20, 300 * 2**20, 500 * 2**20],
        }
    )
    run = _run_with(stragglers(tasks), mem, ["1"])
    run.evidence["1"].files["cpu-8-2.collapsed"] = _task_file(8, 2, 100.0, {f"{MAIN};[off-cpu]": 5})
    found = executor_evidence.executor_findings(run)
    assert [f.key for f in found] == ["executors", "no_jfr", "tasks"]
    v = found[0].values
    assert (v["off_lo"], v["off_hi"]) == pytest.approx((0.0, 0.25)) and v["executors"] == "0, 1"
    assert v["leaf"] == MAIN and "off-CPU 0% to 25% of their sampled time" in found[0].text()
    assert "Executors 1 left no JFR dump" in found[1].text()
    v = found[2].values
    assert v["executor"] == "0" and v["worst"] == pytest.approx(3 / 1.1) and v["count"] == 1
    assert found[2].text().startswith("1 straggler: the slowest task (3.00 s on executor 0)")
    calm = executor_evidence.executor_findings(
        _run_with(stragglers(tasks.assign(duration_s=1.0)), mem.iloc[:0])
    )
    assert [f.key for f in calm] == ["executors", "tasks"]
    assert calm[-1].values["worst"] == 1.0 and calm[-1].values["executors"] == 2
    assert calm[-1].text().startswith("No straggler:")
    assert all(f.text() for f in found + calm)


def test_executor_charts_draw():
    import matplotlib

    matplotlib.use("Agg")
    from helpers.viz.flamegraph import plot_executor_flames
    from helpers.viz.memory import executor_peaks_bars

    run = _run_with(pd.DataFrame(), pd.DataFrame())
    assert len(plot_executor_flames(run, "python").axes) == 3
    assert len(plot_executor_flames(run, "jvm").axes) == 3
    peaks = pd.DataFrame(
        {"executor": ["0", "1"], "metric": "JVMHeapMemory", "bytes": [2**20, 2**21]}
    )
    fig = executor_peaks_bars(peaks)
    assert "Spark executor metrics" in fig.axes[0].get_title()

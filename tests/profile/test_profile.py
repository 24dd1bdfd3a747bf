"""Profilers: collapsed-stack and JFR-JSON parsing (fixtures recorded from real runs), the frame
classifier, the worker-profiler plumbing, and real profiled jobs (in child processes, so the
shared test session is left alone)."""

import copy
import json
import shutil
from pathlib import Path

import pytest

from helpers import exercises
from helpers.core import env, session
from helpers.core.config import LabError
from helpers.profile import classify, jvm, stacks, worker_profilers
from helpers.viz import flamegraph as flameviz

FIX = Path(__file__).resolve().parents[1] / "fixtures"
PY_FIX = FIX / "python_task.collapsed"  # one real map_in_pandas task, its 14 heaviest stacks
JFR_FIX = FIX / "jfr_samples.json"  # 4 real events from `jfr print --json` (stacks cut to 6 frames)


# ---- collapsed stacks --------------------------------------------------------------------------


def test_parse_python_fixture():
    collapsed = stacks.read_collapsed(PY_FIX)
    assert len(collapsed) == 14
    assert all(s.split(";")[0] == "main (pyspark/worker.py)" for s in collapsed)
    assert sum(collapsed.values()) == 478_848  # microseconds, summed by hand from the file
    assert any("__inner_predict_np2d (lightgbm/basic.py)" in s for s in collapsed)


def test_parse_rejects_bad_lines():
    with pytest.raises(LabError, match="line 2"):
        stacks.parse_collapsed("a;b 3\na;b three\n")
    with pytest.raises(LabError):
        stacks.parse_collapsed("no_weight_here\n")


def test_parse_sums_repeats_and_skips_comments():
    assert stacks.parse_collapsed("# header\na;b 3\n\na;b 4\na 1\n") == {"a;b": 7, "a": 1}


def test_write_read_roundtrip_and_merge(tmp_path):
    s = {"a;b": 5, "a;c": 7}
    stacks.write_collapsed(s, tmp_path / "x.collapsed")
    assert stacks.read_collapsed(tmp_path / "x.collapsed") == s
    assert stacks.merge(s, {"a;b": 1, "d": 2}) == {"a;b": 6, "a;c": 7, "d": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["x.collapsed"]


def test_frame_table_and_dominant_frame():
    s = {"m;f;g": 3_000_000, "m;f": 1_000_000, "m;h;[off-cpu]": 2_500_000}
    t = stacks.frame_table(s).set_index("frame")
    assert t.loc["g", "self_s"] == 3.0 and t.loc["f", "total_s"] == 4.0
    assert t.loc["m", "total_share"] == 1.0
    assert stacks.dominant_frame(s) == "g"
    assert (
        stacks.dominant_frame({"m;h;[off-cpu]": 5, "m;g": 4}) == "g"
    )  # on-CPU only by default
    assert stacks.dominant_frame({"m;h;[off-cpu]": 5, "m;g": 4}, on_cpu_only=False) == "h"
    assert stacks.self_share({"m;h;[off-cpu]": 5, "m;g": 4, "m;k": 12}, "g") == 0.25
    assert exercises.check_dominant_frame("K", {"m;k": 2, "m;g": 1}).startswith("Correct")
    assert exercises.check_dominant_frame("g", {"m;k": 2, "m;g": 1}).startswith("Not quite")
    with pytest.raises(LabError):
        stacks.dominant_frame({})


def test_on_cpu_and_total_share():
    s = {"m;f;g": 3, "m;f;[off-cpu]": 2, "m;h": 5}
    assert stacks.on_cpu(s) == {"m;f;g": 3, "m;h": 5}
    assert stacks.total_share(s, "f") == pytest.approx(0.5)
    assert stacks.total_share(s, "m") == 1.0 and stacks.total_share(s, "x") == 0.0
    assert stacks.total_share({}, "f") == 0.0


def test_tree_weights():
    root = stacks.build_tree({"a;b": 2, "a;c": 3, "d": 1})
    assert (
        root.weight == 6
        and root.children["a"].weight == 5
        and root.children["a"].children["c"].weight == 3
    )


def test_plot_flame_returns_figure():
    import matplotlib

    matplotlib.use("Agg")
    fig = flameviz.plot_flame(stacks.read_collapsed(PY_FIX), "fixture")
    assert len(fig.axes[0].patches) > 10
    empty = flameviz.plot_flame({}, "none")
    assert "no samples" in empty.axes[0].texts[0].get_text()


# ---- JFR ---------------------------------------------------------------------------------------


def _events():
    return json.loads(JFR_FIX.read_text())["recording"]["events"]


def test_event_time_parses_nanoseconds():
    t = jvm.event_time(_events()[0])  # 2026-11-24T02:43:55.690016343Z
    assert t == pytest.approx(1795488235.690016343, abs=1e-6)


def test_parse_jfr_task_threads_leaf_last():
    collapsed = jvm.parse_jfr_events(_events(), native_correction=False)
    assert len(collapsed) == 3  # the rpc-boss event loop thread is not a task thread
    sock = [s for s in collapsed if s.endswith("sun.nio.ch.SocketDispatcher.read0 [native]")]
    assert len(sock) == 1 and sock[0].startswith("thread:Executor task launch worker;")
    # JFR lists frames leaf-first; the collapsed stack is root-first
    assert sock[0].split(";")[-2] == "sun.nio.ch.SocketDispatcher.read"
    arrow = [s for s in collapsed if s.startswith("thread:stdout writer for python;")]
    assert arrow and arrow[0].endswith("org.apache.spark.sql.execution.arrow.LongWriter.setValue")
    assert (
        collapsed[arrow[0]] == 10_000 and collapsed[sock[0]] == 20_000
    )  # profile settings: 10 ms / 20 ms


def test_parse_jfr_keeps_a_task_thread_named_idle():
    """Spark 4.x names a pool thread "Executor task idle worker#N" between tasks; JFR kept that
    name on samples taken while it ran the next task (4.3.0: every job after a chunk rotation)."""
    evs = copy.deepcopy(_events())
    for e in evs:
        th = e["values"].get("sampledThread") or {}
        if (th.get("javaName") or "").startswith("Executor task launch worker"):
            th["javaName"] = "Executor task idle worker#89"
    assert jvm.parse_jfr_events(evs, native_correction=False) == jvm.parse_jfr_events(
        _events(), native_correction=False
    )


def test_parse_jfr_native_correction_and_filters():
    evs = _events()
    all_threads = jvm.parse_jfr_events(evs, threads=None, native_correction=False)
    assert len(all_threads) == 4 and any(s.startswith("thread:rpc-boss-N-N;") for s in all_threads)
    corrected = jvm.parse_jfr_events(evs)
    native_ids = {
        e["values"]["sampledThread"]["javaThreadId"]
        for e in evs
        if e["type"] == "jdk.NativeMethodSample"
    }
    sock = next(s for s in corrected if s.endswith("read0 [native]"))
    assert corrected[sock] == 20_000 * len(native_ids)
    t0 = jvm.event_time(evs[0])
    window = jvm.parse_jfr_events(evs, since=t0 - 0.001, until=t0 + 0.001, threads=None)
    assert len(window) == 1


def test_jfr_options_and_thread_labels():
    (opt,) = jvm.jfr_java_options()
    assert (
        opt.startswith("-XX:StartFlightRecording=")
        and "settings=profile" in opt
        and "name=lab" in opt
    )
    assert (
        jvm.thread_label("Executor task launch worker for task 3.0 in stage 1.0 (TID 7)")
        == "Executor task launch worker"
        == jvm.thread_label("Executor task idle worker#89")  # Spark 4.x, between tasks
    )
    assert jvm.thread_label("stdout writer for /x/bin/python") == "stdout writer for python"


def test_dump_without_jvm_is_a_lab_error():
    with pytest.raises(LabError):
        jvm.dump_jfr(None, "/tmp/x.jfr")


# ---- classifier --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame,side,category",
    [
        ("__inner_predict_np2d (lightgbm/basic.py)", "python", "prediction"),
        ("predict (helpers/model/data.py)", "python", "prediction"),
        ("load_stream (pyspark/sql/pandas/serializers.py)", "python", "serialization"),
        ("loads (pyspark/serializers.py)", "python", "serialization"),
        ("read_int (pyspark/serializers.py)", "python", "socket I/O"),
        ("arrow_to_pandas (pyspark/sql/pandas/serializers.py)", "python", "conversion"),
        ("column_stack (numpy/lib/shape_base.py)", "python", "conversion"),
        ("table_to_dataframe (pyarrow/pandas_compat.py)", "python", "conversion"),
        ("[off-cpu]", "python", "waiting"),
        ("main (pyspark/worker.py)", "python", None),
        (
            "com.microsoft.ml.lightgbm.lightgbmlibJNI.LGBM_BoosterPredictForMatSingle [native]",
            "jvm",
            "prediction",
        ),
        ("org.apache.spark.sql.execution.arrow.ArrowWriter.write", "jvm", "JVM row<->Arrow"),
        ("org.apache.arrow.vector.ipc.ArrowStreamWriter.writeBatch", "jvm", "serialization"),
        ("net.razorvine.pickle.Pickler.dumps", "jvm", "serialization"),
        ("sun.nio.ch.SocketDispatcher.read0 [native]", "jvm", "socket I/O"),
        ("jdk.internal.misc.Unsafe.park [native]", "jvm", "waiting"),
        ("java.util.zip.Inflater.inflateBytesBytes [native]", "jvm", "native/JNI"),
        ("org.apache.spark.scheduler.Task.run", "jvm", None),
        (
            "org.apache.spark.sql.catalyst.expressions.GeneratedClass$SpecificUnsafeProjection.apply",
            "jvm",
            "JVM row<->Arrow",
        ),
        (
            "org.apache.spark.sql.catalyst.expressions.GeneratedClass$GeneratedIteratorForCodegenStage1.processNext",
            "jvm",
            None,
        ),
        ("org.apache.spark.ml.feature.VectorAssembler$.assemble", "jvm", "conversion"),
    ],
)
def test_classify_known_frames(frame, side, category):
    assert classify.classify_frame(frame, side) == category


def test_classify_stack_precedence():
    # NumPy inside LightGBM's predict is prediction; the leaf-most rule otherwise
    assert (
        classify.classify_stack(
            "main (pyspark/worker.py);predict (lightgbm/basic.py);"
            "ascontiguousarray (numpy/core/_asarray.py)"
        )
        == "prediction"
    )
    assert (
        classify.classify_stack(
            "main (pyspark/worker.py);dump_stream (pyspark/sql/pandas/serializers.py);"
            "predict_frames (helpers/inference/scenarios.py)"
        )
        == "conversion"
    )
    assert (
        classify.classify_stack("main (pyspark/worker.py);predict (lightgbm/basic.py);[off-cpu]")
        == "waiting"
    )
    assert classify.classify_stack("main (pyspark/worker.py)") == "other"
    with pytest.raises(ValueError):
        classify.classify_stack("x", "ruby")


def test_categorize_fixture_sums_to_total():
    collapsed = stacks.read_collapsed(PY_FIX)
    cats = classify.categorize(collapsed)
    assert list(cats) == list(classify.CATEGORIES)
    assert sum(cats.values()) == pytest.approx(sum(collapsed.values()) / 1e6)
    assert cats["prediction"] > 0 and cats["waiting"] > 0


def _result(wall=2.0):
    jvm_stacks = jvm.parse_jfr_events(_events(), native_correction=False)
    return worker_profilers.ProfileResult(
        "map_in_pandas", 20_000, 10_000, wall, 2, stacks.read_collapsed(PY_FIX), jvm_stacks, [], 1,
        1,
    )


def test_breakdown_and_split():
    r = _result()
    b = classify.breakdown(r)
    assert b["wall_s"] == 2.0 and b["slots"] == 2
    assert b["python_sampled_s"] == pytest.approx(0.478848)
    assert b["python_coverage"] == pytest.approx(0.478848 / 4.0)
    assert b["jvm"]["prediction"] == pytest.approx(0.02) and b["jvm"][
        "JVM row<->Arrow"
    ] == pytest.approx(0.01)
    for c in classify.CATEGORIES:
        assert b[c] == pytest.approx(b["python"][c] + b["jvm"][c])
    s = classify.split(r)
    assert s["prediction_share"] + s["serialization_share"] + s["conversion_share"] + s[
        "other_share"
    ] == pytest.approx(1.0)
    assert s["on_cpu_s"] + s["waiting_s"] == pytest.approx(0.478848)
    table = classify.breakdown_frame([r])
    assert set(table["side"]) == {"python", "jvm"} and len(table) == 2 * len(classify.CATEGORIES)


# ---- worker profiler plumbing -----------------------------------------------------------------


def test_worker_profiler_conf(tmp_path):
    conf = session.worker_profiler_conf("memray", tmp_path / "w")
    assert conf["spark.python.daemon.module"] == "helpers.workers.profiled_daemon"
    assert conf["spark.executorEnv.LAB_PROFILE_MODE"] == "memray"
    assert conf["spark.executorEnv.LAB_PROFILE_NATIVE"] == "0"
    assert (tmp_path / "w").is_dir()
    with pytest.raises(LabError, match="mode"):
        session.worker_profiler_conf("perf", tmp_path)


def test_collect_reads_headers_and_pause(tmp_path):
    shutil.copy(PY_FIX, tmp_path / "cpu-19888-0.collapsed")
    (tmp_path / "memray-19888-1.bin").write_bytes(b"")
    (tmp_path / "unrelated.txt").write_text("x")
    files = worker_profilers.collect_worker_profiles(tmp_path, timeout=1)
    assert [(f.mode, f.pid, f.seq) for f in files] == [("cpu", 19888, 0), ("memray", 19888, 1)]
    assert files[0].busy_s == pytest.approx(0.492509) and files[0].samples == 50
    assert worker_profilers.python_stacks(files) == stacks.read_collapsed(PY_FIX)
    worker_profilers.pause_workers(tmp_path)
    assert (tmp_path / "PAUSED").exists()
    worker_profilers.pause_workers(tmp_path, False)
    assert not (tmp_path / "PAUSED").exists()
    assert worker_profilers.clear_worker_profiles(tmp_path) == 2
    with pytest.raises(LabError):
        worker_profilers.collect_worker_profiles(tmp_path / "missing")


# ---- real profiled jobs (child processes: their own JVM) ---------------------------------------

PYSPY = env.py_spy_available()[0]


@pytest.mark.spark  # starts Spark in a child process
def test_cli_profile_real_job_has_lightgbm_frames(cli, tmp_path):
    out = cli(
        "profile",
        "--scenario",
        "map_in_pandas",
        "--rows",
        "100000",  # JFR samples a task thread in native code one period in N threads
        "--batch-size",
        "1000",
        "--interval-ms",
        "1",
        "--out",
        str(tmp_path),
        *(["--py-spy"] if PYSPY else []),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (tmp_path / "stdout.txt").write_text(out.stdout)
    py = stacks.read_collapsed(tmp_path / "python.collapsed")
    jvm_stacks = stacks.read_collapsed(tmp_path / "jvm.collapsed")
    assert any("(lightgbm/basic.py)" in s for s in py), "the model's predict frames are sampled"
    assert any("(pyspark/sql/pandas/serializers.py)" in s for s in py)
    assert all(s.startswith("thread:") for s in jvm_stacks) and jvm_stacks
    b = json.loads((tmp_path / "breakdown.json").read_text())
    assert b["wall_s"] > 0 and b["tasks"] >= 1 and b["python"]["prediction"] > 0
    assert set(classify.CATEGORIES) <= set(b)
    assert (tmp_path / "profile.png").stat().st_size > 10_000
    assert "<svg" in (tmp_path / "python.html").read_text() and (tmp_path / "jvm.html").exists()
    if PYSPY:  # the second run, under py-spy --native, sees LightGBM's C++ library
        spy = stacks.read_collapsed(tmp_path / "pyspy.collapsed")
        assert any("(lightgbm/" in s for s in spy) and (tmp_path / "pyspy.html").exists()
        assert 0 < b["pyspy_native_share"] <= 1 and b["pyspy_samples"] > 0


MEMRAY_SCRIPT = """
import sys
from helpers.profile.worker_profilers import collect_worker_profiles, clear_worker_profiles
from helpers.core.session import start_session
from helpers.inference.scenarios import scenario_frame
from helpers.measure.timing import time_noop
from helpers.core.session import stop_session
out = sys.argv[1]
spark = start_session("test_memray", synapseml=False, profile="memray", profile_dir=out)
try:
    clear_worker_profiles(out)
    time_noop(scenario_frame(spark, "map_in_arrow", rows=4000))
    files = collect_worker_profiles(out)
finally:
    stop_session()
print(" ".join(str(f.path) for f in files))
"""


@pytest.mark.spark  # starts Spark in a child process
def test_memray_mode_writes_one_capture_per_task(child, tmp_path):
    from memray import FileReader

    out = child("-c", MEMRAY_SCRIPT, str(tmp_path / "mem"))
    assert out.returncode == 0, out.stderr[-2000:]
    paths = out.stdout.split()
    assert paths and all(Path(p).name.startswith("memray-") and p.endswith(".bin") for p in paths)
    reader = FileReader(paths[0])
    assert reader.metadata.peak_memory > 1_000_000  # a worker task allocates at least the batch
    assert reader.metadata.has_native_traces is False


def test_profiling_needs_a_profiled_session(spark, tmp_path):
    with pytest.raises(LabError, match="profile="):
        worker_profilers.profile_scenario(spark, "map_in_arrow", 1000, tmp_path, tmp_path / "w")


def test_hide_jvm_scaffolding_keeps_weights():
    collapsed = jvm.parse_jfr_events(_events(), native_correction=False)
    hidden = stacks.hide_frames(collapsed, classify.JVM_SCAFFOLDING)
    assert sum(hidden.values()) == sum(collapsed.values())
    assert stacks.hide_frames({"a;x;b": 1, "a;b": 2}, "^x$") == {"a;b": 3}
    assert stacks.hide_frames({"x": 4}, "^x$") == {"x": 4}  # a stack never becomes empty


JFR_SWITCH_SCRIPT = """
import json
from helpers.profile import jvm
from helpers.core.session import jvm_pid, start_session, stop_session
spark = start_session(
    "test_jfr_switch", java_options=jvm.jfr_java_options(), synapseml=False
)
try:
    pid = jvm_pid(spark)
    states = [jvm.recording_running(pid)]
    jvm.set_recording(pid, False)
    states.append(jvm.recording_running(pid))
    o = jvm.jfr_overhead(spark, "map_in_arrow", rows=4000, pairs=1)
    states.append(jvm.recording_running(pid))
finally:
    stop_session()
print(json.dumps({"states": states, "on": o.profiled_s, "off": o.unprofiled_s}))
"""


@pytest.mark.spark  # starts Spark in a child process
def test_jfr_switches_off_and_on_in_one_session(child):
    out = child("-c", JFR_SWITCH_SCRIPT)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    # running at start, off after JFR.stop; jfr_overhead switches it for its runs and leaves it
    # as found
    assert r["states"] == [True, False, False]
    assert len(r["on"]) == len(r["off"]) == 1 and min(r["on"] + r["off"]) > 0

"""What notebook 05 says about profiled runs (`worker_profilers.python_findings`, `jvm_findings`,
`overhead_findings`): every template branch, on small hand-made results. Pure: no Spark."""

import pytest

from helpers.measure.timing import OverheadResult
from helpers.profile import worker_profilers

MAIN = "main (pyspark/worker.py)"
INVALIDATE = f"{MAIN};invalidate_caches (importlib/__init__.py)"
PREDICT = f"{MAIN};predict (lightgbm/basic.py)"
TASK = "thread:Executor task launch worker"
READ0 = f"{TASK};sun.nio.ch.SocketDispatcher.read0 [native]"
ARROW = f"{TASK};org.apache.spark.sql.execution.arrow.ArrowWriter.write"


def _result(scenario="map_in_pandas", python=None, jvm=None, tasks=4, processes=2, files=()):
    return worker_profilers.ProfileResult(
        scenario, 1000, 100, 2.0, 2, python or {}, jvm or {}, list(files), processes, tasks
    )


def python_run(invalidate_us=200_000):
    return _result(
        python={INVALIDATE: invalidate_us, PREDICT: 600_000, f"{MAIN};[off-cpu]": 200_000}
    )


def _keys(findings):
    return [f.key for f in findings]


def test_python_findings_every_branch():
    other = _result("pandas_udf", python={PREDICT: 300_000, f"{MAIN};[off-cpu]": 700_000})
    synapse = _result("synapseml", tasks=2, processes=1)
    synapse.batch_size = None  # no Arrow batches: a few Python task files, no inference
    fs = worker_profilers.python_findings([python_run(), other, synapse], "3.5.9")
    assert _keys(fs) == ["prediction"]
    # busy (on-CPU) time: pandas_udf only predicted; map_in_pandas 0.6 of 0.8 s; waiting of all
    v = fs[0].values
    assert (v["hi_path"], v["lo_path"]) == ("pandas_udf", "map_in_pandas")
    assert (v["hi"], v["lo"]) == pytest.approx((1.0, 0.75))
    assert (v["wait_lo"], v["wait_hi"]) == pytest.approx((0.2, 0.7))
    assert fs[0].text().startswith(
        "**Prediction was 100% to 75% of busy worker time (pandas_udf to map_in_pandas)**; the "
        "workers waited 20% to 70% of sampled time"
    )
    one = worker_profilers.python_findings([python_run()], "4.3.0")
    assert "was 75% of busy worker time (map_in_pandas)**" in one[0].text()
    assert "waited 20% of" in one[0].text()  # one path: one share, not "20% to 20%"
    none = worker_profilers.python_findings([synapse], "3.5.9")
    assert _keys(none) == ["none"]
    assert none[0].text() == "No Python task scored Arrow batches in this run's window (synapseml)."


def test_top_leaves():
    assert worker_profilers.top_leaves(python_run().python) == (
        "`predict (lightgbm/basic.py)` 75% prediction; "
        "`invalidate_caches (importlib/__init__.py)` 25% other"
    )  # the frames with most on-CPU self time, and what they count as
    assert worker_profilers.top_leaves({"m;[off-cpu]": 5}) == "none"


def test_shares_table_tells_reads_from_writes():
    load = f"{MAIN};process (pyspark/worker.py);load_stream (pyspark/sql/pandas/serializers.py)"
    dump = f"{MAIN};process (pyspark/worker.py);dump_stream (pyspark/sql/pandas/serializers.py)"
    r = _result(python={f"{load};[off-cpu]": 300, f"{dump};[off-cpu]": 100, PREDICT: 600})
    row = worker_profilers.shares_table([r, _result("synapseml", tasks=0)]).loc["map_in_pandas"]
    assert (row.wait_read, row.wait_write, row.wait_other) == pytest.approx((0.3, 0.1, 0))
    assert row.prediction == pytest.approx(0.6) and row.sampled_s == pytest.approx(0.001)
    assert worker_profilers.shares_table([_result("synapseml", tasks=0)]).empty


WRITE0 = (
    "thread:stdout writer for python;sun.nio.ch.NioSocketImpl.write;"
    "sun.nio.ch.SocketDispatcher.write;sun.nio.ch.FileDispatcherImpl.write0 [native]"
)
EPOLL = f"{TASK};sun.nio.ch.SelectorImpl.select;sun.nio.ch.EPoll.wait [native]"


def test_jvm_findings_every_branch():
    r = _result(jvm={READ0: 30_000, ARROW: 10_000})
    jni = "thread:Executor task launch worker;com.microsoft.ml.lightgbm.lightgbmlibJNI.X [native]"
    synapse = _result("synapseml", jvm={jni: 30_000, ARROW: 10_000}, tasks=0, processes=0)
    fs = worker_profilers.jvm_findings([r, _result("synapseml"), synapse], "4.3.0")
    assert _keys(fs) == ["jvm_wait_range", "runner"]
    assert fs[0].values == {"lo": 0.75, "hi": 0.75, "span": "75%", "paths": "map_in_pandas"}
    assert "in 75% of their samples" in fs[0].text()  # one path: one share, not "75% to 75%"
    assert fs[1].values["poll"] == 0.0 and fs[1].values["read"] == pytest.approx(0.75)
    # no path with both JFR samples and a Python worker: one sentence says so, never a blank
    none = worker_profilers.jvm_findings([_result("my_job"), synapse], "4.3.0")
    assert _keys(none) == ["none"]
    assert none[0].text() == (
        "No JFR sample shows a task thread feeding a Python worker in this run's window "
        "(my_job, synapseml)."
    )


def test_jvm_findings_name_the_runner_this_run_sampled():
    """3.5: a writer thread blocked in socket writes; 4.x: one task thread waiting in epoll."""
    two = worker_profilers.jvm_findings([_result(jvm={READ0: 20_000, WRITE0: 30_000})], "3.5.9")
    assert _keys(two) == ["jvm_wait_range", "runner"]
    assert "a writer thread (`stdout writer for python`) that blocks" in two[1].text()
    assert two[1].values["read"] == pytest.approx(0.4)
    one = worker_profilers.jvm_findings([_result(jvm={EPOLL: 30_000, ARROW: 10_000})], "4.3.0")
    assert one[1].values["poll"] == pytest.approx(0.75)
    assert "its task thread, which writes ahead" in one[1].text() and "epoll 75%" in one[1].text()
    assert "Spark (4.3.0)" in one[1].text()


def test_overhead_findings_every_branch():
    sampler = OverheadResult("map_in_pandas", 1000, [1.3, 1.35], [1.0, 1.05], 0.05, 2.0)
    jfr = OverheadResult("map_in_pandas", 1000, [1.02, 1.3], [1.0, 1.2])
    fs = worker_profilers.overhead_findings(sampler, jfr)
    assert _keys(fs) == ["sampler_cost", "wall_cost"]
    assert fs[0].values["sampler_share"] == pytest.approx(0.025) and "**" in fs[0].text()
    v = fs[1].values
    assert (v["ratio"], v["noise"]) == pytest.approx((1.3, 0.05))
    assert (v["jfr_ratio"], v["jfr_noise"]) == pytest.approx((1.02, 0.28 / 1.02))
    assert v["verdict"] == "outside the run-to-run noise"
    noisy = OverheadResult("map_in_pandas", 1000, [1.1, 1.5], [1.0, 1.4], 0.05, 2.0)
    assert "no measurable cost" in worker_profilers.overhead_findings(noisy, jfr)[1].text()


def test_job_frame_takes_the_learners_builder():
    seen = []
    build = lambda df: seen.append(df) or "frame"  # noqa: E731
    assert worker_profilers.job_frame(None, "mine", 10, build, df="in") == "frame"
    assert seen == ["in"]
    with pytest.raises(worker_profilers.LabError):
        worker_profilers.job_frame(None, "mine", 10, build="not a function", df="in")


def test_change_findings_see_the_learners_edit():
    copy = f"{MAIN};predict_frames (<cell>);copy (pandas/core/generic.py)"
    before = _result(python={PREDICT: 900_000, INVALIDATE: 100_000})
    after = _result(python={PREDICT: 900_000, INVALIDATE: 100_000, copy: 250_000})
    assert worker_profilers.function_share(after.python, "copy") == pytest.approx(0.2)
    fs = worker_profilers.change_findings(before, after, "copy")
    assert [f.key for f in fs] == ["change"]
    assert {k: fs[0].values[k] for k in ("before", "after")} == pytest.approx(
        {"before": 0.0, "after": 0.2}
    )
    assert fs[0].text() == (
        "**`copy` took 20.0% of sampled worker time after the change, 0.0% before**: the graph "
        "shows the edit; in all 1.00 → 1.25 s (+25%, one run each)."
    )
    tiny = _result(python={PREDICT: 1_000_000, copy: 5_000})
    assert "before**: too small to see;" in worker_profilers.change_findings(
        before, tiny, "copy"
    )[0].text()
    # the edit shows on the stack but the total shrank (one run each): say so
    shrunk = _result(python={PREDICT: 500_000, copy: 250_000})
    (f,) = worker_profilers.change_findings(before, shrunk, "copy")
    assert "the graph shows the edit" in f.text()
    assert "(-25% though the edit added work, one run each)" in f.text()


def test_every_template_is_exercised():
    """Each PROFILE_FINDINGS key comes out of some branch above."""
    runs = [python_run(), _result(jvm={READ0: 30_000})]
    sampler = OverheadResult("map_in_pandas", 1000, [1.3, 1.35], [1.0, 1.05], 0.05, 2.0)
    seen = {
        f.key
        for fs in (
            worker_profilers.python_findings(runs, "3.5.9"),
            worker_profilers.python_findings([_result("synapseml", tasks=0)], "3.5.9"),
            worker_profilers.jvm_findings(runs, "3.5.9"),
            worker_profilers.overhead_findings(sampler, sampler),
            worker_profilers.change_findings(runs[0], runs[0], "copy"),
        )
        for f in fs
    }
    assert seen == set(worker_profilers.PROFILE_FINDINGS)

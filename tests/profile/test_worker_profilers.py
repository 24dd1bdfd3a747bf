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
    assert _keys(fs) == ["prediction_range", "leaves", "no_python", "invalidate_caches"]
    # busy (on-CPU) time: pandas_udf only predicted; map_in_pandas 0.6 of 0.8 s; waiting of all
    v = fs[0].values
    assert (v["hi_path"], v["lo_path"]) == ("pandas_udf", "map_in_pandas")
    assert (v["hi"], v["lo"]) == pytest.approx((1.0, 0.75))
    assert (v["wait_lo"], v["wait_hi"]) == pytest.approx((0.2, 0.7))
    assert "**Prediction was 100% of busy worker time in pandas_udf" in fs[0].text()
    assert fs[1].values["leaves"] == (
        "`predict (lightgbm/basic.py)` 75% prediction; "
        "`invalidate_caches (importlib/__init__.py)` 25% other"
    )  # the frames with most on-CPU self time, and what they count as
    assert fs[2].values == {"scenario": "synapseml", "tasks": 2}
    v = fs[3].values
    assert v["scenario"] == "map_in_pandas" and v["share"] == pytest.approx(0.2)
    assert v["when"] == "at the start of every task" and "**20%**" in fs[3].text()


@pytest.mark.parametrize(
    "version, when",
    [("3.5.9", "at the start of every task"), ("4.3.0", "only when a task changed `sys.path`")],
)
def test_invalidate_caches_small_and_when_this_spark_calls_it(version, when):
    runs = [python_run(invalidate_us=40_000)]  # 40/840 < 5 %
    fs = worker_profilers.python_findings(runs, version)
    assert _keys(fs) == ["prediction_one", "leaves", "invalidate_small"]
    assert fs[2].values["when"] == when and f"Spark {version}" in fs[2].text()
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
    assert _keys(fs) == ["jvm_wait_range", "single_thread", "no_jvm", "jvm_only"]
    assert fs[0].values == {"lo": 0.75, "hi": 0.75, "span": "75%", "paths": "map_in_pandas"}
    assert "in 75% of their samples" in fs[0].text()  # one path: one share, not "75% to 75%"
    assert fs[1].values == pytest.approx({"version": "4.3.0", "poll": 0.0, "read": 0.75})
    assert fs[3].values["prediction"] == pytest.approx(0.75)
    assert "(no Python worker)" in fs[3].text() and "**75%**" in fs[3].text()
    assert "synapseml" in fs[2].text()


def test_jvm_findings_name_the_runner_this_run_sampled():
    """3.5: a writer thread blocked in socket writes; 4.x: one task thread waiting in epoll."""
    two = worker_profilers.jvm_findings([_result(jvm={READ0: 20_000, WRITE0: 30_000})], "3.5.9")
    assert _keys(two) == ["jvm_wait_range", "writer_thread"]
    assert two[1].values["threads"] == "`stdout writer for python`"
    assert two[1].values["read"] == pytest.approx(0.4)
    one = worker_profilers.jvm_findings([_result(jvm={EPOLL: 30_000, ARROW: 10_000})], "4.3.0")
    assert one[1].key == "single_thread" and one[1].values["poll"] == pytest.approx(0.75)
    assert "in epoll 75%" in one[1].text()


def test_overhead_findings_every_branch():
    sampler = OverheadResult("map_in_pandas", 1000, [1.3, 1.35], [1.0, 1.05], 0.05, 2.0)
    jfr = OverheadResult("map_in_pandas", 1000, [1.02, 1.3], [1.0, 1.2])
    fs = worker_profilers.overhead_findings(sampler, jfr)
    assert _keys(fs) == ["sampler_cost", "wall_cost", "jfr_cost"]
    assert fs[0].values["sampler_share"] == pytest.approx(0.025) and "**" in fs[0].text()
    assert fs[1].values == pytest.approx({"ratio": 1.3, "noise": 0.05})
    assert fs[2].values == pytest.approx({"ratio": 1.02, "noise": 0.28 / 1.02})
    noisy = OverheadResult("map_in_pandas", 1000, [1.1, 1.5], [1.0, 1.4], 0.05, 2.0)
    assert worker_profilers.overhead_findings(noisy, jfr)[1].key == "wall_noise"


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
    assert [f.key for f in fs] == ["change_seen", "change_time"]
    assert fs[0].values == pytest.approx({"frame": "copy", "before": 0.0, "after": 0.2})
    assert fs[1].values["change"] == pytest.approx(0.25)
    tiny = _result(python={PREDICT: 1_000_000, copy: 5_000})
    assert worker_profilers.change_findings(before, tiny, "copy")[0].key == "change_unseen"
    # the edit shows on the stack but the total shrank (one run each): say it is noise
    shrunk = _result(python={PREDICT: 500_000, copy: 250_000})
    fs = worker_profilers.change_findings(before, shrunk, "copy")
    assert [f.key for f in fs] == ["change_seen", "change_time_against"]
    assert "read the share, not the width" in fs[1].text()

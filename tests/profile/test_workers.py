"""What notebook 05 says about profiled runs (`workers.python_findings`, `jvm_findings`,
`overhead_findings`): every template branch, on small hand-made results. Pure: no Spark."""

import pytest

from helpers.measure.timing import OverheadResult
from helpers.profile import workers

MAIN = "main (pyspark/worker.py)"
INVALIDATE = f"{MAIN};invalidate_caches (importlib/__init__.py)"
PREDICT = f"{MAIN};predict (lightgbm/basic.py)"
TASK = "thread:Executor task launch worker"
READ0 = f"{TASK};sun.nio.ch.SocketDispatcher.read0 [native]"
ARROW = f"{TASK};org.apache.spark.sql.execution.arrow.ArrowWriter.write"


def _result(scenario="map_in_pandas", python=None, jvm=None, tasks=4, processes=2, files=()):
    return workers.ProfileResult(
        scenario, 1000, 100, 2.0, 2, python or {}, jvm or {}, list(files), processes, tasks
    )


def python_run(invalidate_us=200_000):
    return _result(
        python={INVALIDATE: invalidate_us, PREDICT: 600_000, f"{MAIN};[off-cpu]": 200_000}
    )


def _keys(findings):
    return [f.key for f in findings]


def test_python_findings_every_branch():
    fs = workers.python_findings([python_run(), _result("synapseml", tasks=0, processes=0)], 2)
    assert _keys(fs) == ["off_cpu", "python_path", "no_python", "invalidate_caches"]
    assert fs[0].values == {"cores": 2} and "2 cores" in fs[0].text()
    path = fs[1].values
    assert (path["tasks"], path["processes"]) == (4, 2)
    assert path["sampled_s"] == pytest.approx(1.0)
    # the same shares as the classifier's (and the flame graph's coloured areas)
    assert path["prediction"] == pytest.approx(0.6) and path["other"] == pytest.approx(0.2)
    assert path["waiting"] == pytest.approx(0.2) and path["wait_other"] == pytest.approx(0.2)
    assert path["wait_read"] == 0 and path["wait_write"] == 0 and path["serialization"] == 0
    assert path["leaves"] == (
        "`predict (lightgbm/basic.py)` 75% prediction; "
        "`invalidate_caches (importlib/__init__.py)` 25% other"
    )  # the frames with most on-CPU self time, and what they count as
    assert "**waiting 20%**" in fs[1].text() and "**prediction 60%**" in fs[1].text()
    assert fs[2].values == {"scenario": "synapseml", "tasks": 0, "files": 0}
    assert fs[3].values["scenario"] == "map_in_pandas"
    assert fs[3].values["share"] == pytest.approx(0.2) and "took 20%" in fs[3].text()


def test_python_findings_tell_reads_from_writes():
    load = f"{MAIN};process (pyspark/worker.py);load_stream (pyspark/sql/pandas/serializers.py)"
    dump = f"{MAIN};process (pyspark/worker.py);dump_stream (pyspark/sql/pandas/serializers.py)"
    r = _result(python={f"{load};[off-cpu]": 300, f"{dump};[off-cpu]": 100, PREDICT: 600})
    v = workers.python_findings([r], 2)[1].values
    assert (v["wait_read"], v["wait_write"], v["wait_other"]) == pytest.approx((0.3, 0.1, 0))
    assert "reading from the JVM 30%, writing to it 10%" in workers.python_findings([r])[1].text()


def test_invalidate_caches_only_when_notable():
    fs = workers.python_findings([python_run(invalidate_us=40_000)], 4)  # 40/840 < 5 %
    assert _keys(fs) == ["off_cpu", "python_path"]
    assert workers.top_leaves({"m;[off-cpu]": 5}) == "none"


WRITE0 = (
    "thread:stdout writer for python;sun.nio.ch.NioSocketImpl.write;"
    "sun.nio.ch.SocketDispatcher.write;sun.nio.ch.FileDispatcherImpl.write0 [native]"
)


def test_jvm_findings_every_branch():
    r = _result(jvm={READ0: 30_000, ARROW: 10_000})
    jni = "thread:Executor task launch worker;com.microsoft.ml.lightgbm.lightgbmlibJNI.X [native]"
    synapse = _result("synapseml", jvm={jni: 30_000, ARROW: 10_000}, tasks=0, processes=0)
    fs = workers.jvm_findings([r, _result("synapseml"), synapse])
    assert _keys(fs) == ["jvm_path", "single_thread", "no_jvm", "jvm_only"]
    assert fs[3].values["prediction"] == pytest.approx(0.75)
    assert "(no Python worker)" in fs[3].text() and "**75%**" in fs[3].text()
    v = fs[0].values
    assert v["jvm_s"] == pytest.approx(0.04)
    assert v["leaf"] == "sun.nio.ch.SocketDispatcher.read0 [native]"
    assert v["leaf_share"] == pytest.approx(0.75)
    assert v["leaf_kind"] == "waiting: reading the Python worker's results"
    assert v["waiting"] == pytest.approx(0.75) and v["wait_read"] == pytest.approx(0.75)
    assert v["wait_write"] == 0 and v["socket"] == 0  # a blocked read is waiting, not socket I/O
    assert v["row_arrow"] == pytest.approx(0.25) and v["prediction"] == 0
    assert "**Waiting 75%**: blocked reading the Python worker's results 75%" in fs[0].text()
    assert "synapseml" in fs[2].text()
    writer = f"thread:stdout writer for python;{ARROW.split(';', 1)[1]}"
    two = workers.jvm_findings([_result(jvm={READ0: 30_000, writer: 10_000})])
    assert _keys(two) == ["jvm_path", "writer_thread"]
    assert "`stdout writer for python`" in two[1].text()


def test_jvm_findings_say_write_when_the_widest_leaf_is_a_write():
    """The issue's case: the widest leaf is the writer thread's FileDispatcherImpl.write0 (a
    socket write on JDK 17); the sentence must not call it a read."""
    (f, _) = workers.jvm_findings([_result(jvm={READ0: 20_000, WRITE0: 30_000})])
    v = f.values
    assert v["leaf"] == "sun.nio.ch.FileDispatcherImpl.write0 [native]"
    assert v["leaf_kind"] == "waiting: writing batches to the Python worker"
    assert (v["wait_read"], v["wait_write"], v["waiting"]) == pytest.approx((0.4, 0.6, 1.0))
    assert "blocked writing batches to it 60%" in f.text()
    assert "(60%, waiting: writing batches to the Python worker)" in f.text()


def test_overhead_findings_every_branch():
    sampler = OverheadResult("map_in_pandas", 1000, [1.1, 1.3], [1.0, 1.2], 0.05, 2.0)
    jfr = OverheadResult("map_in_pandas", 1000, [1.02, 1.3], [1.0, 1.2])
    calm = workers.overhead_findings(sampler, jfr, load=1.0, cores=2)
    assert _keys(calm) == ["sampler_cost", "load", "jfr_cost"]
    v = calm[0].values
    assert v["ratio"] == pytest.approx(1.1) and v["change"] == pytest.approx(0.1)
    assert v["median_ratio"] == pytest.approx(1.2 / 1.1)
    assert v["sampler_ms"] == pytest.approx(50) and v["sampler_share"] == pytest.approx(0.025)
    assert "**2.5%**" in calm[0].text() and "+10.0%" in calm[0].text()
    assert calm[1].values == {"load": 1.0, "cores": 2}
    assert calm[2].values["both_change"] == pytest.approx(1.1 * 1.02 - 1)
    assert "+12.2%" in calm[2].text()
    busy = workers.overhead_findings(sampler, jfr, load=3.5, cores=2)
    assert busy[1].key == "load_high" and "noisy" in busy[1].text()

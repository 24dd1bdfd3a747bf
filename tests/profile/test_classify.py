"""The busy-time split as findings (`classify.breakdown_findings`, `batch_findings`): every
template branch, on small hand-made results. Pure: no Spark."""

import pytest

from helpers.profile import classify
from helpers.profile.worker_profilers import ProfileResult

MAIN = "main (pyspark/worker.py)"
PYTHON = {
    f"{MAIN};predict (lightgbm/basic.py)": 600_000,
    f"{MAIN};invalidate_caches (importlib/__init__.py)": 200_000,
    f"{MAIN};[off-cpu]": 200_000,
}
T = "thread:Executor task launch worker"
JNI = "com.microsoft.ml.lightgbm.lightgbmlibJNI.LGBM_BoosterPredictForMatSingle [native]"
JVM = {
    f"{T};{JNI}": 60_000,
    f"{T};org.apache.spark.ml.feature.VectorAssembler.transform": 20_000,
    f"{T};sun.nio.ch.SocketDispatcher.read0 [native]": 20_000,
}


def _result(scenario, python, jvm, tasks, batch_size=10_000):
    return ProfileResult(scenario, 1000, batch_size, 2.0, 2, python, jvm, [], 1, tasks)


def test_breakdown_findings_python_and_jvm_side():
    fs = classify.breakdown_findings(
        [_result("map_in_pandas", PYTHON, {}, 4), _result("synapseml", {}, JVM, 0)]
    )
    assert [f.key for f in fs] == ["prediction", "coverage"]
    # busy time only: 0.6 s predict of 0.8 s on CPU (Python); 0.06 of 0.08 s (JVM, no Python tasks)
    assert fs[0].values["hi"] == pytest.approx(0.75) and fs[0].values["lo"] == pytest.approx(0.75)
    assert "**Prediction took 75% of busy time (" in fs[0].text()  # equal shares: one number
    v = fs[1].values
    assert v["py_lo"] == pytest.approx(0.25) and v["py_hi"] == pytest.approx(0.25)
    assert v["jvm_lo"] == 0 and v["jvm_hi"] == pytest.approx(0.1 / 4) and v["slots"] == 2
    full = {f"{MAIN};predict (lightgbm/basic.py)": 3_000_000}
    one = classify.breakdown_findings(
        [_result("map_in_pandas", full, {f"{T};{JNI}": 3_000_000}, 4)]
    )
    assert [f.key for f in one] == ["prediction", "coverage"]
    assert "(map_in_pandas)**" in one[0].text()
    two = classify.breakdown_findings(
        [_result("map_in_pandas", full, {}, 4), _result("synapseml", {}, JVM, 0)]
    )
    assert "100% to 75% of busy time (map_in_pandas to synapseml)**" in two[0].text()
    with pytest.raises(classify.LabError):
        classify.breakdown_findings([])


def test_jvm_coverage_counts_task_threads_and_names_the_helper_threads():
    writer = "thread:stdout writer for python;java.io.DataOutputStream.write"
    full = {f"{MAIN};predict (lightgbm/basic.py)": 3_000_000}
    jvm = {f"{T};{JNI}": 3_600_000, writer: 2_000_000}  # task threads 90%, writer 50% of 4 s
    fs = classify.breakdown_findings([_result("map_in_pandas", full, jvm, 4)])
    assert [f.key for f in fs] == ["prediction", "coverage"]
    assert fs[1].values["jvm_hi"] == pytest.approx(0.9)
    assert fs[1].text().endswith("90% on JVM task threads, plus 50% on other JVM threads.")
    b = classify.breakdown(_result("map_in_pandas", full, jvm, 4))
    assert b["jvm_coverage"] == pytest.approx(1.4) and b["jvm_task_coverage"] == pytest.approx(0.9)


def test_batch_findings():
    fs = classify.batch_findings(
        [
            _result("map_in_pandas", PYTHON, {}, 4, 100),
            _result("map_in_pandas", PYTHON, {}, 4, 100_000),
        ]
    )
    assert [f.key for f in fs] == ["batch", "batch"]
    assert fs[0].text().startswith("Batch 100: wall 2.00 s, prediction 75%")
    assert fs[1].text().startswith("Batch 100,000:")


# ---- one sample, one category: the leaf-most meaningful frame --------------------------------

W = "thread:stdout writer for python"
SOCKET_WRITE = (
    "java.io.DataOutputStream.write;java.net.Socket$SocketOutputStream.write;"
    "sun.nio.ch.NioSocketImpl.write;sun.nio.ch.NioSocketImpl.implWrite;"
    "sun.nio.ch.SocketDispatcher.write;sun.nio.ch.FileDispatcherImpl.write0 [native]"
)
SOCKET_READ = (
    "java.io.DataInputStream.readInt;java.net.Socket$SocketInputStream.read;"
    "sun.nio.ch.NioSocketImpl.implRead;sun.nio.ch.SocketDispatcher.read0 [native]"
)
LGBM = "predict (lightgbm/basic.py)"
TO_PANDAS = "arrow_to_pandas (pyspark/sql/pandas/serializers.py)"
PASS = f"{MAIN};process (pyspark/worker.py);dump_stream (pyspark/sql/pandas/serializers.py)"


@pytest.mark.parametrize(
    "stack,side,expected",
    [
        # JVM: a thread inside a blocking socket call waits for the Python worker, read or write
        (f"{T};{SOCKET_READ}", "jvm", ("waiting", "read")),
        (f"{W};{SOCKET_WRITE}", "jvm", ("waiting", "write")),
        (f"{T};java.net.SocketInputStream.socketRead0 [native]", "jvm", ("waiting", "read")),
        (f"{W};java.net.SocketOutputStream.socketWrite0 [native]", "jvm", ("waiting", "write")),
        # the same system call on a file is not the socket
        (
            f"{T};java.io.FileOutputStream.write;sun.nio.ch.FileDispatcherImpl.write0 [native]",
            "jvm",
            ("native/JNI", None),
        ),
        (f"{T};java.lang.Object.wait;java.lang.Object.wait0 [native]", "jvm", ("waiting", None)),
        # on-CPU Java code of the socket classes is socket I/O, with its direction
        (f"{W};java.net.Socket$SocketOutputStream.write", "jvm", ("socket I/O", "write")),
        (f"{T};{JNI}", "jvm", ("prediction", None)),
        (  # SynapseML's booster unpacking LightGBM's native library is not prediction
            f"{T};com.microsoft.azure.synapse.ml.lightgbm.booster.LightGBMBooster.score;"
            "com.microsoft.azure.synapse.ml.core.env.NativeLoader.extractNativeLibraries;"
            "java.util.zip.Inflater.inflateBytesBytes [native]",
            "jvm",
            ("native/JNI", None),
        ),
        (
            f"{W};org.apache.spark.sql.execution.arrow.ArrowWriter.write;"
            "org.apache.arrow.vector.BaseFixedWidthVector.handleSafe",
            "jvm",
            ("JVM row<->Arrow", None),
        ),
        # Python: [off-cpu] is waiting; the frame above says on what
        (f"{PASS};[off-cpu]", "python", ("waiting", "write")),
        (
            f"{PASS};func (pyspark/worker.py);predict_batches (helpers/inference/scenarios.py);"
            "load_stream (pyspark/sql/pandas/serializers.py);[off-cpu]",
            "python",
            ("waiting", "read"),
        ),
        (f"{MAIN};read_int (pyspark/serializers.py);[off-cpu]", "python", ("waiting", "read")),
        (f"{PASS};predict (lightgbm/basic.py);[off-cpu]", "python", ("waiting", None)),
        (f"{MAIN};[off-cpu]", "python", ("waiting", None)),
        ("[off-cpu]", "python", ("waiting", None)),
        # on CPU: the leaf-most rule, prediction anywhere, pass-through frames decide nothing
        (f"{MAIN};read_int (pyspark/serializers.py)", "python", ("socket I/O", "read")),
        (f"{PASS};write_int (pyspark/serializers.py)", "python", ("socket I/O", "write")),
        (f"{PASS}", "python", ("serialization", None)),
        (f"{PASS};func (pyspark/worker.py);{LGBM}", "python", ("prediction", None)),
        (f"{PASS};{TO_PANDAS}", "python", ("conversion", None)),
        (MAIN, "python", ("other", None)),
    ],
)
def test_classify_sample(stack, side, expected):
    assert classify.classify_sample(stack, side) == expected
    assert classify.classify_stack(stack, side) == expected[0]


def test_shares_and_io_seconds_add_up():
    stacks = {f"{T};{SOCKET_READ}": 500_000, f"{W};{SOCKET_WRITE}": 300_000, f"{T};{JNI}": 200_000}
    sh = classify.shares(stacks, "jvm")
    assert sh["waiting"] == pytest.approx(0.8) and sh["prediction"] == pytest.approx(0.2)
    assert (sh["wait_read"], sh["wait_write"], sh["wait_other"]) == pytest.approx((0.5, 0.3, 0))
    assert sum(sh[c] for c in classify.CATEGORIES) == pytest.approx(1.0)
    assert classify.io_seconds(stacks, "jvm")[("waiting", "write")] == pytest.approx(0.3)
    assert classify.shares({}, "python")["waiting"] == 0


def test_leaf_table_names_the_category_of_the_widest_leaves():
    stacks = {
        f"{W};{SOCKET_WRITE}": 300,
        f"{T};{SOCKET_READ}": 200,
        f"{T};{JNI}": 100,
    }
    t = classify.leaf_table(stacks, "jvm", top=2)
    assert list(t.frame) == [
        "sun.nio.ch.FileDispatcherImpl.write0 [native]",
        "sun.nio.ch.SocketDispatcher.read0 [native]",
    ]
    assert list(t.kind) == [
        "waiting: writing batches to the Python worker",
        "waiting: reading the Python worker's results",
    ]
    assert t.share.iloc[0] == pytest.approx(0.5)
    on = classify.leaf_table(stacks, "jvm", on_cpu=True)
    assert list(on.frame) == [JNI.split(";")[-1]] and on.share.iloc[0] == 1.0
    assert classify.describe("socket I/O", "read") == "socket I/O (read)"
    assert classify.describe("waiting", None, "python") == "waiting: for a core, the disk or a lock"

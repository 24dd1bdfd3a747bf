"""The busy-time split as findings (`classify.breakdown_findings`, `batch_findings`): every
template branch, on small hand-made results. Pure: no Spark."""

import pytest

from helpers.profile import classify
from helpers.profile.workers import ProfileResult

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
    py, jv = classify.breakdown_findings(
        [_result("map_in_pandas", PYTHON, {}, 4), _result("synapseml", {}, JVM, 0)]
    )
    assert (py.key, jv.key) == ("split_python", "split_jvm")
    v = py.values
    assert v["on_cpu_s"] == pytest.approx(0.8) and v["waiting_s"] == pytest.approx(0.2)
    assert v["prediction"] == pytest.approx(0.75) and v["other"] == pytest.approx(0.25)
    assert v["serialization"] == 0 and v["conversion"] == 0
    assert v["python_coverage"] == pytest.approx(0.25) and v["jvm_coverage"] == 0
    assert "its Python workers" in py.text() and "**75% predicting**" in py.text()
    w = jv.values
    assert w["on_cpu_s"] == pytest.approx(0.08) and w["waiting_s"] == pytest.approx(0.02)
    assert w["prediction"] == pytest.approx(0.75) and w["conversion"] == pytest.approx(0.25)
    assert w["jvm_coverage"] == pytest.approx(0.1 / 4)
    assert "the JVM task threads" in jv.text() and "× 2 slots" in jv.text()


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

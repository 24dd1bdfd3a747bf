"""SynapseML scoring in the JVM: call sites from the bytecode, parity, no Python, JFR buckets."""

import numpy as np
import pandas as pd
import pytest

from helpers import exercises
from helpers.core.config import LabError
from helpers.lab import jni
from helpers.measure.timing import LimitResult
from helpers.profile import classify

JAVAP = """\
Compiled from "X.scala"
public class a.B {
  public void predictForMat(double[], int);
    Code:
       0: aload_0
      39: invokevirtual #323                // Method java/lang/StringBuilder.toString:()Ljava/lang/String;
      76: invokestatic  #878                // Method com/microsoft/ml/lightgbm/lightgbmlib.LGBM_BoosterPredictForMatSingle:([DI)I
      82: invokevirtual #166                // Method a/Utils$.validate:(ILjava/lang/String;)V

  private double[] predScoreToArray(boolean, int);
    Code:
      80: invokedynamic #907,  0            // InvokeDynamic #8:apply$mcDI$sp:()Lscala/Function1;
     103: invokeinterface #468,  2          // InterfaceMethod scala/collection/TraversableOnce.toArray:(Lscala/reflect/ClassTag;)Ljava/lang/Object;
}
"""


def test_parse_javap_calls():
    calls = jni.parse_javap_calls(JAVAP)
    assert list(calls.method) == [
        "predictForMat",
        "predictForMat",
        "predictForMat",
        "predScoreToArray",
    ]
    assert (
        calls.callee.iloc[1]
        == "com.microsoft.ml.lightgbm.lightgbmlib.LGBM_BoosterPredictForMatSingle"
    )
    assert calls.offset.iloc[1] == 76
    assert calls.callee.iloc[3] == "scala.collection.TraversableOnce.toArray"


def test_native_methods():
    text = "  public static final native int LGBM_BoosterPredictForMatSingle(double[], long);\n  public static int other();"
    assert jni.native_methods(text) == {"LGBM_BoosterPredictForMatSingle"}


def test_native_call_sites_from_the_jar():
    sites = jni.native_call_sites()
    natives = set(sites.table.jni_native)
    assert natives == {
        "lightgbmlibJNI.LGBM_BoosterPredictForMatSingle",
        "lightgbmlibJNI.doubleArray_getitem",
    }
    assert sites.calls_per_row == 2
    assert sites.builds_param_string and sites.fast_api_in_lib and not sites.fast_api_used
    assert jni.native_call_sites(num_classes=3).calls_per_row == 4
    with pytest.raises(LabError):
        jni.native_call_sites(num_classes=0)


def test_classify_and_breakdown():
    task = "thread:Executor task launch worker;java.lang.Thread.run;org.apache.spark.executor.Executor$TaskRunner.run"
    stacks = {
        task + ";com.microsoft.azure.synapse.ml.lightgbm.booster.LightGBMBooster.predictForMat;"
        "com.microsoft.ml.lightgbm.lightgbmlibJNI.LGBM_BoosterPredictForMatSingle [native]": 3_000_000,
        task
        + ";org.apache.spark.ml.feature.VectorAssembler$.assemble;java.util.HashMap.get": 500_000,
        task + ";com.microsoft.azure.synapse.ml.lightgbm.booster.LightGBMBooster.predictForMat;"
        "java.lang.StringBuilder.toString": 400_000,
        task + ";org.apache.spark.sql.execution.columnar.LONG$.extract": 100_000,
        "thread:idle;sun.nio.ch.EPoll.wait [native]": 9_000_000,  # not a task thread: dropped
    }
    b = classify.jni_breakdown(stacks).set_index("bucket")
    assert b.loc["native predict (JNI: LGBM_BoosterPredictForMatSingle)", "seconds"] == 3.0
    assert b.loc["native predict (JNI: LGBM_BoosterPredictForMatSingle)", "native_seconds"] == 3.0
    assert b.loc["row -> vector (VectorAssembler, ml.linalg)", "seconds"] == 0.5
    assert b.loc["SynapseML Scala around the call (params string, logging)", "seconds"] == 0.4
    assert b.loc["Spark row pipeline (scan, codegen, noop sink)", "seconds"] == 0.1
    assert b.share.sum() == pytest.approx(1.0)
    with pytest.raises(LabError):
        classify.jni_breakdown({"thread:idle;sun.nio.ch.EPoll.wait [native]": 1})


def test_native_single_row_costs_parity():
    t = jni.native_single_row_costs(rows=300, repeats=1)
    assert len(t) == 4 and (t.us_per_row > 0).all()
    assert (t.dropna(subset=["max_abs_diff"]).max_abs_diff <= 1e-12).all()
    assert t.max_abs_diff.notna().sum() == 3


def test_synapseml_runs_without_python(spark):
    ev = jni.jvm_only_evidence(spark, "synapseml", 3000)
    assert ev.python_operators == [] and "Project" in ev.operators
    # idle reused workers (from other tests) do no per-row work; 0.1 s allows for one exiting
    assert ev.python_cpu_s <= 0.1
    ev2 = jni.jvm_only_evidence(spark, "map_in_arrow", 3000)
    assert ev2.python_operators == ["PythonMapInArrow"]


def test_path_costs_and_tax(spark):
    rows = 3000
    costs = jni.path_costs(spark, rows, ("synapseml",), repeats=1)
    assert list(costs.path) == ["batched predict (in-process, 1 core)", "synapseml"]
    assert costs.max_abs_diff.max() <= 1e-9
    assert not costs.set_index("path").loc["synapseml", "python_worker"]
    limit = LimitResult(rows, 2, 0.01, rows / 0.01, np.zeros(rows))
    tax = jni.jni_tax(costs, limit, jni.native_call_sites(), cores=2)
    assert tax.native_calls_per_row == 2
    assert tax.native_calls_per_s == pytest.approx(2 * tax.rows_per_s)
    assert tax.max_abs_diff <= 1e-9
    assert "Correct" in exercises.check_calls_per_second(tax.native_calls_per_s, tax)
    assert "Not quite" in exercises.check_calls_per_second(tax.native_calls_per_s * 3, tax)
    with pytest.raises(LabError):
        jni.jni_tax(costs[costs.path != "synapseml"], limit, jni.native_call_sites(), cores=2)


def _costs(rps):
    rows = [
        {
            "path": "batched predict (in-process, 1 core)",
            "rows": 100,
            "wall_s": 1.0,
            "rows_per_s": 100.0,
            "cpu_us_per_row": 5.0,
            "python_worker": False,
        }
    ]
    rows += [
        {
            "path": p,
            "rows": 100,
            "wall_s": 100 / r,
            "rows_per_s": r,
            "cpu_us_per_row": 1e6 / r,
            "python_worker": p != "synapseml",
        }
        for p, r in rps.items()
    ]
    return pd.DataFrame(rows)


def test_decision_table_and_ratio():
    costs = _costs({"synapseml": 50.0, "map_in_arrow": 80.0})
    heavy = _costs({"synapseml": 30.0, "map_in_arrow": 20.0})
    limit = LimitResult(100, 2, 0.5, 200.0, np.zeros(100))
    t = jni.decision_table(costs, limit, heavy).set_index("path")
    assert t.winner.sum() == 1 and t.loc["map_in_arrow", "winner"]
    assert t.loc["synapseml", "ratio_to_limit"] == pytest.approx(0.25)
    assert t.loc["synapseml", "synapseml_over_python_heavy"] == pytest.approx(1.5)
    assert t.loc["physical_limit", "ratio_to_limit"] == 1.0
    v = jni.synapseml_vs_python(costs, heavy).set_index("model")
    assert v.loc["heavy", "synapseml_over_python"] == pytest.approx(1.5)
    assert v.loc["light (kit model)", "synapseml_overhead_us_per_row"] == pytest.approx(
        1e6 / 50 - 5
    )


def test_heavy_model_is_cached_and_predicts():
    from helpers.model.data import load_booster

    text = jni.heavy_model_text(num_trees=15, train_rows=2000)
    assert load_booster(text).num_trees() == 15
    assert jni.heavy_model_text(num_trees=15, train_rows=2000) == text


def test_task_sample_counts():
    def ev(kind, thread, t):
        return {"type": kind, "values": {"startTime": t, "sampledThread": {"javaName": thread}}}

    events = [
        ev(
            "jdk.ExecutionSample",
            "Executor task launch worker for task 1.0",
            "2026-11-24T03:00:01.5Z",
        ),
        ev(
            "jdk.NativeMethodSample",
            "Executor task launch worker for task 2.0",
            "2026-11-24T03:00:02Z",
        ),
        ev("jdk.NativeMethodSample", "process reaper", "2026-11-24T03:00:02Z"),
        ev(
            "jdk.ExecutionSample",
            "Executor task launch worker for task 1.0",
            "2026-11-24T03:00:09Z",
        ),
    ]
    from datetime import datetime, timezone

    t0 = datetime(2026, 11, 24, 3, 0, 1, tzinfo=timezone.utc).timestamp()
    assert jni.task_sample_counts(events, t0, t0 + 5) == (1, 1)

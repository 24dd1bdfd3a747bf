"""SynapseML scoring in the JVM: call sites from the bytecode, parity, no Python, JFR buckets."""

import numpy as np
import pandas as pd
import pytest

from helpers import exercises
from helpers.core.config import LabError
from helpers.lab import jni
from helpers.measure import metrics
from helpers.measure.timing import LimitResult
from helpers.profile import classify

# javap -c -p output; the long call lines are joined from parts (ruff's line length).
_SB = "// Method java/lang/StringBuilder.toString:()Ljava/lang/String;"
_PFM = "// Method com/microsoft/ml/lightgbm/lightgbmlib.LGBM_BoosterPredictForMatSingle:([DI)I"
_TO_ARRAY = (
    "// InterfaceMethod scala/collection/TraversableOnce.toArray:"
    "(Lscala/reflect/ClassTag;)Ljava/lang/Object;"
)
JAVAP = f"""\
Compiled from "X.scala"
public class a.B {{
  public void predictForMat(double[], int);
    Code:
       0: aload_0
      39: invokevirtual #323                {_SB}
      76: invokestatic  #878                {_PFM}
      82: invokevirtual #166                // Method a/Utils$.validate:(ILjava/lang/String;)V

  private double[] predScoreToArray(boolean, int);
    Code:
      80: invokedynamic #907,  0            // InvokeDynamic #8:apply$mcDI$sp:()Lscala/Function1;
     103: invokeinterface #468,  2          {_TO_ARRAY}
}}
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
    text = (
        "  public static final native int LGBM_BoosterPredictForMatSingle(double[], long);\n"
        "  public static int other();"
    )
    assert jni.native_methods(text) == {"LGBM_BoosterPredictForMatSingle"}


@pytest.mark.spark  # reads the SynapseML jars that `make setup` downloads
@pytest.mark.synapseml
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
    task = (
        "thread:Executor task launch worker;java.lang.Thread.run;"
        "org.apache.spark.executor.Executor$TaskRunner.run"
    )
    pfm = task + ";com.microsoft.azure.synapse.ml.lightgbm.booster.LightGBMBooster.predictForMat;"
    stacks = {
        pfm + "com.microsoft.ml.lightgbm.lightgbmlibJNI.LGBM_BoosterPredictForMatSingle [native]": (
            3_000_000
        ),
        task
        + ";org.apache.spark.ml.feature.VectorAssembler$.assemble;java.util.HashMap.get": 500_000,
        pfm + "java.lang.StringBuilder.toString": 400_000,
        pfm + "com.microsoft.azure.synapse.ml.core.env.NativeLoader.extractNativeLibraries;"
        "java.util.zip.Inflater.inflateBytesBytes [native]": 200_000,
        task + ";org.apache.spark.sql.execution.columnar.LONG$.extract": 100_000,
        "thread:idle;sun.nio.ch.EPoll.wait [native]": 9_000_000,  # not a task thread: dropped
    }
    b = classify.jni_breakdown(stacks).set_index("bucket")
    assert b.loc["native predict (JNI: LGBM_BoosterPredictForMatSingle)", "seconds"] == 3.0
    assert b.loc["native predict (JNI: LGBM_BoosterPredictForMatSingle)", "native_seconds"] == 3.0
    assert b.loc["row -> vector (VectorAssembler, ml.linalg)", "seconds"] == 0.5
    assert b.loc["SynapseML Scala around the call", "seconds"] == 0.4
    assert b.loc["native library extraction (NativeLoader, first use)", "seconds"] == 0.2
    assert b.loc["Spark row pipeline (scan, codegen, noop sink)", "seconds"] == 0.1
    assert b.share.sum() == pytest.approx(1.0)
    with pytest.raises(LabError):
        classify.jni_breakdown({"thread:idle;sun.nio.ch.EPoll.wait [native]": 1})


def test_native_single_row_costs_parity():
    t = jni.native_single_row_costs(rows=300, repeats=1)
    assert len(t) == 4 and (t.us_per_row > 0).all()
    assert (t.dropna(subset=["max_abs_diff"]).max_abs_diff <= 1e-12).all()
    assert t.max_abs_diff.notna().sum() == 3


@pytest.mark.synapseml
def test_synapseml_runs_without_python(spark):
    ev = jni.jvm_only_evidence(spark, "synapseml", 3000)
    assert ev.python_operators == [] and "Project" in ev.operators
    # idle reused workers (from other tests) do no per-row work; 0.1 s allows for one exiting
    assert ev.python_cpu_s <= 0.1
    ev2 = jni.jvm_only_evidence(spark, "map_in_arrow", 3000)
    assert len(ev2.python_operators) == 1
    assert metrics.operator_matches("MapInArrow", ev2.python_operators[0])


@pytest.mark.synapseml
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
            "rows_per_s_low": 100.0,
            "rows_per_s_high": 100.0,
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
            "rows_per_s_low": r * 0.95,
            "rows_per_s_high": r * 1.05,
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
    assert t.loc["map_in_arrow", "verdict"] == "winner" and t.loc["synapseml", "verdict"] == ""
    assert t.loc["synapseml", "ratio_to_limit"] == pytest.approx(0.25)
    assert t.loc["synapseml", "synapseml_over_python_heavy"] == pytest.approx(1.5)
    assert t.loc["physical_limit", "ratio_to_limit"] == 1.0
    tied = jni.decision_table(_costs({"synapseml": 78.0, "map_in_arrow": 80.0}), limit)
    assert set(tied.set_index("path").verdict[["synapseml", "map_in_arrow"]]) == {"tie (rerun)"}
    # a limit below one core's batched predict (100 rows/s) was disturbed: floored to it
    slow = LimitResult(100, 2, 2.0, 50.0, np.zeros(100), walls=(2.0,))
    above = jni.decision_table(_costs({"synapseml": 50.0, "map_in_arrow": 130.0}), slow)
    a = above.set_index("path")
    assert a.loc["physical_limit", "rows_per_s"] == 100.0
    assert a.loc["map_in_arrow", "verdict"] == "above the limit (noise, rerun)"
    assert a.loc["map_in_arrow", "ratio_to_limit"] == pytest.approx(1.3)
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


# ---- findings: every template branch, from hand-made results (pure) ------------------------------


def _keys(found):
    return [f.key for f in found]


def _sites(builds=True, fast_in_lib=True, fast_used=False):
    table = pd.DataFrame(
        {
            "caller": ["LightGBMBooster.predictForMat", "LightGBMBooster.x"],
            "swig_wrapper": ["lightgbmlib.a", "lightgbmlib.b"],
            "jni_native": ["lightgbmlibJNI.Predict", "lightgbmlibJNI.getitem"],
            "per_row": [1, 3],
        }
    )
    return jni.NativeCallSites(table, 4, builds, fast_in_lib, fast_used, "synapseml.jar")


def test_call_site_findings():
    (f,) = jni.call_site_findings(_sites())
    assert f.key == "calls_per_row" and f.text() == (
        "Per row SynapseML crosses into native code **4 times**; `predictForMat` builds a "
        "parameter string per call; the *Fast* API (parses once) is bundled but unused."
    )
    (f,) = jni.call_site_findings(_sites(False, True, True))
    assert "builds no parameter string" in f.text() and f.text().endswith("is used.")
    (f,) = jni.call_site_findings(_sites(True, False, False))
    assert f.values["fast_api"] == "absent" and f.text().endswith("is not bundled.")


@pytest.mark.synapseml
def test_evidence_findings_and_table():
    syn = jni.JvmOnlyEvidence(
        "synapseml", ["Project", "InMemoryTableScan"], [], ["jvm"], [], 0.0, 3.5, 1.0, 5000
    )
    arrow = jni.JvmOnlyEvidence(
        "map_in_arrow",
        ["PythonMapInArrow", "Scan"],
        ["PythonMapInArrow"],
        ["daemon", "jvm", "python_worker"],
        [11, 12, 13],
        1.25,
        2.0,
        1.0,
        5000,
    )
    found = jni.evidence_findings([syn, arrow])
    assert _keys(found) == ["processes", "processes"]
    assert found[0].text() == (
        "SynapseML LightGBM (JVM, JNI) scored 5,000 rows with 0 Python processes and 0.00 s of "
        "Python CPU; its plan's Python operators: none (`Project → InMemoryTableScan`)."
    )
    assert "3 Python processes and 1.25 s of Python CPU" in found[1].text()
    assert found[1].text().endswith("its plan's Python operators: `PythonMapInArrow`.")
    t = jni.evidence_table([syn, arrow])
    assert list(t.scenario) == ["synapseml", "map_in_arrow"] and "rows" not in t.columns


def _tax(max_abs_diff=0.0):
    return jni.JniTax(
        rows=1000,
        cores=2,
        wall_s=0.5,
        rows_per_s=2000.0,
        native_calls_per_row=2,
        native_calls_per_s=4000.0,
        us_per_row_per_core=1000.0,
        cpu_us_per_row=12.5,
        predict_cpu_us_per_row=2.5,
        limit_rows_per_s=8000.0,
        ratio_to_limit=0.25,
        tax_cpu_us_per_row=10.0,
        max_abs_diff=max_abs_diff,
    )


def test_tax_findings():
    (f,) = jni.tax_findings(_tax())
    assert f.key == "calls_per_s" and f.text() == (
        "SynapseML's 2,000 rows/s on 2 cores made **4,000 JNI calls per second**, 10.0 CPU µs "
        "per row over batched predict, predictions matching the reference."
    )
    (bad,) = jni.tax_findings(_tax(1e-3))
    assert bad.text().endswith("predictions not matching the reference.")
    assert bad.values["max_abs_diff"] == 1e-3


def _single(noop, per_call, fast, batched):
    return pd.DataFrame(
        {
            "call": [jni.CALL_NOOP, jni.CALL_SINGLE, jni.CALL_FAST, jni.CALL_BATCHED],
            "rows": 100,
            "us_per_row": [noop, per_call, fast, batched],
            "max_abs_diff": [None, 0.0, 0.0, 0.0],
        }
    )


def test_single_row_findings():
    found = jni.single_row_findings(_single(0.1, 10.0, 4.0, 0.5))
    assert _keys(found) == ["per_call", "crossing"]
    assert found[0].text() == (
        "One row per call costs 10.0 µs, 20.0× batched predict (0.5 µs); the Fast API, parsing "
        "parameters once, 4.0 µs (6.0 µs saved)."
    )
    assert found[1].text() == (
        "Crossing into C costs 0.10 µs, 1.0% of a one-row call: the tax is mostly the work "
        "behind it, paid per row, not per batch."
    )
    # a Fast API slower than the per-call one saved nothing; a crossing at 80% is the cost
    found = jni.single_row_findings(_single(8.0, 10.0, 11.0, 0.5))
    assert "11.0 µs (0.0 µs saved)" in found[0].text()
    assert "80.0% of a one-row call: the tax is mostly the crossing itself" in found[1].text()


def _prof(native_samples):
    breakdown = pd.DataFrame(
        {
            "bucket": [
                "native predict (JNI: LGBM_BoosterPredictForMatSingle)",
                "row -> vector (VectorAssembler, ml.linalg)",
                "Spark row pipeline (scan, codegen, noop sink)",
            ],
            "seconds": [1.5, 0.25, 0.75],
            "native_seconds": [1.5, 0.0, 0.0],
            "share": [0.6, 0.1, 0.3],
        }
    )
    return jni.JfrScoring(1000, 1.0, {}, breakdown, 240, native_samples, "jvm.jfr")


def test_jfr_findings():
    (f,) = jni.jfr_findings(_prof(75))
    assert f.key == "buckets" and f.values["samples"] == "many"
    assert f.text() == (
        "Of 2.50 s of task-thread samples (240 Java, 75 native), **60%** was in "
        "`LGBM_BoosterPredictForMatSingle` and 10.0% in row → vector."
    )
    (f,) = jni.jfr_findings(_prof(0))
    assert f.values["samples"] == "none" and "(240 Java, 0 native)" in f.text()
    assert "an unmeasured share (score more rows) was in" in f.text()
    (f,) = jni.jfr_findings(_prof(5))  # a share from 5 samples is not bolded as a number
    assert f.values["samples"] == "few" and "5 native" in f.text()
    assert "**" not in f.text() and "about 60% (rough: few native samples)" in f.text()


def _versus(r_light, r_heavy):
    return pd.DataFrame(
        {
            "model": ["light (kit model)", "heavy"],
            "predict_cpu_us_per_row": [2.0, 40.0],
            "synapseml_overhead_us_per_row": [10.0, 11.0],
            "python_overhead_us_per_row": [3.0, 3.5],
            "synapseml_over_python": [r_light, r_heavy],
        }
    )


def test_versus_findings():
    (f,) = jni.versus_findings(_versus(0.5, 1.2))
    assert f.key == "trend" and f.text() == (
        "SynapseML's rows/s relative to mapInArrow went from 0.50× with the kit's model to 1.20× "
        "with the heavy one: it overtook mapInArrow in this run."
    )
    assert "it gained ground in" in jni.versus_findings(_versus(0.5, 0.8))[0].text()
    assert "it gained no ground" in jni.versus_findings(_versus(0.8, 0.5))[0].text()
    assert jni.versus_findings(_versus(1.2, 1.1))[0].values["direction"] == "no_gain"


def _table(verdicts, rps=(3000.0, 2000.0), ratios=(0.375, 0.25)):
    return pd.DataFrame(
        {
            "path": ["map_in_arrow", "synapseml", "physical_limit"],
            "rows_per_s": [*rps, 8000.0],
            "rows_per_s_low": [rps[0] * 0.9, rps[1] * 0.9, 8000.0],
            "rows_per_s_high": [rps[0] * 1.1, rps[1] * 1.1, 8000.0],
            "ratio_to_limit": [*ratios, 1.0],
            "cpu_us_per_row": [6.0, 12.5, 2.5],
            "overhead_cpu_us_per_row": [3.5, 10.0, 0.0],
            "python_worker": [True, False, False],
            "verdict": [*verdicts, ""],
        }
    )


def test_decision_findings():
    found = jni.decision_findings(_table(["winner", ""]), _single(0.1, 10.0, 4.0, 0.5))
    assert _keys(found) == ["verdict", "synapseml_gap"]
    assert found[0].text() == (
        "**map_in_arrow** ran the most rows/s among the Spark paths, 3,000 (0.38x the limit): "
        "the winner, its slowest run ahead of every other path's fastest."
    )
    assert found[1].text() == (
        "SynapseML ran 2,000 rows/s, 10.0 µs per row over batched predict: one call per row "
        "parsing its parameters (section 3: 10.0 µs, Fast API 4.0)."
    )
    tie = _table(["tie (rerun)", "tie (rerun)"], rps=(2100.0, 2000.0))
    found = jni.decision_findings(tie, _single(0.1, 10.0, 11.0, 0.5))
    assert found[0].values["top_verdict"] == "tie (rerun)"
    assert "no winner, its spread overlaps synapseml's; rerun" in found[0].text()
    assert "(section 3: 10.0 µs, Fast API 11.0)" in found[1].text()
    above = _table(["above the limit (noise, rerun)", ""], ratios=(1.31, 0.25))
    (top, _) = jni.decision_findings(above, _single(0.1, 10.0, 4.0, 0.5))
    assert "(1.31x the limit): no winner, above 1.0 is noise in a run" in top.text()
    # the sentence follows the fastest path, wherever it sits in the table
    flipped = _table(["", "winner"], rps=(2000.0, 3000.0))
    assert jni.decision_findings(flipped, _single(0.1, 10.0, 4.0, 0.5))[0].values["top"] == (
        "synapseml"
    )


def test_every_phrase_has_a_case():
    """Each folded template's phrase table has exactly the branches the tests above exercise."""
    assert set(jni.CALL_SITE_FAST) == {"used", "unused", "absent"}
    assert set(jni.JFR_NATIVE) == {"many", "few", "none"}
    assert set(jni.VERSUS_TREND) == {"overtook", "gained", "no_gain"}
    assert set(jni.DECISION_VERDICT) == {
        "winner",
        "tie (rerun)",
        "above the limit (noise, rerun)",
    }
    assert set(jni.TAX_PARITY) == set(jni.SINGLE_ROW_CULPRIT) == {True, False}


def test_not_here_findings_name_this_line_and_the_one_that_runs_it():
    from helpers.core.lines import LINES

    (f,) = jni.not_here_findings()
    assert f.key == "no_synapseml" and f"has no {jni.LINE.label} build" in f.text()
    other = next(x.label for x in LINES.values() if x.synapseml)
    assert f.text().endswith(f"the {other} kernel runs it.")

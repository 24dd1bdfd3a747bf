"""Spark 4.x levers (notebook 10): findings' branches from made-up tables (pure), bad input, and on
a running Spark the conf registry and the plan facts (values and parity, never timings)."""

import pandas as pd
import pytest

from helpers.core.config import LabError
from helpers.lab import levers


def _lever_table(defined: bool) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "lever": lv,
                "key": key,
                "defined": defined,
                "default": "x" if defined else None,
                "since": "4.1.0" if defined else None,
            }
            for lv, key in levers.LEVERS.items()
        ]
    )


def test_lever_findings_both_branches():
    (present,) = levers.lever_findings(_lever_table(True), "compression", "4.3.0")
    assert present.key == "lever" and present.text() == (
        "Spark 4.3.0's conf registry defines `spark.sql.execution.arrow.compression.codec`: this "
        "section measures Arrow IPC compression between the JVM and Python here."
    )
    (absent,) = levers.lever_findings(_lever_table(False), "pipelined", "3.5.9")
    assert absent.key == "lever" and absent.text() == (
        "Spark 3.5.9's conf registry has no `spark.python.udf.pipelined.enabled`: this section "
        "cannot measure the pipelined runner here."
    )


def test_unknown_lever_and_source_are_one_line_errors():
    with pytest.raises(LabError, match="use one of"):
        levers.lever_defined(_lever_table(True), "turbo")
    with pytest.raises(LabError, match="use one of"):
        levers.source_frame(None, "hdfs", 10)


def test_unknown_codec_is_refused_before_spark_is_touched():
    with pytest.raises(LabError, match="Unknown codec"):
        levers.compression_sweep(None, codecs=("gzip",))


def test_runner_findings():
    t = pd.DataFrame(
        [
            {"runner": "default", "scenario": "pandas_udf", "rows": 100, "wall_s": 2.0,
             "rows_per_s": 50.0, "max_abs_diff": 0.0},
            {"runner": "pipelined", "scenario": "pandas_udf", "rows": 100, "wall_s": 1.0,
             "rows_per_s": 100.0, "max_abs_diff": 1e-6},
        ]
    )  # fmt: skip
    f = levers.runner_findings(t)
    assert [x.key for x in f] == ["speed", "parity"]
    assert f[0].values["ratio"] == pytest.approx(2.0)
    assert f[1].text() == (
        "Both runners: largest difference from the in-process reference 1.0e-06, over the 1e-09 "
        "tolerance."
    )
    t["max_abs_diff"] = 0.0
    assert levers.runner_findings(t)[1].values["verdict"] == "within"


def test_compression_findings():
    t = pd.DataFrame(
        {
            "codec": ["none", "zstd"],
            "sent_bytes": [1000.0, 500.0],
            "returned_bytes": [10.0, 10.0],
            "jvm_cpu_s": [1.0, 1.5],
            "python_cpu_s": [2.0, 2.5],
            "max_abs_diff": [0.0, 0.0],
        }
    )
    f = levers.compression_findings(t)
    assert [x.key for x in f] == ["sent", "parity"]
    assert f[0].text() == (
        "Bytes sent to the workers (Spark's metric) against `none`'s 1,000: `zstd` 0.500x; JVM / "
        "worker CPU per run: `none` 1.00 / 2.00 s, `zstd` 1.50 / 2.50 s."
    )
    assert f[1].values["verdict"] == "within"


def _columnar_row(on, columnar, rps, error=None, scenario="pandas_udf"):
    return {
        "source": "parquet_scan", "scenario": scenario, "columnar_input": on,
        "operator": "ArrowEvalPython", "columnar": columnar, "child": "FileScan parquet",
        "column_to_row": not columnar, "source_node": "FileScan", "wall_s": 1.0,
        "rows_per_s": rps, "max_abs_diff": None if error else 0.0, "error": error,
        "batches_per_task": 1,
    }  # fmt: skip


def test_columnar_findings_branches():
    t = pd.DataFrame([_columnar_row(True, True, 120.0), _columnar_row(False, False, 100.0)])
    f = levers.columnar_findings(t)
    assert [x.key for x in f] == ["input", "parity"]
    assert f[0].values["ratio"] == pytest.approx(1.2)
    assert "`ArrowEvalPython` took columnar batches from `FileScan parquet`" in f[0].text()
    t.loc[0, "columnar"] = False  # e.g. MapInArrow: rows with the conf on too
    assert "took rows from" in levers.columnar_findings(t)[0].text()
    t = pd.DataFrame(
        [
            _columnar_row(True, True, None, error="java.lang.IndexOutOfBoundsException: index 0"),
            _columnar_row(False, False, 100.0),
        ]
    )
    f = levers.columnar_findings(t)
    assert f[0].key == "failed" and f[0].text() == (
        "`pandas_udf` over parquet_scan with columnar input on failed with 1 Arrow batch(es) per "
        "task: java.lang.IndexOutOfBoundsException: index 0; one batch per task is this run."
    )
    assert f[-1].key == "parity" and f[-1].values["verdict"] == "within"


@pytest.mark.parametrize(
    "one_error, outcome",
    [(None, "it ran: the failure needs a second batch"), ("java.lang.X: y", "failed as well")],
)
def test_a_failure_retried_with_one_batch_per_task(one_error, outcome):
    err = "java.lang.IndexOutOfBoundsException: index: 0, length: 1 (expected: range(0, 0))"
    retried = dict(batches_per_task=10, one_batch_rows=100_000, one_batch_error=one_error)
    t = pd.DataFrame([{**_columnar_row(True, True, None, error=err), **retried},
                      {**_columnar_row(False, False, None, error=err), **retried}])  # fmt: skip
    f = levers.columnar_findings(t)
    assert [x.key for x in f] == ["failed", "failed", "parity"]
    assert "with 10 Arrow batch(es) per task: " in f[0].text()
    assert "; with one (maxRecordsPerBatch=100,000) it " in f[0].text()
    assert outcome in f[0].text() and ("java.lang.X: y" in f[0].text()) == bool(one_error)


def test_error_line_picks_the_exception():
    exc = RuntimeError("Job aborted.\n  at org.x.Y\njava.lang.IndexOutOfBoundsException: idx 5\n")
    assert levers._error(exc) == "java.lang.IndexOutOfBoundsException: idx 5"
    wrapped = RuntimeError(
        ": org.apache.spark.SparkException: Exception thrown in awaitResult:\n"
        "Caused by: org.apache.spark.SparkException: Job aborted due to stage failure: Lost task "
        "(TID 4): java.lang.IndexOutOfBoundsException: index: 0, length: 1 (expected: range(0, 0))"
    )
    assert levers._error(wrapped) == (
        "java.lang.IndexOutOfBoundsException: index: 0, length: 1 (expected: range(0, 0))"
    )
    assert levers._error(RuntimeError("plain")) == "RuntimeError: plain"


def test_udf_seconds_counts_stacks_through_the_user_function():
    stacks = {
        "main (pyspark/worker.py);predict_series (helpers/inference/scenarios.py);predict (x)": 3e6,
        "main (pyspark/worker.py);load_stream (pyspark/sql/pandas/serializers.py)": 1e6,
        "main (pyspark/worker.py);predict_series_other (y.py)": 5e6,
    }
    assert levers.udf_seconds(stacks, "predict_series") == 3e6


def test_profiler_comparison_shares_and_findings():
    c = levers.ProfilerComparison(
        "pandas_udf", 100, 1.0, worker_cpu_s=4.0, builtin_s=1.0, kit_on_cpu_s=3.0,
        udf_on_cpu_s=2.0, kit_categories={"prediction": 1.5, "serialization": 1.0},
    )  # fmt: skip
    assert c.kit_share == pytest.approx(0.75) and c.udf_share == pytest.approx(0.5)
    assert c.table()["share_of_worker_cpu"].tolist() == pytest.approx([1.0, 0.75, 0.5, 0.25])
    (f,) = levers.profiler_findings(c)
    assert f.key == "shares" and f.text().startswith(
        "`predict_series` held 2.00 s (50%) of the workers' 4.00 CPU seconds on `pandas_udf`"
    )
    assert f.text().endswith("the built-in profiler wraps only its calls, no Arrow "
                             "(de)serialization or socket reads.")  # fmt: skip
    c.scenario = "map_in_pandas"  # an iterator UDF: the profiler times each next()
    assert "each `next()` of its generator" in levers.profiler_findings(c)[0].text()


def test_as_job_takes_a_name_a_scenario_or_the_learners_function():
    def my_job(df, model):
        return df

    sc = levers.as_job(my_job)
    assert sc.name == "my_job" and sc.build is my_job and sc.operator == "ArrowEvalPython"
    assert levers.as_job("map_in_arrow").name == "map_in_arrow"
    assert levers.as_job(sc) is sc
    with pytest.raises(LabError):
        levers.as_job(42)
    with pytest.raises(LabError):
        levers.as_job("no_such_path")


def test_the_learners_job_runs_under_a_lever(spark):
    """compression_sweep times the learner's own job (same predictions as the reference)."""
    import numpy as np
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    from helpers.model.cache import worker_booster

    def job(df, model):
        @pandas_udf("double")
        def predict_series(*cols: pd.Series) -> pd.Series:
            booster = worker_booster(model.value)
            return pd.Series(booster.predict(np.column_stack(cols), num_threads=1))

        return df.select(
            "id", predict_series(*[c for c in df.columns if c != "id"]).alias("prediction")
        )

    t = levers.compression_sweep(spark, job, rows=2_000, codecs=("none",), repeats=1)
    assert t.codec.tolist() == ["none"] and t.max_abs_diff.iloc[0] <= 1e-9


def test_lever_table_asks_the_registry(spark):
    t = levers.lever_table(spark).set_index("lever")
    assert levers.conf_entry(spark, "spark.kit.no.such.conf") is None
    # maxRecordsPerBatch's neighbours: defined exactly where the running Spark's registry says so
    for lever, key in levers.LEVERS.items():
        assert t.loc[lever, "defined"] == (levers.conf_entry(spark, key) is not None)
    if t.loc["pipelined", "defined"]:
        assert t.loc["pipelined", "default"] == "false"


def test_python_input_reads_the_plan(spark):
    df = levers.source_frame(spark, "parquet_scan", 2_000)
    from helpers.inference.scenarios import scenario_frame

    facts = levers.python_input(scenario_frame(spark, "pandas_udf", df=df))
    assert facts["operator"] == "ArrowEvalPython"
    assert facts["source_node"].startswith(("FileScan", "Scan"))
    defined = levers.conf_entry(spark, levers.COLUMNAR_KEY) is not None
    assert facts["columnar"] == defined  # on by default where it exists
    assert facts["column_to_row"] == (not defined)


def test_exercise_checkers_of_notebook_10():
    from helpers import exercises

    t = _lever_table(True)
    assert exercises.check_lever_count(5, t).startswith("Correct")
    assert exercises.check_lever_count(0, t).startswith("Not quite")
    facts = {"column_to_row": False, "operator": "ArrowEvalPython", "child": "Scan parquet"}
    assert exercises.check_column_to_row(None, facts).startswith("Not answered")
    assert exercises.check_column_to_row(False, facts).startswith("Correct")
    assert exercises.check_column_to_row(True, facts).startswith("Not quite")

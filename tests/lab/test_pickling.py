"""helpers.lab.pickling: pickled vs Arrow bytes, identity round trips per type, what a UDF ships."""

import pickle

import pandas as pd
import pytest

from helpers import exercises
from helpers.core.config import LabError
from helpers.lab import pickling as pk
from helpers.model.data import model_text


def test_pickled_batches_of_100_rows():
    rows = [(float(i),) for i in range(250)]
    expected = sum(
        4 + len(pickle.dumps(rows[i : i + 100], pickle.HIGHEST_PROTOCOL)) for i in (0, 100, 200)
    )
    assert pk.pickled_batch_bytes(rows) == expected


def test_unknown_kind_and_path():
    with pytest.raises(LabError, match="column kind"):
        pk.require_kinds(["decimal"])
    with pytest.raises(LabError, match="Unknown path"):
        pk.require_paths(["map_in_pandas"])


def test_wire_sizes_values(spark):
    df = pk.wire_sizes(spark, ["double", "timestamp"], rows=1000).set_index("kind")
    # Arrow: 8 bytes per double plus schema/metadata; pickle: >= 9 bytes per float (opcode + 8)
    assert 1000 * 8 <= df.loc["double", "arrow_bytes"] <= 1000 * 8 + 2048
    assert df.loc["double", "pickled_bytes"] >= 1000 * 9
    # a timestamp is one int64 in Arrow but a datetime object when pickled
    assert df.loc["timestamp", "pickled_per_row"] > 2 * df.loc["timestamp", "arrow_per_row"] - 2


@pytest.mark.parametrize(
    "kind", ["timestamp", "struct", "nullable_double", "array<double>", "string"]
)
def test_identity_round_trip_every_path(spark, kind):
    for path in pk.TYPE_PATHS:
        assert pk.identity_roundtrip_ok(spark, kind, path, rows=200), (kind, path)


def test_type_throughput_records_spark_metrics(spark):
    df = pk.type_throughput(spark, ["double"], rows=400, repeats=1).set_index("path")
    assert list(df.index) == list(pk.TYPE_PATHS) and (df["repeats"] == 1).all()
    assert (df["rows_per_s"] > 0).all() and (df["us_per_row"] >= 0).all()
    for path in ("arrow_udf", "pandas_udf"):  # Arrow: at least 8 bytes per double sent
        assert df.loc[path, "sent_bytes"] >= 400 * 8


def test_type_throughput_runs_the_learners_functions_on_every_kind(spark):
    from pyspark.sql.functions import pandas_udf, udf

    @udf("double", useArrow=True)
    def mine(v):
        return v

    @pandas_udf("double")
    def mine_series(s: pd.Series) -> pd.Series:
        return s

    df = pk.type_throughput(
        spark, ["double", "string"], rows=300, repeats=2, udfs=[mine_series, mine]
    )
    assert df["path"].tolist() == ["arrow_udf", "pandas_udf"] * 2
    assert set(df["function"]) == {"mine", "mine_series"}
    assert (df["wall_min_s"] <= df["wall_s"]).all() and (df["wall_s"] <= df["wall_max_s"]).all()


def test_pickled_batch_rows_follow_the_line(spark):
    import pyspark.worker as worker

    rows, source = pk.pickled_batch_rows(spark)
    if hasattr(worker, "wrap_arrow_batch_udf") and spark.version.startswith("3."):
        assert (rows, source) == (100, "fixed in pyspark/worker.py")
    else:  # 4.x: the JVM passes the conf to the worker as PYTHON_UDF_BATCH_SIZE
        assert (rows, source) == (int(spark.conf.get(pk.PICKLE_BATCH_CONF)), pk.PICKLE_BATCH_CONF)
        spark.conf.set(pk.PICKLE_BATCH_CONF, "50")
        try:
            assert pk.pickled_batch_rows(spark)[0] == 50
        finally:
            spark.conf.unset(pk.PICKLE_BATCH_CONF)


def test_command_sizes(spark):
    closure = pk.shipping_udf(spark, "closure")
    assert pk.command_bytes(closure) > 0.9 * len(model_text())  # the model rides in the command
    for variant in ("broadcast", "file"):
        verdict = exercises.check_small_command(pk.shipping_udf(spark, variant))
        assert verdict.startswith("Correct"), verdict
        assert pk.command_bytes(pk.shipping_udf(spark, variant)) < 10_000
    assert exercises.check_small_command(closure).startswith("Not yet")
    assert pk.broadcast_threshold(spark) == 1024 * 1024


def test_model_shipping_table(spark):
    df = pk.model_shipping(spark, rows=2000, tasks=2, variants=["broadcast"])
    row = df.iloc[0]
    assert row["variant"] == "broadcast" and row["worker_reuse"] == "true"
    assert row["broadcast_threshold"] == pk.broadcast_threshold(spark)
    assert row["command_bytes"] < 10_000 and row["first_row_s"] > 0 and row["job_s"] > 0
    assert row["load_once_s"] > 0 and pk.model_load_seconds("closure") == 0.0
    with pytest.raises(LabError, match="variant"):
        pk.model_shipping(spark, variants=["pigeon"])


def test_measure_choice_is_one_run_of_one_combination(spark):
    df = pk.measure_choice(("double", "pandas_udf", 300))
    assert list(df.columns) == ["kind", "path", "wall_s", "us_per_row"]
    assert df[["kind", "path"]].values.tolist() == [["double", "pandas_udf"]]


# ---- findings (pure: hand-made tables) ---------------------------------------------------------


def _throughput(walls: dict, rows: int = 1000, repeats: int = 3, spread=0.0) -> pd.DataFrame:
    """A type_throughput-shaped table from {(kind, path): wall seconds}; each run's min and max
    `spread` (relative) around it."""
    return pd.DataFrame(
        [
            {
                "kind": k,
                "path": p,
                "rows": rows,
                "repeats": repeats,
                "wall_s": w,
                "wall_min_s": w * (1 - spread),
                "wall_max_s": w * (1 + spread),
                "us_per_row": w / rows * 1e6,
            }
            for (k, p), w in walls.items()
        ]
    )


def test_throughput_findings_gap_noise_and_reversal():
    df = _throughput(
        {
            ("double", "row_udf"): 3.0,
            ("double", "arrow_udf"): 2.0,
            ("double", "pandas_udf"): 1.0,
            ("string", "row_udf"): 1.05,
            ("string", "pandas_udf"): 1.0,
            ("int64", "row_udf"): 0.5,
            ("int64", "pandas_udf"): 1.0,
        }
    )
    got = pk.throughput_findings(df)
    assert [f.key for f in got] == ["gap", "overhead", "overhead"]
    gap = got[0].values
    assert (gap["widest"], gap["widest_ratio"]) == ("double", 3.0)
    assert (gap["narrowest"], gap["narrowest_ratio"]) == ("int64", 0.5)
    assert got[0].text().endswith("(1,000 rows, 3 runs each).")
    assert got[1].values["kinds"] == "string" and got[2].values["kinds"] == "int64"
    assert "no different (within 10% or overlapping runs) from" in got[1].text()
    assert "was faster, beyond the noise, than `@pandas_udf`" in got[2].text()


def test_throughput_findings_overlapping_runs_are_noise():
    df = _throughput({("double", "row_udf"): 1.3, ("double", "pandas_udf"): 1.0}, spread=0.2)
    assert [f.key for f in pk.throughput_findings(df)] == ["gap", "overhead"]
    clear = _throughput({("double", "row_udf"): 1.3, ("double", "pandas_udf"): 1.0}, spread=0.1)
    assert [f.key for f in pk.throughput_findings(clear)] == ["gap"]


def test_throughput_findings_say_how_this_pyspark_calls_an_arrow_udf():
    df = _throughput({("double", "arrow_udf"): 2.0, ("double", "pandas_udf"): 0.5})
    got = pk.throughput_findings(df, pyspark_call="`f`, one call per row")
    assert [f.key for f in got] == ["fastest", "arrow_calls"]
    assert got[0].values["pairs"] == "double `pandas_udf`"
    assert got[1].values["call"] == "`f`, one call per row"


def test_batch_udf_call_names_this_pysparks_loop():
    import pyspark.worker as worker

    call = pk.batch_udf_call()
    name = "wrap_arrow_batch_udf" if hasattr(worker, "wrap_arrow_batch_udf") else "_evaluate"
    assert name in call and "one call per row" in call


def test_change_findings_name_the_path_that_moved():
    before = _throughput({("double", "row_udf"): 3.0, ("double", "pandas_udf"): 1.0}, spread=0.05)
    after = _throughput({("double", "row_udf"): 3.1, ("double", "pandas_udf"): 2.5}, spread=0.05)
    got = pk.change_findings(before, after)
    assert [f.key for f in got] == ["change"]
    assert got[0].values["kind"] == "double" and got[0].values["ratio"] == 2.5
    assert "@udf" in got[0].values["others"] and got[0].values["verdict"] == "beyond the noise"
    (same,) = pk.change_findings(before, before)
    assert same.key == "change" and same.values["verdict"].startswith("within the noise")
    with pytest.raises(LabError):
        pk.change_findings(before, _throughput({("string", "row_udf"): 1.0}))


def test_udf_path_and_retyped_keep_the_learners_function():
    from pyspark.sql.functions import pandas_udf, udf
    from pyspark.sql.types import DoubleType, StringType

    def ident(v):
        return v

    def ident_s(s: pd.Series) -> pd.Series:
        return s

    row = udf(ident, DoubleType(), useArrow=False)
    arrow = udf(ident, DoubleType(), useArrow=True)
    series = pandas_udf(ident_s, DoubleType())
    assert [pk.udf_path(f) for f in (row, arrow, series)] == [
        "row_udf",
        "arrow_udf",
        "pandas_udf",
    ]
    again = pk.retyped(arrow, StringType())
    assert again.func is ident and pk.udf_path(again) == "arrow_udf"
    assert isinstance(again.returnType, StringType)
    with pytest.raises(LabError, match="one UDF per path"):
        pk._learner_udfs([row, udf(ident, StringType(), useArrow=False)])
    with pytest.raises(LabError, match="not a @udf"):
        pk.udf_path(ident)


def _sizes() -> pd.DataFrame:
    rows = [("double", 1000, 12_000, 8_000), ("timestamp", 1000, 40_000, 8_000)]
    df = pd.DataFrame(rows, columns=["kind", "rows", "pickled_bytes", "arrow_bytes"])
    df["pickled_per_row"] = df["pickled_bytes"] / df["rows"]
    df["arrow_per_row"] = df["arrow_bytes"] / df["rows"]
    df["pickled_over_arrow"] = df["pickled_bytes"] / df["arrow_bytes"]
    return df


def test_wire_findings_range():
    tp = _throughput({("double", "row_udf"): 1.0, ("double", "pandas_udf"): 1.0})
    tp["sent_bytes"] = [13_000, 8_500]  # drawn by plot_wire_sizes, not repeated in words
    got = pk.wire_findings(_sizes(), tp)
    assert [f.key for f in got] == ["size_range"]
    assert got[0].values == {
        "low": 1.5,
        "high": 5.0,
        "kind": "timestamp",
        "pickled_per_row": 40.0,
        "arrow_per_row": 8.0,
    }
    assert [f.key for f in pk.wire_findings(_sizes())] == ["size_range"]


def _shipping(closure_bytes: int, reuses=("true", "false")) -> pd.DataFrame:
    out = []
    for i, reuse in enumerate(reuses):
        for j, (variant, size) in enumerate(
            (("closure", closure_bytes), ("broadcast", 900), ("file", 800))
        ):
            out.append(
                {
                    "variant": variant,
                    "worker_reuse": reuse,
                    "command_bytes": size,
                    "broadcast_threshold": 1_048_576,
                    "unpickle_s": (0.02, 0.0001, 0.0002)[j],
                    "load_once_s": (0.0, 0.015, 0.012)[j],
                    "first_row_s": 1.0 + i + j / 10,
                    "job_s": 2.0 + i + j / 10,
                    "tasks": 2,
                }
            )
    return pd.DataFrame(out)


def test_shipping_findings_inline_command_and_both_reuse_settings():
    got = pk.shipping_findings(_shipping(500_000), band=0.05)
    assert [f.key for f in got] == ["command", "jobs", "jobs"]
    assert got[0].values == {
        "threshold": 1_048_576,
        "closure": 500_000,
        "broadcast": 900,
        "file": 800,
        "closure_ms": 20.0,
        "side": "under",
        "how": "inline",
    }
    assert got[1].values["verdict"] == "beyond the 5% noise band"
    on, off = got[1].values, got[2].values
    assert (on["reuse"], on["fast"], on["slow"], on["fast_s"]) == ("on", "closure", "file", 2.0)
    assert off["reuse"] == "off" and off["slow_s"] == 3.2 and off["tasks"] == 2


def test_shipping_findings_jobs_within_the_band_are_noise():
    got = pk.shipping_findings(_shipping(500_000), band=0.2)
    assert [f.key for f in got] == ["command", "jobs", "jobs"]
    assert got[1].values["slow_s"] == 2.2 and "way the model travels is noise" in got[1].text()


def test_shipping_findings_command_over_threshold_is_broadcast():
    got = pk.shipping_findings(_shipping(2_000_000, reuses=("true",)))
    assert [f.key for f in got] == ["command", "jobs"]
    assert got[0].values["threshold"] == 1_048_576
    assert "over the 1,048,576-byte broadcast threshold, it reaches every task as a" in (
        got[0].text()
    )


def test_every_template_is_exercised():
    from pathlib import Path

    src = Path(__file__).read_text()
    tables = (pk.THROUGHPUT_FINDINGS, pk.WIRE_FINDINGS, pk.SHIPPING_FINDINGS, pk.CHANGE_FINDINGS)
    for table in tables:
        for key in table:
            assert f'"{key}"' in src, key


def test_shipping_findings_need_every_variant():
    with pytest.raises(LabError, match="file"):
        pk.shipping_findings(_shipping(500).query("variant != 'file'"))


def test_one_run_claims_no_noise_verdict():
    walls = {("double", "row_udf"): 0.5, ("double", "pandas_udf"): 1.0}
    got = pk.throughput_findings(_throughput(walls, repeats=1))
    assert [f.key for f in got] == ["gap"] and "one run each: no spread" in got[0].text()
    before = _throughput(walls, repeats=1)
    after = _throughput({("double", "row_udf"): 0.3, ("double", "pandas_udf"): 1.0}, repeats=1)
    (found,) = pk.change_findings(before, after)
    assert found.values["after"] == 0.3 and found.values["verdict"].startswith("one run per path")

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


def _throughput(walls: dict, rows: int = 1000, repeats: int = 3) -> pd.DataFrame:
    """A type_throughput-shaped table from {(kind, path): wall seconds}."""
    return pd.DataFrame(
        [
            {"kind": k, "path": p, "rows": rows, "repeats": repeats, "wall_s": w}
            for (k, p), w in walls.items()
        ]
    )


def test_throughput_findings_ratios_per_kind_and_range():
    df = _throughput(
        {
            ("double", "row_udf"): 3.0,
            ("double", "arrow_udf"): 2.0,
            ("double", "pandas_udf"): 1.0,
            ("string", "row_udf"): 1.5,
            ("string", "arrow_udf"): 0.5,
            ("string", "pandas_udf"): 1.0,
        }
    )
    got = pk.throughput_findings(df)
    assert [f.key for f in got] == ["run", "kind", "kind", "gap_range"]
    assert got[0].text() == "1,000 rows, 3 run(s) each."
    assert got[1].values == {"kind": "double", "fastest": "pandas_udf", "ratio": 3.0}
    assert "3.0× the time" in got[1].text()
    assert got[2].values["fastest"] == "arrow_udf" and got[2].values["ratio"] == 1.5
    gap = got[3].values
    assert (gap["widest"], gap["widest_ratio"]) == ("double", 3.0)
    assert (gap["narrowest"], gap["narrowest_ratio"]) == ("string", 1.5)


def test_throughput_findings_one_kind_has_no_range():
    df = _throughput({("int64", "row_udf"): 2.0, ("int64", "pandas_udf"): 0.5})
    assert [f.key for f in pk.throughput_findings(df)] == ["run", "kind"]


def test_throughput_findings_without_both_paths_names_the_fastest_only():
    df = _throughput({("int64", "arrow_udf"): 2.0, ("int64", "pandas_udf"): 0.5})
    got = pk.throughput_findings(df)
    assert [f.key for f in got] == ["run", "kind_fastest"]
    assert got[1].text() == "int64: fastest `pandas_udf`."


def _sizes() -> pd.DataFrame:
    rows = [("double", 1000, 12_000, 8_000), ("timestamp", 1000, 40_000, 8_000)]
    df = pd.DataFrame(rows, columns=["kind", "rows", "pickled_bytes", "arrow_bytes"])
    df["pickled_per_row"] = df["pickled_bytes"] / df["rows"]
    df["arrow_per_row"] = df["arrow_bytes"] / df["rows"]
    df["pickled_over_arrow"] = df["pickled_bytes"] / df["arrow_bytes"]
    return df


def test_wire_findings_range_and_spark_metric():
    tp = _throughput({("double", "row_udf"): 1.0, ("double", "pandas_udf"): 1.0})
    tp["sent_bytes"] = [13_000, 8_500]
    got = pk.wire_findings(_sizes(), tp)
    assert [f.key for f in got] == ["size_range", "spark_metric"]
    assert got[0].values == {
        "low": 1.5,
        "high": 5.0,
        "kind": "timestamp",
        "pickled_per_row": 40.0,
        "arrow_per_row": 8.0,
    }
    assert got[1].values == {"row_udf": 13.0, "pandas_udf": 8.5}
    assert "13.0 bytes per row" in got[1].text()


def test_wire_findings_without_metric_says_only_sizes():
    tp = _throughput({("double", "row_udf"): 1.0, ("double", "pandas_udf"): 1.0})
    tp["sent_bytes"] = [None, 8_500]  # Spark reported nothing for one node
    assert [f.key for f in pk.wire_findings(_sizes(), tp)] == ["size_range"]
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
    got = pk.shipping_findings(_shipping(500_000))
    keys = ["command_inline", "unpickle", "first_row", "job", "first_row", "job"]
    assert [f.key for f in got] == keys
    assert got[0].values == {
        "threshold": 1_048_576,
        "closure": 500_000,
        "broadcast": 900,
        "file": 800,
    }
    assert "500,000 bytes" in got[0].text() and "1,048,576-byte" in got[0].text()
    assert got[1].values == {
        "closure_ms": 20.0,
        "broadcast_ms": 0.1,
        "broadcast_load_ms": 15.0,
        "file_load_ms": 12.0,
    }
    on, off = got[2].values, got[4].values
    assert on == {"reuse": "on", "closure": 1.0, "broadcast": 1.1, "file": 1.2}
    assert off["reuse"] == "off" and off["closure"] == 2.0
    assert got[5].values == {
        "reuse": "off",
        "tasks": 2,
        "closure": 3.0,
        "broadcast": 3.1,
        "file": 3.2,
    }
    assert "A 2-task job with worker reuse off took 3.00 / 3.10 / 3.20 s" in got[5].text()


def test_shipping_findings_command_over_threshold_is_broadcast():
    got = pk.shipping_findings(_shipping(2_000_000, reuses=("true",)))
    assert [f.key for f in got] == ["command_broadcast", "unpickle", "first_row", "job"]
    assert "over the 1,048,576-byte threshold" in got[0].text()


def test_shipping_findings_need_every_variant():
    with pytest.raises(LabError, match="file"):
        pk.shipping_findings(_shipping(500).query("variant != 'file'"))

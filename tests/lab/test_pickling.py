"""helpers.lab.pickling: pickled vs Arrow bytes, identity round trips per type, what a UDF ships."""

import pickle

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
        pk.check_kinds(["decimal"])
    with pytest.raises(LabError, match="Unknown path"):
        pk.check_paths(["map_in_pandas"])


def test_wire_sizes_values(spark):
    df = pk.wire_sizes(spark, ["double", "timestamp"], rows=1000).set_index("kind")
    # Arrow: 8 bytes per double plus schema/metadata; pickle: at least 9 bytes per float (opcode + 8)
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
    assert list(df.index) == list(pk.TYPE_PATHS)
    assert (df["rows_per_s"] > 0).all() and (df["us_per_row"] >= 0).all()
    for path in ("arrow_udf", "pandas_udf"):  # Arrow: at least 8 bytes per double sent
        assert df.loc[path, "sent_bytes"] >= 400 * 8


def test_command_sizes(spark):
    closure = pk.shipping_udf(spark, "closure")
    assert pk.command_bytes(closure) > 0.9 * len(model_text())  # the model rides in the command
    for variant in ("broadcast", "file"):
        check = exercises.check_small_command(pk.shipping_udf(spark, variant))
        assert check["ok"] and check["command_bytes"] < 10_000
    assert not exercises.check_small_command(closure)["ok"]
    assert pk.broadcast_threshold(spark) == 1024 * 1024


def test_model_shipping_table(spark):
    df = pk.model_shipping(spark, rows=2000, tasks=2, variants=["broadcast"])
    row = df.iloc[0]
    assert row["variant"] == "broadcast" and row["worker_reuse"] == "true"
    assert row["command_bytes"] < 10_000 and row["first_row_s"] > 0 and row["job_s"] > 0
    assert row["load_once_s"] > 0 and pk.model_load_seconds("closure") == 0.0
    with pytest.raises(LabError, match="variant"):
        pk.model_shipping(spark, variants=["pigeon"])

"""helpers.lab.zerocopy: Arrow's sharing rules by address, memory peaks, the copy ledger's bytes."""

import json
import os

import numpy as np
import pyarrow as pa
import pytest

from helpers.core.config import LabError
from helpers.inference import scenarios
from helpers.lab.zerocopy import buffers as z
from helpers.lab.zerocopy import layouts
from helpers.lab.zerocopy import ledger as zl
from helpers.model.data import N_FEATURES, load_booster


@pytest.fixture(scope="module")
def forensics():
    return z.forensics_table(500).set_index("case")


@pytest.mark.parametrize("case", ["int64", "double", "timestamp[us, tz=UTC]"])
def test_primitive_without_nulls_is_shared(forensics, case):
    row = forensics.loc[case]
    assert row["shared"] and row["zero_copy_only_ok"] and row["copied_bytes"] == 0
    assert row["numpy_address"] == row["arrow_address"]
    assert row["verdict"] == "zero-copy view"


@pytest.mark.parametrize(
    "case", ["double with nulls", "int64 with nulls", "bool", "string", "dictionary<int32, string>"]
)
def test_nulls_strings_bools_are_copied(forensics, case):
    row = forensics.loc[case]
    assert not row["shared"] and not row["zero_copy_only_ok"]
    assert row["verdict"] == "copied" and row["copied_bytes"] > 0


def test_copied_bytes_of_nullable_double_is_one_new_buffer(forensics):
    assert forensics.loc["double with nulls", "copied_bytes"] == 500 * 8
    assert forensics.loc["bool", "copied_bytes"] == 500  # one byte per value in NumPy


def test_lists_are_views_inside_new_objects(forensics):
    row = forensics.loc["list<double>"]
    assert row["length"] == 500
    assert (
        row["shared"]
        and row["new_python_objects"] == 500
        and row["verdict"] == "views in new objects"
    )


def test_sliced_array_is_still_a_view():
    arr = pa.array(np.arange(100, dtype=np.float64)).slice(10, 50)
    check = z.buffer_check(arr, "slice")
    assert check.shared and check.numpy_address == arr.buffers()[1].address + 10 * 8


def test_rowmajor_view_shares_the_values_buffer():
    X = np.arange(60, dtype=np.float64).reshape(20, 3)
    lists = pa.ListArray.from_arrays(
        pa.array(np.arange(0, 61, 3, dtype=np.int32)), pa.array(X.ravel())
    )
    V = scenarios.rowmajor_view(lists.slice(5), 3)
    assert np.array_equal(V, X[5:]) and V.flags["C_CONTIGUOUS"]
    assert z.shares_with(V, lists)
    assert V.__array_interface__["data"][0] == lists.values.buffers()[1].address + 15 * 8


def test_rowmajor_view_refuses_ragged_and_nulls():
    with pytest.raises(LabError, match="ragged"):
        scenarios.rowmajor_view(pa.array([[1.0, 2.0], [3.0]]), 2)
    with pytest.raises(LabError, match="nulls"):
        scenarios.rowmajor_view(pa.array([[1.0, None], [3.0, 4.0]]), 2)


def test_to_pandas_variants_copy_or_share():
    df = z.to_pandas_variants(20_000, 4).set_index("variant")
    data = 20_000 * 4 * 8
    default = df.loc["to_pandas()"]
    assert (
        default["data_bytes"] == data
        and default["shared_columns"] == 0
        and default["pandas_blocks"] == 1
    )
    assert default["peak_bytes"] >= 0.95 * data  # one consolidated copy
    split = df.loc["to_pandas(split_blocks, self_destruct)"]
    assert split["shared_columns"] == 4 and split["peak_bytes"] < 0.1 * data
    assert df.loc["to_pandas(types_mapper=pd.ArrowDtype)", "shared_columns"] == 4
    nulls = df.loc["split_blocks, 10% nulls"]
    assert nulls["shared_columns"] == 0 and nulls["peak_bytes"] >= 0.95 * data


def test_ipc_socket_copies_memory_map_does_not(tmp_path):
    df = z.ipc_read_variants(20_000, 4, folder=str(tmp_path)).set_index("source")
    data = 20_000 * 4 * 8
    assert not df.loc["socket stream (worker)", "inside_source"]
    assert df.loc["socket stream (worker)", "peak_bytes"] >= data
    assert df.loc["memory-mapped file", "inside_source"]
    assert df.loc["memory-mapped file", "peak_bytes"] < 0.1 * data


def test_stacking_vs_view():
    df = layouts.stacking_vs_view(1000, N_FEATURES).set_index("layout")
    assert (df["rows"] == 1000).all()
    assert (
        df.iloc[0]["copied_bytes"] == zl.data_bytes(1000, N_FEATURES) and not df.iloc[0]["shared"]
    )
    assert df.iloc[1]["copied_bytes"] == 0 and df.iloc[1]["shared"]


needs_ledger = pytest.mark.skipif(
    not zl.LEDGER_HERE, reason="this pyspark has none of the worker calls the ledger replays"
)


def _pandas_udf_to_pandas_bytes(n: int, f: int) -> int:
    """What the worker's Arrow -> pandas call copies for n x f non-null doubles on this line:
    nothing where it hands pyarrow's views over (3.5's serializer); everything where it ends in a
    `Series.rename` that copies (4.3's conversion.py under pandas without copy-on-write)."""
    copies = zl.WORKER_CALLS == "conversion" and zl.rename_copies()
    return zl.data_bytes(n, f) if copies else 0


@needs_ledger
@pytest.mark.parametrize("path", zl.LEDGER_PATHS)
def test_python_hops_bytes_match_the_batch(path):
    n, f = 1000, N_FEATURES
    table = z.numeric_table(n, f)
    if path != "pandas_udf":  # the map APIs send the row as one struct (id + features)
        ids = pa.array(np.arange(n, dtype="int64"))
        cols = [c.combine_chunks() for c in table.columns]
        struct = pa.StructArray.from_arrays([ids, *cols], ["id", *table.column_names])
        table = pa.table({"struct": struct})
    stream = z.ipc_stream_bytes(table)
    hops, result = zl.python_hops(path, stream, load_booster(), repeats=1)
    by = {h.hop: h for h in hops}
    sent = zl.data_bytes(n, f if path == "pandas_udf" else f + 1)
    assert by["socket JVM -> worker"].bytes == len(stream)
    assert by["Python IPC read"].bytes == sent  # read into new buffers
    if path == "pandas_udf":  # one Series per double column
        assert by["Arrow -> pandas"].bytes == _pandas_udf_to_pandas_bytes(n, f)
    elif path == "map_in_pandas":  # the columns concatenated into one DataFrame: a copy
        assert by["Arrow -> pandas"].bytes == sent
    else:
        assert "Arrow -> pandas" not in by
    assert by["model input matrix"].bytes == zl.data_bytes(n, f)  # a row-major copy
    out_cols = 1 if path == "pandas_udf" else 2
    assert pa.ipc.read_message(pa.py_buffer(result)).body.size == zl.data_bytes(n, out_cols)
    # each Python hop names the call this pyspark's worker makes, with its source file
    for hop in ("Python IPC read", "result -> Arrow", "Python IPC write"):
        assert "pyspark/sql/" in by[hop].how
    if path != "map_in_arrow":
        assert "pyspark/sql/" in by["Arrow -> pandas"].how


@needs_ledger
def test_python_hops_name_this_lines_calls():
    stream = z.ipc_stream_bytes(z.numeric_table(100, N_FEATURES))
    hops, _ = zl.python_hops("pandas_udf", stream, load_booster(), repeats=1)
    how = " ".join(h.how for h in hops)
    if zl.WORKER_CALLS == "conversion":
        assert "ArrowBatchTransformer.to_pandas (pyspark/sql/conversion.py)" in how
        assert "PandasToArrowConversion.convert (pyspark/sql/conversion.py)" in how
        assert "ArrowStreamPandasUDFSerializer" not in how
    else:
        assert "ArrowStreamPandasUDFSerializer.arrow_to_pandas" in how
        assert "ArrowStreamPandasUDFSerializer._create_batch" in how
        assert "conversion.py" not in how


def test_ledger_not_here(monkeypatch):
    monkeypatch.setattr(zl, "LEDGER_HERE", False)
    with pytest.raises(LabError, match="skipped on this kernel"):
        zl.require_ledger_paths("pandas_udf")
    text = zl.not_here_findings()[0].text()
    assert "serializers.py" in text and "conversion.py" in text


def test_ledger_paths_checked():
    if not zl.LEDGER_HERE:
        with pytest.raises(LabError, match="skipped on this kernel"):
            zl.require_ledger_paths("pandas_udf")
        return
    with pytest.raises(LabError, match="ledger covers"):
        zl.require_ledger_paths("row_udf")
    assert zl.require_ledger_paths("pandas_udf, map_in_arrow") == ("pandas_udf", "map_in_arrow")


@needs_ledger
def test_copy_ledger_bytes_match_the_batch(spark):
    n, batches = 1000, 2
    before = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    ledger = zl.copy_ledger(spark, rows=n, batches=batches, repeats=1)
    assert spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch") == before
    t = ledger.table()
    assert set(t["path"]) == set(zl.LEDGER_PATHS)
    for path, g in t.groupby("path"):
        hop = g.set_index("hop")["bytes"]
        sent_cols = N_FEATURES if path == "pandas_udf" else N_FEATURES + 1  # map paths also send id
        data = zl.data_bytes(n, sent_cols)
        # IPC carries the values plus validity bitmaps and metadata, never less than the values
        assert (
            data
            <= hop["JVM rows -> Arrow vectors -> IPC bytes"]
            <= data + sent_cols * (n // 8 + 64) + 4096
        )
        assert hop["Python IPC read"] == data
        if path == "pandas_udf":
            assert hop["Arrow -> pandas"] == _pandas_udf_to_pandas_bytes(n, N_FEATURES)
        elif path == "map_in_pandas":  # a DataFrame of id + features
            assert hop["Arrow -> pandas"] == data
        assert hop["model input matrix"] == zl.data_bytes(n, N_FEATURES)
        out_cols = 1 if path == "pandas_udf" else 2
        assert hop["JVM IPC read -> Arrow vectors"] == zl.data_bytes(n, out_cols)
        if (
            path == "pandas_udf"
        ):  # each input row (id + features: a null bitset word + 8 bytes a field) plus
            fields = N_FEATURES + 1  # RowQueue's 4-byte length prefix, copied into the queue
            assert hop["JVM input rows -> HybridRowQueue (kept for the join)"] == n * (
                4 + 8 + 8 * fields
            )
            # joined back: id, 16 features and the prediction in one new UnsafeRow per input row
            assert hop["JVM projection -> UnsafeRows"] == n * (8 + 8 * (fields + 1))
        else:
            assert (
                not g["hop"].str.contains("HybridRowQueue").any()
            )  # MapInBatchExec keeps no queue
            assert hop["JVM projection -> UnsafeRows"] == n * (8 + 8 * 2)  # id, prediction
        assert (g["seconds"] >= 0).all()
    s = ledger.summary().set_index("path")
    assert (s["end_to_end_per_batch_s"] > 0).all()
    # Spark's own byte count of the wire agrees with the stream we rebuilt (metric shown rounded)
    for path in zl.LEDGER_PATHS:
        stream = t[(t["path"] == path) & (t["hop"] == "socket JVM -> worker")]["bytes"].iloc[0]
        assert s.loc[path, "spark_sent_bytes"] == pytest.approx(stream, rel=0.1)
    recs = ledger.records()
    assert all(set(r) == {"path", "hop", "bytes", "seconds"} for r in recs)


def test_cli_ledger_bad_path_exits_2():
    from helpers.cli.main import main

    assert main(["ledger", "--paths", "row_udf"]) == 2


@pytest.mark.spark  # starts Spark in a child process
@needs_ledger
def test_cli_ledger_writes_json(cli, tmp_path):
    out = tmp_path / "ledger.json"
    env = dict(os.environ, LAB_SCALE="ci")
    proc = cli(
        "ledger",
        "--rows",
        "500",
        "--batches",
        "2",
        "--paths",
        "map_in_arrow",
        "--json",
        str(out),
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    recs = json.loads(out.read_text())
    assert recs and all(set(r) == {"path", "hop", "bytes", "seconds"} for r in recs)
    matrix = [r for r in recs if r["hop"] == "model input matrix"][0]
    assert matrix["bytes"] == zl.data_bytes(500, N_FEATURES)

"""helpers.lab.zerocopy.buffers: the findings of the forensics, to_pandas and IPC-read tables, on
hand-made tables (pure: no Spark)."""

import pandas as pd
import pytest

from helpers.core.config import LabError
from helpers.lab.zerocopy import buffers as z


def _forensics(rows) -> pd.DataFrame:
    cols = ["case", "verdict", "copied_bytes", "new_python_objects", "length"]
    return pd.DataFrame(rows, columns=cols)


def test_forensics_findings_views_copies_objects():
    df = _forensics(
        [
            ("int64", "zero-copy view", 0, 0, 1000),
            ("double", "zero-copy view", 0, 0, 1000),
            ("bool", "copied", 1000, 0, 1000),
            ("string", "copied", 12_000, 0, 1000),
            ("list<double>", "views in new objects", 0, 1000, 1000),
        ]
    )
    (got,) = z.forensics_findings(df)
    assert got.key == "forensics"
    assert got.values == {"cases": 5, "views": 2, "copies": 2, "wrapped": 1, "high": 12_000,
                          "values": 1000, "objects": 1000}  # fmt: skip
    assert got.text().startswith("2 of 5 cases are true views")
    assert "2 get a new buffer (up to 12,000 bytes for 1,000 values)" in got.text()


def test_forensics_findings_count_empty_groups_as_none():
    (got,) = z.forensics_findings(_forensics([("bool", "copied", 500, 0, 500)]))
    assert (got.values["views"], got.values["copies"], got.values["wrapped"]) == (0, 1, 0)


def test_forensics_findings_of_the_real_table():
    (got,) = z.forensics_findings(z.forensics_table(200))
    assert got.values["views"] >= 2 and got.values["values"] == 200
    assert got.values["objects"] == 200 * got.values["wrapped"]  # one object per row and case


def _ways(default_shared: int, null_shared: int, arrow_null_shared: int = 16) -> pd.DataFrame:
    rows = [
        ("to_pandas()", 2_100_000, default_shared),
        ("to_pandas(split_blocks, self_destruct)", 40_000, 16),
        ("to_pandas(types_mapper=pd.ArrowDtype)", 30_000, 16),
        ("split_blocks, 10% nulls", 2_000_000, null_shared),
        ("ArrowDtype, 10% nulls", 30_000, arrow_null_shared),
    ]
    df = pd.DataFrame(rows, columns=["variant", "peak_bytes", "shared_columns"])
    df["cols"], df["data_bytes"] = 16, 2_000_000
    df["peak_over_data"] = df["peak_bytes"] / df["data_bytes"]
    return df


def test_to_pandas_findings_copy_branches():
    got = z.to_pandas_findings(_ways(0, 0, 0))
    assert [f.key for f in got] == ["default", "nulls"]
    assert "allocated 1.05× the data (2.1 MB for 2.0 MB)" in got[0].text()
    assert got[0].text().endswith("0 of 16 columns share Arrow's memory: one consolidated copy.")
    assert got[1].values == {"shared": 16, "shared_nulls": 0, "cols": 16, "nulls_over_data": 1.0,
                             "split_why": "NaN needs a new float64 buffer", "arrow": 16,
                             "arrow_nulls": 0, "arrow_why": "no view with nulls"}  # fmt: skip


def test_to_pandas_findings_shared_branches():
    got = z.to_pandas_findings(_ways(3, 5))
    assert [f.key for f in got] == ["default", "nulls"]
    assert "3 of 16 columns share Arrow's memory: 13 copied." in got[0].text()
    assert got[1].values["shared_nulls"] == 5 and got[1].values["split_why"] == "still views"
    assert got[1].text().endswith("`pd.ArrowDtype` 16 and 16 (it keeps the validity bitmap).")


def test_the_rule_is_null_count_not_the_bitmap():
    """A slice past the only null keeps its validity bitmap and is still a view; bool copies."""
    t = z.forensics_table(200).set_index("case")
    bitmap = z.forensics_cases(200)["double, bitmap, 0 nulls"][0]
    assert bitmap.buffers()[0] is not None and bitmap.null_count == 0
    assert t.loc["double, bitmap, 0 nulls", "verdict"] == "zero-copy view"
    assert t.loc["double with nulls", "verdict"] == "copied"
    assert t.loc["bool", "verdict"] == "copied"


def test_forensics_table_takes_your_array():
    import pyarrow as pa

    t = z.forensics_table(10, extra={"mine": pa.array([1.0, None])}).set_index("case")
    assert t.loc["mine", "verdict"] == "copied" and t.loc["mine", "null_count"] == 1
    with pytest.raises(LabError, match="pyarrow Array"):
        z.forensics_table(10, extra={"mine": [1.0]})


def test_arrow_dtype_keeps_views_with_nulls():
    ways = z.to_pandas_variants(1000, 4).set_index("variant")
    assert ways.loc["ArrowDtype, 10% nulls", "shared_columns"] == 4
    assert ways.loc["split_blocks, 10% nulls", "shared_columns"] == 0


def _reads(socket_inside: bool, mmap_inside: bool) -> pd.DataFrame:
    return pd.DataFrame(
        [
            (z.SOCKET_SOURCE, 2_500_000, 2_000_000, socket_inside),
            ("Python file object (BytesIO)", 2_000_000, 2_000_000, False),
            (z.MMAP_SOURCE, 4_096, 2_000_000, mmap_inside),
        ],
        columns=["source", "peak_bytes", "data_bytes", "inside_source"],
    )


def test_ipc_read_findings_socket_copies_map_shares():
    (got,) = z.ipc_read_findings(_reads(False, True))
    assert got.key == "ipc"
    assert "allocated 2.50 MB for 2.00 MB of data, its columns outside the sender's" in got.text()
    assert "memory map 4,096 bytes, its columns inside the mapped file" in got.text()


def test_ipc_read_findings_other_branches():
    (got,) = z.ipc_read_findings(_reads(True, False))
    assert "inside the sender's bytes" in got.text()
    assert "outside the mapped file" in got.text()

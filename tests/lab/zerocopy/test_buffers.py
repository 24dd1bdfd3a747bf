"""helpers.lab.zerocopy.buffers: the findings of the forensics, to_pandas and IPC-read tables, on
hand-made tables (pure: no Spark)."""

import pandas as pd

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
    got = z.forensics_findings(df)
    assert [f.key for f in got] == ["views", "copies", "objects"]
    assert got[0].values == {"cases": "int64, double"}
    assert got[1].values == {"cases": "bool, string", "low": 1000, "high": 12_000, "values": 1000}
    assert "from 1,000 to 12,000 bytes written for 1,000 values" in got[1].text()
    assert got[2].values == {"cases": "list<double>", "objects": 1000}


def test_forensics_findings_skip_empty_groups():
    df = _forensics([("bool", "copied", 500, 0, 500)])
    assert [f.key for f in z.forensics_findings(df)] == ["copies"]


def test_forensics_findings_of_the_real_table():
    got = {f.key: f for f in z.forensics_findings(z.forensics_table(200))}
    assert "int64" in got["views"].values["cases"] and got["copies"].values["values"] == 200
    assert got["objects"].values["objects"] == 200


def _ways(default_shared: int, null_shared: int) -> pd.DataFrame:
    rows = [
        ("to_pandas()", 2_100_000, default_shared),
        ("to_pandas(split_blocks, self_destruct)", 40_000, 16),
        ("to_pandas(types_mapper=pd.ArrowDtype)", 30_000, 16),
        ("split_blocks, 10% nulls", 2_000_000, null_shared),
    ]
    df = pd.DataFrame(rows, columns=["variant", "peak_bytes", "shared_columns"])
    df["cols"], df["data_bytes"] = 16, 2_000_000
    df["peak_over_data"] = df["peak_bytes"] / df["data_bytes"]
    return df


def test_to_pandas_findings_copy_branches():
    got = z.to_pandas_findings(_ways(0, 0))
    assert [f.key for f in got] == ["default_copy", "split", "arrow_dtype", "nulls_copy"]
    assert "allocated 1.05× the data (2.1 MB for 2.0 MB)" in got[0].text()
    assert got[1].values == {"shared": 16, "cols": 16, "peak": 40_000}
    assert "peak is 40,000 bytes" in got[1].text()
    assert got[2].text() == "Arrow-backed dtypes share 16 of 16."
    assert "back to 1.00× the data" in got[3].text()


def test_to_pandas_findings_shared_branches():
    got = z.to_pandas_findings(_ways(3, 5))
    assert [f.key for f in got] == ["default_shared", "split", "arrow_dtype", "nulls_shared"]
    assert "3 of 16 columns share" in got[0].text()
    assert "5 of 16 columns still share" in got[3].text()


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
    got = z.ipc_read_findings(_reads(False, True))
    assert [f.key for f in got] == ["socket_copied", "mmap_shared"]
    assert "allocated 2.50 MB for 2.00 MB of data" in got[0].text()
    assert "allocated 4,096 bytes and the columns are inside" in got[1].text()


def test_ipc_read_findings_other_branches():
    got = z.ipc_read_findings(_reads(True, False))
    assert [f.key for f in got] == ["socket_shared", "mmap_copied"]
    assert "inside the sender's bytes" in got[0].text()
    assert "outside the mapped file" in got[1].text()

"""Where "zero-copy" holds and where it leaks, by buffer address.

- `buffer_check` / `forensics_table`: pyarrow array -> NumPy, classified by comparing the
  Arrow buffers' addresses with the NumPy result's data pointer (never by the type name).
- `to_pandas_variants`: Arrow -> pandas three ways, peak memory from memray, sharing by address.
- `ipc_read_variants`: reading an Arrow IPC stream from a socket / a Python file / a memory map.
- `forensics_findings`, `to_pandas_findings`, `ipc_read_findings`: what those tables found in
  this run, as `Finding`s (templates in FORENSICS_FINDINGS, TO_PANDAS_FINDINGS, IPC_FINDINGS).

Units: bytes, seconds. Results are dataclasses or tidy pandas DataFrames.
"""

from __future__ import annotations

import io
import os
import socket
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.core.config import LabError
from helpers.core.findings import Finding, finding
from helpers.core.validate import require_positive
from helpers.model.data import N_FEATURES, feature_frame, feature_names

# ---- address arithmetic ----------------------------------------------------------------------


def arrow_ranges(obj) -> list[tuple[int, int]]:
    """(address, size) of every buffer behind an Arrow Array / ChunkedArray / RecordBatch / Table
    (children of nested types included)."""
    if isinstance(obj, (pa.RecordBatch, pa.Table)):
        return [r for col in obj.columns for r in arrow_ranges(col)]
    if isinstance(obj, pa.ChunkedArray):
        return [r for chunk in obj.chunks for r in arrow_ranges(chunk)]
    if isinstance(obj, pa.Buffer):
        return [(obj.address, obj.size)]
    return [(b.address, b.size) for b in obj.buffers() if b is not None and b.size > 0]


# NumPy 2 moved byte_bounds (the 3.5 line pins NumPy 1.26, the 4.x line NumPy 2).
_byte_bounds = getattr(np, "byte_bounds", None) or np.lib.array_utils.byte_bounds


def numpy_range(arr: np.ndarray) -> tuple[int, int]:
    """(address, size) of the memory a NumPy array's data occupies (views included)."""
    lo, hi = _byte_bounds(arr)
    return lo, hi - lo


def _overlaps(rng: tuple[int, int], ranges) -> bool:
    a, n = rng
    return n > 0 and any(a < b + m and b < a + n for b, m in ranges)


def shares_with(result, *sources) -> bool:
    """True when `result` (NumPy array, pandas Series/DataFrame, Arrow object) keeps its values
    inside the memory of any of `sources` (Arrow objects, NumPy arrays, pandas objects, or lists
    of them): an address test, not a dtype guess."""
    ranges = [r for src in sources for r in value_ranges(src)]
    return any(_overlaps(r, ranges) for r in value_ranges(result))


def value_ranges(result) -> list[tuple[int, int]]:
    """Memory ranges holding the values of a NumPy / pandas / Arrow result."""
    if isinstance(result, (pa.Array, pa.ChunkedArray, pa.RecordBatch, pa.Table, pa.Buffer)):
        return arrow_ranges(result)
    if isinstance(result, pd.DataFrame):
        return [r for _, s in result.items() for r in value_ranges(s)]
    if isinstance(result, pd.Series):
        arr = result.array
        if hasattr(arr, "_pa_array"):  # pandas ArrowDtype
            return arrow_ranges(arr._pa_array)
        return value_ranges(np.asarray(arr._ndarray if hasattr(arr, "_ndarray") else arr))
    if isinstance(result, np.ndarray):
        if result.dtype == object:
            return [numpy_range(v) for v in result[:64] if isinstance(v, np.ndarray)]
        return [numpy_range(result)]
    if isinstance(result, (list, tuple)):
        return [r for item in result for r in value_ranges(item)]
    return []


def nbytes_of(result) -> int:
    """Bytes of values held by a NumPy / pandas / Arrow result."""
    if isinstance(result, (pa.Array, pa.ChunkedArray, pa.RecordBatch, pa.Table)):
        return int(result.nbytes)
    if isinstance(result, pd.DataFrame):
        return int(sum(nbytes_of(s) for _, s in result.items()))
    if isinstance(result, pd.Series):
        return int(result.array.nbytes)
    if isinstance(result, (list, tuple)):
        return int(sum(nbytes_of(r) for r in result))
    return int(np.asarray(result).nbytes)


def copied_bytes(result, *sources) -> int:
    """Bytes of `result` that do not live in the memory of `sources` (0 for a pure view). For a
    list of results (one per column) or a DataFrame, each column is checked on its own."""
    if isinstance(result, (list, tuple)):
        return int(sum(copied_bytes(r, *sources) for r in result))
    if isinstance(result, pd.DataFrame):
        return int(sum(copied_bytes(s, *sources) for _, s in result.items()))
    return 0 if shares_with(result, *sources) else nbytes_of(result)


# ---- 1. Arrow -> NumPy forensics ----------------------------------------------------------------

REASONS = {
    "primitive": "NumPy-compatible fixed-width values and null_count == 0: NumPy can point at them",
    "bitmap_no_nulls": "a validity bitmap is present but null_count == 0: the values are still "
    "NumPy-compatible, NumPy points at them",
    "nulls": "NumPy has no validity bitmap: nulls become NaN in a new buffer",
    "bool": "Arrow packs 8 booleans per byte, NumPy uses one byte each: unpacked into a new buffer",
    "string": "offsets + UTF-8 bytes become one Python str object per value",
    "timestamp": "int64 values buffer with a type annotation: NumPy datetime64 can point at it",
    "dictionary": "indices are decoded into values (one Python object per row)",
    "list": "an object array of per-row NumPy views: the values stay, N Python objects are new",
    "yours": "your array: the addresses decide",
    "fixed_size_list": "an object array of per-row views; `.flatten().to_numpy().reshape(n, w)` "
    "gives the 2-D matrix as one view",
}


def forensics_cases(rows: int = 1000) -> dict[str, tuple[pa.Array, str]]:
    """The arrays the forensics table examines: name -> (array, reason key). Deterministic."""
    require_positive("rows", rows)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(rows)
    mask = rng.random(rows) < 0.1
    mask[0] = True  # at least one null whatever the size
    ts = (1_700_000_000_000_000 + rng.integers(0, 10**12, rows)).astype("int64")
    width = 4
    return {
        "int64": (pa.array(rng.integers(0, 1000, rows)), "primitive"),
        "double": (pa.array(x), "primitive"),
        "double with nulls": (pa.array(x, mask=mask), "nulls"),
        # a slice past the only null: the validity bitmap stays, null_count is 0
        "double, bitmap, 0 nulls": (
            pa.array(np.r_[0.0, x], mask=np.r_[True, np.zeros(rows, bool)]).slice(1),
            "bitmap_no_nulls",
        ),
        "int64 with nulls": (pa.array(rng.integers(0, 1000, rows), mask=mask), "nulls"),
        "bool": (pa.array(x > 0), "bool"),
        "string": (pa.array([f"s{i % 97}" for i in range(rows)]), "string"),
        "timestamp[us, tz=UTC]": (pa.array(ts, type=pa.timestamp("us", tz="UTC")), "timestamp"),
        "dictionary<int32, string>": (
            pa.array([f"c{i % 5}" for i in range(rows)]).dictionary_encode(),
            "dictionary",
        ),
        "list<double>": (pa.array(list(rng.standard_normal((rows, width)))), "list"),
        f"fixed_size_list<double, {width}>": (
            pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(rows * width)), width),
            "fixed_size_list",
        ),
    }


@dataclass
class BufferCheck:
    """One Arrow -> NumPy conversion, judged by addresses."""

    case: str
    arrow_type: str
    null_count: int
    zero_copy_only_ok: bool  # to_numpy(zero_copy_only=True) did not raise
    numpy_dtype: str
    arrow_address: int  # first values buffer of the array
    numpy_address: int  # data pointer of the result (first element's, for object arrays)
    shared: bool  # the result's values live inside Arrow's buffers
    new_python_objects: int  # Python objects created (object dtype results)
    copied_bytes: int  # bytes of values written to new memory (0 for a view)
    verdict: str  # "zero-copy view" | "views in new objects" | "copied"
    reason: str
    length: int = 0  # values in the array


def buffer_check(arr: pa.Array, case: str = "", reason: str = "") -> BufferCheck:
    """Convert `arr` to NumPy (`to_numpy(zero_copy_only=False)`) and decide from addresses whether
    the result is a view of Arrow's buffers or a copy; also record whether
    `zero_copy_only=True` is accepted."""
    try:
        arr.to_numpy(zero_copy_only=True)
        zc_ok = True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, NotImplementedError):
        zc_ok = False
    result = arr.to_numpy(zero_copy_only=False)
    ranges = arrow_ranges(arr)
    data_bufs = [b for b in arr.buffers()[1:] if b is not None and b.size > 0]
    arrow_addr = data_bufs[-1].address if data_bufs else 0
    is_obj = result.dtype == object
    if is_obj:
        first = next((v for v in result if isinstance(v, np.ndarray)), None)
        np_addr = int(first.__array_interface__["data"][0]) if first is not None else 0
        shared = first is not None and _overlaps(numpy_range(first), ranges)
        new_objects = len(result)
        copied = 0 if shared else _object_bytes(result)
        verdict = "views in new objects" if shared else "copied"
    else:
        np_addr = int(result.__array_interface__["data"][0])
        shared = _overlaps(numpy_range(result), ranges)
        new_objects = 0
        copied = 0 if shared else int(result.nbytes)
        verdict = "zero-copy view" if shared else "copied"
    return BufferCheck(
        case or str(arr.type),
        str(arr.type),
        arr.null_count,
        zc_ok,
        str(result.dtype),
        int(arrow_addr),
        np_addr,
        bool(shared),
        new_objects,
        copied,
        verdict,
        REASONS.get(reason, reason),
        len(arr),
    )


def _object_bytes(result: np.ndarray) -> int:
    """Bytes of an object array's pointers plus the payload of its elements (str: UTF-8 length)."""
    total = result.nbytes
    for v in result:
        if isinstance(v, np.ndarray):
            total += v.nbytes
        elif isinstance(v, str):
            total += len(v.encode())
        else:
            total += 8
    return int(total)


def forensics_table(rows: int = 1000, extra: dict[str, pa.Array] | None = None) -> pd.DataFrame:
    """Every case of `forensics_cases` through `buffer_check`, one row each, then your own arrays
    (`extra`: name -> pyarrow Array) judged the same way."""
    cases = dict(forensics_cases(rows))
    for name, arr in (extra or {}).items():
        if not isinstance(arr, pa.Array):
            raise LabError(f"{name!r} must be a pyarrow Array (e.g. pa.array([1.0, None])).")
        cases[name] = (arr, "yours")
    return pd.DataFrame([asdict(buffer_check(a, name, why)) for name, (a, why) in cases.items()])


# ---- 2. Arrow -> pandas with memray --------------------------------------------------------------


def memray_peak(fn, *args, **kwargs) -> tuple[int, object, float]:
    """Run fn under memray.Tracker; return (peak bytes allocated while it ran, result, seconds).
    Memory allocated before the call is not counted: this is the call's own high-water mark.
    Arrow allocates from the system allocator (malloc) meanwhile: its default pool (mimalloc /
    jemalloc) reserves big arenas with mmap once, which memray would report instead of the
    buffers actually requested."""
    import memray

    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        with tempfile.TemporaryDirectory(prefix="memray-") as tmp:
            path = os.path.join(tmp, "trace.bin")
            with memray.Tracker(path, native_traces=False):
                t0 = time.perf_counter()
                result = fn(*args, **kwargs)
                secs = time.perf_counter() - t0
            peak = memray.FileReader(path).metadata.peak_memory
    finally:
        pa.set_memory_pool(previous)
    return int(peak), result, secs


def numeric_table(rows: int, cols: int = N_FEATURES, null_fraction: float = 0.0) -> pa.Table:
    """A table of `cols` float64 columns (fresh buffers), optionally with nulls."""
    require_positive("rows", rows)
    require_positive("cols", cols)
    X = feature_matrix_cols(rows, cols)
    rng = np.random.default_rng(11)
    arrays = []
    for j in range(cols):
        mask = rng.random(rows) < null_fraction if null_fraction > 0 else None
        arrays.append(pa.array(X[j], mask=mask))
    return pa.table(arrays, names=feature_names(cols))


def feature_matrix_cols(rows: int, cols: int) -> list[np.ndarray]:
    """The kit's feature values as `cols` separate contiguous float64 columns."""
    X = feature_frame(rows, cols)
    return [np.ascontiguousarray(X[c].to_numpy()) for c in feature_names(cols)]


TO_PANDAS_VARIANTS = (
    "to_pandas()",
    "to_pandas(split_blocks, self_destruct)",
    "to_pandas(types_mapper=pd.ArrowDtype)",
    "split_blocks, 10% nulls",
    "ArrowDtype, 10% nulls",
)


def to_pandas_variants(rows: int, cols: int = N_FEATURES) -> pd.DataFrame:
    """Arrow -> pandas for a rows x cols float64 table, each variant on a fresh table:
    memray peak (bytes allocated during the call), seconds, bytes of data, and the fraction of
    columns whose values stay in Arrow's buffers (address test)."""
    rows_out = []
    for name in TO_PANDAS_VARIANTS:
        nulls = 0.1 if "nulls" in name else 0.0
        if name == "to_pandas()":
            kwargs = {}
        elif "ArrowDtype" in name:
            kwargs = {"types_mapper": pd.ArrowDtype}
        else:
            kwargs = {"split_blocks": True}
        # sharing is judged on a conversion without self_destruct (freed Arrow memory could be
        # reused by the result and fake an address match), with the table kept alive
        table = numeric_table(rows, cols, nulls)
        ranges = arrow_ranges(table)
        data = sum(c.nbytes for c in table.columns)
        check = table.to_pandas(**kwargs)
        shared = [any(_overlaps(r, ranges) for r in value_ranges(check[c])) for c in check.columns]
        del check, table
        table = numeric_table(rows, cols, nulls)
        if "split_blocks" in kwargs:
            kwargs["self_destruct"] = True

        def fn(t=table):
            return t.to_pandas(**kwargs)

        del table
        peak, pdf, secs = memray_peak(fn)
        blocks = pdf._mgr.nblocks
        rows_out.append(
            {
                "variant": name,
                "rows": rows,
                "cols": cols,
                "data_bytes": int(data),
                "peak_bytes": peak,
                "peak_over_data": peak / data,
                "seconds": secs,
                "shared_columns": int(sum(shared)),
                "pandas_blocks": int(blocks),
            }
        )
        del pdf, fn
    return pd.DataFrame(rows_out)


# ---- 3. reading IPC: socket / Python file / memory map -----------------------------------------


def ipc_stream_bytes(table: pa.Table, batch_rows: int | None = None) -> bytes:
    """`table` as an Arrow IPC *stream* (what travels over the worker socket)."""
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as w:
        for b in table.to_batches(max_chunksize=batch_rows):
            w.write_batch(b)
    return sink.getvalue()


def _socket_pair():
    srv = socket.create_server(("127.0.0.1", 0))
    cli = socket.create_connection(srv.getsockname())
    conn, _ = srv.accept()
    srv.close()
    return cli, conn


def _send_in_thread(sock, payload: bytes) -> threading.Thread:
    def run():
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def read_ipc_from_socket(payload: bytes, buffer_size: int = 65536) -> pa.Table:
    """Send `payload` over a TCP socket on 127.0.0.1 and read it the way the Python worker does:
    `pa.ipc.open_stream` on the socket's buffered file object."""
    cli, conn = _socket_pair()
    try:
        sender = _send_in_thread(cli, payload)
        with conn.makefile("rb", buffer_size) as f:
            table = pa.ipc.open_stream(f).read_all()
        sender.join()
    finally:
        cli.close()
        conn.close()
    return table


def socket_transfer_seconds(payload: bytes, repeats: int = 5) -> float:
    """Median seconds to push `payload` through a TCP socket on 127.0.0.1 into a preallocated
    buffer (the kernel copies: user -> kernel -> user)."""
    times = []
    target = bytearray(len(payload))
    for _ in range(repeats):
        cli, conn = _socket_pair()
        try:
            view = memoryview(target)
            t0 = time.perf_counter()
            sender = _send_in_thread(cli, payload)
            got = 0
            while got < len(payload):
                n = conn.recv_into(view[got:], len(payload) - got)
                if n == 0:
                    break
                got += n
            sender.join()
            times.append(time.perf_counter() - t0)
        finally:
            cli.close()
            conn.close()
    return statistics.median(times)


SOCKET_SOURCE = "socket stream (worker)"
MMAP_SOURCE = "memory-mapped file"


def ipc_read_variants(rows: int, cols: int = N_FEATURES, folder: str | None = None) -> pd.DataFrame:
    """The same IPC data read three ways: a TCP socket stream (the worker's case), a Python file
    object (BytesIO), and a memory-mapped IPC file. Columns: source, peak_bytes (memray, during the
    read), seconds, data_bytes, inside_source (values inside the source's memory: address test)."""
    table = numeric_table(rows, cols)
    data = sum(c.nbytes for c in table.columns)
    stream = ipc_stream_bytes(table)
    out = []
    peak, t, secs = memray_peak(read_ipc_from_socket, stream)
    out.append(
        {
            "source": SOCKET_SOURCE,
            "peak_bytes": peak,
            "seconds": secs,
            "data_bytes": data,
            "inside_source": shares_with(t, pa.py_buffer(stream)),
        }
    )
    peak, t, secs = memray_peak(lambda: pa.ipc.open_stream(io.BytesIO(stream)).read_all())
    out.append(
        {
            "source": "Python file object (BytesIO)",
            "peak_bytes": peak,
            "seconds": secs,
            "data_bytes": data,
            "inside_source": shares_with(t, pa.py_buffer(stream)),
        }
    )
    with tempfile.TemporaryDirectory(prefix="ipc-", dir=folder) as tmp:
        path = os.path.join(tmp, "table.arrow")
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
        mm = pa.memory_map(path)  # the mapping is made outside the measured call
        region = mm.read_buffer()
        mm.seek(0)
        peak, t, secs = memray_peak(lambda: pa.ipc.open_file(mm).read_all())
        out.append(
            {
                "source": MMAP_SOURCE,
                "peak_bytes": peak,
                "seconds": secs,
                "data_bytes": data,
                "inside_source": shares_with(t, region),
            }
        )
        del t, region
        mm.close()
    df = pd.DataFrame(out)
    df["peak_over_data"] = df["peak_bytes"] / df["data_bytes"]
    return df


# ---- findings: what this run's tables say -------------------------------------------------------

FORENSICS_FINDINGS = {
    "forensics": "{views} of {cases} cases are true views (same address on both sides); {copies} "
    "get a new buffer (up to {high:,} bytes for {values:,} values); in {wrapped} NumPy builds "
    "{objects:,} Python objects around views of Arrow's buffer.",
}

TO_PANDAS_FINDINGS = {
    "default": "The default `to_pandas()` allocated {peak_over_data:.2f}× the data ({peak_mb:.1f} "
    "MB for {data_mb:.1f} MB) and {shared} of {cols} columns share Arrow's memory: {how}.",
    "nulls": "Of {cols} columns `split_blocks` keeps {shared} as views, {shared_nulls} with 10% "
    "nulls (peak {nulls_over_data:.2f}× the data: {split_why}); `pd.ArrowDtype` {arrow} and "
    "{arrow_nulls} ({arrow_why}).",
}

IPC_FINDINGS = {
    "ipc": "From the socket the reader allocated {peak_mb:.2f} MB for {data_mb:.2f} MB of data, "
    "its columns {socket} the sender's bytes; from the memory map {peak:,} bytes, its columns "
    "{mmap} the mapped file.",
}


def forensics_findings(forensics: pd.DataFrame) -> list[Finding]:
    """What `forensics_table` found, as counts of its cases: views, copies (the most bytes
    written) and views wrapped in new Python objects; the table names each case."""
    groups = {
        key: forensics[forensics["verdict"] == verdict]
        for key, verdict in (
            ("views", "zero-copy view"),
            ("copies", "copied"),
            ("wrapped", "views in new objects"),
        )
    }
    copies, wrapped = groups["copies"], groups["wrapped"]
    return [
        finding(
            FORENSICS_FINDINGS,
            "forensics",
            cases=len(forensics),
            **{k: len(g) for k, g in groups.items()},
            high=int(copies["copied_bytes"].max()) if len(copies) else 0,
            values=int(copies["length"].max()) if len(copies) else 0,
            objects=int(wrapped["new_python_objects"].sum()),
        )
    ]


def to_pandas_findings(ways: pd.DataFrame) -> list[Finding]:
    """What `to_pandas_variants` found: the default's peak over the data and how many columns kept
    Arrow's memory (none: one consolidated copy); the views `split_blocks` and `pd.ArrowDtype`
    keep without and with 10% nulls, and why, by the columns measured as views."""
    w = ways.set_index("variant")
    default, split, arrow, nulls, arrow_nulls = (w.loc[v] for v in TO_PANDAS_VARIANTS)
    cols, shared = int(default["cols"]), int(default["shared_columns"])
    return [
        finding(
            TO_PANDAS_FINDINGS,
            "default",
            peak_over_data=float(default["peak_over_data"]),
            peak_mb=default["peak_bytes"] / 1e6,
            data_mb=default["data_bytes"] / 1e6,
            shared=shared,
            cols=cols,
            how="one consolidated copy" if shared == 0 else f"{cols - shared} copied",
        ),
        finding(
            TO_PANDAS_FINDINGS,
            "nulls",
            shared=int(split["shared_columns"]),
            shared_nulls=int(nulls["shared_columns"]),
            cols=cols,
            nulls_over_data=float(nulls["peak_over_data"]),
            split_why="NaN needs a new float64 buffer"
            if nulls["shared_columns"] == 0
            else "still views",
            arrow=int(arrow["shared_columns"]),
            arrow_nulls=int(arrow_nulls["shared_columns"]),
            arrow_why="it keeps the validity bitmap"
            if arrow_nulls["shared_columns"] > 0
            else "no view with nulls",
        ),
    ]


def ipc_read_findings(reads: pd.DataFrame) -> list[Finding]:
    """What `ipc_read_variants` found: the socket reader's peak (MB) against the data and whether
    its columns lie inside the sent bytes; the memory map's peak (bytes) and the same test."""
    r = reads.set_index("source")
    sock, mm = r.loc[SOCKET_SOURCE], r.loc[MMAP_SOURCE]
    return [
        finding(
            IPC_FINDINGS,
            "ipc",
            peak_mb=sock["peak_bytes"] / 1e6,
            data_mb=sock["data_bytes"] / 1e6,
            socket="inside" if sock["inside_source"] else "outside",
            peak=int(mm["peak_bytes"]),
            mmap="inside" if mm["inside_source"] else "outside",
        )
    ]

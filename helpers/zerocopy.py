"""Layer 4 (measure): where "zero-copy" holds and where it leaks, by buffer address.

- `buffer_check` / `forensics_table`: pyarrow array -> NumPy, classified by comparing the
  Arrow buffers' addresses with the NumPy result's data pointer (never by the type name).
- `to_pandas_variants`: Arrow -> pandas three ways, peak memory from memray, sharing by address.
- `ipc_read_variants`: reading an Arrow IPC stream from a socket / a Python file / a memory map.
- `copy_ledger`: every hop of one batch's round trip JVM -> Python worker -> JVM with the bytes
  it copies and its time. JVM hops run the JVM's own classes through py4j (ArrowConverters:
  ArrowWriter + MessageSerializer; ArrowColumnVector + UnsafeProjection; for pandas_udf the
  HybridRowQueue that keeps each input row, in a Janino-compiled loop); Python hops repeat the
  worker's calls (pyspark/sql/pandas/serializers.py) on the same batch; the end-to-end time per
  batch is measured on a real Spark job, with Spark's SQL metrics for the bytes on the wire.
- `array_features_*`: "zero-copy done right": features as one array<double> column whose Arrow
  values buffer is reshaped into the model's row-major matrix without a copy.

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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from .config import LabError, check_positive
from .data import N_FEATURES, feature_frame, feature_names, load_booster, predict
from .scenarios import rowmajor_view  # the view the map_in_arrow_rowmajor scenario hands the model

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


def numpy_range(arr: np.ndarray) -> tuple[int, int]:
    """(address, size) of the memory a NumPy array's data occupies (views included)."""
    lo, hi = np.byte_bounds(arr)
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
    "primitive": "fixed-width values buffer, no validity bitmap needed: NumPy can point at it",
    "nulls": "NumPy has no validity bitmap: nulls become NaN in a new buffer",
    "bool": "Arrow packs 8 booleans per byte, NumPy uses one byte each: unpacked into a new buffer",
    "string": "offsets + UTF-8 bytes become one Python str object per value",
    "timestamp": "int64 values buffer with a type annotation: NumPy datetime64 can point at it",
    "dictionary": "indices are decoded into values (one Python object per row)",
    "list": "an object array of per-row NumPy views: the values stay, N Python objects are new",
    "fixed_size_list": "an object array of per-row views; `.flatten().to_numpy().reshape(n, w)` "
                       "gives the 2-D matrix as one view",
}


def forensics_cases(rows: int = 1000) -> dict[str, tuple[pa.Array, str]]:
    """The arrays the forensics table examines: name -> (array, reason key). Deterministic."""
    check_positive("rows", rows)
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
        "int64 with nulls": (pa.array(rng.integers(0, 1000, rows), mask=mask), "nulls"),
        "bool": (pa.array(x > 0), "bool"),
        "string": (pa.array([f"s{i % 97}" for i in range(rows)]), "string"),
        "timestamp[us, tz=UTC]": (pa.array(ts, type=pa.timestamp("us", tz="UTC")), "timestamp"),
        "dictionary<int32, string>": (pa.array([f"c{i % 5}" for i in range(rows)]).dictionary_encode(),
                                      "dictionary"),
        "list<double>": (pa.array(list(rng.standard_normal((rows, width)))), "list"),
        f"fixed_size_list<double, {width}>": (
            pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(rows * width)), width),
            "fixed_size_list"),
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
    return BufferCheck(case or str(arr.type), str(arr.type), arr.null_count, zc_ok, str(result.dtype),
                       int(arrow_addr), np_addr, bool(shared), new_objects, copied, verdict,
                       REASONS.get(reason, reason))


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


def forensics_table(rows: int = 1000) -> pd.DataFrame:
    """Every case of `forensics_cases` through `buffer_check`, one row each."""
    return pd.DataFrame([asdict(buffer_check(a, name, why)) for name, (a, why) in forensics_cases(rows).items()])


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
    check_positive("rows", rows)
    check_positive("cols", cols)
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


TO_PANDAS_VARIANTS = ("to_pandas()", "to_pandas(split_blocks, self_destruct)",
                      "to_pandas(types_mapper=pd.ArrowDtype)", "split_blocks, 10% nulls")


def to_pandas_variants(rows: int, cols: int = N_FEATURES) -> pd.DataFrame:
    """Arrow -> pandas for a rows x cols float64 table, each variant on a fresh table:
    memray peak (bytes allocated during the call), seconds, bytes of data, and the fraction of
    columns whose values stay in Arrow's buffers (address test)."""
    rows_out = []
    for name in TO_PANDAS_VARIANTS:
        nulls = 0.1 if "nulls" in name else 0.0
        if name == "to_pandas()":
            kwargs = {}
        elif name == "to_pandas(types_mapper=pd.ArrowDtype)":
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
        fn = lambda t=table: t.to_pandas(**kwargs)
        del table
        peak, pdf, secs = memray_peak(fn)
        blocks = pdf._mgr.nblocks
        rows_out.append({"variant": name, "rows": rows, "cols": cols, "data_bytes": int(data),
                         "peak_bytes": peak, "peak_over_data": peak / data, "seconds": secs,
                         "shared_columns": int(sum(shared)), "pandas_blocks": int(blocks)})
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


def ipc_read_variants(rows: int, cols: int = N_FEATURES, folder: str | None = None) -> pd.DataFrame:
    """The same IPC data read three ways: a TCP socket stream (the worker's case), a Python file
    object (BytesIO), and a memory-mapped IPC file. Columns: source, peak_bytes (memray, during the
    read), seconds, data_bytes, inside_source (values inside the source's memory: address test)."""
    table = numeric_table(rows, cols)
    data = sum(c.nbytes for c in table.columns)
    stream = ipc_stream_bytes(table)
    out = []
    peak, t, secs = memray_peak(read_ipc_from_socket, stream)
    out.append({"source": "socket stream (worker)", "peak_bytes": peak, "seconds": secs,
                "data_bytes": data, "inside_source": shares_with(t, pa.py_buffer(stream))})
    peak, t, secs = memray_peak(lambda: pa.ipc.open_stream(io.BytesIO(stream)).read_all())
    out.append({"source": "Python file object (BytesIO)", "peak_bytes": peak, "seconds": secs,
                "data_bytes": data, "inside_source": shares_with(t, pa.py_buffer(stream))})
    with tempfile.TemporaryDirectory(prefix="ipc-", dir=folder) as tmp:
        path = os.path.join(tmp, "table.arrow")
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
        mm = pa.memory_map(path)  # the mapping is made outside the measured call
        region = mm.read_buffer()
        mm.seek(0)
        peak, t, secs = memray_peak(lambda: pa.ipc.open_file(mm).read_all())
        out.append({"source": "memory-mapped file", "peak_bytes": peak, "seconds": secs,
                    "data_bytes": data, "inside_source": shares_with(t, region)})
        del t, region
        mm.close()
    df = pd.DataFrame(out)
    df["peak_over_data"] = df["peak_bytes"] / df["data_bytes"]
    return df


# ---- 4. the copy ledger -----------------------------------------------------------------------

LEDGER_PATHS = ("pandas_udf", "map_in_pandas", "map_in_arrow")
EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"  # Arrow IPC end-of-stream marker


def check_ledger_paths(paths) -> tuple[str, ...]:
    """The ledger's paths, checked: a comma-separated string or a sequence of names."""
    if isinstance(paths, str):
        paths = [p.strip() for p in paths.split(",") if p.strip()]
    paths = tuple(paths)
    if not paths:
        raise LabError(f"No path given: use some of {', '.join(LEDGER_PATHS)}.")
    for p in paths:
        if p not in LEDGER_PATHS:
            raise LabError(f"The ledger covers {', '.join(LEDGER_PATHS)}; {p!r} is not one of them.")
    return paths


@dataclass
class Hop:
    """One hop of a batch's round trip. `bytes` = bytes written to new memory by this hop
    (measured: buffer sizes / addresses / Spark metrics); `seconds` = median time per batch."""
    path: str
    hop: str
    side: str  # jvm | kernel | python
    bytes: int
    seconds: float
    copy: bool
    how: str  # what was run / measured

    def record(self) -> dict:
        return {"path": self.path, "hop": self.hop, "bytes": int(self.bytes), "seconds": float(self.seconds)}


@dataclass
class Ledger:
    rows: int
    features: int
    batches: int
    hops: list[Hop] = field(default_factory=list)
    end_to_end: dict = field(default_factory=dict)  # path -> measured seconds per batch
    wire: dict = field(default_factory=dict)  # path -> Spark SQL metrics per batch (bytes)

    def table(self) -> pd.DataFrame:
        """Tidy: path, hop, side, bytes, seconds, copy, how."""
        return pd.DataFrame([asdict(h) for h in self.hops],
                            columns=["path", "hop", "side", "bytes", "seconds", "copy", "how"])

    def records(self) -> list[dict]:
        return [h.record() for h in self.hops]

    def summary(self) -> pd.DataFrame:
        """Per path: sum of the hops, the measured end-to-end time per batch, and the gap."""
        t = self.table()
        out = []
        for path, g in t.groupby("path", sort=False):
            e2e = self.end_to_end.get(path)
            s = float(g["seconds"].sum())
            w = self.wire.get(path, {})
            out.append({"path": path, "sum_of_hops_s": s, "end_to_end_per_batch_s": e2e,
                        "gap_s": (e2e - s) if e2e is not None else None,
                        "copied_bytes": int(g.loc[g["copy"], "bytes"].sum()),
                        "spark_sent_bytes": w.get("sent"), "spark_returned_bytes": w.get("returned")})
        return pd.DataFrame(out)


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def _pandas_ser(df_for_struct: bool):
    from pyspark.sql.pandas.serializers import ArrowStreamPandasUDFSerializer

    # the arguments worker.read_udfs passes for SQL_SCALAR_PANDAS_UDF / SQL_MAP_PANDAS_ITER_UDF
    return ArrowStreamPandasUDFSerializer("UTC", False, True, df_for_struct, "dict", False, False)


def _stream_of(schema: pa.Schema, batch_message: bytes) -> bytes:
    """An IPC stream (schema + one batch + end) around a record-batch message made by the JVM."""
    return schema.serialize().to_pybytes() + batch_message + EOS


def python_hops(path: str, stream: bytes, booster, repeats: int = 5) -> tuple[list[Hop], bytes]:
    """The Python worker's hops for one batch of `path`, repeating the worker's own calls on the
    IPC stream the JVM produced. Returns the hops and the result batch's IPC message bytes
    (what the JVM reads back)."""
    from pyspark.sql.pandas.serializers import ArrowStreamSerializer, ArrowStreamUDFSerializer
    from pyspark.sql.pandas.types import to_arrow_type
    from pyspark.sql.types import DoubleType, LongType, StructField, StructType

    hops = []
    src = pa.py_buffer(stream)

    secs = socket_transfer_seconds(stream, repeats)
    hops.append(Hop(path, "socket JVM -> worker", "kernel", len(stream), secs, True,
                    "TCP 127.0.0.1 sendall/recv_into of the IPC stream"))

    def read():
        if path == "map_in_arrow":
            return next(iter(ArrowStreamUDFSerializer().load_stream(io.BytesIO(stream))))[0]
        return next(iter(ArrowStreamSerializer().load_stream(io.BytesIO(stream))))

    secs, batch = _median_time(read, repeats)
    hops.append(Hop(path, "Python IPC read", "python", copied_bytes(batch, src), secs,
                    not shares_with(batch, src),
                    "ArrowStream(UDF)Serializer.load_stream on a file object"))

    if path == "map_in_arrow":
        feats = [c for c in batch.schema.names if c.startswith("f")]

        def matrix():
            return np.column_stack([batch.column(f).to_numpy(zero_copy_only=False) for f in feats])
        secs, X = _median_time(matrix, repeats)
        hops.append(Hop(path, "model input matrix", "python", copied_bytes(X, batch), secs,
                        not shares_with(X, batch), "np.column_stack(col.to_numpy()) (scenario code)"))
    else:
        ser = _pandas_ser(df_for_struct=True)

        def to_pandas():
            return [ser.arrow_to_pandas(c) for c in pa.Table.from_batches([batch]).itercolumns()]
        secs, cols = _median_time(to_pandas, repeats)
        hops.append(Hop(path, "Arrow -> pandas", "python", copied_bytes(cols, batch), secs,
                        copied_bytes(cols, batch) > 0, "ArrowStreamPandasUDFSerializer.arrow_to_pandas"))
        if path == "map_in_pandas":
            pdf = cols[0]
            feats = [c for c in pdf.columns if c.startswith("f")]
            secs, X = _median_time(lambda: pdf[feats].to_numpy(), repeats)
            how = "pdf[features].to_numpy() (scenario code)"
        else:
            secs, X = _median_time(lambda: np.column_stack(cols), repeats)
            how = "np.column_stack(series) (scenario code)"
        hops.append(Hop(path, "model input matrix", "python", copied_bytes(X, batch, cols), secs,
                        not shares_with(X, batch, cols), how))

    secs, pred = _median_time(lambda: predict(booster, X), repeats)
    hops.append(Hop(path, "predict (LightGBM)", "python", 0, secs, False,
                    "booster.predict(X, num_threads=1): compute, no copy of the input"))

    if path == "map_in_arrow":
        def to_arrow():
            rb = pa.RecordBatch.from_arrays([batch.column("id"), pa.array(pred)], names=["id", "prediction"])
            struct = pa.StructArray.from_arrays(rb.columns, fields=pa.struct(list(rb.schema)))
            return pa.RecordBatch.from_arrays([struct], ["_0"])
        how = "RecordBatch.from_arrays + struct wrap (ArrowStreamUDFSerializer.dump_stream)"
    elif path == "map_in_pandas":
        out_type = to_arrow_type(StructType([StructField("id", LongType()), StructField("prediction", DoubleType())]))
        ids = pdf["id"]

        def to_arrow():
            return ser._create_batch([(pd.DataFrame({"id": ids, "prediction": pred}), out_type)])
        how = "ArrowStreamPandasUDFSerializer._create_batch (struct)"
    else:
        def to_arrow():
            return ser._create_batch([(pd.Series(pred), pa.float64())])
        how = "ArrowStreamPandasUDFSerializer._create_batch"
    secs, out = _median_time(to_arrow, repeats)
    # bytes new in the result = result bytes outside the prediction array and the input batch
    outside = [r for r in arrow_ranges(out)
               if not _overlaps(r, [numpy_range(pred)]) and not _overlaps(r, arrow_ranges(batch))]
    new = int(sum(n for _, n in outside))
    hops.append(Hop(path, "result -> Arrow", "python", new, secs, new > 0, how))

    def write():
        sink = io.BytesIO()
        ArrowStreamSerializer().dump_stream(iter([out]), sink)
        return sink.getvalue()
    secs, result_stream = _median_time(write, repeats)
    hops.append(Hop(path, "Python IPC write", "python", len(result_stream), secs, True,
                    "ArrowStreamSerializer.dump_stream (RecordBatchStreamWriter)"))

    secs = socket_transfer_seconds(result_stream, repeats)
    hops.append(Hop(path, "socket worker -> JVM", "kernel", len(result_stream), secs, True,
                    "TCP 127.0.0.1 sendall/recv_into of the result stream"))
    return hops, out.serialize().to_pybytes()


class _JvmArrow:
    """The JVM's own Arrow code driven through py4j (Spark 3.5 ArrowConverters / UnsafeProjection).
    Each timed call processes all batches in one py4j call; the py4j round trip is subtracted."""

    def __init__(self, spark):
        self.jvm = spark._jvm
        self.gateway = spark.sparkContext._gateway
        pkg = self.jvm.org.apache.spark.sql.execution.arrow
        self.conv = getattr(pkg, "ArrowConverters$").__getattr__("MODULE$")
        self.tz = spark.conf.get("spark.sql.session.timeZone")
        self.rtt = statistics.median(self._timed(self.jvm.java.lang.System.nanoTime)[0] for _ in range(15))

    @staticmethod
    def _timed(fn, *args):
        t0 = time.perf_counter()
        r = fn(*args)
        return time.perf_counter() - t0, r

    def rows_of(self, frame):
        """The frame's rows as JVM UnsafeRows (executeCollect), kept in the JVM."""
        return frame._jdf.queryExecution().executedPlan().executeCollect()

    def _row_iter(self, rows):
        return self.jvm.scala.collection.mutable.WrappedArray.make(rows).iterator()

    def to_arrow(self, rows, schema, batch_rows: int, repeats: int) -> tuple[float, int, bytes]:
        """Seconds per batch for UnsafeRows -> ArrowWriter -> IPC message bytes, the number of
        batches, and the first batch's bytes."""
        self.conv.toBatchIterator(self._row_iter(rows), schema, batch_rows, self.tz, False, None).size()  # JIT warm-up
        times, n = [], 0
        for _ in range(repeats):
            t, n = self._timed(lambda: self.conv.toBatchIterator(self._row_iter(rows), schema, batch_rows,
                                                                 self.tz, False, None).size())
            times.append(max(0.0, t - self.rtt) / max(1, n))
        first = bytes(self.conv.toBatchIterator(self._row_iter(rows), schema, batch_rows, self.tz, False, None).next())
        return statistics.median(times), int(n), first

    def from_arrow(self, message: bytes, schema, copies: int, repeats: int,
                   flat=None) -> tuple[float, float, int]:
        """Seconds per batch to read a result batch into Arrow vectors (ArrowColumnVector rows),
        and to also project each row to an UnsafeRow; plus the UnsafeRow bytes per batch. With
        `flat` (a StructType), the result's struct column is projected to those top-level fields,
        as MapInBatchExec does, in the Janino probe."""
        lst = self.jvm.java.util.ArrayList()
        for _ in range(copies):
            lst.add(message)
        conv = self.jvm.scala.collection.JavaConverters
        proj = self.jvm.org.apache.spark.sql.catalyst.expressions.UnsafeProjection.create(schema)

        def it():
            return conv.asScalaIteratorConverter(lst.iterator()).asScala()
        self.conv.fromBatchIterator(it(), schema, self.tz, False, None).map(proj).size()  # warm-up
        reads, projs = [], []
        for _ in range(repeats):
            t, _ = self._timed(lambda: self.conv.fromBatchIterator(it(), schema, self.tz, False, None).size())
            reads.append(max(0.0, t - self.rtt) / copies)
            t, _ = self._timed(lambda: self.conv.fromBatchIterator(it(), schema, self.tz, False, None)
                               .map(proj).size())
            projs.append(max(0.0, t - self.rtt) / copies)
        first = self.conv.fromBatchIterator(it(), schema, self.tz, False, None).map(proj).next()
        rows = self.conv.fromBatchIterator(it(), schema, self.tz, False, None).size() // copies
        read, both = statistics.median(reads), statistics.median(projs)
        if flat is None:
            return read, max(0.0, both - read), int(first.getSizeInBytes()) * int(rows)
        probe = self._probe()

        def loop(project: bool):  # read (+ project) all copies inside the JVM
            return probe.structProject(self.conv.fromBatchIterator(it(), schema, self.tz, False, None), flat, project)
        loop(True), loop(False)  # warm-up
        reads_in_jvm, boths, nbytes = [], [], 0
        for _ in range(repeats):
            reads_in_jvm.append(loop(False)[0])
            r = loop(True)
            boths.append(r[0])
            nbytes = int(r[1])
        proj = (statistics.median(boths) - statistics.median(reads_in_jvm)) / 1e9 / copies
        return read, max(0.0, proj), nbytes // copies


    def row_queue(self, rows, num_fields: int, repeats: int) -> tuple[float, int]:
        """Seconds (best of `repeats`) to add all `rows` to a HybridRowQueue and remove them again,
        and the bytes written into it: the copy EvalPythonExec makes of every input row of a
        @pandas_udf so the result can be joined back. Runs helpers/java/RowQueueProbe.java,
        compiled in this JVM by Janino (no py4j call per row)."""
        probe = self._probe()
        probe.run(rows, num_fields, 1)  # JIT warm-up
        nanos, nbytes = probe.run(rows, num_fields, repeats)
        return nanos / 1e9, int(nbytes)

    def _probe(self):
        """helpers/java/RowQueueProbe.java compiled once per session in the JVM by Janino."""
        if getattr(self, "_queue_probe", None) is None:
            compiler = self.jvm.org.codehaus.janino.SimpleCompiler()
            compiler.setParentClassLoader(self.jvm.java.lang.Thread.currentThread().getContextClassLoader())
            compiler.cook((Path(__file__).parent / "java" / "RowQueueProbe.java").read_text())
            self._queue_probe = compiler.getClassLoader().loadClass("RowQueueProbe").newInstance()
        return self._queue_probe

    def join_project(self, rows, input_schema, repeats: int) -> tuple[float, int]:
        """Seconds (best of `repeats`) and bytes to join each input row with a one-double result row
        and project the pair to a new UnsafeRow, as EvalPythonExec does after a @pandas_udf."""
        types = self.jvm.org.apache.spark.sql.types
        one = types.StructType().add("prediction", types.DataTypes.DoubleType)
        values = self.gateway.new_array(self.jvm.java.lang.Object, 1)
        values[0] = 1.0
        result = self.jvm.org.apache.spark.sql.catalyst.expressions.UnsafeProjection.create(one).apply(
            self.jvm.org.apache.spark.sql.catalyst.expressions.GenericInternalRow(values))
        out = input_schema.add("prediction", types.DataTypes.DoubleType)
        self._probe().joinProject(rows, result, out, 1)  # JIT warm-up
        nanos, nbytes = self._probe().joinProject(rows, result, out, repeats)
        return nanos / 1e9, int(nbytes)


FLAT_RESULT_SCHEMA = ('{"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}},'
                      '{"name":"prediction","type":"double","nullable":true,"metadata":{}}]}')


def _spark_schema(spark, ddl_json: str):
    return spark._jvm.org.apache.spark.sql.types.DataType.fromJson(ddl_json)


def ledger_input(spark, rows: int, batches: int, n_features: int = N_FEATURES):
    """The ledger's input: `batches` x `rows` rows (id + features) in ONE cached partition."""
    pdf = feature_frame(rows * batches, n_features)
    df = spark.createDataFrame(pdf).coalesce(1).cache()
    df.count()
    return df


def _executions(spark) -> list[dict]:
    from .measure import _get_json

    sc = spark.sparkContext
    return _get_json(f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/sql?details=false&length=100000")


def run_with_python_metrics(spark, fn, timeout: float = 15.0):
    """Run `fn()` (one Spark action) and return (its result, the Python SQL metrics of the SQL
    execution it started). Spark fills the REST API from an asynchronous listener, so this waits
    until that execution is COMPLETED and reports its size metrics, instead of reading
    whatever execution happens to be the latest."""
    from .measure import python_metrics

    before = max((e["id"] for e in _executions(spark)), default=-1)
    result = fn()
    deadline = time.monotonic() + timeout
    while True:
        done = [e["id"] for e in _executions(spark) if e["id"] > before and e.get("status") == "COMPLETED"]
        if done:
            metrics = python_metrics(spark, max(done))
            if len(metrics) and metrics["bytes"].notna().any():
                return result, metrics
        if time.monotonic() > deadline:
            return result, pd.DataFrame(columns=["execution", "node", "metric", "value", "bytes"])
        time.sleep(0.1)


def metric_bytes(metrics: pd.DataFrame, needle: str) -> float | None:
    """The first size metric whose name contains `needle` (bytes), or None."""
    m = metrics[metrics["metric"].str.contains(needle)]
    vals = m["bytes"].dropna()
    return float(vals.iloc[0]) if len(vals) else None


def end_to_end_per_batch(spark, name: str, df, rows: int, batches: int, repeats: int = 3) -> tuple[float, dict]:
    """Median wall seconds per batch of scenario `name` over the one-partition `df` (noop sink,
    maxRecordsPerBatch=rows, after a warm-up run), and Spark's SQL metrics per batch (bytes)."""
    from .measure import set_batch_size, time_noop
    from .scenarios import scenario_frame

    set_batch_size(spark, rows)
    frame = scenario_frame(spark, name, df=df)
    time_noop(frame)  # warm-up: worker start, imports, model load, JIT
    walls = [time_noop(scenario_frame(spark, name, df=df)) for _ in range(repeats - 1)]
    wall, metrics = run_with_python_metrics(spark, lambda: time_noop(scenario_frame(spark, name, df=df)))
    walls.append(wall)
    wire = {}
    for key, needle in (("sent", "data sent"), ("returned", "data returned")):
        b = metric_bytes(metrics, needle)
        if b is not None:
            wire[key] = b / batches
    return statistics.median(walls) / batches, wire


def copy_ledger(spark, rows: int = 10_000, paths=LEDGER_PATHS, batches: int = 4, repeats: int = 5,
                n_features: int = N_FEATURES) -> Ledger:
    """The copy ledger for one batch of `rows` rows x `n_features` doubles through each path.

    JVM hops: the JVM's ArrowConverters (ArrowWriter + MessageSerializer) on the same rows as
    UnsafeRows, and its reader + UnsafeProjection on the worker's result (py4j, timed around one
    call over all batches, round trip subtracted). Python hops: the worker's serializer calls on
    the JVM's bytes. End-to-end: the scenario on Spark, per batch. All in seconds and bytes."""
    from pyspark.sql import functions as F

    check_positive("rows", rows)
    check_positive("batches", batches)
    check_positive("repeats", repeats)
    paths = check_ledger_paths(paths)
    from pyspark.sql.pandas.types import to_arrow_schema

    ledger = Ledger(rows, n_features, batches)
    previous_batch = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    df = ledger_input(spark, rows, batches, n_features)
    feats = feature_names(n_features)
    jvm = _JvmArrow(spark)
    booster = load_booster()
    try:
        for path in paths:
            if path == "pandas_udf":
                sent = df.select(*feats)
                result_schema = '{"type":"struct","fields":[{"name":"_0","type":"double","nullable":true,"metadata":{}}]}'
            else:
                sent = df.select(F.struct(*df.columns).alias("struct"))
                result_schema = ('{"type":"struct","fields":[{"name":"_0","type":{"type":"struct","fields":['
                                 '{"name":"id","type":"long","nullable":true,"metadata":{}},'
                                 '{"name":"prediction","type":"double","nullable":true,"metadata":{}}]},'
                                 '"nullable":false,"metadata":{}}]}')
            if path == "pandas_udf":  # EvalPythonExec keeps every input row (all of df's columns) for the join
                secs, nbytes = jvm.row_queue(jvm.rows_of(df), len(df.columns), repeats)
                ledger.hops.append(Hop(path, "JVM input rows -> HybridRowQueue (kept for the join)", "jvm",
                                       nbytes // batches, secs / batches, True,
                                       "HybridRowQueue.add + remove (EvalPythonExec.scala, RowQueue.scala) in a "
                                       "Janino-compiled JVM loop"))
            jrows = jvm.rows_of(sent)
            secs, n, message = jvm.to_arrow(jrows, sent._jdf.schema(), rows, repeats)
            if n != batches:
                raise LabError(f"Expected {batches} batches from the JVM, got {n}.")
            ledger.hops.append(Hop(path, "JVM rows -> Arrow vectors -> IPC bytes", "jvm", len(message), secs, True,
                                   "ArrowConverters.toBatchIterator (ArrowWriter + MessageSerializer) via py4j"))
            stream = _stream_of(to_arrow_schema(sent.schema), message)
            hops, result_message = python_hops(path, stream, booster, repeats)
            ledger.hops.extend(hops)
            flat = None if path == "pandas_udf" else _spark_schema(spark, FLAT_RESULT_SCHEMA)
            read, proj, row_bytes = jvm.from_arrow(result_message, _spark_schema(spark, result_schema),
                                                   batches, repeats, flat=flat)
            body = pa.ipc.read_message(pa.py_buffer(result_message)).body.size
            ledger.hops.append(Hop(path, "JVM IPC read -> Arrow vectors", "jvm", int(body), read, True,
                                   "ArrowConverters.fromBatchIterator (MessageSerializer + VectorLoader) via py4j"))
            if path == "pandas_udf":  # the result is joined with the queued input row, then projected
                proj, row_bytes = (v / batches for v in jvm.join_project(jvm.rows_of(df), df._jdf.schema(), repeats))
                how = ("JoinedRow(input row, result) + UnsafeProjection, as EvalPythonExec.scala does, in a "
                       "Janino-compiled JVM loop")
            else:
                how = ("the result struct's fields projected to UnsafeRows, as MapInBatchExec.scala does, in a "
                       "Janino-compiled JVM loop")
            ledger.hops.append(Hop(path, "JVM projection -> UnsafeRows", "jvm", int(row_bytes), proj, True, how))
            e2e, wire = end_to_end_per_batch(spark, path, df, rows, batches)
            ledger.end_to_end[path] = e2e
            ledger.wire[path] = wire
    finally:
        df.unpersist()
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", previous_batch)  # leave the session as found
    return ledger


def data_bytes(rows: int, double_cols: int) -> int:
    """Bytes of values in `rows` rows of `double_cols` float64 columns (8 bytes each)."""
    return int(rows) * int(double_cols) * 8


# ---- 5. zero-copy done right: row-major features in one array column -----------------------------

def check_array_batches(batches, width: int):
    """mapInArrow function for verification: per batch, whether the matrix handed to the model
    is a view of the Arrow values buffer (address test) and its C-contiguity."""
    for batch in batches:
        arr = batch.column("features")
        X = rowmajor_view(arr, width)
        yield pa.RecordBatch.from_pydict({
            "rows": [len(arr)], "shared": [bool(shares_with(X, arr))],
            "c_contiguous": [bool(X.flags["C_CONTIGUOUS"])],
            "matrix_address": [int(X.__array_interface__["data"][0])],
            "values_address": [int(arr.flatten().buffers()[1].address + arr.flatten().offset * 8)]})


def verify_array_zero_copy(spark, df, n_features: int = N_FEATURES) -> pd.DataFrame:
    """Run the verification function inside the Python workers: one row per batch."""
    schema = "rows long, shared boolean, c_contiguous boolean, matrix_address long, values_address long"
    return df.mapInArrow(lambda it: check_array_batches(it, n_features), schema).toPandas()


def stacking_vs_view(rows: int, n_features: int = N_FEATURES, repeats: int = 5) -> pd.DataFrame:
    """In-process, one batch: the naive matrix (np.column_stack of the columns) against the view
    of an array column's values buffer. Seconds (median), bytes copied and address verdict."""
    cols = feature_matrix_cols(rows, n_features)
    batch = pa.RecordBatch.from_arrays([pa.array(c) for c in cols], names=feature_names(n_features))
    flat = np.column_stack(cols).ravel()
    lists = pa.FixedSizeListArray.from_arrays(pa.array(flat), n_features)
    lists = pa.ListArray.from_arrays(pa.array(np.arange(0, rows * n_features + 1, n_features, dtype=np.int32)),
                                     lists.flatten())
    s1, X1 = _median_time(lambda: np.column_stack([batch.column(i).to_numpy() for i in range(n_features)]), repeats)
    s2, X2 = _median_time(lambda: rowmajor_view(lists, n_features), repeats)
    if not np.array_equal(X1, X2):
        raise LabError("The two layouts disagree: the array column was not built from the same rows.")
    return pd.DataFrame([
        {"layout": "16 double columns -> np.column_stack", "seconds": s1,
         "copied_bytes": copied_bytes(X1, batch), "shared": shares_with(X1, batch), "c_contiguous": X1.flags["C_CONTIGUOUS"]},
        {"layout": "array<double> column -> values.reshape", "seconds": s2,
         "copied_bytes": copied_bytes(X2, lists), "shared": shares_with(X2, lists), "c_contiguous": X2.flags["C_CONTIGUOUS"]},
    ])


def jvm_write_seconds(spark, df, batch_rows: int, repeats: int = 3) -> tuple[float, int]:
    """Seconds per batch the JVM spends turning `df`'s rows, wrapped as one struct like
    MapInBatchExec does, into Arrow IPC bytes (ArrowConverters via py4j), and the batch's bytes."""
    from pyspark.sql import functions as F

    jvm = _JvmArrow(spark)
    sent = df.select(F.struct(*df.columns).alias("struct"))
    secs, _, message = jvm.to_arrow(jvm.rows_of(sent), sent._jdf.schema(), batch_rows, repeats)
    return secs, len(message)


def array_vs_columns(spark, rows: int, repeats: int = 3, batch_size: int = 10_000) -> pd.DataFrame:
    """End to end on Spark: mapInArrow with 16 double columns (np.column_stack) vs mapInArrow with
    one array<double> column (view). Median wall seconds, rows/s, parity with the reference, and
    the JVM's own cost of writing one batch of each layout to Arrow (seconds, bytes)."""
    from .measure import reference_predictions, set_batch_size, time_noop
    from .scenarios import input_frame, scenario_frame

    previous_batch = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    set_batch_size(spark, batch_size)
    ref = reference_predictions(rows)
    arr_df = input_frame(spark, rows, layout="array")
    out = []
    try:
        for label, src, make in (
                ("16 double columns (column_stack)", input_frame(spark, rows),
                 lambda: scenario_frame(spark, "map_in_arrow", rows=rows)),
                ("array<double> column (view)", arr_df,
                 lambda: scenario_frame(spark, "map_in_arrow_rowmajor", df=arr_df))):
            time_noop(make())  # warm-up
            walls = [time_noop(make()) for _ in range(repeats)]
            pred = make().toPandas().sort_values("id")["prediction"].to_numpy()
            wall = statistics.median(walls)
            jvm_s, jvm_bytes = jvm_write_seconds(spark, src, min(batch_size, rows), repeats)
            out.append({"layout": label, "rows": rows, "wall_s": wall, "rows_per_s": rows / wall,
                        "max_abs_diff": float(np.max(np.abs(pred - ref))),
                        "jvm_write_s_per_batch": jvm_s, "jvm_batch_bytes": jvm_bytes})
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", previous_batch)
    return pd.DataFrame(out)


# ---- exercise checker (notebook 03) --------------------------------------------------------------

def check_zero_copy_guess(guess: dict[str, bool], rows: int = 1000) -> pd.DataFrame:
    """Compare a guess {case: True if zero-copy view} with the measured forensics table.
    Returns one row per case with guess, measured and correct; LabError on unknown cases."""
    table = forensics_table(rows).set_index("case")
    unknown = set(guess) - set(table.index)
    if unknown:
        raise LabError(f"Unknown case(s) {sorted(unknown)}: use names from forensics_table()['case'].")
    rows_out = [{"case": c, "guess": bool(g), "measured": table.loc[c, "verdict"] == "zero-copy view"}
                for c, g in guess.items()]
    df = pd.DataFrame(rows_out)
    df["correct"] = df["guess"] == df["measured"]
    return df

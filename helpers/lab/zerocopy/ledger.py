"""Notebook 03, the copy ledger: every hop of one batch's round trip JVM -> Python -> JVM, with the
bytes it copies and its time (Python hops measured in this process, JVM hops through py4j, which
is a proxy: it adds a byte-array copy the runner does not make).

JVM hops run the JVM's own classes through py4j (ArrowConverters: ArrowWriter + MessageSerializer;
ArrowColumnVector + UnsafeProjection; for pandas_udf the HybridRowQueue that keeps each input row,
in a Janino-compiled loop); Python hops repeat the worker's calls
(pyspark/sql/pandas/serializers.py) on the same batch; the end-to-end time per batch is measured
on a real Spark job, with Spark's SQL metrics for the bytes on the wire. `ledger_findings` says
what a ledger found (templates in LEDGER_FINDINGS).
"""

from __future__ import annotations

import io
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyspark
import pyspark.sql.pandas.serializers as _serializers

from helpers.core.config import LabError
from helpers.core.findings import Finding, finding
from helpers.core.validate import require_positive
from helpers.lab.zerocopy.buffers import (
    _overlaps,
    arrow_ranges,
    copied_bytes,
    numpy_range,
    shares_with,
    socket_transfer_seconds,
)
from helpers.measure.metrics import metric_bytes, run_with_python_metrics
from helpers.measure.timing import set_batch_size, time_noop
from helpers.model.data import N_FEATURES, feature_frame, feature_names, load_booster, predict
from helpers.paths.scenarios import scenario_frame

LEDGER_PATHS = ("pandas_udf", "map_in_pandas", "map_in_arrow")
ROW_QUEUE_HOP = "JVM input rows -> HybridRowQueue (kept for the join)"

EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"  # Arrow IPC end-of-stream marker


# The Python hops replay the worker's own serializer calls; they exist in this form in pyspark 3.5.
# Asked from the installed pyspark: 4.x moved the Arrow <-> pandas conversions elsewhere.
_REPLAYED = ("ArrowStreamPandasUDFSerializer", "ArrowStreamUDFSerializer")
LEDGER_HERE = all(hasattr(_serializers, name) for name in _REPLAYED)

NOT_HERE_FINDINGS = {
    "not_ported": (
        "The copy ledger replays the Python worker's own serializer calls "
        "(`{classes}` in `pyspark/sql/pandas/serializers.py`); pyspark {version} does not have "
        "them, so the ledger is skipped on this kernel. The Spark 3.5 kernel runs it."
    ),
}


def not_here_findings() -> list[Finding]:
    """Why the ledger does not run with the installed pyspark."""
    return [
        finding(
            NOT_HERE_FINDINGS,
            "not_ported",
            classes="`, `".join(_REPLAYED),
            version=pyspark.__version__,
        )
    ]


def require_ledger_paths(paths) -> tuple[str, ...]:
    """The ledger's paths, checked: a comma-separated string or a sequence of names; a one-line
    LabError where the installed pyspark lacks the serializers the ledger replays."""
    if not LEDGER_HERE:
        raise LabError(not_here_findings()[0].text())
    if isinstance(paths, str):
        paths = [p.strip() for p in paths.split(",") if p.strip()]
    paths = tuple(paths)
    if not paths:
        raise LabError(f"No path given: use some of {', '.join(LEDGER_PATHS)}.")
    for p in paths:
        if p not in LEDGER_PATHS:
            raise LabError(
                f"The ledger covers {', '.join(LEDGER_PATHS)}; {p!r} is not one of them."
            )
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
        return {
            "path": self.path,
            "hop": self.hop,
            "bytes": int(self.bytes),
            "seconds": float(self.seconds),
        }


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
        return pd.DataFrame(
            [asdict(h) for h in self.hops],
            columns=["path", "hop", "side", "bytes", "seconds", "copy", "how"],
        )

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
            out.append(
                {
                    "path": path,
                    "sum_of_hops_s": s,
                    "end_to_end_per_batch_s": e2e,
                    "gap_s": (e2e - s) if e2e is not None else None,
                    "copied_bytes": int(g.loc[g["copy"], "bytes"].sum()),
                    "spark_sent_bytes": w.get("sent"),
                    "spark_returned_bytes": w.get("returned"),
                }
            )
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
    hops.append(
        Hop(
            path,
            "socket JVM -> worker",
            "kernel",
            len(stream),
            secs,
            True,
            "TCP 127.0.0.1 sendall/recv_into of the IPC stream",
        )
    )

    def read():
        if path == "map_in_arrow":
            return next(iter(ArrowStreamUDFSerializer().load_stream(io.BytesIO(stream))))[0]
        return next(iter(ArrowStreamSerializer().load_stream(io.BytesIO(stream))))

    secs, batch = _median_time(read, repeats)
    hops.append(
        Hop(
            path,
            "Python IPC read",
            "python",
            copied_bytes(batch, src),
            secs,
            not shares_with(batch, src),
            "ArrowStream(UDF)Serializer.load_stream on a file object",
        )
    )

    if path == "map_in_arrow":
        feats = [c for c in batch.schema.names if c.startswith("f")]

        def matrix():
            return np.column_stack([batch.column(f).to_numpy(zero_copy_only=False) for f in feats])

        secs, X = _median_time(matrix, repeats)
        hops.append(
            Hop(
                path,
                "model input matrix",
                "python",
                copied_bytes(X, batch),
                secs,
                not shares_with(X, batch),
                "np.column_stack(col.to_numpy()) (scenario code)",
            )
        )
    else:
        ser = _pandas_ser(df_for_struct=True)

        def to_pandas():
            return [ser.arrow_to_pandas(c) for c in pa.Table.from_batches([batch]).itercolumns()]

        secs, cols = _median_time(to_pandas, repeats)
        hops.append(
            Hop(
                path,
                "Arrow -> pandas",
                "python",
                copied_bytes(cols, batch),
                secs,
                copied_bytes(cols, batch) > 0,
                "ArrowStreamPandasUDFSerializer.arrow_to_pandas",
            )
        )
        if path == "map_in_pandas":
            pdf = cols[0]
            feats = [c for c in pdf.columns if c.startswith("f")]
            secs, X = _median_time(lambda: pdf[feats].to_numpy(), repeats)
            how = "pdf[features].to_numpy() (scenario code)"
        else:
            secs, X = _median_time(lambda: np.column_stack(cols), repeats)
            how = "np.column_stack(series) (scenario code)"
        hops.append(
            Hop(
                path,
                "model input matrix",
                "python",
                copied_bytes(X, batch, cols),
                secs,
                not shares_with(X, batch, cols),
                how,
            )
        )

    secs, pred = _median_time(lambda: predict(booster, X), repeats)
    hops.append(
        Hop(
            path,
            "predict (LightGBM)",
            "python",
            0,
            secs,
            False,
            "booster.predict(X, num_threads=1): compute, no copy of the input",
        )
    )

    if path == "map_in_arrow":

        def to_arrow():
            rb = pa.RecordBatch.from_arrays(
                [batch.column("id"), pa.array(pred)], names=["id", "prediction"]
            )
            struct = pa.StructArray.from_arrays(rb.columns, fields=pa.struct(list(rb.schema)))
            return pa.RecordBatch.from_arrays([struct], ["_0"])

        how = "RecordBatch.from_arrays + struct wrap (ArrowStreamUDFSerializer.dump_stream)"
    elif path == "map_in_pandas":
        out_type = to_arrow_type(
            StructType([StructField("id", LongType()), StructField("prediction", DoubleType())])
        )
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
    outside = [
        r
        for r in arrow_ranges(out)
        if not _overlaps(r, [numpy_range(pred)]) and not _overlaps(r, arrow_ranges(batch))
    ]
    new = int(sum(n for _, n in outside))
    hops.append(Hop(path, "result -> Arrow", "python", new, secs, new > 0, how))

    def write():
        sink = io.BytesIO()
        ArrowStreamSerializer().dump_stream(iter([out]), sink)
        return sink.getvalue()

    secs, result_stream = _median_time(write, repeats)
    hops.append(
        Hop(
            path,
            "Python IPC write",
            "python",
            len(result_stream),
            secs,
            True,
            "ArrowStreamSerializer.dump_stream (RecordBatchStreamWriter)",
        )
    )

    secs = socket_transfer_seconds(result_stream, repeats)
    hops.append(
        Hop(
            path,
            "socket worker -> JVM",
            "kernel",
            len(result_stream),
            secs,
            True,
            "TCP 127.0.0.1 sendall/recv_into of the result stream",
        )
    )
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
        # Spark 4.x added a boolean (large var types) before the TaskContext: asked from the class.
        arity = {m.getName(): m.getParameterCount() for m in self.conv.getClass().getMethods()}
        self.to_extra = (False,) * (arity["toBatchIterator"] - 6)
        self.from_extra = (False,) * (arity["fromBatchIterator"] - 5)
        self.rtt = statistics.median(
            self._timed(self.jvm.java.lang.System.nanoTime)[0] for _ in range(15)
        )

    @staticmethod
    def _timed(fn, *args):
        t0 = time.perf_counter()
        r = fn(*args)
        return time.perf_counter() - t0, r

    def rows_of(self, frame):
        """The frame's rows as JVM UnsafeRows (executeCollect), kept in the JVM."""
        return frame._jdf.queryExecution().executedPlan().executeCollect()

    def _to(self, rows, schema, batch_rows: int):
        """ArrowConverters.toBatchIterator over the JVM rows (the line's arity)."""
        it = self._row_iter(rows)
        return self.conv.toBatchIterator(
            it, schema, batch_rows, self.tz, False, *self.to_extra, None
        )

    def _from(self, batches, schema):
        """ArrowConverters.fromBatchIterator over IPC messages (the line's arity)."""
        return self.conv.fromBatchIterator(batches, schema, self.tz, False, *self.from_extra, None)

    def _row_iter(self, rows):
        seq = self.jvm.scala.collection.mutable.WrappedArray  # Scala 2.12 (Spark 3.5)
        if not callable(getattr(seq, "make", None)) or "JavaPackage" in type(seq).__name__:
            seq = self.jvm.scala.collection.mutable.ArraySeq  # Scala 2.13 (Spark 4.x)
        return seq.make(rows).iterator()

    def to_arrow(self, rows, schema, batch_rows: int, repeats: int) -> tuple[float, int, bytes]:
        """Seconds per batch for UnsafeRows -> ArrowWriter -> IPC message bytes, the number of
        batches, and the first batch's bytes."""
        self._to(rows, schema, batch_rows).size()  # JIT warm-up
        times, n = [], 0
        for _ in range(repeats):
            t, n = self._timed(lambda: self._to(rows, schema, batch_rows).size())
            times.append(max(0.0, t - self.rtt) / max(1, n))
        first = bytes(self._to(rows, schema, batch_rows).next())
        return statistics.median(times), int(n), first

    def from_arrow(
        self, message: bytes, schema, copies: int, repeats: int, flat=None
    ) -> tuple[float, float, int]:
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

        self._from(it(), schema).map(proj).size()  # warm-up
        reads, projs = [], []
        for _ in range(repeats):
            t, _ = self._timed(lambda: self._from(it(), schema).size())
            reads.append(max(0.0, t - self.rtt) / copies)
            t, _ = self._timed(lambda: self._from(it(), schema).map(proj).size())
            projs.append(max(0.0, t - self.rtt) / copies)
        first = self._from(it(), schema).map(proj).next()
        rows = self._from(it(), schema).size() // copies
        read, both = statistics.median(reads), statistics.median(projs)
        if flat is None:
            return read, max(0.0, both - read), int(first.getSizeInBytes()) * int(rows)
        probe = self._probe()

        def loop(project: bool):  # read (+ project) all copies inside the JVM
            return probe.structProject(
                self._from(it(), schema),
                flat,
                project,
            )

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
        @pandas_udf so the result can be joined back. Runs java/RowQueueProbe.java (beside this
        module), compiled in this JVM by Janino (no py4j call per row)."""
        probe = self._probe()
        probe.run(rows, num_fields, 1)  # JIT warm-up
        nanos, nbytes = probe.run(rows, num_fields, repeats)
        return nanos / 1e9, int(nbytes)

    def _probe(self):
        """java/RowQueueProbe.java (beside this module), compiled once per session by Janino."""
        if getattr(self, "_queue_probe", None) is None:
            compiler = self.jvm.org.codehaus.janino.SimpleCompiler()
            compiler.setParentClassLoader(
                self.jvm.java.lang.Thread.currentThread().getContextClassLoader()
            )
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
        result = self.jvm.org.apache.spark.sql.catalyst.expressions.UnsafeProjection.create(
            one
        ).apply(self.jvm.org.apache.spark.sql.catalyst.expressions.GenericInternalRow(values))
        out = input_schema.add("prediction", types.DataTypes.DoubleType)
        self._probe().joinProject(rows, result, out, 1)  # JIT warm-up
        nanos, nbytes = self._probe().joinProject(rows, result, out, repeats)
        return nanos / 1e9, int(nbytes)


FLAT_RESULT_SCHEMA = (
    '{"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}},'
    '{"name":"prediction","type":"double","nullable":true,"metadata":{}}]}'
)


def _spark_schema(spark, ddl_json: str):
    return spark._jvm.org.apache.spark.sql.types.DataType.fromJson(ddl_json)


def ledger_input(spark, rows: int, batches: int, n_features: int = N_FEATURES):
    """The ledger's input: `batches` x `rows` rows (id + features) in ONE cached partition."""
    pdf = feature_frame(rows * batches, n_features)
    df = spark.createDataFrame(pdf).coalesce(1).cache()
    df.count()
    return df


def end_to_end_per_batch(
    spark, name: str, df, rows: int, batches: int, repeats: int = 3
) -> tuple[float, dict]:
    """Median wall seconds per batch of scenario `name` over the one-partition `df` (noop sink,
    maxRecordsPerBatch=rows, after a warm-up run), and Spark's SQL metrics per batch (bytes)."""

    set_batch_size(spark, rows)
    frame = scenario_frame(spark, name, df=df)
    time_noop(frame)  # warm-up: worker start, imports, model load, JIT
    walls = [time_noop(scenario_frame(spark, name, df=df)) for _ in range(repeats - 1)]
    wall, metrics = run_with_python_metrics(
        spark, lambda: time_noop(scenario_frame(spark, name, df=df))
    )
    walls.append(wall)
    wire = {}
    for key, needle in (("sent", "data sent"), ("returned", "data returned")):
        b = metric_bytes(metrics, needle)
        if b is not None:
            wire[key] = b / batches
    return statistics.median(walls) / batches, wire


def copy_ledger(
    spark,
    rows: int = 10_000,
    paths=LEDGER_PATHS,
    batches: int = 4,
    repeats: int = 5,
    n_features: int = N_FEATURES,
) -> Ledger:
    """The copy ledger for one batch of `rows` rows x `n_features` doubles through each path.

    JVM hops: the JVM's ArrowConverters (ArrowWriter + MessageSerializer) on the same rows as
    UnsafeRows, and its reader + UnsafeProjection on the worker's result (py4j, timed around one
    call over all batches, round trip subtracted). Python hops: the worker's serializer calls on
    the JVM's bytes. End-to-end: the scenario on Spark, per batch. All in seconds and bytes."""
    from pyspark.sql import functions as F

    require_positive("rows", rows)
    require_positive("batches", batches)
    require_positive("repeats", repeats)
    paths = require_ledger_paths(paths)
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
                result_schema = (
                    '{"type":"struct","fields":[{"name":"_0","type":"double","nullable":true,'
                    '"metadata":{}}]}'
                )
            else:
                sent = df.select(F.struct(*df.columns).alias("struct"))
                result_schema = (
                    '{"type":"struct","fields":[{"name":"_0","type":{"type":"struct","fields":['
                    '{"name":"id","type":"long","nullable":true,"metadata":{}},'
                    '{"name":"prediction","type":"double","nullable":true,"metadata":{}}]},'
                    '"nullable":false,"metadata":{}}]}'
                )
            if path == "pandas_udf":  # EvalPythonExec keeps every input row (all columns) to join
                secs, nbytes = jvm.row_queue(jvm.rows_of(df), len(df.columns), repeats)
                ledger.hops.append(
                    Hop(
                        path,
                        ROW_QUEUE_HOP,
                        "jvm",
                        nbytes // batches,
                        secs / batches,
                        True,
                        "HybridRowQueue.add + remove (EvalPythonExec.scala, RowQueue.scala) in a "
                        "Janino-compiled JVM loop",
                    )
                )
            jrows = jvm.rows_of(sent)
            secs, n, message = jvm.to_arrow(jrows, sent._jdf.schema(), rows, repeats)
            if n != batches:
                raise LabError(f"Expected {batches} batches from the JVM, got {n}.")
            ledger.hops.append(
                Hop(
                    path,
                    "JVM rows -> Arrow vectors -> IPC bytes",
                    "jvm",
                    len(message),
                    secs,
                    True,
                    "ArrowConverters.toBatchIterator (ArrowWriter + MessageSerializer) via py4j",
                )
            )
            stream = _stream_of(to_arrow_schema(sent.schema), message)
            hops, result_message = python_hops(path, stream, booster, repeats)
            ledger.hops.extend(hops)
            flat = None if path == "pandas_udf" else _spark_schema(spark, FLAT_RESULT_SCHEMA)
            read, proj, row_bytes = jvm.from_arrow(
                result_message, _spark_schema(spark, result_schema), batches, repeats, flat=flat
            )
            body = pa.ipc.read_message(pa.py_buffer(result_message)).body.size
            ledger.hops.append(
                Hop(
                    path,
                    "JVM IPC read -> Arrow vectors",
                    "jvm",
                    int(body),
                    read,
                    True,
                    "ArrowConverters.fromBatchIterator (MessageSerializer + VectorLoader) via py4j",
                )
            )
            if path == "pandas_udf":  # the result is joined with the queued input row, projected
                proj, row_bytes = (
                    v / batches
                    for v in jvm.join_project(jvm.rows_of(df), df._jdf.schema(), repeats)
                )
                how = (
                    "JoinedRow(input row, result) + UnsafeProjection, as EvalPythonExec.scala "
                    "does, in a Janino-compiled JVM loop"
                )
            else:
                how = (
                    "the result struct's fields projected to UnsafeRows, as MapInBatchExec.scala "
                    "does, in a Janino-compiled JVM loop"
                )
            ledger.hops.append(
                Hop(path, "JVM projection -> UnsafeRows", "jvm", int(row_bytes), proj, True, how)
            )
            e2e, wire = end_to_end_per_batch(spark, path, df, rows, batches)
            ledger.end_to_end[path] = e2e
            ledger.wire[path] = wire
    finally:
        df.unpersist()
        spark.conf.set(
            "spark.sql.execution.arrow.maxRecordsPerBatch", previous_batch
        )  # leave the session as found
    return ledger


def data_bytes(rows: int, double_cols: int) -> int:
    """Bytes of values in `rows` rows of `double_cols` float64 columns (8 bytes each)."""
    return int(rows) * int(double_cols) * 8


# ---- findings: what this run's ledger says ------------------------------------------------------

LEDGER_FINDINGS = {
    "row_queue": "`{path}` also copies every input row into its row queue: {mb:.2f} MB in "
    "{ms:.2f} ms per batch — a JVM-side copy the Arrow paths `mapInPandas`/`mapInArrow` skip.",
    "path": "`{path}`: {copies} hops write new memory, {copied_over_data:.1f}× the batch's "
    "{data_mb:.2f} MB of features; the slowest hop is *{slowest}* ({slowest_ms:.2f} ms). Sum of "
    "hops {sum_ms:.1f} ms vs measured end to end {e2e_ms:.1f} ms per batch: gap {gap_ms:+.1f} ms. "
    "Spark counted {sent_mb:.2f} MB sent per batch.",
    "path_unmetered": "`{path}`: {copies} hops write new memory, {copied_over_data:.1f}× the "
    "batch's {data_mb:.2f} MB of features; the slowest hop is *{slowest}* ({slowest_ms:.2f} ms). "
    "Sum of hops {sum_ms:.1f} ms vs measured end to end {e2e_ms:.1f} ms per batch: gap "
    "{gap_ms:+.1f} ms. Spark reported no bytes sent.",
}


def ledger_findings(ledger: Ledger) -> list[Finding]:
    """What a copy ledger found: the row queue's copy (MB, ms per batch) where there is one; per
    path the hops that write new memory (as a multiple of the batch's feature bytes), the slowest
    hop, the sum of hops against the measured end-to-end time per batch (ms) and Spark's count of
    bytes sent per batch (MB)."""
    hops, summary = ledger.table(), ledger.summary().set_index("path")
    data = data_bytes(ledger.rows, ledger.features)
    out = [
        finding(LEDGER_FINDINGS, "row_queue", path=q.path, mb=q.bytes / 1e6, ms=q.seconds * 1e3)
        for q in hops[hops["hop"] == ROW_QUEUE_HOP].itertuples()
    ]
    for path, g in hops.groupby("path", sort=False):
        top = g.loc[g["seconds"].idxmax()]
        copies = g[g["copy"]]
        s = summary.loc[path]
        sent = s["spark_sent_bytes"]
        metered = sent is not None and not pd.isna(sent)
        out.append(
            finding(
                LEDGER_FINDINGS,
                "path" if metered else "path_unmetered",
                path=path,
                copies=len(copies),
                copied_over_data=copies["bytes"].sum() / data,
                data_mb=data / 1e6,
                slowest=top["hop"],
                slowest_ms=top["seconds"] * 1e3,
                sum_ms=s["sum_of_hops_s"] * 1e3,
                e2e_ms=s["end_to_end_per_batch_s"] * 1e3,
                gap_ms=s["gap_s"] * 1e3,
                sent_mb=sent / 1e6 if metered else None,
            )
        )
    return out

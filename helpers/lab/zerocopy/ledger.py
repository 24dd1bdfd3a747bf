"""Notebook 03, the copy ledger: every hop of one batch's round trip JVM -> Python -> JVM, with the
bytes it copies and its time (Python hops measured in this process, JVM hops through py4j, which
is a proxy: it adds a byte-array copy the runner does not make).

JVM hops run the JVM's own classes through py4j (ArrowConverters: ArrowWriter + MessageSerializer;
ArrowColumnVector + UnsafeProjection; for pandas_udf the HybridRowQueue that keeps each input row,
in a Janino-compiled loop); Python hops repeat the calls this pyspark's worker makes on the same
batch (3.5: the UDF serializers of pyspark/sql/pandas/serializers.py; 4.3: worker.py's calls into
pyspark/sql/conversion.py, asked from the installed pyspark in `helpers.lab.journey`, which holds
the Arrow <-> pandas calls); the end-to-end time per batch is measured
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
from pyspark.sql.types import DoubleType, LongType, StructField, StructType

from helpers.core.config import LabError
from helpers.core.findings import Finding, finding
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.validate import require_positive
from helpers.inference.scenarios import scenario_frame
from helpers.lab.journey import WORKER_CALLS, worker_arrow_to_pandas, worker_pandas_to_arrow
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

LEDGER_PATHS = ("pandas_udf", "map_in_pandas", "map_in_arrow")
ROW_QUEUE_HOP = "JVM input rows -> HybridRowQueue (kept for the join)"

EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"  # Arrow IPC end-of-stream marker


# The Python hops replay the calls this pyspark's worker makes (helpers.lab.journey.WORKER_CALLS):
# the UDF serializers of pyspark/sql/pandas/serializers.py (3.5) or worker.py's calls into
# pyspark/sql/conversion.py (4.3). A pyspark with neither has no ledger.
LEDGER_HERE = WORKER_CALLS is not None

NOT_HERE_FINDINGS = {
    "not_ported": (
        "The copy ledger replays the Python worker's own calls: the UDF serializers of "
        "`pyspark/sql/pandas/serializers.py` (`ArrowStreamPandasUDFSerializer`, "
        "`ArrowStreamUDFSerializer`, as in 3.5) or the conversions of `pyspark/sql/conversion.py` "
        "(`ArrowBatchTransformer`, `PandasToArrowConversion`, as in 4.3); pyspark {version} has "
        "neither, so the ledger is skipped on this kernel."
    ),
}


def not_here_findings() -> list[Finding]:
    """Why the ledger does not run with the installed pyspark."""
    return [finding(NOT_HERE_FINDINGS, "not_ported", version=pyspark.__version__)]


def require_ledger_paths(paths) -> tuple[str, ...]:
    """The ledger's paths, checked: a comma-separated string or a sequence of names; a one-line
    LabError where the installed pyspark has none of the worker calls the ledger replays."""
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
    worker_calls: str | None = None  # helpers.lab.journey.WORKER_CALLS of the run
    rename_copies: bool = False  # this pandas copies a Series on rename (`rename_copies()`)

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


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def _stream_of(schema: pa.Schema, batch_message: bytes) -> bytes:
    """An IPC stream (schema + one batch + end) around a record-batch message made by the JVM."""
    return schema.serialize().to_pybytes() + batch_message + EOS


# mapInPandas / mapInArrow return (id, prediction): helpers.inference.scenarios.OUTPUT_SCHEMA
OUT_STRUCT = StructType([StructField("id", LongType()), StructField("prediction", DoubleType())])


def _result_schema(path: str) -> StructType:
    """The Spark schema of what the worker returns for `path`, one field `_0`: a double for the
    pandas UDF, the (id, prediction) struct of mapInPandas / mapInArrow."""
    if path == "pandas_udf":
        return StructType([StructField("_0", DoubleType())])
    return StructType([StructField("_0", OUT_STRUCT, nullable=False)])


def worker_read(path: str, stream: bytes) -> tuple[pa.RecordBatch, str]:
    """One batch read from the IPC stream the way this pyspark's worker reads its socket (a file
    object), with the struct of mapInArrow flattened; and the calls' names (file, function)."""
    from pyspark.sql.pandas.serializers import ArrowStreamSerializer

    if WORKER_CALLS == "serializers":
        if path == "map_in_arrow":
            from pyspark.sql.pandas.serializers import ArrowStreamUDFSerializer

            batch = next(iter(ArrowStreamUDFSerializer().load_stream(io.BytesIO(stream))))[0]
            return batch, (
                "ArrowStreamUDFSerializer.load_stream (pyspark/sql/pandas/serializers.py): "
                "pa.ipc.open_stream, struct flattened"
            )
        batch = next(iter(ArrowStreamSerializer().load_stream(io.BytesIO(stream))))
        return batch, (
            "ArrowStreamSerializer.load_stream (pyspark/sql/pandas/serializers.py, from "
            "ArrowStreamPandasUDFSerializer.load_stream): pa.ipc.open_stream"
        )
    ser = ArrowStreamSerializer(write_start_stream=True)  # worker.py read_udfs
    batch = next(iter(ser.load_stream(io.BytesIO(stream))))
    how = (
        "ArrowStreamSerializer.load_stream (pyspark/sql/pandas/serializers.py): pa.ipc.open_stream"
    )
    if path == "map_in_arrow":
        from pyspark.sql.conversion import ArrowBatchTransformer

        batch = ArrowBatchTransformer.flatten_struct(batch)
        how += " + ArrowBatchTransformer.flatten_struct (pyspark/sql/conversion.py, worker.py)"
    return batch, how


def worker_wrap_struct(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, str]:
    """mapInArrow's result batch wrapped into one struct column `_0`, as this pyspark's worker
    does before writing it; and the call's name."""
    if WORKER_CALLS == "conversion":
        from pyspark.sql.conversion import ArrowBatchTransformer

        return (
            ArrowBatchTransformer.wrap_struct(batch),
            "ArrowBatchTransformer.wrap_struct (pyspark/sql/conversion.py, worker.py)",
        )
    # 3.5 wraps inline in ArrowStreamUDFSerializer.dump_stream: the same two pyarrow calls
    struct = pa.StructArray.from_arrays(batch.columns, fields=pa.struct(list(batch.schema)))
    return (
        pa.RecordBatch.from_arrays([struct], ["_0"]),
        "the struct wrap in ArrowStreamUDFSerializer.dump_stream "
        "(pyspark/sql/pandas/serializers.py)",
    )


def worker_write(batch: pa.RecordBatch) -> tuple[bytes, str]:
    """What this pyspark's worker writes to its socket for one result batch (START_ARROW_STREAM,
    then the IPC stream: schema, batch, end), and the call's name."""
    from pyspark.sql.pandas.serializers import ArrowStreamSerializer

    sink = io.BytesIO()
    if WORKER_CALLS == "conversion":
        ArrowStreamSerializer(write_start_stream=True).dump_stream(iter([batch]), sink)
        return sink.getvalue(), (
            "ArrowStreamSerializer(write_start_stream=True).dump_stream "
            "(pyspark/sql/pandas/serializers.py): RecordBatchStreamWriter"
        )
    from pyspark.serializers import SpecialLengths, write_int

    write_int(SpecialLengths.START_ARROW_STREAM, sink)  # as the 3.5 UDF serializers do first
    ArrowStreamSerializer().dump_stream(iter([batch]), sink)
    return sink.getvalue(), (
        "ArrowStreamSerializer.dump_stream (pyspark/sql/pandas/serializers.py, from the UDF "
        "serializer's dump_stream): RecordBatchStreamWriter"
    )


def python_hops(
    path: str,
    stream: bytes,
    booster,
    repeats: int = 5,
    timezone: str = "UTC",
    safecheck: bool = False,
) -> tuple[list[Hop], bytes]:
    """The Python worker's hops for one batch of `path`, repeating the calls this pyspark's worker
    makes (`WORKER_CALLS`) on the IPC stream the JVM produced, with the session's `timezone` and
    `safecheck` (spark.sql.execution.pandas.convertToArrowArraySafely). Returns the hops and the
    result batch's IPC message bytes (what the JVM reads back)."""
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

    secs, (batch, how) = median_time(lambda: worker_read(path, stream), repeats)
    hops.append(
        Hop(
            path,
            "Python IPC read",
            "python",
            copied_bytes(batch, src),
            secs,
            not shares_with(batch, src),
            how,
        )
    )

    if path == "map_in_arrow":
        feats = [c for c in batch.schema.names if c.startswith("f")]

        def matrix():
            return np.column_stack([batch.column(f).to_numpy(zero_copy_only=False) for f in feats])

        secs, X = median_time(matrix, repeats)
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
        secs, (cols, how) = median_time(lambda: worker_arrow_to_pandas(batch, timezone), repeats)
        hops.append(
            Hop(
                path,
                "Arrow -> pandas",
                "python",
                copied_bytes(cols, batch),
                secs,
                copied_bytes(cols, batch) > 0,
                how,
            )
        )
        if path == "map_in_pandas":
            pdf = cols[0]
            feats = [c for c in pdf.columns if c.startswith("f")]
            secs, X = median_time(lambda: pdf[feats].to_numpy(), repeats)
            how = "pdf[features].to_numpy() (scenario code)"
        else:
            secs, X = median_time(lambda: np.column_stack(cols), repeats)
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

    secs, pred = median_time(lambda: predict(booster, X), repeats)
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

    schema = _result_schema(path)
    if path == "map_in_arrow":

        def to_arrow():
            rb = pa.RecordBatch.from_arrays(
                [batch.column("id"), pa.array(pred)], names=["id", "prediction"]
            )
            return worker_wrap_struct(rb)

        prefix = "RecordBatch.from_arrays (scenario code) + "
    elif path == "map_in_pandas":
        ids = pdf["id"]

        def to_arrow():
            result = pd.DataFrame({"id": ids, "prediction": pred})  # the scenario's frame
            return worker_pandas_to_arrow([result], schema, timezone, safecheck)

        prefix = "pd.DataFrame (scenario code) + "
    else:

        def to_arrow():
            return worker_pandas_to_arrow([pd.Series(pred)], schema, timezone, safecheck)

        prefix = ""
    secs, (out, how) = median_time(to_arrow, repeats)
    # bytes new in the result = result bytes outside the prediction array and the input batch
    outside = [
        r
        for r in arrow_ranges(out)
        if not _overlaps(r, [numpy_range(pred)]) and not _overlaps(r, arrow_ranges(batch))
    ]
    new = int(sum(n for _, n in outside))
    hops.append(Hop(path, "result -> Arrow", "python", new, secs, new > 0, prefix + how))

    secs, (result_stream, how) = median_time(lambda: worker_write(out), repeats)
    hops.append(Hop(path, "Python IPC write", "python", len(result_stream), secs, True, how))

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


class JvmArrow:
    """The JVM's own Arrow code driven through py4j (ArrowConverters / UnsafeProjection, the
    line's signatures asked from the classes). Each timed call processes all batches in one py4j
    call; the py4j round trip is subtracted."""

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
        # where EvalPythonExec's row queue and join live: 4.x moved them into an evaluator factory
        self.eval_source = (
            "EvalPythonEvaluatorFactory.scala"
            if self._has_class("org.apache.spark.sql.execution.python.EvalPythonEvaluatorFactory")
            else "EvalPythonExec.scala"
        )
        self.rtt = statistics.median(
            self._timed(self.jvm.java.lang.System.nanoTime)[0] for _ in range(15)
        )

    def _has_class(self, name: str) -> bool:
        """Whether the JVM's classpath has class `name`."""
        try:
            self.jvm.java.lang.Class.forName(name)
        except Exception:  # py4j wraps ClassNotFoundException
            return False
        return True

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
    progress: Progress | Sink | None = None,
) -> Ledger:
    """The copy ledger for one batch of `rows` rows x `n_features` doubles through each path.

    JVM hops: the JVM's ArrowConverters (ArrowWriter + MessageSerializer) on the same rows as
    UnsafeRows, and its reader + UnsafeProjection on the worker's result (py4j, timed around one
    call over all batches, round trip subtracted). Python hops: this pyspark's worker calls
    (`python_hops`) on the JVM's bytes. End-to-end: the scenario on Spark, per batch. All in
    seconds and bytes. `progress` reports each path (`helpers.core.progress`)."""
    from pyspark.sql import functions as F

    require_positive("rows", rows)
    require_positive("batches", batches)
    require_positive("repeats", repeats)
    paths = require_ledger_paths(paths)
    from pyspark.sql.pandas.types import to_arrow_schema

    ledger = Ledger(rows, n_features, batches, worker_calls=WORKER_CALLS)
    ledger.rename_copies = rename_copies()
    # what the JVM sends the worker as spark.sql.execution.pandas.convertToArrowArraySafely
    safecheck = spark.conf.get("spark.sql.execution.pandas.convertToArrowArraySafely") == "true"
    previous_batch = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    df = ledger_input(spark, rows, batches, n_features)
    feats = feature_names(n_features)
    jvm = JvmArrow(spark)
    booster = load_booster()
    p = as_progress(progress)
    try:
        with p.task("copy ledger", len(paths)):
            for path in paths:
                p.step(f"copy ledger: {path}")
                if path == "pandas_udf":
                    sent = df.select(*feats)
                else:
                    sent = df.select(F.struct(*df.columns).alias("struct"))
                result_schema = _result_schema(path).json()
                if (
                    path == "pandas_udf"
                ):  # EvalPythonExec keeps every input row (all columns) to join
                    secs, nbytes = jvm.row_queue(jvm.rows_of(df), len(df.columns), repeats)
                    ledger.hops.append(
                        Hop(
                            path,
                            ROW_QUEUE_HOP,
                            "jvm",
                            nbytes // batches,
                            secs / batches,
                            True,
                            f"HybridRowQueue.add + remove ({jvm.eval_source}, RowQueue.scala) in a "
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
                        "ArrowConverters.toBatchIterator (ArrowWriter + MessageSerializer) "
                        "via py4j",
                    )
                )
                stream = _stream_of(to_arrow_schema(sent.schema), message)
                hops, result_message = python_hops(
                    path, stream, booster, repeats, timezone=jvm.tz, safecheck=safecheck
                )
                ledger.hops.extend(hops)
                flat = None if path == "pandas_udf" else _spark_schema(spark, OUT_STRUCT.json())
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
                        "ArrowConverters.fromBatchIterator (MessageSerializer + VectorLoader) "
                        "via py4j",
                    )
                )
                if (
                    path == "pandas_udf"
                ):  # the result is joined with the queued input row, projected
                    proj, row_bytes = (
                        v / batches
                        for v in jvm.join_project(jvm.rows_of(df), df._jdf.schema(), repeats)
                    )
                    how = (
                        f"JoinedRow(input row, result) + UnsafeProjection, as {jvm.eval_source} "
                        "does, in a Janino-compiled JVM loop"
                    )
                else:
                    how = (
                        "the result struct's fields projected to UnsafeRows, as "
                        "MapInBatchEvaluatorFactory.scala does, in a Janino-compiled JVM loop"
                    )
                ledger.hops.append(
                    Hop(
                        path, "JVM projection -> UnsafeRows", "jvm", int(row_bytes), proj, True, how
                    )
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


def rename_copies() -> bool:
    """Whether this pandas copies a Series' values on `Series.rename` while pyarrow's
    `Array.to_pandas()` of non-null doubles is a view (measured by address on 8 doubles)."""
    arr = pa.array(np.arange(8, dtype="float64"))
    view = arr.to_pandas()
    return shares_with(view, arr) and not shares_with(view.rename("x"), view)


def data_bytes(rows: int, double_cols: int) -> int:
    """Bytes of values in `rows` rows of `double_cols` float64 columns (8 bytes each)."""
    return int(rows) * int(double_cols) * 8


# ---- findings: what this run's ledger says ------------------------------------------------------

LEDGER_FINDINGS = {
    "copies": "`{least}` writes the least new memory per batch, {least_x:.1f}× its "
    "{data_mb:.2f} MB of features, `{most}` the most, {most_x:.1f}× ({verdict}).",
    "to_pandas": "`{path}`: the worker's Arrow -> pandas call ({call}) copied {mb:.2f} MB per "
    "batch, {share:.0%} of its {columns} double columns: {verdict}.",
}
SAME_COPIES = 0.05  # paths whose copied bytes differ by less than 5% of the most copy "the same"


def ledger_findings(ledger: Ledger) -> list[Finding]:
    """At most two findings on a copy ledger: which path writes the least and the most new memory
    per batch as a multiple of its feature bytes (about the same within `SAME_COPIES`, else the
    row queue's MB where the most copying path has one); the pandas UDF's Arrow -> pandas hop
    (MB, share): views, a copy, or the copying `Series.rename` where that is why. The sum of hops
    against the end-to-end time per path is `ledger.summary()`'s gap column."""
    hops, summary = ledger.table(), ledger.summary().set_index("path")
    data = data_bytes(ledger.rows, ledger.features)
    copied = summary["copied_bytes"] / data
    least, most = copied.idxmin(), copied.idxmax()
    queue = hops[(hops["hop"] == ROW_QUEUE_HOP) & (hops["path"] == most)]
    if copied[most] - copied[least] <= SAME_COPIES * copied[most]:
        verdict = f"within {SAME_COPIES:.0%}: about the same"
    elif len(queue):
        verdict = f"its row queue alone {float(queue['bytes'].sum()) / 1e6:.2f} MB"
    else:
        verdict = "no row queue"
    out = [
        finding(
            LEDGER_FINDINGS,
            "copies",
            least=least,
            most=most,
            least_x=float(copied[least]),
            most_x=float(copied[most]),
            data_mb=data / 1e6,
            verdict=verdict,
        )
    ]
    return out + _to_pandas_findings(ledger, hops)


def _to_pandas_findings(ledger: Ledger, hops: pd.DataFrame) -> list[Finding]:
    """The pandas UDF's Arrow -> pandas hop: views or copies (MB, share of the feature bytes), and
    why it copies where the conversion ends in a copying `Series.rename`."""
    rows = hops[(hops["path"] == "pandas_udf") & (hops["hop"] == "Arrow -> pandas")]
    if rows.empty:
        return []
    hop = rows.iloc[0]
    data = data_bytes(ledger.rows, ledger.features)
    if hop["bytes"] == 0:
        verdict = "the UDF gets views of Arrow's buffers"
    elif ledger.worker_calls == "conversion" and ledger.rename_copies:
        verdict = (
            f"it ends in `series.rename(name)`, which pandas {pd.__version__} copies unless "
            "copy-on-write is on"
        )
    else:
        verdict = "a copy before the UDF saw a value"
    return [
        finding(
            LEDGER_FINDINGS,
            "to_pandas",
            path="pandas_udf",
            call=hop["how"],
            columns=ledger.features,
            mb=hop["bytes"] / 1e6,
            share=hop["bytes"] / data,
            verdict=verdict,
        )
    ]

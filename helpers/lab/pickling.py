"""What pickling costs next to Arrow, per column type, and the hidden costs
of shipping a model to the Python workers.

- `wire_sizes`: the same rows as the worker would get them pickled (BatchedSerializer(CPickle,
  100), the row @udf's serializer in pyspark/worker.py) vs as an Arrow IPC stream (the batches
  the JVM's ArrowConverters writes for these very rows).
- `type_throughput`: one identity function per column type through row @udf (BatchEvalPython,
  pickle), @udf(useArrow=True) and @pandas_udf (ArrowEvalPython): wall time into a noop sink, cost
  per row over a no-UDF baseline, and Spark's SQL metrics "data sent to/returned from Python
  workers".
- `model_shipping`: a model captured in a closure vs a broadcast vs loaded from a file on the
  worker: size of the pickled UDF command (what each task carries), time to first row, time of a
  multi-task job. Run it once per `spark.python.worker.reuse` setting (a static conf: new session).

- `throughput_findings`, `wire_findings`, `shipping_findings`: what those tables found in this run,
  as `Finding`s (templates in THROUGHPUT_FINDINGS, WIRE_FINDINGS, SHIPPING_FINDINGS).
- `measure_choice`: one (kind, path, rows) measurement, the render of the notebook's explorer.

Units: bytes, seconds, rows/s. Results are tidy pandas DataFrames.
"""

from __future__ import annotations

import io
import statistics
import time

import numpy as np
import pandas as pd

from helpers.core import session
from helpers.core.config import LabError
from helpers.core.findings import Finding, finding
from helpers.core.validate import require_positive
from helpers.measure.metrics import metric_bytes, run_with_python_metrics
from helpers.measure.timing import time_noop
from helpers.model.cache import cached_booster, worker_booster
from helpers.model.data import (
    COLUMN_KINDS,
    ensure_features,
    ensure_model,
    load_booster,
    make_columns,
    model_text,
    predict,
)
from helpers.paths.scenarios import feature_columns

TYPE_PATHS = ("row_udf", "arrow_udf", "pandas_udf")
PATH_LABELS = {
    "row_udf": "row @udf (pickle)",
    "arrow_udf": "@udf(useArrow=True)",
    "pandas_udf": "@pandas_udf",
}
SHIP_VARIANTS = ("closure", "broadcast", "file")
PICKLE_BATCH = 100  # BatchedSerializer(CPickleSerializer(), 100) in pyspark/worker.py (Spark 3.5)
APP = "02_pickling_vs_arrow"  # the notebook's session name (the explorer restarts it if stopped)


def require_kinds(kinds) -> list[str]:
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    for k in kinds:
        if k not in COLUMN_KINDS:
            raise LabError(f"Unknown column kind {k!r}: use one of {', '.join(COLUMN_KINDS)}.")
    return kinds


def require_paths(paths) -> list[str]:
    paths = [paths] if isinstance(paths, str) else list(paths)
    for p in paths:
        if p not in TYPE_PATHS:
            raise LabError(f"Unknown path {p!r}: use one of {', '.join(TYPE_PATHS)}.")
    return paths


# ---- inputs -----------------------------------------------------------------------------------

_FRAMES: dict = {}


def kind_frame(spark, kind: str, rows: int):
    """DataFrame (id, value) of `rows` rows of column kind `kind`, cached, one per (kind, rows)."""
    require_kinds([kind])
    require_positive("rows", rows)
    key = (spark.sparkContext.applicationId, kind, rows)  # a new session never sees old frames
    df = _FRAMES.get(key)
    if df is None:
        df = spark.createDataFrame(make_columns(rows, kind)).cache()
        df.count()
        _FRAMES[key] = df
    return df


def release_frames() -> None:
    """Unpersist the cached per-kind inputs."""
    for df in _FRAMES.values():
        try:
            df.unpersist()
        except Exception:
            pass
    _FRAMES.clear()


# ---- bytes on the wire --------------------------------------------------------------------------


def pickled_batch_bytes(values: list) -> int:
    """Bytes of `values` (one tuple per row) pickled the way the row @udf worker does it:
    BatchedSerializer(CPickleSerializer(), 100).dump_stream, with its length framing."""
    from pyspark.serializers import BatchedSerializer, CPickleSerializer

    sink = io.BytesIO()
    BatchedSerializer(CPickleSerializer(), PICKLE_BATCH).dump_stream(iter(values), sink)
    return len(sink.getvalue())


def arrow_stream_bytes(batches) -> int:
    """Bytes of record batches written as one Arrow IPC stream (ArrowStreamSerializer's)."""
    from pyspark.sql.pandas.serializers import ArrowStreamSerializer

    sink = io.BytesIO()
    ArrowStreamSerializer().dump_stream(iter(batches), sink)
    return len(sink.getvalue())


def wire_sizes(
    spark, kinds=COLUMN_KINDS, rows: int = 5000, batch_rows: int = 10_000
) -> pd.DataFrame:
    """For each kind, the `value` column of the same rows: pickled in 100-row batches (the Python
    objects Spark hands the worker: collect()) vs the Arrow IPC stream of the batches Spark's JVM
    produces for it (`_collect_as_arrow`, re-chunked to `batch_rows`). Bytes and bytes per row."""
    import pyarrow as pa

    kinds = require_kinds(kinds)
    require_positive("batch_rows", batch_rows)
    out = []
    for kind in kinds:
        df = kind_frame(spark, kind, rows).select("value")
        values = [tuple(r) for r in df.collect()]
        table = pa.Table.from_batches(df._collect_as_arrow())
        pickled = pickled_batch_bytes(values)
        arrow = arrow_stream_bytes(table.combine_chunks().to_batches(max_chunksize=batch_rows))
        out.append(
            {
                "kind": kind,
                "rows": rows,
                "spark_type": df.schema["value"].dataType.simpleString(),
                "pickled_bytes": pickled,
                "arrow_bytes": arrow,
                "pickled_per_row": pickled / rows,
                "arrow_per_row": arrow / rows,
                "pickled_over_arrow": pickled / arrow,
            }
        )
    return pd.DataFrame(out)


# ---- throughput per type ------------------------------------------------------------------------


def _identity_row(value):
    return value


def _identity_series(value: pd.Series) -> pd.Series:
    return value


def _identity_frame(value: pd.DataFrame) -> pd.DataFrame:
    return value


def identity_udf(path: str, data_type):
    """The identity function on one column of `data_type` as a UDF of `path`."""
    from pyspark.sql.functions import pandas_udf, udf
    from pyspark.sql.types import StructType

    require_paths([path])
    if path == "row_udf":
        return udf(_identity_row, data_type, useArrow=False)
    if path == "arrow_udf":
        return udf(_identity_row, data_type, useArrow=True)
    fn = _identity_frame if isinstance(data_type, StructType) else _identity_series
    return pandas_udf(fn, data_type)


def _time_noop(frame) -> float:

    return time_noop(frame)


def type_throughput(
    spark, kinds=COLUMN_KINDS, paths=TYPE_PATHS, rows: int = 5000, repeats: int = 3
) -> pd.DataFrame:
    """Identity UDF per (kind, path) over `rows` cached rows into the noop sink.

    wall_s: median of `repeats`; baseline_s: the same select without a UDF; us_per_row:
    (wall_s - baseline_s) / rows in microseconds; rows_per_s: rows / wall_s; sent_bytes /
    returned_bytes: Spark's SQL metrics of the last run (None when the node has none).
    Also checks that the identity returned the input (row count and a value checksum)."""
    kinds, paths = require_kinds(kinds), require_paths(paths)
    require_positive("rows", rows)
    require_positive("repeats", repeats)
    out = []
    warmed = set()
    for kind in kinds:
        df = kind_frame(spark, kind, rows)
        dtype = df.schema["value"].dataType
        base = df.select("id", "value")
        baseline = statistics.median(_time_noop(base) for _ in range(repeats))
        for path in paths:
            f = identity_udf(path, dtype)
            frame = df.select("id", f("value").alias("value"))
            if path not in warmed:  # first use of a path: worker start, imports
                _time_noop(frame)
                warmed.add(path)
            walls = [_time_noop(frame) for _ in range(repeats - 1)]
            wall, metrics = run_with_python_metrics(spark, lambda: _time_noop(frame))
            walls.append(wall)
            sent, returned = (
                metric_bytes(metrics, "data sent"),
                metric_bytes(metrics, "data returned"),
            )
            wall = statistics.median(walls)
            out.append(
                {
                    "kind": kind,
                    "path": path,
                    "label": PATH_LABELS[path],
                    "rows": rows,
                    "repeats": repeats,
                    "wall_s": wall,
                    "baseline_s": baseline,
                    "us_per_row": max(0.0, wall - baseline) / rows * 1e6,
                    "rows_per_s": rows / wall,
                    "sent_bytes": sent,
                    "returned_bytes": returned,
                }
            )
    return pd.DataFrame(out)


def identity_roundtrip_ok(spark, kind: str, path: str, rows: int = 200) -> bool:
    """True when the identity UDF of `path` returns the input column unchanged for `kind`
    (compared on the collected Python values)."""
    df = kind_frame(spark, kind, rows)
    f = identity_udf(path, df.schema["value"].dataType)
    got = df.select("id", f("value").alias("value")).orderBy("id").collect()
    want = df.select("id", "value").orderBy("id").collect()
    return got == want


# ---- hidden pickling costs: how the model gets to the worker ------------------------------------


def file_booster(path: str):
    """A Booster loaded from a model file on the worker, once per worker process."""
    import lightgbm as lgb

    return cached_booster(("file", path), lambda: lgb.Booster(model_file=path))


def shipping_udf(spark, variant: str):
    """A @pandas_udf predicting with the model, shipped as `variant`:
    closure   - a lightgbm.Booster captured by the function (pickled into the UDF command);
    broadcast - the model text in a Spark broadcast, parsed once per worker process;
    file      - the path of data/model.txt, loaded from disk once per worker process."""
    from pyspark.sql.functions import pandas_udf

    if variant == "closure":
        booster = load_booster()

        def predict_closure(*cols: pd.Series) -> pd.Series:
            return pd.Series(predict(booster, np.column_stack(cols)))

        return pandas_udf(predict_closure, "double")
    if variant == "broadcast":
        bc = spark.sparkContext.broadcast(model_text())

        def predict_broadcast(*cols: pd.Series) -> pd.Series:
            return pd.Series(predict(worker_booster(bc.value), np.column_stack(cols)))

        return pandas_udf(predict_broadcast, "double")
    if variant == "file":
        path = str(ensure_model())

        def predict_file(*cols: pd.Series) -> pd.Series:
            return pd.Series(predict(file_booster(path), np.column_stack(cols)))

        return pandas_udf(predict_file, "double")
    raise LabError(f"Unknown variant {variant!r}: use one of {', '.join(SHIP_VARIANTS)}.")


def command_bytes(udf_obj) -> int:
    """Size in bytes of the pickled UDF command Spark ships inside every task: cloudpickle of
    (function, return type), as pyspark.sql.udf._wrap_function -> _prepare_for_python_RDD does."""
    from pyspark.serializers import CloudPickleSerializer

    func = getattr(udf_obj, "func", udf_obj)
    rtype = getattr(udf_obj, "returnType", None)
    return len(CloudPickleSerializer().dumps((func, rtype)))


def broadcast_threshold(spark) -> int:
    """Bytes above which Spark ships a pickled command as a broadcast instead of inline
    (PythonUtils.getBroadcastThreshold: spark.broadcast.UDFCompressionThreshold, 1 MiB)."""
    sc = spark.sparkContext
    return int(sc._jvm.PythonUtils.getBroadcastThreshold(sc._jsc))


def _ship_input(spark, rows: int, tasks: int):
    path = ensure_features(rows)
    df = spark.read.parquet(str(path)).repartition(tasks).cache()
    df.count()
    return df


def unpickle_seconds(udf_obj, repeats: int = 5) -> float:
    """Median seconds to unpickle the UDF's command, as every task's worker does (for a closure
    this rebuilds the captured Booster, i.e. parses the model)."""
    from pyspark import broadcast as pyspark_broadcast
    from pyspark.serializers import CloudPickleSerializer

    func = getattr(udf_obj, "func", udf_obj)
    ser = CloudPickleSerializer()
    payload = ser.dumps((func, getattr(udf_obj, "returnType", None)))
    # A worker registers the task's broadcasts (by id) before it unpickles the command; do the same
    # for the broadcasts this function references, so their references resolve here too.
    registry = pyspark_broadcast._broadcastRegistry
    added = []
    for cell in func.__closure__ or ():
        value = cell.cell_contents
        if isinstance(value, pyspark_broadcast.Broadcast) and value._jbroadcast is not None:
            bid = value._jbroadcast.id()
            if bid not in registry:
                registry[bid] = value
                added.append(bid)
    times = []
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            ser.loads(payload)
            times.append(time.perf_counter() - t0)
    finally:
        for bid in added:
            registry.pop(bid, None)
    return statistics.median(times)


def model_load_seconds(variant: str, repeats: int = 3) -> float:
    """Median seconds a worker process spends getting the model the first time, beyond unpickling
    the command: parsing the broadcast text, or reading and parsing the file; 0 for a closure
    (the command's unpickling already built the Booster)."""
    import lightgbm as lgb

    if variant == "closure":
        return 0.0
    text, path = model_text(), str(ensure_model())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        if variant == "broadcast":
            lgb.Booster(model_str=text)
        else:
            lgb.Booster(model_file=path)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def model_shipping(spark, rows: int = 2000, tasks: int = 4, variants=SHIP_VARIANTS) -> pd.DataFrame:
    """For each variant: command_bytes (pickled UDF command, carried by every task), unpickle_s
    (every task, measured here with the same serializer), load_once_s (once per worker process),
    first_row_s (take(1): one task), job_s (all `tasks` tasks into the noop sink), the session's
    spark.python.worker.reuse and broadcast_threshold (bytes). Seconds, bytes."""

    for v in variants:
        if v not in SHIP_VARIANTS:
            raise LabError(f"Unknown variant {v!r}: use one of {', '.join(SHIP_VARIANTS)}.")
    require_positive("rows", rows)
    require_positive("tasks", tasks)
    reuse = spark.sparkContext.getConf().get("spark.python.worker.reuse", "true")
    threshold = broadcast_threshold(spark)
    df = _ship_input(spark, rows, tasks)
    feats = feature_columns()
    out = []
    try:
        for variant in variants:
            f = shipping_udf(spark, variant)
            frame = df.select("id", f(*feats).alias("prediction"))
            t0 = time.perf_counter()
            frame.take(1)
            first = time.perf_counter() - t0
            job = _time_noop(frame)
            size = command_bytes(f)
            out.append(
                {
                    "variant": variant,
                    "worker_reuse": reuse,
                    "command_bytes": size,
                    "shipped_as": "broadcast (over threshold)"
                    if size > threshold
                    else "inline in each task",
                    "broadcast_threshold": threshold,
                    "unpickle_s": unpickle_seconds(f),
                    "load_once_s": model_load_seconds(variant),
                    "first_row_s": first,
                    "job_s": job,
                    "tasks": tasks,
                }
            )
    finally:
        df.unpersist()
    return pd.DataFrame(out)


# ---- the explorer's render -----------------------------------------------------------------------


def measure_choice(choice) -> pd.DataFrame:
    """One run of `type_throughput` for `choice` = (kind, path, rows) on the running session
    (started again when a last cell stopped it): kind, path, wall_s (seconds), us_per_row (µs)."""
    kind, path, rows = choice
    spark = session.active_session() or session.start_session(APP, synapseml=False)
    df = type_throughput(spark, [kind], [path], rows=int(rows), repeats=1)
    return df[["kind", "path", "wall_s", "us_per_row"]]


# ---- findings: what this run's tables say -------------------------------------------------------

THROUGHPUT_FINDINGS = {
    "run": "{rows:,} rows, {repeats} run(s) each.",
    "kind": "{kind}: fastest `{fastest}`; the row `@udf` took {ratio:.1f}× the time of "
    "`@pandas_udf`.",
    "kind_fastest": "{kind}: fastest `{fastest}`.",
    "gap_range": "The biggest gap between pickle and `@pandas_udf` (wall time) is for "
    "**{widest}** ({widest_ratio:.1f}×), the smallest for **{narrowest}** "
    "({narrowest_ratio:.1f}×).",
}

WIRE_FINDINGS = {
    "size_range": "Pickled rows were between {low:.2f}× and {high:.2f}× the Arrow stream's size; "
    "the largest ratio is for **{kind}** ({pickled_per_row:.1f} vs {arrow_per_row:.1f} bytes "
    "per row).",
    "spark_metric": "Spark's metric for the row `@udf` on doubles: {row_udf:.1f} bytes per row; "
    "for `@pandas_udf`: {pandas_udf:.1f}.",
}

SHIPPING_FINDINGS = {
    "command_inline": "The closure's command is {closure:,} bytes — the model itself — against "
    "{broadcast:,} (broadcast) and {file:,} (file); every task carries it, and it stays inline "
    "because it is under the {threshold:,}-byte threshold above which Spark broadcasts a command.",
    "command_broadcast": "The closure's command is {closure:,} bytes — the model itself — against "
    "{broadcast:,} (broadcast) and {file:,} (file); it is over the {threshold:,}-byte threshold, "
    "so Spark ships it as a broadcast instead of inside every task.",
    "unpickle": "Unpickling it — every task, reuse or not — took {closure_ms:.1f} ms (the Booster "
    "is rebuilt), against {broadcast_ms:.2f} ms for the broadcast's command, whose model is parsed "
    "once per worker process ({broadcast_load_ms:.1f} ms; file: {file_load_ms:.1f} ms). With "
    "reuse off every task is a new process and pays that load again.",
    "first_row": "Time to first row with worker reuse {reuse}: closure {closure:.2f} s, "
    "broadcast {broadcast:.2f} s, file {file:.2f} s.",
    "job": "A {tasks}-task job with worker reuse {reuse} took {closure:.2f} / {broadcast:.2f} / "
    "{file:.2f} s (closure / broadcast / file).",
}

METRIC_KIND = "double"  # the kind whose Spark wire metric wire_findings quotes
REUSE_WORDS = {"true": "on", "false": "off"}


def throughput_findings(throughput: pd.DataFrame) -> list[Finding]:
    """What `type_throughput` found: the fastest path per kind and, when both ran, how many times
    the row @udf's wall time is @pandas_udf's, per kind and at its widest and narrowest."""
    kinds = list(dict.fromkeys(throughput["kind"]))
    wall = throughput.pivot(index="kind", columns="path", values="wall_s").reindex(kinds)
    fastest = wall.idxmin(axis=1)
    first = throughput.iloc[0]
    out = [
        finding(THROUGHPUT_FINDINGS, "run", rows=int(first["rows"]), repeats=int(first["repeats"]))
    ]
    if not {"row_udf", "pandas_udf"} <= set(wall.columns):
        return out + [
            finding(THROUGHPUT_FINDINGS, "kind_fastest", kind=k, fastest=fastest[k]) for k in kinds
        ]
    ratio = wall["row_udf"] / wall["pandas_udf"]
    out += [
        finding(THROUGHPUT_FINDINGS, "kind", kind=k, fastest=fastest[k], ratio=float(ratio[k]))
        for k in kinds
    ]
    if len(kinds) > 1:
        out.append(
            finding(
                THROUGHPUT_FINDINGS,
                "gap_range",
                widest=ratio.idxmax(),
                widest_ratio=float(ratio.max()),
                narrowest=ratio.idxmin(),
                narrowest_ratio=float(ratio.min()),
            )
        )
    return out


def wire_findings(sizes: pd.DataFrame, throughput: pd.DataFrame | None = None) -> list[Finding]:
    """What `wire_sizes` found: the range of pickled/Arrow size ratios and its largest kind; with
    `throughput`, Spark's own "data sent to Python workers" per row on doubles (row @udf and
    @pandas_udf), when Spark reported it."""
    sz = sizes.set_index("kind")
    top = sz["pickled_over_arrow"].idxmax()
    out = [
        finding(
            WIRE_FINDINGS,
            "size_range",
            low=float(sz["pickled_over_arrow"].min()),
            high=float(sz["pickled_over_arrow"].max()),
            kind=top,
            pickled_per_row=float(sz.loc[top, "pickled_per_row"]),
            arrow_per_row=float(sz.loc[top, "arrow_per_row"]),
        )
    ]
    if throughput is None:
        return out
    sub = throughput[throughput["kind"] == METRIC_KIND].set_index("path")
    per_row = (sub["sent_bytes"].astype(float) / sub["rows"]).to_dict()
    values = {p: per_row.get(p) for p in ("row_udf", "pandas_udf")}
    if all(v is not None and not np.isnan(v) for v in values.values()):
        out.append(finding(WIRE_FINDINGS, "spark_metric", **values))
    return out


def shipping_findings(shipping: pd.DataFrame) -> list[Finding]:
    """What `model_shipping` found (one or more worker-reuse settings, all three variants): the
    command sizes against the broadcast threshold, unpickle and load times (ms), and per reuse
    setting the time to first row and of the job (s)."""
    missing = set(SHIP_VARIANTS) - set(shipping["variant"])
    if missing:
        raise LabError(
            f"shipping_findings needs every variant; missing {', '.join(sorted(missing))}."
        )
    once = shipping.drop_duplicates("variant").set_index("variant")
    size = {v: int(once.loc[v, "command_bytes"]) for v in SHIP_VARIANTS}
    threshold = int(once.loc["closure", "broadcast_threshold"])
    key = "command_broadcast" if size["closure"] > threshold else "command_inline"
    out = [finding(SHIPPING_FINDINGS, key, threshold=threshold, **size)]
    out.append(
        finding(
            SHIPPING_FINDINGS,
            "unpickle",
            closure_ms=float(once.loc["closure", "unpickle_s"]) * 1e3,
            broadcast_ms=float(once.loc["broadcast", "unpickle_s"]) * 1e3,
            broadcast_load_ms=float(once.loc["broadcast", "load_once_s"]) * 1e3,
            file_load_ms=float(once.loc["file", "load_once_s"]) * 1e3,
        )
    )
    for reuse, g in shipping.groupby("worker_reuse", sort=False):
        g = g.set_index("variant")
        word = REUSE_WORDS.get(str(reuse), str(reuse))
        times = {v: float(g.loc[v, "first_row_s"]) for v in SHIP_VARIANTS}
        out.append(finding(SHIPPING_FINDINGS, "first_row", reuse=word, **times))
        times = {v: float(g.loc[v, "job_s"]) for v in SHIP_VARIANTS}
        tasks = int(g["tasks"].iloc[0])
        out.append(finding(SHIPPING_FINDINGS, "job", reuse=word, tasks=tasks, **times))
    return out

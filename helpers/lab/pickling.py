"""What pickling costs next to Arrow, per column type, and the hidden costs
of shipping a model to the Python workers.

- `wire_sizes`: the same rows as the worker would get them pickled (BatchedSerializer(CPickle,
  100), the row @udf's serializer in pyspark/worker.py) vs as an Arrow IPC stream (the batches
  the JVM's ArrowConverters writes for these very rows).
- `type_throughput`: one identity function per column type through row @udf (BatchEvalPython,
  pickle), @udf(useArrow=True) and @pandas_udf (ArrowEvalPython), the kit's or the learner's own
  UDFs (`udfs=`, re-typed per kind): wall time into a noop sink with its spread, cost per row over
  a no-UDF baseline, and Spark's SQL metrics "data sent to/returned from Python workers".
- `model_shipping`: a model captured in a closure vs a broadcast vs loaded from a file on the
  worker: size of the pickled UDF command (what each task carries), time to first row, time of a
  multi-task job. Run it once per `spark.python.worker.reuse` setting (a static conf: new session).

- `throughput_findings`, `wire_findings`, `shipping_findings`, `change_findings`: what those
  tables found in this run, with a noise band, as `Finding`s (templates in THROUGHPUT_FINDINGS,
  WIRE_FINDINGS, SHIPPING_FINDINGS, CHANGE_FINDINGS).
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
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.validate import require_positive
from helpers.inference.scenarios import feature_columns
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

TYPE_PATHS = ("row_udf", "arrow_udf", "pandas_udf")
PATH_LABELS = {
    "row_udf": "row @udf (pickle)",
    "arrow_udf": "@udf(useArrow=True)",
    "pandas_udf": "@pandas_udf",
}
SHIP_VARIANTS = ("closure", "broadcast", "file")
PICKLE_BATCH = 100  # BatchedSerializer(CPickleSerializer(), 100) in pyspark/worker.py (Spark 3.5)
# From 4.0 the JVM passes the row count to the worker (PYTHON_UDF_BATCH_SIZE) from this conf:
PICKLE_BATCH_CONF = "spark.sql.execution.python.udf.maxRecordsPerBatch"
ARROW_CONCURRENCY_CONF = "spark.sql.execution.pythonUDF.arrow.concurrency.level"
EVAL_PATHS = {100: "row_udf", 101: "arrow_udf", 200: "pandas_udf"}  # PythonEvalType -> path
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


def _registered_conf(spark, key: str) -> str | None:
    """The running Spark's value of `key` (its own default when unset), or None when this Spark
    does not register the conf (asked without a default, so Spark's default is what shows)."""
    try:
        return spark.conf.get(key)
    except Exception:  # not registered on this line (py4j or Spark's NoSuchElement error)
        return None


def pickled_batch_rows(spark) -> tuple[int, str]:
    """Rows per pickled batch of a row @udf on the running Spark and where that number comes
    from: the conf spark.sql.execution.python.udf.maxRecordsPerBatch (4.0+), else the 100 fixed
    in pyspark/worker.py (3.5)."""
    value = _registered_conf(spark, PICKLE_BATCH_CONF)
    if value is None:
        return PICKLE_BATCH, "fixed in pyspark/worker.py"
    return int(value), PICKLE_BATCH_CONF


def batch_udf_call(spark=None) -> str:
    """How this pyspark's worker calls a `@udf(useArrow=True)` function: the worker.py function
    that loops over the rows ('wrap_arrow_batch_udf' up to 4.0, '_evaluate_batch_udf' in 4.3),
    with the thread pool conf when the line has one and it is set."""
    import inspect

    import pyspark.worker as worker

    if hasattr(worker, "wrap_arrow_batch_udf"):
        return "`wrap_arrow_batch_udf`, one call per row"
    if "_evaluate_batch_udf" not in inspect.getsource(worker):
        return "a per-row loop of pyspark/worker.py"
    level = _registered_conf(spark, ARROW_CONCURRENCY_CONF) if spark is not None else None
    threaded = level is not None and level.lstrip("-").isdigit() and int(level) > 0
    threads = f", on {level} threads" if threaded else ""
    return f"`_evaluate_batch_udf`, one call per row{threads}"


def pickled_batch_bytes(values: list, batch: int = PICKLE_BATCH) -> int:
    """Bytes of `values` (one tuple per row) pickled the way the row @udf worker does it:
    BatchedSerializer(CPickleSerializer(), batch).dump_stream, with its length framing."""
    from pyspark.serializers import BatchedSerializer, CPickleSerializer

    sink = io.BytesIO()
    BatchedSerializer(CPickleSerializer(), batch).dump_stream(iter(values), sink)
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
    """For each kind, the `value` column of the same rows: pickled in batches of this Spark's
    row @udf batch size (`pickled_batch_rows`; the Python objects Spark hands the worker:
    collect()) vs the Arrow IPC stream of the batches Spark's JVM produces for it
    (`_collect_as_arrow`, re-chunked to `batch_rows`). Bytes and bytes per row."""
    import pyarrow as pa

    kinds = require_kinds(kinds)
    require_positive("batch_rows", batch_rows)
    pickle_batch, _ = pickled_batch_rows(spark)
    out = []
    for kind in kinds:
        df = kind_frame(spark, kind, rows).select("value")
        values = [tuple(r) for r in df.collect()]
        table = pa.Table.from_batches(df._collect_as_arrow())
        pickled = pickled_batch_bytes(values, pickle_batch)
        arrow = arrow_stream_bytes(table.combine_chunks().to_batches(max_chunksize=batch_rows))
        out.append(
            {
                "kind": kind,
                "rows": rows,
                "spark_type": df.schema["value"].dataType.simpleString(),
                "pickle_batch": pickle_batch,
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


def udf_path(udf_obj) -> str:
    """The path a UDF runs as, from its eval type: 'row_udf' (pickled rows), 'arrow_udf'
    (Arrow batches, one call per row) or 'pandas_udf' (Series to Series); LabError otherwise."""
    path = EVAL_PATHS.get(getattr(udf_obj, "evalType", None))
    if path is None:
        raise LabError(
            f"{getattr(udf_obj, '__name__', udf_obj)!r} is not a @udf, @udf(useArrow=True) or "
            "scalar @pandas_udf: wrap your function with one of them."
        )
    return path


def retyped(udf_obj, data_type):
    """The learner's UDF with another return type (its function and eval type kept): how the
    sweep runs one identity function on every column kind."""
    from pyspark.sql.functions import pandas_udf, udf

    path = udf_path(udf_obj)
    if path == "pandas_udf":
        return pandas_udf(udf_obj.func, data_type)
    return udf(udf_obj.func, data_type, useArrow=path == "arrow_udf")


def _learner_udfs(udfs) -> dict:
    """{path: UDF} of the learner's UDFs, one per path."""
    out = {}
    for f in udfs:
        path = udf_path(f)
        if path in out:
            raise LabError(
                f"Two of your functions run as {PATH_LABELS[path]}: give one UDF per path "
                "(check useArrow: Spark 3.5 falls back to pickling without a named argument)."
            )
        out[path] = f
    return out


def _time_noop(frame) -> float:

    return time_noop(frame)


def type_throughput(
    spark,
    kinds=COLUMN_KINDS,
    paths=TYPE_PATHS,
    rows: int = 5000,
    repeats: int = 3,
    udfs=None,
    progress: Progress | Sink | None = None,
) -> pd.DataFrame:
    """Identity UDF per (kind, path) over `rows` cached rows into the noop sink. `udfs`: the
    learner's own UDFs (one per path, any return type: each is re-typed per kind); they replace
    the kit's identity functions and choose the paths.

    wall_s: median of `repeats` (wall_min_s, wall_max_s: their spread); baseline_s: the same
    select without a UDF; us_per_row: (wall_s - baseline_s) / rows in microseconds; rows_per_s:
    rows / wall_s; sent_bytes / returned_bytes: Spark's SQL metrics of the last run (None when
    the node has none); function: the Python function that ran. `progress`: one step per
    (kind, path)."""
    mine = _learner_udfs(udfs) if udfs is not None else {}
    if mine:
        paths = [p for p in TYPE_PATHS if p in mine]
    kinds, paths = require_kinds(kinds), require_paths(paths)
    require_positive("rows", rows)
    require_positive("repeats", repeats)
    out = []
    warmed = set()
    p = as_progress(progress)
    with p.task("column types x paths", len(kinds) * len(paths)):
        for kind in kinds:
            df = kind_frame(spark, kind, rows)
            dtype = df.schema["value"].dataType
            base = df.select("id", "value")
            baseline = statistics.median(_time_noop(base) for _ in range(repeats))
            for path in paths:
                p.step(f"{kind}: {path}")
                f = retyped(mine[path], dtype) if path in mine else identity_udf(path, dtype)
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
                out.append(
                    {
                        "kind": kind,
                        "path": path,
                        "label": PATH_LABELS[path],
                        "function": getattr(f, "__name__", path),
                        "rows": rows,
                        "repeats": repeats,
                        "wall_s": statistics.median(walls),
                        "wall_min_s": min(walls),
                        "wall_max_s": max(walls),
                        "baseline_s": baseline,
                        "us_per_row": max(0.0, statistics.median(walls) - baseline) / rows * 1e6,
                        "rows_per_s": rows / statistics.median(walls),
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


def model_shipping(
    spark,
    rows: int = 2000,
    tasks: int = 4,
    variants=SHIP_VARIANTS,
    progress: Progress | Sink | None = None,
) -> pd.DataFrame:
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
    p = as_progress(progress)
    try:
        with p.task("model shipping", len(variants)):
            for variant in variants:
                p.step(variant)
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
    "gap": "The pickled row `@udf` took {widest_ratio:.1f}x the time of `@pandas_udf` on "
    "**{widest}**, {narrowest_ratio:.1f}x on **{narrowest}** ({rows:,} rows, {runs}).",
    "overhead": "On {kinds} the row `@udf` was {how} `@pandas_udf`: per-task overhead, not "
    "pickling, dominates there at {rows:,} rows.",
    "fastest": "Fastest per kind ({rows:,} rows): {pairs}.",
    "arrow_calls": "`@udf(useArrow=True)` saves the pickling, not the Python call per value: "
    "pyspark {pyspark} runs it in {call}.",
}

WIRE_FINDINGS = {
    "size_range": "Pickled rows were between {low:.2f}x and {high:.2f}x the Arrow stream's size; "
    "the largest ratio is for **{kind}** ({pickled_per_row:.1f} vs {arrow_per_row:.1f} bytes "
    "per row).",
}

SHIPPING_FINDINGS = {
    "command": "The closure's command is {closure:,} bytes (the model) against {broadcast:,} "
    "(broadcast) and {file:,} (file): {side} the {threshold:,}-byte broadcast threshold, it "
    "reaches every task {how}, and every task unpickles it ({closure_ms:.1f} ms).",
    "jobs": "Worker reuse {reuse}: the {tasks}-task job took {fast_s:.2f} s with the {fast} and "
    "{slow_s:.2f} s with the {slow} ({ratio:.1f}x), {verdict}.",
}

REUSE_WORDS = {"true": "on", "false": "off"}
NOISE_BAND = 0.10  # relative: gaps smaller than this (or inside the runs' spread) are noise


def _noise(row_s: pd.Series, pandas_s: pd.Series, lo: pd.Series, hi: pd.Series, band: float):
    """Per kind: -1 row faster, 0 noise, 1 row slower (beyond `band` and the runs' spread)."""
    ratio = row_s / pandas_s
    overlap = (lo["row_udf"] <= hi["pandas_udf"]) & (lo["pandas_udf"] <= hi["row_udf"])
    verdict = np.sign(ratio - 1).where(((ratio - 1).abs() > band) & ~overlap, 0)
    return verdict.astype(int)


def throughput_findings(
    throughput: pd.DataFrame, pyspark_call: str | None = None, band: float = NOISE_BAND
) -> list[Finding]:
    """What `type_throughput` found: how many times the row @udf's wall time is @pandas_udf's at
    its widest and narrowest kind, the kinds where that gap is noise (inside `band` or the runs'
    spread) or reversed; without both paths, the fastest per kind. `pyspark_call`
    (`batch_udf_call`) adds how this pyspark calls a @udf(useArrow=True)."""
    import pyspark

    kinds = list(dict.fromkeys(throughput["kind"]))
    first = throughput.iloc[0]
    rows, repeats = int(first["rows"]), int(first["repeats"])

    def pivot(col):
        src = col if col in throughput else "wall_s"
        return throughput.pivot(index="kind", columns="path", values=src).reindex(kinds)

    wall = pivot("wall_s")
    out = []
    if not {"row_udf", "pandas_udf"} <= set(wall.columns):
        fastest = wall.idxmin(axis=1)
        pairs = ", ".join(f"{k} `{fastest[k]}`" for k in kinds)
        out.append(finding(THROUGHPUT_FINDINGS, "fastest", rows=rows, pairs=pairs))
    else:
        ratio = wall["row_udf"] / wall["pandas_udf"]
        out.append(
            finding(
                THROUGHPUT_FINDINGS,
                "gap",
                widest=ratio.idxmax(),
                widest_ratio=float(ratio.max()),
                narrowest=ratio.idxmin(),
                narrowest_ratio=float(ratio.min()),
                rows=rows,
                runs=f"{repeats} runs each"
                if repeats > 1
                else "one run each: no spread to tell these gaps from noise, rerun with "
                "`LAB_SCALE=workshop`",
            )
        )
        if repeats < 2:
            verdict = pd.Series(1, index=kinds)  # nothing to tell apart: no noise/reversal lines
        else:
            verdict = _noise(
                wall["row_udf"], wall["pandas_udf"], pivot("wall_min_s"), pivot("wall_max_s"), band
            )
        noisy = [k for k in kinds if verdict[k] == 0]
        faster = [k for k in kinds if verdict[k] < 0]
        for group, how in (
            (noisy, f"no different (within {band:.0%} or overlapping runs) from"),
            (faster, "faster, beyond the noise, than"),
        ):
            if group:
                out.append(finding(THROUGHPUT_FINDINGS, "overhead", kinds=", ".join(group),
                                   how=how, rows=rows))  # fmt: skip
    if pyspark_call and "arrow_udf" in wall.columns:
        out.append(
            finding(
                THROUGHPUT_FINDINGS, "arrow_calls", pyspark=pyspark.__version__, call=pyspark_call
            )
        )
    return out


def wire_findings(sizes: pd.DataFrame, throughput: pd.DataFrame | None = None) -> list[Finding]:
    """What `wire_sizes` found: the range of pickled/Arrow size ratios and its largest kind.
    Spark's own "data sent to Python workers" per row (`throughput`) is drawn beside them by
    `helpers.viz.pickling.plot_wire_sizes`, so it is not repeated here."""
    sz = sizes.set_index("kind")
    top = sz["pickled_over_arrow"].idxmax()
    return [
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


def shipping_findings(shipping: pd.DataFrame, band: float = NOISE_BAND) -> list[Finding]:
    """What `model_shipping` found (one or more worker-reuse settings, all three variants): the
    command sizes against the broadcast threshold and the closure's unpickling time (ms); per
    reuse setting, the fastest and slowest job (s), or that they are within `band` (noise)."""
    missing = set(SHIP_VARIANTS) - set(shipping["variant"])
    if missing:
        raise LabError(
            f"shipping_findings needs every variant; missing {', '.join(sorted(missing))}."
        )
    once = shipping.drop_duplicates("variant").set_index("variant")
    size = {v: int(once.loc[v, "command_bytes"]) for v in SHIP_VARIANTS}
    threshold = int(once.loc["closure", "broadcast_threshold"])
    over = size["closure"] > threshold
    closure_ms = float(once.loc["closure", "unpickle_s"]) * 1e3
    out = [finding(SHIPPING_FINDINGS, "command", threshold=threshold, closure_ms=closure_ms,
                   side="over" if over else "under", how="as a broadcast" if over else "inline",
                   **size)]  # fmt: skip
    for reuse, g in shipping.groupby("worker_reuse", sort=False):
        job = g.set_index("variant")["job_s"].astype(float)
        fast, slow = job.idxmin(), job.idxmax()
        values = dict(
            reuse=REUSE_WORDS.get(str(reuse), str(reuse)),
            tasks=int(g["tasks"].iloc[0]),
            fast_s=float(job[fast]),
            slow_s=float(job[slow]),
        )
        ratio = float(job[slow] / job[fast])
        verdict = (
            f"within {band:.0%}: at this size the way the model travels is noise"
            if ratio - 1 <= band
            else f"beyond the {band:.0%} noise band"
        )
        out.append(finding(SHIPPING_FINDINGS, "jobs", fast=fast, slow=slow, ratio=ratio,
                           verdict=verdict, **values))  # fmt: skip
    return out


CHANGE_FINDINGS = {
    "change": "Your edit moved `{label}` on {kind} most: {before:.2f} s, then {after:.2f} s "
    "({ratio:.2f}x; the other paths {others}): {verdict}.",
}


def change_findings(
    before: pd.DataFrame, after: pd.DataFrame, band: float = NOISE_BAND
) -> list[Finding]:
    """Which path an edit of the learner's functions moved: `before` and `after` from
    `type_throughput` (same kinds and rows); the path whose per-row cost changed most, against
    `band` and the spread of both runs."""
    keys = ["kind", "path"]
    t = before.set_index(keys).join(after.set_index(keys), lsuffix="_b", rsuffix="_a", how="inner")
    if t.empty:
        raise LabError("change_findings needs two runs over the same kinds and paths.")
    t["ratio"] = t["wall_s_a"] / t["wall_s_b"]
    top = (np.log(t["ratio"])).abs().idxmax()
    row = t.loc[top]
    lo = ("wall_min_s_b", "wall_min_s_a")
    hi = ("wall_max_s_b", "wall_max_s_a")
    overlap = all(c in t for c in lo + hi) and (
        row[lo[0]] <= row[hi[1]] and row[lo[1]] <= row[hi[0]]
    )
    others = t.drop(index=top)["ratio"]
    text = ", ".join(f"`{PATH_LABELS[p]}` {r:.2f}x" for (_, p), r in others.items()) or "none ran"
    if min(row.get("repeats_b", 3), row.get("repeats_a", 3)) < 2:
        verdict = "one run per path, no spread to tell it from noise: rerun at `LAB_SCALE=workshop`"
    elif abs(row["ratio"] - 1) <= band or overlap:
        verdict = f"within the noise (band {band:.0%} or overlapping runs), as is every path"
    else:
        verdict = "beyond the noise"
    return [
        finding(CHANGE_FINDINGS, "change", label=PATH_LABELS[top[1]], kind=top[0],
                before=row["wall_s_b"], after=row["wall_s_a"], ratio=float(row["ratio"]),
                others=text, verdict=verdict)
    ]  # fmt: skip

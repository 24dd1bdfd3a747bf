"""Notebook 11, "The talk, checked live": the talk's claims (BRIEF §11) beside this run's numbers.

Every function here measures; the notebook defines the jobs a user would write. Results are tidy
DataFrames so the notebook, the CLI (`dial`, `threads`) and the tests share them.

- `path_runs`: a few inference paths timed in one session, every run kept (median and min-max).
- `dial`: the same paths with models of increasing cost (more trees), each path's rows/s divided
  by the physical limit of *that* model: where does the choice of path stop mattering?
- `threads_grid`: LightGBM's `num_threads` against concurrent tasks (oversubscription).
- `count_loads`: how often a UDF built by the user loads its model (accumulator).
- `worker_row_cost`: the worker's Arrow -> identity -> Arrow cost per row, no JVM and no socket,
  the set-up of Spark's own `python/benchmarks` (BRIEF §12).
- `claims_table`: each claim, this run's value, a verdict computed from the numbers.
"""

from __future__ import annotations

import io
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.core.config import LINE, LabError, scale
from helpers.core.findings import Finding, finding
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.validate import require_positive
from helpers.inference.scenarios import (
    NOT_OFFERED,
    SCENARIOS,
    get_scenario,
    input_frame,
    model_broadcast,
)
from helpers.lab.levers import conf_entry
from helpers.lab.zerocopy.buffers import ipc_stream_bytes
from helpers.measure.metrics import python_operators, run_with_python_metrics
from helpers.measure.timing import (
    LimitRunner,
    collect_predictions,
    cpu_snapshot,
    cpu_spent,
    lower_median,
    reference_predictions,
    run_scenario,
    time_noop,
)
from helpers.model.cache import cached_booster
from helpers.model.data import feature_matrix, load_booster, predict, spec_model_path
from helpers.profile.classify import categorize
from helpers.profile.worker_profilers import (
    clear_worker_profiles,
    collect_worker_profiles,
    pause_workers,
    python_stacks,
    require_profiled,
)

BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"
NOISE = 0.10  # two rates closer than this (relative) are "the same" on a shared laptop
TALK_FACTOR_BAND = 1.5  # a measured ratio within this factor of the talk's figure "holds here"

# ---- models of increasing cost ---------------------------------------------------------------


def trees_model_path(num_trees: int, train_rows: int = 5_000):
    """The kit's model shape (16 features, 31 leaves) with `num_trees` trees, trained locally and
    deterministically, cached in data/ under a name that holds its spec (model.txt untouched)."""
    require_positive("num_trees", num_trees)
    return spec_model_path(num_trees, train_rows)


def parse_trees(text: str) -> list[int]:
    """'10,100,1000' -> [10, 100, 1000]: positive, at most 5,000 trees, at least one value."""
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise LabError(f"--trees {text!r}: give whole numbers, e.g. 10,100,1000.") from None
    if not values or any(v < 1 or v > 5_000 for v in values):
        raise LabError(f"--trees {text!r}: give 1 to 5,000 trees per model, e.g. 10,100,1000.")
    return sorted(set(values))


# ---- timing several paths in one session ------------------------------------------------------


@dataclass
class PathRun:
    name: str
    rows: int
    walls: tuple  # every timed run, seconds
    max_abs_diff: float | None

    @property
    def wall_s(self) -> float:
        return lower_median(list(self.walls))

    def row(self) -> dict:
        return {
            "path": self.name,
            "rows": self.rows,
            "rows_per_s": self.rows / self.wall_s,
            "rows_per_s_min": self.rows / max(self.walls),
            "rows_per_s_max": self.rows / min(self.walls),
            "runs": len(self.walls),
            "max_abs_diff": self.max_abs_diff,
        }


def time_path(
    spark, name: str, rows: int, model, repeats: int = 3, reference=None, between=None
) -> PathRun:
    """`timing.run_scenario` of registry path `name` with `model` (a broadcast of a model's text)
    over `rows` cached rows (`between()` before each timed run, e.g. a round of the limit); with
    `reference`, the largest prediction difference against it."""
    rec = run_scenario(spark, name, rows, repeats=repeats, parity=reference is not None,
                       reference=reference, between=between, model=model)  # fmt: skip
    return PathRun(name, rows, rec.walls, rec.max_abs_diff)


def path_runs(
    spark,
    names: Sequence[str],
    rows: int,
    row_rows: int,
    repeats: int = 3,
    progress: Progress | Sink | None = None,
) -> pd.DataFrame:
    """Registry paths `names` timed in this session with the kit's model (row-at-a-time paths
    over `row_rows` rows), parity against the in-process predictions: one row per path."""
    p = as_progress(progress)
    model = model_broadcast(spark)
    reference = reference_predictions(max(rows, row_rows))
    out = []
    with p.task(f"{len(names)} paths", len(names)):
        for name in names:
            p.step(name)
            n = row_rows if get_scenario(name).row_at_a_time else rows
            out.append(time_path(spark, name, n, model, repeats, reference).row())
    return pd.DataFrame(out)


# ---- 2. the model-cost dial ---------------------------------------------------------------------

DIAL_PATHS = ("row_udf", "pandas_udf", "map_in_pandas", "map_in_arrow")
DIAL_RUN_S = 2.0  # a heavy model gets fewer rows: about this long per run at the limit's pace
DIAL_MIN_ROWS = 5_000


def dial_rows(model_path, rows: int, cores: int, run_s: float = DIAL_RUN_S) -> int:
    """Rows for one model of the dial: `rows`, or fewer for a model so costly that a run at the
    limit's pace (`cores` processes) would take longer than `run_s` (at least DIAL_MIN_ROWS): the
    cost per row is timed here on 2,000 rows in-process."""
    booster = load_booster(Path(model_path).read_text())
    X = feature_matrix(2_000)
    predict(booster, X[:100])  # first call: thread pool and caches
    t0 = time.perf_counter()
    predict(booster, X)
    per_row = (time.perf_counter() - t0) / len(X)
    return int(min(rows, max(DIAL_MIN_ROWS, run_s * cores / per_row)))


def dial(
    spark,
    trees: Sequence[int] = (10, 100, 1000),
    paths: Sequence[str] = DIAL_PATHS,
    rows: int = 20_000,
    row_rows: int = 2_000,
    repeats: int = 3,
    progress: Progress | Sink | None = None,
) -> pd.DataFrame:
    """For each model (`trees` trees): the physical limit of that model (one plain process per
    core, no Spark, timed in turns with the paths) and each path's rows/s; ratio = path / limit,
    transport share = 1 - ratio; predict_us_per_row = one core's cost of the model per row.
    Parity of every path against the limit's predictions (max_abs_diff). A model too costly for
    `rows` in about DIAL_RUN_S per run gets fewer rows (`dial_rows`; the `rows` column says)."""
    for name in paths:
        get_scenario(name)
    require_positive("rows", rows)
    require_positive("row_rows", row_rows)
    p = as_progress(progress)
    out = []
    with p.task("model-cost dial", len(trees) * (len(paths) + 1)):
        for t in trees:
            p.step(f"{t} trees: model and limit")
            path = trees_model_path(t)
            model = spark.sparkContext.broadcast(path.read_text())
            n_rows = dial_rows(path, rows, spark.sparkContext.defaultParallelism)
            runs = []
            with LimitRunner(n_rows, model_path=path) as runner:
                for name in paths:
                    p.step(f"{t} trees: {name}")
                    n = min(row_rows, n_rows) if get_scenario(name).row_at_a_time else n_rows
                    mark = len(runner.rounds)
                    run = time_path(spark, name, n, model, repeats, between=runner.round)
                    runs.append((run, runner.rounds[mark:]))
            limit = runner.result()
            for run, rounds in runs:
                own = runner.result(rounds)
                got = collect_predictions(spark, run.name, run.rows, model=model)
                row = run.row()
                row.update(
                    trees=t,
                    limit_rows_per_s=own.rows_per_s,
                    predict_us_per_row=limit.processes * limit.wall_s / limit.rows * 1e6,
                    max_abs_diff=float(np.max(np.abs(got - limit.predictions[: run.rows]))),
                )
                row["ratio"] = row["rows_per_s"] / row["limit_rows_per_s"]
                row["transport_share"] = max(0.0, 1.0 - row["ratio"])
                out.append(row)
            model.unpersist()
    cols = ["trees", "predict_us_per_row", "path", "rows", "rows_per_s", "rows_per_s_min",
            "rows_per_s_max", "limit_rows_per_s", "ratio", "transport_share",
            "max_abs_diff"]  # fmt: skip
    return pd.DataFrame(out)[cols]


def path_spread(table: pd.DataFrame, paths: Sequence[str] | None = None) -> pd.DataFrame:
    """Per model: how much the choice of path changes throughput, 1 - slowest/fastest rows/s
    (over `paths`, default all), and whether that is under 10%."""
    t = table if paths is None else table[table.path.isin(paths)]
    g = t.groupby(["trees", "predict_us_per_row"]).rows_per_s
    spread = (1 - g.min() / g.max()).rename("spread").reset_index()
    spread["under_10pct"] = spread.spread < 0.10
    return spread


def converging_trees(table: pd.DataFrame, paths: Sequence[str] | None = None) -> int | None:
    """The fewest trees from which on every model's paths (`paths`, default all) are within 10%
    of each other; None when the heaviest model's are not (one noisy light model inside the band
    does not count)."""
    s = path_spread(table, paths).sort_values("trees")
    under, trees = s.under_10pct.tolist(), s.trees.tolist()
    return next((int(trees[i]) for i in range(len(under)) if all(under[i:])), None)


DIAL_FINDINGS = {
    "paths": (
        "{which} are {spread:.0%} apart at {trees:,} trees ({us:.1f} µs of predict per row): "
        "{verdict}."
    ),
}


def dial_findings(table: pd.DataFrame) -> list[Finding]:
    """Where the choice among the Arrow paths (and among all paths) stops mattering (<10%), or
    their spread at the heaviest model when it never does. Each path's transport share per model
    is the table's `transport_share` column."""
    out = []
    arrow = [p for p in table.path.unique() if not SCENARIOS[p].row_at_a_time]
    for which, paths in (("The Arrow paths", arrow), ("All paths (row @udf included)", None)):
        s = path_spread(table, paths).sort_values("trees").reset_index(drop=True)
        first = converging_trees(table, paths)
        if first is not None:
            r = s[s.trees == first].iloc[0]
            verdict = "within 10% from there on, so past that cost pick the path for convenience"
        else:
            r = s.iloc[-1]
            verdict = "the heaviest model tried, so the transport matters at every cost here"
        out.append(finding(DIAL_FINDINGS, "paths", trees=int(r.trees), us=r.predict_us_per_row,
                           spread=r.spread, which=which, verdict=verdict))  # fmt: skip
    return out


# ---- 3. threads: LightGBM's OpenMP threads against Spark's task slots ---------------------------


def predict_with_threads(threads: int | None, model) -> Callable:
    """A mapInArrow function predicting with `num_threads=threads` (None: LightGBM's default,
    i.e. OpenMP's, which follows OMP_NUM_THREADS)."""

    def fn(batches):
        import lightgbm as lgb

        text = model.value
        booster = cached_booster(("threads", text), lambda: lgb.Booster(model_str=text))
        for b in batches:
            cols = [c for c in b.schema.names if c != "id"]
            X = np.column_stack([b.column(c).to_numpy() for c in cols])
            kw = {} if threads is None else {"num_threads": threads}
            yield pa.RecordBatch.from_arrays(
                [b.column("id"), pa.array(booster.predict(X, **kw))], ["id", "prediction"]
            )

    return fn


def worker_env(spark, names=("OMP_NUM_THREADS", "SPARK_REUSE_WORKER")) -> dict:
    """The environment variables `names` as a Python worker sees them (None: unset), plus its
    core count: what a UDF's libraries see when they size their thread pools."""

    def fn(batches):
        for _ in batches:
            pass
        vals = [os.environ.get(n) for n in names] + [str(os.cpu_count())]
        yield pd.DataFrame({"name": [*names, "os.cpu_count()"], "value": vals})

    df = spark.range(1, numPartitions=1)
    got = df.mapInPandas(fn, "name string, value string").toPandas()
    return dict(zip(got.name, got.value))


def threads_grid(
    spark,
    rows: int,
    threads: Sequence[int | None] = (None, 1, 2),
    slots: Sequence[int] = (1, 2),
    repeats: int = 3,
    num_trees: int = 100,
    make_fn: Callable | None = None,
    progress: Progress | Sink | None = None,
) -> pd.DataFrame:
    """rows/s and CPU of a mapInArrow LightGBM job for each (`num_threads`, concurrent tasks),
    the job being `make_fn(threads, model_broadcast)` (default `predict_with_threads`):
    `slots` tasks at once (the input coalesced to that many partitions; at most the session's
    cores), each predicting with `threads` OpenMP threads (None: the library's default). CPU in
    core-seconds of the JVM and the Python workers (local mode)."""
    cores = spark.sparkContext.defaultParallelism
    for s in slots:
        if s < 1 or s > cores:
            raise LabError(f"slots={s}: use 1 to {cores} (this session's cores).")
    for t in threads:
        if t is not None and (t < 1 or t > 64):
            raise LabError(f"threads={t}: use 1 to 64, or default.")
    require_positive("repeats", repeats)
    model = spark.sparkContext.broadcast(trees_model_path(num_trees).read_text())
    base = input_frame(spark, rows)
    p = as_progress(progress)
    out = []
    with p.task("threads x tasks", len(threads) * len(slots)):
        for s in slots:
            df = base.coalesce(s)
            for t in threads:
                p.step(f"{s} task(s) x {t or 'default'} thread(s)")
                fn = (make_fn or predict_with_threads)(t, model)
                frame = df.mapInArrow(fn, "id long, prediction double")
                time_noop(frame)
                runs = []
                for _ in range(repeats):
                    before = cpu_snapshot()
                    wall = time_noop(frame)
                    runs.append((wall, cpu_spent(before, cpu_snapshot())))
                wall, cpu = lower_median(runs, key=lambda r: r[0])
                walls = [r[0] for r in runs]
                out.append({
                    "tasks": s, "threads": "default" if t is None else str(t),
                    "threads_per_core": None if t is None else s * t / cores,
                    "rows_per_s": rows / wall, "rows_per_s_min": rows / max(walls),
                    "rows_per_s_max": rows / min(walls),
                    "python_cpu_s": cpu["python"], "jvm_cpu_s": cpu["jvm"],
                })  # fmt: skip
    model.unpersist()
    return pd.DataFrame(out)


THREADS_FINDINGS = {
    "best": "Fastest here: {tasks} task(s) x {threads} thread(s), {rps:,.0f} rows/s.",
    "oversub": (
        "{tasks} tasks x {threads} threads ({per_core:.0f} threads per core) ran at {ratio:.0%} of "
        "the fastest, {verdict}: keep num_threads x concurrent tasks <= cores."
    ),
    "default": (
        "LightGBM's default followed OMP_NUM_THREADS={omp} that Spark set in the worker: "
        "{ratio:.0%} of the fastest."
    ),
}


def threads_findings(table: pd.DataFrame, omp: str | None) -> list[Finding]:
    """The fastest (tasks, threads); the most oversubscribed combination against it (with the noise
    band); where LightGBM's default threads landed."""
    best = table.loc[table.rows_per_s.idxmax()]
    out = [finding(THREADS_FINDINGS, "best", tasks=int(best.tasks), threads=best.threads,
                   rps=best.rows_per_s)]  # fmt: skip
    over = table.dropna(subset=["threads_per_core"])
    over = over[over.threads_per_core > 1]
    if len(over):
        w = over.loc[over.threads_per_core.idxmax()]
        ratio = w.rows_per_s / best.rows_per_s
        verdict = (
            f"beyond the {NOISE:.0%} noise"
            if ratio < 1 - NOISE
            else f"within the {NOISE:.0%} noise here, though bigger machines still need the rule"
        )
        out.append(finding(THREADS_FINDINGS, "oversub", tasks=int(w.tasks), threads=w.threads,
                           per_core=w.threads_per_core, ratio=ratio, verdict=verdict))  # fmt: skip
    d = table[(table.threads == "default") & (table.tasks == table.tasks.max())]
    if len(d):
        out.append(finding(THREADS_FINDINGS, "default", omp=omp,
                           ratio=d.rows_per_s.iloc[0] / best.rows_per_s))  # fmt: skip
    return out


# ---- the model loaded once per worker? -----------------------------------------------------------


def count_loads(spark, udf, loads, rows: int, batch_size: int, tasks: int | None = None) -> dict:
    """Run the user's scalar pandas UDF `udf` over `rows` cached rows in `tasks` tasks (default:
    four per core, so tasks outnumber the workers) with `batch_size` rows per Arrow batch; `loads`
    is the accumulator the UDF adds 1 to when it builds its model. Returns the loads, the Arrow
    batches and the tasks that ran (computed from the partition sizes)."""
    require_positive("batch_size", batch_size)
    tasks = tasks or 4 * spark.sparkContext.defaultParallelism
    require_positive("tasks", tasks)
    df = input_frame(spark, rows).repartition(tasks).cache()
    sizes = df.rdd.glom().map(len).collect()
    spark.conf.set(BATCH_CONF, str(batch_size))
    start = loads.value
    cols = [c for c in df.columns if c != "id"]
    time_noop(df.select("id", udf(*cols).alias("prediction")))
    df.unpersist()
    return {
        "loads": loads.value - start,
        "batches": sum(math.ceil(n / batch_size) for n in sizes if n),  # as the conf predicts
        "tasks": len(sizes),
    }


# ---- 6. the worker alone: per-row cost without the JVM -------------------------------------------

PUBLISHED_NS_PER_ROW = {  # BRIEF §12: Spark's python/benchmarks, identity function, 5 mixed columns
    ("mapInPandas", 1_000): 195, ("mapInPandas", 10_000): 19,
    ("mapInArrow", 1_000): 30, ("mapInArrow", 10_000): 5,
    ("iterator pandas_udf", 1_000): 171, ("iterator pandas_udf", 10_000): 22,
}  # fmt: skip


def _roundtrip(payload: bytes, convert: Callable) -> int:
    """Read an IPC stream, `convert` each batch, write the results as a stream; bytes written."""
    reader = pa.ipc.open_stream(payload)
    sink = io.BytesIO()
    writer = None
    for batch in reader:
        out = convert(batch)
        if writer is None:
            writer = pa.ipc.new_stream(sink, out.schema)
        writer.write_batch(out)
    if writer is not None:
        writer.close()
    return sink.tell()


def _arrow_identity(b):
    return b


def _pandas_identity(b):
    return pa.RecordBatch.from_pandas(b.to_pandas(), preserve_index=False)


def _series_identity(b):
    arrays = [pa.Array.from_pandas(b.column(i).to_pandas()) for i in range(b.num_columns)]
    return pa.RecordBatch.from_arrays(arrays, b.schema.names)


WORKER_APIS = {
    "mapInArrow": _arrow_identity,
    "mapInPandas": _pandas_identity,
    "iterator pandas_udf": _series_identity,
}


def worker_row_cost(
    rows: int = 200_000, batch_sizes: Sequence[int] = (1_000, 10_000), repeats: int = 5
) -> pd.DataFrame:
    """ns per row of the worker's own work for each API: read an Arrow IPC stream from memory,
    convert each batch as the API does (none / to pandas and back / per column), the identity
    function, write the result stream. No JVM, no socket: the set-up of Spark's worker-only
    benchmarks (their column mix differs: here id + 16 doubles). Median and min-max of `repeats`."""
    require_positive("rows", rows)
    require_positive("repeats", repeats)
    X = feature_matrix(rows)
    table = pa.table({"id": np.arange(rows), **{f"f{i}": X[:, i] for i in range(X.shape[1])}})
    out = []
    for bs in batch_sizes:
        require_positive("batch size", bs)
        payload = ipc_stream_bytes(table, bs)
        for api, convert in WORKER_APIS.items():
            _roundtrip(payload, convert)  # warm
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                _roundtrip(payload, convert)
                times.append(time.perf_counter() - t0)
            ns = [t / rows * 1e9 for t in times]
            out.append({"api": api, "batch_size": bs, "ns_per_row": float(np.median(ns)),
                        "ns_min": min(ns), "ns_max": max(ns),
                        "published_ns_per_row": PUBLISHED_NS_PER_ROW.get((api, bs))})  # fmt: skip
    return pd.DataFrame(out)


# ---- batch sizes (the Goldilocks claim) -------------------------------------------------------


def batch_runs(
    spark,
    sizes: Sequence[int],
    rows: int,
    path: str = "map_in_pandas",
    repeats: int = 3,
    progress: Progress | Sink | None = None,
) -> pd.DataFrame:
    """rows/s (median, min-max) of registry path `path` for each maxRecordsPerBatch in `sizes`,
    plus the rows each task holds (a batch can never be larger)."""
    p = as_progress(progress)
    model = model_broadcast(spark)
    per_task = rows // max(1, spark.sparkContext.defaultParallelism)
    out = []
    old = spark.conf.get(BATCH_CONF)
    try:
        with p.task("batch sizes", len(sizes)):
            for bs in sizes:
                require_positive("batch size", bs)
                p.step(f"{bs:,} rows per batch")
                spark.conf.set(BATCH_CONF, str(bs))
                row = time_path(spark, path, rows, model, repeats).row()
                row.update(batch_size=bs, rows_per_task=per_task)
                out.append(row)
    finally:
        spark.conf.set(BATCH_CONF, old)
    return pd.DataFrame(out)


# ---- what a Python worker holds: its address space (what spark.executor.pyspark.memory limits) --


def worker_memory(spark, model) -> dict:
    """A Python worker's address space (VmSize) and resident memory (VmRSS) in MiB after it loaded
    the model from broadcast `model` (Linux /proc): the first is what RLIMIT_AS, i.e.
    spark.executor.pyspark.memory / executor cores, must cover."""

    def fn(batches):
        import lightgbm as lgb

        lgb.Booster(model_str=model.value)
        for _ in batches:
            pass
        status = dict(
            line.split(":", 1) for line in open("/proc/self/status") if ":" in line
        )
        mib = {k: int(status[k].split()[0]) / 1024 for k in ("VmSize", "VmRSS")}
        yield pd.DataFrame([mib])

    got = spark.range(1, numPartitions=1).mapInPandas(fn, "VmSize double, VmRSS double")
    row = got.toPandas().iloc[0]
    return {"address_space_mib": float(row.VmSize), "rss_mib": float(row.VmRSS)}


def pyspark_memory(address_space_mib: float, executor_cores: int, headroom: float = 1.5) -> str:
    """The spark.executor.pyspark.memory value (whole MiB, e.g. '2048m') that gives each of
    `executor_cores` concurrent Python workers `headroom` x the address space measured."""
    require_positive("executor_cores", executor_cores)
    if not address_space_mib > 0 or not headroom >= 1:
        raise LabError("Give a positive address space (MiB) and a headroom of at least 1.")
    per_worker = math.ceil(address_space_mib * headroom / 64) * 64
    return f"{per_worker * executor_cores}m"


def rows_per_batch(row_bytes: int, budget_mib: float, copies: int = 3) -> int:
    """maxRecordsPerBatch that keeps `copies` copies of one batch (JVM Arrow buffers, the IPC
    bytes, the worker's pandas frame) within `budget_mib`, rounded down to 1,000 rows."""
    require_positive("row_bytes", row_bytes)
    require_positive("copies", copies)
    n = int(budget_mib * 2**20 / (row_bytes * copies)) // 1000 * 1000
    if n < 1000:
        raise LabError(f"{budget_mib} MiB holds fewer than 1,000 rows of {row_bytes} bytes x "
                       f"{copies} copies: raise the budget.")
    return n


# ---- 4. Spark's own readouts: the SQL tab's metrics of the Python operator -----------------

_DURATION = re.compile(r"([\d.,]+)\s*(ms|s|m|h)\b")
_UNIT_S = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def metric_seconds(value: str) -> float | None:
    """The total of a Spark UI timing metric ('total (min, med, max ...)\n1.2 s (...)') in
    seconds, or None when the value holds no duration."""
    text = str(value).split("\n")[-1]
    m = _DURATION.search(text)
    if not m:
        return None
    return float(m.group(1).replace(",", "")) * _UNIT_S[m.group(2)]


def arrow_stream_bytes(frame_rows: pd.DataFrame, batch_size: int) -> int:
    """Bytes of `frame_rows` written as one Arrow IPC stream in batches of `batch_size` rows:
    what the JVM's ArrowWriter would put on the socket, computed here in Python."""
    return len(ipc_stream_bytes(pa.Table.from_pandas(frame_rows, preserve_index=False), batch_size))


def python_operator_metrics(spark, run: Callable) -> tuple[float, float, pd.DataFrame]:
    """Run `run()` (one action on a Python operator) and return (wall seconds, Python workers'
    CPU seconds from psutil, the operator's SQL metrics as Spark's UI shows them, with `seconds`
    for timing metrics and `bytes` for size metrics)."""
    before = cpu_snapshot()
    t0 = time.perf_counter()
    _, metrics = run_with_python_metrics(spark, run)
    wall = time.perf_counter() - t0
    cpu = cpu_spent(before, cpu_snapshot())
    metrics = metrics.assign(seconds=[metric_seconds(v) for v in metrics["value"]])
    return wall, cpu["python"], metrics


def ui_beside_sampler(spark, run: Callable, worker_dir) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run `run()` once with the kit's worker sampler on (a session started with
    `profile="cpu", profile_dir=worker_dir`; the sampler is paused again afterwards): the
    operator's SQL metrics as the UI shows them (`python_operator_metrics`), and every reading of
    the workers' time side by side: the UI's timing metrics, the sampler's seconds inside the
    tasks split by category, psutil's CPU of the workers and the job's wall time. Seconds are
    summed over tasks (wall time inside the workers, waiting included) unless `kind` says CPU."""
    require_profiled(spark)
    pause_workers(worker_dir, False)
    clear_worker_profiles(worker_dir)
    try:
        wall, python_cpu, metrics = python_operator_metrics(spark, run)
        files = collect_worker_profiles(worker_dir)
    finally:
        pause_workers(worker_dir, True)
    rows = [("clock", "job wall time", wall, "wall")]
    timed = metrics.dropna(subset=["seconds"])
    rows += [("Spark UI", m, float(s), "wall, summed over tasks")
             for m, s in zip(timed.metric, timed.seconds)]  # fmt: skip
    inside = sum(f.busy_s or 0.0 for f in files)
    rows.append(("sampler", "inside the tasks", inside, "wall, summed over tasks"))
    for category, seconds in categorize(python_stacks(files), "python").items():
        if seconds > 0:
            rows.append(("sampler", f"  {category}", seconds, "wall, summed over tasks"))
    rows.append(("psutil", "CPU of the Python workers", python_cpu, "CPU"))
    readings = pd.DataFrame(rows, columns=["source", "reading", "seconds", "kind"])
    readings["of_sampled"] = (readings.seconds / max(inside, 1e-9)).where(
        readings.source != "clock"
    )  # the job's wall time is not a part of the tasks' time
    return metrics, readings


# ---- 1. the claims table ---------------------------------------------------------------------

AS_REPORTED = "as reported (recording; no public slides)"


def ratio_band(table: pd.DataFrame, fast: str, slow: str) -> tuple[float, float, float] | None:
    """rows/s of `fast` over `slow`: (median ratio, lowest, highest from the runs' min-max); None
    when either path is missing."""
    t = table.set_index("path")
    if fast not in t.index or slow not in t.index:
        return None
    a, b = t.loc[fast], t.loc[slow]
    return (a.rows_per_s / b.rows_per_s, a.rows_per_s_min / b.rows_per_s_max,
            a.rows_per_s_max / b.rows_per_s_min)  # fmt: skip


def ratio_verdict(band, talk: float | None) -> str:
    """'no gain here' when the band holds 1.0; else against the talk's figure: 'holds here' within
    a factor 1.5, 'larger here' / 'smaller here' beyond; 'measured' when the talk gave none."""
    if band is None:
        return "not measurable on this line"
    r, lo, hi = band
    if lo <= 1.0 <= hi:
        return "no gain here (within the runs' spread)"
    if talk is None:
        return "measured (the talk gave no figure)"
    if abs(math.log(r / talk)) <= math.log(TALK_FACTOR_BAND):
        return "holds here"
    return "larger here" if r > talk else "smaller here"


def _default(spark, key: str) -> str | None:
    """Spark's own default for `key` from its conf registry (None when this line has no such key):
    not the session's value, which the kit or the user may have set."""
    for _ in range(5):  # a fallback entry names another conf: "<value of spark.x.y>"
        entry = conf_entry(spark, key)
        if entry is None:
            return None
        value = str(entry["default"])
        m = re.fullmatch(r"<value of (\S+)>", value)
        if not m:
            return value.lower()
        key = m.group(1)
    return None


def _batch_note(counts: dict) -> str:
    """When a per-batch UDF loaded its model fewer times than maxRecordsPerBatch predicts batches:
    the UDF got larger batches than the conf says (a cached DataFrame on 4.x hands it the cache's
    own batches, `spark.sql.inMemoryColumnarStorage.batchSize` rows)."""
    if counts["tasks"] < counts["loads"] < counts["batches"]:
        return "; the workers got fewer, larger ones (4.x: a cached DataFrame sends its own)"
    return ""


def claims_table(spark, runs: pd.DataFrame, loads: dict, batches: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: the talk's figure, this run's value on this line, a verdict computed from
    the numbers, the mechanism and where the series goes deeper. `runs`: `path_runs`; `loads`:
    {variant: count_loads result}; `batches`: rows/s per batch size (path, batch_size, rows_per_s,
    rows_per_s_min, rows_per_s_max)."""
    rows = []

    def add(claim, talk, band, talk_x, mechanism, nb, value=None, verdict=None):
        measured = value if value is not None else (
            "n/a" if band is None else f"{band[0]:.2f}x ({band[1]:.2f}-{band[2]:.2f})"
        )
        rows.append({"claim": claim, "talk": talk, "this run": measured,
                     "verdict": verdict or ratio_verdict(band, talk_x),
                     "mechanism": mechanism, "deeper": nb})  # fmt: skip

    b = lambda f, s: ratio_band(runs, f, s)  # noqa: E731
    add("row @udf -> @pandas_udf", f"≈2x, {AS_REPORTED}", b("pandas_udf", "row_udf"), 2.0,
        "100-row pickled batches vs Arrow batches of maxRecordsPerBatch rows", "02")
    add("@pandas_udf -> mapInPandas", f"≈2x, {AS_REPORTED}", b("map_in_pandas", "pandas_udf"),
        2.0, "one DataFrame per batch instead of one Series per column; no row join", "00, 04")
    syn = b("synapseml", "map_in_pandas")
    add("mapInPandas -> SynapseML", f"≈2.5x, {AS_REPORTED}", syn, 2.5,
        "scores in the JVM over JNI, one native call per row, no Python worker", "06",
        value=None if syn else "not on this line",
        verdict=None if syn else get_scenario_why("synapseml"))
    best = "synapseml" if syn else "map_in_arrow"
    add(f"row @udf -> {best}, in all", f"≈9x, {AS_REPORTED}", b(best, "row_udf"), 9.0,
        "the product of the steps above", "00")
    chain = b(best, "row_udf")
    add("production: 7 h -> 4 min", f"≈105x, {AS_REPORTED}", None, None,
        "more than the path: cluster, caching, data layout changed too", "09",
        value="n/a" if chain is None else f"path alone: {chain[0]:.1f}x",
        verdict="does not follow from the path ratios"
        if chain is None or chain[2] < 105 else "path alone could explain it")
    add("mapInArrow (not tried in the talk: 'expect similar')", "≈ mapInPandas",
        b("map_in_arrow", "map_in_pandas"), 1.0, "no Arrow <-> pandas conversion in the worker",
        "00, 03")
    if "pyarrow_udf" in runs.path.values:
        add("@arrow_udf (4.1+, not in the talk)", "-", b("pyarrow_udf", "pandas_udf"), None,
            "pyarrow arrays in and out, no pandas", "10")
    if "default_udf" in runs.path.values:
        arrow_default = _default(spark, "spark.sql.execution.pythonUDF.arrow.enabled")
        add("plain @udf (Arrow by default from 4.2)", "-", b("default_udf", "row_udf"), None,
            f"default of spark.sql.execution.pythonUDF.arrow.enabled: {arrow_default or 'absent'}",
            "08")
    # the Goldilocks zone
    g = batches.sort_values("batch_size")
    top = g.loc[g.rows_per_s.idxmax()]
    near = g[g.rows_per_s_max >= top.rows_per_s_min]  # inside the best one's spread
    zone = (int(near.batch_size.min()), int(near.batch_size.max()))
    in_talk = not (zone[1] < 50_000 or zone[0] > 200_000)
    add("Goldilocks zone 50k-200k rows per batch", f"50k-200k, {AS_REPORTED}", None, None,
        "fewer per-batch costs vs memory per batch; capped by rows per task", "04",
        value=f"best {int(top.batch_size):,}; same within spread: {zone[0]:,}-{zone[1]:,}",
        verdict="overlaps the talk's zone" if in_talk else "outside the talk's zone here")
    # Arrow by default
    pyspark_arrow = _default(spark, "spark.sql.execution.arrow.pyspark.enabled")
    add("'PyArrow enabled by default since 3.5'", AS_REPORTED, None, None,
        "the conf governs toPandas/createDataFrame; UDF kinds choose their own transport", "08",
        value=f"Spark {spark.version}'s default: arrow.pyspark.enabled = {pyspark_arrow}",
        verdict="holds on this line" if pyspark_arrow == "true"
        else f"does not hold on this line (default {pyspark_arrow})")
    # rows per pickled batch
    pickled = _default(spark, "spark.sql.execution.python.udf.maxRecordsPerBatch")
    add("'a row UDF sends 15 rows at a time'", AS_REPORTED, None, None,
        "pickled batches of 100 rows (3.5: hard-coded; 4.x: a conf)", "02",
        value=f"{pickled} rows (conf default)" if pickled else "100 rows (hard-coded in 3.5)",
        verdict="does not hold (batch is 100 rows)" if (pickled or "100") == "100"
        else f"does not hold (batch is {pickled} rows)")
    # model reloads
    pb, cached = loads.get("per batch"), loads.get("module cache")
    if pb and cached:
        add("model reloaded 'up to 4,000 times'", AS_REPORTED, None, None,
            "a load per batch unless the model is cached where worker reuse keeps it", "00",
            value=f"{pb['loads']} loads in {pb['tasks']} tasks (maxRecordsPerBatch predicts "
            f"{pb['batches']} batches{_batch_note(pb)}); module cache: {cached['loads']}",
            verdict="holds without a cache (a load per batch); a module cache avoids it"
            if pb["loads"] > max(cached["loads"], pb["tasks"])
            else "a load per task without a cache; a module cache avoids it"
            if pb["loads"] > cached["loads"] else "not reproduced here")
    return pd.DataFrame(rows)


def get_scenario_why(name: str) -> str:
    """Why a registry path is absent on this line (one computed sentence), or ''."""
    return NOT_OFFERED.get(name, "") or f"{name} is offered on {LINE.label}"


CLAIMS_FINDINGS = {
    "tally": (
        "{holds} of {rated} rated claims hold here; row @udf -> {best} gave {chain:.1f}x on "
        "{line} (talk: ≈9x)."
    ),
    "worst": "Furthest from the talk: {claim} ({value}; talk {talk}).",
}


def claims_findings(claims: pd.DataFrame) -> list[Finding]:
    """How many claims with a verdict hold, the chain's factor, and the claim furthest from the
    talk (a 'larger/smaller here' or 'does not hold')."""
    rated = claims[~claims.verdict.str.startswith(("measured", "not measurable"))]
    holds = rated.verdict.str.startswith(("holds", "overlaps"))
    chain = claims[claims.claim.str.contains("in all")].iloc[0]
    factor = float(str(chain["this run"]).split("x")[0]) if "x" in str(chain["this run"]) else 0
    out = [finding(CLAIMS_FINDINGS, "tally", holds=int(holds.sum()), rated=len(rated),
                   best=chain.claim.split("-> ")[1].split(",")[0], chain=factor,
                   line=LINE.label)]  # fmt: skip
    off = rated[~holds]
    if len(off):
        r = off.iloc[0]
        out.append(finding(CLAIMS_FINDINGS, "worst", claim=r.claim, value=r["this run"],
                           talk=r.talk.split(",")[0]))  # fmt: skip
    return out


# The UI's whole-worker time metric, by the names the lines give it: 4.0+ pythonTotalTime (from the
# runner's start to the worker's finish), then pythonProcessingTime (the wall time of the worker's
# read-convert-call-write loop, which `worker.py` reports back: `report_times`); 3.5 has neither.
UI_TOTAL_TIME = ("time to run Python workers", "time to execute Python code")

UI_FINDINGS = {
    "bytes": (
        "The UI's 'data sent to Python workers' says {ui:.1f} MiB; the same rows as an Arrow "
        "stream are {ours:.1f} MiB ({ratio:.2f}x)."
    ),
    "times": (
        "The UI's '{name}' adds up {ui_s:.1f} s over the tasks; the kit's sampler counted "
        "{sampled:.1f} s inside them ({agree:.0%} of it). Both are wall time, waiting included."
    ),
    "no_times": (
        "Spark {version} keeps no Python time metrics (bytes and rows only); the kit's sampler "
        "counted {sampled:.1f} s inside the tasks."
    ),
}


def ui_findings(
    metrics: pd.DataFrame, readings: pd.DataFrame, arrow_bytes: int, version: str
) -> list[Finding]:
    """The UI's bytes sent against the Arrow stream computed here; the UI's whole-worker time
    metric against the sampler's seconds inside the same tasks (or why this line has none). The
    sampler's split of that time, which the UI does not give, is the `readings` table
    (`ui_beside_sampler`)."""
    out = []
    sent = metrics[metrics.metric.str.contains("sent to Python")].bytes.dropna()
    if len(sent):
        ui = float(sent.iloc[0])
        out.append(finding(UI_FINDINGS, "bytes", ui=ui / 2**20, ours=arrow_bytes / 2**20,
                           ratio=ui / arrow_bytes))  # fmt: skip
    r = readings.set_index("reading").seconds
    sampled = float(r.get("inside the tasks", 0.0))
    timed = metrics.dropna(subset=["seconds"]).set_index("metric")
    total = next((n for n in UI_TOTAL_TIME if n in timed.index), None)
    if total is not None:
        seconds = float(timed.loc[total, "seconds"])
        out.append(finding(UI_FINDINGS, "times", ui_s=seconds, name=total, sampled=sampled,
                           agree=sampled / max(seconds, 1e-9)))  # fmt: skip
    else:
        out.append(finding(UI_FINDINGS, "no_times", version=version, sampled=sampled))
    return out


WORKER_FINDINGS = {
    "step": (
        "{api}, 1,000 → 10,000 rows per batch: **{ours_step:.1f}x cheaper per row here, "
        "{pub_step:.1f}x published**, {shape} ({ours_lo:.0f} → {ours_hi:.0f} ns here, {pub_lo} → "
        "{pub_hi} published; absolute values {ratio:.1f}x apart)."
    ),
    "compare": (
        "{api} at {batch:,} rows per batch: {ours:.0f} ns per row here vs {published} published "
        "({ratio:.1f}x); time 1,000 and 10,000 rows per batch to compare the step."
    ),
}
STEP_BAND = 1.5  # two steps within 1.5x of each other: "the same shape"


def worker_findings(cost: pd.DataFrame) -> list[Finding]:
    """Per API, the step the deep-dive compares: how much cheaper a row got from 1,000 to 10,000
    rows per batch here and in the published figures (alike within STEP_BAND, flatter or
    steeper); an API timed at one of those sizes only gets its absolute ns beside the published
    one."""
    pub = cost.dropna(subset=["published_ns_per_row"])
    out = []
    for api, g in pub.groupby("api", sort=False):
        ns = g.set_index("batch_size")
        if {1_000, 10_000} <= set(ns.index):
            lo, hi = float(ns.ns_per_row[1_000]), float(ns.ns_per_row[10_000])
            p_lo, p_hi = PUBLISHED_NS_PER_ROW[(api, 1_000)], PUBLISHED_NS_PER_ROW[(api, 10_000)]
            ours, theirs = lo / hi, p_lo / p_hi
            shape = ("a flatter step: here the per-row work outweighs the per-batch cost more"
                     if ours * STEP_BAND < theirs else
                     "a steeper step: here the per-batch cost weighs more"
                     if ours > theirs * STEP_BAND else "the same shape")  # fmt: skip
            out.append(finding(WORKER_FINDINGS, "step", api=api, ours_step=ours, pub_step=theirs,
                               ours_lo=lo, ours_hi=hi, pub_lo=p_lo, pub_hi=p_hi, shape=shape,
                               ratio=hi / p_hi))  # fmt: skip
            continue
        r = ns.iloc[-1]
        out.append(finding(WORKER_FINDINGS, "compare", api=api, batch=int(r.name),
                           ours=float(r.ns_per_row), published=int(r.published_ns_per_row),
                           ratio=float(r.ns_per_row / r.published_ns_per_row)))  # fmt: skip
    return out


@dataclass(frozen=True)
class Sizes:
    rows: int
    row_rows: int
    repeats: int
    batch_sizes: tuple
    trees: tuple
    dial_rows: int
    dial_row_rows: int
    threads_rows: int
    worker_rows: int


SIZES = {
    "ci": Sizes(20_000, 2_000, 2, (1_000, 5_000, 10_000), (10, 100, 500), 10_000, 1_000,
                10_000, 50_000),
    "workshop": Sizes(200_000, 10_000, 3, (1_000, 10_000, 50_000, 100_000), (10, 100, 1000),
                      50_000, 4_000, 100_000, 200_000),
    "full": Sizes(1_000_000, 40_000, 3, (1_000, 10_000, 50_000, 200_000, 500_000),
                  (10, 100, 1000, 3000), 200_000, 10_000, 400_000, 1_000_000),
}  # fmt: skip


def sizes() -> Sizes:
    """Notebook 11's sizes at this LAB_SCALE."""
    return SIZES[scale()]


def claim_paths() -> list[str]:
    """The paths the claims table times on this line: the talk's four, SynapseML where the line
    has it, and what the talk skipped (mapInArrow, @arrow_udf, a plain @udf)."""
    want = ["row_udf", "pandas_udf", "map_in_pandas", "map_in_arrow", "synapseml", "pyarrow_udf",
            "default_udf"]  # fmt: skip
    return [n for n in want if n in SCENARIOS]


def kit_transport(dial_table: pd.DataFrame, trees: int = 100) -> tuple[int, float]:
    """The dial's model nearest `trees` (the kit's model has 100) and the transport share of the
    best batched (non row-at-a-time) path on it; NaN when the dial has none."""
    t = int(dial_table.trees.iloc[(dial_table.trees - trees).abs().argmin()])
    kit = dial_table[dial_table.trees == t]
    batched = kit[~kit.path.isin([n for n, s in SCENARIOS.items() if s.row_at_a_time])]
    return t, float(batched.transport_share.min()) if len(batched) else float("nan")


def triage_table(spark, job, loads: dict, grid: pd.DataFrame, dial_table: pd.DataFrame,
                 mem: dict, executor_cores: int = 4) -> pd.DataFrame:  # fmt: skip
    """The Monday checklist filled in from this run: each step, what this run read, what to do."""
    ops = ", ".join(python_operators(job)) or "none (no Python operator)"
    parts = job.rdd.getNumPartitions()
    pb, mc = loads["per batch"], loads["module cache"]
    best = grid.loc[grid.rows_per_s.idxmax()]
    trees, share = kit_transport(dial_table)
    other = (
        "SynapseML (JVM scoring) is available on this line"
        if "synapseml" in SCENARIOS
        else get_scenario_why("synapseml")
    )
    rows = [
        ("1 operator", "job.explain()", ops, "pickled BatchEvalPython? move to Arrow"),
        ("2 SQL tab", "data sent/returned, worker time", "section 4", "bytes per row, time"),
        ("3 model loads", "count loads", f"{pb['loads']} per-batch vs {mc['loads']} cached",
         "cache in an imported module (or iterator UDF)"),
        ("4 API", "iterator UDF / mapInArrow", "notebook 00", "one model per task, no pandas"),
        ("5 batch size", "maxRecordsPerBatch", spark.conf.get(BATCH_CONF),
         "from row width and a memory budget (notebook 04)"),
        ("6 worker memory", "address space of a worker",
         f"{mem['address_space_mib']:.0f} MiB -> "
         f"{pyspark_memory(mem['address_space_mib'], executor_cores)} for {executor_cores} cores",
         "spark.executor.pyspark.memory from VmSize, not RSS"),
        ("7 tasks", "partitions", f"{parts} partitions", "fewer, larger tasks"),
        ("8 threads", "num_threads x tasks",
         f"best: {int(best.tasks)} task(s) x {best.threads} thread(s)", "<= cores"),
        ("9 beyond Python", "model cost vs transport",
         f"transport {share:.0%} of wall at {trees} trees (best Arrow path)",
         f"{other}; or read files in Python"),
    ]
    return pd.DataFrame(rows, columns=["step", "read", "this run", "do"])

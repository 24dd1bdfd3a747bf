"""The maxRecordsPerBatch sweep. One point = one job into the noop sink at one
batch size, with the CPU and memory of every process of the session measured while it runs.

Per point (SI units: seconds, bytes, rows/s):
- throughput: rows / wall seconds of the job.
- cpu_saturation: CPU seconds of the driver JVM + pyspark.daemon + every Python worker during the
  job (psutil snapshots before/after, plus `ProcessSampler` for workers that come and go), divided
  by the seconds between the two snapshots (the job plus a few ms) x cores available to this
  process (`os.sched_getaffinity`). 1.0 = every core busy all the time.
- peak_python_rss_bytes: the largest resident set of one Python worker seen during the job
  (`peak_python_rss_total_bytes`: all workers together, the executor's Python footprint).
  Workers are reused between points (spark.python.worker.reuse), so this includes the interpreter,
  pandas/pyarrow/lightgbm and what their allocators kept from earlier points; a sweep runs its
  points in ascending batch size so the carry-over can only come from smaller batches.
- peak_jvm_offheap_bytes: **Arrow's allocator** (`ArrowUtils.rootAllocator`, the one every Arrow
  writer/reader of the Python runners allocates from): its peak during this job. That peak is a
  per-JVM high-water mark that never resets by itself, so before each point we set it back to the
  current allocation (reflection on `org.apache.arrow.memory.Accountant.peakAllocation`), see
  `reset_arrow_peak`; tests check that a small job after a big one reports the small peak.
- peak_jvm_direct_bytes: the JMX "direct" BufferPoolMXBean (NIO `ByteBuffer.allocateDirect`),
  sampled every `interval` s through py4j. A second meter that stays small here: Arrow's Netty
  allocator takes its chunks with `PlatformDependent.allocateDirectNoCleaner` (see the crash lab's
  stack trace), which bypasses the NIO accounting this pool reports.
- peak_jvm_heap_bytes: heap used (MemoryMXBean), sampled; gc_s: collection time of all collectors
  during the job (GarbageCollectorMXBean, ms -> s).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

import pandas as pd

from helpers.core.config import LabError, scale
from helpers.core.findings import Finding, finding
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.session import session_key
from helpers.core.validate import as_int, require_positive
from helpers.inference.scenarios import ARROW_SCENARIOS, get_scenario, input_frame, scenario_frame
from helpers.measure.samplers import (
    JvmSampler,
    ProcessSampler,
    arrow_memory,
    gc_seconds,
    process_table,
    reset_arrow_peak,
)
from helpers.measure.timing import set_batch_size, time_noop
from helpers.model.data import N_FEATURES

MEMORY_METRIC = "peak_jvm_offheap_bytes"  # what a memory budget is compared with, by default
MEMORY_METRICS = (
    "peak_jvm_offheap_bytes",
    "peak_jvm_direct_bytes",
    "peak_python_rss_bytes",
    "peak_python_rss_total_bytes",
    "peak_jvm_heap_bytes",
)
SWEEPABLE = ARROW_SCENARIOS  # the paths whose batches maxRecordsPerBatch cuts
MiB = 2**20
# Arrow Java's vectors start with room for this many values
# (BaseValueVector.INITIAL_VALUE_ALLOCATION)
ARROW_INITIAL_VALUES = 3970
RECORDS_KEY = "spark.sql.execution.arrow.maxRecordsPerBatch"
BYTES_KEY = "spark.sql.execution.arrow.maxBytesPerBatch"  # Spark 4.x; absent from 3.5

# Arrow/Spark type widths in bytes (values only; validity bitmaps and offsets add a little)
_WIDTHS = {
    "long": 8,
    "bigint": 8,
    "double": 8,
    "timestamp": 8,
    "date": 4,
    "int": 4,
    "integer": 4,
    "float": 4,
    "short": 2,
    "smallint": 2,
    "byte": 1,
    "tinyint": 1,
    "boolean": 1,
}


def cores_available() -> int:
    """CPU cores this process may run on (affinity mask), the denominator of cpu_saturation."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def log_grid(lo: int, hi: int, per_decade: int = 4) -> list[int]:
    """Batch sizes from `lo` to `hi` evenly spaced on a log scale, `per_decade` per factor of 10,
    rounded to integers (duplicates removed); decade values (10, 100, ...) are exact."""
    require_positive("lowest batch size", lo)
    require_positive("highest batch size", hi)
    require_positive("points per decade", per_decade)
    if hi < lo:
        raise LabError(f"highest batch size {hi} is below the lowest {lo}: swap them.")
    a, b = math.log10(lo), math.log10(hi)
    k0, k1 = math.ceil(a * per_decade - 1e-9), math.floor(b * per_decade + 1e-9)
    values = [lo] + [int(round(10 ** (k / per_decade))) for k in range(k0, k1 + 1)] + [hi]
    return sorted({v for v in values if lo <= v <= hi})


def row_bytes(schema) -> int:
    """Bytes one row of `schema` (a Spark StructType) takes in Arrow's value buffers, at least 1:
    fixed-width types count their width, strings/binaries 16 (offset + a short value), nested and
    other types 8 per leaf. An estimate used for bytes-per-batch axes and budget sanity checks."""
    total = 0
    for col in schema.fields:
        name = col.dataType.simpleString()
        if name in _WIDTHS:
            total += _WIDTHS[name]
        elif name.startswith("decimal"):
            total += 16
        elif name in ("string", "binary"):
            total += 16
        elif hasattr(field.dataType, "fields"):
            total += row_bytes(field.dataType)
        else:
            total += 8
    return max(1, total)


def scenario_row_bytes(extra_doubles: int = 0) -> int:
    """Arrow value bytes of one row of the kit's input (id + 16 features, + `extra_doubles` payload
    columns of `wide_frame`): 8 bytes each. Known without Spark, for checking inputs early."""

    return 8 * (1 + N_FEATURES + extra_doubles)


def require_budget(budget_bytes: int, one_row_bytes: int) -> int:
    """A memory budget must hold at least one batch of one row; LabError otherwise."""
    if (
        not isinstance(budget_bytes, (int, float))
        or isinstance(budget_bytes, bool)
        or budget_bytes <= 0
    ):
        raise LabError(f"memory budget must be a positive number of bytes, got {budget_bytes!r}.")
    if budget_bytes < one_row_bytes:
        raise LabError(
            f"memory budget {int(budget_bytes)} B is smaller than one batch of one row "
            f"({one_row_bytes} B): pass a budget in bytes, e.g. 268435456 for 256 MiB."
        )
    return int(budget_bytes)


# ---- JVM meters through py4j ------------------------------------------------------------------


# ---- what is measured: a workload -------------------------------------------------------------


@dataclass
class Workload:
    """A DataFrame to run at different batch sizes: `build()` returns it (a fresh plan each time),
    `rows` input rows in `partitions` partitions, `one_row_bytes` = estimated Arrow bytes of one
    input row (see `row_bytes`)."""

    label: str
    build: Callable[[], object]
    rows: int
    partitions: int
    one_row_bytes: int


def scenario_workload(spark, name: str, rows: int | None = None, df=None) -> Workload:
    """The kit's scenario `name` over the cached input of `rows` rows, or over `df`
    (e.g. `wide_frame`)."""
    require_sweepable(name)
    if df is None:
        df = input_frame(spark, rows, layout=getattr(get_scenario(name), "layout", "columns"))
    if rows is None:
        rows = df.count()
    return Workload(
        name,
        lambda: scenario_frame(spark, name, df=df),
        rows,
        df.rdd.getNumPartitions(),
        row_bytes(df.schema),
    )


def frame_workload(
    df, transform: Callable[[object], object], label: str = "my function", rows: int | None = None
) -> Workload:
    """Your own DataFrame `df` (cache it first) and `transform(df) -> DataFrame` on any Arrow path,
    e.g. `lambda d: d.mapInPandas(fn, schema)`, `lambda d: d.mapInArrow(fn, schema)` or
    `lambda d: d.select(my_pandas_udf("x"))`. `rows` defaults to `df.count()`."""
    if not callable(transform):
        raise LabError(
            "transform must be a function DataFrame -> DataFrame, "
            "e.g. lambda d: d.mapInPandas(fn, schema)."
        )
    rows = require_positive("rows", rows) if rows is not None else int(df.count())
    if rows <= 0:
        raise LabError("the DataFrame is empty: a batch-size sweep needs rows.")
    return Workload(
        label, lambda: transform(df), rows, df.rdd.getNumPartitions(), row_bytes(df.schema)
    )


# ---- one point --------------------------------------------------------------------------------


@dataclass
class SweepPoint:
    """One batch size, one job. Units: bytes, seconds, rows/s; saturation is a fraction of all
    cores."""

    label: str
    batch_size: int
    rows: int
    partitions: int
    effective_batch_rows: int  # a batch never holds more rows than its partition
    batch_bytes: int  # effective_batch_rows x estimated input row width (Arrow value bytes)
    wall_s: float
    throughput: float
    cpu_s: float
    jvm_cpu_s: float
    python_cpu_s: float
    cores: int
    cpu_saturation: float
    peak_python_rss_bytes: int
    peak_python_rss_total_bytes: int
    python_workers: int
    peak_jvm_heap_bytes: int
    peak_jvm_offheap_bytes: int
    peak_jvm_direct_bytes: int
    gc_s: float
    jvm_samples: int

    def record(self) -> dict:
        return asdict(self)


def _cpu_by_role(before: pd.DataFrame, after: pd.DataFrame, samples: pd.DataFrame) -> dict:
    """CPU seconds per role spent between two process tables; processes that started during the
    job count from 0, processes that ended count up to their last sample."""
    start = dict(zip(before.pid, before.cpu_s))
    last, roles = {}, {}
    for frame in (samples, after):
        for r in frame.itertuples():
            last[r.pid] = max(last.get(r.pid, 0.0), r.cpu_s)
            roles[r.pid] = r.role
    used = {"jvm": 0.0, "python": 0.0}
    for pid, cpu in last.items():
        delta = max(0.0, cpu - start.get(pid, 0.0))
        used["jvm" if roles[pid] == "jvm" else "python"] += delta
    return used


def measure_point(spark, work: Workload, batch_size: int, interval: float = 0.1) -> SweepPoint:
    """Run `work` into the noop sink once with maxRecordsPerBatch = `batch_size`, measuring wall
    time, CPU of the session's processes and memory peaks (module docstring: which meter is
    which)."""
    require_positive("batch size", as_int(batch_size))
    batch_size = int(batch_size)
    set_batch_size(spark, batch_size)
    frame = work.build()
    effective = min(batch_size, math.ceil(work.rows / work.partitions))
    cores = cores_available()
    gc0 = gc_seconds(spark)
    reset_arrow_peak(spark)
    w0 = time.perf_counter()
    before = process_table()
    with ProcessSampler(interval) as procs, JvmSampler(spark, interval / 2) as jvm:
        wall = time_noop(frame)
    after = process_table()
    window = time.perf_counter() - w0  # the span the CPU seconds were counted over (>= wall)
    gc1 = gc_seconds(spark)
    _, arrow_peak = arrow_memory(spark)
    cols = ["t", "pid", "role", "rss_bytes", "cpu_s"]
    samples = pd.concat([procs.samples[cols], after.assign(t=-1.0)[cols]], ignore_index=True)
    cpu = _cpu_by_role(before, after, samples)
    workers = samples[samples.role == "python_worker"]
    total_rss = int(workers.groupby("t")["rss_bytes"].sum().max()) if len(workers) else 0
    total_cpu = cpu["jvm"] + cpu["python"]
    return SweepPoint(
        label=work.label,
        batch_size=batch_size,
        rows=work.rows,
        partitions=work.partitions,
        effective_batch_rows=effective,
        batch_bytes=effective * work.one_row_bytes,
        wall_s=wall,
        throughput=work.rows / wall,
        cpu_s=total_cpu,
        jvm_cpu_s=cpu["jvm"],
        python_cpu_s=cpu["python"],
        cores=cores,
        cpu_saturation=total_cpu / (window * cores),
        peak_python_rss_bytes=int(workers.rss_bytes.max()) if len(workers) else 0,
        peak_python_rss_total_bytes=total_rss,
        python_workers=int(workers.pid.nunique()),
        peak_jvm_heap_bytes=jvm.heap,
        peak_jvm_offheap_bytes=max(arrow_peak, jvm.arrow),
        peak_jvm_direct_bytes=jvm.direct,
        gc_s=gc1 - gc0,
        jvm_samples=jvm.samples,
    )


# ---- a sweep ------------------------------------------------------------------------------------


def warm(spark, work: Workload, batch_size: int = 10_000) -> float:
    """One untimed run (workers start, import, load the model; the JVM JIT-compiles). Seconds."""
    set_batch_size(spark, batch_size)
    return time_noop(work.build())


def sweep(
    spark,
    work: Workload,
    batch_sizes: Iterable[int],
    warm_up: bool = True,
    interval: float = 0.1,
    repeats: int = 1,
    progress: Progress | Sink | None = None,
) -> pd.DataFrame:
    """`repeats` x `measure_point` per batch size, in ascending order (so allocator carry-over in
    reused workers can only come from smaller batches); sizes above one task's rows are run once,
    at that size (`task_batch_sizes`). Tidy DataFrame, one row per run. `progress` reports the
    warm-up and each point (`helpers.core.progress`)."""
    sizes = task_batch_sizes(work, batch_sizes)
    require_positive("repeats", repeats)
    p = as_progress(progress)
    points = []
    with p.task("sweep", len(sizes) * repeats + int(warm_up)):
        if warm_up:
            p.step(f"{work.label}: warm-up")
            warm(spark, work, min(10_000, sizes[-1]))
        for b in sizes:
            for _ in range(repeats):
                p.step(f"{work.label}: batch {b:,}")
                points.append(measure_point(spark, work, b, interval))
    return points_frame(points)


def task_batch_sizes(work: Workload, batch_sizes: Iterable[int]) -> list[int]:
    """The distinct batch sizes a sweep of `work` can run, ascending: a batch never holds more
    than one task's rows (Arrow cuts batches inside a partition), so a size above
    ceil(rows / partitions) becomes that size."""
    sizes = {require_positive("batch size", as_int(b)) for b in batch_sizes}
    if not sizes:
        raise LabError("no batch sizes to sweep: pass e.g. [100, 1000, 10000].")
    per_task = -(-work.rows // max(work.partitions, 1))
    return sorted({min(b, per_task) for b in sizes})


def points_frame(points: list[SweepPoint]) -> pd.DataFrame:
    """SweepPoints -> tidy DataFrame (one row per point, columns = SweepPoint fields)."""
    cols = list(SweepPoint.__dataclass_fields__)
    return pd.DataFrame([p.record() for p in points], columns=cols)


def require_sweepable(name: str) -> str:
    """`name` must be a known scenario whose batches maxRecordsPerBatch controls."""
    get_scenario(name)
    if name not in SWEEPABLE:
        raise LabError(
            f"scenario {name!r} does not use Arrow batches (maxRecordsPerBatch has no effect): "
            f"use one of {', '.join(SWEEPABLE)}."
        )
    return name


def scenario_sweep(
    spark,
    name: str,
    batch_sizes: Iterable[int],
    rows: int | None = None,
    df=None,
    interval: float = 0.1,
    progress: Progress | Sink | None = None,
) -> pd.DataFrame:
    """Sweep scenario `name` over `rows` cached input rows (or over `df`)."""
    work = scenario_workload(spark, name, rows, df)
    return sweep(spark, work, batch_sizes, interval=interval, progress=progress)


def sweep_grid(scale_name: str | None = None) -> list[int]:
    """The batch sizes a notebook sweeps at this LAB_SCALE: ci 30..10k (one per decade),
    workshop 100..100k (two per decade; keeps notebook 04 to a few minutes on 2 cores),
    full 10..1M (two per decade)."""

    name = scale_name or scale()
    if name == "ci":
        return log_grid(30, 10_000, 1)
    if name == "workshop":
        return log_grid(100, 100_000, 2)
    return log_grid(10, 1_000_000, 2)


def sweep_rows(scale_name: str | None = None) -> int:
    """Input rows for notebook 04's sweeps: ci 20k, workshop 100k (every point is one job, the sweep
    runs ~35 of them), full 1M."""

    return {"ci": 20_000, "workshop": 100_000, "full": 1_000_000}[scale_name or scale()]


# ---- a wide row --------------------------------------------------------------------------------

_WIDE: dict = {}


def wide_frame(spark, rows: int, extra_doubles: int = 240):
    """The cached input (`id`, `f0..f15`) plus `extra_doubles` payload columns `w0..` (doubles
    derived from the features), cached: a row of (17 + extra_doubles) x 8 bytes. The model still
    reads f0..f15; mapInPandas/mapInArrow ship the whole row to the worker, so batches get wider."""
    require_positive("extra doubles", extra_doubles)
    key = (session_key(spark), rows, extra_doubles)
    df = _WIDE.get(key)
    if df is None:
        from pyspark.sql import functions as F

        base = input_frame(spark, rows)
        extra = [
            (F.col(f"f{j % 16}") * (1.0 + j / 1000.0)).alias(f"w{j}") for j in range(extra_doubles)
        ]
        df = base.select("*", *extra).cache()
        df.count()
        for old_key, old in _WIDE.items():
            if old_key[0] == key[0]:  # a stopped session's cache is gone with its JVM
                old.unpersist()
        _WIDE.clear()
        _WIDE[key] = df
    return df


def conf_defined(spark, key: str) -> bool:
    """True when `key` is a SQL conf this Spark version defines (RuntimeConfig.isModifiable is
    true only for defined, non-static SQL confs; Spark accepts and ignores unknown keys in
    `spark.conf.set`, so setting a conf proves nothing)."""
    return bool(spark.conf.isModifiable(key))


def arrow_confs(spark) -> pd.DataFrame:
    """The public SQL confs whose key contains 'arrow' in this Spark: key, this session's value
    (`getAllDefinedConfs` gives the value set here, else the default) and since."""
    confs = spark._jsparkSession.sessionState().conf().getAllDefinedConfs()
    rows = []
    it = confs.iterator()
    while it.hasNext():
        t = it.next()
        if "arrow" in t._1():
            rows.append({"key": t._1(), "value_here": t._2(), "since": t._4()})
    return pd.DataFrame(rows, columns=["key", "value_here", "since"]).sort_values(
        "key", ignore_index=True
    )


# ---- the batch knobs this Spark defines ---------------------------------------------------------


@dataclass
class BatchKnobs:
    """What this Spark says about its batch confs: its version, its public Arrow confs (key,
    this session's value, since), which of `RECORDS_KEY`/`BYTES_KEY` it defines, and what
    `spark.conf.get` returned after `spark.conf.set(BYTES_KEY, "1")` (None if refused)."""

    version: str
    confs: pd.DataFrame
    defined: dict = field(default_factory=dict)
    accepted: str | None = None


def batch_knobs(spark) -> BatchKnobs:
    """Ask Spark's conf registry about the batch knobs, then set `BYTES_KEY` to "1", read it back
    and unset it again (Spark accepts unknown keys silently; defined ones it validates)."""
    defined = {k: conf_defined(spark, k) for k in (RECORDS_KEY, BYTES_KEY)}
    try:
        spark.conf.set(BYTES_KEY, "1")
        accepted = spark.conf.get(BYTES_KEY)
    except Exception:  # a Spark that defines the conf may refuse a value
        accepted = None
    finally:
        spark.conf.unset(BYTES_KEY)
    return BatchKnobs(spark.version, arrow_confs(spark), defined, accepted)


KNOB_FINDINGS = {
    "byte_cap": (
        "Spark {version} {defines} `maxBytesPerBatch` (set to \"1\", it read back {accepted!r}): "
        "a batch is capped by {caps}."
    ),
}


def knob_findings(knobs: BatchKnobs) -> list[Finding]:
    """Whether this Spark defines a byte cap next to the row count, with what `spark.conf.set`
    of it read back (Spark accepts an unknown key silently and ignores it)."""
    if knobs.defined.get(BYTES_KEY):
        defines, caps = "defines", "its rows or its bytes, whichever comes first"
    else:
        defines, caps = "does not define, so ignores,", "rows only: bytes = rows × row width"
    return [
        finding(
            KNOB_FINDINGS, "byte_cap", version=knobs.version, defines=defines,
            accepted=knobs.accepted, caps=caps,
        )
    ]  # fmt: skip


# ---- several scenarios, the tables a notebook shows ---------------------------------------------

_VIEW_BYTES = [
    "peak_python_rss_bytes",
    "peak_jvm_heap_bytes",
    "peak_jvm_offheap_bytes",
    "peak_jvm_direct_bytes",
]
LIVE_COLUMNS = [
    "batch_size",
    "throughput",
    "cpu_saturation",
    "peak_python_rss_bytes",
    "peak_jvm_offheap_bytes",
    "gc_s",
]


def scenario_sweeps(
    spark,
    names: Iterable[str | Workload],
    batch_sizes: Iterable[int],
    rows: int | None = None,
    df=None,
    suffix: str = "",
    progress: Progress | Sink | None = None,
    repeats: int = 1,
) -> pd.DataFrame:
    """A sweep of each item of `names`, one table: a kit scenario name (over `rows` cached rows or
    `df`) or your own `Workload` (`frame_workload(df, map_transform(fn, schema))`). Labels get
    `suffix` appended; `repeats` runs per point give the spread (`spread_table`). `progress`
    counts every warm-up and point as one task."""
    sizes = list(batch_sizes)
    require_positive("repeats", repeats)
    works = [n if isinstance(n, Workload) else scenario_workload(spark, n, rows, df) for n in names]
    total = sum(len(task_batch_sizes(w, sizes)) * repeats + 1 for w in works)
    p = as_progress(progress)
    with p.task(f"sweep{suffix}", total):
        tables = []
        for work in works:
            t = sweep(spark, work, sizes, repeats=repeats, progress=p)
            tables.append(t.assign(label=f"{work.label}{suffix}"))
    return pd.concat(tables, ignore_index=True)


def spread_table(points: pd.DataFrame, col: str = "throughput") -> pd.DataFrame:
    """Per label and batch size: the median of `col` over repeated runs, its min and max, and the
    number of runs (columns label, batch_size, median, min, max, runs)."""
    g = points.groupby(["label", "batch_size"], sort=False)[col]
    out = g.agg(["median", "min", "max", "count"]).rename(columns={"count": "runs"})
    return out.reset_index().sort_values(["label", "batch_size"], kind="stable")


def sweep_view(points: pd.DataFrame) -> pd.DataFrame:
    """The columns a reader compares, memory peaks in MiB (`*_MiB`), rounded to 2 decimals."""
    view = points[["label", "batch_size", "throughput", "cpu_saturation", *_VIEW_BYTES, "gc_s"]]
    view = view.copy()
    view[_VIEW_BYTES] = view[_VIEW_BYTES] / MiB
    return view.round(2).rename(columns={c: c.replace("_bytes", "_MiB") for c in _VIEW_BYTES})


def point_table(
    spark, work: Workload, batch_size: int, reference: pd.DataFrame | None = None
) -> pd.DataFrame:
    """`measure_point` at `batch_size` as a row of `LIVE_COLUMNS` (rows/s, bytes, s) named "now";
    with `reference` (a sweep of the same label) its runs at that batch size follow: the median
    row and the throughput range (`throughput_min`, `throughput_max`) of the sweep."""
    now = pd.DataFrame([measure_point(spark, work, batch_size).record()])[LIVE_COLUMNS]
    now.insert(0, "run", "now")
    if reference is None:
        return now
    ref = reference[(reference["label"] == work.label) & (reference["batch_size"] == batch_size)]
    if ref.empty:
        return now
    sweep_row = ref[LIVE_COLUMNS].median().to_frame().T
    sweep_row.insert(0, "run", f"sweep, median of {len(ref)}")
    out = pd.concat([now, sweep_row], ignore_index=True)
    out["throughput_min"] = [now["throughput"].iloc[0], ref["throughput"].min()]
    out["throughput_max"] = [now["throughput"].iloc[0], ref["throughput"].max()]
    return out


POINT_FINDINGS = {
    "compare": "Now {now:,.0f} rows/s at {batch:,} rows per batch, {gap:+.0%} from the sweep's "
    "median, {where} its range ({lo:,.0f}..{hi:,.0f} over {runs} runs): {verdict}.",
    "no_reference": "Now {now:,.0f} rows/s at {batch:,} rows per batch; the sweep has no run of "
    "this label at this size to compare with.",
}


def point_findings(table: pd.DataFrame) -> list[Finding]:
    """One sentence on a `point_table`: this run's rows/s inside, above or below the sweep's
    min..max at the same batch size (`compare`: inside, the same answer; outside, the machine's
    load changed), or `no_reference`."""
    now = table.iloc[0]
    values = {"now": float(now["throughput"]), "batch": int(now["batch_size"])}
    if len(table) < 2:
        return [finding(POINT_FINDINGS, "no_reference", **values)]
    ref = table.iloc[1]
    lo, hi = float(ref["throughput_min"]), float(ref["throughput_max"])
    runs = int(str(ref["run"]).rsplit(" ", 1)[-1])
    where = "inside" if lo <= values["now"] <= hi else "above" if values["now"] > hi else "below"
    verdict = (
        "the same measurement, the same answer"
        if where == "inside"
        else "the machine's load changed between them; rerun before reading the gap"
    )
    gap = values["now"] / float(ref["throughput"]) - 1
    return [
        finding(
            POINT_FINDINGS, "compare", lo=lo, hi=hi, runs=runs, where=where, gap=gap,
            verdict=verdict, **values,
        )
    ]  # fmt: skip


def map_transform(fn, schema: str, api: str = "mapInPandas") -> Callable[[object], object]:
    """A `frame_workload` transform: DataFrame -> `df.mapInPandas(fn, schema)` (or mapInArrow)."""
    if api not in ("mapInPandas", "mapInArrow"):
        raise LabError(f"api must be 'mapInPandas' or 'mapInArrow', got {api!r}.")

    def transform(df):
        return getattr(df, api)(fn, schema)

    return transform


# ---- what a sweep found -------------------------------------------------------------------------

SWEEP_FINDINGS = {
    "scenario": (
        "**{label}**: best {best_throughput:,.0f} rows/s at {best_batch:,} rows per batch, "
        "{shape}; {small_share:.0%} of it at {small:,} rows."
    ),
    "small_batches": (
        "Batches of {lo:,} to {hi:,} rows give Arrow off-heap peaks at most {spread:.1f}× apart, "
        "{fit} what Arrow Java's initial vectors ({initial:,} values) explain."
    ),
}
FLAT_SPREAD = 2.0  # an Arrow peak within 2x across the small batches counts as flat
FLAT_BAND = 0.05  # the narrowest band around the best throughput that counts as "as fast"
SATURATION_NOISE = 0.05  # the narrowest saturation difference read as a difference

SATURATION_FINDINGS = {
    "saturation": (
        "**{label}**: saturation {small_saturation:.0%} at {small:,} rows per batch, "
        "{best_saturation:.0%} at the fastest ({best:,}): {verdict} (noise ±{band:.0%}); CPU per "
        "row {small_us:.1f} vs {best_us:.1f} µs."
    ),
}


def _by_batch(points: pd.DataFrame) -> pd.DataFrame:
    """One row per batch size: medians of repeated runs, but the largest memory peak."""
    table = points.groupby("batch_size").median(numeric_only=True)
    peaks = [c for c in points.columns if c.startswith("peak_")]
    table[peaks] = points.groupby("batch_size")[peaks].max()
    return table.sort_index()


def _labels(points: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(points["label"]))


def _band(points: pd.DataFrame, batches: list[int], col: str, floor: float) -> float:
    """The noise of `col` at `batches`: the largest (max - min) over repeated runs, relative to
    the median for throughput, absolute for saturation; at least `floor`."""
    widest = floor
    for b in batches:
        v = points.loc[points["batch_size"] == b, col]
        spread = float(v.max() - v.min())
        if col == "throughput":
            spread /= float(v.median())
        widest = max(widest, spread)
    return widest


def sweep_findings(points: pd.DataFrame) -> list[Finding]:
    """Per label, one sentence: the best median throughput (rows/s, with the range of its runs in
    the values `best_lo`, `best_hi` and on the chart) and its batch; then, with a band of
    `FLAT_BAND` or the runs' spread at the best if wider, its shape: every larger batch stays in
    the band (`trend` "flat", from the smallest batch that does, with the Arrow off-heap peak
    there and at its maximum, MiB), leaves it ("falls", to its slowest larger batch) or the best
    is the largest batch ("rising"); the smallest batch's share of the best."""
    out = []
    for label in _labels(points):
        raw = points[points["label"] == label]
        p = _by_batch(raw)
        best, small = int(p.throughput.idxmax()), int(p.index.min())
        top = float(p.throughput.max())
        runs = raw.loc[raw["batch_size"] == best, "throughput"]
        band = _band(raw, [best], "throughput", FLAT_BAND)
        inside = p.throughput >= (1 - band) * top
        values = {
            "label": label,
            "best_throughput": top,
            "best_batch": best,
            "best_lo": float(runs.min()),
            "best_hi": float(runs.max()),
            "small": small,
            "small_share": p.throughput[small] / top,
            "band": band,
        }
        above = p[p.index > best]
        if above.empty:
            values.update(trend="rising", shape="the largest measured: still rising")
        elif inside[p.index >= best].all():
            # the plateau starts at the smallest batch from which every larger one is inside
            start = best
            for b in sorted(p.index[p.index < best], reverse=True):
                if not inside[b]:
                    break
                start = b
            values.update(
                trend="flat",
                shape=f"within {band:.0%} of it from {int(start):,} rows up",
                flat_from=int(start),
                flat_offheap_mib=p.peak_jvm_offheap_bytes[start] / MiB,
                max_offheap_mib=p.peak_jvm_offheap_bytes.max() / MiB,
            )
        else:
            tail = int(above.throughput.idxmin())
            share = p.throughput[tail] / top
            values.update(
                trend="falls",
                shape=f"falling to {share:.0%} of it at {tail:,}",
                tail=tail,
                tail_share=share,
            )
        out.append(finding(SWEEP_FINDINGS, "scenario", **values))
    return out


def arrow_peak_findings(points: pd.DataFrame) -> list[Finding]:
    """When several batch sizes up to `ARROW_INITIAL_VALUES` rows were measured, how much the
    Arrow off-heap peak varies among them (max/min per label, the largest): within `FLAT_SPREAD`
    is what Arrow Java's initial vectors explain, more is not; nothing with fewer than two such
    sizes."""
    out = []
    small = points[points["batch_size"] <= ARROW_INITIAL_VALUES]
    if small["batch_size"].nunique() > 1:
        peak = small.groupby("label")["peak_jvm_offheap_bytes"]
        spread = float((peak.max() / peak.min()).max())
        out.append(
            finding(
                SWEEP_FINDINGS,
                "small_batches",
                lo=int(small["batch_size"].min()),
                hi=int(small["batch_size"].max()),
                spread=spread,
                fit="within" if spread <= FLAT_SPREAD else "more than",
                initial=ARROW_INITIAL_VALUES,
            )
        )
    return out


def saturation_findings(points: pd.DataFrame) -> list[Finding]:
    """Per label: CPU saturation (fraction of all cores) at the smallest batch against the fastest
    one, compared with a noise band (`SATURATION_NOISE` or the runs' spread at those two points if
    wider): the small batch kept the cores busier, less busy, or the same within the noise (or it
    is the fastest itself). With CPU µs per row (JVM + Python workers) at both."""
    out = []
    for label in _labels(points):
        raw = points[points["label"] == label]
        p = _by_batch(raw)
        small, best = int(p.index.min()), int(p.throughput.idxmax())

        def us(b, p=p):
            return (p.loc[b, "jvm_cpu_s"] + p.loc[b, "python_cpu_s"]) / p.loc[b, "rows"] * 1e6

        band = _band(raw, sorted({small, best}), "cpu_saturation", SATURATION_NOISE)
        diff = p.cpu_saturation[small] - p.cpu_saturation[best]
        if small == best:
            verdict = "the smallest batch is the fastest"
        elif diff > band:
            verdict = "the small batch kept the cores busier"
        elif diff < -band:
            verdict = "the small batch kept the cores less busy"
        else:
            verdict = "the same within the noise"
        out.append(
            finding(
                SATURATION_FINDINGS,
                "saturation",
                label=label,
                small=small,
                small_saturation=float(p.cpu_saturation[small]),
                small_us=us(small),
                best=best,
                best_saturation=float(p.cpu_saturation[best]),
                best_us=us(best),
                band=band,
                share=p.throughput[small] / p.throughput[best],
                verdict=verdict,
            )
        )
    return out

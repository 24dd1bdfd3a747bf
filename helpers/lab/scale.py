"""The scale model of a production inference job: read Parquet, predict, write the predictions as
Parquet. Measured here at a few sizes, fitted, checked on a run 10x larger, then used to size a job
of billions of rows on a cluster shape the user names.

Cost model (seconds of wall time). The job's `partitions` tasks run on `slots` task slots
(executors x cores) in `waves = ceil(partitions / slots)` waves; the slowest slot runs `waves`
tasks of `rows / partitions` rows each, cut into `ceil(task_rows / batch_size)` Arrow batches:

    wall = fixed + waves * (per_task + per_batch * batches_per_task + per_row * task_rows)

The four coefficients (seconds per job, per task, per batch, per row on one core) are fitted by
non-negative least squares to the wall times (`fit_cost`): the fastest of the repeats of each
grid point (interference from the rest of the machine only adds time), errors in seconds (so the
larger runs, whose time is mostly rows, weigh most: the model exists to extrapolate). Beside it,
the CPU a row costs in the JVM and in the Python workers (psutil over the job's processes, the
slope of CPU against rows), where the processes are on this machine.

Memory: the peak RSS of one Python worker against the bytes of one Arrow batch,
`rss = base + per_batch_byte * batch_bytes` (`fit_memory`), sampled with psutil over the
processes of this machine (the driver JVM's tree in local mode, the workers' trees on the local
standalone cluster).

Measuring (`measure_grid`, `measure_run`) needs a session; fitting, predicting and sizing are pure.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from helpers.core.config import LabError, atomic_write_bytes, scale
from helpers.core.findings import Finding, finding
from helpers.core.processes import process_command, processes_under
from helpers.core.session import conf_scope, jvm_pid
from helpers.core.ship import kit_hints
from helpers.core.validate import parse_mem, require_positive
from helpers.measure.timing import BATCH_CONF, cpu_spent, tree_cpu_snapshot
from helpers.model.data import N_FEATURES, ensure_features
from helpers.paths.scenarios import get_scenario, scenario_frame

COEFFICIENTS = ("fixed_s", "per_task_s", "per_batch_s", "per_row_s")
ROW_BYTES = 8 * (N_FEATURES + 1)  # id + 16 doubles, as Arrow sends them
SPLIT_BYTES = 128 * 2**20  # spark.sql.files.maxPartitionBytes: input bytes per task
BATCH_CANDIDATES = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000)
BATCH_OVERHEAD_SHARE = 0.02  # per-batch cost allowed, as a share of a batch's per-row work
HEADROOM = 1.5  # memory settings: measured peak x this
INPUT_ROW_GROUPS = 64  # row groups per job input file: Spark splits a file only between them
# The fitted sizes per LAB_SCALE; the check run is 10x the largest. Grid: 2 batch sizes x 2 tasks.
SCALE_SIZES = {
    "ci": (20_000, 40_000, 80_000),  # CI proves the notebook runs; workshop and full measure
    "workshop": (100_000, 200_000, 400_000),
    "full": (250_000, 500_000, 1_000_000),
}
GRID_BATCH_SIZES = (1_000, 10_000)
GRID_REPEATS = 2  # timed runs per grid point and per check; the fastest one counts
GRID_PARTITIONS = (2, 4)


def study_sizes() -> tuple[list[int], int]:
    """The fitted sizes of the current LAB_SCALE and the check size (10x the largest)."""
    sizes = list(SCALE_SIZES[scale()])
    return sizes, 10 * sizes[-1]


# ---- the model (pure) ------------------------------------------------------------------------


def design(rows, partitions, batch_size, slots) -> np.ndarray:
    """The cost model's design matrix: one line per run, columns (1, waves, batches, rows) on the
    slowest slot. Arguments are scalars or equal-length arrays."""
    rows, partitions, batch_size, slots = (
        np.asarray(v, dtype=float) for v in (rows, partitions, batch_size, slots)
    )
    if (
        np.any(rows <= 0)
        or np.any(partitions <= 0)
        or np.any(batch_size <= 0)
        or np.any(slots <= 0)
    ):
        raise LabError("rows, partitions, batch size and slots must all be positive.")
    waves = np.ceil(partitions / slots)
    task_rows = rows / partitions
    batches = np.ceil(task_rows / batch_size)
    return np.column_stack(
        np.broadcast_arrays(np.ones_like(waves), waves, waves * batches, waves * task_rows)
    )


@dataclass(frozen=True)
class CostFit:
    """Fitted coefficients (seconds) and the fit's relative residuals."""

    fixed_s: float
    per_task_s: float
    per_batch_s: float
    per_row_s: float
    rel_residuals: tuple[float, ...] = ()
    runs: int = 0
    cpu_row_jvm_s: float | None = None  # measured CPU per row in the JVM(s)
    cpu_row_python_s: float | None = None  # measured CPU per row in the Python workers

    @property
    def coefficients(self) -> np.ndarray:
        return np.array([getattr(self, c) for c in COEFFICIENTS])

    @property
    def rms_rel_error(self) -> float:
        """Root mean square of the relative residuals of the fitted runs."""
        r = np.asarray(self.rel_residuals)
        return float(np.sqrt(np.mean(r**2))) if len(r) else float("nan")

    def predict(self, rows, partitions, batch_size, slots) -> np.ndarray:
        """Predicted wall seconds (array, one per run described)."""
        return design(rows, partitions, batch_size, slots) @ self.coefficients

    def record(self) -> dict:
        return {
            **{c: getattr(self, c) for c in COEFFICIENTS},
            "rms_rel_error": self.rms_rel_error,
            "runs": self.runs,
            "cpu_row_jvm_s": self.cpu_row_jvm_s,
            "cpu_row_python_s": self.cpu_row_python_s,
        }


def cost_components(fit: CostFit, rows, partitions, batch_size, slots) -> dict[str, float]:
    """The predicted wall time of one run split into the model's four parts (seconds)."""
    x = design(rows, partitions, batch_size, slots)[0]
    names = ("fixed", "tasks", "batches", "rows")
    return {n: float(v) for n, v in zip(names, x * fit.coefficients)}


CPU_COLUMNS = ("jvm_cpu_s", "python_cpu_s")


def cpu_per_row(points: pd.DataFrame, column: str) -> float:
    """Core-seconds per row of one CPU column: the non-negative slope of CPU against rows, next
    to a per-job, a per-task and a per-batch term (NNLS over all runs)."""
    from scipy.optimize import nnls

    tasks = points.partitions.to_numpy(dtype=float)
    batches = tasks * np.ceil(points.rows / tasks / points.batch_size)
    X = np.column_stack([np.ones(len(points)), tasks, batches, points.rows.to_numpy(dtype=float)])
    coef, _ = nnls(X, points[column].to_numpy(dtype=float))
    return float(coef[3])


def has_cpu(points: pd.DataFrame) -> bool:
    """True when every run has its CPU measured (local mode or the local cluster)."""
    return set(CPU_COLUMNS).issubset(points.columns) and bool(
        points[list(CPU_COLUMNS)].notna().all().all()
    )


GRID_KEYS = ["rows", "partitions", "batch_size", "slots"]


def fastest_runs(points: pd.DataFrame) -> pd.DataFrame:
    """One run per grid point: the fastest of its repeats."""
    return points.loc[points.groupby(GRID_KEYS).wall_s.idxmin()].reset_index(drop=True)


def fit_cost(points: pd.DataFrame) -> CostFit:
    """Fit the four non-negative coefficients to measured runs (columns rows, partitions,
    batch_size, slots, wall_s; repeats of a grid point: the fastest one), minimising squared
    errors in seconds (scipy's NNLS). With jvm_cpu_s and python_cpu_s, also the CPU per row of
    each (`cpu_per_row`). Residuals are relative."""
    from scipy.optimize import nnls

    need = set(GRID_KEYS) | {"wall_s"}
    if not need.issubset(points.columns):
        raise LabError(f"Runs need the columns {sorted(need)}; got {list(points.columns)}.")
    if np.any(points.wall_s.to_numpy(dtype=float) <= 0):
        raise LabError("Every run needs a positive wall time.")
    runs = fastest_runs(points)
    if len(runs) < len(COEFFICIENTS):
        raise LabError(f"Fitting 4 coefficients needs at least 4 grid points, got {len(runs)}.")
    X = design(runs.rows, runs.partitions, runs.batch_size, runs.slots)
    y = runs.wall_s.to_numpy(dtype=float)
    coef, _ = nnls(X, y)
    rel = (X @ coef - y) / y
    cpu = {}
    if has_cpu(points):
        cpu = {f"cpu_row_{c.split('_')[0]}_s": cpu_per_row(points, c) for c in CPU_COLUMNS}
    return CostFit(*map(float, coef), rel_residuals=tuple(map(float, rel)), runs=len(y), **cpu)


@dataclass(frozen=True)
class MemoryFit:
    """Peak RSS of one Python worker (bytes) = base_bytes + per_batch_byte * batch bytes."""

    base_bytes: float
    per_batch_byte: float
    runs: int = 0

    def worker_bytes(self, batch_size: int) -> float:
        return self.base_bytes + self.per_batch_byte * batch_size * ROW_BYTES


def fit_memory(points: pd.DataFrame) -> MemoryFit | None:
    """Fit worker peak RSS against batch bytes (non-negative); None without two batch sizes."""
    from scipy.optimize import nnls

    if "peak_worker_rss" not in points.columns:
        return None
    p = points.dropna(subset=["peak_worker_rss"])
    p = p[p.peak_worker_rss > 0]
    if p.batch_size.nunique() < 2:
        return None
    X = np.column_stack([np.ones(len(p)), p.batch_size.to_numpy(float) * ROW_BYTES])
    coef, _ = nnls(X, p.peak_worker_rss.to_numpy(float))
    return MemoryFit(float(coef[0]), float(coef[1]), len(p))


def relative_error(predicted: float, measured: float) -> float:
    """(predicted - measured) / measured."""
    if not measured > 0:
        raise LabError(f"A measured wall time must be positive, got {measured!r}.")
    return (predicted - measured) / measured


# ---- sizing a big job (pure) -------------------------------------------------------------------


@dataclass(frozen=True)
class Sizing:
    """What the fitted model says about one job on one cluster shape."""

    rows: int
    executors: int
    cores: int
    executor_memory: str
    batch_size: int
    partitions: int
    wall_s: float
    wall_low_s: float
    wall_high_s: float
    uncertainty: float
    core_hours: float
    worker_bytes: float | None
    pyspark_memory_mib: int | None
    overhead_mib: int
    conf: dict = field(default_factory=dict)

    def record(self) -> dict:
        return asdict(self)


def recommend_batch(
    fit: CostFit, memory: MemoryFit | None = None, worker_budget: float | None = None
) -> int:
    """The smallest candidate batch size whose per-batch cost stays under 2% of its per-row work
    and, when a memory fit and a per-worker budget (bytes) are given, whose worker fits it."""
    ok = [
        b for b in BATCH_CANDIDATES if fit.per_batch_s <= BATCH_OVERHEAD_SHARE * b * fit.per_row_s
    ]
    if memory is not None and worker_budget:
        ok = [b for b in ok if memory.worker_bytes(b) * HEADROOM <= worker_budget] or [
            BATCH_CANDIDATES[0]
        ]
    return ok[0] if ok else BATCH_CANDIDATES[-1]


def size_job(
    fit: CostFit,
    rows: int,
    executors: int,
    cores: int,
    memory: str,
    batch_size: int | None = None,
    memory_fit: MemoryFit | None = None,
    uncertainty: float | None = None,
) -> Sizing:
    """Predict wall time and core-hours of `rows` rows on `executors` x `cores` (executor heap
    `memory`, e.g. '8g'); recommend the batch size and the memory settings. Input splits of 128 MiB
    set the task count (rounded up to whole waves). `uncertainty` (a relative error, e.g. the
    validation error) widens the wall time into a range; default: the fit's RMS residual."""
    for name, v in (("rows", rows), ("executors", executors), ("cores", cores)):
        require_positive(name, v)
    heap = parse_mem(memory)
    slots = executors * cores
    budget = None  # a worker's share of what an executor may use beside its heap (10%, >= 384m)
    overhead = max(384 * 2**20, heap // 10)
    if memory_fit is not None:
        budget = max(overhead, heap // 4) / cores
    b = batch_size or recommend_batch(fit, memory_fit, budget)
    require_positive("batch size", b)
    partitions = max(slots, math.ceil(rows * ROW_BYTES / SPLIT_BYTES))
    partitions = math.ceil(partitions / slots) * slots
    wall = float(fit.predict(rows, partitions, b, slots)[0])
    u = abs(uncertainty) if uncertainty is not None else fit.rms_rel_error
    worker = memory_fit.worker_bytes(b) if memory_fit is not None else None
    pyspark_mib = math.ceil(worker * HEADROOM * cores / 2**20) if worker is not None else None
    arrow = 2 * b * ROW_BYTES * cores  # one batch in, one out, per running task (off-heap)
    overhead_mib = math.ceil((overhead + arrow) / 2**20)
    conf = {
        "spark.executor.instances": str(executors),
        "spark.executor.cores": str(cores),
        "spark.executor.memory": memory,
        "spark.executor.memoryOverhead": f"{overhead_mib}m",
        BATCH_CONF: str(b),
    }
    if pyspark_mib is not None:
        conf["spark.executor.pyspark.memory"] = f"{pyspark_mib}m"
    return Sizing(
        rows,
        executors,
        cores,
        memory,
        b,
        partitions,
        wall,
        wall * max(0.0, 1 - u),
        wall * (1 + u),
        u,
        wall * slots / 3600,
        worker,
        pyspark_mib,
        overhead_mib,
        conf,
    )


def conf_block(sizing: Sizing, spark_version: str | None = None) -> str:
    """The sizing's settings as `--conf key=value` lines for spark-submit. On Spark 4.x (asked
    from `spark_version`) a byte cap per Arrow batch, maxBytesPerBatch, is added too."""
    conf = dict(sizing.conf)
    if spark_version and int(spark_version.split(".")[0]) >= 4:
        conf["spark.sql.execution.arrow.maxBytesPerBatch"] = str(
            2 ** math.ceil(math.log2(sizing.batch_size * ROW_BYTES))
        )
    return " \\\n".join(f"  --conf {k}={v}" for k, v in conf.items())


# ---- measuring (needs a session) --------------------------------------------------------------


class PeakWorkerRss:
    """Samples, every `interval` s, the processes under `roots` (PIDs) and keeps the largest RSS
    of one Python worker (`pyspark.daemon` and its forks; bytes)."""

    def __init__(self, roots: list[int], interval: float = 0.05):
        self.roots, self.interval, self.peak = list(roots), interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample_once(self) -> None:
        for p in processes_under(self.roots, include_roots=False):
            cmd = process_command(p)
            if "pyspark" in cmd and "java" not in cmd:
                try:
                    self.peak = max(self.peak, p.memory_info().rss)
                except psutil.Error:
                    pass

    def _run(self):
        while not self._stop.is_set():
            self.sample_once()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def process_roots(spark, cluster=None) -> list[int]:
    """PIDs under which this job's Python workers run: the cluster's (a LocalStandalone), else the
    driver JVM's; empty when neither is on this machine (a remote master)."""
    if cluster is not None:
        return [p.pid for p in cluster.procs]
    pid = jvm_pid(spark)
    return [pid] if pid else []


def input_splits(rows: int, partitions: int) -> tuple[Path, dict]:
    """The job's input file for `rows` rows and the file confs that make Spark read it in exactly
    `partitions` tasks with no shuffle: byte ranges of 1/partitions of the file
    (spark.sql.files.maxPartitionBytes; minPartitionNum so small files are not packed into fewer
    splits), each holding about rows/partitions rows because the file has 64 row groups."""
    path = ensure_features(rows, row_group_rows=max(1, -(-rows // INPUT_ROW_GROUPS)))
    split = max(1, -(-path.stat().st_size // partitions))
    return path, {
        "spark.sql.files.maxPartitionBytes": split,
        "spark.sql.files.minPartitionNum": partitions,
    }


def measure_run(
    spark,
    scenario: str,
    rows: int,
    partitions: int,
    batch_size: int,
    out_dir,
    roots: list[int] = (),
    where: str = "",
) -> dict:
    """Run the job once: read `rows` rows of Parquet in `partitions` tasks (`input_splits`: no
    shuffle, so every row costs what it costs in production), predict with `scenario` at
    `batch_size` rows per Arrow batch, write Parquet to `out_dir`.
    Returns the run's record (wall_s and the core-seconds jvm_cpu_s, python_cpu_s of the processes
    under `roots`; peak_worker_rss in bytes; None where there are no roots)."""
    get_scenario(scenario)
    for name, v in (("rows", rows), ("partitions", partitions), ("batch size", batch_size)):
        require_positive(name, v)
    spark.conf.set(BATCH_CONF, str(batch_size))
    path, confs = input_splits(rows, partitions)
    with conf_scope(spark, confs):
        df = spark.read.parquet(str(path))
        tasks = df.rdd.getNumPartitions()
        if tasks != partitions:
            raise LabError(
                f"Spark split the {rows:,}-row input into {tasks} tasks, not {partitions}: "
                "use fewer partitions or more rows."
            )
        frame = scenario_frame(spark, scenario, df=df)
        before = tree_cpu_snapshot(roots)
        with PeakWorkerRss(roots) as mem:
            t0 = time.perf_counter()
            with kit_hints():
                frame.write.mode("overwrite").parquet(str(out_dir))
            wall = time.perf_counter() - t0
        cpu = cpu_spent(before, tree_cpu_snapshot(roots))
    written = spark.read.parquet(str(out_dir)).count()
    if written != rows:
        raise LabError(f"The job wrote {written} predictions for {rows} rows.")
    return {
        "where": where or spark.sparkContext.master,
        "scenario": scenario,
        "rows": rows,
        "partitions": partitions,
        "batch_size": batch_size,
        "slots": spark.sparkContext.defaultParallelism,
        "wall_s": wall,
        "peak_worker_rss": float(mem.peak) if roots else None,
        "jvm_cpu_s": cpu["jvm"] if roots else None,
        "python_cpu_s": cpu["python"] if roots else None,
    }


def require_sizes(sizes: list[int], validate: int | None = None) -> list[int]:
    """At least three distinct positive sizes (sorted); a validation size above all of them."""
    sizes = sorted(set(sizes))
    if len(sizes) < 3 or sizes[0] <= 0:
        raise LabError(f"Fit the model on at least 3 different positive sizes, got {sizes}.")
    if validate is not None and validate <= sizes[-1]:
        raise LabError(
            f"The validation size {validate:,} must be above the largest fitted size "
            f"{sizes[-1]:,} (e.g. 10x it)."
        )
    return sizes


def measure_grid(
    spark,
    scenario: str,
    sizes,
    batch_sizes,
    partitions,
    repeats: int = 1,
    roots: list[int] = (),
    where: str = "",
) -> pd.DataFrame:
    """Every (size, batch size, partition count) once per repeat, after one untimed warm-up run;
    one row per run (`measure_run` records)."""
    require_sizes(list(sizes))
    if len(set(batch_sizes)) < 2 or len(set(partitions)) < 2:
        raise LabError("Fit on at least 2 batch sizes and 2 partition counts.")
    out = []
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        target = Path(tmp) / "predictions"
        measure_run(spark, scenario, min(sizes), min(partitions), max(batch_sizes), target, roots)
        for _ in range(repeats):
            for rows in sizes:
                for b in batch_sizes:
                    for p in partitions:
                        out.append(measure_run(spark, scenario, rows, p, b, target, roots, where))
        shutil.rmtree(target, ignore_errors=True)
    return pd.DataFrame(out)


def measure_one(
    spark, scenario, rows, partitions, batch_size, roots=(), where="", repeats: int = 1
) -> dict:
    """`measure_run` `repeats` times into a temporary folder that is removed afterwards; the
    fastest run's record (with `repeats`), the same estimator as the fitted grid points."""
    require_positive("repeats", repeats)
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        runs = [
            measure_run(
                spark, scenario, rows, partitions, batch_size, Path(tmp) / "out", roots, where
            )
            for _ in range(repeats)
        ]
    return {**min(runs, key=lambda r: r["wall_s"]), "repeats": repeats}


def validation_record(fit: CostFit, run: dict, label: str) -> dict:
    """A measured run next to the model's prediction for it: predicted_s, measured_s, error."""
    pred = float(fit.predict(run["rows"], run["partitions"], run["batch_size"], run["slots"])[0])
    return {
        "check": label,
        "where": run["where"],
        "rows": run["rows"],
        "partitions": run["partitions"],
        "batch_size": run["batch_size"],
        "slots": run["slots"],
        "predicted_s": pred,
        "measured_s": run["wall_s"],
        "repeats": run.get("repeats", 1),
        "error": relative_error(pred, run["wall_s"]),
        "jvm_cpu_s": run.get("jvm_cpu_s"),
        "python_cpu_s": run.get("python_cpu_s"),
    }


@dataclass
class ScaleStudy:
    """Measured runs, the cost and memory fits, and the validation checks of one session."""

    scenario: str
    spark_version: str
    master: str
    points: pd.DataFrame
    fit: CostFit
    memory: MemoryFit | None
    checks: list[dict]

    @property
    def worst_error(self) -> float:
        """The largest absolute relative error of the checks (NaN without checks)."""
        return max((abs(c["error"]) for c in self.checks), default=float("nan"))

    def uncertainty(self) -> float:
        """The relative error to quote with an estimate: the worst check, at least the RMS
        residual of the fit."""
        errs = [self.fit.rms_rel_error] + [abs(c["error"]) for c in self.checks]
        return float(np.nanmax(errs))

    def record(self) -> dict:
        return {
            "scenario": self.scenario,
            "spark_version": self.spark_version,
            "master": self.master,
            "fit": self.fit.record(),
            "memory": asdict(self.memory) if self.memory else None,
            "checks": self.checks,
            "runs": self.points.to_dict("records"),
        }


def scale_study(
    spark,
    scenario: str,
    sizes,
    batch_sizes,
    partitions,
    validate: int | None,
    roots: list[int] = (),
    repeats: int = GRID_REPEATS,
    where: str = "",
) -> ScaleStudy:
    """Measure the grid `repeats` times, fit cost and memory, then (with `validate`) run the job
    at `validate` rows (largest partition count and batch size of the grid; the fastest of
    `repeats` runs) and compare it with the model's prediction."""
    require_sizes(list(sizes), validate)
    points = measure_grid(spark, scenario, sizes, batch_sizes, partitions, repeats, roots, where)
    fit = fit_cost(points)
    checks = []
    if validate is not None:
        run = measure_one(
            spark, scenario, validate, max(partitions), max(batch_sizes), roots, where, repeats
        )
        ratio = validate / max(sizes)
        checks.append(validation_record(fit, run, f"{ratio:.0f}x larger run"))
    return ScaleStudy(
        scenario, spark.version, spark.sparkContext.master, points, fit, fit_memory(points), checks
    )


def check_run(
    spark,
    fit: CostFit,
    scenario: str,
    rows: int,
    partitions: int,
    batch_size: int,
    label: str,
    roots: list[int] = (),
    where: str = "",
    repeats: int = 1,
) -> dict:
    """A warm-up run (worker start, imports, model load), then the job at `rows` rows (the
    fastest of `repeats`), compared with `fit`'s prediction for this session's slots
    (`validation_record`)."""
    measure_one(spark, scenario, min(rows, 20_000), partitions, batch_size, roots, where)
    run = measure_one(spark, scenario, rows, partitions, batch_size, roots, where, repeats)
    return validation_record(fit, run, label)


def write_report(path, payload: dict) -> Path:
    """The scale study as JSON, written atomically."""
    import json

    return atomic_write_bytes(Path(path), json.dumps(payload, indent=1, default=float).encode())


# ---- findings -----------------------------------------------------------------------------------

TEMPLATES = {
    "fit": (
        "Fitted on {runs} grid points (the fastest run of each): a job costs {fixed_ms:.0f} ms "
        "fixed, {task_ms:.1f} ms per task, "
        "{batch_ms:.2f} ms per Arrow batch and {row_us:.2f} µs per row on one core; the fitted "
        "runs differ from the model by {rms:.0%} (RMS)."
    ),
    "fit_cpu": (
        "The CPU the runs burned per row (slope against rows, psutil): {jvm_us:.2f} µs in the JVM "
        "and {py_us:.2f} µs in the Python workers, {cpu_us:.2f} µs in all, beside the fit's "
        "{row_us:.2f} µs of one core's wall time per row."
    ),
    "check_cpu": (
        "The {check} run's processes burned {cpu:.1f} core-s (JVMs {jvm:.1f}, Python {py:.1f}), "
        "{ratio:.2f}x the {base}'s {base_cpu:.1f} core-s for the same rows: on one machine its "
        "executor JVMs, the driver's JVM (not counted) and the cluster's daemons share the same "
        "cores, so more CPU is more wall time here."
    ),
    "validate_ok": (
        "The {check} check: predicted {predicted_s:.2f} s, measured {measured_s:.2f} s "
        "({error:+.0%}), within the 15% target."
    ),
    "validate_bad": (
        "The {check} check: predicted {predicted_s:.2f} s, measured {measured_s:.2f} s "
        "({error:+.0%}), outside the 15% target: read the estimate below with that error in mind."
    ),
    "sizing": (
        "{rows:,} rows on {executors} executors x {cores} cores: about {hours:.2f} h of wall time "
        "({low:.2f}–{high:.2f} h at ±{u:.0%}), {core_hours:.0f} core-hours, maxRecordsPerBatch "
        "{batch:,}."
    ),
    "memory": (
        "A Python worker peaked at {base_mib:.0f} MiB plus {slope:.1f} bytes per batch byte: at "
        "{batch:,} rows per batch, spark.executor.pyspark.memory={pyspark_mib}m for {cores} cores "
        "(Spark gives each worker 1/{cores} of it)."
    ),
    "no_memory": (
        "No worker memory was sampled (remote executors): spark.executor.pyspark.memory is "
        "left to you."
    ),
}


def check_findings(checks: list[dict]) -> list[Finding]:
    """One finding per validation check: predicted, measured, error against the 15% target."""
    out = []
    for c in checks:
        key = "validate_ok" if abs(c["error"]) <= 0.15 else "validate_bad"
        out.append(
            finding(
                TEMPLATES,
                key,
                check=c["check"],
                predicted_s=c["predicted_s"],
                measured_s=c["measured_s"],
                error=c["error"],
            )
        )
    return out


def fit_findings(fit: CostFit) -> list[Finding]:
    """The fitted coefficients and, where measured, the CPU per row beside them."""
    out = [
        finding(
            TEMPLATES,
            "fit",
            runs=fit.runs,
            fixed_ms=fit.fixed_s * 1e3,
            task_ms=fit.per_task_s * 1e3,
            batch_ms=fit.per_batch_s * 1e3,
            row_us=fit.per_row_s * 1e6,
            rms=fit.rms_rel_error,
        )
    ]
    if fit.cpu_row_jvm_s is not None:
        out.append(
            finding(
                TEMPLATES,
                "fit_cpu",
                jvm_us=fit.cpu_row_jvm_s * 1e6,
                py_us=fit.cpu_row_python_s * 1e6,
                cpu_us=(fit.cpu_row_jvm_s + fit.cpu_row_python_s) * 1e6,
                row_us=fit.per_row_s * 1e6,
            )
        )
    return out


def sizing_findings(sizing: Sizing, memory: MemoryFit | None = None) -> list[Finding]:
    """The sized job: wall time with its range, core-hours, batch size, memory settings."""
    out = [
        finding(
            TEMPLATES,
            "sizing",
            rows=sizing.rows,
            executors=sizing.executors,
            cores=sizing.cores,
            hours=sizing.wall_s / 3600,
            low=sizing.wall_low_s / 3600,
            high=sizing.wall_high_s / 3600,
            u=sizing.uncertainty,
            core_hours=sizing.core_hours,
            batch=sizing.batch_size,
        )
    ]
    if memory is not None and sizing.pyspark_memory_mib is not None:
        out.append(
            finding(
                TEMPLATES,
                "memory",
                base_mib=memory.base_bytes / 2**20,
                slope=memory.per_batch_byte,
                batch=sizing.batch_size,
                pyspark_mib=sizing.pyspark_memory_mib,
                cores=sizing.cores,
            )
        )
    else:
        out.append(finding(TEMPLATES, "no_memory"))
    return out


def cpu_comparison(base: dict, other: dict) -> list[Finding]:
    """The CPU of check run `other` against check run `base` (same rows), when both were
    measured; else nothing."""
    keys = ("jvm_cpu_s", "python_cpu_s")
    if any(c.get(k) is None for c in (base, other) for k in keys):
        return []
    cpu, base_cpu = (c["jvm_cpu_s"] + c["python_cpu_s"] for c in (other, base))
    if base_cpu <= 0:
        return []
    return [
        finding(
            TEMPLATES,
            "check_cpu",
            check=other["check"],
            base=base["check"],
            cpu=cpu,
            jvm=other["jvm_cpu_s"],
            py=other["python_cpu_s"],
            ratio=cpu / base_cpu,
            base_cpu=base_cpu,
        )
    ]


def scale_findings(
    fit: CostFit, checks: list[dict], sizing: Sizing | None = None, memory: MemoryFit | None = None
) -> list[Finding]:
    """What the fit, its validation checks and the sizing say, as findings."""
    out = fit_findings(fit) + check_findings(checks)
    return out + sizing_findings(sizing, memory) if sizing is not None else out

"""The scale model of a production inference job: read Parquet, predict, write the predictions as
Parquet. Measured here at a few sizes, fitted, checked on a run 10x larger, then used to size a job
of billions of rows on a cluster shape the user names, or refused when the fit cannot be trusted.

Cost model (seconds of wall time). The job's `partitions` tasks run on `slots` task slots
(executors x cores) in `waves = ceil(partitions / slots)` waves; the slowest slot runs `waves`
tasks of `rows / partitions` rows each, cut into `ceil(task_rows / batch_size)` Arrow batches:

    wall = fixed + waves * (per_task + per_batch * batches_per_task + per_row * task_rows)

The four coefficients are fitted by non-negative least squares (`fit_cost`) to the fastest repeat
of each grid point, errors in seconds. The grid is chosen so that every term shows: a small size
(where the fixed and per-task costs dominate), two large ones (rows dominate), a small batch size
(batches show) and two partition counts (waves show). A term the fit still puts at zero, an RMS
residual above `RMS_LIMIT` or a check run off by more than `CHECK_LIMIT` makes `refusal` say why
and no configuration block is printed.

Memory: `spark.executor.pyspark.memory` becomes an address-space limit (RLIMIT_AS) of each Python
worker, setting / executor cores (pyspark worker.py on 3.5, worker_util.py on 4.x; the division in
BasePythonRunner.getWorkerMemoryMb). So the worker's peak ADDRESS SPACE (psutil `vms`, not RSS) is
what is sampled and fitted against the bytes of one Arrow batch (`fit_memory`).

Measuring (`measure_grid`, `measure_run`, `zone_batch`, `memory_limit_run`) needs Spark; fitting,
predicting and sizing are pure.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from helpers.core.config import LabError, atomic_write_bytes, scale
from helpers.core.findings import Finding, finding
from helpers.core.processes import process_command, processes_under
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.session import conf_scope, jvm_pid, logs_off, on_cluster
from helpers.core.ship import kit_hints
from helpers.core.validate import parse_mem, require_positive
from helpers.inference.scenarios import get_scenario, scenario_frame
from helpers.lab.batch import sweep, zone
from helpers.measure.timing import BATCH_CONF, cpu_spent, tree_cpu_snapshot
from helpers.model.data import N_FEATURES, ensure_features

MiB = 2**20
COEFFICIENTS = ("fixed_s", "per_task_s", "per_batch_s", "per_row_s")
TERMS = {"fixed_s": "fixed", "per_task_s": "per-task", "per_batch_s": "per-batch",
         "per_row_s": "per-row"}  # fmt: skip
ROW_BYTES = 8 * (N_FEATURES + 1)  # id + 16 doubles, as Arrow sends them
# How Spark cuts files into tasks (FilePartition.maxSplitBytes / getFilePartitions)
SPLIT_BYTES = 128 * MiB  # spark.sql.files.maxPartitionBytes (default)
OPEN_COST_BYTES = 4 * MiB  # spark.sql.files.openCostInBytes (default), added per file
INPUT_FILE_BYTES = 2**30  # the big job's Parquet files (1 GiB each unless you say otherwise)
# spark.executor.memoryOverhead = max(384 MiB, factor x heap); the factor per cluster manager
MIN_OVERHEAD = 384 * MiB
OVERHEAD_FACTORS = {"yarn": 0.10, "standalone": 0.10, "kubernetes": 0.40}  # k8s: non-JVM jobs
BATCH_CANDIDATES = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000)
HEADROOM = 1.5  # memory settings: measured peak x this
ZONE_BUDGET_MIB = 24.0  # the zone's JVM off-heap budget: notebook 04's default
LIMIT_TIMEOUT_S = 300.0  # a memory-limit run still going after this is cancelled (its job fails)
ZONE_REPEATS = 2  # runs per sweep point, as notebook 04 (the zone reads their median)
RMS_LIMIT = 0.10  # a fit whose runs differ from it by more (RMS) is not used for sizing
CHECK_LIMIT = 0.15  # a check run off by more than this refuses the sizing
CPU_SAME_BAND = 0.05  # two runs' core-seconds within 5%: the same work
NOISE_LIMIT = 0.10  # repeats of one point further apart than this: the machine was busy
INPUT_ROW_GROUPS = 64  # row groups per job input file: Spark splits a file only between them
# The fitted sizes per LAB_SCALE: one small (fixed and per-task costs show), two where rows
# dominate; the check run is 10x the largest. Grid: 2 batch sizes x 2 partition counts.
SCALE_SIZES = {
    "ci": (5_000, 40_000, 80_000),  # CI proves the notebook runs; workshop and full measure
    "workshop": (25_000, 200_000, 400_000),
    "full": (50_000, 500_000, 1_000_000),
}
GRID_BATCH_SIZES = (200, 10_000)  # 200 rows: enough batches for their cost to show
GRID_REPEATS = 2  # timed runs per grid point and per check; the fastest one counts
GRID_PARTITIONS = (2, 4)


def study_sizes() -> tuple[list[int], int]:
    """The fitted sizes of the current LAB_SCALE and the check size (10x the largest)."""
    sizes = list(SCALE_SIZES[scale()])
    return sizes, 10 * sizes[-1]


def load_average() -> float:
    """The 1-minute load average of this machine (runnable processes), to quote with timings."""
    return os.getloadavg()[0]


def human_time(seconds: float) -> str:
    """Seconds in the unit a person reads: '42 s', '3.5 min', '2.1 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def check_time(seconds: float) -> str:
    """A check's seconds with a decimal below 90 s, so a few percent show: '15.2 s'."""
    return f"{seconds:.1f} s" if seconds < 90 else human_time(seconds)


def direction(error: float) -> str:
    """The words for a signed error (measured - predicted) / predicted."""
    return "slower than predicted" if error > 0 else "faster than predicted"


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
    """Fitted coefficients (seconds), the fit's relative residuals and the repeats' spread."""

    fixed_s: float
    per_task_s: float
    per_batch_s: float
    per_row_s: float
    rel_residuals: tuple[float, ...] = ()
    runs: int = 0
    cpu_row_jvm_s: float | None = None  # measured CPU per row in the JVM(s)
    cpu_row_python_s: float | None = None  # measured CPU per row in the Python workers
    repeat_spread: float | None = None  # median (slowest - fastest) / fastest over grid points

    @property
    def coefficients(self) -> np.ndarray:
        return np.array([getattr(self, c) for c in COEFFICIENTS])

    @property
    def rms_rel_error(self) -> float:
        """Root mean square of the relative residuals of the fitted runs."""
        r = np.asarray(self.rel_residuals)
        return float(np.sqrt(np.mean(r**2))) if len(r) else float("nan")

    @property
    def zero_terms(self) -> list[str]:
        """The terms the fit put at zero (NNLS clips a term the data cannot see to 0)."""
        return [TERMS[c] for c in COEFFICIENTS if not getattr(self, c) > 0]

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
            "repeat_spread": self.repeat_spread,
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


def repeat_spread(points: pd.DataFrame) -> float | None:
    """How far repeats of one grid point lie apart: the median over points of (slowest - fastest)
    / fastest. None without repeats."""
    g = points.groupby(GRID_KEYS).wall_s
    counts = g.count()
    if not (counts > 1).any():
        return None
    spread = (g.max() - g.min()) / g.min()
    return float(spread[counts > 1].median())


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
    return CostFit(
        *map(float, coef),
        rel_residuals=tuple(map(float, rel)),
        runs=len(y),
        repeat_spread=repeat_spread(points),
        **cpu,
    )


def recalibrate(fit: CostFit, points: pd.DataFrame) -> CostFit:
    """`fit` carried to another place on the same cores (a standalone cluster on this machine)
    from a few runs there: the per-task, per-batch and per-row costs stay the local fit's (the
    same work on the same cores, measured on the whole grid), the fixed cost becomes the median
    over the place's sizes of what its fastest run took beyond them (at least 0): scheduling on
    remote executors, fetching the kit's zip, more JVMs. Residuals are relative to those runs."""
    runs = fastest_runs(points)
    if runs.empty:
        raise LabError("Recalibrating needs at least one run at the place.")
    X = design(runs.rows, runs.partitions, runs.batch_size, runs.slots)
    y = runs.wall_s.to_numpy(dtype=float)
    beyond = y - X[:, 1:] @ fit.coefficients[1:]
    new = replace(fit, fixed_s=max(float(np.median(beyond)), 0.0), runs=len(y),
                  repeat_spread=repeat_spread(points))  # fmt: skip
    rel = (new.predict(runs.rows, runs.partitions, runs.batch_size, runs.slots) - y) / y
    return replace(new, rel_residuals=tuple(map(float, rel)))


MEMORY_COLUMN = "peak_worker_vms"  # address space of one Python worker (what RLIMIT_AS limits)


@dataclass(frozen=True)
class MemoryFit:
    """Peak address space of one Python worker (bytes) = base_bytes + per_batch_byte x the bytes
    of one Arrow batch."""

    base_bytes: float
    per_batch_byte: float
    runs: int = 0

    def worker_bytes(self, batch_size: int) -> float:
        return self.base_bytes + self.per_batch_byte * batch_size * ROW_BYTES


def fit_memory(points: pd.DataFrame, column: str = MEMORY_COLUMN) -> MemoryFit | None:
    """Fit a worker's peak `column` (bytes) against batch bytes (non-negative); None without the
    column or two batch sizes."""
    from scipy.optimize import nnls

    if column not in points.columns:
        return None
    p = points.dropna(subset=[column])
    p = p[p[column] > 0]
    if p.batch_size.nunique() < 2:
        return None
    X = np.column_stack([np.ones(len(p)), p.batch_size.to_numpy(float) * ROW_BYTES])
    coef, _ = nnls(X, p[column].to_numpy(float))
    return MemoryFit(float(coef[0]), float(coef[1]), len(p))


def relative_error(predicted: float, measured: float) -> float:
    """(measured - predicted) / predicted: positive = slower than predicted."""
    if not predicted > 0 or not measured > 0:
        raise LabError(f"Wall times must be positive, got {predicted!r} and {measured!r}.")
    return (measured - predicted) / predicted


# ---- tasks from on-disk bytes (pure) -----------------------------------------------------------


def max_split_bytes(
    file_bytes, parallelism: int, max_partition_bytes: int = SPLIT_BYTES,
    open_cost: int = OPEN_COST_BYTES,
) -> int:  # fmt: skip
    """FilePartition.maxSplitBytes: min(maxPartitionBytes, max(openCost, total / parallelism)),
    total = every file's bytes + openCostInBytes; parallelism = minPartitionNum, by default the
    default parallelism (the cluster's task slots)."""
    total = sum(int(b) + open_cost for b in file_bytes)
    return int(min(max_partition_bytes, max(open_cost, total // max(1, parallelism))))


def spark_tasks(
    file_bytes, parallelism: int, max_partition_bytes: int = SPLIT_BYTES,
    open_cost: int = OPEN_COST_BYTES,
) -> int:  # fmt: skip
    """The tasks a file scan gets: each file cut into splits of maxSplitBytes, splits sorted by
    size (largest first) and packed next-fit into partitions that close when the next split would
    pass maxSplitBytes; each split adds openCostInBytes (FilePartition.getFilePartitions)."""
    files = [int(b) for b in file_bytes]
    if not files or min(files) <= 0:
        raise LabError("Count tasks of at least one non-empty file.")
    split = max_split_bytes(files, parallelism, max_partition_bytes, open_cost)
    splits = []
    for b in files:
        whole, rest = divmod(b, split)
        splits += [split] * whole + ([rest] if rest else [])
    splits.sort(reverse=True)
    tasks, current = 0, 0
    for s in splits:
        if current and current + s > split:
            tasks, current = tasks + 1, 0
        current += s + open_cost
    return tasks + (1 if current else 0)


def job_files(total_bytes: float, file_bytes: int = INPUT_FILE_BYTES) -> list[int]:
    """A table of `total_bytes` on disk as files of `file_bytes` (the last one smaller)."""
    require_positive("file size", file_bytes)
    whole, rest = divmod(int(math.ceil(total_bytes)), int(file_bytes))
    return [int(file_bytes)] * whole + ([rest] if rest else [])


def overhead_bytes(heap: int, manager: str = "yarn") -> int:
    """spark.executor.memoryOverhead's default: max(384 MiB, factor x heap), the factor of the
    cluster manager (`OVERHEAD_FACTORS`: 0.10; 0.40 for a PySpark job on Kubernetes)."""
    if manager not in OVERHEAD_FACTORS:
        raise LabError(
            f"Unknown cluster manager {manager!r}: use one of {', '.join(OVERHEAD_FACTORS)}."
        )
    return max(MIN_OVERHEAD, int(OVERHEAD_FACTORS[manager] * heap))


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
    worker_bytes: float | None  # one Python worker's address space at this batch size
    pyspark_memory_mib: int | None
    overhead_mib: int
    input_bytes: float = 0.0
    manager: str = "yarn"
    conf: dict = field(default_factory=dict)

    def record(self) -> dict:
        return asdict(self)


def recommend_batch(fit: CostFit) -> int:
    """Without a batch-size sweep: the smallest candidate whose per-batch cost stays under 2% of
    its per-row work (the largest candidate when none does)."""
    ok = [b for b in BATCH_CANDIDATES if fit.per_batch_s <= 0.02 * b * fit.per_row_s]
    return ok[0] if ok else BATCH_CANDIDATES[-1]


def sizing_arithmetic(
    rows: int,
    executors: int,
    cores: int,
    memory: str,
    batch_size: int,
    disk_row_bytes: float,
    worker_bytes: float | None = None,
    manager: str = "yarn",
    file_bytes: int = INPUT_FILE_BYTES,
) -> dict:
    """The numbers a sizing multiplies out (no model): input bytes on disk, task slots, tasks as
    Spark splits the files, the memory overhead and `spark.executor.pyspark.memory` (one worker's
    address space x HEADROOM per task slot, times the executor's cores), MiB."""
    for name, v in (("rows", rows), ("executors", executors), ("cores", cores)):
        require_positive(name, v)
    require_positive("batch size", batch_size)
    if not disk_row_bytes > 0:
        raise LabError(f"Bytes per row on disk must be positive, got {disk_row_bytes!r}.")
    heap = parse_mem(memory)
    slots = executors * cores
    input_bytes = rows * disk_row_bytes
    tasks = spark_tasks(job_files(input_bytes, file_bytes), slots)
    arrow = 2 * batch_size * ROW_BYTES * cores  # one batch in, one out, per running task
    overhead_mib = math.ceil((overhead_bytes(heap, manager) + arrow) / MiB)
    per_slot = math.ceil(worker_bytes * HEADROOM / MiB) if worker_bytes is not None else None
    return {
        "input_bytes": input_bytes,
        "slots": slots,
        "tasks": tasks,
        "waves": math.ceil(tasks / slots),
        "overhead_mib": overhead_mib,
        "pyspark_mib_per_slot": per_slot,
        "pyspark_mib": per_slot * cores if per_slot is not None else None,
    }


def size_job(
    fit: CostFit,
    rows: int,
    executors: int,
    cores: int,
    memory: str,
    batch_size: int | None = None,
    memory_fit: MemoryFit | None = None,
    uncertainty: float | None = None,
    disk_row_bytes: float = ROW_BYTES,
    manager: str = "yarn",
) -> Sizing:
    """Predict wall time and core-hours of `rows` rows on `executors` x `cores` (executor heap
    `memory`, e.g. '8g') at `batch_size` rows per Arrow batch (default: `recommend_batch`), with
    the settings of `sizing_arithmetic`. `uncertainty` (a relative error) widens the wall time
    into a range; default: the fit's RMS residual."""
    b = batch_size or recommend_batch(fit)
    worker = memory_fit.worker_bytes(b) if memory_fit is not None else None
    a = sizing_arithmetic(rows, executors, cores, memory, b, disk_row_bytes, worker, manager)
    wall = float(fit.predict(rows, a["tasks"], b, a["slots"])[0])
    u = abs(uncertainty) if uncertainty is not None else fit.rms_rel_error
    conf = {
        "spark.executor.instances": str(executors),
        "spark.executor.cores": str(cores),
        "spark.executor.memory": memory,
        "spark.executor.memoryOverhead": f"{a['overhead_mib']}m",
        BATCH_CONF: str(b),
    }
    if a["pyspark_mib"] is not None:
        conf["spark.executor.pyspark.memory"] = f"{a['pyspark_mib']}m"
    return Sizing(
        rows, executors, cores, memory, b, a["tasks"], wall, wall * max(0.0, 1 - u),
        wall * (1 + u), u, wall * a["slots"] / 3600, worker, a["pyspark_mib"],
        a["overhead_mib"], a["input_bytes"], manager, conf,
    )  # fmt: skip


def conf_block(sizing: Sizing, spark_version: str | None = None) -> str:
    """The sizing's settings as `--conf key=value` lines for spark-submit. On Spark 4.x (asked
    from `spark_version`) a byte cap per Arrow batch, maxBytesPerBatch, is added too."""
    conf = dict(sizing.conf)
    if spark_version and int(spark_version.split(".")[0]) >= 4:
        conf["spark.sql.execution.arrow.maxBytesPerBatch"] = str(
            2 ** math.ceil(math.log2(sizing.batch_size * ROW_BYTES))
        )
    return " \\\n".join(f"  --conf {k}={v}" for k, v in conf.items())


def refusal(fit: CostFit, checks: list[dict] = (), load: float | None = None,
            cores: int | None = None) -> str | None:  # fmt: skip
    """Why this fit must not size a job, in one line, or None: a term at zero, an RMS residual
    over RMS_LIMIT, or a check off by more than CHECK_LIMIT: blamed on the place when the check
    ran elsewhere than the first one (the fit's) and the first one passed (with the CPU it burned
    more, when measured), else on a busy machine when the repeats lay more than NOISE_LIMIT apart
    or the load average `load` passed the `cores`."""
    if fit.zero_terms:
        return (
            f"the fit put the {' and '.join(fit.zero_terms)} cost at 0 s: the runs could not see "
            "it, so the model would extrapolate without it; rerun (or add repeats)."
        )
    if fit.rms_rel_error > RMS_LIMIT:
        return (
            f"the fitted runs differ from the model by {fit.rms_rel_error:.0%} RMS (limit "
            f"{RMS_LIMIT:.0%}); rerun on a quieter machine."
        )
    bad = [c for c in checks if abs(c["error"]) > CHECK_LIMIT]
    if not bad:
        return None
    c = bad[0]
    home = checks[0]  # the first check runs where the fit did
    noisy = (fit.repeat_spread or 0) > NOISE_LIMIT or (
        load is not None and cores is not None and load > cores
    )
    fitted_at = c.get("fitted_at", home.get("where"))
    if c.get("where") != fitted_at and abs(home["error"]) <= CHECK_LIMIT:
        cause = (
            f"the model was fitted on {home.get('where')}, not on {c.get('where')}"
            + _cpu_clause(home, c)
            + ": refit where the job runs (`python -m helpers scale --cluster N`)"
        )
        if (c.get("spread") or 0) > NOISE_LIMIT:
            cause += f"; that run's repeats also differ by {c['spread']:.0%}"
    elif noisy:
        cause = (
            "the machine was busy (repeats differ by {spread:.0%}, load average {load:.1f}): "
            "rerun when it is quiet"
        )
    else:
        cause = "the model misses something this run did: refit at sizes nearer the job"
    return (
        f"the {c['check']} ran {abs(c['error']):.0%} {direction(c['error'])} (limit "
        f"{CHECK_LIMIT:.0%}); "
        + cause.format(spread=fit.repeat_spread or 0.0, load=load if load is not None else 0.0)
        + "."
    )


def cpu_ratio(base: dict, other: dict) -> float | None:
    """Core-seconds (JVM + Python) of check run `other` over check run `base`, or None when
    either did not measure its CPU."""
    keys = ("jvm_cpu_s", "python_cpu_s")
    if any(c.get(k) is None for c in (base, other) for k in keys):
        return None
    base_cpu = base["jvm_cpu_s"] + base["python_cpu_s"]
    if base_cpu <= 0:
        return None
    return (other["jvm_cpu_s"] + other["python_cpu_s"]) / base_cpu


def _cpu_clause(base: dict, other: dict) -> str:
    """', which burned 1.12x the CPU for the same rows' when both checks measured CPU, else ''."""
    ratio = cpu_ratio(base, other)
    return "" if ratio is None else f", which burned {ratio:.2f}x the CPU for the same rows"


def paste_block(sizing: Sizing, reason: str | None, spark_version: str | None = None) -> str:
    """What to paste: the spark-submit lines of `sizing`, or, when `reason` (a `refusal`) is
    given, one line saying why there is no block."""
    if reason:
        return f"# No configuration block: {reason}"
    return "spark-submit \\\n" + conf_block(sizing, spark_version)


# ---- measuring (needs a session) --------------------------------------------------------------


class PeakWorkerMemory:
    """Samples, every `interval` s, the processes under `roots` (PIDs) and keeps the largest RSS
    (`peak`) and the largest address space (`peak_vms`, what RLIMIT_AS limits) of one Python
    worker (`pyspark.daemon` and its forks; bytes)."""

    def __init__(self, roots: list[int], interval: float = 0.05):
        self.roots, self.interval, self.peak, self.peak_vms = list(roots), interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample_once(self) -> None:
        for p in processes_under(self.roots, include_roots=False):
            cmd = process_command(p)
            if "pyspark" in cmd and "java" not in cmd:
                try:
                    info = p.memory_info()
                except psutil.Error:
                    continue
                self.peak = max(self.peak, info.rss)
                self.peak_vms = max(self.peak_vms, info.vms)

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
    Returns the run's record (wall_s; the core-seconds jvm_cpu_s, python_cpu_s of the processes
    under `roots`; peak_worker_rss and peak_worker_vms in bytes, None where there are no roots;
    input_bytes: the Parquet file on disk)."""
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
        with PeakWorkerMemory(roots) as mem:
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
        "input_bytes": path.stat().st_size,
        "peak_worker_rss": float(mem.peak) if roots else None,
        MEMORY_COLUMN: float(mem.peak_vms) if roots else None,
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
    progress: Progress | Sink | None = None,
) -> pd.DataFrame:
    """Every (size, batch size, partition count) once per repeat, after one untimed warm-up run;
    one row per run (`measure_run` records). `progress` counts the runs."""
    require_sizes(list(sizes))
    if len(set(batch_sizes)) < 2 or len(set(partitions)) < 2:
        raise LabError("Fit on at least 2 batch sizes and 2 partition counts.")
    p = as_progress(progress)
    out = []
    total = 1 + repeats * len(sizes) * len(batch_sizes) * len(partitions)
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp, p.task("scale grid", total):
        target = Path(tmp) / "predictions"
        p.step("warm-up")
        measure_run(spark, scenario, min(sizes), min(partitions), max(batch_sizes), target, roots)
        for r in range(repeats):
            for rows in sizes:
                for b in batch_sizes:
                    for n in partitions:
                        p.step(f"{rows:,} rows, batch {b:,}, {n} tasks (repeat {r + 1})")
                        out.append(measure_run(spark, scenario, rows, n, b, target, roots, where))
        shutil.rmtree(target, ignore_errors=True)
    return pd.DataFrame(out)


def measure_one(
    spark, scenario, rows, partitions, batch_size, roots=(), where="", repeats: int = 1,
    progress: Progress | Sink | None = None,
) -> dict:  # fmt: skip
    """`measure_run` `repeats` times into a temporary folder that is removed afterwards; the
    fastest run's record (with `repeats` and `spread`, (slowest - fastest) / fastest), the same
    estimator as the fitted grid points."""
    require_positive("repeats", repeats)
    p = as_progress(progress)
    runs = []
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp, p.task("check run", repeats):
        for r in range(repeats):
            p.step(f"{rows:,} rows (repeat {r + 1})")
            runs.append(
                measure_run(
                    spark, scenario, rows, partitions, batch_size, Path(tmp) / "out", roots, where
                )
            )
    walls = [r["wall_s"] for r in runs]
    best = min(runs, key=lambda r: r["wall_s"])
    return {**best, "repeats": repeats, "spread": (max(walls) - min(walls)) / min(walls)}


def validation_record(fit: CostFit, run: dict, label: str, fitted_at: str | None = None) -> dict:
    """A measured run next to the model's prediction for it: predicted_s, measured_s and the
    error (measured - predicted) / predicted, with the load average when it was measured.
    `fitted_at`: where the model was fitted or recalibrated, when that is not known to be the
    first check's place."""
    pred = float(fit.predict(run["rows"], run["partitions"], run["batch_size"], run["slots"])[0])
    return {
        "check": label,
        "where": run["where"],
        **({"fitted_at": fitted_at} if fitted_at else {}),
        "rows": run["rows"],
        "partitions": run["partitions"],
        "batch_size": run["batch_size"],
        "slots": run["slots"],
        "predicted_s": pred,
        "measured_s": run["wall_s"],
        "repeats": run.get("repeats", 1),
        "spread": run.get("spread"),
        "error": relative_error(pred, run["wall_s"]),
        "load_average": run.get("load_average"),
        "jvm_cpu_s": run.get("jvm_cpu_s"),
        "python_cpu_s": run.get("python_cpu_s"),
    }


def zone_batch(
    spark,
    scenario: str = "map_in_arrow",
    budget_mib: float = ZONE_BUDGET_MIB,
    repeats: int = ZONE_REPEATS,
    progress: Progress | Sink | None = None,
):
    """Notebook 04's measurement: the batch-size sweep of `scenario` at this LAB_SCALE
    (`sweep.sweep_grid`, `sweep.sweep_rows`, `repeats` runs per point) and its Goldilocks zone
    under `budget_mib` of JVM off-heap. Returns (batch size, zone, sweep points): the zone's
    smallest batch, or the fastest one under the budget when the zone is empty (None when
    nothing fits)."""
    work = sweep.scenario_workload(spark, scenario, sweep.sweep_rows())
    points = sweep.sweep(spark, work, sweep.sweep_grid(), repeats=repeats, progress=progress)
    z = zone.goldilocks_zone(points, budget_mib * MiB)
    return (z.lo if not z.empty else z.feasible_best_batch), z, points


@dataclass
class ScaleStudy:
    """Measured runs, the cost and memory fits, the validation checks of one session, and the
    batch size notebook 04's zone picked in it (None when no sweep ran)."""

    scenario: str
    spark_version: str
    master: str
    points: pd.DataFrame
    fit: CostFit
    memory: MemoryFit | None
    checks: list[dict]
    batch_size: int | None = None
    load_average: float | None = None
    cores: int | None = None

    @property
    def worst_error(self) -> float:
        """The largest absolute relative error of the checks (NaN without checks)."""
        return max((abs(c["error"]) for c in self.checks), default=float("nan"))

    @property
    def disk_row_bytes(self) -> float:
        """Parquet bytes per row on disk, from the largest input file of the runs."""
        p = self.points
        if "input_bytes" not in p.columns or p.input_bytes.isna().all():
            return float(ROW_BYTES)
        big = p.loc[p.rows.idxmax()]
        return float(big.input_bytes) / float(big.rows)

    def uncertainty(self) -> float:
        """The relative error to quote with an estimate: the worst check, at least the RMS
        residual of the fit."""
        errs = [self.fit.rms_rel_error] + [abs(c["error"]) for c in self.checks]
        return float(np.nanmax(errs))

    def refusal(self) -> str | None:
        """`refusal` of this study's fit and checks (one line), or None."""
        return refusal(self.fit, self.checks, self.load_average, self.cores)

    def size(self, rows: int, executors: int, cores: int, memory: str,
             batch_size: int | None = None, manager: str = "yarn") -> Sizing:  # fmt: skip
        """`size_job` with this study's fit, memory, zone batch, uncertainty and disk bytes."""
        return size_job(
            self.fit, rows, executors, cores, memory, batch_size or self.batch_size,
            self.memory, self.uncertainty(), self.disk_row_bytes, manager,
        )  # fmt: skip

    def record(self) -> dict:
        return {
            "scenario": self.scenario,
            "spark_version": self.spark_version,
            "master": self.master,
            "fit": self.fit.record(),
            "memory": asdict(self.memory) if self.memory else None,
            "checks": self.checks,
            "batch_size": self.batch_size,
            "load_average": self.load_average,
            "refusal": self.refusal(),
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
    batch_size: int | None = None,
    progress: Progress | Sink | None = None,
) -> ScaleStudy:
    """Measure the grid `repeats` times, fit cost and memory, then (with `validate`) run the job
    at `validate` rows (largest partition count and batch size of the grid; the fastest of
    `repeats` runs) and compare it with the model's prediction. `batch_size`: the zone's pick
    (`zone_batch`) that sizings use. The load average is kept beside the numbers."""
    require_sizes(list(sizes), validate)
    p = as_progress(progress)
    total = 1 + repeats * len(sizes) * len(set(batch_sizes)) * len(set(partitions))
    with p.task("scale study", total + (repeats if validate else 0)):
        points = measure_grid(
            spark, scenario, sizes, batch_sizes, partitions, repeats, roots, where, p
        )
        fit = fit_cost(points)
        checks = []
        if validate is not None:
            run = measure_one(
                spark, scenario, validate, max(partitions), max(batch_sizes), roots, where,
                repeats, p,
            )  # fmt: skip
            run["load_average"] = load_average()
            ratio = validate / max(sizes)
            checks.append(validation_record(fit, run, f"{ratio:.0f}x larger run"))
    return ScaleStudy(
        scenario, spark.version, spark.sparkContext.master, points, fit, fit_memory(points),
        checks, batch_size, load_average(), spark.sparkContext.defaultParallelism,
    )  # fmt: skip


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
    run["load_average"] = load_average()
    return validation_record(fit, run, label)


@dataclass
class PlaceCheck:
    """A fit carried to another place (`recalibrate`) and checked there on a larger run: the
    place's runs, the recalibrated fit, and the check run compared with both models (`home`: the
    fit as it came, `check`: recalibrated)."""

    points: pd.DataFrame
    fit: CostFit
    home: dict
    check: dict


def place_check(
    spark,
    fit: CostFit,
    scenario: str,
    sizes,
    rows: int,
    partitions: int,
    batch_size: int,
    roots: list[int] = (),
    where: str = "",
    repeats: int = GRID_REPEATS,
    home: str = "local[2]",
    progress: Progress | Sink | None = None,
) -> PlaceCheck:
    """On the session's place (a cluster): one warm-up run, the fitted `sizes` at `partitions`
    and `batch_size` (`repeats` each) to `recalibrate` `fit`, then the job at `rows` rows (the
    fastest of `repeats`), compared with both the recalibrated fit and `fit` itself."""
    sizes = require_sizes(list(sizes), rows)
    p = as_progress(progress)
    with p.task("check on the place", 1 + len(sizes) + 1):
        p.step("warm-up")
        measure_one(spark, scenario, sizes[0], partitions, batch_size, roots, where)
        runs = []
        for n in sizes:
            p.step(f"{n:,} rows")
            runs.append(measure_one(spark, scenario, n, partitions, batch_size, roots, where,
                                    repeats))  # fmt: skip
        points = pd.DataFrame(runs)
        there = recalibrate(fit, points)
        p.step(f"{rows:,} rows")
        run = measure_one(spark, scenario, rows, partitions, batch_size, roots, where, repeats)
        run["load_average"] = load_average()
    ratio = rows / sizes[-1]
    return PlaceCheck(
        points, there,
        validation_record(fit, run, f"{ratio:.0f}x run, {home} model"),
        validation_record(there, run, f"{ratio:.0f}x run, model recalibrated there", where or None),
    )  # fmt: skip


def memory_limit_runs(
    fn,
    schema: str,
    settings: list[str],
    cores: int,
    rows: int = 200_000,
    batch_size: int | None = None,
    workers: int | None = None,
    progress: Progress | Sink | None = None,
    timeout_s: float = LIMIT_TIMEOUT_S,
) -> list[dict]:
    """For each `spark.executor.pyspark.memory` value in `settings`, run
    `df.mapInPandas(fn, schema)` over `rows` rows in a fresh session with
    `spark.executor.cores=cores` (local[2], or a `workers`-worker standalone cluster), at
    `batch_size` rows per Arrow batch. One record per setting: setting, cores, per_worker_mib (the
    setting / cores, as Spark divides it), ok, rows and, on failure, one line naming the error; a
    run still going after `timeout_s` is cancelled and reported as a stalled worker."""
    require_positive("cores", cores)
    p = as_progress(progress)
    out = []
    with p.task("memory limit", len(settings)):
        for setting in settings:
            p.step(f"spark.executor.pyspark.memory={setting}")
            out.append(
                _limit_run(fn, schema, setting, cores, rows, batch_size, workers, timeout_s)
            )
    return out


def limit_error(text: str, kind: str, setting: str, cores: int) -> str:
    """One line for a job that failed under spark.executor.pyspark.memory=`setting`: a worker's
    MemoryError or crash (its address space hit RLIMIT_AS = setting / cores), else the first
    line of the error `text` (`kind`: the exception's type)."""
    per_worker = parse_mem(setting) // cores // MiB
    cause = next(
        (c for key, c in (("MemoryError", "MemoryError"), ("exited unexpectedly", "A crash"),
                               ("SocketException: Connection reset", "A crash"),
                               ("Cannot allocate memory", "An allocation failure"),
                               ("failed to map segment", "An allocation failure"))
         if key in text),
        None,
    )  # fmt: skip
    if cause is None:
        return f"{kind}: {(text.strip().splitlines() or [''])[0][:200]}"
    return (
        f"{cause} in a Python worker: {per_worker} MiB of address space "
        f"(RLIMIT_AS = {setting} / {cores} cores) is less than it needs"
    )


def _limit_run(fn, schema, setting, cores, rows, batch_size, workers, timeout_s) -> dict:
    per_worker = parse_mem(setting) // cores // MiB
    conf = {"spark.executor.pyspark.memory": setting, "spark.executor.cores": str(cores)}
    if batch_size:
        conf[BATCH_CONF] = str(batch_size)
    where = f"a standalone {workers}x1 cluster" if workers else "local[2]"
    out = {"setting": setting, "cores": cores, "per_worker_mib": per_worker, "rows": None,
           "where": where}  # fmt: skip
    kw = {} if workers else {"master": "local[2]"}
    with (
        on_cluster(workers, "09_memory_limit", conf=conf, synapseml=False, **kw) as (spark, _),
        logs_off(spark),  # the failure is the experiment: its one line below
    ):
        stalled = threading.Event()

        def cancel():
            stalled.set()
            spark.sparkContext.cancelAllJobs()

        timer = threading.Timer(timeout_s, cancel)
        timer.start()
        try:
            out["rows"] = spark.range(rows).mapInPandas(fn, schema).count()
            out.update(ok=True, error=None)
        except Exception as exc:  # the job failed: one line (str() needs the JVM, still up here)
            text = str(getattr(exc, "desc", None) or getattr(exc, "_desc", None) or exc)
            error = limit_error(text, type(exc).__name__, setting, cores)
            if stalled.is_set():  # cancelled by the timer: the workers never finished
                error = (
                    f"No result in {timeout_s:.0f} s: a Python worker stalled at "
                    f"{per_worker} MiB of address space (RLIMIT_AS = {setting} / {cores} cores)"
                )
            out.update(ok=False, error=error)
        finally:
            timer.cancel()
    return out


def write_report(path, payload: dict) -> Path:
    """The scale study as JSON, written atomically."""
    import json

    return atomic_write_bytes(Path(path), json.dumps(payload, indent=1, default=float).encode())


# ---- findings -----------------------------------------------------------------------------------

TEMPLATES = {
    "fit": (
        "Fitted on {runs} grid points: {fixed_ms:.0f} ms per job, {task_ms:.1f} ms per task, "
        "{batch_ms:.3f} ms per batch, {row_us:.2f} µs per row; RMS residual {rms:.0%}."
    ),
    "fit_cpu": (
        "CPU per row: {jvm_us:.2f} µs in the JVM, {py_us:.2f} µs in Python, beside "
        "{row_us:.2f} µs of one slot's wall time."
    ),
    "check_cpu": (
        "The {check} burned {ratio:.2f}x the core-seconds of the {base} ({cpu:.1f} vs "
        "{base_cpu:.1f}): on one machine, more CPU is more wall time."
    ),
    "check_cpu_same": (
        "The {check} burned {ratio:.2f}x the core-seconds of the {base} ({cpu:.1f} vs "
        "{base_cpu:.1f}): the same work per row, so a difference in wall time is waiting, not "
        "work."
    ),
    "validate_ok": (
        "**{check}: {measured}, {pct:.0%} {direction}** ({predicted} predicted; within "
        "{limit:.0%}; load average {load})."
    ),
    "validate_bad": (
        "**{check}: {measured}, {pct:.0%} {direction}** ({predicted} predicted; outside "
        "{limit:.0%}; load average {load})."
    ),
    "recalibrated": (
        "Recalibrated on {where} from {runs} sizes: **{fixed_ms:,.0f} ms fixed per job** "
        "({base_fixed_ms:,.0f} ms locally), the local per-task, per-batch and per-row costs; the "
        "{runs} runs there differ from it by {rms:.0%} RMS."
    ),
    "usable": "The fit may size a job: every term above 0, every check within {limit:.0%}.",
    "refused": "No configuration block: {reason}",
    "sizing": (
        "**{rows:,} rows on {executors} x {cores} cores: about {wall}** ({low}–{high}), "
        "{core_hours:,.0f} core-hours, {tasks:,} tasks, maxRecordsPerBatch {batch:,}."
    ),
    "memory": (
        "One Python worker needs {worker_mib:,.0f} MiB of address space; x {headroom} per slot x "
        "{cores} cores: spark.executor.pyspark.memory={pyspark_mib}m."
    ),
    "no_memory": (
        "No worker memory was sampled (remote executors): spark.executor.pyspark.memory is "
        "left to you."
    ),
    "limit_ok": (
        "**The sized setting ran** in {where}: {setting} with {cores} cores, "
        "{per_worker_mib:,} MiB per worker, {rows:,} rows, no MemoryError."
    ),
    "limit_failed": "**{setting} with {cores} cores failed** in {where}: {error}.",
    "limit_ok_below": (
        "{setting} ({per_worker_mib:,} MiB per worker, {share:.0%} of the sized value) ran as "
        "well: this job's workers needed less than the address space measured without a limit."
    ),
}


def place_findings(pc: PlaceCheck, base: CostFit, where: str) -> list[Finding]:
    """The fit carried to `where`: its fixed cost against `base`'s, then both checks (the model
    as it came, recalibrated)."""
    out = [
        finding(
            TEMPLATES,
            "recalibrated",
            where=where,
            runs=pc.fit.runs,
            fixed_ms=pc.fit.fixed_s * 1e3,
            base_fixed_ms=base.fixed_s * 1e3,
            rms=pc.fit.rms_rel_error,
        )
    ]
    return out + check_findings([pc.home, pc.check])


def _load_text(load) -> str:
    return "not measured" if load is None else f"{load:.1f}"


def check_findings(checks: list[dict]) -> list[Finding]:
    """One finding per validation check: measured, signed error in words, the 15% target."""
    out = []
    for c in checks:
        key = "validate_ok" if abs(c["error"]) <= CHECK_LIMIT else "validate_bad"
        out.append(
            finding(
                TEMPLATES,
                key,
                check=c["check"],
                predicted=check_time(c["predicted_s"]),
                measured=check_time(c["measured_s"]),
                pct=abs(c["error"]),
                direction=direction(c["error"]),
                limit=CHECK_LIMIT,
                load=_load_text(c.get("load_average")),
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
                row_us=fit.per_row_s * 1e6,
            )
        )
    return out


def verdict_findings(reason: str | None) -> list[Finding]:
    """Whether this fit may size a job: `usable`, or `refused` with the `refusal` line."""
    if reason:
        return [finding(TEMPLATES, "refused", reason=reason)]
    return [finding(TEMPLATES, "usable", limit=CHECK_LIMIT)]


def study_findings(study: ScaleStudy) -> list[Finding]:
    """Section 1's "What you saw": the checks first, then the fit, then the verdict."""
    return (
        check_findings(study.checks)
        + fit_findings(study.fit)[:1]
        + verdict_findings(study.refusal())
    )


def sizing_findings(sizing: Sizing) -> list[Finding]:
    """The sized job: wall time (in minutes or hours) with its range, core-hours, tasks, batch
    size, and the pyspark memory setting from one worker's address space."""
    out = [
        finding(
            TEMPLATES,
            "sizing",
            rows=sizing.rows,
            executors=sizing.executors,
            cores=sizing.cores,
            wall=human_time(sizing.wall_s),
            low=human_time(sizing.wall_low_s),
            high=human_time(sizing.wall_high_s),
            core_hours=sizing.core_hours,
            tasks=sizing.partitions,
            batch=sizing.batch_size,
        )
    ]
    if sizing.pyspark_memory_mib is not None:
        out.append(
            finding(
                TEMPLATES,
                "memory",
                worker_mib=sizing.worker_bytes / MiB,
                headroom=HEADROOM,
                cores=sizing.cores,
                pyspark_mib=sizing.pyspark_memory_mib,
            )
        )
    else:
        out.append(finding(TEMPLATES, "no_memory"))
    return out


def limit_findings(runs: list[dict], sized: str | None = None) -> list[Finding]:
    """One finding per `memory_limit_run`: the sized setting (`sized`, default the first run's)
    ran, a smaller one ran as well (the measurement was an upper bound), or the one line of why
    it failed."""
    sized = sized or (runs[0]["setting"] if runs else None)
    sized_mib = parse_mem(sized) / MiB if sized else None
    out = []
    for r in runs:
        where = r.get("where", "local[2]")
        if not r["ok"]:
            out.append(finding(TEMPLATES, "limit_failed", setting=r["setting"], cores=r["cores"],
                               error=r["error"], where=where))  # fmt: skip
            continue
        values = {k: r[k] for k in ("setting", "cores", "per_worker_mib", "rows")}
        values["where"] = where
        if r["setting"] == sized or not sized_mib:
            out.append(finding(TEMPLATES, "limit_ok", **values))
        else:
            share = parse_mem(r["setting"]) / MiB / sized_mib
            out.append(finding(TEMPLATES, "limit_ok_below", share=share, **values))
    return out


def cpu_comparison(base: dict, other: dict) -> list[Finding]:
    """The CPU of check run `other` against check run `base` (same rows), when both were
    measured; else nothing."""
    ratio = cpu_ratio(base, other)
    if ratio is None:
        return []
    cpu, base_cpu = (c["jvm_cpu_s"] + c["python_cpu_s"] for c in (other, base))
    return [
        finding(
            TEMPLATES,
            "check_cpu" if abs(ratio - 1) > CPU_SAME_BAND else "check_cpu_same",
            check=other["check"],
            base=base["check"],
            cpu=cpu,
            ratio=ratio,
            base_cpu=base_cpu,
        )
    ]

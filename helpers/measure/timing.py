"""Measuring. Wall time into a noop sink, the in-process physical limit, parity,
the process tree of a running job, and the Python SQL metrics Spark keeps per plan node.

All results are plain data (dataclasses / pandas DataFrames) in SI units: seconds, bytes, rows/s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import psutil

from helpers.core.config import LabError
from helpers.core.validate import check_positive
from helpers.model.data import ensure_model, feature_matrix, load_booster, predict
from helpers.paths.scenarios import get_scenario, input_frame, scenario_frame

BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"
ROW_UDF_BATCH = 100  # BatchEvalPythonExec groups rows by 100, hard-coded in Spark 3.5


# ---- the physical limit: the same model, the same rows, one plain process per core -----------


@dataclass
class LimitResult:
    rows: int
    processes: int
    wall_s: float
    rows_per_s: float
    predictions: np.ndarray

    def record(self) -> dict:
        return {
            "name": "physical_limit",
            "rows": self.rows,
            "processes": self.processes,
            "wall_s": self.wall_s,
            "rows_per_s": self.rows_per_s,
        }


def physical_limit(rows: int, processes: int | None = None) -> LimitResult:
    """Predict `rows` rows with the model in `processes` plain Python processes (default: one per
    core), no Spark. Wall time runs from the common start (a barrier) to the last finish; data
    generation and model loading are excluded. This is the number every Spark path is held to."""
    check_positive("rows", rows)
    processes = processes or psutil.cpu_count(logical=True) or 1
    model = ensure_model()
    bounds = np.linspace(0, rows, processes + 1).astype(int)
    with tempfile.TemporaryDirectory(prefix="limit-") as tmp:
        outs = [os.path.join(tmp, f"part{i}.npy") for i in range(processes)]
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "helpers.workers.limit_worker",
                    str(lo),
                    str(hi),
                    str(rows),
                    str(model),
                    out,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for lo, hi, out in zip(bounds[:-1], bounds[1:], outs)
        ]
        try:
            for p in procs:  # every child has loaded its data and model
                if p.stdout.readline().strip() != "ready":
                    raise LabError(
                        "A physical-limit worker failed while loading; see its traceback above."
                    )
            for p in procs:  # go
                p.stdin.write("go\n")
                p.stdin.flush()
            times = [tuple(map(float, p.stdout.readline().split())) for p in procs]
            for p in procs:
                p.wait(timeout=60)
            preds = np.concatenate([np.load(out) for out in outs])
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
    wall = max(t[1] for t in times) - min(t[0] for t in times)
    return LimitResult(rows, processes, wall, rows / wall, preds)


def reference_predictions(rows: int) -> np.ndarray:
    """The reference: the model's predictions for the first `rows` rows, in-process, in id order."""
    return predict(load_booster(), feature_matrix(rows))


# ---- Spark runs -------------------------------------------------------------------------------


def set_batch_size(spark, batch_size: int | None) -> int | None:
    """Set spark.sql.execution.arrow.maxRecordsPerBatch (a runtime conf) and return it."""
    if batch_size is not None:
        check_positive("batch size", batch_size)
        spark.conf.set(BATCH_CONF, str(batch_size))
    return batch_size


def effective_batch_size(spark, name: str) -> int | None:
    """Rows per batch a scenario actually uses: the Arrow conf, 100 for row udf, None for SynapseML."""
    if name == "row_udf":
        return ROW_UDF_BATCH
    if name == "synapseml":
        return None
    return int(spark.conf.get(BATCH_CONF))


def time_noop(frame) -> float:
    """Seconds to run `frame` into Spark's noop sink (all rows computed, nothing written)."""
    t0 = time.perf_counter()
    frame.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - t0


def warm_up(spark, name: str, rows: int) -> float:
    """Run the scenario once on a ~2% sample of every partition: starts the Python workers,
    imports, loads the model in each worker, JIT-compiles the JVM side. Returns seconds."""
    df = input_frame(spark, rows)
    return time_noop(
        scenario_frame(spark, name, df=df.sample(fraction=min(1.0, 20_000 / rows), seed=1))
    )


def collect_predictions(spark, name: str, rows: int, df=None) -> np.ndarray:
    """The scenario's predictions for all `rows` rows (of `df` if given), in id order."""
    pdf = scenario_frame(spark, name, rows=rows, df=df).toPandas()
    return pdf.sort_values("id")["prediction"].to_numpy()


@dataclass
class BenchRecord:
    name: str
    rows: int
    batch_size: int | None
    wall_s: float
    rows_per_s: float
    ratio_to_limit: float | None
    max_abs_diff: float | None
    spark_version: str
    repeats: int = 1


def run_scenario(
    spark,
    name: str,
    rows: int,
    batch_size: int | None = None,
    repeats: int = 1,
    limit_rows_per_s: float | None = None,
    parity: bool = True,
    reference: np.ndarray | None = None,
) -> BenchRecord:
    """Warm up, then time `repeats` runs of scenario `name` over `rows` cached rows into a noop
    sink; wall_s is the median. With `parity`, also collect all predictions and compare them
    with the in-process reference (max absolute difference)."""
    get_scenario(name)
    check_positive("repeats", repeats)
    set_batch_size(spark, batch_size)
    input_frame(spark, rows)
    warm_up(spark, name, rows)
    walls = [time_noop(scenario_frame(spark, name, rows=rows)) for _ in range(repeats)]
    wall = statistics.median(walls)
    diff = None
    if parity:
        ref = reference if reference is not None else reference_predictions(rows)
        diff = float(np.max(np.abs(collect_predictions(spark, name, rows) - ref)))
    rps = rows / wall
    return BenchRecord(
        name,
        rows,
        effective_batch_size(spark, name),
        wall,
        rps,
        rps / limit_rows_per_s if limit_rows_per_s else None,
        diff,
        spark.version,
        repeats,
    )


def bench(
    spark,
    rows: int,
    scenarios: list[str],
    batch_size: int | None = None,
    repeats: int = 3,
    row_repeats: int = 1,
    parity: bool = True,
) -> tuple[LimitResult, list[BenchRecord]]:
    """The physical limit, then every scenario, all measured in this run."""
    limit = physical_limit(rows)
    ref = limit.predictions
    records = []
    for name in scenarios:
        reps = row_repeats if get_scenario(name).row_at_a_time else repeats
        records.append(
            run_scenario(spark, name, rows, batch_size, reps, limit.rows_per_s, parity, ref)
        )
    return limit, records


def bench_table(limit: LimitResult, records: list[BenchRecord]) -> pd.DataFrame:
    """Tidy table: one row per scenario plus the limit, sorted by throughput."""
    rows = [asdict(r) for r in records]
    df = pd.DataFrame(rows).sort_values("rows_per_s", ascending=False)
    top = {
        "name": "physical_limit",
        "rows": limit.rows,
        "batch_size": None,
        "wall_s": limit.wall_s,
        "rows_per_s": limit.rows_per_s,
        "ratio_to_limit": 1.0,
        "max_abs_diff": 0.0,
        "spark_version": None,
        "repeats": 1,
    }
    return pd.DataFrame([top] + df.to_dict("records"))


# ---- the processes of a running job --------------------------------------------------------------


# ---- SQL metrics of Python plan nodes (Spark's REST API on 127.0.0.1) --------------------------------


@dataclass
class OverheadResult:
    """Wall time of the same job with the worker sampler on and off, alternated in one session,
    and the CPU the sampling threads themselves used during the profiled runs."""

    scenario: str
    rows: int
    profiled_s: list
    unprofiled_s: list
    sampler_cpu_s: float = 0.0  # summed over the profiled runs' tasks
    task_busy_s: float = 0.0  # seconds the profiled tasks ran (summed)

    @property
    def ratio(self) -> float:
        """min(profiled) / min(unprofiled): the least-disturbed run of each; 1.03 = 3 % overhead.
        (On a shared machine the minimum is the estimate least affected by other processes.)"""
        return min(self.profiled_s) / min(self.unprofiled_s)

    @property
    def median_ratio(self) -> float:
        """median(profiled) / median(unprofiled)."""
        return statistics.median(self.profiled_s) / statistics.median(self.unprofiled_s)

    @property
    def sampler_share(self) -> float:
        """CPU seconds of the sampling threads / seconds inside the profiled tasks."""
        return self.sampler_cpu_s / self.task_busy_s if self.task_busy_s else 0.0


def alternated_runs(pairs: int, run) -> tuple[list, list]:
    """Call `run(on)` -> seconds `pairs` times with on=False and `pairs` times with on=True, the order
    alternating (off, on), (on, off), ... so drift on a shared machine hits both alike.
    Returns (on_seconds, off_seconds)."""
    check_positive("pairs", pairs)
    on, off = [], []
    for i in range(pairs):
        for flag in (False, True) if i % 2 == 0 else (True, False):
            (on if flag else off).append(run(flag))
    return on, off

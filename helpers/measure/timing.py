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
from helpers.core.findings import Finding, finding
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.validate import require_positive
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
    require_positive("rows", rows)
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
        require_positive("batch size", batch_size)
        spark.conf.set(BATCH_CONF, str(batch_size))
    return batch_size


def effective_batch_size(spark, name: str) -> int | None:
    """Rows per batch a scenario actually uses: the Arrow conf, 100 for row udf, None for
    SynapseML."""
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
    require_positive("repeats", repeats)
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
    progress: Progress | Sink | None = None,
) -> tuple[LimitResult, list[BenchRecord]]:
    """The physical limit, then every scenario, all measured in this run. `progress` reports the
    limit and each scenario."""
    p = as_progress(progress)
    records = []
    with p.task(f"bench {rows:,} rows", 1 + len(scenarios)):
        p.step("physical limit")
        limit = physical_limit(rows)
        ref = limit.predictions
        for name in scenarios:
            p.step(name)
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


# ---- what notebook 00 saw: the limit, the bench --------------------------------

PARITY_TOL = 1e-9  # a path "agrees" when no prediction differs from the reference by more

LIMIT_FINDINGS = {
    "limit": (
        "{rows_per_s:,.0f} rows/s with {processes} processes ({rows:,} rows in {wall_s:.3f} s)."
    ),
    "identical": "Its predictions are bit-identical to the single-process reference.",
    "different": "Its predictions are NOT equal to the single-process reference.",
}


def limit_findings(limit: LimitResult, reference: np.ndarray) -> list[Finding]:
    """The physical limit's throughput (rows/s) and whether its predictions equal `reference`
    bit for bit."""
    same = np.array_equal(limit.predictions, reference)
    return [
        finding(
            LIMIT_FINDINGS,
            "limit",
            rows_per_s=limit.rows_per_s,
            processes=limit.processes,
            rows=limit.rows,
            wall_s=limit.wall_s,
        ),
        finding(LIMIT_FINDINGS, "identical" if same else "different"),
    ]


BENCH_FINDINGS = {
    "agree": "All {n} paths agree with the reference (largest difference {max_diff:.1e}).",
    "disagree": (
        "{n_bad} of {n} paths differ from the reference by more than {tol:.0e}: {names} "
        "(largest difference {max_diff:.1e})."
    ),
    "unchecked": "The {n} paths' predictions were not compared with the reference (parity off).",
    "best_worst": (
        "The best, `{best}`, reached {best_ratio:.2f} of the physical limit; "
        "the worst, `{worst}`, {worst_ratio:.3f}."
    ),
}


def bench_findings(table: pd.DataFrame, tol: float = PARITY_TOL) -> list[Finding]:
    """Parity of every path (max |prediction - reference|, agreeing within `tol`) and the best
    and worst ratio to the physical limit, from a `bench_table` (or several concatenated)."""
    paths = table[table["name"] != "physical_limit"]
    diffs = paths["max_abs_diff"].astype(float)
    n = len(paths)
    if diffs.isna().all():
        out = [finding(BENCH_FINDINGS, "unchecked", n=n)]
    else:
        bad = paths.loc[diffs > tol, "name"].tolist()
        if bad:
            names = ", ".join(f"`{b}`" for b in bad)
            out = [
                finding(
                    BENCH_FINDINGS,
                    "disagree",
                    n_bad=len(bad),
                    n=n,
                    tol=tol,
                    names=names,
                    max_diff=diffs.max(),
                )
            ]
        else:
            out = [finding(BENCH_FINDINGS, "agree", n=n, max_diff=diffs.max())]
    ranked = paths.sort_values("ratio_to_limit")
    best, worst = ranked.iloc[-1], ranked.iloc[0]
    out.append(
        finding(
            BENCH_FINDINGS,
            "best_worst",
            best=best["name"],
            best_ratio=best["ratio_to_limit"],
            worst=worst["name"],
            worst_ratio=worst["ratio_to_limit"],
        )
    )
    return out


# ---- wall time with and without a profiler ------------------------------------------------------


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
    """Call `run(on)` -> seconds `pairs` times with on=False and `pairs` times with on=True, the
    order alternating (off, on), (on, off), ... so drift on a shared machine hits both alike.
    Returns (on_seconds, off_seconds)."""
    require_positive("pairs", pairs)
    on, off = [], []
    for i in range(pairs):
        for flag in (False, True) if i % 2 == 0 else (True, False):
            (on if flag else off).append(run(flag))
    return on, off

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
from typing import Callable

import numpy as np
import pandas as pd
import psutil

from helpers.core.config import LabError
from helpers.core.findings import Finding, finding
from helpers.core.processes import process_command, processes_under
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.validate import require_positive
from helpers.measure.samplers import process_table
from helpers.model.data import ensure_model, feature_matrix, load_booster, predict
from helpers.paths.scenarios import (
    BATCH_CONF,
    file_splits,
    get_scenario,
    input_frame,
    scenario_frame,
)

ROW_UDF_BATCH = 100  # BatchEvalPythonExec groups rows by 100, hard-coded in Spark 3.5


# ---- the physical limit: the same model, the same rows, one plain process per core -----------


@dataclass
class LimitResult:
    rows: int
    processes: int
    wall_s: float  # the median round (the lower middle one for an even count)
    rows_per_s: float
    predictions: np.ndarray
    cpu_s: float | None = None  # CPU seconds of all processes while predicting (process_time)
    walls: tuple = ()  # every round's wall time, in order

    def record(self) -> dict:
        return {
            "name": "physical_limit",
            "rows": self.rows,
            "processes": self.processes,
            "wall_s": self.wall_s,
            "rows_per_s": self.rows_per_s,
            "cpu_s": self.cpu_s,
        }


def lower_median(items: list, key=None):
    """The median item by `key` (the lower middle one for an even count): the run that counts."""
    return sorted(items, key=key)[(len(items) - 1) // 2]


MIN_OWN_ROUNDS = 3  # fewer limit rounds than this beside a path: its ratio uses all rounds' median


class LimitRunner:
    """The physical limit's worker processes (one per core by default), each holding its slice
    of the rows and the model, kept alive between rounds, so the limit can be timed in turns with
    a Spark path on a noisy machine. `round()` tells every worker to go at once and returns (wall
    from the first start to the last finish, CPU of all workers); `result()` the median round.
    Use as a context manager: the workers are stopped (and their predictions saved) on exit."""

    def __init__(self, rows: int, processes: int | None = None):
        require_positive("rows", rows)
        self.rows = rows
        self.processes = processes or psutil.cpu_count(logical=True) or 1
        self.rounds: list[tuple[float, float]] = []
        self.predictions: np.ndarray | None = None
        self._procs: list = []
        self._tmp = None

    def __enter__(self):
        model = ensure_model()
        bounds = np.linspace(0, self.rows, self.processes + 1).astype(int)
        self._tmp = tempfile.TemporaryDirectory(prefix="limit-")
        self._outs = [os.path.join(self._tmp.name, f"part{i}.npy") for i in range(self.processes)]
        try:
            for lo, hi, out in zip(bounds[:-1], bounds[1:], self._outs):
                args = [str(lo), str(hi), str(self.rows), str(model), out]
                self._procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "helpers.workers.limit_worker", *args],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                )
            for p in self._procs:  # every child has loaded its data and model
                if p.stdout.readline().strip() != "ready":
                    raise LabError(
                        "A physical-limit worker failed while loading; see its traceback above."
                    )
        except BaseException:
            self._stop()
            raise
        return self

    def round(self) -> tuple[float, float]:
        for p in self._procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        times = [tuple(map(float, p.stdout.readline().split())) for p in self._procs]
        r = (max(t[1] for t in times) - min(t[0] for t in times), sum(t[2] for t in times))
        self.rounds.append(r)
        return r

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None and self.rounds:
                for p in self._procs:
                    p.stdin.close()
                for p in self._procs:
                    p.stdout.readline()  # "saved"
                    p.wait(timeout=60)
                self.predictions = np.concatenate([np.load(out) for out in self._outs])
        finally:
            self._stop()
        return False

    def _stop(self):
        for p in self._procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def result(self, rounds: list | None = None) -> LimitResult:
        """The median of `rounds` (default: every round so far) as a LimitResult."""
        rounds = rounds if rounds is not None else self.rounds
        if not rounds:
            raise LabError("The physical limit has not been timed yet: call round() first.")
        wall, cpu = lower_median(rounds)
        return LimitResult(
            self.rows,
            self.processes,
            wall,
            self.rows / wall,
            self.predictions,
            cpu,
            tuple(r[0] for r in rounds),
        )


def physical_limit(rows: int, processes: int | None = None, repeats: int = 1) -> LimitResult:
    """Predict `rows` rows with the model in `processes` plain Python processes (default: one per
    core), no Spark, `repeats` times in the same processes; the median round counts (the way
    `run_scenario` counts a path's runs). A round's wall time runs from the common start (a
    barrier) to the last finish; data generation and model loading are excluded. This is the
    number every Spark path is held to."""
    require_positive("repeats", repeats)
    with LimitRunner(rows, processes) as runner:
        for _ in range(repeats):
            runner.round()
    return runner.result()


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
    imports, loads the model in each worker, JIT-compiles the JVM side, over the scenario's own
    input layout (cached first). Returns seconds."""
    layout = get_scenario(name).layout
    if layout == "files":  # the first 20,000 rows of the same file, over every partition
        return time_noop(scenario_frame(spark, name, df=file_splits(spark, rows, first=20_000)))
    df = input_frame(spark, rows, layout=layout)
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
    jvm_cpu_s: float | None = None  # core-seconds in the median run, driver JVM (local mode only)
    python_cpu_s: float | None = None  # core-seconds in the median run, daemon + Python workers
    cpu_ceiling: float | None = None  # limit's prediction CPU / (jvm + python): see cpu_ceiling()
    limit_wall_s: float | None = None  # bench: the limit's median round timed between these runs


# ---- where the CPU went: core-seconds per process role during the timed runs ------------------


def cpu_snapshot(pid: int | None = None) -> dict[int, tuple[str, float]]:
    """{pid: (role, CPU seconds so far)} for the session's JVM and its descendants (psutil)."""
    t = process_table(pid)
    return {int(r.pid): (str(r.role), float(r.cpu_s)) for r in t.itertuples()}


def tree_cpu_snapshot(roots) -> dict[int, tuple[str, float]]:
    """{pid: (role, CPU seconds so far)} for the processes `roots` and all their descendants:
    role "jvm" for Java processes, "python" for Python ones, "other" otherwise (psutil)."""
    out = {}
    for p in processes_under(roots):
        try:
            cmd = process_command(p)
            ct = p.cpu_times()
        except psutil.Error:
            continue
        role = "jvm" if "java" in cmd else "python" if "python" in cmd else "other"
        out[p.pid] = (role, ct.user + ct.system)
    return out


def cpu_spent(before: dict, after: dict) -> dict[str, float]:
    """Core-seconds per role between two `cpu_snapshot`s: {"jvm": s, "python": s}. A process alive
    at both ends counts its difference, one born in between all of its CPU; one that ended in
    between is not seen (Spark reuses its Python workers, so they outlive a job)."""
    out = {"jvm": 0.0, "python": 0.0}
    for pid, (role, cpu) in after.items():
        spent = cpu - before[pid][1] if pid in before else cpu
        if role == "jvm":
            out["jvm"] += spent
        elif role in ("daemon", "python_worker", "python"):
            out["python"] += spent
    return out


def cpu_ceiling(limit_cpu_s: float | None, jvm_s: float | None, python_s: float | None):
    """The best ratio to the limit a path could reach on this machine if no core were ever idle:
    the CPU prediction alone needs (the limit's) over all the CPU the path burned. None when a
    part is unknown."""
    if limit_cpu_s is None or jvm_s is None or python_s is None or jvm_s + python_s <= 0:
        return None
    return limit_cpu_s / (jvm_s + python_s)


def _is_local(spark) -> bool:
    return spark.sparkContext.master.startswith("local")


def run_scenario(
    spark,
    name: str,
    rows: int,
    batch_size: int | None = None,
    repeats: int = 1,
    limit_rows_per_s: float | None = None,
    parity: bool = True,
    reference: np.ndarray | None = None,
    limit_cpu_s: float | None = None,
    between: Callable | None = None,
) -> BenchRecord:
    """Warm up, then time `repeats` runs of scenario `name` over `rows` cached rows into a noop
    sink; wall_s is the median (the lower middle one for an even count). `between()` is called
    before each timed run (bench times a round of the physical limit there). In local mode also the
    CPU the driver JVM and the Python workers burned in that run (core-seconds, psutil) and, with
    `limit_cpu_s`, the CPU ceiling. With `parity`, also collect all predictions and compare them
    with the in-process reference (max absolute difference)."""
    get_scenario(name)
    require_positive("repeats", repeats)
    set_batch_size(spark, batch_size)
    warm_up(spark, name, rows)
    local = _is_local(spark)
    runs = []  # (wall, cpu by role) per timed run
    for _ in range(repeats):
        if between is not None:
            between()
        before = cpu_snapshot() if local else {}
        wall = time_noop(scenario_frame(spark, name, rows=rows))
        runs.append((wall, cpu_spent(before, cpu_snapshot()) if local else None))
    wall, cpu = lower_median(runs, key=lambda r: r[0])
    jvm_s = cpu["jvm"] if cpu else None
    python_s = cpu["python"] if cpu else None
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
        jvm_s,
        python_s,
        cpu_ceiling(limit_cpu_s, jvm_s, python_s),
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
    """Every scenario against the physical limit, measured in turns: before each timed run of a
    path, one round of the limit's processes (kept alive, `LimitRunner`), so on a noisy machine a
    path and its limit see the same conditions. Each record's ratio and CPU ceiling come from the
    median of the limit rounds timed between its own runs when there are at least
    MIN_OWN_ROUNDS of them, else from the median of all rounds (`limit_wall_s` says which wall
    time was used); the returned limit is the median of all rounds. Medians of `repeats` timed
    runs (row-at-a-time paths: `row_repeats`). Parity against the limit's own predictions.
    `progress` reports the limit and each scenario."""
    p = as_progress(progress)
    timed = []  # (record, the limit rounds timed between its runs)
    with p.task(f"bench {rows:,} rows", 1 + len(scenarios)):
        p.step("physical limit")
        with LimitRunner(rows) as runner:
            for name in scenarios:
                p.step(name)
                reps = row_repeats if get_scenario(name).row_at_a_time else repeats
                mark = len(runner.rounds)
                rec = run_scenario(
                    spark, name, rows, batch_size, reps, parity=False, between=runner.round
                )
                timed.append((rec, runner.rounds[mark:]))
            if not runner.rounds:
                runner.round()
        limit = runner.result()
        for rec, rounds in timed:
            own = runner.result(rounds) if len(rounds) >= MIN_OWN_ROUNDS else limit
            rec.limit_wall_s = own.wall_s
            rec.ratio_to_limit = rec.rows_per_s / own.rows_per_s
            rec.cpu_ceiling = cpu_ceiling(own.cpu_s, rec.jvm_cpu_s, rec.python_cpu_s)
            if parity:
                got = collect_predictions(spark, rec.name, rows)
                rec.max_abs_diff = float(np.max(np.abs(got - limit.predictions)))
    return limit, [rec for rec, _ in timed]


def limit_row(limit: LimitResult) -> dict:
    """The physical limit as a row of the bench table (the record every path is compared to): its
    prediction CPU is the Python CPU, its ratio and ceiling 1."""
    return {
        "name": "physical_limit",
        "rows": limit.rows,
        "batch_size": None,
        "wall_s": limit.wall_s,
        "rows_per_s": limit.rows_per_s,
        "ratio_to_limit": 1.0,
        "max_abs_diff": 0.0,
        "spark_version": None,
        "repeats": len(limit.walls) or 1,
        "jvm_cpu_s": 0.0 if limit.cpu_s else None,
        "python_cpu_s": limit.cpu_s,
        "cpu_ceiling": 1.0 if limit.cpu_s else None,
        "limit_wall_s": limit.wall_s,
    }


def bench_table(limit: LimitResult, records: list[BenchRecord]) -> pd.DataFrame:
    """Tidy table: one row per scenario plus the limit, sorted by throughput."""
    rows = [asdict(r) for r in records]
    df = pd.DataFrame(rows).sort_values("rows_per_s", ascending=False)
    return pd.DataFrame([limit_row(limit)] + df.to_dict("records"))


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
    "best_via_jvm": (
        "`{best}` sends no feature through the JVM (Python reads its own rows; Spark only "
        "schedules). Of the paths whose rows Spark sends to Python, the best, `{jvm_best}`, "
        "reached {jvm_ratio:.2f}."
    ),
    "cpu_above": (
        "`{best}` burned {total:.2f} core-seconds per run ({jvm:.2f} in the driver JVM, "
        "{python:.2f} in the Python daemon and workers) where the prediction alone took "
        "{limit_cpu:.2f} in the limit's processes, which would cap it at {ceiling:.2f} of the "
        "limit; it reached {best_ratio:.2f}, so the limit's own processes left the cores idle "
        "part of the time in this run (a noisy machine): rerun with more repeats before reading "
        "the gap."
    ),
    "cpu": (
        "Where its gap went: `{best}` burned {total:.2f} core-seconds per run ({jvm:.2f} in the "
        "driver JVM, {python:.2f} in the Python daemon and workers; psutil, processes alive before "
        "and after the runs) where the prediction alone took {limit_cpu:.2f} in the limit's "
        "processes. Even with no core ever idle it could reach at most {ceiling:.2f} of the "
        "limit; it reached {best_ratio:.2f}."
    ),
}


def _via_jvm(name: str) -> bool:
    """Whether the path's feature rows travel from the JVM to Python (all but the file-split
    path, which reads its rows itself). Names outside the registry count as JVM paths."""
    try:
        return get_scenario(name).layout != "files"
    except LabError:
        return True


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
    via_jvm = ranked[[_via_jvm(n) for n in ranked["name"]]]
    if not _via_jvm(best["name"]) and len(via_jvm):
        out.append(
            finding(
                BENCH_FINDINGS,
                "best_via_jvm",
                best=best["name"],
                jvm_best=via_jvm.iloc[-1]["name"],
                jvm_ratio=via_jvm.iloc[-1]["ratio_to_limit"],
            )
        )
    limit = table[table["name"] == "physical_limit"]
    if "cpu_ceiling" in table and len(limit) and pd.notna(best.get("cpu_ceiling")):
        out.append(
            finding(
                BENCH_FINDINGS,
                "cpu" if best["ratio_to_limit"] <= best["cpu_ceiling"] + 0.02 else "cpu_above",
                best=best["name"],
                total=best["jvm_cpu_s"] + best["python_cpu_s"],
                jvm=best["jvm_cpu_s"],
                python=best["python_cpu_s"],
                limit_cpu=limit["python_cpu_s"].iloc[0],
                ceiling=best["cpu_ceiling"],
                best_ratio=best["ratio_to_limit"],
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

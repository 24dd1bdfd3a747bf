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
from helpers.core.env import ARROW_UDF_CONF, spark_default_conf
from helpers.core.findings import Finding, finding, span
from helpers.core.processes import process_command, processes_under
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.validate import require_positive
from helpers.inference.scenarios import (
    BATCH_CONF,
    file_splits,
    get_scenario,
    input_frame,
    scenario_frame,
)
from helpers.measure.metrics import python_operators
from helpers.measure.samplers import process_table
from helpers.model.data import ensure_model, feature_matrix, load_booster, predict

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

    @property
    def spread(self) -> float | None:
        """How far apart the rounds were: slowest wall / fastest wall - 1 (0.12 = the fastest round
        ran 12% more rows/s than the slowest); None with fewer than two rounds."""
        if len(self.walls) < 2:
            return None
        return max(self.walls) / min(self.walls) - 1

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

    def __init__(self, rows: int, processes: int | None = None, model_path=None):
        require_positive("rows", rows)
        self.rows = rows
        self.processes = processes or psutil.cpu_count(logical=True) or 1
        self.model_path = model_path  # None: the kit's model (data/model.txt)
        self.rounds: list[tuple[float, float]] = []
        self.predictions: np.ndarray | None = None
        self._procs: list = []
        self._tmp = None

    def __enter__(self):
        model = self.model_path or ensure_model()
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


def effective_batch_size(spark, name) -> int | None:
    """Rows per batch a scenario actually uses: the Arrow conf, 100 for the pickled row udf, None
    for SynapseML (no Python worker)."""
    sc = get_scenario(name)
    pickled = sc.operator == "BatchEvalPython" or (
        sc.operator == "EvalPython" and spark_default_conf(spark, ARROW_UDF_CONF) != "true"
    )  # a plain @udf: pickled unless this Spark's conf makes it Arrow
    if pickled:
        return ROW_UDF_BATCH
    if not sc.python_worker:
        return None
    return int(spark.conf.get(BATCH_CONF))


def time_noop(frame) -> float:
    """Seconds to run `frame` into Spark's noop sink (all rows computed, nothing written)."""
    t0 = time.perf_counter()
    frame.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - t0


def warm_up(spark, name: str, rows: int, model=None) -> float:
    """Run the scenario once on a ~2% sample of every partition: starts the Python workers,
    imports, loads the model (the kit's, or `model`: see `scenario_frame`) in each worker,
    JIT-compiles the JVM side, over the scenario's own input layout (cached first). Returns
    seconds."""
    layout = get_scenario(name).layout
    if layout == "files":  # the first 20,000 rows of the same file, over every partition
        df = file_splits(spark, rows, first=20_000)
    else:
        df = input_frame(spark, rows, layout=layout)
        df = df.sample(fraction=min(1.0, 20_000 / rows), seed=1)
    return time_noop(scenario_frame(spark, name, df=df, model=model))


def collect_predictions(spark, name, rows: int, df=None, model=None) -> np.ndarray:
    """The scenario's predictions for all `rows` rows (of `df` if given), in id order, with the
    kit's model or `model` (`scenario_frame`)."""
    pdf = scenario_frame(spark, name, rows=rows, df=df, model=model).toPandas()
    return pdf.sort_values("id")["prediction"].to_numpy()


def path_checks(spark, paths: list, rows: int) -> pd.DataFrame:
    """Each path (registry names or `scenarios.user_path`s) run once on `rows` rows: the Python
    operator Spark planned for it (none: scored in the JVM) and the largest |prediction -
    reference| against the in-process reference. One row per path."""
    ref = reference_predictions(rows)
    out = []
    for p in paths:
        sc = get_scenario(p)
        ops = python_operators(scenario_frame(spark, p, rows=rows))
        got = collect_predictions(spark, p, rows)
        out.append({"name": sc.name, "python_operator": ", ".join(ops) or "(none: JVM only)",
                    "max_abs_diff": float(np.max(np.abs(got - ref)))})  # fmt: skip
    return pd.DataFrame(out)


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
    walls: tuple = ()  # every timed run's wall seconds, in order (their min-max is the spread)


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
    name,
    rows: int,
    batch_size: int | None = None,
    repeats: int = 1,
    limit_rows_per_s: float | None = None,
    parity: bool = True,
    reference: np.ndarray | None = None,
    limit_cpu_s: float | None = None,
    between: Callable | None = None,
    model=None,
) -> BenchRecord:
    """Warm up, then time `repeats` runs of scenario `name` (a registry name, or a user's path
    from `scenarios.user_path`) over `rows` cached rows into a noop sink; wall_s is the median
    (the lower middle one for an even count). `between()` is called before each timed run
    (bench times a round of the physical limit there). In local mode also the CPU the driver JVM
    and the Python workers burned in that run (core-seconds, psutil) and, with `limit_cpu_s`, the
    CPU ceiling. With `parity`, also collect all predictions and compare them with the in-process
    reference (max absolute difference). `model`: another model than the kit's, as a broadcast of
    its text (`scenarios.scenario_frame`); give its `reference` predictions for parity."""
    sc = get_scenario(name)
    require_positive("repeats", repeats)
    set_batch_size(spark, batch_size)
    warm_up(spark, name, rows, model)
    local = _is_local(spark)
    runs = []  # (wall, cpu by role) per timed run
    for _ in range(repeats):
        if between is not None:
            between()
        before = cpu_snapshot() if local else {}
        wall = time_noop(scenario_frame(spark, name, rows=rows, model=model))
        runs.append((wall, cpu_spent(before, cpu_snapshot()) if local else None))
    wall, cpu = lower_median(runs, key=lambda r: r[0])
    jvm_s = cpu["jvm"] if cpu else None
    python_s = cpu["python"] if cpu else None
    diff = None
    if parity:
        ref = reference if reference is not None else reference_predictions(rows)
        got = collect_predictions(spark, name, rows, model=model)
        diff = float(np.max(np.abs(got - ref[:rows])))
    rps = rows / wall
    return BenchRecord(
        sc.name,
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
        walls=tuple(r[0] for r in runs),
    )


def bench(
    spark,
    rows: int,
    scenarios: list,
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
    `scenarios`: registry names or user paths (`scenarios.user_path`), timed alike.
    `progress` reports the limit and each scenario."""
    p = as_progress(progress)
    timed = []  # (record, the limit rounds timed between its runs)
    with p.task(f"bench {rows:,} rows", 1 + len(scenarios)):
        p.step("physical limit")
        with LimitRunner(rows) as runner:
            for name in scenarios:
                sc = get_scenario(name)
                p.step(sc.name)
                reps = row_repeats if sc.row_at_a_time else repeats
                mark = len(runner.rounds)
                rec = run_scenario(
                    spark, name, rows, batch_size, reps, parity=False, between=runner.round
                )
                timed.append((name, rec, runner.rounds[mark:]))
            if not runner.rounds:
                runner.round()
        limit = runner.result()
        for name, rec, rounds in timed:
            own = runner.result(rounds) if len(rounds) >= MIN_OWN_ROUNDS else limit
            rec.limit_wall_s = own.wall_s
            rec.ratio_to_limit = rec.rows_per_s / own.rows_per_s
            rec.cpu_ceiling = cpu_ceiling(own.cpu_s, rec.jvm_cpu_s, rec.python_cpu_s)
            if parity:
                got = collect_predictions(spark, name, rows)
                rec.max_abs_diff = float(np.max(np.abs(got - limit.predictions)))
    return limit, [rec for _, rec, _ in timed]


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
    """Tidy table: one row per scenario plus the limit, sorted by throughput (the runs' walls stay
    on the records)."""
    rows = [{k: v for k, v in asdict(r).items() if k != "walls"} for r in records]
    df = pd.DataFrame(rows).sort_values("rows_per_s", ascending=False)
    return pd.DataFrame([limit_row(limit)] + df.to_dict("records"))


# ---- what notebook 00 saw: the limit, the bench --------------------------------

PARITY_TOL = 1e-9  # a path "agrees" when no prediction differs from the reference by more

LIMIT_FINDINGS = {
    "limit": (
        "**{rows_per_s:,.0f} rows/s** with {processes} processes on {rows:,} rows (median of "
        "{rounds}: {range} rows/s); its predictions are {parity} the single-process reference."
    ),
}


def limit_findings(limit: LimitResult, reference: np.ndarray) -> list[Finding]:
    """The physical limit's throughput (rows/s, the median round, with the range of its rounds)
    and whether its predictions equal `reference` bit for bit."""
    same = np.array_equal(limit.predictions, reference)
    walls = limit.walls or (limit.wall_s,)
    n = len(walls)
    return [
        finding(
            LIMIT_FINDINGS, "limit", rows_per_s=limit.rows_per_s, processes=limit.processes,
            rows=limit.rows, rounds=f"{n} round{'s' if n > 1 else ''}",
            range=span(limit.rows / max(walls), limit.rows / min(walls), "{:,.0f}", "-"),
            parity="bit-identical to" if same else "NOT equal to",
        )
    ]  # fmt: skip


BENCH_FINDINGS = {
    "ranked": (
        "`{best}` came closest to the physical limit: **{best_ratio:.2f}** of it, {gap:.0%} ahead "
        "of `{second}`: {verdict} the limit's own spread ({spread:.0%} over {rounds} rounds)."
    ),
    "unranked": (
        "No ranking in this run: `{best}` measured **{best_ratio:.2f}** of the physical limit, "
        "{why}; rerun."
    ),
    "parity": (
        "{n_bad} of {n} paths differ from the reference by more than {tol:.0e}{names} (largest "
        "difference {max_diff:.1e})."
    ),
    "best_via_jvm": (
        "`{best}` reads its own rows (no feature crosses the JVM); of the paths Spark feeds, "
        "`{jvm_best}` came closest ({jvm_ratio:.2f})."
    ),
    "cpu": (
        "`{best}` burned {total:.2f} core-seconds per run, prediction alone {limit_cpu:.2f}, so "
        "its CPU allows at most {ceiling:.2f}; it reached {best_ratio:.2f}{verdict}."
    ),
}


def _via_jvm(name: str) -> bool:
    """Whether the path's feature rows travel from the JVM to Python (all but the file-split
    path, which reads its rows itself). Names outside the registry count as JVM paths."""
    try:
        return get_scenario(name).layout != "files"
    except LabError:
        return True


def _parity(paths: pd.DataFrame, tol: float) -> list[Finding]:
    """How many paths differ from the reference by more than `tol`, naming them; no finding when
    no path was compared (parity off)."""
    diffs = paths["max_abs_diff"].astype(float)
    if diffs.isna().all():
        return []
    bad = paths.loc[diffs > tol, "name"].tolist()
    names = (": " + ", ".join(f"`{b}`" for b in bad)) if bad else ""
    return [
        finding(
            BENCH_FINDINGS, "parity", n_bad=len(bad), n=len(paths), tol=tol, names=names,
            max_diff=diffs.max(),
        )
    ]  # fmt: skip


def bench_findings(
    table: pd.DataFrame, limit: LimitResult | None = None, tol: float = PARITY_TOL
) -> list[Finding]:
    """What a `bench_table` (or several concatenated) says, comparing before it asserts: the path
    closest to the physical limit, with its lead over the runner-up against the spread of
    `limit`'s rounds (slowest / fastest round - 1: more than it, or inside it and so no clear
    winner); no ranking above 1.0 (noise), without a measured spread or with one path; parity of
    every path (max |prediction - reference| within `tol`); then where the best path's gap went
    (its own rows, or its CPU)."""
    paths = table[table["name"] != "physical_limit"]
    ranked = paths.sort_values("ratio_to_limit", ascending=False)
    best = ranked.iloc[0]
    top = dict(best=best["name"], best_ratio=best["ratio_to_limit"])
    spread = None if limit is None else limit.spread
    if best["ratio_to_limit"] > 1.0:
        why = "above 1.0, which no Spark path can reach: the limit's rounds were disturbed"
        out = [finding(BENCH_FINDINGS, "unranked", why=why, **top)]
    elif len(ranked) < 2 or spread is None:
        why = "the only path timed" if len(ranked) < 2 else "with no spread of the limit measured"
        out = [finding(BENCH_FINDINGS, "unranked", why=why, **top)]
    else:
        second = ranked.iloc[1]
        gap = best["ratio_to_limit"] / second["ratio_to_limit"] - 1
        verdict = "no clear winner, inside" if gap <= spread else "more than"
        out = [finding(BENCH_FINDINGS, "ranked", second=second["name"], gap=gap, spread=spread,
                       rounds=len(limit.walls), verdict=verdict, **top)]  # fmt: skip
    out += _parity(paths, tol)
    via_jvm = ranked[[_via_jvm(n) for n in ranked["name"]]]
    limit_row_ = table[table["name"] == "physical_limit"]
    if not _via_jvm(best["name"]) and len(via_jvm):
        out.append(
            finding(
                BENCH_FINDINGS, "best_via_jvm", best=best["name"], jvm_best=via_jvm.iloc[0]["name"],
                jvm_ratio=via_jvm.iloc[0]["ratio_to_limit"],
            )
        )  # fmt: skip
    elif "cpu_ceiling" in table and len(limit_row_) and pd.notna(best.get("cpu_ceiling")):
        above = best["ratio_to_limit"] > best["cpu_ceiling"] + 0.02
        out.append(
            finding(
                BENCH_FINDINGS, "cpu", best=best["name"],
                total=best["jvm_cpu_s"] + best["python_cpu_s"],
                limit_cpu=limit_row_["python_cpu_s"].iloc[0], ceiling=best["cpu_ceiling"],
                best_ratio=best["ratio_to_limit"],
                verdict=": the limit was disturbed, rerun" if above else "",
            )
        )  # fmt: skip
    return out


CHANGE_FINDINGS = {
    "change": (
        "**{variant}** ran at **{ratio:.2f}×** the rows/s of {original} (runs {lo:.2f}–{hi:.2f}×): "
        "{verdict}."
    ),
}


def change_findings(
    records: list[BenchRecord], variant: str, original: str, tol: float = PARITY_TOL
) -> list[Finding]:
    """An edited path against its original, timed in the same bench (`records`): the variant's
    rows/s over the original's (medians) with the range every pair of their runs allows; slower or
    faster only when the whole range is on one side of 1.0, else no measurable difference. Then
    parity of both. No physical limit here: its value is the one quoted where the bench ran."""
    by = {r.name: r for r in records}
    for name in (variant, original):
        if name not in by:
            raise LabError(f"No bench record named {name!r}: use one of {', '.join(by)}.")
    v, o = by[variant], by[original]
    v_walls, o_walls = v.walls or (v.wall_s,), o.walls or (o.wall_s,)
    ratio = o.wall_s / v.wall_s  # same rows: rows/s ratio = inverse wall ratio
    lo, hi = min(o_walls) / max(v_walls), max(o_walls) / min(v_walls)
    if hi < 1.0:
        verdict = f"the edit costs {1 - ratio:.0%}"
    elif lo > 1.0:
        verdict = f"the edit gains {ratio - 1:.0%}"
    else:
        verdict = "inside their runs' spread, no measurable difference; rerun with more repeats"
    out = [finding(CHANGE_FINDINGS, "change", variant=variant, original=original, ratio=ratio,
                   lo=lo, hi=hi, verdict=verdict)]  # fmt: skip
    paths = pd.DataFrame([{"name": r.name, "max_abs_diff": r.max_abs_diff} for r in (v, o)])
    return out + _parity(paths, tol)


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

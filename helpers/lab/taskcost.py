"""The fixed cost every Python task pays, and one part of it you can remove.

The flame graphs of notebook 05 show `importlib.invalidate_caches()` at the start of each task
(`pyspark/worker.py`, Spark 3.5). With Spark's `pyspark.zip`, `py4j-*-src.zip` and spark-core jar
on the workers' `sys.path`, Python 3.10-3.11 re-read the archives' directories right there (CPython
#103200). `helpers.workers.lean_daemon` takes the zips off the path when the same pyspark is
installed as a package, and the jars that hold no Python.

- `invalidate_cost`: the call itself, timed in two fresh interpreters (with and without Spark's
  archives on PYTHONPATH, pyspark imported): milliseconds per call.
- `task_overhead`: one inference path over the same rows cut into few and many partitions, with
  the stock daemon and with the lean one, each in its own session; the extra time per task is
  the slope of wall time over the number of tasks. Runs sessions of its own, so call it from a
  process without one (the notebook uses `task_overhead_in_child`, i.e.
  `python -m helpers taskcost`).
- `taskcost_findings`: what notebook 05 says about both tables.

Units: seconds, milliseconds where the name says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.core.config import ROOT, LabError
from helpers.core.findings import Finding, finding
from helpers.core.lines import SINCE, has, installed_pyspark
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.session import active_session, start_session, stop_session
from helpers.core.validate import parse_partitions, require_positive
from helpers.inference.scenarios import get_scenario, input_frame, scenario_frame
from helpers.measure.timing import collect_predictions, reference_predictions, time_noop

DAEMONS = {"stock": "pyspark.daemon", "lean": "helpers.workers.lean_daemon"}


def lean_daemon_offered(spark_version: str | None = None) -> bool:
    """Whether the lean daemon has a per-task cost to remove on this Spark (default: the installed
    pyspark): its workers call `invalidate_caches()` for every task, not only when a task changed
    `sys.path` (helpers.core.lines.SINCE)."""
    return not has("conditional_invalidate_caches", spark_version or installed_pyspark())


def offered_daemons(spark_version: str | None = None) -> tuple[str, ...]:
    """The daemons worth comparing on this Spark: stock, and lean where it has something to do."""
    return ("stock", "lean") if lean_daemon_offered(spark_version) else ("stock",)


_TIMER = """
import importlib, json, sys, time
import pyspark, pyspark.worker
times = []
for _ in range({repeats}):
    t0 = time.perf_counter(); importlib.invalidate_caches(); times.append(time.perf_counter() - t0)
zips = sum(1 for v in sys.path_importer_cache.values() if type(v).__name__ == "zipimporter")
print(json.dumps({{"pyspark": pyspark.__file__, "times": times, "zip_importers": zips}}))
"""


def spark_python_path() -> str:
    """The PYTHONPATH Spark gives its workers (`PythonUtils.sparkPythonPath`, both lines):
    pyspark.zip, the py4j source zip, and the jar that holds Spark's own classes
    (`SparkContext.jarOfObject`, there for a pyspark packaged inside that jar)."""
    import pyspark

    home = Path(pyspark.__file__).parent
    lib = home / "python" / "lib"
    zips = sorted(str(p) for p in lib.glob("*.zip"))
    if not zips:
        raise LabError(f"No pyspark.zip / py4j zip under {lib}: is pyspark installed from pip?")
    return os.pathsep.join(zips + sorted(str(p) for p in (home / "jars").glob("spark-core_*.jar")))


def invalidate_cost(repeats: int = 20) -> pd.DataFrame:
    """`importlib.invalidate_caches()` timed in a fresh interpreter with pyspark imported the way
    Spark's workers import it (from the zips on PYTHONPATH) and from site-packages. Columns:
    imported_from, pyspark_file, zip_importers, median_ms, min_ms."""
    require_positive("repeats", repeats)
    rows = []
    for label, path in (
        ("pyspark.zip (Spark's PYTHONPATH)", spark_python_path()),
        ("site-packages", ""),
    ):
        env = {**os.environ, "PYTHONPATH": path}
        out = subprocess.run(
            [sys.executable, "-c", _TIMER.format(repeats=repeats)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            raise LabError(f"Timing interpreter failed: {out.stderr.strip().splitlines()[-1:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        t = pd.Series(r["times"]) * 1e3
        rows.append(
            {
                "imported_from": label,
                "pyspark_file": r["pyspark"],
                "zip_importers": r["zip_importers"],
                "median_ms": float(t.median()),
                "min_ms": float(t.min()),
            }
        )
    return pd.DataFrame(rows)


def task_overhead(
    name: str = "map_in_pandas",
    rows: int = 200_000,
    partitions=(2, 32),
    repeats: int = 3,
    daemons=None,
) -> pd.DataFrame:
    """Wall time (best of `repeats` after a warm-up) of scenario `name` over `rows` rows in each
    partition count, with each daemon in its own fresh session. Columns: daemon, partitions, wall_s,
    wall_max_s (slowest repeat), rows_per_s, pyspark_file (where the workers imported pyspark
    from), max_abs_diff (parity against the in-process reference, checked at the largest
    partition count; None elsewhere)."""

    if active_session() is not None:
        raise LabError(
            "task_overhead starts its own sessions: stop this process's session first, or use "
            "task_overhead_in_child()."
        )
    scenario = get_scenario(name)
    if not scenario.python_worker:
        raise LabError(f"Scenario {name!r} runs no Python worker: it has no Python per-task cost.")
    require_positive("rows", rows)
    require_positive("repeats", repeats)
    parts = parse_partitions(",".join(str(p) for p in partitions))
    daemons = daemons or offered_daemons()
    unknown = [d for d in daemons if d not in DAEMONS]
    if unknown:
        raise LabError(f"Unknown daemon {unknown[0]!r}: use one of {', '.join(DAEMONS)}.")

    reference = reference_predictions(rows)
    out = []
    for daemon in daemons:
        spark = start_session(
            f"taskcost-{daemon}",
            conf={"spark.python.daemon.module": DAEMONS[daemon]},
            synapseml=False,
        )
        try:
            base = input_frame(spark, rows, layout=scenario.layout)
            origin = (
                spark.sparkContext.parallelize([0], 1)
                .map(lambda _: __import__("pyspark").__file__)
                .first()
            )
            for n in parts:
                df = base.repartition(n).cache()
                df.count()
                frame = scenario_frame(spark, name, df=df)
                time_noop(frame)  # warm-up: workers, imports, model
                walls = [time_noop(scenario_frame(spark, name, df=df)) for _ in range(repeats)]
                wall = min(walls)
                diff = None
                if n == parts[-1]:  # parity once per daemon, where the most tasks ran
                    diff = float(
                        np.max(np.abs(collect_predictions(spark, name, rows, df=df) - reference))
                    )
                out.append(
                    {
                        "daemon": daemon,
                        "partitions": n,
                        "wall_s": wall,
                        "wall_max_s": max(walls),
                        "rows_per_s": rows / wall,
                        "pyspark_file": origin,
                        "max_abs_diff": diff,
                    }
                )
                df.unpersist()
        finally:
            stop_session()
    return pd.DataFrame(out)


def per_task_seconds(table: pd.DataFrame) -> pd.DataFrame:
    """Per daemon: the least-squares slope of wall time over the number of tasks (seconds of wall
    time each extra task adds; on k slots a task's own cost is about k times that), its noise band
    (ms: the repeats' spread, slowest minus fastest, at the fewest and the most partitions, over
    the partitions between them; NaN without `wall_max_s`), and the wall time at the most
    partitions. Columns: daemon, per_task_wall_ms, noise_ms, wall_s_at_most_tasks."""
    rows = []
    for daemon, g in table.groupby("daemon", sort=False):
        x, y = g.partitions.astype(float), g.wall_s.astype(float)
        slope = float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
        if "wall_max_s" in g:
            spread = g.wall_max_s.astype(float) - y
            noise = float(spread[x.idxmin()] + spread[x.idxmax()]) / float(x.max() - x.min())
        else:
            noise = float("nan")
        rows.append(
            {
                "daemon": daemon,
                "per_task_wall_ms": slope * 1e3,
                "noise_ms": noise * 1e3,
                "wall_s_at_most_tasks": float(g.loc[x.idxmax(), "wall_s"]),
            }
        )
    return pd.DataFrame(rows)


def task_overhead_in_child(
    name: str = "map_in_pandas",
    rows: int = 200_000,
    partitions=(2, 32),
    repeats: int = 3,
    timeout: float = 900,
    progress: Progress | Sink | None = None,
) -> pd.DataFrame:
    """`task_overhead` in a child process (`python -m helpers taskcost`), so the caller's own Spark
    session stays up; `progress` ticks every 2 s while the child runs (its sessions and timed
    runs). Returns the same table."""
    with tempfile.TemporaryDirectory(prefix="taskcost-") as tmp:
        path = Path(tmp) / "taskcost.json"
        cmd = [
            sys.executable,
            "-m",
            "helpers",
            "taskcost",
            "--scenario",
            name,
            "--rows",
            str(rows),
            "--partitions",
            ",".join(str(p) for p in partitions),
            "--repeats",
            str(repeats),
            "--json",
            str(path),
        ]
        err = Path(tmp) / "stderr.txt"
        p = as_progress(progress)
        with p.task("task cost (child process)", None), open(err, "w") as fh:
            child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=fh, cwd=ROOT)
            start = time.monotonic()
            while child.poll() is None:
                if time.monotonic() - start > timeout:
                    child.kill()
                    child.wait()
                    raise LabError(f"taskcost child took more than {timeout:.0f} s: stopped.")
                p.step(f"{name}: {len(offered_daemons())} daemon(s) x {len(partitions)} sizes")
                time.sleep(2.0)
        if child.returncode != 0:
            lines = [ln for ln in err.read_text().splitlines() if ln.startswith("error:")]
            raise LabError(
                lines[-1][7:]
                if lines
                else f"taskcost child failed with exit code {child.returncode}."
            )
        return pd.DataFrame(json.loads(path.read_text()))


TASKCOST_FINDINGS = {
    "in_stacks": (
        "**`invalidate_caches()` took {share:.1%} of {scenario}'s sampled worker time.** Spark "
        "{version} calls it {when}."
    ),
    "per_task": (
        "From the stacks: {seconds:.2f} s over {tasks} tasks, **{per_task_ms:.0f} ms per task**, "
        "{ratio:.1f}x one call timed alone ({zip_ms:.1f} ms): {verdict}."
    ),
    "daemons": (
        "Each extra task cost **{stock_ms:.0f} ms** with the stock daemon, {lean} with the lean "
        "one (noise ±{noise_ms:.0f} ms; max |diff| {max_diff:.1g}): {verdict}."
    ),
}


def lean_verdict(stock, lean) -> tuple[str, float]:
    """The lean daemon against the stock one, from their `per_task_seconds` rows: "faster",
    "slower" or "noise" (the gap inside both noise bands added), and that band in ms. A NaN band
    (runs without wall_max_s) compares False both ways: "noise", no verdict."""
    band = float(stock.noise_ms + lean.noise_ms)
    saved = float(stock.per_task_wall_ms - lean.per_task_wall_ms)
    return ("faster" if saved > band else "slower" if -saved > band else "noise"), band


PER_TASK_BAND = 1.5  # stacks' time per task within 1.5x of one call alone: "alike"


def _site_relative(path: str) -> str:
    return path.split("site-packages/")[-1]


def invalidate_when(spark_version: str | None = None) -> str:
    """When this Spark's workers call `importlib.invalidate_caches()` (helpers.core.lines.SINCE)."""
    if lean_daemon_offered(spark_version):
        return "at the start of every task"
    return "only when a task changed `sys.path`"


def taskcost_findings(
    calls: pd.DataFrame,
    tasks: pd.DataFrame,
    spark_version: str | None = None,
    stacks_share: float | None = None,
    stacks_scenario: str = "the profiled job",
    stacks_seconds: float | None = None,
    stacks_tasks: int | None = None,
    slots: int = 2,
) -> list[Finding]:
    """What the two experiments found: the share of sampled worker time `invalidate_caches()`
    took in a flame graph of this run (`stacks_share` of `stacks_scenario`, if given) and when
    this Spark calls it; with `stacks_seconds` (all sampled worker seconds) and `stacks_tasks`,
    that time per task beside one call timed alone (alike within PER_TASK_BAND, slower with
    `slots` workers at once, or fewer calls caught than tasks; one call from the zip is `calls`'
    first row, `invalidate_cost`); the wall time each extra task adds (ms) per daemon and the
    verdict against the noise band (`per_task_seconds`: the lean daemon is faster, slower, or
    within noise). Without a lean run (a Spark that calls `invalidate_caches()` only when needed)
    says why it was not run."""
    version = spark_version or installed_pyspark()
    zipped = calls.iloc[0]
    slopes = per_task_seconds(tasks).set_index("daemon")
    out = []
    if stacks_share is not None:
        when = invalidate_when(version)
        out.append(
            finding(
                TASKCOST_FINDINGS,
                "in_stacks",
                share=stacks_share,
                scenario=stacks_scenario,
                version=version,
                when=when,
            )
        )
    if stacks_share and stacks_seconds and stacks_tasks:
        seconds = stacks_share * stacks_seconds
        per_task = seconds / stacks_tasks
        ratio = per_task / (float(zipped.median_ms) / 1e3)
        if ratio > PER_TASK_BAND:
            verdict = (
                f"the stacks count wall time, and here {slots} workers and the JVM share {slots} "
                "cores where the call alone had an idle one"
            )
        elif ratio < 1 / PER_TASK_BAND:
            verdict = "the sampler caught less than one call per task: read the share as a floor"
        else:
            verdict = "one call per task, as the source says"
        out.append(finding(TASKCOST_FINDINGS, "per_task", seconds=seconds, tasks=stacks_tasks,
                           per_task_ms=per_task * 1e3, ratio=ratio, zip_ms=float(zipped.median_ms),
                           verdict=verdict))  # fmt: skip
    stock = slopes.loc["stock"]
    values = dict(stock_ms=float(stock.per_task_wall_ms), max_diff=float(tasks.max_abs_diff.max()))
    if "lean" not in slopes.index:
        change = SINCE["conditional_invalidate_caches"][1]
        lean, noise = "not run", float(stock.noise_ms)
        verdict = f"this Spark has nothing for it to remove ({change})"
    else:
        ms = float(slopes.loc["lean"].per_task_wall_ms)
        lean = f"{ms:.0f} ms"
        verdict, noise = lean_verdict(stock, slopes.loc["lean"])
        verdict = {
            "faster": "the lean daemon saves time per task",
            "slower": "the lean daemon was slower in this run",
            "noise": "inside the noise, no verdict; rerun with more repeats",
        }[verdict]
    out.append(finding(TASKCOST_FINDINGS, "daemons", lean=lean, noise_ms=noise, verdict=verdict,
                       **values))  # fmt: skip
    return out

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
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.core.config import ROOT, LabError
from helpers.core.findings import Finding, finding
from helpers.core.lines import SINCE, has, installed_pyspark
from helpers.core.session import active_session, start_session, stop_session
from helpers.core.validate import parse_partitions, require_positive
from helpers.measure.timing import collect_predictions, reference_predictions, time_noop
from helpers.paths.scenarios import get_scenario, input_frame, scenario_frame

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
    rows_per_s, pyspark_file (where the workers imported pyspark from), max_abs_diff (parity against
    the in-process reference, checked at the largest partition count; None elsewhere)."""

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
                wall = min(time_noop(scenario_frame(spark, name, df=df)) for _ in range(repeats))
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
    time each extra task adds; on k slots a task's own cost is about k times that), and the wall
    time at the most partitions. Columns: daemon, per_task_wall_ms, wall_s_at_most_tasks."""
    rows = []
    for daemon, g in table.groupby("daemon", sort=False):
        x, y = g.partitions.astype(float), g.wall_s.astype(float)
        slope = float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
        rows.append(
            {
                "daemon": daemon,
                "per_task_wall_ms": slope * 1e3,
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
) -> pd.DataFrame:
    """`task_overhead` in a child process (`python -m helpers taskcost`), so the caller's own Spark
    session stays up. Returns the same table."""
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
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout)
        if out.returncode != 0:
            lines = [ln for ln in out.stderr.strip().splitlines() if ln.startswith("error:")]
            raise LabError(
                lines[-1][7:]
                if lines
                else f"taskcost child failed with exit code {out.returncode}."
            )
        return pd.DataFrame(json.loads(path.read_text()))


TASKCOST_FINDINGS = {
    "invalidate": (
        "One `invalidate_caches()` took **{zip_ms:.1f} ms** on the path Spark gives its workers "
        "(pyspark imported from the zip; {zip_importers} zip importers to refresh, Spark's "
        "spark-core jar among them) and {plain_ms:.3f} ms with the lean daemon's path."
    ),
    "per_task_faster": (
        "In Spark, each extra task added **{stock_ms:.0f} ms** of wall time with the stock daemon "
        "and {lean_ms:.0f} ms with the lean one; at {partitions} partitions the lean daemon's job "
        "was {gain:.0%} faster, with identical predictions (max |diff| {max_diff:.1g})."
    ),
    "per_task_not_faster": (
        "In Spark, each extra task added **{stock_ms:.0f} ms** of wall time with the stock daemon "
        "and {lean_ms:.0f} ms with the lean one; at {partitions} partitions the lean daemon's job "
        "was not faster in this run ({gain:+.0%}), with identical predictions (max |diff| "
        "{max_diff:.1g})."
    ),
    "per_task_stock_only": (
        "In Spark, each extra task added **{stock_ms:.0f} ms** of wall time with the stock daemon "
        "(max |diff| {max_diff:.1g}). Spark {version} calls `invalidate_caches()` only when a task "
        "changed `sys.path` ({change}), so the lean daemon has nothing to remove here and is not "
        "offered."
    ),
    "origin": (
        "The workers imported pyspark from `{stock_file}` vs `{lean_file}`. What remains per task "
        "(scheduling, the broadcast, opening the Arrow stream) is why few large tasks beat many "
        "small ones for inference."
    ),
}


def _site_relative(path: str) -> str:
    return path.split("site-packages/")[-1]


def taskcost_findings(
    calls: pd.DataFrame, tasks: pd.DataFrame, spark_version: str | None = None
) -> list[Finding]:
    """What the two experiments found: one `invalidate_caches()` in ms with pyspark from the zip
    and from site-packages (`invalidate_cost`, zip row first); the wall time each extra task adds
    (ms) per daemon, the lean daemon's gain at the most partitions, the predictions' largest
    difference and where the workers imported pyspark from (`task_overhead`). Without a lean run
    (a Spark that calls `invalidate_caches()` only when needed) says why it was not offered."""
    zipped, plain = calls.iloc[0], calls.iloc[1]
    slopes = per_task_seconds(tasks).set_index("daemon")
    stock, lean = tasks[tasks.daemon == "stock"], tasks[tasks.daemon == "lean"]
    most = int(stock.partitions.max())
    invalidate = finding(
        TASKCOST_FINDINGS,
        "invalidate",
        zip_ms=float(zipped.median_ms),
        zip_importers=int(zipped.zip_importers),
        plain_ms=float(plain.median_ms),
    )
    if lean.empty:
        return [
            invalidate,
            finding(
                TASKCOST_FINDINGS,
                "per_task_stock_only",
                stock_ms=float(slopes.loc["stock", "per_task_wall_ms"]),
                max_diff=float(tasks.max_abs_diff.max()),
                version=spark_version or installed_pyspark(),
                change=SINCE["conditional_invalidate_caches"][1],
            ),
        ]
    gain = (
        float(slopes.loc["stock", "wall_s_at_most_tasks"])
        / float(lean.set_index("partitions").wall_s[most])
        - 1
    )
    per_task = dict(
        stock_ms=float(slopes.loc["stock", "per_task_wall_ms"]),
        lean_ms=float(slopes.loc["lean", "per_task_wall_ms"]),
        partitions=most,
        gain=gain,
        max_diff=float(tasks.max_abs_diff.max()),
    )
    return [
        invalidate,
        finding(
            TASKCOST_FINDINGS, "per_task_faster" if gain > 0 else "per_task_not_faster", **per_task
        ),
        finding(
            TASKCOST_FINDINGS,
            "origin",
            stock_file=_site_relative(stock.pyspark_file.iloc[0]),
            lean_file=_site_relative(lean.pyspark_file.iloc[0]),
        ),
    ]

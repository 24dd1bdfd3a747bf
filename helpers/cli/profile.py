"""`python -m helpers profile`: Python-worker and JVM flame graphs of one scenario, written to a
folder."""

from __future__ import annotations

import os
from pathlib import Path

from helpers.cli.common import write_json
from helpers.core.cluster import LocalStandalone
from helpers.core.config import atomic_write_bytes, scale_rows
from helpers.core.processes import running_pids
from helpers.core.progress import as_progress
from helpers.core.session import start_session, stop_session, wait_for_executors
from helpers.core.ship import kit_hints
from helpers.core.validate import require_positive
from helpers.inference.scenarios import get_scenario, scenario_frame
from helpers.measure.timing import set_batch_size, time_noop, warm_up
from helpers.profile.executor_evidence import (
    cluster_profile_conf,
    finish,
    profiled_job,
    write_layout,
)
from helpers.profile.jvm import jfr_java_options
from helpers.profile.pyspy import py_spy_profile
from helpers.profile.worker_profilers import (
    pause_workers,
    profile_scenario,
    write_breakdown,
)
from helpers.viz.flamegraph import plot_profile
from helpers.viz.flamegraph_html import write_flame_html


def run_profile_cli(
    scenario: str,
    rows: int | None,
    out_dir,
    batch_size: int | None = 10_000,
    interval_ms: float = 5.0,
    py_spy: bool = False,
) -> dict:
    """`python -m helpers profile`: a fresh profiled session (worker sampler + JFR), one run of
    `scenario`, then python.collapsed, jvm.collapsed (and their interactive .html), breakdown.json
    and profile.png in `out_dir`. With `py_spy`, one more run under py-spy --native (sampler
    paused): pyspy.raw, pyspy.collapsed, pyspy.html, and 'pyspy_native_share' in the breakdown.
    Returns the breakdown dict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    get_scenario(scenario)
    rows = rows or scale_rows("row" if get_scenario(scenario).row_at_a_time else "arrow")
    require_positive("rows", rows)
    out = Path(out_dir)
    spark = start_session(
        "profile",
        java_options=jfr_java_options(),
        profile="cpu",
        profile_dir=out / "workers",
        profile_interval_ms=interval_ms,
    )
    spy = None
    with_spy = py_spy and get_scenario(scenario).python_worker
    p = as_progress(None)  # the CLI's default sink: stderr on a terminal
    try:
        with p.task("profile", 3 + int(with_spy)):
            result = profile_scenario(
                spark, scenario, rows, out, out / "workers", batch_size=batch_size, progress=p
            )
            if with_spy:
                p.step(f"{scenario}: py-spy --native run")
                pause_workers(out / "workers")
                spy = py_spy_profile(spark, scenario, rows, out, batch_size=batch_size)
    finally:
        stop_session()
    for name, stacks, side in (
        ("python", result.python, "python"),
        ("jvm", result.jvm, "jvm"),
        ("pyspy", spy.stacks if spy else {}, "python"),
    ):
        if stacks:
            write_flame_html(stacks, out / f"{name}.html", title=f"{scenario}: {name}", side=side)
    payload = write_breakdown(result, out / "breakdown.json", pyspy=spy)
    fig = plot_profile(result)
    tmp = out / ".profile.tmp.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, out / "profile.png")
    return payload


def run_profile_cluster(
    scenario: str,
    rows: int | None,
    out_dir,
    workers: int,
    shared_dir=None,
    batch_size: int | None = 10_000,
    interval_ms: float = 5.0,
) -> dict:
    """`python -m helpers profile --cluster N`: a fresh N-worker standalone cluster, a profiled
    session on it (worker sampler in every executor, JFR in every executor JVM dumped at exit into
    `shared_dir/jfr`, default `out_dir/shared`), a warm-up, then one noop run of `scenario`.
    Evidence comes back through Spark (`helpers.profile.executor_evidence`); writes
    `executors/<id>/` with each executor's Python and JVM stacks (.collapsed, .html), the merged
    stacks and their .html, tasks.csv, memory.csv, executors.json and summary.json in `out_dir`.
    Everything the cluster started is stopped; summary['left_running'] counts what was not (0)."""
    get_scenario(scenario)
    require_positive("workers", workers)
    rows = rows or scale_rows("row" if get_scenario(scenario).row_at_a_time else "arrow")
    require_positive("rows", rows)
    out = Path(out_dir)
    shared = Path(shared_dir) if shared_dir else out / "shared"
    conf = cluster_profile_conf(shared, interval_ms)
    with LocalStandalone(workers=workers) as cluster:
        spark = start_session("profile-cluster", conf=conf, master=cluster.master_url)
        try:
            with kit_hints():
                wait_for_executors(spark, workers)
                set_batch_size(spark, batch_size)
                warm_up(spark, scenario, rows)
                frame = scenario_frame(spark, scenario, rows=rows)
                run = profiled_job(spark, lambda: time_noop(frame))
                pids = cluster.pids()  # master, workers, executors, daemons, Python workers
        finally:
            stop_session()
            cluster.wait_executors_exit()
    finish(run, shared)
    write_layout(out, run.evidence, run.since, run.until, run.tasks)
    sides = [("python", run.python, run.per_executor("python"))]
    sides.append(("jvm", run.jvm, run.per_executor("jvm")))
    for side, merged, per in sides:
        if merged:
            write_flame_html(
                merged, out / f"{side}.html", title=f"{scenario}: {side}, merged", side=side
            )
        for eid, stacks in per.items():
            if stacks:
                write_flame_html(
                    stacks,
                    out / "executors" / eid / f"{side}.html",
                    title=f"{scenario}: {side}, executor {eid}",
                    side=side,
                )
    atomic_write_bytes(out / "memory.csv", run.memory.to_csv(index=False).encode())
    summary = {
        "scenario": scenario,
        "rows": rows,
        "batch_size": batch_size,
        "workers": workers,
        "wall_s": run.result,
        "executors": sorted(run.evidence),
        "tasks": int(len(run.tasks)),
        "stragglers": int(run.tasks.straggler.sum()) if len(run.tasks) else 0,
        "python_s": sum(run.python.values()) / 1e6,
        "jvm_s": sum(run.jvm.values()) / 1e6,
        "missing_jfr": run.missing_jfr,
        "shared_dir": str(shared.resolve()),
        "pids": pids,
        "left_running": len(running_pids(pids)),
    }
    write_json(str(out / "summary.json"), summary)
    return summary

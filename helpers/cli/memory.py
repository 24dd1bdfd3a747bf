"""`python -m helpers memory`: layer timelines and memray peaks of one scenario, in a folder; on a
cluster (`--cluster N`), each executor's memory peaks from Spark's own executor metrics and, with
`--memray`, the memray peaks of each executor's Python workers, brought back through Spark."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from helpers.core.config import LabError, atomic_write_bytes
from helpers.core.processes import running_pids
from helpers.core.session import on_cluster, start_session, stop_session
from helpers.core.ship import kit_hints
from helpers.core.validate import require_positive
from helpers.inference.scenarios import get_scenario, scenario_frame
from helpers.measure.executor_metrics import (
    FAST_POLL,
    MEMORY_METRICS,
    executor_memory,
    executor_metrics_conf,
    wide_peaks,
)
from helpers.measure.timing import set_batch_size, time_noop, warm_up
from helpers.profile.executor_evidence import cluster_memray_conf, profiled_job, write_memray_peaks
from helpers.profile.memory import memory_run, meters_side_by_side, write_run

GROUP = "lab-memory-job"


def run_memory_command(
    scenario: str,
    rows: int,
    batch_size: int | None,
    out_dir,
    partitions: int | None = None,
    interval: float = 0.05,
) -> dict:
    """The `memory` CLI command: a memray-profiled session, one run of `scenario`, the files of
    `write_run` in `out_dir`, and `meters.csv`: the kit's psutil/JMX peaks next to Spark's own
    executor metrics for the same job (`profile.memory.meters_side_by_side`). The session and all
    its processes are stopped at the end."""

    get_scenario(scenario)
    require_positive("rows", rows)
    out = Path(out_dir)
    worker_dir = out / "worker-tmp"
    spark = start_session(
        "memory-cli",
        conf=executor_metrics_conf(poll=FAST_POLL),
        profile="memray",
        profile_dir=worker_dir,
    )
    try:
        spark.sparkContext.setJobGroup(GROUP, "memory run")
        run = memory_run(
            spark,
            scenario,
            rows,
            worker_dir,
            out / "captures",
            batch_size=batch_size,
            partitions=partitions,
            interval=interval,
        )
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
        meters = meters_side_by_side(run, executor_memory(spark, GROUP, last=True))
        summary = write_run(run, out)
    finally:
        stop_session()
    atomic_write_bytes(out / "meters.csv", meters.to_csv(index=False).encode())
    summary["meters"] = meters.to_dict("records")
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=1, default=float).encode())
    return summary


def run_memory_cluster(
    scenario: str, rows: int, batch_size: int | None, out_dir, workers: int, memray: bool = False
) -> dict:
    """`memory --cluster N`: one run of `scenario` on a fresh N-worker standalone cluster, each
    executor's peaks during the job from Spark's executor metrics (REST; process-tree metrics on,
    polled, `executor_metrics_conf`): executor_memory.csv (tidy, bytes) and summary.json in
    `out_dir`. No process table is read: this works for executors on other hosts too.

    `memray`: memray records every Python task on the executors (`cluster_memray_conf`); after the
    job a collecting Spark job reads each executor's captures where they lie and returns their
    numbers (`profile.executor_evidence.collect_executor_files`): executors/<id>/memray-peak.json
    and memray_peaks.csv (`write_memray_peaks`: peak bytes of the largest task, tasks, workers, the
    allocation sites at the peak), and summary['memray'] (one record per executor). Spark's metrics
    then include memray's own overhead. summary['left_running'] counts the cluster's processes still
    alive at the end (0)."""
    sc = get_scenario(scenario)
    require_positive("rows", rows)
    require_positive("workers", workers)
    if memray and not sc.python_worker:
        raise LabError(
            f"{scenario} runs no Python worker, so memray has nothing to record: "
            "pick a Python scenario or drop --memray."
        )
    out = Path(out_dir)
    conf = cluster_memray_conf() if memray else executor_metrics_conf(poll=FAST_POLL)
    table = None
    with on_cluster(workers, "memory-cluster", conf=conf) as (spark, cluster):
        with kit_hints():
            set_batch_size(spark, batch_size)
            warm_up(spark, scenario, rows)
            frame = scenario_frame(spark, scenario, rows=rows)
            if memray:
                run = profiled_job(spark, lambda: time_noop(frame), group=GROUP)
                wall = run.result
                table = write_memray_peaks(out, run.evidence, run.since, run.until)
            else:
                spark.sparkContext.setJobGroup(GROUP, "memory run")
                wall = time_noop(frame)
                spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
            peaks = executor_memory(spark, GROUP, last=True)
            pids = cluster.pids()  # master, workers, executors, daemons, Python workers
    atomic_write_bytes(out / "executor_memory.csv", peaks.to_csv(index=False).encode())
    summary = {
        "scenario": scenario,
        "rows": rows,
        "batch_size": batch_size,
        "workers": workers,
        "wall_s": wall,
        "meter": "Spark executor metrics (REST stages/<id>/<attempt> executorSummary peaks)",
        "metrics": MEMORY_METRICS,
        "peaks_mib": wide_peaks(peaks).to_dict("records"),
        "pids": pids,
        "left_running": len(running_pids(pids)),
    }
    if table is not None:
        summary["memray_meter"] = (
            "memray in each executor's Python workers (metadata.peak_memory per task), read on "
            "the executors by a collecting Spark job"
        )
        summary["memray"] = json.loads(table.to_json(orient="records"))
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=1, default=float).encode())
    return summary


def memray_table(records: list[dict]) -> str:
    """The per-executor memray table of `memory --cluster N --memray` as text (MiB)."""
    if not records:
        return "memray: no executor reported a capture"
    rows = [
        {
            "executor": r["executor"],
            "tasks": r["tasks"],
            "workers": r["workers"],
            "peak MiB": r["peak_bytes"] / 2**20,
            "peak task": r["peak_task"] or "-",
            "at once": r["concurrent_tasks"],
            "widest site at the peak": (
                f"{r['top_site']} {r['top_site_bytes'] / 2**20:.1f} MiB" if r["top_site"] else "-"
            ),
        }
        for r in records
    ]
    return "memray peaks of the Python workers, per executor:\n" + pd.DataFrame(rows).to_string(
        index=False, float_format=lambda v: f"{v:.1f}"
    )

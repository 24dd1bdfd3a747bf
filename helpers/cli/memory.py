"""`python -m helpers memory`: layer timelines and memray peaks of one scenario, in a folder; on a
cluster (`--cluster N`), each executor's memory peaks from Spark's own executor metrics."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.core.config import atomic_write_bytes
from helpers.core.session import on_cluster, start_session, stop_session
from helpers.core.validate import require_positive
from helpers.measure.executors import (
    EXECUTOR_METRICS_CONF,
    MEMORY_METRICS,
    executor_memory,
    wide_peaks,
)
from helpers.measure.timing import set_batch_size, time_noop, warm_up
from helpers.paths.scenarios import get_scenario, input_frame, scenario_frame
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
        "memory-cli", conf=EXECUTOR_METRICS_CONF, profile="memray", profile_dir=worker_dir
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
    scenario: str, rows: int, batch_size: int | None, out_dir, workers: int
) -> dict:
    """`memory --cluster N`: one run of `scenario` on a fresh N-worker standalone cluster, each
    executor's peaks during the job from Spark's executor metrics (REST; process-tree metrics on,
    polled every 100 ms): executor_memory.csv (tidy, bytes) and summary.json in `out_dir`. No
    process table is read: this works for executors on other hosts too."""
    get_scenario(scenario)
    require_positive("rows", rows)
    out = Path(out_dir)
    with on_cluster(workers, "memory-cluster", conf=EXECUTOR_METRICS_CONF) as (spark, _):
        set_batch_size(spark, batch_size)
        input_frame(spark, rows)
        warm_up(spark, scenario, rows)
        frame = scenario_frame(spark, scenario, rows=rows)
        spark.sparkContext.setJobGroup(GROUP, "memory run")
        wall = time_noop(frame)
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
        peaks = executor_memory(spark, GROUP, last=True)
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
    }
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=1, default=float).encode())
    return summary

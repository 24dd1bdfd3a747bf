"""Executors as Spark itself reports them, through the driver's REST API (`/api/v1`): per-task
times (to spot stragglers) and executor memory peaks (`peakMemoryMetrics`). Nothing here reads an
executor's disk or process table: it works the same on a cluster of other hosts.

- Tasks: `/applications/<app>/jobs` (the stages of one job group), then
  `/stages/<id>/<attempt>/taskList`: per task its executor, launch time, duration, run and CPU
  time. `task_table` parses it; `stragglers` compares each task with its stage's median.
- Memory: `/applications/<app>/executors` (`peakMemoryMetrics` of each executor over its life
  so far) or `/stages/<id>/<attempt>` (`executorSummary.<id>.peakMemoryMetrics`, peaks during that
  stage). The `ProcessTree*` metrics need `spark.executor.processTreeMetrics.enabled=true` (Spark
  reads `/proc` of the executor JVM and its children: `ProcessTreePythonRSSMemory` is the RSS of the
  `pyspark.daemon` and its workers); `spark.executor.metrics.pollingInterval` > 0 samples them while
  tasks run (otherwise only at heartbeats, every 10 s), and each task's end reports its peaks.
  `executor_metrics_conf` sets both: polled every 100 ms where listing the process tree is cheap,
  every 1 s on lines whose ProcfsMetricsGetter starts a `pgrep` process per level of the tree on
  each poll (3.5: at 100 ms that made a 1M-row job on the 2-worker cluster ~1.6x slower in our
  runs; at 1 s no slower than without the metrics).
- The event log carries the same per-stage peaks after the application ended (a history server or
  a file is all that is needed): `spark.eventLog.enabled=true`, `spark.eventLog.dir=<folder or
  object store>` and `spark.eventLog.logStageExecutorMetrics=true` write one
  `SparkListenerStageExecutorMetrics` event per stage and executor; `event_log_peaks` reads them
  from a plain or zstd-compressed log, or a rolling log's folder (the 4.x defaults).
Units: seconds and bytes.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from helpers.core.config import LabError
from helpers.core.lines import has, installed_pyspark
from helpers.measure.metrics import rest_json

FAST_POLL, SLOW_POLL = "100ms", "1s"


def metrics_poll(spark_version: str | None = None) -> str:
    """The executor metrics polling interval for a Spark version (default: the installed pyspark):
    100 ms where the process tree is listed in the JVM, 1 s where every poll starts `pgrep`."""
    version = spark_version or installed_pyspark() or "0"
    return FAST_POLL if has("procfs_tree_without_pgrep", version) else SLOW_POLL


def executor_metrics_conf(spark_version: str | None = None, poll: str | None = None) -> dict:
    """Confs that make executors report process-tree memory peaks while tasks run, polled every
    `poll` (default `metrics_poll`: cheap enough for a timed or profiled job). A memory measurement
    of a short job passes FAST_POLL: a 1 s poll can miss a sub-second task's peak entirely."""
    return {
        "spark.executor.processTreeMetrics.enabled": "true",
        "spark.executor.metrics.pollingInterval": poll or metrics_poll(spark_version),
    }


# The peaks this kit shows, with what each one measures.
MEMORY_METRICS = {
    "ProcessTreePythonRSSMemory": "RSS of the executor's Python processes (daemon + workers)",
    "ProcessTreeJVMRSSMemory": "RSS of the executor JVM",
    "JVMHeapMemory": "JVM heap used",
    "JVMOffHeapMemory": "JVM non-heap used (metaspace, code cache)",
    "DirectPoolMemory": "NIO direct buffer pool used",
    "OffHeapExecutionMemory": "Spark's off-heap execution memory",
}

TASK_COLUMNS = [
    "stage",
    "task",
    "index",
    "executor",
    "host",
    "status",
    "launch_s",
    "duration_s",
    "run_s",
    "cpu_s",
    "gc_s",
    "deserialize_s",
    "records_read",
]


def app_url(spark) -> str:
    """The REST address of `spark`'s application on the driver's UI."""
    sc = spark.sparkContext
    if not sc.uiWebUrl:
        raise LabError("The Spark UI is off (spark.ui.enabled=false): its REST API is needed here.")
    return f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}"


def rest_time(text: str | None) -> float | None:
    """A REST time ('2026-12-01T05:03:04.123GMT') in epoch seconds."""
    if not text:
        return None
    return (
        datetime.strptime(text.replace("GMT", ""), "%Y-%m-%dT%H:%M:%S.%f")
        .replace(tzinfo=timezone.utc)
        .timestamp()
    )


def group_stages(jobs: list[dict], group: str, last: bool = False) -> list[tuple[int, int]]:
    """(stage id, attempt 0) of every job of job group `group` in a `/jobs` answer, sorted;
    `last`: of its latest job only."""
    mine = [j for j in jobs if j.get("jobGroup") == group]
    if last and mine:
        mine = [max(mine, key=lambda j: j["jobId"])]
    ids = {s for j in mine for s in j.get("stageIds", [])}
    return [(s, 0) for s in sorted(ids)]


def task_table(tasks: list[dict], stage: int) -> pd.DataFrame:
    """One stage's `taskList` answer as a table (TASK_COLUMNS; seconds, epoch for launch_s)."""
    rows = []
    for t in tasks:
        m = t.get("taskMetrics") or {}
        rows.append(
            {
                "stage": stage,
                "task": t["taskId"],
                "index": t["index"],
                "executor": str(t["executorId"]),
                "host": t.get("host"),
                "status": t.get("status"),
                "launch_s": rest_time(t.get("launchTime")),
                "duration_s": (t.get("duration") or 0) / 1e3,
                "run_s": m.get("executorRunTime", 0) / 1e3,
                "cpu_s": m.get("executorCpuTime", 0) / 1e9,
                "gc_s": m.get("jvmGcTime", 0) / 1e3,
                "deserialize_s": m.get("executorDeserializeTime", 0) / 1e3,
                "records_read": (m.get("inputMetrics") or {}).get("recordsRead", 0),
            }
        )
    return pd.DataFrame(rows, columns=TASK_COLUMNS).sort_values(
        ["stage", "index"], ignore_index=True
    )


def stragglers(tasks: pd.DataFrame, factor: float = 1.5) -> pd.DataFrame:
    """`tasks` plus `vs_median` (duration / its stage's median duration) and `straggler` (above
    `factor` times the median, in a stage of at least 3 tasks)."""
    out = tasks.copy()
    median = out.groupby("stage").duration_s.transform("median")
    size = out.groupby("stage").duration_s.transform("size")
    out["vs_median"] = out.duration_s / median.where(median > 0)
    out["straggler"] = (size >= 3) & (out.vs_median > factor)
    return out


def per_executor(tasks: pd.DataFrame) -> pd.DataFrame:
    """Tasks, summed and longest task time per executor (seconds)."""
    if tasks.empty:
        return pd.DataFrame(columns=["executor", "tasks", "task_s", "longest_s", "cpu_s"])
    g = tasks.groupby("executor")
    return pd.DataFrame(
        {
            "tasks": g.size(),
            "task_s": g.duration_s.sum(),
            "longest_s": g.duration_s.max(),
            "cpu_s": g.cpu_s.sum(),
        }
    ).reset_index()


def group_tasks(spark, group: str) -> pd.DataFrame:
    """Every task of the jobs run under job group `group` (`sc.setJobGroup`), from the REST API."""
    base = app_url(spark)
    frames = [
        task_table(rest_json(f"{base}/stages/{s}/{a}/taskList?length=100000"), s)
        for s, a in group_stages(rest_json(f"{base}/jobs"), group)
    ]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TASK_COLUMNS)


def memory_peaks(executors: list[dict], metrics=tuple(MEMORY_METRICS)) -> pd.DataFrame:
    """Tidy peaks of an `/executors` answer: executor, metric, bytes (Spark's own meter). Executors
    without `peakMemoryMetrics` yet (no heartbeat or finished task) are left out."""
    rows = [
        {"executor": str(e["id"]), "metric": k, "bytes": int(e["peakMemoryMetrics"].get(k, 0))}
        for e in executors
        if e.get("peakMemoryMetrics")
        for k in metrics
    ]
    return pd.DataFrame(rows, columns=["executor", "metric", "bytes"])


def stage_memory_peaks(stage: dict, metrics=tuple(MEMORY_METRICS)) -> pd.DataFrame:
    """Tidy per-executor peaks during one stage (a `/stages/<id>/<attempt>` answer)."""
    summary = stage.get("executorSummary") or {}
    rows = [
        {"executor": str(eid), "metric": k, "bytes": int(s["peakMemoryMetrics"].get(k, 0))}
        for eid, s in summary.items()
        if s.get("peakMemoryMetrics")
        for k in metrics
    ]
    return pd.DataFrame(rows, columns=["executor", "metric", "bytes"])


def executor_memory(spark, group: str | None = None, last: bool = False) -> pd.DataFrame:
    """Spark's executor memory peaks (bytes): with `group`, the largest of each executor's peaks
    over the stages of that job group (`last`: of its latest job only); without, each executor's
    peaks over its life (`/allexecutors`; in local mode the one executor is 'driver')."""
    base = app_url(spark)
    if group is None:
        return memory_peaks(rest_json(f"{base}/allexecutors"))
    return largest_peaks(
        stage_memory_peaks(rest_json(f"{base}/stages/{s}/{a}"))
        for s, a in group_stages(rest_json(f"{base}/jobs"), group, last)
    )


def largest_peaks(frames) -> pd.DataFrame:
    """Tidy peaks (executor, metric, bytes): the largest value per executor and metric over the
    tidy tables `frames` (per stage, per event); empty, with those columns, when there is none."""
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["executor", "metric", "bytes"])
    return pd.concat(frames).groupby(["executor", "metric"], as_index=False).bytes.max()


def executor_hosts(spark) -> dict[str, str]:
    """Active executors (the driver left out) -> host:port, from the REST API."""
    return {
        str(e["id"]): e.get("hostPort", "")
        for e in rest_json(f"{app_url(spark)}/executors")
        if e["id"] != "driver"
    }


def wide_peaks(peaks: pd.DataFrame) -> pd.DataFrame:
    """Tidy peaks as one row per executor and one column per metric, in MiB."""
    if peaks.empty:
        return pd.DataFrame()
    table = peaks.pivot_table(index="executor", columns="metric", values="bytes", aggfunc="max")
    return (table / 2**20).reset_index()


EVENT_LOG_CONF = {
    "spark.eventLog.enabled": "true",
    "spark.eventLog.logStageExecutorMetrics": "true",
}
_ROLLING_PART = re.compile(r"^events_(\d+)_")


def event_log_events(path):
    """The events (dicts) of a Spark event log: one file, plain or `.zstd` (Spark's default codec,
    read with pyarrow), or a rolling log's folder (`eventlog_v2_<app>`: its `events_<n>_*` parts
    in order). LabError when `path` is neither or the codec is not zstd."""
    import pyarrow as pa

    path = Path(path)
    if path.is_dir():
        parts = [p for p in path.iterdir() if _ROLLING_PART.match(p.name)]
        if not parts:
            raise LabError(f"{path} holds no event log parts (events_<n>_<app>): name the log.")
        for part in sorted(parts, key=lambda p: int(_ROLLING_PART.match(p.name).group(1))):
            yield from event_log_events(part)
        return
    if not path.is_file():
        raise LabError(f"No event log at {path}: name a file or an eventlog_v2_* folder.")
    codec = path.suffix.lstrip(".") if path.suffix in (".zstd", ".lz4", ".snappy", ".lzf") else ""
    if codec and codec != "zstd":
        raise LabError(
            f"{path.name} is {codec}-compressed: this reader knows zstd (Spark's default codec) "
            "and plain logs; set spark.eventLog.compression.codec=zstd."
        )
    if codec:
        with pa.CompressedInputStream(pa.OSFile(str(path)), "zstd") as stream:
            text = stream.read().decode()
    else:
        text = path.read_text()
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)


def event_log_peaks(path, group: str | None = None, metrics=tuple(MEMORY_METRICS)) -> pd.DataFrame:
    """Each executor's memory peaks from an event log (`event_log_events`), bytes, tidy like
    `executor_memory`: the largest `SparkListenerStageExecutorMetrics` value per executor and
    metric, over the stages of the jobs of job group `group` (every stage without it). Needs
    `spark.eventLog.logStageExecutorMetrics=true` (and process-tree metrics for ProcessTree*)."""
    stages, peaks = set(), []
    for e in event_log_events(path):
        kind = e.get("Event")
        if kind == "SparkListenerJobStart":
            if group is None or (e.get("Properties") or {}).get("spark.jobGroup.id") == group:
                stages.update(e.get("Stage IDs", []))
        elif kind == "SparkListenerStageExecutorMetrics":
            peaks.append(e)
    rows = [
        {"executor": str(e["Executor ID"]), "metric": k, "bytes": int(e["Executor Metrics"][k])}
        for e in peaks
        if e["Stage ID"] in stages
        for k in metrics
        if k in e["Executor Metrics"]
    ]
    return largest_peaks([pd.DataFrame(rows, columns=["executor", "metric", "bytes"])])

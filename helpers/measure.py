"""Layer 4: measuring. Wall time into a noop sink, the in-process physical limit, parity,
the process tree of a running job, and the Python SQL metrics Spark keeps per plan node.

All results are plain data (dataclasses / pandas DataFrames) in SI units: seconds, bytes, rows/s.
"""
from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import psutil

from .config import LabError, check_positive
from .data import ensure_model, feature_matrix, load_booster, predict
from .scenarios import get_scenario, input_frame, scenario_frame
from .session import process_command, session_processes

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
        return {"name": "physical_limit", "rows": self.rows, "processes": self.processes,
                "wall_s": self.wall_s, "rows_per_s": self.rows_per_s}


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
        procs = [subprocess.Popen([sys.executable, "-m", "helpers._limit_worker", str(lo), str(hi),
                                   str(rows), str(model), out], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
                 for lo, hi, out in zip(bounds[:-1], bounds[1:], outs)]
        try:
            for p in procs:  # every child has loaded its data and model
                if p.stdout.readline().strip() != "ready":
                    raise LabError("A physical-limit worker failed while loading; see its traceback above.")
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
    return time_noop(scenario_frame(spark, name, df=df.sample(fraction=min(1.0, 20_000 / rows), seed=1)))


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


def run_scenario(spark, name: str, rows: int, batch_size: int | None = None, repeats: int = 1,
                 limit_rows_per_s: float | None = None, parity: bool = True,
                 reference: np.ndarray | None = None) -> BenchRecord:
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
    return BenchRecord(name, rows, effective_batch_size(spark, name), wall, rps,
                       rps / limit_rows_per_s if limit_rows_per_s else None, diff, spark.version, repeats)


def bench(spark, rows: int, scenarios: list[str], batch_size: int | None = None, repeats: int = 3,
          row_repeats: int = 1, parity: bool = True) -> tuple[LimitResult, list[BenchRecord]]:
    """The physical limit, then every scenario, all measured in this run."""
    limit = physical_limit(rows)
    ref = limit.predictions
    records = []
    for name in scenarios:
        reps = row_repeats if get_scenario(name).row_at_a_time else repeats
        records.append(run_scenario(spark, name, rows, batch_size, reps, limit.rows_per_s, parity, ref))
    return limit, records


def bench_table(limit: LimitResult, records: list[BenchRecord]) -> pd.DataFrame:
    """Tidy table: one row per scenario plus the limit, sorted by throughput."""
    rows = [asdict(r) for r in records]
    df = pd.DataFrame(rows).sort_values("rows_per_s", ascending=False)
    top = {"name": "physical_limit", "rows": limit.rows, "batch_size": None, "wall_s": limit.wall_s,
           "rows_per_s": limit.rows_per_s, "ratio_to_limit": 1.0, "max_abs_diff": 0.0,
           "spark_version": None, "repeats": 1}
    return pd.DataFrame([top] + df.to_dict("records"))


# ---- the processes of a running job --------------------------------------------------------------

def _role(proc: psutil.Process, root_pid: int) -> str:
    try:
        if proc.pid == root_pid:
            return "jvm"
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return "gone"
    if "python" in cmd:  # workers are forked from the daemon, so they share its command line
        try:
            return "daemon" if proc.ppid() == root_pid else "python_worker"
        except psutil.Error:
            return "gone"
    return "other"


def process_table(pid: int | None = None) -> pd.DataFrame:
    """The driver JVM and its descendants now: pid, ppid, role, rss_bytes, cpu_s, threads, command."""
    procs = session_processes(pid)
    root = procs[0].pid if procs else None
    rows = []
    for p in procs:
        try:
            with p.oneshot():
                ct = p.cpu_times()
                rows.append({"pid": p.pid, "ppid": p.ppid(), "role": _role(p, root),
                             "rss_bytes": p.memory_info().rss, "cpu_s": ct.user + ct.system,
                             "threads": p.num_threads(), "command": process_command(p)[:120]})
        except psutil.Error:
            continue
    return pd.DataFrame(rows, columns=["pid", "ppid", "role", "rss_bytes", "cpu_s", "threads", "command"])


def jvm_memory(spark) -> dict:
    """The driver JVM's memory now, through py4j (bytes):
    heap_used (MemoryMXBean), direct_used / direct_capacity (BufferPoolMXBean "direct": NIO
    direct buffers), arrow_allocated / arrow_peak (ArrowUtils.rootAllocator: Arrow's own
    accounting; the peak is a per-JVM high-water mark that never resets), gc_time_s (all
    collectors, cumulative). Arrow Java allocates through Netty, not NIO ByteBuffers, so
    arrow_* and direct_* measure different things: say which one a chart uses."""
    jvm = spark._jvm
    mf = jvm.java.lang.management.ManagementFactory
    heap = mf.getMemoryMXBean().getHeapMemoryUsage()
    out = {"heap_used": int(heap.getUsed()), "heap_committed": int(heap.getCommitted()),
           "direct_used": 0, "direct_capacity": 0}
    for pool in mf.getPlatformMXBeans(jvm.java.lang.management.BufferPoolMXBean._java_lang_class):
        if pool.getName() == "direct":
            out["direct_used"] = int(pool.getMemoryUsed())
            out["direct_capacity"] = int(pool.getTotalCapacity())
    alloc = getattr(getattr(jvm.org.apache.spark.sql.util, "ArrowUtils$"), "MODULE$").rootAllocator()
    out["arrow_allocated"] = int(alloc.getAllocatedMemory())
    out["arrow_peak"] = int(alloc.getPeakMemoryAllocation())
    out["gc_time_s"] = sum(int(g.getCollectionTime()) for g in mf.getGarbageCollectorMXBeans()) / 1000
    return out


class BackgroundSampler:
    """Calls `sample_once()` every `interval` seconds in a daemon thread while used as a context
    manager, plus once before the job (a baseline) and once after it. An exception inside the
    thread is kept in `error`; with `stop_on_error` (default) sampling then ends — typically the
    JVM went away — otherwise it goes on at the next tick."""

    stop_on_error = True

    def __init__(self, interval: float = 0.1):
        if not interval > 0:
            raise LabError(f"interval must be > 0 seconds, got {interval!r}.")
        self.interval = interval
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample_once(self) -> None:  # pragma: no cover - subclasses define it
        raise NotImplementedError

    def _run(self):
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"[:200]
                if self.stop_on_error:
                    return
            self._stop.wait(self.interval)

    def __enter__(self):
        self.sample_once()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        try:
            self.sample_once()
        except Exception:
            pass


class ProcessSampler(BackgroundSampler):
    """Samples the session's process tree every `interval` s in a background thread.

    `samples` is a tidy DataFrame: t (s since start), pid, role, rss_bytes, cpu_s (cumulative).
    Use as a context manager around a job."""

    def __init__(self, interval: float = 0.1, pid: int | None = None):
        super().__init__(interval)
        self.pid = pid
        self._rows: list[dict] = []
        self._t0 = time.monotonic()

    def sample_once(self) -> None:
        table = process_table(self.pid)
        t = time.monotonic() - self._t0
        for r in table.itertuples():
            self._rows.append({"t": t, "pid": r.pid, "role": r.role, "rss_bytes": r.rss_bytes,
                               "cpu_s": r.cpu_s})

    @property
    def samples(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows, columns=["t", "pid", "role", "rss_bytes", "cpu_s"])


# ---- SQL metrics of Python plan nodes (Spark's REST API on 127.0.0.1) --------------------------------

_UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def parse_size(text: str) -> float:
    """Spark's size metric text ('12.3 MiB', or 'total (min, med, max ...)\\n12.3 MiB (...)') -> bytes."""
    line = text.strip().split("\n")[-1] if "\n" in text else text.strip()
    m = re.match(r"([\d.,]+)\s*(B|KiB|MiB|GiB|TiB)", line)
    if not m:
        raise ValueError(f"not a size metric: {text!r}")
    return float(m.group(1).replace(",", "")) * _UNITS[m.group(2)]


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def python_metrics(spark, execution_id: int | None = None) -> pd.DataFrame:
    """SQL metrics of the Python plan nodes of one SQL execution (default: the latest), from the
    REST API: node, metric, value (text as Spark shows it) and bytes (for size metrics)."""
    base = f"{spark.sparkContext.uiWebUrl}/api/v1/applications/{spark.sparkContext.applicationId}"
    if execution_id is None:
        executions = _get_json(f"{base}/sql?details=false&length=1000")
        execution_id = max(e["id"] for e in executions)
    detail = _get_json(f"{base}/sql/{execution_id}?details=true")
    rows = []
    for node in detail.get("nodes", []):
        for metric in node.get("metrics", []):
            name = metric["name"]
            if "Python" in name or "python" in name.lower():
                try:
                    nbytes = parse_size(metric["value"])
                except ValueError:
                    nbytes = None
                rows.append({"execution": execution_id, "node": node["nodeName"], "metric": name,
                             "value": metric["value"], "bytes": nbytes})
    return pd.DataFrame(rows, columns=["execution", "node", "metric", "value", "bytes"])


def physical_operators(frame) -> list[str]:
    """Names of the physical plan's operators (executed plan), outermost first."""
    plan = frame._jdf.queryExecution().executedPlan()
    names = []
    for line in plan.treeString().splitlines():
        m = re.search(r"([A-Z][A-Za-z]+)", line)
        if m:
            names.append(m.group(1))
    return names

"""Executor-side evidence of a job on a cluster, brought to the driver without reading the
executors' disks: Python worker CPU stacks and JFR per executor JVM, per-task times, memory peaks.

How each piece reaches the driver (the same on hosts that share nothing with it):
- **Python worker stacks** (`helpers.workers.profiled_daemon`, one collapsed file per task): the
  daemon writes them into a relative folder, `EXECUTOR_DIR`, which each executor resolves in its
  own working directory. The daemon module is imported from the kit's zip, which Spark fetches into
  that same directory: `spark.executorEnv.PYTHONPATH=<zip name>` (`core.session.daemon_path_conf`).
  `collect_executor_files` then runs a small Spark job whose tasks read that folder on whichever
  executor they land and return the files' text with `collect()`; the REST task list says which
  executor ran which task, so every file is filed under its executor's id.
- **JVM stacks**: every executor JVM starts a JFR recording (`executor_jfr_option`) that it dumps
  when it exits into a folder the user names (`shared_dir`: a folder here; on a real cluster a
  mounted shared or object-store path), one file per JVM named after its PID; the collecting job
  tells which PID is which executor.
- **memray peaks of the Python workers** (the same daemon in memray mode, one capture per task
  in the same relative folder): the collecting task reads each finished capture where it lies
  with memray's own reader (`profile.memory.read_capture`: the task's heap high-water mark, the
  allocation sites live at it) and returns those numbers, not the binary capture.
- **Per-task times and memory peaks**: Spark's REST API (`helpers.measure.executor_metrics`).

Layout written by `write_layout`: `<out>/executors/<id>/python.collapsed`, `jvm.collapsed`,
`tasks/` (the per-task files), and at `<out>` the merged `python.collapsed`, `jvm.collapsed`,
`tasks.csv` and `executors.json`; `write_memray_peaks`: `<out>/executors/<id>/memray-peak.json`
and `<out>/memray_peaks.csv`. Weights in microseconds, times in seconds, memory in bytes.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from helpers.core.config import LabError, atomic_write_bytes
from helpers.core.findings import Finding, finding, span
from helpers.core.session import ARROW_JAVA_FLAGS, worker_profiler_conf
from helpers.measure.executor_metrics import (
    FAST_POLL,
    executor_hosts,
    executor_memory,
    executor_metrics_conf,
    group_tasks,
    stragglers,
)
from helpers.profile.jvm import RECORDING, jfr_events, parse_jfr_events
from helpers.profile.memory import read_capture
from helpers.profile.stacks import merge, parse_collapsed, write_collapsed

EXECUTOR_DIR = "lab-worker-profile"  # relative: resolved in each executor's working directory
TASK_FILE = re.compile(r"^cpu-(\d+)-(\d+)\.collapsed$")
MEMRAY_FILE = re.compile(r"^memray-(\d+)-(\d+)\.bin$")
TOP_SITES = 5  # allocation sites at the peak reported per memray capture
JFR_FILE = re.compile(r"^hotspot-pid-(\d+)-.*\.jfr$")  # HotSpot's name for a dump into a folder


def executor_jfr_option(folder, settings: str = "profile") -> str:
    """The executor JVM option that records JFR from its start and dumps it at exit into `folder`
    (HotSpot names the file `hotspot-pid-<pid>-id-1-<date>.jfr`; the folder must exist)."""
    folder = str(folder)
    if re.search(r"[\s,]", folder):
        raise LabError(
            f"The JFR folder {folder!r} has a space or comma, which the JVM option cannot carry: "
            "name a folder without them."
        )
    return (
        f"-XX:StartFlightRecording=name={RECORDING},settings={settings},maxage=30m,"
        f"filename={folder},dumponexit=true"
    )


def cluster_memray_conf(native: bool = False) -> dict:
    """Confs of a memray-profiled session on a cluster: memray around every Python task, its
    captures in each executor's `EXECUTOR_DIR` (read there by `collect_executor_files`), and
    Spark's process-tree memory metrics polled (`executor_metrics_conf`)."""
    return {
        **worker_profiler_conf("memray", None, native=native, executor_dir=EXECUTOR_DIR),
        **executor_metrics_conf(poll=FAST_POLL),  # a memory run: catch short peaks
    }


def cluster_profile_conf(shared_dir, interval_ms: float = 5.0) -> dict:
    """Confs of a profiled session on a cluster: the worker sampler writing into each executor's
    `EXECUTOR_DIR`, JFR in each executor JVM dumped at exit into `shared_dir/jfr` (created),
    and Spark's process-tree memory metrics polled (`executor_metrics_conf`)."""
    jfr = Path(shared_dir).resolve() / "jfr"
    option = executor_jfr_option(jfr)  # a folder name the option cannot carry fails first
    jfr.mkdir(parents=True, exist_ok=True)
    return {
        **worker_profiler_conf("cpu", None, interval_ms, executor_dir=EXECUTOR_DIR),
        "spark.executor.extraJavaOptions": " ".join([*ARROW_JAVA_FLAGS, option]),
        **executor_metrics_conf(),
    }


# ---- on the executors ---------------------------------------------------------------------------


def _jvm_pid() -> int | None:
    """The executor JVM above this Python worker (worker <- pyspark.daemon <- java), from /proc."""
    pid = os.getppid()
    for _ in range(3):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                stat = fh.read()
        except OSError:
            return None
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        if comm == "java":
            return pid
        pid = int(stat[stat.rindex(")") + 2 :].split()[1])
    return None


def read_memray_captures(folder, top: int = TOP_SITES) -> dict[str, dict]:
    """The finished memray captures in `folder` (no `.running` marker beside them: a task still
    recording, e.g. this collecting task's own), each read where it lies (`read_capture`, with its
    `top` allocation sites at the peak): file name -> plain numbers. A capture memray cannot read
    is returned as {'error': ...}."""
    out: dict[str, dict] = {}
    names = set(os.listdir(folder)) if os.path.isdir(folder) else set()
    for name in sorted(names):
        m = MEMRAY_FILE.match(name)
        if not m or f"{name[: -len('.bin')]}.running" in names:
            continue
        rec = {"pid": int(m.group(1)), "seq": int(m.group(2))}
        try:
            rec.update(read_capture(os.path.join(folder, name), top))
        except Exception as exc:  # a truncated capture must not fail the collecting job
            rec["error"] = f"{type(exc).__name__}: {exc}"[:200]
        out[name] = rec
    return out


def read_executor_folder(index, _rows, pause_s: float = 0.3):
    """Runs on an executor (one task): the finished per-task files of its `EXECUTOR_DIR` (CPU
    stacks as text, memray captures as `read_memray_captures` numbers) with the host, the folder
    and the executor JVM's PID. It lingers `pause_s` so that the job's tasks spread over every
    executor."""
    folder = os.path.abspath(os.environ.get("LAB_PROFILE_DIR") or EXECUTOR_DIR)
    files = {}
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if TASK_FILE.match(name):
                with open(os.path.join(folder, name)) as fh:
                    files[name] = fh.read()
    memray = read_memray_captures(folder)
    time.sleep(pause_s)
    yield {
        "index": index,
        "host": socket.gethostname(),
        "folder": folder,
        "jvm_pid": _jvm_pid(),
        "files": files,
        "memray": memray,
    }


# ---- on the driver ------------------------------------------------------------------------------


@dataclass
class ExecutorEvidence:
    """What one executor sent back: its per-task Python files (name -> collapsed text), its
    memray captures (name -> `read_capture` numbers) and where they came from. `jvm` is filled
    from its JFR dump after the executor exits."""

    executor: str
    host: str
    folder: str
    jvm_pid: int | None
    files: dict = field(default_factory=dict, repr=False)
    memray: dict = field(default_factory=dict, repr=False)
    jvm: dict = field(default_factory=dict, repr=False)
    jfr_path: str | None = None

    def python(self, since: float | None = None, until: float | None = None) -> dict:
        """The merged stacks of its task files whose task started in [since, until] (epoch s)."""
        return merge(
            *(parse_collapsed(t, n) for n, t in self.files.items() if in_window(t, since, until))
        )


def file_start(text: str) -> float | None:
    """The `start=` epoch seconds in a task file's header line."""
    m = re.match(r"# .*\bstart=([0-9.]+)", text)
    return float(m.group(1)) if m else None


def in_window(text: str, since: float | None, until: float | None) -> bool:
    """Whether a task file's task started in [since, until] (no bound: always)."""
    t = file_start(text)
    if t is None:
        return since is None and until is None
    return (since is None or t >= since) and (until is None or t <= until)


def file_by_executor(records: list[dict], tasks: pd.DataFrame) -> dict[str, ExecutorEvidence]:
    """Records of `read_executor_folder` filed under the executor that ran each task (the REST
    task list of the collecting job: partition index -> executor id); files are merged by name."""
    where = dict(zip(tasks["index"], tasks["executor"]))
    out: dict[str, ExecutorEvidence] = {}
    for rec in records:
        eid = where.get(rec["index"])
        if eid is None:
            continue
        ev = out.setdefault(eid, ExecutorEvidence(eid, rec["host"], rec["folder"], rec["jvm_pid"]))
        ev.files.update(rec["files"])
        ev.memray.update(rec.get("memray", {}))
    return out


def _wait_tasks(spark, group: str, n: int, timeout: float = 15.0) -> pd.DataFrame:
    """The REST task list of job group `group` once it lists `n` tasks (the listener is async)."""
    end = time.monotonic() + timeout
    while True:
        tasks = group_tasks(spark, group)
        done = tasks[tasks.status == "SUCCESS"]
        if len(done) >= n or time.monotonic() > end:
            return done
        time.sleep(0.2)


def collect_executor_files(spark, tries: int = 4) -> dict[str, ExecutorEvidence]:
    """Bring every executor's per-task Python files (CPU stacks, memray numbers) to the driver
    through Spark (a job of 4 tasks per executor, repeated until every registered executor
    answered). Returns executor id -> evidence; LabError when some executor never ran a
    collecting task."""
    expected = set(executor_hosts(spark))
    sc = spark.sparkContext
    got: dict[str, ExecutorEvidence] = {}
    for attempt in range(tries):
        n = 4 * max(1, len(expected))
        group = f"lab-collect-{int(time.time() * 1000)}-{attempt}"
        sc.setJobGroup(group, "collect executor profiles")
        try:
            records = (
                sc.parallelize(range(n), n).mapPartitionsWithIndex(read_executor_folder).collect()
            )
        finally:
            sc.setLocalProperty("spark.jobGroup.id", None)
        for eid, ev in file_by_executor(records, _wait_tasks(spark, group, n)).items():
            mine = got.setdefault(eid, ev)
            mine.files.update(ev.files)
            mine.memray.update(ev.memray)
        if expected <= set(got):
            break
    missing = expected - set(got)
    if missing:
        raise LabError(
            f"Executors {sorted(missing)} ran none of the collecting tasks: run the command again "
            "with fewer concurrent jobs on the cluster."
        )
    return got


def jfr_files(folder) -> dict[int, Path]:
    """JVM PID -> its JFR dump in `folder` (HotSpot's `hotspot-pid-<pid>-...jfr` names)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {int(m.group(1)): p for p in folder.iterdir() if (m := JFR_FILE.match(p.name))}


def wait_for_jfr(folder, pids, timeout: float = 60.0) -> dict[int, Path]:
    """Wait until every PID in `pids` has a complete dump in `folder` (its size steady for 0.5 s;
    JVMs write it while they exit). Returns what is there at the end."""
    pids = {p for p in pids if p is not None}
    end = time.monotonic() + timeout
    sizes: dict = {}
    while time.monotonic() < end:
        found = jfr_files(folder)
        now = {pid: found[pid].stat().st_size for pid in pids if pid in found}
        if len(now) == len(pids) and now == sizes and all(now.values()):
            return found
        sizes = now
        time.sleep(0.5)
    return jfr_files(folder)


def attach_jvm_stacks(
    evidence: dict[str, ExecutorEvidence], folder, since: float, until: float, timeout: float = 60.0
) -> list[str]:
    """Fill each executor's `jvm` stacks (task threads, [since, until]) from its JFR dump in
    `folder`; returns the executor ids that left no dump."""
    found = wait_for_jfr(folder, [ev.jvm_pid for ev in evidence.values()], timeout)
    missing = []
    for eid, ev in evidence.items():
        path = found.get(ev.jvm_pid)
        if path is None:
            missing.append(eid)
            continue
        ev.jfr_path = str(path)
        ev.jvm = parse_jfr_events(jfr_events(path), since, until)
    return missing


def write_layout(
    out_dir, evidence: dict[str, ExecutorEvidence], since=None, until=None, tasks=None
) -> dict:
    """The folder layout: `executors/<id>/{python,jvm}.collapsed` and `tasks/` per executor; the
    merged `python.collapsed` and `jvm.collapsed`, `tasks.csv` (REST task times) and
    `executors.json` at `out_dir`. Returns the executors.json payload."""
    out = Path(out_dir)
    summary = []
    pys, jvms = [], []
    for eid, ev in sorted(evidence.items()):
        d = out / "executors" / eid
        py = ev.python(since, until)
        pys.append(py)
        jvms.append(ev.jvm)
        write_collapsed(py, d / "python.collapsed")
        write_collapsed(ev.jvm, d / "jvm.collapsed")
        kept = {n: t for n, t in ev.files.items() if in_window(t, since, until)}
        for name, text in kept.items():
            atomic_write_bytes(d / "tasks" / name, text.encode())
        rec = {k: v for k, v in asdict(ev).items() if k not in ("files", "memray", "jvm")}
        rec.update(
            python_tasks=len(kept),
            python_processes=len({TASK_FILE.match(n).group(1) for n in kept}),
            python_s=sum(py.values()) / 1e6,
            jvm_s=sum(ev.jvm.values()) / 1e6,
        )
        summary.append(rec)
    write_collapsed(merge(*pys), out / "python.collapsed")
    write_collapsed(merge(*jvms), out / "jvm.collapsed")
    if tasks is not None:
        atomic_write_bytes(out / "tasks.csv", tasks.to_csv(index=False).encode())
    payload = {"since": since, "until": until, "executors": summary}
    atomic_write_bytes(out / "executors.json", json.dumps(payload, indent=1).encode())
    return payload


def memray_in_window(captures: dict, since=None, until=None) -> dict:
    """The readable memray captures (name -> `read_capture` numbers) whose task started in
    [since, until] (epoch s; no bound: all)."""
    return {
        n: c
        for n, c in captures.items()
        if "error" not in c
        and (since is None or c["start"] >= since)
        and (until is None or c["start"] <= until)
    }


def concurrent_peak(captures: list[dict]) -> tuple[int, int]:
    """(most captures recording at one instant, the largest sum of their peaks, bytes): an
    upper bound of the heap an executor's Python workers held together (each task's peak may
    fall at a different moment). With one core per executor, tasks run one after another."""
    best = (0, 0)
    for c in captures:
        t = c["start"]
        live = [o for o in captures if o["start"] <= t <= o["end"]]
        best = max(best, (len(live), sum(o["peak_bytes"] for o in live)), key=lambda x: x[1])
    return best


MEMRAY_COLUMNS = [
    "executor",
    "host",
    "jvm_pid",
    "tasks",
    "workers",
    "peak_bytes",
    "peak_task",
    "concurrent_tasks",
    "concurrent_peak_bytes",
    "allocations",
    "unreadable",
    "top_site",
    "top_site_bytes",
]


def memray_record(ev: ExecutorEvidence, since=None, until=None) -> dict:
    """One executor's memray evidence of a job (captures whose task started in [since, until]):
    tasks, Python worker processes, peak_bytes (the largest task's heap high-water mark, memray's
    `metadata.peak_memory`) and that task ('pid-seq') with its `top_sites` at the peak (the widest
    as `top_site`), the `concurrent_peak` bound, allocations summed, unreadable captures, and each
    capture."""
    caps = memray_in_window(ev.memray, since, until)
    ordered = sorted(caps.values(), key=lambda c: (c["pid"], c["seq"]))
    top = max(ordered, key=lambda c: c["peak_bytes"], default=None)
    at_once, bound = concurrent_peak(ordered)
    sites = top.get("top_sites", []) if top else []
    return {
        "executor": ev.executor,
        "host": ev.host,
        "jvm_pid": ev.jvm_pid,
        "tasks": len(ordered),
        "workers": len({c["pid"] for c in ordered}),
        "peak_bytes": top["peak_bytes"] if top else 0,
        "peak_task": f"{top['pid']}-{top['seq']}" if top else None,
        "concurrent_tasks": at_once,
        "concurrent_peak_bytes": bound,
        "allocations": sum(c["allocations"] for c in ordered),
        "unreadable": sum(1 for c in ev.memray.values() if "error" in c),
        "top_sites": sites,
        "top_site": sites[0]["site"] if sites else None,
        "top_site_bytes": sites[0]["bytes"] if sites else 0,
        "captures": ordered,
    }


def _memray_table(records) -> pd.DataFrame:
    return pd.DataFrame(
        [{k: r[k] for k in MEMRAY_COLUMNS} for r in records], columns=MEMRAY_COLUMNS
    )


def memray_peaks(evidence: dict[str, ExecutorEvidence], since=None, until=None) -> pd.DataFrame:
    """One row per executor (`memray_record` without its lists; columns MEMRAY_COLUMNS), bytes."""
    return _memray_table(memray_record(ev, since, until) for _, ev in sorted(evidence.items()))


def write_memray_peaks(out_dir, evidence: dict[str, ExecutorEvidence], since=None, until=None):
    """`executors/<id>/memray-peak.json` (`memray_record`) per executor and the per-executor
    table `memray_peaks.csv` at `out_dir`, written atomically. Returns the table."""
    out = Path(out_dir)
    records = {eid: memray_record(ev, since, until) for eid, ev in sorted(evidence.items())}
    for eid, rec in records.items():
        path = out / "executors" / eid / "memray-peak.json"
        atomic_write_bytes(path, json.dumps(rec, indent=1).encode())
    table = _memray_table(records.values())
    atomic_write_bytes(out / "memray_peaks.csv", table.to_csv(index=False).encode())
    return table


# ---- one profiled job on a cluster --------------------------------------------------------------

JOB_GROUP = "lab-profiled-job"


@dataclass
class ClusterRun:
    """One profiled job on a cluster: what it returned, its window (epoch s), every executor's
    evidence, its tasks (REST, with `stragglers` columns) and Spark's executor memory peaks
    during its stages (bytes). `jvm` stacks arrive once the executors have exited (`finish`)."""

    result: object
    since: float
    until: float
    evidence: dict = field(repr=False)
    tasks: pd.DataFrame = field(repr=False)
    memory: pd.DataFrame = field(repr=False)
    missing_jfr: list = field(default_factory=list)

    @property
    def python(self) -> dict:
        return merge(*(ev.python(self.since, self.until) for ev in self.evidence.values()))

    @property
    def jvm(self) -> dict:
        return merge(*(ev.jvm for ev in self.evidence.values()))

    def per_executor(self, side: str = "python") -> dict[str, dict]:
        """Executor id -> its stacks of this job (side 'python' or 'jvm')."""
        return {
            eid: ev.python(self.since, self.until) if side == "python" else ev.jvm
            for eid, ev in sorted(self.evidence.items())
        }


def profiled_job(spark, fn, group: str = JOB_GROUP) -> ClusterRun:
    """Run `fn()` (Spark jobs) under job group `group` in a session started with
    `cluster_profile_conf`, then bring each executor's Python stacks, the tasks' times and the
    executors' memory peaks to the driver (REST and a collecting job; no executor disk read)."""
    sc = spark.sparkContext
    sc.setJobGroup(group, "profiled job")
    since = time.time()
    try:
        result = fn()
    finally:
        until = time.time()
        sc.setLocalProperty("spark.jobGroup.id", None)
    evidence = collect_executor_files(spark)
    tasks = stragglers(group_tasks(spark, group))
    return ClusterRun(result, since, until, evidence, tasks, executor_memory(spark, group))


def finish(run: ClusterRun, shared_dir, timeout: float = 60.0) -> ClusterRun:
    """After the session stopped (executors exit and dump JFR): each executor's JVM stacks of the
    job's window from `shared_dir/jfr`; executors without a dump are listed in `missing_jfr`."""
    run.missing_jfr = attach_jvm_stacks(
        run.evidence, Path(shared_dir) / "jfr", run.since, run.until, timeout
    )
    return run


# ---- findings: what notebook 09 says about the executors ----------------------------------------

EXECUTOR_FINDINGS = {
    "executors": (
        "**Python workers were off-CPU {off_cpu} of their sampled time on executors "
        "{executors}**; the widest on-CPU Python leaf was `{leaf}`."
    ),
    "no_jfr": (
        "Executors {executors} left no JFR dump in the shared folder, so their JVM side is "
        "missing: the JVM dumps only when it exits normally."
    ),
    "tasks": (
        "{stragglers}: the slowest task ({task_s:.2f} s on executor {executor}) took "
        "{worst:.2f}× its stage's median ({tasks} tasks over {executors} executors)."
    ),
}


def _widest_leaf(stacks: dict) -> str:
    leaves: dict = {}
    for s, w in stacks.items():
        if not s.endswith("[off-cpu]"):
            leaf = s.rsplit(";", 1)[-1]
            leaves[leaf] = leaves.get(leaf, 0) + w
    return max(leaves, key=leaves.get) if leaves else "none"


def _off_cpu(stacks: dict) -> float:
    total = sum(stacks.values())
    return sum(w for s, w in stacks.items() if s.endswith("[off-cpu]")) / total if total else 0.0


def executor_findings(run: ClusterRun) -> list[Finding]:
    """The range over executors of the off-CPU share of their Python workers' sampled time, and
    the widest on-CPU Python leaf of all; executors that left no JFR dump; stragglers (REST task
    times against their stage's median: how many, and the slowest task). Per-executor tasks,
    sampled seconds and memory peaks are the table and charts beside it."""
    out = []
    per = run.per_executor("python")
    if per:
        off = [_off_cpu(py) for py in per.values()]
        out.append(
            finding(
                EXECUTOR_FINDINGS, "executors", off_cpu=span(min(off), max(off)),
                off_lo=min(off), off_hi=max(off), executors=", ".join(per),
                leaf=_widest_leaf(merge(*per.values())),
            )
        )  # fmt: skip
    if run.missing_jfr:
        out.append(finding(EXECUTOR_FINDINGS, "no_jfr", executors=", ".join(run.missing_jfr)))
    tasks = run.tasks
    if len(tasks):
        worst = tasks.loc[tasks.vs_median.fillna(0).idxmax()]
        count = int(tasks.straggler.sum())
        out.append(
            finding(
                EXECUTOR_FINDINGS, "tasks",
                stragglers=f"{count} straggler{'s' if count > 1 else ''}" if count
                else "No straggler",
                count=count, task_s=float(worst.duration_s), executor=worst.executor,
                worst=float(worst.vs_median) if worst.vs_median == worst.vs_median else 1.0,
                tasks=len(tasks), executors=tasks.executor.nunique(),
            )
        )  # fmt: skip
    return out

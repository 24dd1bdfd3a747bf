"""Profilers inside Spark's Python workers, without root or ptrace.

Spark (3.5) starts its Python workers by forking them from `python -m pyspark.daemon`; the conf
`spark.python.daemon.module` names a replacement module. `helpers.workers.profiled_daemon` wraps
each task's `pyspark.worker.main` call with a profiler and then runs the stock daemon. Two modes:

- "cpu": a sampling thread reads the worker's main-thread stack (`sys._current_frames()`) every
  5 ms; per task it writes collapsed stacks `cpu-<pid>-<seq>.collapsed` (weights: microseconds of
  wall time; the part the thread was not on a CPU, measured with its thread CPU clock, is split off
  under a leaf frame `[off-cpu]`).
- "memray": `memray.Tracker` around each task, one capture `memray-<pid>-<seq>.bin` per task
  (group them by pid for one worker process); native frames off unless `native=True`.

Typical use (notebook 05 for "cpu", notebook 07 for "memray")::

    spark = start_session("07_memory", profile="memray", profile_dir=out_dir)
    clear_worker_profiles(out_dir)
    ... run a job ...
    files = collect_worker_profiles(out_dir)        # WorkerFile per task, all finished

Also here: `profile_scenario` (one run, Python workers + JVM flame graphs + the time breakdown),
`profiler_overhead` (profiled vs unprofiled wall time in one session), and the findings of both
(`python_findings`, `jvm_findings`, `overhead_findings`: what notebook 05 says about this run).
py-spy, the higher-fidelity view with native frames (needs ptrace), is `helpers.profile.pyspy`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from helpers.core.config import LabError, atomic_write_bytes
from helpers.core.findings import Finding, finding
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.session import PROFILER_DAEMON, jvm_pid
from helpers.core.validate import require_positive
from helpers.measure.timing import (
    OverheadResult,
    alternated_runs,
    effective_batch_size,
    set_batch_size,
    time_noop,
    warm_up,
)
from helpers.paths.scenarios import get_scenario, input_frame, scenario_frame
from helpers.profile.classify import breakdown, categorize, leaf_table, shares
from helpers.profile.jvm import jvm_stacks, rotate_jfr
from helpers.profile.pyspy import native_share
from helpers.profile.stacks import (
    merge,
    read_collapsed,
    total_share,
    write_collapsed,
)

_FILE_RE = re.compile(r"^(cpu|memray)-(\d+)-(\d+)\.(collapsed|bin)$")


# ---- configuration ----------------------------------------------------------------------------


def require_profiled(spark, mode: str = "cpu") -> None:
    """LabError unless `spark` comes from `start_session(..., profile=mode, profile_dir=...)`."""
    conf = spark.sparkContext.getConf()
    if (
        conf.get("spark.python.daemon.module", "") != PROFILER_DAEMON
        or conf.get("spark.executorEnv.LAB_PROFILE_MODE", "") != mode
    ):
        raise LabError(
            f"This session has no {mode!r} worker profiler: start it with "
            f"helpers.core.session.start_session(app, profile={mode!r}, profile_dir=...)."
        )


def pause_workers(out_dir, paused: bool = True) -> None:
    """Turn the worker profiler off (paused=True) or on again for the next tasks (file PAUSED)."""
    flag = Path(out_dir) / "PAUSED"
    if paused:
        flag.parent.mkdir(parents=True, exist_ok=True)
        flag.touch()
    elif flag.exists():
        flag.unlink()


# ---- collecting -------------------------------------------------------------------------------


@dataclass
class WorkerFile:
    """One task's profile from one Python worker process."""

    path: Path
    mode: str
    pid: int
    seq: int  # the task's number within its worker process (0 = first task of that process)
    start: float | None = None  # epoch seconds when the task's first bytes arrived (cpu mode)
    busy_s: float | None = None  # seconds inside the task (cpu mode)
    samples: int | None = None
    sampler_cpu_s: float | None = None  # CPU seconds the sampling thread itself used in this task


def start_recording(spark, name: str, rows: int, worker_dir, warm: bool = True) -> None:
    """Before a profiled run: optionally warm scenario `name` up with the workers' profiler paused
    (worker start, imports, model load stay out of the profile), then resume profiling and drop
    whatever the warm-up left in `worker_dir`."""

    if warm:
        pause_workers(worker_dir, True)
        warm_up(spark, name, rows)
    pause_workers(worker_dir, False)
    clear_worker_profiles(worker_dir)


def _header(path: Path) -> dict:
    with open(path) as fh:
        line = fh.readline()
    if not line.startswith("# "):
        return {}
    return dict(kv.split("=", 1) for kv in line[2:].split() if "=" in kv)


def _worker_file(path: Path) -> WorkerFile | None:
    m = _FILE_RE.match(path.name)
    if not m:
        return None
    wf = WorkerFile(path, m.group(1), int(m.group(2)), int(m.group(3)))
    if wf.mode == "cpu":
        h = _header(path)
        wf.start = float(h["start"]) if "start" in h else None
        wf.busy_s = float(h["busy_s"]) if "busy_s" in h else None
        wf.samples = int(h["samples"]) if "samples" in h else None
        wf.sampler_cpu_s = float(h["sampler_cpu_s"]) if "sampler_cpu_s" in h else None
    return wf


def wait_for_workers(out_dir, timeout: float = 15.0) -> bool:
    """Wait until no task in `out_dir` is still being profiled; True when none is."""
    out = Path(out_dir)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not any(out.glob("*.running")):
            return True
        time.sleep(0.05)
    return not any(out.glob("*.running"))


def collect_worker_profiles(out_dir, timeout: float = 15.0) -> list[WorkerFile]:
    """The finished per-task profiles in `out_dir` (waits for running tasks), by (pid, seq)."""
    out = Path(out_dir)
    if not out.is_dir():
        raise LabError(
            f"No worker profile folder {out}: start the session with "
            "start_session(..., profile=..., profile_dir=...)."
        )
    wait_for_workers(out, timeout)
    files = [wf for p in out.iterdir() if (wf := _worker_file(p)) is not None]
    return sorted(files, key=lambda f: (f.pid, f.seq))


def clear_worker_profiles(out_dir) -> int:
    """Delete finished per-task files in `out_dir` (before an experiment); returns how many."""
    out = Path(out_dir)
    if not out.is_dir():
        return 0
    wait_for_workers(out)
    n = 0
    for p in out.iterdir():
        if _FILE_RE.match(p.name):
            p.unlink()
            n += 1
    return n


def take_worker_profiles(out_dir, dest, timeout: float = 15.0) -> list[WorkerFile]:
    """Move the finished per-task files of `out_dir` into `dest` (one folder per experiment)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    moved = []
    for wf in collect_worker_profiles(out_dir, timeout):
        target = dest / wf.path.name
        shutil.move(str(wf.path), target)
        wf.path = target
        moved.append(wf)
    return moved


def python_stacks(files: list[WorkerFile]) -> dict[str, int]:
    """All cpu-mode task files merged into one collapsed-stack dict (weights in microseconds)."""

    return merge(*(read_collapsed(f.path) for f in files if f.mode == "cpu"))


# ---- one profiled experiment -------------------------------------------------------------------


@dataclass
class ProfileResult:
    """One scenario run with both profilers on. Stacks: collapsed 'root;...;leaf' ->
    microseconds; wall time in seconds."""

    scenario: str
    rows: int
    batch_size: int | None
    wall_s: float
    slots: int  # tasks Spark runs at once (default parallelism)
    python: dict = field(repr=False)
    jvm: dict = field(repr=False)
    worker_files: list = field(repr=False)
    python_processes: int = 0
    tasks: int = 0

    @property
    def python_s(self) -> float:
        return sum(self.python.values()) / 1e6

    @property
    def jvm_s(self) -> float:
        return sum(self.jvm.values()) / 1e6


def profile_scenario(
    spark,
    name: str,
    rows: int,
    out_dir,
    worker_dir,
    batch_size: int | None = None,
    jvm: bool = True,
    warm: bool = True,
    progress: Progress | Sink | None = None,
) -> ProfileResult:
    """Run scenario `name` over `rows` cached rows into the noop sink once, with the worker sampler
    on (the session must come from `start_session(..., profile="cpu", profile_dir=worker_dir)`)
    and the JVM's JFR recording dumped for exactly that run (session started with
    `jvm.jfr_java_options()`). Writes python.collapsed, jvm.collapsed and per-task files under
    `out_dir`; weights in microseconds, wall time in seconds. `progress` reports the warm-up, the
    profiled run and the reading of the samples."""

    get_scenario(name)
    require_positive("rows", rows)
    require_profiled(spark, "cpu")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "tasks").is_dir():
        shutil.rmtree(out / "tasks")  # per-task files of an earlier run into the same folder
    p = as_progress(progress)
    with p.task("profile", 2 + int(warm)):
        if warm:
            p.step(f"{name}: input rows and warm-up")
        set_batch_size(spark, batch_size)
        input_frame(spark, rows)
        start_recording(spark, name, rows, worker_dir, warm)
        frame = scenario_frame(spark, name, rows=rows)
        if jvm:
            rotate_jfr(jvm_pid(spark))
        p.step(f"{name}: profiled run")
        t0 = time.time()
        wall = time_noop(frame)
        t1 = time.time()
        p.step(f"{name}: reading samples" + (" (JFR)" if jvm else ""))
        files = take_worker_profiles(worker_dir, out / "tasks")
        py = python_stacks(files)
        jv = jvm_stacks(jvm_pid(spark), t0, t1, out / "jvm.jfr") if jvm else {}
        write_collapsed(py, out / "python.collapsed")
        write_collapsed(jv, out / "jvm.collapsed")

    return ProfileResult(
        name,
        rows,
        effective_batch_size(spark, name),
        wall,
        spark.sparkContext.defaultParallelism,
        py,
        jv,
        files,
        len({f.pid for f in files}),
        len(files),
    )


def profiler_overhead(
    spark,
    worker_dir,
    name: str = "map_in_pandas",
    rows: int = 20_000,
    pairs: int = 3,
    batch_size: int | None = None,
) -> OverheadResult:
    """Alternate unprofiled / profiled runs of the same job (`pairs` each, after a warm-up) in one
    session started by `start_session(..., profile="cpu", profile_dir=worker_dir)`; the JFR
    recording, when on, runs in both. Returns the wall times (seconds)."""

    require_positive("pairs", pairs)
    require_profiled(spark, "cpu")
    set_batch_size(spark, batch_size)
    input_frame(spark, rows)
    pause_workers(worker_dir, False)
    warm_up(spark, name, rows)
    clear_worker_profiles(worker_dir)

    def run(profiled: bool) -> float:
        pause_workers(worker_dir, not profiled)
        return time_noop(scenario_frame(spark, name, rows=rows))

    on, off = alternated_runs(pairs, run)
    pause_workers(worker_dir, False)
    files = collect_worker_profiles(worker_dir)
    cost = sum(f.sampler_cpu_s or 0.0 for f in files)
    busy = sum(f.busy_s or 0.0 for f in files)
    clear_worker_profiles(worker_dir)
    return OverheadResult(name, rows, on, off, cost, busy)


def write_breakdown(result: ProfileResult, path, pyspy=None) -> dict:
    """breakdown.json: category -> seconds (Python workers + JVM), per side, plus wall_s; with a
    `pyspy.PySpyProfile`, also its categories, native share and wall time ('pyspy_*')."""

    payload = breakdown(result)
    if pyspy is not None:
        payload.update(
            pyspy=categorize(pyspy.stacks),
            pyspy_native_share=native_share(pyspy.stacks),
            pyspy_wall_s=pyspy.wall_s,
            pyspy_samples=pyspy.samples,
        )
    atomic_write_bytes(Path(path), json.dumps(payload, indent=1).encode())
    return payload


def result_record(result: ProfileResult) -> dict:
    """The scalar fields of a ProfileResult (for tables and JSON)."""
    d = asdict(result)
    for k in ("python", "jvm", "worker_files"):
        d.pop(k)
    d.update(python_s=result.python_s, jvm_s=result.jvm_s)
    return d


# ---- findings: what notebook 05 says about this run -------------------------------------------

INVALIDATE_FRAME = "invalidate_caches (importlib/__init__.py)"
INVALIDATE_NOTABLE = 0.05  # a share of sampled worker time worth a sentence

PROFILE_FINDINGS = {
    "off_cpu": (
        "The grey `[off-cpu]` tips are time the worker's thread was not running, drawn and "
        "counted as *waiting*: for the JVM (the frame above reads or writes the socket) or for a "
        "core, the disk or a lock (this machine has {cores} cores shared by the JVM and the "
        "workers). White frames only pass calls through; colour is where samples end."
    ),
    "python_path": (
        "**{scenario}**: {tasks} tasks in {processes} worker processes, {sampled_s:.2f} s "
        "sampled: **prediction {prediction:.0%}**, serialization {serialization:.0%}, "
        "conversion {conversion:.0%}, socket I/O {socket:.0%}, other {other:.0%}, **waiting "
        "{waiting:.0%}** (reading from the JVM {wait_read:.0%}, writing to it {wait_write:.0%}, "
        "for a core, the disk or a lock {wait_other:.0%}). Widest on-CPU leaves: {leaves}."
    ),
    "no_python": (
        "**{scenario}**: {tasks} Python tasks ran and {files} worker files were written: this path "
        "scores inside the JVM (SynapseML), so there is no Python flame graph at all."
    ),
    "invalidate_caches": (
        "A surprise: `importlib.invalidate_caches()`, which `pyspark/worker.py` calls at the start "
        "of every task, took {share:.0%} of the sampled worker time in `{scenario}` (it makes "
        "`zipimport` re-read the directory of `pyspark.zip`, which is on the workers' `sys.path`). "
        "A fixed per-task cost: its share shrinks as tasks get larger."
    ),
    "jvm_path": (
        "**{scenario}**: {jvm_s:.2f} s of task-thread samples. **Waiting {waiting:.0%}**: blocked "
        "reading the Python worker's results {wait_read:.0%}, blocked writing batches to it "
        "{wait_write:.0%}, parked or polling {wait_other:.0%}. Working: prediction (JNI) "
        "{prediction:.0%}, row↔Arrow {row_arrow:.0%}, serialization {serialization:.0%}, "
        "conversion {conversion:.0%}, socket I/O {socket:.0%}, other {other:.0%}. Widest leaf "
        "`{leaf}` ({leaf_share:.0%}, {leaf_kind})."
    ),
    "jvm_only": (
        "**{scenario}** (no Python worker): {jvm_s:.2f} s of task-thread samples: prediction (JNI) "
        "**{prediction:.0%}**, row↔Arrow {row_arrow:.0%}, serialization {serialization:.0%}, "
        "conversion {conversion:.0%}, socket I/O {socket:.0%}, other {other:.0%}, waiting "
        "{waiting:.0%}. Widest leaf `{leaf}` ({leaf_share:.0%}, {leaf_kind})."
    ),
    "no_jvm": "**{scenario}**: no JFR samples of the task threads in this run's window.",
    "writer_thread": (
        "**{scenario}**: the samples come from {threads}: a separate writer thread feeds the "
        "Python worker while the task thread reads its results (this Spark's runner has two "
        "threads)."
    ),
    "single_thread": (
        "**{scenario}**: the samples come from {threads}: no separate writer thread, so the task "
        "thread itself writes to the Python worker and reads back (a single-threaded runner)."
    ),
    "sampler_cost": (
        "Best profiled run / best unprofiled run = **{ratio:.3f}** ({change:+.1%}; medians: "
        "{median_ratio:.3f}). The sampling threads used {sampler_ms:.0f} ms of CPU during "
        "{busy_s:.2f} s of profiled tasks: **{sampler_share:.1%}**."
    ),
    "load": "The machine's 1-minute load average was {load:.1f} on {cores} cores.",
    "load_high": (
        "The machine's 1-minute load average was {load:.1f} on {cores} cores: other processes "
        "were competing, so the wall-time ratio is noisy."
    ),
    "jfr_cost": (
        "JFR in the JVM: best run with / without the recording = **{ratio:.3f}** (medians "
        "{median_ratio:.3f}), so both profilers together cost about {both_change:+.1%} of wall "
        "time here."
    ),
}


def top_leaves(stacks: dict, n: int = 3) -> str:
    """The `n` Python frames with the most on-CPU self time, their shares of on-CPU time and their
    categories (`classify.leaf_table`), as Markdown ('`f` 40% prediction; `g` 12% other');
    'none' without on-CPU samples."""
    t = leaf_table(stacks, "python", top=n, on_cpu=True)
    return "; ".join(f"`{f}` {s:.0%} {k}" for f, s, k in zip(t.frame, t.share, t.kind)) or "none"


def _side_shares(stacks: dict, side: str) -> dict:
    """The shares a findings sentence prints (of all samples of one side; `classify.shares`):
    the busy categories it names, 'other' for the rest, waiting and its three directions."""
    sh = shares(stacks, side)
    named = ["prediction", "serialization", "conversion", "socket I/O", "JVM row<->Arrow"]
    out = {k: sh[k] for k in named + ["waiting", "wait_read", "wait_write", "wait_other"]}
    out["other"] = sh["other"] + sh["native/JNI"]
    out["row_arrow"], out["socket"] = out.pop("JVM row<->Arrow"), out.pop("socket I/O")
    return out


def python_findings(results, cores: int | None = None) -> list[Finding]:
    """Per ProfileResult: tasks, worker processes, sampled seconds, the category shares of the
    Python workers' samples (the flame graph's coloured areas), waiting split into reading from
    the JVM, writing to it and the rest, and the widest on-CPU leaves with their categories; then
    the path where `invalidate_caches()` took the largest share of sampled worker time, if above
    5 %. `cores`: this machine's (default os.cpu_count())."""
    results = list(results)
    out = [finding(PROFILE_FINDINGS, "off_cpu", cores=cores or os.cpu_count())]
    found = {}
    for r in results:
        if r.tasks == 0:
            out.append(
                finding(
                    PROFILE_FINDINGS,
                    "no_python",
                    scenario=r.scenario,
                    tasks=r.tasks,
                    files=len(r.worker_files),
                )
            )
            continue
        out.append(
            finding(
                PROFILE_FINDINGS,
                "python_path",
                scenario=r.scenario,
                tasks=r.tasks,
                processes=r.python_processes,
                sampled_s=r.python_s,
                leaves=top_leaves(r.python),
                **_side_shares(r.python, "python"),
            )
        )
        found[r.scenario] = total_share(r.python, INVALIDATE_FRAME)
    worst = max(found, key=found.get) if found else None
    if worst is not None and found[worst] > INVALIDATE_NOTABLE:
        out.append(
            finding(PROFILE_FINDINGS, "invalidate_caches", scenario=worst, share=found[worst])
        )
    return out


def jvm_findings(results) -> list[Finding]:
    """Per ProfileResult: seconds of JFR task-thread samples; the shares (of all of them, the
    flame graph's coloured areas) of waiting, split into blocked reading the worker's results,
    blocked writing batches to it, parked or polling, and of the working categories; the widest
    leaf, its share and what the classifier counts it as (`classify.leaf_table`); and, for paths
    with a Python worker, the threads the samples came from (a separate writer thread or not).
    A path without a Python worker (SynapseML) gets one sentence without the socket waits."""
    out = []
    for r in results:
        if not r.jvm:
            out.append(finding(PROFILE_FINDINGS, "no_jvm", scenario=r.scenario))
            continue
        top = leaf_table(r.jvm, "jvm", top=1)
        out.append(
            finding(
                PROFILE_FINDINGS,
                "jvm_path" if r.python_processes else "jvm_only",
                scenario=r.scenario,
                jvm_s=r.jvm_s,
                leaf=top.frame.iloc[0],
                leaf_share=top.share.iloc[0],
                leaf_kind=top.kind.iloc[0],
                **_side_shares(r.jvm, "jvm"),
            )
        )
        threads = sorted({s.split(";", 1)[0].removeprefix("thread:") for s in r.jvm})
        if r.python_processes:
            key = "writer_thread" if any("writer" in t for t in threads) else "single_thread"
            names = ", ".join(f"`{t}`" for t in threads)
            out.append(finding(PROFILE_FINDINGS, key, scenario=r.scenario, threads=names))
    return out


def overhead_findings(
    sampler: OverheadResult,
    jfr: OverheadResult,
    load: float | None = None,
    cores: int | None = None,
) -> list[Finding]:
    """The worker sampler's cost (best and median wall-time ratios, its own CPU share), the
    machine's load (default: the 1-minute load average now), and JFR's wall-time ratio."""
    load = os.getloadavg()[0] if load is None else load
    cores = cores or os.cpu_count()
    return [
        finding(
            PROFILE_FINDINGS,
            "sampler_cost",
            ratio=sampler.ratio,
            change=sampler.ratio - 1,
            median_ratio=sampler.median_ratio,
            sampler_ms=sampler.sampler_cpu_s * 1000,
            busy_s=sampler.task_busy_s,
            sampler_share=sampler.sampler_share,
        ),
        finding(PROFILE_FINDINGS, "load_high" if load > cores else "load", load=load, cores=cores),
        finding(
            PROFILE_FINDINGS,
            "jfr_cost",
            ratio=jfr.ratio,
            median_ratio=jfr.median_ratio,
            both_change=sampler.ratio * jfr.ratio - 1,
        ),
    ]

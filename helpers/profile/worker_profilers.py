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
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from helpers.core.config import LabError, atomic_write_bytes
from helpers.core.findings import Finding, finding, span
from helpers.core.lines import installed_pyspark
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.session import PROFILER_DAEMON, jvm_pid
from helpers.core.validate import require_positive
from helpers.inference.scenarios import get_scenario, input_frame, scenario_frame
from helpers.measure.timing import (
    OverheadResult,
    alternated_runs,
    effective_batch_size,
    set_batch_size,
    time_noop,
    warm_up,
)
from helpers.profile.classify import (
    FOLDED,
    breakdown,
    categorize,
    fold_io,
    leaf_table,
    shares,
    split,
)
from helpers.profile.jvm import jvm_stacks, rotate_jfr
from helpers.profile.pyspy import native_share, spread
from helpers.profile.stacks import (
    merge,
    read_collapsed,
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


def job_frame(spark, name: str, rows: int, build=None, df=None):
    """The DataFrame a profiled run executes: `build(df)` when the learner passes a job builder
    (a function DataFrame -> DataFrame, e.g. `lambda df: df.mapInPandas(fn, schema)`), else
    scenario `name`'s. `df` defaults to the cached input of `rows` rows."""
    if build is None:
        return scenario_frame(spark, name, df=df, rows=rows)
    if not callable(build):
        raise LabError(f"build must be a function DataFrame -> DataFrame, got {build!r}.")
    return build(input_frame(spark, rows) if df is None else df)


def start_recording(spark, name: str, rows: int, worker_dir, warm: bool = True, build=None) -> None:
    """Before a profiled run: optionally warm the job up (scenario `name`, or `build` applied to
    a ~2% sample of the input) with the workers' profiler paused (worker start, imports, model
    load stay out of the profile), then resume profiling and drop whatever the warm-up left in
    `worker_dir`."""

    if warm:
        pause_workers(worker_dir, True)
        if build is None:
            warm_up(spark, name, rows)
        else:
            sample = input_frame(spark, rows).sample(fraction=min(1.0, 20_000 / rows), seed=1)
            time_noop(job_frame(spark, name, rows, build, df=sample))
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
    build=None,
) -> ProfileResult:
    """Run scenario `name` over `rows` cached rows into the noop sink once, with the worker sampler
    on (the session must come from `start_session(..., profile="cpu", profile_dir=worker_dir)`)
    and the JVM's JFR recording dumped for exactly that run (session started with
    `jvm.jfr_java_options()`). Writes python.collapsed, jvm.collapsed and per-task files under
    `out_dir`; weights in microseconds, wall time in seconds. `progress` reports the warm-up, the
    profiled run and the reading of the samples. `build`: the learner's job, a function
    DataFrame -> DataFrame (`job_frame`); `name` then only labels the result."""

    if build is None:
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
        start_recording(spark, name, rows, worker_dir, warm, build)
        frame = job_frame(spark, name, rows, build)
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
        effective_batch_size(spark, "map_in_pandas" if build else name),  # a learner's job: Arrow
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

PROFILE_FINDINGS = {
    "prediction": (
        "**Prediction was {share} of busy worker time ({paths})**; the workers waited {wait} of "
        "sampled time (table above)."
    ),
    "none": "No {what} in this run's window ({paths}).",
    "jvm_wait_range": (
        "**JVM task threads waited for the Python worker in {span} of their samples** ({paths})."
    ),
    "runner": (
        "This Spark ({version}) feeds each Python worker from {feeder}; socket reads took "
        "{read:.0%} of samples, epoll {poll:.0%}."
    ),
    "sampler_cost": (
        "**The worker sampler used {sampler_share:.1%} of the profiled tasks' time** "
        "({sampler_ms:.0f} ms of CPU in {busy_s:.2f} s)."
    ),
    "wall_cost": (
        "Wall time with / without it: {ratio:.3f}, {verdict} (±{noise:.1%}); JFR on / off: "
        "{jfr_ratio:.3f} (noise ±{jfr_noise:.1%})."
    ),
    "change": (
        "**`{frame}` took {after:.1%} of sampled worker time after the change, {before:.1%} "
        "before**: {seen}; in all {before_s:.2f} → {after_s:.2f} s ({change:+.0%}{despite}, one "
        "run each)."
    ),
}

CHANGE_VISIBLE = 0.01  # a frame's share of sampled time the eye finds on a flame graph


def function_share(stacks: dict, function: str) -> float:
    """Share (0..1) of all samples with a frame of `function` (name before ' (') on the stack."""
    total = sum(stacks.values())
    hit = sum(
        w for s, w in stacks.items() if any(f.split(" (", 1)[0] == function for f in s.split(";"))
    )
    return hit / total if total else 0.0


def change_findings(before: ProfileResult, after: ProfileResult, function: str) -> list[Finding]:
    """A learner's edit, measured: the share of sampled worker time with `function` on the stack
    before and after (seen when it grew by more than CHANGE_VISIBLE), and the sampled seconds of
    both runs (noting when the edit shows yet the total shrank: one run each varies more)."""
    b, a = function_share(before.python, function), function_share(after.python, function)
    seen = a - b > CHANGE_VISIBLE
    change = after.python_s / before.python_s - 1 if before.python_s else 0.0
    against = seen and change < 0  # more work on the stack, less time in all
    return [
        finding(
            PROFILE_FINDINGS, "change", frame=function, before=b, after=a,
            seen="the graph shows the edit" if seen else "too small to see",
            before_s=before.python_s, after_s=after.python_s, change=change,
            despite=" though the edit added work" if against else "",
        )
    ]  # fmt: skip


def top_leaves(stacks: dict, n: int = 3) -> str:
    """The `n` Python frames with the most on-CPU self time, their shares of on-CPU time and their
    categories (`classify.leaf_table`), as Markdown ('`f` 40% prediction; `g` 12% other');
    'none' without on-CPU samples."""
    t = leaf_table(stacks, "python", top=n, on_cpu=True)
    return "; ".join(f"`{f}` {s:.0%} {k}" for f, s, k in zip(t.frame, t.share, t.kind)) or "none"


def _side_shares(stacks: dict, side: str) -> dict:
    """The shares a table row prints (of all samples of one side; `classify.shares`): the busy
    categories, 'other' for the rest, waiting and its three directions."""
    sh = shares(stacks, side)
    named = ["prediction", "serialization", "conversion", "socket I/O", "JVM row<->Arrow"]
    out = {k: sh[k] for k in named + ["waiting", "wait_read", "wait_write", "wait_other"]}
    out["other"] = sh["other"] + sh["native/JNI"]
    return out


def shares_table(results, side: str = "python"):
    """One row per ProfileResult with samples on `side`: sampled seconds and the category shares
    of that side's samples (the flame graph's coloured areas; waiting split into reading from the
    other side, writing to it, and the rest)."""
    rows = []
    for r in results:
        stacks = r.python if side == "python" else r.jvm
        if stacks:
            rows.append({"scenario": r.scenario, "sampled_s": sum(stacks.values()) / 1e6,
                         **_side_shares(stacks, side)})  # fmt: skip
    return pd.DataFrame(rows).set_index("scenario") if rows else pd.DataFrame()


def has_python(result: ProfileResult) -> bool:
    """Whether the run scored in Python workers: Python tasks ran and it had Arrow batches
    (SynapseML runs no Arrow batches; its few Python task files hold no inference)."""
    return bool(result.tasks) and result.batch_size is not None


def _version(spark_version: str | None) -> str:
    return spark_version or installed_pyspark()


def python_findings(results, spark_version: str | None = None) -> list[Finding]:
    """The Python workers' side of a set of ProfileResults: the range of the prediction share of
    busy worker time (highest path first) and of the share of sampled time the workers waited;
    without a path that scored Arrow batches in Python, one finding that says so.
    (`spark_version` is kept for callers; `importlib.invalidate_caches()`'s share is section 8's,
    `helpers.lab.taskcost`.)"""
    results = list(results)
    with_py = [r for r in results if has_python(r)]
    if not with_py:
        what = "Python task scored Arrow batches"
        return [finding(PROFILE_FINDINGS, "none", what=what, paths=_paths(results))]
    pred = {r.scenario: split(r)["prediction_share"] for r in with_py}
    wait = [shares(r.python, "python")["waiting"] for r in with_py]
    hi, lo = max(pred, key=pred.get), min(pred, key=pred.get)
    return [
        finding(
            PROFILE_FINDINGS, "prediction", hi=pred[hi], lo=pred[lo], hi_path=hi, lo_path=lo,
            share=span(pred[hi], pred[lo]), paths=hi if hi == lo else f"{hi} to {lo}",
            wait_lo=min(wait), wait_hi=max(wait),
            wait=span(min(wait), max(wait)),
        )
    ]  # fmt: skip


def _paths(results) -> str:
    return ", ".join(r.scenario for r in results) or "no path"


def jvm_findings(results, spark_version: str | None = None) -> list[Finding]:
    """The JVM side of a set of ProfileResults (JFR task-thread samples) over the paths that have
    a Python worker: the range of the share spent waiting for it; how this Spark feeds the worker
    as this run's samples show it (a separate writer thread, or the task thread writing ahead and
    waiting in epoll), with the shares of socket-read and epoll samples. Without such a path (no
    JFR samples, or only SynapseML, which notebook 06 takes apart), one finding that says so."""
    results = list(results)
    version = _version(spark_version)
    with_py = [r for r in results if r.jvm and has_python(r)]
    if not with_py:
        what = "JFR sample shows a task thread feeding a Python worker"
        return [finding(PROFILE_FINDINGS, "none", what=what, paths=_paths(results))]
    wait = {r.scenario: shares(r.jvm, "jvm")["waiting"] for r in with_py}
    out = [
        finding(
            PROFILE_FINDINGS, "jvm_wait_range", lo=min(wait.values()), hi=max(wait.values()),
            span=span(min(wait.values()), max(wait.values())), paths=", ".join(wait),
        )
    ]  # fmt: skip
    stacks = merge(*(r.jvm for r in with_py))
    threads = sorted({s.split(";", 1)[0].removeprefix("thread:") for s in stacks})
    total = sum(stacks.values()) or 1
    folded = [(fold_io(s)[-1], w) for s, w in stacks.items()]
    read = sum(w for f, w in folded if f == FOLDED[("waiting", "read")]) / total
    poll = sum(w for f, w in folded if f == FOLDED[("waiting", "poll")]) / total
    writers = ", ".join(f"`{t}`" for t in threads if "writer" in t)
    feeder = (
        f"a writer thread ({writers}) that blocks in socket writes"
        if writers
        else "its task thread, which writes ahead on a non-blocking channel"
    )
    out.append(finding(PROFILE_FINDINGS, "runner", version=version, feeder=feeder, read=read,
                       poll=poll))  # fmt: skip
    return out


def overhead_findings(sampler: OverheadResult, jfr: OverheadResult) -> list[Finding]:
    """The worker sampler's own CPU share of the profiled tasks; its wall-time ratio (best on /
    best off) against the run-to-run noise of its runs (`spread`: outside it, or inside it and so
    no measurable cost), and JFR's ratio and noise."""
    noise = max(spread(sampler.unprofiled_s), spread(sampler.profiled_s))
    outside = abs(sampler.ratio - 1) > noise
    return [
        finding(
            PROFILE_FINDINGS,
            "sampler_cost",
            sampler_share=sampler.sampler_share,
            sampler_ms=sampler.sampler_cpu_s * 1000,
            busy_s=sampler.task_busy_s,
        ),
        finding(
            PROFILE_FINDINGS, "wall_cost", ratio=sampler.ratio, noise=noise,
            verdict="outside the run-to-run noise" if outside
            else "inside the run-to-run noise, no measurable cost",
            jfr_ratio=jfr.ratio, jfr_noise=max(spread(jfr.unprofiled_s), spread(jfr.profiled_s)),
        ),
    ]  # fmt: skip

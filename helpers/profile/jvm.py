"""The Spark JVM's CPU through Java Flight Recorder (JFR), as collapsed stacks.

- `jfr_java_options()`: `-XX:StartFlightRecording=name=lab,settings=profile,...` for
  `start_session(java_options=...)`; the recording starts with the JVM (a new session).
- `dump_jfr(pid, path, begin)`: `jcmd <pid> JFR.dump name=lab filename=... begin=...` mid-session.
- `jfr_events(path)`: `jfr print --json --events jdk.ExecutionSample,jdk.NativeMethodSample
  --stack-depth 64` (the default depth is 5), parsed.
- `parse_jfr_events(...)`: events -> collapsed stacks 'thread:<name>;root;...;leaf' (JFR lists
  frames leaf-first; they are reversed here), weights in microseconds.

Weights. The `profile` settings sample Java code every 10 ms (`jdk.ExecutionSample`) and threads
in native code every 20 ms (`jdk.NativeMethodSample`, e.g. JNI calls and blocking socket reads).
HotSpot's sampler (`jfrThreadSampler.cpp`) takes at most 5 Java threads and 1 native thread per
period. So with N threads in native code each is visited about once every N periods; with
`native_correction` each native sample weighs 20 ms x N, N = distinct threads (of any name) seen
in native samples in the window (an estimate that assumes the sampler's round robin over a steady
set of native threads).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from helpers.core.config import LabError, require_java
from helpers.core.session import jvm_pid
from helpers.core.validate import require_positive
from helpers.inference.scenarios import get_scenario, scenario_frame
from helpers.measure.timing import (
    OverheadResult,
    alternated_runs,
    set_batch_size,
    time_noop,
    warm_up,
)
from helpers.profile.classify import TASK_THREAD_NAMES, TASK_THREADS

RECORDING = "lab"
EVENTS = ("jdk.ExecutionSample", "jdk.NativeMethodSample")
PERIOD_US = {"jdk.ExecutionSample": 10_000, "jdk.NativeMethodSample": 20_000}  # settings=profile
STACK_DEPTH = 64


def jfr_java_options(settings: str = "profile", maxage: str = "30m") -> tuple[str, ...]:
    """JVM options that start a JFR recording named 'lab' with the JVM."""
    return (
        f"-XX:StartFlightRecording=name={RECORDING},settings={settings},maxage={maxage},dumponexit=false",
    )


def _jdk_tool(name: str) -> str:

    java = Path(require_java().path).resolve()
    candidate = java.parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise LabError(
        f"`{name}` not found next to {java}: install a full JDK 17 (not a JRE) and set JAVA_HOME."
    )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dump_jfr(pid: int, path, begin: float | None = None, maxage: str | None = None) -> Path:
    """Dump the running 'lab' recording of JVM `pid` to `path` (.jfr), from epoch second `begin`
    (rounded down to the second) when given. Raises LabError when the JVM records nothing."""
    if pid is None:
        raise LabError(
            "No local driver JVM to dump: start the session with "
            "helpers.core.session.start_session()."
        )
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [_jdk_tool("jcmd"), str(pid), "JFR.dump", f"name={RECORDING}", f"filename={path}"]
    if begin is not None:
        cmd.append(f"begin={_iso(int(begin) - 1)}")
    if maxage is not None:
        cmd.append(f"maxage={maxage}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if out.returncode != 0 or not path.exists() or "Could not find" in out.stdout:
        last = (out.stdout + out.stderr).strip().splitlines()[-1][:160]
        raise LabError(
            f"JFR.dump failed ({last}): start the session with java_options=jvm.jfr_java_options()."
        )
    return path


def _jcmd(pid: int, *args: str) -> str:
    out = subprocess.run(
        [_jdk_tool("jcmd"), str(pid), *args], capture_output=True, text=True, timeout=120
    )
    if out.returncode != 0:
        last = (out.stdout + out.stderr).strip().splitlines()[-1][:160]
        raise LabError(f"jcmd {' '.join(args[:1])} failed: {last}")
    return out.stdout


def recording_running(pid: int) -> bool:
    """True when JVM `pid` has the kit's JFR recording ('lab') running (`jcmd JFR.check`)."""
    return f"name={RECORDING}" in _jcmd(pid, "JFR.check") and "running" in _jcmd(
        pid, "JFR.check", f"name={RECORDING}"
    )


def set_recording(pid: int, on: bool, settings: str = "profile", maxage: str = "30m") -> None:
    """Start (`JFR.start`) or stop and discard (`JFR.stop`, no file) the 'lab' recording of
    JVM `pid`."""
    running = recording_running(pid)
    if on and not running:
        _jcmd(pid, "JFR.start", f"name={RECORDING}", f"settings={settings}", f"maxage={maxage}")
    elif not on and running:
        _jcmd(pid, "JFR.stop", f"name={RECORDING}")


def jfr_overhead(
    spark,
    name: str = "map_in_pandas",
    rows: int = 100_000,
    pairs: int = 3,
    batch_size: int | None = None,
):
    """Alternate runs of the same job with the JVM's JFR recording off and on (`pairs` each, after a
    warm-up) in one session, switching it with jcmd, each timed run after an untimed one; returns a
    `helpers.measure.timing.OverheadResult` (wall seconds). The recording is left as it was
    found."""

    get_scenario(name)
    require_positive("pairs", pairs)
    pid = jvm_pid(spark)
    if pid is None:
        raise LabError(
            "No local driver JVM to switch JFR in: start the session with "
            "helpers.core.session.start_session()."
        )
    was_running = recording_running(pid)
    set_batch_size(spark, batch_size)
    warm_up(spark, name, rows)

    def run(recording: bool) -> float:
        set_recording(pid, recording)
        # The first run after a switch was measurably slower here (JFR instruments and
        # un-instruments JDK classes as it starts and stops): one untimed run lets the JVM settle.
        time_noop(scenario_frame(spark, name, rows=rows))
        return time_noop(scenario_frame(spark, name, rows=rows))

    try:
        on, off = alternated_runs(pairs, run)
    finally:
        set_recording(pid, was_running)
    return OverheadResult(name, rows, on, off)


def rotate_jfr(pid: int) -> None:
    """Close the recording's current chunk (a tiny throw-away dump), so that a later
    `dump_jfr(begin=...)` holds only the chunks written after this call (JFR dumps whole chunks)."""
    with tempfile.TemporaryDirectory(prefix="jfr-rotate-") as tmp:
        dump_jfr(pid, Path(tmp) / "rotate.jfr", begin=None, maxage="1s")


def jfr_events(jfr_path, events=EVENTS, stack_depth: int = STACK_DEPTH) -> list[dict]:
    """The sample events of a .jfr file, via `jfr print --json` (list of event dicts)."""
    jfr_path = Path(jfr_path)
    if not jfr_path.exists():
        raise LabError(f"No JFR file at {jfr_path}.")
    with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
        with open(tmp.name, "w") as fh:
            proc = subprocess.run(
                [
                    _jdk_tool("jfr"),
                    "print",
                    "--json",
                    "--events",
                    ",".join(events),
                    "--stack-depth",
                    str(stack_depth),
                    str(jfr_path),
                ],
                stdout=fh,
                stderr=subprocess.PIPE,
                text=True,
                timeout=300,
            )
        if proc.returncode != 0:
            raise LabError(f"`jfr print` failed on {jfr_path}: {proc.stderr.strip()[:200]}")
        with open(tmp.name) as fh:
            return json.load(fh)["recording"]["events"]


def thread_label(name: str | None) -> str:
    """A stable thread name: task ids, paths and numbers dropped ('Executor task launch worker')."""
    name = name or "?"
    if name.startswith(TASK_THREAD_NAMES):  # 4.x's idle name is the same task thread
        return "Executor task launch worker"
    if name.startswith("stdout writer for"):
        return "stdout writer for python"
    return re.sub(r"\d+", "N", name)


def frame_label(frame: dict) -> str:
    """'package.Class.method', plus ' [native]' for a native method frame."""
    method = frame.get("method") or {}
    cls = ((method.get("type") or {}).get("name") or "?").replace("/", ".")
    label = f"{cls}.{method.get('name', '?')}"
    return label + " [native]" if frame.get("type") == "Native" else label


def event_time(event: dict) -> float:
    """The event's startTime in epoch seconds (JFR gives ISO-8601 with nanoseconds)."""
    text = event["values"]["startTime"]
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not m:
        raise LabError(f"Unreadable JFR startTime {text!r}.")
    base = datetime.fromisoformat(m.group(1) + (m.group(3) if m.group(3) != "Z" else "+00:00"))
    return base.timestamp() + (float(m.group(2)) if m.group(2) else 0.0)


def parse_jfr_events(
    events: list[dict],
    since: float | None = None,
    until: float | None = None,
    threads=TASK_THREADS,
    native_correction: bool = True,
) -> dict[str, int]:
    """Sample events -> collapsed stacks 'thread:<name>;root;...;leaf' -> microseconds.

    since/until: keep events in this epoch-second window; threads: a regex on the thread's Java
    name (None keeps every thread); native_correction: see the module docstring."""
    kept, native_threads = [], set()
    for ev in events:
        kind = ev.get("type")
        if kind not in PERIOD_US:
            continue
        vals = ev.get("values", {})
        if since is not None or until is not None:
            t = event_time(ev)
            if (since is not None and t < since) or (until is not None and t > until):
                continue
        th = vals.get("sampledThread") or {}
        thread = th.get("javaName") or th.get("osName") or "?"
        if kind == "jdk.NativeMethodSample":  # the sampler's round robin runs over all of them
            native_threads.add(th.get("javaThreadId", thread))
        if threads is not None and not re.search(threads, thread):
            continue
        fs = [frame_label(f) for f in ((vals.get("stackTrace") or {}).get("frames") or [])]
        if fs:
            kept.append((kind, ";".join([f"thread:{thread_label(thread)}"] + fs[::-1])))
    n_native = max(len(native_threads), 1)
    stacks: dict = defaultdict(int)
    for kind, stack in kept:
        w = PERIOD_US[kind]
        if kind == "jdk.NativeMethodSample" and native_correction:
            w *= n_native
        stacks[stack] += w
    return dict(stacks)


def jvm_stacks(
    pid: int, since: float, until: float, jfr_path, threads=TASK_THREADS
) -> dict[str, int]:
    """Dump JFR of JVM `pid` to `jfr_path` and return the task threads' collapsed stacks for the
    epoch-second window [since, until] (microseconds)."""
    path = dump_jfr(pid, jfr_path, begin=since)
    return parse_jfr_events(jfr_events(path), since, until, threads)

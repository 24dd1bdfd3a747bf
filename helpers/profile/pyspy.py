"""Py-spy on Spark's Python workers — the same stacks plus native (C/C++) frames.

The in-process sampler (`helpers.profile.worker_profilers`, mode "cpu") sees only Python frames: a
call into LightGBM, NumPy or Arrow's C++ is one opaque leaf. py-spy reads the workers' memory from
outside (ptrace), so with `--native` it unwinds the C stacks too: inside `predict` you see
`lib_lightgbm.so`, inside a conversion NumPy's or Arrow's shared library. It needs ptrace rights
(`ptrace_check` says whether this machine grants them, and why not) and is pinned in
requirements.txt.

How it is attached: the Python daemon (`python -m pyspark.daemon`, a child of the executor JVM)
forks every worker, so `py-spy record --pid <daemon> --subprocesses` follows all workers, including
ones forked during the job. It samples `rate` times a second, only threads that are running
(py-spy's default; `[off-cpu]` time is not in these stacks), pausing a process for each native
unwind. `--format raw` writes collapsed stacks whose weights are sample counts; they are converted
to microseconds (count x 1e6 / rate) so they share a scale with the kit's other stacks.

Frames are normalised to the kit's form, `function (package/file.py)`: the class prefix of a
qualified name and the line number go, file paths become relative to site-packages, the standard
library or the project, so `helpers.profile.classify` applies unchanged. Native frames keep their
library, e.g. `LGBM_BoosterPredictForMat (lightgbm/lib/lib_lightgbm.so)`.

`pyspy_findings` says what one recording found (native share, LightGBM's C++ inside `predict`, the
categories, py-spy's cost next to the in-process sampler's): notebook 05's "what you saw".
"""

from __future__ import annotations

import re
import signal
import subprocess
import sysconfig
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from helpers.core.config import ROOT, LabError
from helpers.core.env import PtraceCheck, ptrace_check, py_spy_available, py_spy_exe  # noqa: F401
from helpers.core.findings import Finding, finding
from helpers.core.validate import require_positive
from helpers.inference.scenarios import get_scenario, scenario_frame
from helpers.measure.samplers import process_table
from helpers.measure.timing import (
    OverheadResult,
    alternated_runs,
    effective_batch_size,
    set_batch_size,
    time_noop,
    warm_up,
)
from helpers.profile.stacks import write_collapsed

PYSPY_RATE = 100  # samples per second per process (py-spy's default)
_PROCESS_FRAME = re.compile(r"^process (\d+):")
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


# ---- can py-spy run here? (the checks live in helpers.core.env) --------------------------------


def require_py_spy() -> str:
    """The py-spy executable, or a one-line LabError saying why it cannot run here."""
    ok, why = py_spy_available()
    if not ok:
        raise LabError(f"py-spy cannot profile the workers here: {why}.")
    return py_spy_exe()


# ---- parsing py-spy's raw output -----------------------------------------------------------------


def _roots() -> list[str]:
    paths = {
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
        sysconfig.get_paths()["stdlib"],
        str(ROOT),
    }
    return sorted((p.rstrip("/") + "/" for p in paths), key=len, reverse=True)


def normalize_frame(frame: str, roots: list[str] | None = None) -> str:
    """'Booster.predict (/…/site-packages/lightgbm/basic.py:4767)' ->
    'predict (lightgbm/basic.py)'."""
    m = _FRAME.match(frame)
    if not m:
        return frame
    name, path = m.group("name"), m.group("file")
    if name.startswith("0x"):
        name = "[unknown]"  # a native address py-spy could not symbolise
    if ".zip/" in path:  # workers import pyspark from SPARK_HOME/python/lib/pyspark.zip
        path = path.split(".zip/", 1)[1]
    for root in roots if roots is not None else _roots():
        if path.startswith(root):
            path = path[len(root) :]
            break
    else:
        if path.startswith("/"):
            path = path.rsplit("/", 1)[-1]  # a system library: libc.so.6, libpython3.11.so.1.0
    if ".so" not in path:
        name = name.rsplit(".", 1)[
            -1
        ]  # Python qualname 'Class.method' / 'f.<locals>.g' -> 'method' / 'g'
    return f"{name} ({path})"


def is_native(frame: str) -> bool:
    """True for a frame in a shared library (C/C++), False for Python code."""
    m = _FRAME.match(frame)
    return bool(m) and (".so" in m.group("file") or m.group("name") == "[unknown]")


def parse_py_spy_raw(
    text: str, rate: int = PYSPY_RATE, roots: list[str] | None = None
) -> tuple[dict, dict]:
    """py-spy `--format raw` text -> ({normalised stack: microseconds}, {pid: samples}). The leading
    `process N:"cmd"` frames (daemon, then worker) are dropped; N of the innermost is the pid.
    `roots`: path prefixes to strip (default: this interpreter's site-packages, stdlib, the
    project)."""
    require_positive("rate", rate)
    roots = _roots() if roots is None else roots
    stacks: dict = {}
    per_pid: dict = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            raise LabError(
                f"py-spy output, line {n}: expected 'frame;...;frame <count>', got {line[:80]!r}."
            )
        pid = None
        kept = []
        for f in stack.split(";"):
            m = _PROCESS_FRAME.match(f)
            if m:
                pid = int(m.group(1))
            else:
                kept.append(normalize_frame(f, roots))
        key = ";".join(kept) or "[no frames]"
        stacks[key] = stacks.get(key, 0) + int(count) * 1_000_000 // rate
        per_pid[pid] = per_pid.get(pid, 0) + int(count)
    return stacks, per_pid


def library_table(stacks: dict, under: str | None = None) -> pd.DataFrame:
    """Where the sampled CPU time was at the leaf: one row per shared library (native code) or
    'Python code' (a Python frame at the leaf: the interpreter running its bytecode). With `under`,
    only stacks with a frame containing that text (e.g. 'predict (lightgbm/basic.py)').
    Columns: library, native, seconds, share (of the selected time). Heaviest first."""
    acc: dict = {}
    for stack, w in stacks.items():
        if under is not None and under not in stack:
            continue
        leaf = stack.rsplit(";", 1)[-1]
        m = _FRAME.match(leaf)
        where = m.group("file") if m and is_native(leaf) else "Python code"
        acc[where] = acc.get(where, 0) + w
    total = sum(acc.values()) or 1
    rows = [
        {"library": k, "native": k != "Python code", "seconds": v / 1e6, "share": v / total}
        for k, v in acc.items()
    ]
    return pd.DataFrame(rows, columns=["library", "native", "seconds", "share"]).sort_values(
        "seconds", ascending=False, ignore_index=True
    )


def native_share(stacks: dict) -> float:
    """Share of the sampled time whose leaf frame is native code (0..1)."""
    t = library_table(stacks)
    return float(t[t.native].share.sum()) if len(t) else 0.0


# ---- one py-spy recording around a job ---------------------------------------------------------


@dataclass
class PySpyProfile:
    """One scenario run with py-spy attached to the Python daemon and its workers."""

    scenario: str
    rows: int
    batch_size: int | None
    wall_s: float
    rate: int
    native: bool
    samples: int
    pids: list
    stacks: dict = field(repr=False)
    py_spy_output: str = field(default="", repr=False)


class PySpy:
    """`py-spy record` attached to `pid` (and its subprocesses) as a context manager. Stopped with
    SIGINT (py-spy then writes its output) by the PID kept here; killed if it does not exit."""

    def __init__(self, pid: int, out_path, rate: int = PYSPY_RATE, native: bool = True):
        require_positive("rate", rate)
        self.cmd = [
            require_py_spy(),
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--format",
            "raw",
            "--rate",
            str(rate),
            "--full-filenames",
            "-o",
            str(out_path),
        ] + (["--native"] if native else [])
        self.out_path = Path(out_path)
        self.proc: subprocess.Popen | None = None
        self.output = ""
        self._lines: list[str] = []
        self._started = threading.Event()

    def _read(self):
        for line in self.proc.stdout:
            self._lines.append(line)
            if "Sampling process" in line:
                self._started.set()
        self._started.set()

    def __enter__(self):
        self.out_path.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        reader = threading.Thread(target=self._read, daemon=True)
        reader.start()
        self._reader = reader
        if not self._started.wait(15) or self.proc.poll() is not None:
            self._stop()
            raise LabError(
                f"py-spy did not start sampling: {''.join(self._lines).strip()[-200:]!r}."
            )
        return self

    def _stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._reader.join(timeout=5) if hasattr(self, "_reader") else None
        self.output = "".join(self._lines)

    def __exit__(self, *exc):
        self._stop()


def py_spy_profile(
    spark,
    name: str,
    rows: int,
    out_dir,
    batch_size: int | None = None,
    rate: int = PYSPY_RATE,
    native: bool = True,
) -> PySpyProfile:
    """Run scenario `name` over `rows` cached rows into the noop sink once with py-spy attached to
    the session's Python daemon (started by a warm-up first). Writes `pyspy.raw` (py-spy's own
    output) and `pyspy.collapsed` (normalised, microseconds) under `out_dir`. If the session has the
    kit's in-process sampler, pause it first
    (`helpers.profile.worker_profilers.pause_workers`): both would run."""

    if not get_scenario(name).python_worker:
        raise LabError(f"Scenario {name!r} runs no Python worker: py-spy has nothing to attach to.")
    require_positive("rows", rows)
    require_py_spy()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    set_batch_size(spark, batch_size)
    warm_up(spark, name, rows)  # the daemon and the reused workers exist from here on
    frame = scenario_frame(spark, name, rows=rows)
    with PySpy(_daemon_pid(), out / "pyspy.raw", rate=rate, native=native) as spy:
        wall = time_noop(frame)
        time.sleep(2.5 / rate)  # let the last samples of the finishing tasks land
    raw = out / "pyspy.raw"
    if not raw.exists():
        raise LabError(f"py-spy wrote no output: {spy.output.strip()[-200:]!r}.")
    stacks, per_pid = parse_py_spy_raw(raw.read_text(), rate)
    write_collapsed(stacks, out / "pyspy.collapsed")
    return PySpyProfile(
        name,
        rows,
        effective_batch_size(spark, name),
        wall,
        rate,
        native,
        sum(per_pid.values()),
        sorted(p for p in per_pid if p is not None),
        stacks,
        spy.output,
    )


def _daemon_pid() -> int:

    daemons = process_table().query("role == 'daemon'").pid.tolist()
    if not daemons:
        raise LabError(
            "No pyspark.daemon process under this session's JVM: run a Python job first "
            "(py-spy attaches to the local daemon and its workers only)."
        )
    return int(daemons[0])


def py_spy_overhead(
    spark,
    name: str = "map_in_pandas",
    rows: int = 100_000,
    pairs: int = 3,
    batch_size: int | None = None,
    rate: int = PYSPY_RATE,
    native: bool = True,
    out_dir=None,
):
    """Alternate runs of the same job without and with py-spy attached (`pairs` each, after a
    warm-up) in one session; returns a `helpers.measure.timing.OverheadResult` (wall seconds).
    py-spy (run without `--nonblocking`) pauses each process on every sample, and `--native`
    makes each pause longer, so its cost grows with `rate` and `native`."""
    import itertools
    import tempfile

    require_positive("pairs", pairs)
    require_py_spy()
    set_batch_size(spark, batch_size)
    warm_up(spark, name, rows)
    pid = _daemon_pid()
    with tempfile.TemporaryDirectory(prefix="pyspy-overhead-") as tmp:
        out = Path(out_dir or tmp)
        spied_runs = itertools.count()

        def run(spied: bool) -> float:
            frame = scenario_frame(spark, name, rows=rows)
            if not spied:
                return time_noop(frame)
            with PySpy(pid, out / f"overhead-{next(spied_runs)}.raw", rate=rate, native=native):
                return time_noop(frame)

        on, off = alternated_runs(pairs, run)
    return OverheadResult(name, rows, on, off)


# ---- findings: what notebook 05 says about a py-spy recording ----------------------------------

PREDICT_FRAME = "predict (lightgbm/basic.py)"


def spread(seconds) -> float:
    """Run-to-run noise of repeated timings: (slowest - fastest) / fastest (0 for one run)."""
    return (max(seconds) - min(seconds)) / min(seconds) if seconds else 0.0


PYSPY_FINDINGS = {
    "skipped": (
        "py-spy did not run here ({why}); the in-process sampler above needs no ptrace and gives "
        "the Python view."
    ),
    "native": (
        "**{native_share:.0%} of py-spy's on-CPU samples ended in native code**, "
        "{python_share:.0%} in Python bytecode; inside `predict`, {lightgbm_share:.0%} is "
        "LightGBM's C++ (`lib_lightgbm.so`: tree traversal)."
    ),
    "cost": (
        "Its price: best run with py-spy / without = **{ratio:.2f}** against {sampler_ratio:.3f} "
        "for the in-process sampler, noise ±{noise:.0%}: {verdict}."
    ),
}
COST_VERDICT = {
    "more": "more, beyond the noise, so use it for one run",
    "not_more": "not more than the sampler, beyond the noise",
    "noise": "a gap inside the noise, so rerun to compare",
}


def pyspy_findings(
    spy: PySpyProfile | None,
    cost: OverheadResult | None,
    sampler_ratio: float | OverheadResult,
    why: str = "",
) -> list[Finding]:
    """What one py-spy recording found: the native and Python shares of its samples with
    LightGBM's library share inside `predict`, and its wall-time ratio (with / without py-spy)
    next to the in-process sampler's (`sampler_ratio`: a ratio, or the sampler's OverheadResult
    whose run-to-run noise then widens the band): more, not more, or within the noise
    (COST_VERDICT). Without a recording (`spy` None), one finding saying why py-spy could not run
    (`why`)."""
    if spy is None or cost is None:
        return [finding(PYSPY_FINDINGS, "skipped", why=why or "not run")]
    noise = max(spread(cost.unprofiled_s), spread(cost.profiled_s))
    if hasattr(sampler_ratio, "ratio"):  # the sampler's OverheadResult: its noise counts too
        sampler = sampler_ratio
        noise = max(noise, spread(sampler.unprofiled_s), spread(sampler.profiled_s))
        sampler_ratio = sampler.ratio
    gap = cost.ratio - sampler_ratio
    verdict = COST_VERDICT["more" if gap > noise else "not_more" if -gap > noise else "noise"]
    inside = library_table(spy.stacks, under=PREDICT_FRAME)
    share = float(inside[inside.library.str.contains("lightgbm")].share.sum())
    libs = library_table(spy.stacks)
    return [
        finding(
            PYSPY_FINDINGS,
            "native",
            native_share=native_share(spy.stacks),
            python_share=float(libs[~libs.native].share.sum()),
            lightgbm_share=share,
        ),
        finding(
            PYSPY_FINDINGS,
            "cost",
            ratio=cost.ratio,
            sampler_ratio=sampler_ratio,
            noise=noise,
            verdict=verdict,
        ),
    ]

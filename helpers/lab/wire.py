"""Notebook 08: the same kit commands on both Spark lines, side by side.

Each line (`helpers.core.lines.LINES`: 3.5 in `.venv`, 4.x in `.venv-spark4`) runs the kit's own
CLI commands (`bench`, `ledger`, `sweep`, `taskcost`) in a subprocess with that line's venv
python; every command writes its records with `--json` (atomically, `helpers.cli.common`) and the
records come back here as plain data. Nothing is measured in the caller's process, so one kernel
(of either line) compares both, and a missing line is one sentence saying which `make` builds it.

- `WireSizes` / `wire_sizes()`: the sizes per LAB_SCALE (ci keeps both lines to about a minute).
- `command_line(...)`: the exact argv of one command (pure).
- `run_line(...)`: one line's commands, each in a child process: `LineRun` of `CommandRun`s.
- `compare_lines(...)` -> `WireComparison`: tables side by side (`bench_table`, `sweep_table`,
  `taskcost_table`, `ledger_table`) and `findings()`, each naming the Spark change behind a
  difference (`helpers.core.lines.SINCE`) and the size this run measured.

Units: rows/s, seconds, bytes; ms where the name says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from helpers.core.config import ROOT, LabError, scale
from helpers.core.findings import Finding, finding
from helpers.core.lines import DEFAULT_LINE, LINES, SINCE, Line, has
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.session import start_session, stop_session
from helpers.inference.scenarios import input_frame, model_broadcast
from helpers.lab.levers import conf_entry
from helpers.lab.taskcost import lean_verdict, per_task_seconds
from helpers.measure.timing import reference_predictions, time_noop

COMMANDS = ("bench", "ledger", "sweep", "taskcost")


@dataclass(frozen=True)
class WireSizes:
    """What each command runs over (the same on both lines)."""

    bench_rows: int
    bench_scenarios: tuple[str, ...]
    bench_repeats: int
    ledger_rows: int  # rows per batch
    ledger_batches: int
    ledger_paths: tuple[str, ...]
    sweep_scenario: str
    sweep_rows: int
    batch_sizes: tuple[int, ...]
    taskcost_scenario: str
    taskcost_rows: int
    partitions: tuple[int, ...]
    taskcost_repeats: int

    def describe(self) -> str:
        """One line for the notebook: the sizes of this run."""
        return (
            f"bench {self.bench_rows:,} rows; ledger {self.ledger_batches} x "
            f"{self.ledger_rows:,} rows; sweep {self.sweep_rows:,} rows at "
            f"{', '.join(f'{b:,}' for b in self.batch_sizes)} rows per batch; taskcost "
            f"{self.taskcost_rows:,} rows over {' and '.join(map(str, self.partitions))} partitions"
        )


_BENCH_PATHS = ("row_udf", "default_udf", "pandas_udf", "map_in_arrow")
_LEDGER_PATHS = ("pandas_udf", "map_in_arrow")
SIZES = {
    "ci": WireSizes(10_000, _BENCH_PATHS, 1, 2_000, 2, _LEDGER_PATHS, "map_in_pandas", 10_000,
                    (100, 5_000), "map_in_pandas", 10_000, (2, 4), 1),
    "workshop": WireSizes(200_000, _BENCH_PATHS, 3, 50_000, 4, _LEDGER_PATHS, "map_in_pandas",
                          100_000, (100, 1_000, 10_000, 100_000), "map_in_pandas", 100_000,
                          (2, 32), 2),
    "full": WireSizes(1_000_000, _BENCH_PATHS, 3, 250_000, 4, _LEDGER_PATHS, "map_in_pandas",
                      1_000_000, (100, 1_000, 10_000, 100_000, 1_000_000), "map_in_pandas",
                      1_000_000, (2, 32), 3),
}  # fmt: skip


def wire_sizes(scale_name: str | None = None) -> WireSizes:
    """The sizes for LAB_SCALE (or `scale_name`)."""
    return SIZES[scale_name or scale()]


def command_line(command: str, sizes: WireSizes, json_path: Path | str) -> list[str]:
    """The arguments after `python -m helpers` for one command at `sizes`, writing `json_path`."""
    s = sizes
    if command == "bench":
        args = [
            "--rows",
            s.bench_rows,
            "--scenarios",
            ",".join(s.bench_scenarios),
            "--repeats",
            s.bench_repeats,
        ]
    elif command == "ledger":
        args = [
            "--rows",
            s.ledger_rows,
            "--batches",
            s.ledger_batches,
            "--paths",
            ",".join(s.ledger_paths),
        ]
    elif command == "sweep":
        args = [
            "--scenario",
            s.sweep_scenario,
            "--rows",
            s.sweep_rows,
            "--batch-sizes",
            ",".join(map(str, s.batch_sizes)),
        ]
    elif command == "taskcost":
        args = [
            "--scenario",
            s.taskcost_scenario,
            "--rows",
            s.taskcost_rows,
            "--partitions",
            ",".join(map(str, s.partitions)),
            "--repeats",
            s.taskcost_repeats,
        ]
    else:
        raise LabError(f"Unknown command {command!r}: use some of {', '.join(COMMANDS)}.")
    return [command, *map(str, args), "--json", str(json_path)]


def line_python(line: Line, root: Path = ROOT) -> Path:
    """The venv python of `line` in the project folder: `line.venv`, else the newest of the
    per-Python venvs `make ... PYTHON=python3.x` builds (`.venv-spark4-py3.13`); the plain path when
    none exists (callers say which `make` builds it)."""
    plain = Path(root) / line.venv / "bin" / "python"
    if plain.exists():
        return plain
    found = sorted(
        Path(root).glob(f"{line.venv}-py3.*/bin/python"),
        key=lambda p: int(p.parent.parent.name.rsplit(".", 1)[-1]),
    )
    return found[-1] if found else plain


def setup_command(line: Line) -> str:
    """The `make` command that builds `line`'s environment."""
    return "make setup" if line.name == DEFAULT_LINE else f"make setup SPARK={line.name}"


def error_line(stderr: str, returncode: int) -> str:
    """The one-line error a kit command printed (`error: ...` on stderr, without the prefix), else
    the last line of stderr, else the exit code."""
    lines = [ln.strip() for ln in (stderr or "").strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    if errors:
        return errors[-1].removeprefix("error:").strip()
    if lines:
        return lines[-1]
    return f"exit code {returncode}."


@dataclass
class CommandRun:
    """One command in one line's child process: its argv, exit code, wall seconds (JVM start
    included), the records of its `--json` file, or the one-line error it printed."""

    command: str
    argv: list[str]
    returncode: int
    seconds: float
    records: list | dict | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.records is not None


def parse_run(
    command: str,
    argv: list[str],
    returncode: int,
    seconds: float,
    stderr: str,
    json_text: str | None,
) -> CommandRun:
    """A finished child: its records when it exited 0 and wrote valid JSON, else the error."""
    if returncode != 0:
        return CommandRun(command, argv, returncode, seconds, None, error_line(stderr, returncode))
    if not json_text:
        return CommandRun(command, argv, returncode, seconds, None, "it wrote no JSON records.")
    try:
        records = json.loads(json_text)
    except json.JSONDecodeError as exc:
        return CommandRun(command, argv, returncode, seconds, None, f"unreadable JSON ({exc}).")
    return CommandRun(command, argv, returncode, seconds, records)


@dataclass
class LineRun:
    """One line's runs. `missing` when its venv python does not exist (then `runs` is empty)."""

    line: str  # key of LINES
    python: str
    runs: dict[str, CommandRun] = field(default_factory=dict)
    missing: bool = False

    @property
    def label(self) -> str:
        return LINES[self.line].label

    def records(self, command: str):
        run = self.runs.get(command)
        return run.records if run is not None and run.ok else None

    @property
    def spark_version(self) -> str | None:
        """Asked from the running Spark: the `spark_version` of its bench records."""
        for r in self.records("bench") or []:
            if r.get("spark_version"):
                return r["spark_version"]
        return None


_CLEAN_ENV = ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "SPARK_HOME", "PYTHONPATH", "VIRTUAL_ENV")


def child_env(base: dict | None = None) -> dict:
    """The environment of a line's child: the caller's, without what would point it at the
    caller's Spark or venv (each line's session factory sets its own)."""
    env = dict(os.environ if base is None else base)
    for key in _CLEAN_ENV:
        env.pop(key, None)
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return env


def run_line(
    line: Line,
    sizes: WireSizes,
    commands=COMMANDS,
    out_dir: Path | None = None,
    timeout: float = 900,
    root: Path = ROOT,
    progress: Progress | Sink | None = None,
) -> LineRun:
    """Each command of `commands` in its own child process with `line`'s venv python, one after
    the other (never both lines at once: they would share the cores). The `--json` files go to
    `out_dir`/<line>/ (default: a temporary folder removed afterwards). A missing venv gives a
    `LineRun` with `missing=True` and runs nothing. `progress`: one step per command."""
    p = as_progress(progress)
    python = line_python(line, root)
    result = LineRun(line.name, str(python))
    if not python.exists():
        result.missing = True
        return result
    with contextlib.ExitStack() as stack:
        if out_dir is None:  # records are read back here; the files go with the folder
            out_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="wire-"))
        out = Path(out_dir) / line.name
        out.mkdir(parents=True, exist_ok=True)
        with p.task(f"{line.label}: {len(commands)} commands", len(commands)):
            for command in commands:
                p.step(f"{line.label}: {command}")
                result.runs[command] = _run_command(python, command, sizes, out, timeout, root)
    return result


def _run_command(
    python: Path, command: str, sizes: WireSizes, out: Path, timeout: float, root: Path
) -> CommandRun:
    path = out / f"{command}.json"
    path.unlink(missing_ok=True)
    argv = [str(python), "-m", "helpers", *command_line(command, sizes, path)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, cwd=root, env=child_env(), timeout=timeout
        )
        code, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired:  # subprocess.run killed the child
        code, stderr = -1, f"error: timed out after {timeout:.0f} s."
    seconds = time.perf_counter() - t0
    text = path.read_text() if path.exists() else None
    return parse_run(command, argv, code, seconds, stderr, text)


def compare_lines(
    sizes: WireSizes | None = None,
    commands=COMMANDS,
    out_dir: Path | None = None,
    timeout: float = 900,
    progress: Progress | Sink | None = None,
) -> WireComparison:
    """Every line of `LINES` (3.5 first), each in its own environment, at `sizes` (default: the
    LAB_SCALE sizes); one progress bar over every command of every line."""
    sizes = sizes or wire_sizes()
    p = as_progress(progress)
    runs = {}
    with p.task("both lines", len(LINES) * len(commands)):
        for n, line in LINES.items():
            runs[n] = run_line(line, sizes, commands, out_dir, timeout, progress=p)
    return WireComparison(runs, sizes)


# ---- the comparison ----------------------------------------------------------------------------

WIRE_FINDINGS = {
    "missing": (
        "The {label} line is not set up here (no `{python}`): `{make}` builds it, then run this "
        "notebook again to see both lines side by side."
    ),
    "versions": (
        "Both lines ran the same commands at the same sizes, one after the other: Spark "
        "{version_a} and Spark {version_b} (asked from each running Spark)."
    ),
    "alone": (
        "The table above is {labels} alone: with one line there is no difference to name yet "
        "(*What ran* says which `make` builds the other)."
    ),
    "limit": (
        "The physical limit (the model in plain Python processes, no Spark) ran at "
        "{a:,.0f} rows/s in the {label_a} venv and {b:,.0f} in the {label_b} venv: no Spark takes "
        "part, so that gap is the venvs' numpy, pandas and pyarrow plus the machine's load at that "
        "moment. Each path's ratio to its own line's limit below takes both out."
    ),
    "above_limit": (
        "On {label}, `{path}` ran at {ratio:.2f}x that line's physical limit: faster than the "
        "limit means the machine's load changed between the two measurements, so this line's "
        "ratios are not trustworthy in this run; rerun on a quieter machine."
    ),
    "parity": (
        "{who} {verdict} the in-process reference: largest |difference| {diff} (the kit's bound "
        "is 1e-9)."
    ),
    "default_udf_arrow": (
        "On Spark {version_b} a plain `@udf` (Arrow-optimized by default from 4.2, {change}) ran "
        "at {in_b:.2f}x the explicit pickled `row_udf`; on Spark {version_a}, where both are "
        "pickled, at {in_a:.2f}x ({rows:,} rows). {verdict}"
    ),
    "default_udf_same": (
        "A plain `@udf` (no `useArrow`) ran at {ratio_a:.2f}x the limit on Spark {version_a} and "
        "{ratio_b:.2f}x on Spark {version_b} ({rows:,} rows): both lines choose the same "
        "serializer for it by default (Arrow from 4.2, {change})."
    ),
    "runner": (
        "`{path}` ran at {ratio_a:.2f}x its limit on {label_a} and {ratio_b:.2f}x on {label_b} "
        "({rows:,} rows). The JVM side of every Arrow path changed between them: from 4.0 the "
        "task thread writes each batch to the worker itself instead of a separate writer thread "
        "per worker ({change}; `BasePythonRunner` in `PythonRunner.scala`). One run on shared "
        "cores cannot separate that from the other changes; the sweep below shows where the CPU "
        "went."
    ),
    "sweep_cpu": (
        "At {batch:,} rows per batch (`{scenario}`, {rows:,} rows) the JVM spent {jvm_a:.2f} s of "
        "CPU per million rows on {label_a} and {jvm_b:.2f} s on {label_b}; the Python workers "
        "{py_a:.2f} s and {py_b:.2f} s. Throughput {tput_a:,.0f} vs {tput_b:,.0f} rows/s."
    ),
    "bytes_cap": (
        "{label_b} also caps every Arrow batch in bytes (`spark.sql.execution.arrow."
        "maxBytesPerBatch`, default {cap_mib:.0f} MiB, from 4.0, {change}); the largest batch of "
        "this sweep asked for {mb:.2f} MB of input values, {verdict}."
    ),
    "moved": (
        "`{path}` moved most between the lines: {change:+.0%} in its ratio to the limit "
        "({ratio_a:.2f}x on {label_a}, {ratio_b:.2f}x on {label_b}), {verdict}."
    ),
    "taskcost_lean": (
        "Each extra Python task added {stock_a:.0f} ms of wall time on {label_a} and "
        "{stock_b:.0f} ms on {label_b} (`{scenario}`, {rows:,} rows over {parts} partitions). With "
        "the lean daemon {label_a} took {lean_a:.0f} ms, {verdict} (±{noise:.0f} ms); {label_b} "
        "workers call `importlib.invalidate_caches()` only when a task changed `sys.path` "
        "({change}), so there it has nothing to remove."
    ),
    "taskcost": (
        "Each extra Python task added {stock_a:.0f} ms of wall time on {label_a} and "
        "{stock_b:.0f} ms on {label_b} (`{scenario}`, {rows:,} rows over {parts} partitions)."
    ),
    "ledger": (
        "Copy ledger, one batch per path: the hops whose bytes written differ by half or more "
        "between {label_a} and {label_b} are {hops}; each line replays its own worker's calls "
        "(notebook 03 §4)."
    ),
    "ledger_one": (
        "The copy ledger ran on {label} only (`{path}`, one batch of {rows:,} rows: {hops} hops "
        "writing {mb:.2f} MB); on {other}: {error}"
    ),
}

# a ledger hop whose bytes differ between the lines by less than this is noise
LEDGER_HOP_MIN_BYTES = 1024
# a path's ratio to its limit that moved less than this between the lines is noise
MOVE_BAND = 0.15
# Spark's default byte cap per Arrow batch (SQLConf ARROW_EXECUTION_MAX_BYTES_PER_BATCH,
# createWithDefaultString("64MB"): 64 MiB, from 4.0; javap of spark-catalyst 4.3.0)
BYTES_CAP_DEFAULT = 64 * 2**20

# which findings each section of notebook 08 shows
SECTIONS = {
    "overview": ("missing", "versions"),
    "bench": (
        "limit", "above_limit", "parity", "moved", "default_udf_arrow", "default_udf_same",
        "runner",
    ),
    "sweep": ("sweep_cpu", "bytes_cap"),
    "taskcost": ("taskcost_lean", "taskcost"),
    "ledger": ("ledger", "ledger_one"),
}  # fmt: skip
# the lean daemon on the 3.5 line against the stock one (taskcost.lean_verdict)
LEAN_VERDICTS = {
    "faster": "more than the noise",
    "slower": "slower beyond the noise: rerun before reading a cost into it",
    "noise": "inside the noise, so no verdict this run",
}


def _default_udf_verdict(in_a: float, in_b: float) -> str:
    """The plain @udf's gain from the Arrow default, against the noise of the line where it is
    the same pickled path as `row_udf` (how far apart two identical paths ran there)."""
    gain, noise = in_b / in_a - 1, abs(in_a - 1)
    if gain > noise:
        return (
            f"The Arrow default gained {gain:.0%}, more than the {noise:.0%} two identical "
            "pickled paths differ by."
        )
    if -gain > noise:
        return (
            f"It lost {-gain:.0%}, more than the {noise:.0%} two identical pickled paths differ "
            "by: at these sizes the Arrow default does not pay."
        )
    return (
        f"The difference ({gain:+.0%}) is within the {noise:.0%} two identical pickled paths "
        "differ by: no gain measurable here."
    )


@dataclass
class WireComparison:
    """Both lines' runs at the same sizes. Tables are tidy (a `line` column); findings compare."""

    runs: dict[str, LineRun]
    sizes: WireSizes

    # ---- which lines ran -------------------------------------------------------------------
    def present(self) -> list[LineRun]:
        return [r for r in self.runs.values() if not r.missing]

    def both(self) -> tuple[LineRun, LineRun] | None:
        """(3.5, 4.x) when both environments exist, else None."""
        p = self.present()
        return (p[0], p[1]) if len(p) == 2 else None

    def _tidy(self, command: str) -> pd.DataFrame:
        frames = []
        for r in self.present():
            recs = r.records(command)
            if recs:
                frames.append(pd.DataFrame(recs).assign(line=r.label))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    # ---- tables ------------------------------------------------------------------------------
    def bench_table(self) -> pd.DataFrame:
        """One row per (line, path): rows, rows_per_s, ratio_to_limit, max_abs_diff; the
        physical limit of each line first."""
        t = self._tidy("bench")
        cols = ["line", "name", "rows", "rows_per_s", "ratio_to_limit", "max_abs_diff"]
        return t[cols] if not t.empty else pd.DataFrame(columns=cols)

    def side_by_side(self) -> pd.DataFrame:
        """Ratio to each line's own limit, one column per line, one row per path."""
        t = self.bench_table()
        if t.empty:
            return t
        wide = t.pivot(index="name", columns="line", values="ratio_to_limit")
        order = list(dict.fromkeys(t["name"]))
        return wide.reindex(order)[[r.label for r in self.present() if r.label in wide]]

    def sweep_table(self) -> pd.DataFrame:
        """One row per (line, batch size): throughput, CPU seconds per million rows in the JVM and
        in the Python workers, peak JVM off-heap bytes, the batch's input bytes."""
        t = self._tidy("sweep")
        cols = [
            "line",
            "batch_size",
            "throughput",
            "jvm_cpu_s_per_m_rows",
            "python_cpu_s_per_m_rows",
            "peak_jvm_offheap_bytes",
            "batch_bytes",
        ]
        if t.empty:
            return pd.DataFrame(columns=cols)
        t = t.assign(
            jvm_cpu_s_per_m_rows=t.jvm_cpu_s / t.rows * 1e6,
            python_cpu_s_per_m_rows=t.python_cpu_s / t.rows * 1e6,
        )
        return t[cols]

    def taskcost_table(self) -> pd.DataFrame:
        """One row per (line, daemon): ms of wall time each extra task added, its noise band (ms;
        NaN when the runs kept no slowest repeat) and wall seconds at the most partitions
        (`taskcost.per_task_seconds`, as notebook 05)."""
        cols = ["line", "daemon", "per_task_wall_ms", "noise_ms", "wall_s_at_most_tasks"]
        parts = [
            per_task_seconds(pd.DataFrame(recs)).assign(line=r.label)
            for r in self.present()
            if (recs := r.records("taskcost"))
        ]
        return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)

    def ledger_table(self) -> pd.DataFrame:
        """One row per (line, path): hops, bytes written to new memory and seconds, per batch."""
        t = self._tidy("ledger")
        cols = ["line", "path", "hops", "bytes", "seconds"]
        if t.empty:
            return pd.DataFrame(columns=cols)
        g = t.groupby(["line", "path"], sort=False)
        out = g.agg(hops=("hop", "size"), bytes=("bytes", "sum"), seconds=("seconds", "sum"))
        return out.reset_index()[cols]

    def runs_table(self) -> pd.DataFrame:
        """One row per (line, command): wall seconds of the child (JVM start included), whether
        it produced records, its one-line error."""
        rows = [
            {
                "line": r.label,
                "command": c,
                "seconds": run.seconds,
                "ok": run.ok,
                "error": run.error or "",
            }  # fmt: skip
            for r in self.present()
            for c, run in r.runs.items()
        ]
        return pd.DataFrame(rows, columns=["line", "command", "seconds", "ok", "error"])

    def errors(self) -> pd.DataFrame:
        """Every command that did not run: line, command, error."""
        rows = [
            {"line": r.label, "command": c, "error": run.error}
            for r in self.present()
            for c, run in r.runs.items()
            if not run.ok
        ]
        return pd.DataFrame(rows, columns=["line", "command", "error"])

    # ---- findings -----------------------------------------------------------------------------
    def findings(self, section: str | None = None) -> list[Finding]:
        """`all_findings()`, or only those of one notebook section (a key of `SECTIONS`)."""
        if section is None:
            return self.all_findings()
        if section not in SECTIONS:
            raise LabError(f"Unknown section {section!r}: use one of {', '.join(SECTIONS)}.")
        out = [f for f in self.all_findings() if f.key in SECTIONS[section]]
        if section != "overview" and self.both() is None:
            labels = " and ".join(r.label for r in self.present()) or "no line"
            out.append(finding(WIRE_FINDINGS, "alone", labels=labels))
        return out

    def all_findings(self) -> list[Finding]:
        """What this run found: a missing line and the `make` that builds it (a command that did
        not run is a row of `runs_table`, with its error); a path that broke parity; with both
        lines: the versions, the physical limits, parity, the path that moved most, the plain
        `@udf` (SPARK-54555), the runner (SPARK-44705), the sweep's CPU split (its best batch is
        the chart's), the byte cap (SPARK-51316), the per-task cost (apache/spark#53518) and the
        ledger hops that differ, each with the size measured."""
        out = [
            finding(
                WIRE_FINDINGS,
                "missing",
                label=r.label,
                python=r.python,
                make=setup_command(LINES[r.line]),
            )
            for r in self.runs.values()
            if r.missing
        ]
        out += self._parity_broken()
        pair = self.both()
        if pair is None:  # a line is missing: its `missing` finding says which `make` builds it
            return out
        a, b = pair
        out.append(
            finding(
                WIRE_FINDINGS, "versions", version_a=a.spark_version or "?",
                version_b=b.spark_version or "?",
            )
        )  # fmt: skip
        out += self._bench_findings(a, b)
        out += self._sweep_findings(a, b)
        out += self._taskcost_findings(a, b)
        out += self._ledger_findings(a, b)
        return out

    def _parity_broken(self) -> list[Finding]:
        t = self.bench_table()
        bad = t[t.max_abs_diff.astype(float) > 1e-9] if not t.empty else t
        return [
            finding(
                WIRE_FINDINGS,
                "parity",
                who=f"`{r.name}` on {r.line}",
                verdict="did NOT agree with",
                diff=f"{float(r.max_abs_diff):.3g}",
            )
            for r in bad.itertuples()
        ]

    def _bench_findings(self, a: LineRun, b: LineRun) -> list[Finding]:
        t = self.bench_table()
        if t.empty or set(t.line) != {a.label, b.label}:
            return []
        ratio = t.pivot(index="name", columns="line", values="ratio_to_limit")
        speed = t.pivot(index="name", columns="line", values="rows_per_s")
        rows = int(t.rows.max())
        labels = dict(label_a=a.label, label_b=b.label)
        out = [
            finding(
                WIRE_FINDINGS,
                "limit",
                a=float(speed.loc["physical_limit", a.label]),
                b=float(speed.loc["physical_limit", b.label]),
                **labels,
            )
        ]
        above = t[(t.name != "physical_limit") & (t.ratio_to_limit.astype(float) > 1.0)]
        out += [
            finding(
                WIRE_FINDINGS,
                "above_limit",
                label=label,
                path=g.name.iloc[0],
                ratio=float(g.ratio_to_limit.max()),
            )  # fmt: skip
            for label, g in above.sort_values("ratio_to_limit", ascending=False).groupby(
                "line", sort=False
            )
        ]
        diffs = t.groupby("line").max_abs_diff.max()
        if (diffs <= 1e-9).all():
            out.append(
                finding(
                    WIRE_FINDINGS,
                    "parity",
                    who="Every path on both lines",
                    verdict="agreed with",
                    diff=f"{diffs[a.label]:.1g} ({a.label}) and {diffs[b.label]:.1g} ({b.label})",
                )
            )
        both = ratio.dropna().index
        moved = (ratio.loc[[p for p in both if p != "physical_limit"]].pipe(
            lambda r: r[b.label] / r[a.label] - 1
        ))  # fmt: skip
        if len(moved):
            top = moved.abs().idxmax()
            ra_top, rb_top = float(ratio.loc[top, a.label]), float(ratio.loc[top, b.label])
            verdict = (
                f"beyond ±{MOVE_BAND:.0%}" if abs(moved[top]) >= MOVE_BAND else
                f"within ±{MOVE_BAND:.0%}, one run's noise: rerun with more repeats to compare"
            )  # fmt: skip
            out.append(
                finding(
                    WIRE_FINDINGS, "moved", path=top, change=float(moved[top]), ratio_a=ra_top,
                    ratio_b=rb_top, verdict=verdict, **labels,
                )
            )  # fmt: skip
        va, vb = a.spark_version, b.spark_version
        if "default_udf" in both and va and vb:
            arrow_a = has("arrow_udf_by_default", va)
            arrow_b = has("arrow_udf_by_default", vb)
            ra, rb = (
                float(ratio.loc["default_udf", a.label]),
                float(ratio.loc["default_udf", b.label]),
            )
            common = dict(
                ratio_a=ra,
                ratio_b=rb,
                version_a=va,
                version_b=vb,
                rows=rows,
                change=SINCE["arrow_udf_by_default"][1],
            )
            if arrow_a != arrow_b and "row_udf" in both:
                row_a = float(ratio.loc["row_udf", a.label])
                row_b = float(ratio.loc["row_udf", b.label])
                in_a, in_b = ra / row_a, rb / row_b
                out.append(
                    finding(
                        WIRE_FINDINGS,
                        "default_udf_arrow",
                        change_rel=rb / ra - 1,
                        row_a=row_a,
                        row_b=row_b,
                        in_a=in_a,
                        in_b=in_b,
                        verdict=_default_udf_verdict(in_a, in_b),
                        **common,
                    )
                )
            elif arrow_a == arrow_b:
                out.append(finding(WIRE_FINDINGS, "default_udf_same", **common))
        arrow = [p for p in ("map_in_arrow", "pandas_udf", "map_in_pandas") if p in both]
        if (
            arrow
            and va
            and vb
            and has("single_threaded_runner", vb) != has("single_threaded_runner", va)
        ):
            p = arrow[0]
            out.append(
                finding(
                    WIRE_FINDINGS,
                    "runner",
                    path=p,
                    rows=rows,
                    ratio_a=float(ratio.loc[p, a.label]),
                    ratio_b=float(ratio.loc[p, b.label]),
                    change=SINCE["single_threaded_runner"][1],
                    **labels,
                )
            )
        return out

    def _sweep_findings(self, a: LineRun, b: LineRun) -> list[Finding]:
        t = self.sweep_table()
        if t.empty or set(t.line) != {a.label, b.label}:
            return []
        labels = dict(label_a=a.label, label_b=b.label)
        biggest = int(t.batch_size.max())
        at = t[t.batch_size == biggest].set_index("line")
        out = [
            finding(
                WIRE_FINDINGS,
                "sweep_cpu",
                batch=biggest,
                scenario=self.sizes.sweep_scenario,
                rows=self.sizes.sweep_rows,
                jvm_a=float(at.loc[a.label, "jvm_cpu_s_per_m_rows"]),
                jvm_b=float(at.loc[b.label, "jvm_cpu_s_per_m_rows"]),
                py_a=float(at.loc[a.label, "python_cpu_s_per_m_rows"]),
                py_b=float(at.loc[b.label, "python_cpu_s_per_m_rows"]),
                tput_a=float(at.loc[a.label, "throughput"]),
                tput_b=float(at.loc[b.label, "throughput"]),
                **labels,
            )
        ]
        va, vb = a.spark_version, b.spark_version
        if (
            va
            and vb
            and has("arrow_max_bytes_per_batch", vb)
            and not has("arrow_max_bytes_per_batch", va)
        ):
            biggest_bytes = float(t.batch_bytes.max())
            verdict = (
                f"over the cap, so there {b.label} cut smaller batches than {a.label}"
                if biggest_bytes > BYTES_CAP_DEFAULT
                else "under the cap, so here the row count set the batches on both lines"
            )
            out.append(
                finding(
                    WIRE_FINDINGS,
                    "bytes_cap",
                    verdict=verdict,
                    change=SINCE["arrow_max_bytes_per_batch"][1],
                    mb=biggest_bytes / 1e6,
                    cap_mib=BYTES_CAP_DEFAULT / 2**20,
                    **labels,
                )
            )
        return out

    def _taskcost_findings(self, a: LineRun, b: LineRun) -> list[Finding]:
        t = self.taskcost_table()
        if t.empty or set(t.line) != {a.label, b.label}:
            return []
        rows = t.set_index(["line", "daemon"])
        ms = rows.per_task_wall_ms
        common = dict(
            label_a=a.label,
            label_b=b.label,
            stock_a=float(ms[(a.label, "stock")]),
            stock_b=float(ms[(b.label, "stock")]),
            scenario=self.sizes.taskcost_scenario,
            rows=self.sizes.taskcost_rows,
            parts=" and ".join(map(str, self.sizes.partitions)),
        )
        if (a.label, "lean") in ms.index and (b.label, "lean") not in ms.index:
            verdict, band = lean_verdict(rows.loc[(a.label, "stock")], rows.loc[(a.label, "lean")])
            return [
                finding(
                    WIRE_FINDINGS,
                    "taskcost_lean",
                    verdict=LEAN_VERDICTS[verdict],
                    lean_a=float(ms[(a.label, "lean")]),
                    noise=band,
                    change=SINCE["conditional_invalidate_caches"][1],
                    **common,
                )
            ]
        return [finding(WIRE_FINDINGS, "taskcost", **common)]

    def _ledger_on_one(self) -> bool:
        pair = self.both()
        return bool(pair) and [r.records("ledger") is not None for r in pair].count(True) == 1

    def _ledger_findings(self, a: LineRun, b: LineRun) -> list[Finding]:
        t = self.ledger_table()
        if t.empty:
            return []
        path = self.sizes.ledger_paths[-1]
        per = t[t.path == path].set_index("line")
        rows = self.sizes.ledger_rows
        if self._ledger_on_one():
            ran, other = (a, b) if a.records("ledger") is not None else (b, a)
            if ran.label not in per.index:
                return []
            return [
                finding(
                    WIRE_FINDINGS,
                    "ledger_one",
                    label=ran.label,
                    path=path,
                    rows=rows,
                    hops=int(per.loc[ran.label, "hops"]),
                    mb=float(per.loc[ran.label, "bytes"]) / 1e6,
                    other=other.label,
                    error=other.runs["ledger"].error,
                )
            ]
        if {a.label, b.label} <= set(per.index):
            return self._ledger_hop_findings(a, b)
        return []

    def _ledger_hop_findings(self, a: LineRun, b: LineRun) -> list[Finding]:
        """The hops, present on both lines, whose bytes written differ by half or more (and by at
        least LEDGER_HOP_MIN_BYTES): where the lines' workers or JVMs copy differently."""
        t = self._tidy("ledger")
        wide = t.pivot_table(
            index=["path", "hop"], columns="line", values="bytes", aggfunc="sum", sort=False
        )
        if not {a.label, b.label} <= set(wide.columns):
            return []
        differ = []
        for (path, hop), r in wide.dropna().iterrows():
            x, y = float(r[a.label]), float(r[b.label])
            if abs(x - y) >= max(LEDGER_HOP_MIN_BYTES, 0.5 * max(x, y)):
                differ.append(f"`{path}` *{hop}* ({x / 1e6:.2f} vs {y / 1e6:.2f} MB per batch)")
        return [
            finding(WIRE_FINDINGS, "ledger", hops=", ".join(differ) or "none",
                    label_a=a.label, label_b=b.label)
        ]  # fmt: skip


# ---- the learner's job on each line ------------------------------------------------------------

JOB_FINDINGS = {
    "job_change": (
        "On {label} (Spark {version}) your job with {conf} ran at **{ratio:.2f}x** the rows/s "
        "without it ({on:,.0f} vs {off:,.0f} rows/s): {verdict}."
    ),
    "job_parity": (
        "{label}: predictions {verdict} the in-process reference (largest |diff| {diff:.1g})."
    ),
    "job_failed": "Your job did not run on {label}: {error}",
}


def job_source(job) -> str:
    """The source of the learner's `job(df, model)` (a function defined in a notebook cell or a
    file), to run it in another line's interpreter."""
    import inspect
    import textwrap

    if not callable(job):
        raise LabError(f"A job is a function (df, model) -> DataFrame, not {job!r}.")
    try:
        return textwrap.dedent(inspect.getsource(job))
    except (OSError, TypeError) as exc:
        raise LabError(
            f"Cannot read the source of {job!r}: define it with `def` in a cell."
        ) from exc


def job_child(spec_path: str, out_path: str) -> None:
    """Child side of `job_on_lines` (run with a line's venv python): the variants "without" (no
    conf) and "with" `conf` over the cached input into the noop sink, one warm run each, then the
    median of `repeats`; rows/s, parity and the confs as this Spark sees them (registry entry,
    value) go to JSON. When Spark can change every key at runtime (`spark.conf.isModifiable`),
    both variants share one session and their timed runs alternate (without, with, without...),
    so neither gets the warmer JVM; any other key (static, or unknown to this line) gets a new
    session started with `conf`, so static confs count too."""
    spec = json.loads(Path(spec_path).read_text())
    namespace: dict = {}
    # the learner's own code, compiled without this module's `from __future__ import annotations`
    # (pandas_udf reads the type hints: they must stay types, not strings)
    exec(compile(spec["source"], "<your job>", "exec", dont_inherit=True), namespace)
    job = namespace[spec["name"]]
    rows, ref, conf = spec["rows"], reference_predictions(spec["rows"]), spec["conf"]
    stop_session()
    spark = start_session("08_your_job")
    shared = all(spark.conf.isModifiable(k) for k in conf)
    frames: dict = {}
    walls: dict = {"without": [], "with": []}

    def switch(variant: str) -> None:  # a shared session: set or unset the conf
        for k, v in conf.items():
            if variant == "with":
                spark.conf.set(k, v)
            else:
                spark.conf.unset(k)

    def timed(variant: str) -> None:
        if shared:
            switch(variant)
        if variant not in frames:
            frames[variant] = job(input_frame(spark, rows), model_broadcast(spark))
            time_noop(frames[variant])  # the warm run
        walls[variant].append(time_noop(frames[variant]))

    def record(variant: str) -> dict:
        if shared:
            switch(variant)
        pred = frames[variant].toPandas().sort_values("id")["prediction"].to_numpy()
        return {
            "variant": variant,
            "new_session": variant == "with" and not shared,
            "spark_version": spark.version,
            "rows": rows,
            "rows_per_s": rows / statistics.median(walls[variant]),
            "max_abs_diff": float(abs(pred - ref).max()),
            "defined": {k: conf_entry(spark, k) is not None for k in conf},
            "seen": {k: spark.conf.get(k, None) for k in conf} if variant == "with" else {},
        }

    out = []
    if shared:  # alternate the timed runs: neither variant gets the warmer JVM
        for _ in range(spec["repeats"]):
            timed("without")
            timed("with")
        out = [record("without"), record("with")]
    else:
        for _ in range(spec["repeats"]):
            timed("without")
        out.append(record("without"))
        stop_session()
        spark = start_session("08_your_job", conf=conf)
        for _ in range(spec["repeats"]):
            timed("with")
        out.append(record("with"))
    stop_session()
    Path(out_path).write_text(json.dumps(out))


def job_on_lines(
    job, conf: dict, rows: int, repeats: int = 1, timeout: float = 900
) -> pd.DataFrame:
    """Run the learner's `job(df, model)` on each line in its own interpreter, without and with
    `conf` (`job_child` says when that takes a new session): one row per line and variant with
    rows/s, parity, whether the session was new, whether the line's conf registry defines each
    key and the value the session saw. A line that is missing or fails gets one row with its
    error."""
    if not conf:
        raise LabError(
            "Give the conf to compare, e.g. {'spark.sql.execution.arrow.maxBytesPerBatch': '1MB'}."
        )
    spec = {"source": job_source(job), "name": job.__name__, "conf": dict(conf), "rows": rows,
            "repeats": repeats}  # fmt: skip
    rows_out = []
    with tempfile.TemporaryDirectory(prefix="wire-job-") as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        for line in LINES.values():
            python, out = line_python(line), Path(tmp) / f"{line.name}.json"
            if not python.exists():
                rows_out.append(
                    {"line": line.label, "error": f"not set up ({setup_command(line)})"}
                )
                continue
            args = f"{str(spec_path)!r}, {str(out)!r}"
            code = f"from helpers.lab.wire import job_child; job_child({args})"
            try:
                proc = subprocess.run(
                    [str(python), "-c", code], capture_output=True, text=True, cwd=ROOT,
                    env=child_env(), timeout=timeout,
                )  # fmt: skip
                err = None if proc.returncode == 0 else error_line(proc.stderr, proc.returncode)
            except subprocess.TimeoutExpired:
                err = f"timed out after {timeout:.0f} s."
            if err or not out.exists():
                rows_out.append({"line": line.label, "error": err or "no result written."})
                continue
            for rec in json.loads(out.read_text()):
                rows_out.append({"line": line.label, **rec, "error": None})
    return pd.DataFrame(rows_out)


def job_findings(table: pd.DataFrame, conf: dict, band: float = MOVE_BAND) -> list[Finding]:
    """Per line: the with/without rows/s ratio of `job_on_lines` (a change inside ±`band` is
    noise; a key the line does not define is named), then parity; errors as one line each."""
    out = []
    shown = ", ".join(f"`{k}={v}`" for k, v in conf.items())
    for label, g in table.groupby("line", sort=False):
        if g["error"].notna().any():
            out.append(finding(JOB_FINDINGS, "job_failed", label=label, error=g["error"].iloc[0]))
            continue
        w, wo = g.set_index("variant").loc["with"], g.set_index("variant").loc["without"]
        ratio = float(w.rows_per_s / wo.rows_per_s)
        undefined = [k for k, ok in w.defined.items() if not ok]
        if undefined:
            keys = ", ".join(f"`{k}`" for k in undefined)
            verdict = f"noise, as Spark {w.spark_version} defines no {keys} for it to read"
        elif abs(ratio - 1) < band:
            verdict = f"inside ±{band:.0%}, one run's noise, not a change"
        else:
            verdict = f"beyond ±{band:.0%}, a change"
        out.append(
            finding(JOB_FINDINGS, "job_change", label=label, version=w.spark_version, conf=shown,
                    ratio=ratio, on=float(w.rows_per_s), off=float(wo.rows_per_s),
                    verdict=verdict)
        )  # fmt: skip
    ok = table[table["error"].isna()] if "error" in table else table
    if len(ok):
        diff = float(ok.max_abs_diff.max())
        verdict = "agree with" if diff <= 1e-9 else "DIFFER from"
        out.append(finding(JOB_FINDINGS, "job_parity", label="Both lines" if ok.line.nunique() > 1
                           else ok.line.iloc[0], verdict=verdict, diff=diff))  # fmt: skip
    return out

"""Memory of every layer of one inference job, on one time axis.

Sources (all sampled during the same job, all stamped in epoch seconds, then aligned):
- `measure.samplers.LayerSampler`: a background thread reading, every `interval` s, the
  session's process tree (`process_table`: RSS of the JVM, the pyspark daemon and each Python
  worker) and the JVM's own meters (`jvm_memory`: heap used, the NIO direct buffer pool,
  Arrow's root allocator). Arrow Java allocates through Netty, not NIO ByteBuffers: the Arrow
  allocator and the direct pool measure different things; charts name which is which.
- memray captures from the Python workers, one per task (`helpers.profile.worker_profilers` in
  "memray" mode, through `spark.python.daemon.module`): the task's peak heap (memray's high-water
  mark) and its heap snapshots every ~10 ms (epoch milliseconds).

`align_timelines` puts sources with different clocks on seconds since the job started;
`on_grid` resamples step-wise so layers can be compared at the same instants. The tables'
findings (`*_findings`, templates in `*_FINDINGS`) state this run's numbers in MiB.
Units: bytes, seconds.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.core.config import LabError, atomic_write_bytes, scale
from helpers.core.findings import Finding, finding
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.validate import require_positive
from helpers.inference.scenarios import get_scenario, input_frame
from helpers.measure.samplers import LayerSampler, jvm_memory
from helpers.measure.timing import effective_batch_size, set_batch_size, time_noop
from helpers.profile.worker_profilers import job_frame, start_recording, take_worker_profiles
from helpers.workers.profiled_daemon import short_path

# Rows for the memory runs: batches up to 50k rows (6.8 MB of raw data each) at ci scale.
MEMORY_ROWS = {"ci": 100_000, "workshop": 400_000, "full": 1_000_000}
BYTES_PER_ROW = 8 + 16 * 8  # id (int64) + 16 double features: the raw data of one input row
MiB = 2**20


def memory_rows() -> int:
    """Rows for the memory runs at the current LAB_SCALE."""
    return MEMORY_ROWS[scale()]


def versions(spark) -> str:
    """One line: the Spark (JVM), pyspark, pyarrow and memray versions in use and the master."""
    import memray
    import pyarrow
    import pyspark

    return (
        f"Spark {spark.version} | pyspark {pyspark.__version__} | pyarrow {pyarrow.__version__} "
        f"| memray {memray.__version__} | master {spark.sparkContext.master}"
    )


# ---- 1. memray captures of the Python workers ----------------------------------------------------


NO_PYTHON_FRAME = "[no Python frame]"


def allocation_sites(records, top: int = 5) -> list[dict]:
    """The `top` allocation sites of memray allocation records (e.g. the ones live at the peak),
    widest first: each record's innermost Python frame ('function (file:line)', file as
    `short_path` shows it), with the bytes and allocations of its records summed."""
    sites: dict = {}
    for rec in records:
        frames = rec.stack_trace(1)
        if frames:
            function, file, line = frames[0]
            site = f"{function} ({short_path(file)}:{line})"
        else:
            site = NO_PYTHON_FRAME
        b, n = sites.get(site, (0, 0))
        sites[site] = (b + int(rec.size), n + int(rec.n_allocations))
    widest = sorted(sites.items(), key=lambda kv: (-kv[1][0], kv[0]))[:top]
    return [{"site": k, "bytes": b, "allocations": n} for k, (b, n) in widest]


def read_capture(path, top: int = 0) -> dict:
    """One memray capture (one task of one Python worker), read with memray's own reader:
    peak_bytes (memray's high-water mark of the heap), allocations, start / end (epoch s),
    duration_s and, with `top` > 0, the `top` allocation sites live at the peak
    (`allocation_sites` over `get_high_watermark_allocation_records`) and the seconds reading
    them took (read_s)."""
    import memray

    t = time.perf_counter()
    with memray.FileReader(str(path)) as reader:
        m = reader.metadata
        out = {
            "peak_bytes": int(m.peak_memory),
            "allocations": int(m.total_allocations),
            "start": m.start_time.timestamp(),
            "end": m.end_time.timestamp(),
            "duration_s": (m.end_time - m.start_time).total_seconds(),
        }
        if top > 0:
            records = reader.get_high_watermark_allocation_records(merge_threads=True)
            out["top_sites"] = allocation_sites(records, top)
    out["read_s"] = time.perf_counter() - t
    return out


def capture_summary(files) -> pd.DataFrame:
    """One row per memray capture (one per task, `read_capture`): pid, seq, peak_bytes (memray's
    high-water mark of the heap), allocations, start / end (epoch s), duration_s, path."""
    rows = []
    for wf in files:
        if wf.mode != "memray":
            continue
        cap = read_capture(wf.path)
        cap.pop("read_s")
        rows.append({"pid": wf.pid, "seq": wf.seq, **cap, "path": str(wf.path)})
    return pd.DataFrame(
        rows,
        columns=["pid", "seq", "peak_bytes", "allocations", "start", "end", "duration_s", "path"],
    )


def peak_per_worker(captures: pd.DataFrame) -> pd.DataFrame:
    """Per Python worker process: tasks captured and the largest task peak (bytes)."""
    if captures.empty:
        return pd.DataFrame(columns=["pid", "tasks", "peak_bytes"])
    return captures.groupby("pid", as_index=False).agg(
        tasks=("seq", "count"), peak_bytes=("peak_bytes", "max")
    )


def memray_snapshots(captures: pd.DataFrame) -> pd.DataFrame:
    """memray's periodic heap snapshots of every capture, tidy: t (epoch s), source, layer
    ('Python heap (memray)'), pid, bytes."""
    import memray

    rows = []
    for c in captures.itertuples():
        with memray.FileReader(c.path) as reader:
            for s in reader.get_memory_snapshots():
                rows.append(
                    {
                        "t": s.time / 1000.0,
                        "source": "memray",
                        "layer": "Python heap (memray)",
                        "pid": int(c.pid),
                        "bytes": int(s.heap),
                    }
                )
    return pd.DataFrame(rows, columns=["t", "source", "layer", "pid", "bytes"])


def memray_flamegraph(capture_path, out_html) -> Path:
    """memray's own HTML flame graph of the allocations live at the capture's peak
    (`python -m memray flamegraph`). Returns the HTML path."""
    capture_path, out_html = Path(capture_path), Path(out_html)
    if not capture_path.exists():
        raise LabError(
            f"No memray capture at {capture_path}: run a job in a memray-profiled session first."
        )
    out_html.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "memray",
            "flamegraph",
            "-f",
            "-o",
            str(out_html),
            str(capture_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0 or not out_html.exists():
        raise LabError(f"memray flamegraph failed: {(proc.stderr or proc.stdout).strip()[:200]}")
    return out_html


def inline_html(path, height: int = 560):
    """An IPython HTML object embedding a self-contained HTML file (memray's flame graph) in an
    iframe (srcdoc): it renders in Jupyter without serving the file."""
    from IPython.display import HTML

    doc = Path(path).read_text()
    return HTML(
        f'<div><iframe srcdoc="{html.escape(doc, quote=True)}" width="100%" height="{height}" '
        f'style="border:1px solid #ccc"></iframe></div>'
    )


# ---- 2. one time axis ----------------------------------------------------------------------------


def align_timelines(sources: list[pd.DataFrame], t0: float) -> pd.DataFrame:
    """Concatenate tidy samples (columns t [epoch s], source, layer, pid, bytes) from several
    samplers and put them on one axis: `t` becomes seconds since `t0` (the job's start, epoch s).
    Rows are sorted by time; sources keep their own sampling instants."""
    frames = [s for s in sources if s is not None and not s.empty]
    if not frames:
        return pd.DataFrame(columns=["t", "source", "layer", "pid", "bytes"])
    out = pd.concat(frames, ignore_index=True)
    out["t"] = out["t"].astype(float) - float(t0)
    return out.sort_values(["t", "layer"], kind="stable").reset_index(drop=True)


def on_grid(
    timeline: pd.DataFrame, step: float = 0.05, start: float | None = None, end: float | None = None
) -> pd.DataFrame:
    """Resample an aligned timeline step-wise (each series holds its last value until its next
    sample) onto t = start, start+step, ...; one column per (layer, pid) series. Before a
    series' first sample its value is NaN."""
    if not step > 0:
        raise LabError(f"step must be > 0 seconds, got {step!r}.")
    if timeline.empty:
        return pd.DataFrame()
    start = timeline.t.min() if start is None else start
    end = timeline.t.max() if end is None else end
    grid = np.arange(start, end + step / 2, step)
    cols = {}
    for (layer, pid), g in timeline.groupby(["layer", timeline.pid.fillna(-1)], sort=True):
        g = g.sort_values("t")
        idx = np.searchsorted(g.t.to_numpy(), grid, side="right") - 1
        vals = g.bytes.to_numpy(dtype=float)
        name = layer if pid == -1 else f"{layer} [{int(pid)}]"
        cols[name] = np.where(idx >= 0, vals[np.clip(idx, 0, None)], np.nan)
    return pd.DataFrame(cols, index=pd.Index(np.round(grid, 9), name="t"))


# ---- 3. one profiled job -------------------------------------------------------------------------


@dataclass
class MemoryRun:
    scenario: str
    rows: int
    batch_size: int | None
    partitions: int
    wall_s: float
    t0: float  # epoch s when the job started
    timeline: pd.DataFrame = field(repr=False)  # aligned: t (s since t0), source, layer, pid, bytes
    captures: pd.DataFrame = field(repr=False)  # capture_summary of this job's tasks
    arrow_peak_before: int = 0
    arrow_peak_after: int = 0
    sampler_error: str | None = None

    @property
    def arrow_peak_is_this_job(self) -> bool:
        """The Arrow allocator's high-water mark rose during this job, so it is this job's peak."""
        return self.arrow_peak_after > self.arrow_peak_before


def memory_run(
    spark,
    name: str,
    rows: int,
    worker_dir,
    dest,
    batch_size: int | None = None,
    partitions: int | None = None,
    interval: float = 0.05,
    warm: bool = True,
    progress: Progress | Sink | None = None,
    build=None,
) -> MemoryRun:
    """Run scenario `name` over `rows` cached rows into the noop sink once, in a session started
    by `start_session(app, profile="memray", profile_dir=worker_dir)`, sampling every layer
    (LayerSampler) while memray records each Python task. The captures move to `dest`.
    partitions: coalesce the input to this many partitions (1 = one task, one worker).
    `progress` reports the warm-up, the recorded run and the reading of the captures.
    `build`: the learner's job, a function DataFrame -> DataFrame (`workers.job_frame`); `name`
    then only labels the run."""

    if build is None:
        get_scenario(name)
    require_positive("rows", rows)
    if partitions is not None:
        require_positive("partitions", partitions)
    p = as_progress(progress)
    with p.task("memory profile", 2 + int(warm)):
        if warm:
            p.step(f"{name}: input rows and warm-up")
        set_batch_size(spark, batch_size)
        df = input_frame(spark, rows)
        if partitions is not None:
            df = df.coalesce(partitions)
        start_recording(spark, name, rows, worker_dir, warm, build)
        frame = job_frame(spark, name, rows, build, df=df)
        before = jvm_memory(spark)["arrow_peak"]
        p.step(f"{name}: recorded run" + (f", batch {batch_size:,}" if batch_size else ""))
        with LayerSampler(spark, interval) as sampler:
            t0 = time.time()
            wall = time_noop(frame)
        after = jvm_memory(spark)["arrow_peak"]
        p.step(f"{name}: reading memray captures")
        files = take_worker_profiles(worker_dir, dest)
        caps = capture_summary(files)
        timeline = align_timelines([sampler.samples, memray_snapshots(caps)], t0)

    return MemoryRun(
        name,
        rows,
        effective_batch_size(spark, "map_in_pandas" if build else name),  # a learner's job: Arrow
        df.rdd.getNumPartitions(),
        wall,
        t0,
        timeline,
        caps,
        before,
        after,
        sampler.error,
    )


def summed_over_processes(series: pd.DataFrame) -> pd.Series:
    """One layer's bytes summed over its processes at every sample time (index t). Each process
    holds its last sample until its next one, within its own first..last sample; processes are
    sampled at different instants (memray snapshots), so a plain group-by on t would not add
    them up."""
    if series.pid.nunique() <= 1:
        return series.groupby("t").bytes.sum()
    wide = series.pivot_table(index="t", columns="pid", values="bytes", aggfunc="last").sort_index()
    held = wide.ffill()
    for pid in wide.columns:
        held.loc[held.index > wide[pid].last_valid_index(), pid] = np.nan
    return held.sum(axis=1)


def layer_peaks(run: MemoryRun) -> pd.DataFrame:
    """Each layer's peak during the job and its rise over the value just before the job
    (bytes). Per-process layers are summed over processes at each instant first."""
    tl = run.timeline
    if tl.empty:
        return pd.DataFrame(columns=["layer", "before_bytes", "peak_bytes", "rise_bytes"])
    rows = []
    for layer, g in tl.groupby("layer"):
        per_t = summed_over_processes(g)
        before = per_t[per_t.index <= 0]
        base = float(before.iloc[-1]) if len(before) else float(per_t.iloc[0])
        rows.append(
            {
                "layer": layer,
                "before_bytes": base,
                "peak_bytes": float(per_t.max()),
                "rise_bytes": float(per_t.max() - base),
            }
        )
    return pd.DataFrame(rows)


# Rows of memory_hierarchy that its findings read (the Arrow row's label ends with a note).
ARROW_PEAK_ROW = "JVM Arrow allocator peak"
PY_HEAP_ROW = "Python heap peak (memray, largest task)"
RSS_RISE_ROW = "Python worker RSS rise"

HIERARCHY_FINDINGS = {
    "python_heap": (
        "**The Python worker's heap peaked at {heap_mib:.1f} MiB, {heap_factor:.1f}× one raw "
        "batch** ({raw_mib:.1f} MiB for {batch_rows:,} rows); its RSS rose {rss_mib:.1f} MiB."
    ),
    "no_capture": (
        "**memray captured no task**, so the heap peak is unknown; the worker's RSS rose "
        "{rss_mib:.1f} MiB ({rss_factor:.1f}× one raw batch of {raw_mib:.1f} MiB)."
    ),
}


def memory_hierarchy(run: MemoryRun) -> pd.DataFrame:
    """For a job run with one partition (one task, so one batch in flight at a time): the raw
    data of one batch and what each layer held at its peak, with the factor vs the raw batch.

    Layers: raw batch (batch rows x (8 + 16 x 8) bytes); JVM Arrow allocator peak (the job's own
    when the high-water mark rose during it); JVM direct pool rise; Python heap peak (memray,
    largest task); Python worker RSS rise; JVM heap rise (GC timing makes this one noisy)."""
    if run.batch_size is None:
        raise LabError(
            f"{run.scenario} has no Arrow batches (no Python worker): use a Python scenario."
        )
    per_task = run.rows / max(run.partitions, 1)
    batch_rows = min(run.batch_size, per_task)
    raw = batch_rows * BYTES_PER_ROW
    peaks = layer_peaks(run).set_index("layer")

    def rise(layer):
        return float(peaks.loc[layer, "rise_bytes"]) if layer in peaks.index else float("nan")

    arrow_note = (
        "this job's peak" if run.arrow_peak_is_this_job else "<= high-water mark of an earlier job"
    )
    out = [
        ("raw data of one batch (rows x 136 B)", raw, "input"),
        (f"{ARROW_PEAK_ROW} ({arrow_note})", float(run.arrow_peak_after), "JVM off-heap"),
        ("JVM direct pool (NIO) rise", rise("JVM direct pool (NIO)"), "JVM off-heap"),
        ("JVM heap rise", rise("JVM heap used"), "JVM heap"),
        (
            PY_HEAP_ROW,
            float(run.captures.peak_bytes.max()) if not run.captures.empty else float("nan"),
            "Python worker",
        ),
        (RSS_RISE_ROW, rise("python_worker RSS"), "Python worker"),
    ]
    t = pd.DataFrame(out, columns=["layer", "bytes", "where"])
    t["factor_vs_raw"] = t["bytes"] / raw
    t.attrs["batch_rows"] = int(batch_rows)
    return t


def hierarchy_findings(run: MemoryRun) -> list[Finding]:
    """What `memory_hierarchy(run)` found, in MiB and factors over the raw batch (keys of
    HIERARCHY_FINDINGS): the Python heap peak and RSS rise, or that memray captured no task. The
    Arrow allocator's peak, and whether it is this job's, is the table's own row."""
    h = memory_hierarchy(run)
    by_layer = h.set_index("layer")
    heap, rss = by_layer.loc[PY_HEAP_ROW], by_layer.loc[RSS_RISE_ROW]
    t = HIERARCHY_FINDINGS
    values = {"rss_mib": float(rss.bytes) / MiB, "raw_mib": float(h.bytes.iloc[0]) / MiB}
    if run.captures.empty:
        return [finding(t, "no_capture", rss_factor=float(rss.factor_vs_raw), **values)]
    heap_values = {"heap_mib": heap.bytes / MiB, "heap_factor": heap.factor_vs_raw}
    batch = h.attrs["batch_rows"]
    return [finding(t, "python_heap", batch_rows=batch, **_floats(heap_values), **values)]


def _floats(values: dict) -> dict:
    return {k: float(v) for k, v in values.items()}


def _ints(values: dict) -> dict:
    return {k: int(v) for k, v in values.items()}


def peaks_by_batch_size(runs: list[MemoryRun]) -> pd.DataFrame:
    """One row per run: batch size, raw bytes of one batch, the largest Python task peak
    (memray), the Arrow allocator peak (and whether it is this job's), the worker RSS rise."""
    rows = []
    for r in runs:
        p = layer_peaks(r).set_index("layer")
        per_task = r.rows / max(r.partitions, 1)
        b = min(r.batch_size or per_task, per_task)
        rows.append(
            {
                "scenario": r.scenario,
                "batch_size": r.batch_size,
                "raw_batch_bytes": b * BYTES_PER_ROW,
                "python_peak_bytes": float(r.captures.peak_bytes.max())
                if not r.captures.empty
                else float("nan"),
                "python_workers": int(r.captures.pid.nunique()),
                "tasks": len(r.captures),
                "arrow_peak_bytes": r.arrow_peak_after,
                "arrow_peak_is_this_job": r.arrow_peak_is_this_job,
                "arrow_sampled_max_bytes": float(p.loc["JVM Arrow allocator", "peak_bytes"])
                if "JVM Arrow allocator" in p.index
                else float("nan"),
                "worker_rss_rise_bytes": float(p.loc["python_worker RSS", "rise_bytes"])
                if "python_worker RSS" in p.index
                else float("nan"),
                "wall_s": r.wall_s,
            }
        )
    t = pd.DataFrame(rows)
    t["python_peak_over_raw"] = t.python_peak_bytes / t.raw_batch_bytes
    return t


BATCH_FINDINGS = {
    "peak_range": (
        "**From {lo:,} to {hi:,} rows per batch the Python task's heap peak went from "
        "{lo_mib:.1f} to {hi_mib:.1f} MiB** ({lo_factor:.1f}× and {hi_factor:.1f}× one raw batch)."
    ),
    "fixed_part": (
        "A line through the peaks puts {fixed_mib:.1f} MiB at zero rows: {lo_fixed:.0%} of the "
        "peak at {lo:,} rows, {hi_fixed:.0%} at {hi:,}."
    ),
    "rss": "The worker's RSS rose {rises} MiB at {sizes} rows per batch: {order}.",
}
RSS_ORDER = {
    True: "in the order of the batch, as the heap peak",
    False: "not in the order of the batch, as later batches reuse pages kept from earlier tasks",
}


def fixed_memory(table: pd.DataFrame) -> float:
    """Bytes of the Python task's heap peak that do not grow with the batch: the intercept of a
    least-squares line of python_peak_bytes over raw_batch_bytes (`peaks_by_batch_size`)."""
    t = table.dropna(subset=["python_peak_bytes"])
    if len(t) < 2:
        return float("nan")
    slope, intercept = np.polyfit(t.raw_batch_bytes.astype(float), t.python_peak_bytes, 1)
    return float(intercept)


def batch_size_findings(table: pd.DataFrame) -> list[Finding]:
    """What `peaks_by_batch_size` found (keys of BATCH_FINDINGS): the Python task's heap peak
    (MiB, and its factor over one raw batch) at the smallest and largest batch; the fixed part
    (`fixed_memory`, MiB) and its share of both peaks (0% when the intercept is <= 0: none
    measurable); whether the worker's RSS rise follows the batch size (RSS_ORDER)."""
    if table.empty:
        raise LabError("No runs in the table: run memory_run for a few batch sizes first.")
    p = table.set_index("batch_size")
    lo, hi = int(p.index.min()), int(p.index.max())
    numbers = {
        "lo_mib": p.loc[lo, "python_peak_bytes"] / MiB,
        "hi_mib": p.loc[hi, "python_peak_bytes"] / MiB,
        "lo_factor": p.loc[lo, "python_peak_over_raw"],
        "hi_factor": p.loc[hi, "python_peak_over_raw"],
    }
    out = [finding(BATCH_FINDINGS, "peak_range", lo=lo, hi=hi, **_floats(numbers))]
    fixed = fixed_memory(table)
    if fixed == fixed:  # two runs or more: a line through the peaks
        shares = {
            f"{k}_fixed": min(max(fixed, 0.0) / p.loc[b, "python_peak_bytes"], 1.0)
            for k, b in (("lo", lo), ("hi", hi))
        }
        out.append(
            finding(
                BATCH_FINDINGS, "fixed_part", fixed_mib=fixed / MiB, lo=lo, hi=hi, **_floats(shares)
            )
        )
    if "worker_rss_rise_bytes" in p.columns and p.worker_rss_rise_bytes.notna().all():
        rise = (p.worker_rss_rise_bytes.sort_index() / MiB).tolist()
        ordered = all(b >= a for a, b in zip(rise, rise[1:]))
        out.append(
            finding(
                BATCH_FINDINGS,
                "rss",
                rises=", ".join(f"{r:.1f}" for r in rise),
                sizes=", ".join(f"{b:,}" for b in sorted(p.index)),
                order=RSS_ORDER[ordered],
            )
        )
    return out


# Layers compared between scenarios (peaks_by_scenario), in this order. The Python heap row is the
# largest task's memray peak (the same meter as memory_hierarchy's PY_HEAP_ROW); the others are the
# sampled peaks of the timeline, summed over processes at each instant.
SCENARIO_LAYERS = (
    PY_HEAP_ROW,
    "python_worker RSS",
    "JVM Arrow allocator",
    "JVM direct pool (NIO)",
    "JVM heap used",
    "jvm RSS",
)


def peaks_by_scenario(runs: list[MemoryRun], layers=SCENARIO_LAYERS) -> pd.DataFrame:
    """Each layer's peak during each run (MiB): the largest task's memray peak for PY_HEAP_ROW,
    else `layer_peaks` (per-process layers summed at each sampling instant); one row per layer,
    one column per scenario; NaN where a layer was not sampled. attrs['raw_batch_mib']: one raw
    batch of the first run (MiB)."""
    cols: dict[str, dict[str, float]] = {}
    for r in runs:
        if r.scenario in cols:
            raise LabError(f"Two runs of {r.scenario}: pass one run per scenario.")
        p = layer_peaks(r).set_index("layer")["peak_bytes"].to_dict()
        p[PY_HEAP_ROW] = float(r.captures.peak_bytes.max()) if not r.captures.empty else np.nan
        cols[r.scenario] = {layer: float(p.get(layer, np.nan)) / MiB for layer in layers}
    t = pd.DataFrame(cols, index=list(layers)).rename_axis("peak MiB")
    first = runs[0]
    per_task = first.rows / max(first.partitions, 1)
    t.attrs["raw_batch_mib"] = min(first.batch_size or per_task, per_task) * BYTES_PER_ROW / MiB
    return t


SCENARIO_FINDINGS = {
    "heap": (
        "**mapInArrow's heap peak was {diff_mib:.1f} MiB {direction} mapInPandas's** "
        "({arrow_heap:.1f} vs {pandas_heap:.1f} MiB), {batches:.1f}× one raw batch "
        "({raw_mib:.1f} MiB): {verdict}."
    ),
    "meters": (
        "Sampled every 50 ms, the JVM's Arrow allocator peaked at {pandas_alloc:.1f} MiB and the "
        "NIO direct pool at {pandas_direct:.1f}: {verdict}."
    ),
}
HEAP_VERDICT = {
    "copy": "about the Arrow -> pandas copy mapInArrow skips",
    "part": "less than the whole copy it skips, so another moment of the task sets the peak",
    "none": "skipping that copy did not lower it in this run",
}
METER_VERDICT = {
    "differ": "Arrow's buffers are not NIO buffers",
    "direct_higher": "the pool counts other buffers, not Arrow's",
    "close": "within 10% in this run",
}


def scenario_findings(
    table: pd.DataFrame, pandas: str = "map_in_pandas", arrow: str = "map_in_arrow"
) -> list[Finding]:
    """What `peaks_by_scenario` found for a mapInPandas and a mapInArrow run (keys of
    SCENARIO_FINDINGS, values in MiB): how far mapInArrow's heap peak was below (or above)
    mapInPandas's, in raw batches (below by >= 0.5: about the skipped Arrow -> pandas copy; below
    by less: only part of it; not below: none; HEAP_VERDICT); the Arrow allocator's peak against
    the NIO direct pool's (mapInPandas run; METER_VERDICT)."""
    missing = [c for c in (pandas, arrow) if c not in table.columns]
    if missing:
        raise LabError(f"No run of {', '.join(missing)} in the table (columns: {list(table)}).")
    heap, alloc = table.loc[PY_HEAP_ROW], table.loc["JVM Arrow allocator"]
    raw = float(table.attrs.get("raw_batch_mib", np.nan))
    heaps = _floats({"pandas_heap": heap[pandas], "arrow_heap": heap[arrow], "raw_mib": raw})
    saved = heaps["pandas_heap"] - heaps["arrow_heap"]
    meters = _floats(
        {"pandas_alloc": alloc[pandas], "pandas_direct": table.loc["JVM direct pool (NIO)", pandas]}
    )
    batches = abs(saved) / raw
    if saved > 0:
        heap_verdict = HEAP_VERDICT["copy" if batches >= 0.5 else "part"]
    else:
        heap_verdict = HEAP_VERDICT["none"]
    direction = "below" if saved > 0 else "above" if saved < 0 else "not below"
    alloc_mib, direct_mib = meters["pandas_alloc"], meters["pandas_direct"]
    if abs(direct_mib - alloc_mib) <= 0.1 * max(alloc_mib, direct_mib):
        meter_verdict = METER_VERDICT["close"]
    else:
        meter_verdict = METER_VERDICT["differ" if direct_mib < alloc_mib else "direct_higher"]
    return [
        finding(
            SCENARIO_FINDINGS, "heap", diff_mib=abs(saved), direction=direction, batches=batches,
            verdict=heap_verdict, **heaps,
        ),
        finding(SCENARIO_FINDINGS, "meters", verdict=meter_verdict, **meters),
    ]  # fmt: skip


# ---- 3b. Spark's own meter next to the kit's (local mode) ---------------------------------------

# quantity -> (the kit's layers, summed over processes at each instant; the kit's meter; Spark's
# executor metric). Spark's meter: `helpers.measure.executor_metrics` (REST peaks,
# polled every 100 ms or 1 s: `metrics_poll`).
METER_PAIRS = {
    "Python RSS (daemon + workers)": (
        ("daemon RSS", "python_worker RSS"),
        "psutil RSS of the JVM's Python children",
        "ProcessTreePythonRSSMemory",
    ),
    "JVM RSS": (("jvm RSS",), "psutil RSS of the JVM", "ProcessTreeJVMRSSMemory"),
    "JVM heap used": (("JVM heap used",), "MemoryMXBean over py4j", "JVMHeapMemory"),
    "NIO direct pool": (
        ("JVM direct pool (NIO)",),
        "BufferPoolMXBean over py4j",
        "DirectPoolMemory",
    ),
}


def meters_side_by_side(run: MemoryRun, spark_peaks: pd.DataFrame, executor: str = "driver"):
    """The kit's sampled peaks of `run` (psutil, JMX) next to Spark's executor-metric peaks of
    the same job for `executor` (bytes; ratio = Spark / kit). Both are peaks of samples: psutil
    every `interval`, Spark every `spark.executor.metrics.pollingInterval`."""
    tl = run.timeline
    mine = spark_peaks[spark_peaks.executor == executor].set_index("metric").bytes
    rows = []
    for quantity, (layers, kit_meter, metric) in METER_PAIRS.items():
        g = tl[tl.layer.isin(layers)]
        kit = float(summed_over_processes(g).max()) if len(g) else float("nan")
        spark = float(mine.get(metric, float("nan")))
        rows.append(
            {
                "quantity": quantity,
                "kit_meter": kit_meter,
                "kit_peak_bytes": kit,
                "spark_metric": metric,
                "spark_peak_bytes": spark,
                "spark_over_kit": spark / kit if kit else float("nan"),
            }
        )
    return pd.DataFrame(rows)


# ---- 4. files (CLI) ------------------------------------------------------------------------------


def write_run(run: MemoryRun, out_dir) -> dict:
    """timeline.csv, timeline.json, captures.json (peak bytes per worker and per task) and
    summary.json under `out_dir`, all written atomically. Returns the summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tl = run.timeline.copy()
    atomic_write_bytes(out / "timeline.csv", tl.to_csv(index=False).encode())
    atomic_write_bytes(out / "timeline.json", tl.to_json(orient="records").encode())
    workers = peak_per_worker(run.captures)
    caps = {
        "workers": workers.to_dict("records"),
        "tasks": run.captures.drop(columns=["path"]).to_dict("records"),
    }
    atomic_write_bytes(out / "captures.json", json.dumps(caps, indent=1, default=float).encode())
    summary = {
        "scenario": run.scenario,
        "rows": run.rows,
        "batch_size": run.batch_size,
        "partitions": run.partitions,
        "wall_s": run.wall_s,
        "t0_epoch_s": run.t0,
        "python_workers": int(workers.shape[0]),
        "tasks": int(run.captures.shape[0]),
        "peak_bytes_per_worker": {str(int(r.pid)): int(r.peak_bytes) for r in workers.itertuples()},
        "arrow_peak_bytes": run.arrow_peak_after,
        "arrow_peak_is_this_job": run.arrow_peak_is_this_job,
        "layer_peaks": layer_peaks(run).to_dict("records"),
        "sampler_error": run.sampler_error,
    }
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=1, default=float).encode())
    return summary

"""Plots for notebook 07 (memory profiles). Each function returns a matplotlib Figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from helpers.measure.executor_metrics import MEMORY_METRICS
from helpers.profile.memory import memory_run
from helpers.viz.style import (
    LIGHT_NEUTRAL,
    METER_COLORS,
    NEUTRAL,
    PROCESS_COLORS,
    REFERENCE_LINE,
    SIDE_COLORS,
    series_styles,
)

MiB = 2**20
_LAYER_COLORS = {**{f"{k} RSS": c for k, c in PROCESS_COLORS.items()}, **METER_COLORS}
_EDGES = {**REFERENCE_LINE, "ls": "--"}  # the job's start and end

_STYLES = ("-", "--", ":", "-.")  # processes of one layer: same colour, told apart by the line


def _step(ax, g, color: str, label: str, style: str = "-") -> None:
    """One meter's bytes over time (MiB), drawn as steps (a value holds until the next sample)."""
    ax.step(g.t, g.bytes / MiB, where="post", color=color, ls=style, lw=1.4, label=label)


# The panels of `layers_timeline`, top to bottom: (title, layers, log y-axis). Each panel has its
# own y-axis, so a 7 MiB meter is not drawn under a 1 GiB one.
TIMELINE_PANELS = (
    ("JVM process RSS", ("jvm RSS",), False),
    ("Python processes RSS (daemon, each worker)", ("daemon RSS", "python_worker RSS"), False),
    (
        "Inside the JVM (log axis above 1 MiB): heap, NIO direct pool, Arrow allocator",
        ("JVM heap used", "JVM direct pool (NIO)", "JVM Arrow allocator"),
        True,
    ),
    ("Inside each Python worker: heap (memray)", ("Python heap (memray)",), False),
)


def layers_timeline(run, title: str | None = None):
    """All layers of one job on one time axis (seconds since the job started), one panel per group
    of meters with its own y-axis in MiB (`TIMELINE_PANELS`): JVM RSS, the Python processes' RSS,
    the JVM's in-process meters (log axis), each worker's memray heap. Dashed lines: job start
    and end. Returns the Figure."""
    tl = run.timeline
    tl = tl[tl.layer != "JVM Arrow allocator peak (since JVM start)"]
    fig, axes = plt.subplots(len(TIMELINE_PANELS), 1, figsize=(12, 9), sharex=True)
    for ax, (name, layers, log) in zip(axes, TIMELINE_PANELS):
        part = tl[tl.layer.isin(layers)]
        seen: dict[str, int] = {}
        for (layer, pid), g in part.groupby(["layer", part.pid.fillna(-1)], sort=False):
            who = layer.replace(" RSS", "") if layer.endswith("RSS") else layer
            label = who if pid == -1 or layer == "jvm RSS" else f"{who} {int(pid)}"
            n = seen[layer] = seen.get(layer, -1) + 1
            _step(ax, g, _LAYER_COLORS.get(layer, NEUTRAL), label, _STYLES[n % len(_STYLES)])
        if part.empty:
            ax.text(0.5, 0.5, "not sampled in this run", transform=ax.transAxes, ha="center")
        elif log:  # symmetric log: MiB-sized meters stay visible under a heap of hundreds
            ax.set_yscale("symlog", linthresh=1.0)
        ax.axvline(0, **_EDGES)
        ax.axvline(run.wall_s, **_EDGES)
        ax.set_title(name, fontsize=11, loc="left")
        ax.set_ylabel("MiB")
        if not part.empty:
            ax.legend(fontsize=9, ncol=3, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes[-1].set_xlabel("seconds since the job started (dashed: start, end)")
    fig.suptitle(
        title or f"{run.scenario}, batch {run.batch_size:,}: every layer on one time axis",
        fontsize=12,
    )
    fig.tight_layout()
    return fig


def peaks_vs_batch(table: pd.DataFrame):
    """Peak MiB per batch size (profile.memory.peaks_by_batch_size): the Python task's heap
    peak (memray), the JVM Arrow allocator (sampled maximum) and the raw bytes of one batch."""
    t = table.sort_values("batch_size")
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(
        t.batch_size,
        t.python_peak_bytes / MiB,
        "o-",
        color=METER_COLORS["Python heap (memray)"],
        label="Python task heap peak (memray)",
    )
    ax.plot(
        t.batch_size,
        t.arrow_sampled_max_bytes / MiB,
        "s-",
        color=METER_COLORS["JVM Arrow allocator"],
        label="JVM Arrow allocator (sampled max, all tasks)",
    )
    ax.plot(t.batch_size, t.raw_batch_bytes / MiB, label="raw data of one batch", **REFERENCE_LINE)
    for x, y, f in zip(t.batch_size, t.python_peak_bytes / MiB, t.python_peak_over_raw):
        ax.annotate(f"{f:.1f}x raw", (x, y), textcoords="offset points", xytext=(4, 6), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("spark.sql.execution.arrow.maxRecordsPerBatch (rows)")
    ax.set_ylabel("MiB")
    ax.set_title(f"Peak memory vs batch size ({t.scenario.iloc[0]})")
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def hierarchy_bars(hierarchy: pd.DataFrame):
    """MiB per layer for one batch with the factor vs the raw data
    (profile.memory.memory_hierarchy)."""
    t = hierarchy.iloc[::-1]
    colors = {
        "input": NEUTRAL,
        "JVM off-heap": METER_COLORS["JVM Arrow allocator"],
        "JVM heap": METER_COLORS["JVM heap used"],
        "Python worker": SIDE_COLORS["python"],
    }
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(t) + 1.4))
    ax.barh(
        t.layer, t.bytes.fillna(0) / MiB, color=[colors.get(w, LIGHT_NEUTRAL) for w in t["where"]]
    )
    for y, (b, f) in enumerate(zip(t.bytes, t.factor_vs_raw)):
        if b == b:  # not NaN
            ax.text(max(b, 0) / MiB, y, f" {f:.1f}x raw", va="center", fontsize=8)
    ax.set_xlabel("MiB")
    ax.set_title(f"One batch of {hierarchy.attrs.get('batch_rows', 0):,} rows, layer by layer")
    fig.tight_layout()
    return fig


def timeline_view(
    batch_size: int, spark, scenario: str, rows: int, worker_dir, dest, build=None, partitions=None
):
    """Run `scenario` (or the learner's job `build`, a function DataFrame -> DataFrame) over `rows`
    rows at `batch_size` rows per Arrow batch under memray (memory.memory_run, captures into
    dest/batch<N>) and draw its layer timeline: the render function of notebook 07's batch-size
    control. Returns the Figure."""
    run = memory_run(
        spark,
        scenario,
        rows,
        worker_dir,
        Path(dest) / f"batch{batch_size}",
        batch_size=batch_size,
        partitions=partitions,
        warm=False,
        build=build,
    )
    return layers_timeline(run)


def executor_peaks_bars(peaks: pd.DataFrame, title: str = ""):
    """Each executor's memory peaks as grouped bars (MiB) from Spark's own executor metrics (a
    tidy `measure.executor_metrics.executor_memory` table); the meter is named in the title."""
    wide = peaks.pivot_table(index="metric", columns="executor", values="bytes", aggfunc="max")
    wide = wide.reindex([m for m in MEMORY_METRICS if m in wide.index]) / MiB
    fig, ax = plt.subplots(figsize=(11, 3.8))
    wide.plot.barh(ax=ax, color=[s["color"] for s in series_styles(wide.columns).values()])
    ax.set_xlabel("peak during the job (MiB)")
    ax.set_ylabel("")
    ax.invert_yaxis()
    ax.legend(title="executor")
    ax.set_title(
        title or "Executor memory peaks — meter: Spark executor metrics (REST, process tree)"
    )
    fig.tight_layout()
    return fig

"""Charts for notebook 04 (matplotlib; every function returns the Figure).

Throughput is in rows/s, memory in MiB on the charts (bytes in the tables), batch sizes on a log
axis.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd

from helpers.core.progress import as_progress
from helpers.lab.batch.sweep import MEMORY_METRIC, point_findings, point_table
from helpers.lab.batch.zone import Zone, label_zones, zone_findings
from helpers.viz import findings
from helpers.viz.style import (
    LIGHT_NEUTRAL,
    NEUTRAL,
    PLAIN_FORMATTER,
    REFERENCE_LINE,
    STAGE_MARKERS,
    WARN_COLOR,
    ZONE_COLOR,
    count_axis,
    series_styles,
)

MiB = 2**20
_LABELS = {
    "peak_jvm_offheap_bytes": "JVM off-heap: Arrow allocator peak",
    "peak_jvm_direct_bytes": "JVM direct pool (JMX)",
    "peak_python_rss_bytes": "largest Python worker RSS",
    "peak_python_rss_total_bytes": "all Python workers RSS",
    "peak_jvm_heap_bytes": "JVM heap used",
}


def _zone_span(ax, batches: list[int], grid: list[int]):
    """Shade the zone's points only: each run of neighbouring grid points in the zone from
    half-way (geometric) to the grid point below it to half-way to the one above, so a point
    outside the zone is never inside the band. One legend entry."""
    if not batches:
        return
    grid = sorted(set(grid))
    inside = [g in set(batches) for g in grid]
    label = "Goldilocks zone"
    k = 0
    while k < len(grid):
        if not inside[k]:
            k += 1
            continue
        i = k
        while k + 1 < len(grid) and inside[k + 1]:
            k += 1
        lo, hi = grid[i], grid[k]
        left = math.sqrt(grid[i - 1] * lo) if i > 0 else lo / 1.5
        right = math.sqrt(grid[k + 1] * hi) if k + 1 < len(grid) else hi * 1.5
        ax.axvspan(left, right, color=ZONE_COLOR, alpha=0.25, label=label)
        label = "_Goldilocks zone"  # the leading underscore keeps it out of the legend
        k += 1


def _spread(p: pd.DataFrame, col: str) -> pd.DataFrame:
    """Median, min and max of `col` per batch size (repeated runs), sorted by batch size."""
    return p.groupby("batch_size")[col].agg(["median", "min", "max"]).sort_index()


def plot_sweep(
    points: pd.DataFrame,
    zones: dict | None = None,
    memory_col: str = MEMORY_METRIC,
    budget_bytes: float | None = None,
    crash=None,
    title: str | None = None,
):
    """One panel per label: throughput (left axis, rows/s) and `memory_col` (right axis, MiB) vs
    batch size; the Goldilocks zone of that label shaded, the budget as a dotted line, and a
    crash-lab report (`crashlab.CrashReport`) marked: its limit and its first failing batch."""
    labels = list(dict.fromkeys(points["label"]))
    styles = series_styles(labels)  # each panel's throughput in its path's colour
    fig, axes = plt.subplots(
        1, len(labels), figsize=(5.2 * len(labels), 4.2), squeeze=False, layout="constrained"
    )
    shared: dict = {}  # one legend under the panels: zone, memory, budget, crash lab
    for ax, label in zip(axes[0], labels):
        p = points[points["label"] == label].sort_values("batch_size")
        tp = _spread(p, "throughput")
        st = styles[label]
        ax.errorbar(
            tp.index,
            tp["median"],
            yerr=[tp["median"] - tp["min"], tp["max"] - tp["median"]],
            fmt="-",
            marker=st["marker"],
            color=st["color"],
            lw=2,
            capsize=3,
            label="_throughput",  # the panel's title and coloured axis name it
        )
        ax.set_xscale("log")
        ax.set_xlabel("maxRecordsPerBatch (rows)")
        ax.set_ylabel("rows/s (median, min-max of runs)", color=st["color"])
        count_axis(ax, "y")
        count_axis(ax, "x")
        ax.set_ylim(0, p["throughput"].max() * 1.15)
        ax.set_title(label)
        zone = (zones or {}).get(label)
        if isinstance(zone, Zone):
            _zone_span(ax, zone.batches, p["batch_size"].tolist())
        ax2 = ax.twinx()
        mem = _spread(p, memory_col)
        ax2.plot(
            mem.index,
            mem["max"] / MiB,
            "s--",
            color=NEUTRAL,
            label=_LABELS.get(memory_col, memory_col),
        )
        ax2.set_ylabel(f"{_LABELS.get(memory_col, memory_col)} (MiB)", color=NEUTRAL)
        top = p[memory_col].max() / MiB
        if budget_bytes:
            ax2.axhline(budget_bytes / MiB, color=NEUTRAL, ls=":", lw=1.5, label="budget")
            top = max(top, budget_bytes / MiB)
        if (
            crash is not None
            and crash.direct_limit_bytes
            and memory_col == "peak_jvm_offheap_bytes"
        ):
            ax2.axhline(
                crash.direct_limit_bytes / MiB,
                color=WARN_COLOR,
                ls="-.",
                lw=1,
                label="crash lab: MaxDirectMemorySize",
            )
            top = max(top, crash.direct_limit_bytes / MiB)
            if crash.first_failure:
                ax.axvline(
                    crash.first_failure,
                    color=WARN_COLOR,
                    lw=1.5,
                    label=f"crash lab: failed at {crash.first_failure:,}",
                )
        ax2.set_ylim(0, top * 1.15 if top > 0 else 1)
        for a in (ax, ax2):
            for h, lab in zip(*a.get_legend_handles_labels()):
                shared.setdefault(lab, h)
    if shared:
        fig.legend(shared.values(), shared.keys(), fontsize=9, loc="outside lower center",
                   ncol=min(len(shared), 4))  # fmt: skip
    if title:
        fig.suptitle(title)
    return fig


def plot_saturation(points: pd.DataFrame):
    """CPU saturation (fraction of all cores busy in the JVM + Python workers) vs batch size,
    one line per label (median, min-max of the runs), and the split of CPU seconds between the JVM
    and Python workers."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    styles = series_styles(points["label"])
    for label, p in points.groupby("label", sort=False):
        st = styles[label]
        sat = _spread(p, "cpu_saturation")
        a.errorbar(
            sat.index,
            sat["median"],
            yerr=[sat["median"] - sat["min"], sat["max"] - sat["median"]],
            marker=st["marker"],
            ls=st["ls"],
            color=st["color"],
            capsize=3,
            label=label,
        )
        p = p.groupby("batch_size").median(numeric_only=True).reset_index()
        for side, col, ls, marker in (
            ("JVM", "jvm_cpu_s", "--", "s"),
            ("Python", "python_cpu_s", "-", "o"),
        ):
            b.plot(
                p["batch_size"], p[col] / p["rows"] * 1e6, ls=ls, marker=marker,
                mfc="white" if side == "JVM" else st["color"], color=st["color"],
                label=f"{label}: {side}",
            )  # fmt: skip
    a.axhline(1.0, **REFERENCE_LINE)
    a.set(
        xscale="log",
        xlabel="maxRecordsPerBatch",
        ylabel="CPU saturation (1 = all cores)",
        ylim=(0, 1.1),
        title="CPU saturation",
    )
    b.set(
        xscale="log",
        yscale="log",
        xlabel="maxRecordsPerBatch",
        ylabel="CPU µs per row",
        title="where the CPU goes",
    )
    for ax in (a, b):
        count_axis(ax, "x")
    b.yaxis.set_major_formatter(PLAIN_FORMATTER)  # 2, 5, 10 µs, not 2x10^0
    b.yaxis.set_minor_formatter(PLAIN_FORMATTER)
    a.legend(fontsize=9)
    b.legend(fontsize=9)
    fig.tight_layout()
    return fig


def plot_tuner(rec, sweep_points: pd.DataFrame | None = None):
    """The tuner's trials (numbered in the order run) over the sweep's throughput curve if given;
    trials over budget drawn as crosses, the recommendation as a star."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    if sweep_points is not None and len(sweep_points):
        s = sweep_points.sort_values("batch_size")
        ax.plot(
            s["batch_size"],
            s["throughput"],
            "-",
            color=LIGHT_NEUTRAL,
            lw=3,
            label="exhaustive sweep",
        )
    t = rec.table()
    for row in t.itertuples():  # one workload: the stage is the marker, over budget a warning
        ax.plot(
            row.batch_size,
            row.throughput,
            "x" if row.over_budget else STAGE_MARKERS.get(row.stage, "o"),
            color=WARN_COLOR if row.over_budget else NEUTRAL,
            ms=7,
        )
        ax.annotate(
            str(row.order + 1),
            (row.batch_size, row.throughput),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=8,
        )
    if rec.batch_size is not None:
        lo, hi = rec.throughput_min or rec.throughput, rec.throughput_max or rec.throughput
        ax.errorbar(
            rec.batch_size,
            rec.throughput,
            yerr=[[rec.throughput - lo], [hi - rec.throughput]],
            fmt="*",
            ms=16,
            color=ZONE_COLOR,
            mec="black",
            ecolor="black",
            capsize=4,
            label=f"recommended (median, range of {rec.runs} runs)",
        )
    for stage, name in (
        ("coarse", "coarse trial"),
        ("fine", "fine trial"),
        ("duel", "duel re-run"),
    ):
        ax.plot([], [], STAGE_MARKERS[stage], color=NEUTRAL, ms=7, label=name)
    ax.plot([], [], "x", color=WARN_COLOR, ms=7, label="over budget")
    ax.set(
        xscale="log", xlabel="maxRecordsPerBatch", ylabel="rows/s", title="tuner trials (numbered)"
    )
    ax.set_ylim(bottom=0)
    count_axis(ax, "y")
    count_axis(ax, "x")
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def zone_view(points: pd.DataFrame, budget_mib: float, tolerance: float = 0.05) -> list:
    """The Goldilocks zone of each label of `points` under `budget_mib` MiB (JVM off-heap): its
    findings as Markdown and `plot_sweep` with the zones shaded (a `widgets.live` render)."""
    budget = budget_mib * MiB
    zones = label_zones(points, budget, tolerance)
    return [findings.show(zone_findings(zones)), plot_sweep(points, zones, budget_bytes=budget)]


def point_view(spark, work, points: pd.DataFrame, batch_size: int) -> list:
    """The slider's render: `sweep.point_table` at `batch_size` beside the sweep's runs of the
    same label and size (`points`), and one sentence comparing them (`sweep.point_findings`)."""
    table = point_table(spark, work, batch_size, reference=points)
    return [table.round(2), findings.show(point_findings(table))]


def with_progress(title: str, fn, *args, **kwargs):
    """`fn(*args, **kwargs)` as one step of a progress task named `title` (a bar in a notebook, a
    line on a terminal): for a long call that reports nothing itself, e.g. the crash lab's child."""
    p = as_progress(None)
    with p.task(title, 1):
        p.step(title)
        return fn(*args, **kwargs)

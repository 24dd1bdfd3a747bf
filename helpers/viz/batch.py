"""Charts for notebook 04 (matplotlib; every function returns the Figure).

Throughput is in rows/s, memory in MiB on the charts (bytes in the tables), batch sizes on a log
axis.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd

from helpers.lab.batch.sweep import MEMORY_METRIC
from helpers.lab.batch.zone import Zone, label_zones, zone_findings
from helpers.viz import findings

MiB = 2**20
_LABELS = {
    "peak_jvm_offheap_bytes": "JVM off-heap: Arrow allocator peak",
    "peak_jvm_direct_bytes": "JVM direct pool (JMX)",
    "peak_python_rss_bytes": "largest Python worker RSS",
    "peak_python_rss_total_bytes": "all Python workers RSS",
    "peak_jvm_heap_bytes": "JVM heap used",
}


def _zone_span(ax, batches: list[int], grid: list[int]):
    """Shade the zone from half-way (geometric) below its lowest point to half-way above its
    highest."""
    if not batches:
        return
    grid = sorted(grid)
    lo, hi = min(batches), max(batches)
    i, j = grid.index(lo), grid.index(hi)
    left = math.sqrt(grid[i - 1] * lo) if i > 0 else lo / 1.5
    right = math.sqrt(grid[j + 1] * hi) if j + 1 < len(grid) else hi * 1.5
    ax.axvspan(left, right, color="gold", alpha=0.25, label="Goldilocks zone")


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
    fig, axes = plt.subplots(1, len(labels), figsize=(5.2 * len(labels), 3.8), squeeze=False)
    for ax, label in zip(axes[0], labels):
        p = points[points["label"] == label].sort_values("batch_size")
        ax.plot(p["batch_size"], p["throughput"], "o-", color="tab:blue", label="throughput")
        ax.set_xscale("log")
        ax.set_xlabel("maxRecordsPerBatch (rows)")
        ax.set_ylabel("rows/s", color="tab:blue")
        ax.set_ylim(0, p["throughput"].max() * 1.6)  # head room for the legend
        ax.set_title(label)
        zone = (zones or {}).get(label)
        if isinstance(zone, Zone):
            _zone_span(ax, zone.batches, p["batch_size"].tolist())
        ax2 = ax.twinx()
        ax2.plot(
            p["batch_size"],
            p[memory_col] / MiB,
            "s--",
            color="tab:red",
            label=_LABELS.get(memory_col, memory_col),
        )
        ax2.set_ylabel(f"{_LABELS.get(memory_col, memory_col)} (MiB)", color="tab:red", fontsize=8)
        top = p[memory_col].max() / MiB
        if budget_bytes:
            ax2.axhline(budget_bytes / MiB, color="tab:red", ls=":", lw=1, label="budget")
            top = max(top, budget_bytes / MiB)
        if (
            crash is not None
            and crash.direct_limit_bytes
            and memory_col == "peak_jvm_offheap_bytes"
        ):
            ax2.axhline(
                crash.direct_limit_bytes / MiB,
                color="black",
                ls="-.",
                lw=1,
                label="crash lab: MaxDirectMemorySize",
            )
            top = max(top, crash.direct_limit_bytes / MiB)
            if crash.first_failure:
                ax.axvline(
                    crash.first_failure,
                    color="black",
                    lw=1.5,
                    label=f"crash lab: failed at {crash.first_failure:,}",
                )
        ax2.set_ylim(0, top * 1.6 if top > 0 else 1)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper left", ncol=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_saturation(points: pd.DataFrame):
    """CPU saturation (fraction of all cores busy in the JVM + Python workers) vs batch size,
    one line per label, and the split of CPU seconds between the JVM and Python workers."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    for label, p in points.groupby("label", sort=False):
        p = p.sort_values("batch_size")
        a.plot(p["batch_size"], p["cpu_saturation"], "o-", label=label)
        b.plot(p["batch_size"], p["jvm_cpu_s"] / p["rows"] * 1e6, "s--", label=f"{label}: JVM")
        b.plot(p["batch_size"], p["python_cpu_s"] / p["rows"] * 1e6, "o-", label=f"{label}: Python")
    a.axhline(1.0, color="grey", ls=":", lw=1)
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
    a.legend(fontsize=7)
    b.legend(fontsize=6)
    fig.tight_layout()
    return fig


def plot_tuner(rec, sweep_points: pd.DataFrame | None = None):
    """The tuner's trials (numbered in the order run) over the sweep's throughput curve if given;
    trials over budget drawn as crosses, the recommendation as a star."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    if sweep_points is not None and len(sweep_points):
        s = sweep_points.sort_values("batch_size")
        ax.plot(
            s["batch_size"], s["throughput"], "-", color="lightgrey", lw=3, label="exhaustive sweep"
        )
    t = rec.table()
    for row in t.itertuples():
        color = {"coarse": "tab:blue", "fine": "tab:green", "duel": "tab:purple"}.get(
            row.stage, "grey"
        )
        ax.plot(
            row.batch_size,
            row.throughput,
            "x" if row.over_budget else "o",
            color="tab:red" if row.over_budget else color,
        )
        ax.annotate(
            str(row.order + 1),
            (row.batch_size, row.throughput),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=8,
        )
    if rec.batch_size is not None:
        ax.plot(
            rec.batch_size,
            rec.throughput,
            "*",
            ms=16,
            color="gold",
            mec="black",
            label="recommended",
        )
    ax.plot([], [], "o", color="tab:blue", label="coarse trial")
    ax.plot([], [], "o", color="tab:green", label="fine trial")
    ax.plot([], [], "o", color="tab:purple", label="duel re-run")
    ax.plot([], [], "x", color="tab:red", label="over budget")
    ax.set(
        xscale="log", xlabel="maxRecordsPerBatch", ylabel="rows/s", title="tuner trials (numbered)"
    )
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def zone_view(points: pd.DataFrame, budget_mib: float, tolerance: float = 0.05) -> list:
    """The Goldilocks zone of each label of `points` under `budget_mib` MiB (JVM off-heap): its
    findings as Markdown and `plot_sweep` with the zones shaded (a `widgets.live` render)."""
    budget = budget_mib * MiB
    zones = label_zones(points, budget, tolerance)
    return [findings.show(zone_findings(zones)), plot_sweep(points, zones, budget_bytes=budget)]

"""Plots for notebook 06 (SynapseML, the JNI tax, the GIL). Each function returns a Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from helpers.lab.gil import gil_experiment
from helpers.viz.style import (
    LIGHT_NEUTRAL,
    NEUTRAL,
    REFERENCE_LINE,
    SIDE_HATCHES,
    WARN_COLOR,
    path_color,
    swatch,
)


def cost_per_row(costs: pd.DataFrame, title: str = "CPU microseconds per row (lower is better)"):
    """Stacked horizontal bars: JVM and Python CPU microseconds per row of each path
    (jni.path_costs), in the path's colour (the in-process reference black), Python hatched."""
    t = costs.sort_values("cpu_us_per_row")
    colors = [path_color(p) for p in t["path"]]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(t) + 1.5))
    ax.barh(t["path"], t["jvm_cpu_us_per_row"], color=colors, edgecolor="white")
    ax.barh(
        t["path"],
        t["python_cpu_us_per_row"],
        left=t["jvm_cpu_us_per_row"],
        color=colors,
        hatch=SIDE_HATCHES["python"],
        edgecolor="white",
    )
    for y, v in enumerate(t["cpu_us_per_row"]):
        ax.text(v, y, f" {v:.1f} µs", va="center", fontsize=8)
    sides = [
        swatch("JVM CPU", SIDE_HATCHES["jvm"]),
        swatch("Python CPU (workers or this process)", SIDE_HATCHES["python"]),
    ]
    ax.set_xlabel("CPU microseconds per row (all processes of the job)")
    ax.set_title(title)
    ax.legend(handles=sides, fontsize=9, loc="lower right")
    fig.tight_layout()
    return fig


def native_calls(single: pd.DataFrame):
    """Microseconds per row of each C-API call style (jni.native_single_row_costs), log scale."""
    t = single.iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 2.8))
    ax.barh(
        t["call"],
        t["us_per_row"],
        color=[LIGHT_NEUTRAL if "no work" in c else NEUTRAL for c in t["call"]],
    )
    for y, v in enumerate(t["us_per_row"]):
        ax.text(v, y, f" {v:.2f} µs", va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("microseconds per row (log scale)")
    ax.set_title("One row per native call vs one call per batch (same model, same rows)")
    fig.tight_layout()
    return fig


def jvm_buckets(breakdown: pd.DataFrame):
    """Where SynapseML's task threads spent their sampled time, seconds and share
    (classify.jni_breakdown)."""
    t = breakdown.iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(t) + 1.4))
    ax.barh(t["bucket"], t["share"] * 100, color=path_color("synapseml"))  # its task threads
    for y, (s, sec) in enumerate(zip(t["share"], t["seconds"])):
        ax.text(s * 100, y, f" {s:.0%} ({sec:.2f} s)", va="center", fontsize=8)
    ax.set_xlabel("% of the task threads' sampled time (JFR)")
    ax.set_xlim(0, 110)
    ax.set_title("SynapseML scoring inside the JVM")
    fig.tight_layout()
    return fig


def gil_speedups(runs: pd.DataFrame):
    """Speedup over one thread (x) for each mode, predict vs the GIL-holding control
    (gil.gil_experiment)."""
    fig, ax = plt.subplots(figsize=(8, 3))
    labels = [f"{w.split(' (')[0]}: {m}" for m, w in zip(runs["mode"], runs["work"])]
    colors = [NEUTRAL if w == "lightgbm predict" else WARN_COLOR for w in runs["work"]]
    ax.barh(labels[::-1], runs["speedup"][::-1], color=colors[::-1])
    n = int(runs["parallelism"].max())
    ax.axvline(n, label=f"ideal with {n} workers", **REFERENCE_LINE)
    for y, v in enumerate(runs["speedup"][::-1]):
        ax.text(v, y, f" {v:.2f}x", va="center", fontsize=8)
    ax.set_xlabel("speedup over one thread (same work)")
    ax.legend(fontsize=9, loc="lower right")
    ax.set_title("Threads, processes, OpenMP: what the GIL allows")
    fig.tight_layout()
    return fig


def gil_view(workers: int, rows: int | None = None, repeats: int = 1, work=None):
    """Run the GIL experiment with `workers` threads / processes / OpenMP threads
    (gil.gil_experiment, best of `repeats`, the threads running `work(booster, X)`) and draw its
    speedups: the render function of notebook 06's threads control. Returns the Figure."""
    runs = gil_experiment(rows=rows, workers=workers, repeats=repeats, work=work)
    return gil_speedups(runs)

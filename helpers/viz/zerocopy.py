"""Charts for notebook 03 (zero-copy reality check): memory peaks, the copy ledger, layouts.
Every function takes the plain data the measuring helpers return and returns a
matplotlib Figure (or a widget); nothing here measures.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from helpers.viz.pickling import PATH_COLORS

SIDE_COLORS = {"jvm": "#8c564b", "kernel": "#7f7f7f", "python": "#1f77b4"}


def _mb(x):
    return x / 1e6


def plot_memory_peaks(df: pd.DataFrame, label: str, title: str):
    """Bars: memray peak during the call, as a multiple of the data's size."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.barh(df[label], df["peak_over_data"], color="#1f77b4")
    ax.axvline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xlabel("memray peak / data size (1.0 = one full copy)")
    ax.set_title(title)
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def plot_ledger(hops: pd.DataFrame, summary: pd.DataFrame):
    """Two panels per path: stacked seconds per hop (coloured by side) next to the measured
    end-to-end time per batch, and bytes copied per hop."""
    paths = list(dict.fromkeys(hops["path"]))
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.2))
    for i, p in enumerate(paths):
        left = 0.0
        for h in hops[hops["path"] == p].itertuples():
            a.barh(i, h.seconds * 1e3, left=left, color=SIDE_COLORS[h.side], edgecolor="white")
            if h.seconds * 1e3 > 0.08 * max(1e-9, summary["end_to_end_per_batch_s"].max() * 1e3):
                a.text(
                    left + h.seconds * 5e2,
                    i,
                    h.hop.split(" ")[0],
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white",
                )
            left += h.seconds * 1e3
        e2e = summary.set_index("path").loc[p, "end_to_end_per_batch_s"]
        a.plot([e2e * 1e3] * 2, [i - 0.4, i + 0.4], color="k", lw=2)
    a.set_yticks(range(len(paths)), paths)
    a.set_xlabel("ms per batch (bars: sum of hops; black line: measured end to end)")
    for side, c in SIDE_COLORS.items():
        a.barh([], [], color=c, label=side)
    a.legend(fontsize=8, loc="lower right")
    pivot = hops.pivot_table(
        index="hop", columns="path", values="bytes", aggfunc="sum", sort=False
    ).fillna(0)
    pivot = pivot[paths]
    pivot.plot.barh(ax=b, color=[PATH_COLORS.get(p) for p in paths])
    b.set_xlabel("bytes written to new memory per batch")
    b.invert_yaxis()
    b.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def plot_layouts(df: pd.DataFrame):
    """Bars: rows/s of the two feature layouts end to end."""
    fig, ax = plt.subplots(figsize=(8, 2.8))
    ax.barh(df["layout"], df["rows_per_s"], color=["#9467bd", "#2ca02c"][: len(df)])
    ax.set_xlabel("rows/s (mapInArrow, noop sink)")
    ax.invert_yaxis()
    fig.tight_layout()
    return fig

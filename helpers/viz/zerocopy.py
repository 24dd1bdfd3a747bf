"""Charts for notebook 03 (zero-copy reality check): memory peaks, the copy ledger, layouts.
Every function takes the plain data the measuring helpers return and returns a
matplotlib Figure (or a widget); nothing here measures.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from helpers.lab.zerocopy.layouts import ARRAY_RUN, COLUMNS_RUN
from helpers.viz.style import (
    NEUTRAL,
    REFERENCE_LINE,
    SIDE_HATCHES,
    bytes_unit,
    count_axis,
    path_color,
    swatch,
)

LAYOUT_PATHS = {COLUMNS_RUN: "map_in_arrow", ARRAY_RUN: "map_in_arrow_rowmajor"}


def _mb(x):
    return x / 1e6


def plot_memory_peaks(df: pd.DataFrame, label: str, title: str):
    """Bars: memray peak during the call, as a multiple of the data's size."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.barh(df[label], df["peak_over_data"], color=NEUTRAL)  # ways to convert, not paths
    ax.axvline(1.0, **REFERENCE_LINE)
    ax.set_xlabel("memray peak / data size (1.0 = one full copy)")
    ax.set_title(title)
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def plot_ledger(hops: pd.DataFrame, summary: pd.DataFrame):
    """Two panels per path: stacked seconds per hop (the path's colour, the side as a hatch) next
    to the measured end-to-end time per batch, and bytes copied per hop."""
    paths = list(dict.fromkeys(hops["path"]))
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.2))
    for i, p in enumerate(paths):
        left = 0.0
        for h in hops[hops["path"] == p].itertuples():
            a.barh(
                i, h.seconds * 1e3, left=left, color=path_color(p), hatch=SIDE_HATCHES[h.side],
                edgecolor="white",
            )  # fmt: skip
            if h.seconds * 1e3 > 0.08 * max(1e-9, summary["end_to_end_per_batch_s"].max() * 1e3):
                a.text(
                    left + h.seconds * 5e2,
                    i,
                    h.hop.split(" ")[0],
                    ha="center",
                    va="center",
                    fontsize=8,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
                )
            left += h.seconds * 1e3
        e2e = summary.set_index("path").loc[p, "end_to_end_per_batch_s"]
        a.plot([e2e * 1e3] * 2, [i - 0.4, i + 0.4], color="black", lw=2)
    a.set_yticks(range(len(paths)), paths)
    a.set_xlabel("ms per batch (bars: sum of hops; black line: measured end to end)")
    sides = [swatch(side, hatch) for side, hatch in SIDE_HATCHES.items()]
    a.legend(handles=sides, fontsize=9, loc="lower right")
    pivot = hops.pivot_table(
        index="hop", columns="path", values="bytes", aggfunc="sum", sort=False
    ).fillna(0)
    pivot = pivot[paths]
    div, unit = bytes_unit(pivot.to_numpy().max())
    (pivot / div).plot.barh(ax=b, color=[path_color(p) for p in paths])
    b.set_xlabel(f"{unit} written to new memory per batch")
    b.legend(title="path", loc="best", fontsize=9)
    b.invert_yaxis()
    b.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def plot_layouts(df: pd.DataFrame):
    """Bars: rows/s of the two feature layouts end to end, each in the colour of the path that
    reads it (16 columns: map_in_arrow; one array column: map_in_arrow_rowmajor)."""
    fig, ax = plt.subplots(figsize=(8, 2.8))
    paths = [LAYOUT_PATHS.get(layout, layout) for layout in df["layout"]]
    ax.barh(df["layout"], df["rows_per_s"], color=[path_color(p) for p in paths])
    for y, (v, p) in enumerate(zip(df["rows_per_s"], paths)):
        ax.text(v, y, f" {p}", va="center", fontsize=9)
    count_axis(ax, "x")
    ax.set_xlabel("rows/s (noop sink)")
    ax.invert_yaxis()
    fig.tight_layout()
    return fig

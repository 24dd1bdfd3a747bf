"""Charts for notebook 08 (both Spark lines side by side). Each takes a table of
`helpers.lab.wire.WireComparison` and returns a matplotlib Figure; nothing here measures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.viz.style import (
    HATCHES,
    LIMIT_LINE,
    SPARK_LINE_COLORS,
    count_axis,
    path_color,
    swatch,
)


def ratio_bars(side_by_side: pd.DataFrame):
    """Horizontal bars: each path's throughput as a fraction of its own line's physical limit,
    one bar per line (`WireComparison.side_by_side()`): the path's colour, one hatch per line."""
    t = side_by_side.drop(index="physical_limit", errors="ignore")
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.6 * max(len(t), 1)))
    y = np.arange(len(t))
    height = 0.8 / max(len(t.columns), 1)
    colors = [path_color(p) for p in t.index]
    handles = []
    for i, line in enumerate(t.columns):
        hatch = HATCHES[i % len(HATCHES)]
        ax.barh(y + i * height, t[line], height, color=colors, hatch=hatch, edgecolor="white")
        handles.append(swatch(line, hatch))
    ax.set_yticks(y + height * (len(t.columns) - 1) / 2, t.index)
    handles.append(ax.axvline(1.0, label="each line's physical limit", **LIMIT_LINE))
    ax.set_xlabel("rows/s as a fraction of the line's own physical limit")
    ax.invert_yaxis()
    ax.legend(handles=handles, loc="lower right")
    fig.tight_layout()
    return fig


def sweep_lines(sweep: pd.DataFrame):
    """Throughput (rows/s) and JVM CPU seconds per million rows over the batch size, one line per
    Spark line (`WireComparison.sweep_table()`)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    for i, (line, g) in enumerate(sweep.groupby("line", sort=False)):
        g = g.sort_values("batch_size")
        color = SPARK_LINE_COLORS[i % len(SPARK_LINE_COLORS)]  # Spark lines, not paths
        left.plot(g.batch_size, g.throughput, "o-", color=color, label=line)
        right.plot(g.batch_size, g.jvm_cpu_s_per_m_rows, "o-", color=color, label=f"{line} JVM")
        right.plot(
            g.batch_size, g.python_cpu_s_per_m_rows, "s--", color=color, label=f"{line} Python"
        )
    for ax in (left, right):
        ax.set_xscale("log")
        count_axis(ax, "x")
        ax.set_xlabel("maxRecordsPerBatch")
        ax.legend(fontsize=9)
    left.set_ylabel("rows/s")
    count_axis(left, "y")
    right.set_ylabel("CPU s per million rows")
    fig.tight_layout()
    return fig

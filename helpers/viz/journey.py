"""Plots for the foundation notebooks (00, 01). Each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from helpers.lab.journey import batch_layers
from helpers.viz.style import (
    LIMIT_LINE,
    LINE_STYLES,
    NEUTRAL,
    PROCESS_COLORS,
    count_axis,
    fmt_count,
    series_styles,
)


def throughput_vs_limit(table: pd.DataFrame, title: str = "Rows per second vs the physical limit"):
    """Horizontal bars of rows/s per path with the physical limit as a line; `table` from
    bench_table."""
    t = table[table.name != "physical_limit"].sort_values("rows_per_s")
    limit = table.loc[table.name == "physical_limit", "rows_per_s"].max()
    styles = series_styles(t["name"])
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(t) + 1.5))
    ax.barh(t["name"], t["rows_per_s"], color=[styles[n]["color"] for n in t["name"]])
    ax.axvline(limit, label=f"physical limit {fmt_count(limit)} rows/s", **LIMIT_LINE)
    for y, (v, r) in enumerate(zip(t["rows_per_s"], t["ratio_to_limit"])):
        ax.text(v, y, f" {r:.2f}x", va="center", fontsize=8)
    count_axis(ax, "x")
    ax.set_xlabel("rows / s (higher is better)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    return fig


def process_timeline(samples: pd.DataFrame):
    """RSS over time for every process of the session, coloured by role (from ProcessSampler)."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    seen: dict[str, int] = {}
    for (pid, role), g in samples.groupby(["pid", "role"]):
        n = seen[role] = seen.get(role, -1) + 1  # processes of one role: one colour, own line
        ax.plot(
            g["t"], g["rss_bytes"] / 2**20, color=PROCESS_COLORS.get(role, NEUTRAL),
            ls=LINE_STYLES[n % len(LINE_STYLES)], label=f"{role} {pid}",
        )  # fmt: skip
    ax.set_xlabel("seconds since sampling started")
    ax.set_ylabel("RSS (MiB)")
    ax.legend(fontsize=9, ncol=2)
    ax.set_title("Processes of one job: the JVM, the pyspark daemon and its workers")
    fig.tight_layout()
    return fig


def layer_bars(layers: pd.DataFrame, batch_rows: int):
    """Bytes per layer for one batch (from journey.batch_layers), with the factor vs raw data."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    t = layers.iloc[::-1]
    ax.barh(t["layer"], t["bytes"] / 2**20, color=NEUTRAL)
    for y, (b, f) in enumerate(zip(t["bytes"], t["factor"])):
        ax.text(b / 2**20, y, f" {f:.2f}x raw", va="center", fontsize=8)
    ax.set_xlabel("MiB for one batch")
    ax.set_title(f"One batch of {batch_rows:,} rows x 16 doubles, layer by layer")
    fig.tight_layout()
    return fig


def layer_view(batch_rows: int, spark, rows: int, scenario: str = "pandas_udf"):
    """Measure one batch of `batch_rows` rows layer by layer (journey.batch_layers, bytes) and
    draw it: the render function of notebook 01's batch-size slider."""
    return layer_bars(batch_layers(spark, rows, batch_rows, scenario), min(batch_rows, rows))

"""Charts for notebook 11 (`helpers.lab.talk`): the model-cost dial and the threads grid. Each
takes the plain table the lab returns and returns a matplotlib Figure; nothing here measures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.viz.style import HATCHES, LIMIT_LINE, count_axis, path_color, series_styles


def plot_dial(table: pd.DataFrame):
    """Each path's rows/s as a share of the physical limit of the same model (y) against the
    model's predict cost per row (x, log): lines that meet near 1.0 mean the path no longer
    matters. Bars: the spread of the timed runs."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    styles = series_styles(table.path)
    for path, g in table.sort_values("predict_us_per_row").groupby("path", sort=False):
        lim = g.limit_rows_per_s
        lo, hi = g.rows_per_s_min / lim, g.rows_per_s_max / lim
        st = styles[path]
        ax.errorbar(
            g.predict_us_per_row, g.ratio, yerr=[g.ratio - lo, hi - g.ratio], marker=st["marker"],
            ms=7, ls=st["ls"], lw=2.5, capsize=4, label=path, color=st["color"],
        )  # fmt: skip
    ax.axhline(1.0, label="physical limit of that model", **LIMIT_LINE)
    ax.set_xscale("log")
    models = table.groupby("predict_us_per_row").trees.first()  # named on top, clear of the lines
    top = ax.secondary_xaxis("top")
    top.set_xticks(list(models.index), [f"{t:,} trees" for t in models], fontsize=11)
    top.minorticks_off()
    ax.set_ylim(0, max(1.1, float(np.nanmax(table.rows_per_s_max / table.limit_rows_per_s))))
    ax.set_xlabel("model cost: µs of predict per row on one core (log)", fontsize=12)
    ax.set_ylabel("rows/s ÷ physical limit of that model", fontsize=12)
    ax.set_title("When does the path stop mattering? (this run)", fontsize=13)
    ax.tick_params(labelsize=11)
    ax.legend(fontsize=11, loc="upper left")
    fig.tight_layout()
    return fig


def plot_threads(table: pd.DataFrame, path: str = "map_in_arrow"):
    """rows/s per (concurrent tasks, LightGBM threads), bars with the runs' min-max. Every bar is
    one job of `path` (the grid's mapInArrow job): its colour, one hatch per threads setting."""
    fig, ax = plt.subplots(figsize=(9, 4))
    threads = list(dict.fromkeys(table.threads))
    tasks = sorted(table.tasks.unique())
    width = 0.8 / len(threads)
    x = np.arange(len(tasks))
    color = path_color(path)
    for i, t in enumerate(threads):
        g = table[table.threads == t].set_index("tasks").reindex(tasks)
        spread = [g.rows_per_s - g.rows_per_s_min, g.rows_per_s_max - g.rows_per_s]
        ax.bar(
            x + i * width, g.rows_per_s, width, color=color, hatch=HATCHES[i % len(HATCHES)],
            edgecolor="white", yerr=spread, capsize=4, label=f"num_threads={t}",
        )  # fmt: skip
    ax.set_xticks(x + width * (len(threads) - 1) / 2, [f"{n} task(s) at once" for n in tasks])
    ax.set_ylabel("rows/s", fontsize=12)
    count_axis(ax, "y")
    ax.set_title(f"LightGBM threads x concurrent Spark tasks, {path} (this run)", fontsize=13)
    ax.tick_params(labelsize=11)
    ax.legend(fontsize=11)
    fig.tight_layout()
    return fig

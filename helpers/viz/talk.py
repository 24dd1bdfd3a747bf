"""Charts for notebook 11 (`helpers.lab.talk`): the model-cost dial and the threads grid. Each
takes the plain table the lab returns and returns a matplotlib Figure; nothing here measures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.viz.pickling import PATH_COLORS


def plot_dial(table: pd.DataFrame):
    """Each path's rows/s as a share of the physical limit of the same model (y) against the
    model's predict cost per row (x, log): lines that meet near 1.0 mean the path no longer
    matters. Bars: the spread of the timed runs."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for path, g in table.sort_values("predict_us_per_row").groupby("path", sort=False):
        lim = g.limit_rows_per_s
        lo, hi = g.rows_per_s_min / lim, g.rows_per_s_max / lim
        ax.errorbar(
            g.predict_us_per_row, g.ratio, yerr=[g.ratio - lo, hi - g.ratio], marker="o",
            lw=2.5, capsize=4, label=path, color=PATH_COLORS.get(path),
        )  # fmt: skip
    for us, trees in table.groupby("predict_us_per_row").trees.first().items():
        ax.annotate(f"{trees:,} trees", (us, 0.02), ha="center", fontsize=11, color="0.35")
    ax.axhline(1.0, color="black", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_ylim(0, max(1.1, float(np.nanmax(table.rows_per_s_max / table.limit_rows_per_s))))
    ax.set_xlabel("model cost: µs of predict per row on one core (log)", fontsize=12)
    ax.set_ylabel("rows/s ÷ physical limit of that model", fontsize=12)
    ax.set_title("When does the path stop mattering? (this run)", fontsize=13)
    ax.tick_params(labelsize=11)
    ax.legend(fontsize=11, loc="upper left")
    fig.tight_layout()
    return fig


def plot_threads(table: pd.DataFrame):
    """rows/s per (concurrent tasks, LightGBM threads), bars with the runs' min-max."""
    fig, ax = plt.subplots(figsize=(9, 4))
    threads = list(dict.fromkeys(table.threads))
    tasks = sorted(table.tasks.unique())
    width = 0.8 / len(threads)
    x = np.arange(len(tasks))
    for i, t in enumerate(threads):
        g = table[table.threads == t].set_index("tasks").reindex(tasks)
        ax.bar(
            x + i * width, g.rows_per_s, width,
            yerr=[g.rows_per_s - g.rows_per_s_min, g.rows_per_s_max - g.rows_per_s],
            capsize=4, label=f"num_threads={t}",
        )  # fmt: skip
    ax.set_xticks(x + width * (len(threads) - 1) / 2, [f"{n} task(s) at once" for n in tasks])
    ax.set_ylabel("rows/s", fontsize=12)
    ax.set_title("LightGBM threads x concurrent Spark tasks (this run)", fontsize=13)
    ax.tick_params(labelsize=11)
    ax.legend(fontsize=11)
    fig.tight_layout()
    return fig

"""Charts for notebook 02 (pickling vs Arrow) and its explorer's control. Every chart takes the
plain data `helpers.lab.pickling` returns and returns a matplotlib Figure; nothing here measures.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import traitlets

from helpers.lab.pickling import PATH_LABELS, TYPE_PATHS
from helpers.model.data import COLUMN_KINDS
from helpers.viz.style import BYTES_FORMATTER, HATCHES, LIGHT_NEUTRAL, NEUTRAL, series_styles


def plot_type_throughput(df: pd.DataFrame):
    """Grouped bars: cost per row (µs, over the no-UDF baseline) per column kind and path."""
    kinds = list(dict.fromkeys(df["kind"]))
    paths = list(dict.fromkeys(df["path"]))
    styles = series_styles(paths)
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(paths)
    x = np.arange(len(kinds))
    for i, p in enumerate(paths):
        sub = df[df["path"] == p].set_index("kind").reindex(kinds)
        ax.bar(
            x + i * width,
            sub["us_per_row"],
            width,
            label=sub["label"].iloc[0] if "label" in sub else p,
            color=styles[p]["color"],
            hatch=styles[p]["hatch"],
            edgecolor="white",
        )
    ax.set_xticks(x + width * (len(paths) - 1) / 2, kinds, rotation=20)
    ax.set_ylabel("µs per row (over baseline)")
    ax.set_title(
        f"Identity UDF per column type, {int(df['rows'].iloc[0]):,} rows (measured in this run)"
    )
    ax.legend()
    fig.tight_layout()
    return fig


def plot_wire_sizes(sizes: pd.DataFrame, throughput: pd.DataFrame | None = None):
    """Bytes per row on the wire: pickled vs Arrow IPC (serialized here), plus Spark's metric
    'data sent to Python workers' per row for each path when `throughput` is given."""
    kinds = list(sizes["kind"])
    series = {
        "pickled (CPickle, 100-row batches)": sizes["pickled_per_row"].to_numpy(),
        "Arrow IPC stream": sizes["arrow_per_row"].to_numpy(),
    }
    if throughput is not None:
        for p in dict.fromkeys(throughput["path"]):
            sub = throughput[throughput["path"] == p].set_index("kind").reindex(kinds)
            series[f"Spark metric, {p}"] = (sub["sent_bytes"] / sub["rows"]).to_numpy(dtype=float)
    styles = series_styles(series)  # the formats in greys, each path's metric in its colour
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(series)
    x = np.arange(len(kinds))
    for i, (name, vals) in enumerate(series.items()):
        st = styles[name]
        ax.bar(
            x + i * width, vals, width, label=name, color=st["color"], hatch=st["hatch"],
            edgecolor="white",
        )  # fmt: skip
    ax.set_xticks(x + width * (len(series) - 1) / 2, kinds, rotation=20)
    ax.set_ylabel("bytes per row, JVM -> worker")
    ax.legend(fontsize=9)
    ax.set_title("The same rows, pickled vs Arrow")
    fig.tight_layout()
    return fig


def plot_shipping(df: pd.DataFrame):
    """Two panels: pickled command size per variant (log scale) and time to first row / job time
    per variant and worker-reuse setting."""
    fig, (a, c, b) = plt.subplots(1, 3, figsize=(14, 3.8))
    sizes = df.drop_duplicates("variant")
    a.bar(sizes["variant"], sizes["command_bytes"], color=NEUTRAL)
    a.set_yscale("log")
    a.yaxis.set_major_formatter(BYTES_FORMATTER)  # 1 KiB, 1 MiB: not 10^3, 10^6
    a.set_ylabel("pickled UDF command (per task)")
    a.set_title("What each task carries")
    xs = np.arange(len(sizes))
    c.bar(
        xs - 0.2, sizes["unpickle_s"] * 1e3, 0.4, color=NEUTRAL,
        label="unpickle command (every task)",
    )  # fmt: skip
    c.bar(
        xs + 0.2, sizes["load_once_s"] * 1e3, 0.4, color=LIGHT_NEUTRAL,
        label="load model (once per worker process)",
    )  # fmt: skip
    c.set_xticks(xs, sizes["variant"])
    c.set_ylabel("ms")
    c.legend(fontsize=9)
    c.set_title("Where the model costs time")
    variants = list(dict.fromkeys(df["variant"]))
    reuses = list(dict.fromkeys(df["worker_reuse"]))
    width = 0.8 / (2 * len(reuses))
    x = np.arange(len(variants))
    k = 0
    for j, r in enumerate(reuses):  # no path here: greys, the reuse setting as a hatch
        sub = df[df["worker_reuse"] == r].set_index("variant").reindex(variants)
        hatch = HATCHES[j % len(HATCHES)]
        b.bar(
            x + k * width, sub["first_row_s"], width, color=NEUTRAL, hatch=hatch,
            edgecolor="white", label=f"first row, reuse={r}",
        )  # fmt: skip
        k += 1
        b.bar(
            x + k * width, sub["job_s"], width, color=LIGHT_NEUTRAL, hatch=hatch,
            edgecolor="white", label=f"{int(sub['tasks'].iloc[0])}-task job, reuse={r}",
        )  # fmt: skip
        k += 1
    b.set_xticks(x + width * (k - 1) / 2, variants)
    b.set_ylabel("seconds")
    b.legend(fontsize=9)
    b.set_title("Time to first row and job time")
    fig.tight_layout()
    return fig


class ExplorerChoice(widgets.HBox):
    """Column kind, path and rows side by side; `value` is (kind, path, rows) and changes when any
    of them does (rows when Enter is pressed or the box loses focus): the control of the explorer,
    for `helpers.viz.widgets.live` with `helpers.lab.pickling.measure_choice` as render."""

    value = traitlets.Tuple()

    def __init__(self, rows: int, kind: str = "string", path: str = "pandas_udf"):
        self.kind = widgets.Dropdown(options=list(COLUMN_KINDS), value=kind, description="column")
        self.path = widgets.Dropdown(
            options=[(PATH_LABELS[p], p) for p in TYPE_PATHS], value=path, description="path"
        )
        self.rows = widgets.IntText(value=rows, description="rows")
        super().__init__([self.kind, self.path, self.rows])
        self.value = (kind, path, int(rows))
        for w in (self.kind, self.path, self.rows):
            w.observe(self._sync, names="value")

    def _sync(self, _change) -> None:
        self.value = (self.kind.value, self.path.value, int(self.rows.value))

"""Charts and the sizing panel of notebook 09 (`helpers.lab.scale`): measured vs modelled wall
time, where the predicted time of a job goes, and the widgets that size a big job."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.lab.scale import (
    BATCH_CANDIDATES,
    CostFit,
    ScaleStudy,
    Sizing,
    cost_components,
    paste_block,
    sizing_findings,
)
from helpers.viz.findings import show
from helpers.viz.style import (
    CHECK_COLORS,
    HATCHES,
    OTHER_COLORS,
    OTHER_MARKERS,
    PLAIN_FORMATTER,
    REFERENCE_LINE,
    path_color,
)
from helpers.viz.widgets import redraw, register_view


def plot_fit(study: ScaleStudy, extra_checks: list[dict] = ()):
    """Measured against predicted wall time (log-log): the fitted runs, then every check run
    (the 10x run, the cluster run) as labelled stars; the band is ±15%."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    p = study.points
    pred = study.fit.predict(p.rows, p.partitions, p.batch_size, p.slots)
    color = path_color(study.scenario)  # one path: its colour, one marker per (batch, tasks)
    groups = p.assign(pred=pred).groupby(["batch_size", "partitions"])
    for i, ((b, parts), g) in enumerate(groups):
        ax.scatter(
            g.wall_s, g.pred, s=30, color=color, marker=OTHER_MARKERS[i % len(OTHER_MARKERS)],
            label=f"fitted: batch {b:,}, {parts} tasks",
        )  # fmt: skip
    checks = [*study.checks, *extra_checks]
    for i, c in enumerate(checks):  # check runs: stars, greys in turn
        ax.scatter(
            [c["measured_s"]],
            [c["predicted_s"]],
            marker="*",
            s=180,
            zorder=3,
            color=CHECK_COLORS[i % len(CHECK_COLORS)],
            edgecolor="black",
            label=f"{c['check']}: {c['error']:+.0%}",
        )
    values = np.r_[p.wall_s, pred, [c["measured_s"] for c in checks]]
    lo, hi = values.min() * 0.7, values.max() * 1.4
    x = np.geomspace(lo, hi, 50)
    ax.plot(x, x, color=REFERENCE_LINE["color"], lw=1)
    ax.fill_between(x, 0.85 * x, 1.15 * x, color=REFERENCE_LINE["color"], alpha=0.15, label="±15%")
    ax.set(
        xscale="log",
        yscale="log",
        xlim=(lo, hi),
        ylim=(lo, hi),
        xlabel="measured wall time (s)",
        ylabel="model's prediction (s)",
        title=f"{study.scenario}: Parquet → predict → Parquet",
    )
    for axis in (ax.xaxis, ax.yaxis):  # seconds as plain numbers, not 2 x 10^0
        axis.set_major_formatter(PLAIN_FORMATTER)
        axis.set_minor_formatter(PLAIN_FORMATTER)
    ax.legend(fontsize=9, loc="upper left")
    fig.tight_layout()
    return fig


def time_unit(seconds: float) -> tuple[float, str]:
    """The divisor and unit a person reads a duration in: s, min or h."""
    if seconds < 90:
        return 1.0, "s"
    return (60.0, "min") if seconds < 90 * 60 else (3600.0, "h")


def plot_components(fit: CostFit, sizing: Sizing):
    """Where the predicted wall time of the sized job goes: fixed, tasks, batches, rows (in s,
    min or h, whichever reads best)."""
    parts = cost_components(
        fit, sizing.rows, sizing.partitions, sizing.batch_size, sizing.executors * sizing.cores
    )
    div, unit = time_unit(sizing.wall_s)
    fig, ax = plt.subplots(figsize=(6.5, 2.4), layout="constrained")  # the legend below fits
    left = 0.0
    for i, (name, seconds) in enumerate(parts.items()):  # components, not paths: greys, hatches
        ax.barh(
            [0], [seconds / div], left=left, color=OTHER_COLORS[i % len(OTHER_COLORS)],
            hatch=HATCHES[i % len(HATCHES)], edgecolor="white",
            label=f"{name}: {seconds / div:.1f} {unit}",
        )  # fmt: skip
        left += seconds / div
    ax.errorbar(
        [sizing.wall_s / div],
        [0],
        xerr=[
            [(sizing.wall_s - sizing.wall_low_s) / div],
            [(sizing.wall_high_s - sizing.wall_s) / div],
        ],
        color="black",
        capsize=6,
    )
    ax.set(
        yticks=[],
        xlabel=f"predicted wall time ({unit})",
        title=f"{sizing.rows:,} rows on {sizing.executors} x {sizing.cores} cores",
    )
    fig.legend(fontsize=9, loc="outside lower center", ncol=4)
    return fig


def checks_table(checks: list[dict]) -> pd.DataFrame:
    """The validation checks as a small table (seconds, relative error)."""
    cols = [
        "check",
        "where",
        "rows",
        "partitions",
        "batch_size",
        "slots",
        "predicted_s",
        "measured_s",
        "error",
        "spread",
        "load_average",
    ]
    return pd.DataFrame(checks, columns=cols)


def sizing_view(
    study: ScaleStudy,
    rows: int,
    executors: int,
    cores: int,
    memory: str,
    batch_size: int | None,
    spark_version: str,
) -> list:
    """What one cluster shape gets: the findings, the cost bar and the configuration block (or
    the one line saying why the study refuses to print one)."""
    from IPython.display import Markdown

    s = study.size(rows, executors, cores, memory, batch_size)
    block = paste_block(s, study.refusal(), spark_version)
    return [
        show(sizing_findings(s), "The sized job"),
        plot_components(study.fit, s),
        Markdown(f"```\n{block}\n```"),
    ]


def sizing_panel(
    study: ScaleStudy,
    spark_version: str,
    rows: int = 6_000_000_000,
    executors: int = 50,
    cores: int = 4,
    memory: str = "8g",
) -> widgets.VBox:
    """Widgets for rows, executors, cores, executor memory and batch size ("recommended": the
    zone's pick, or a fixed value); the view below is drawn now (the headless default) and on
    every change. The panel is one registered view, "sizing_panel"
    (`helpers.viz.widgets.move_every_control`)."""
    style = {"description_width": "110px"}
    controls = {
        "rows": widgets.IntText(rows, description="rows", style=style),
        "executors": widgets.IntSlider(executors, 1, 500, description="executors", style=style),
        "cores": widgets.IntSlider(cores, 1, 16, description="cores/executor", style=style),
        "memory": widgets.Dropdown(
            options=["2g", "4g", "8g", "16g", "32g"],
            value=memory,
            description="executor heap",
            style=style,
        ),
        "batch_size": widgets.Dropdown(
            # 0 stands for "recommended": ipywidgets shows a None value as no selection at all
            options=[("recommended", 0)] + [(f"{b:,}", b) for b in BATCH_CANDIDATES],
            value=0,
            description="batch size",
            style=style,
        ),
    }
    out = widgets.Output()

    def render(_=None):
        v = {k: c.value for k, c in controls.items()}
        return sizing_view(
            study,
            v["rows"],
            v["executors"],
            v["cores"],
            v["memory"],
            v["batch_size"] or None,
            spark_version,
        )

    redraw(out, render, None)
    for c in controls.values():
        c.observe(lambda change: redraw(out, render, None), names="value")
    register_view(list(controls.values()), "sizing_panel")
    return widgets.VBox([*controls.values(), out])

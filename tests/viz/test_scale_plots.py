"""The scale charts and the sizing panel draw from plain data (synthetic runs, no Spark)."""

import matplotlib
import numpy as np
import pandas as pd

from helpers.lab import scale
from helpers.viz import scale as viz

matplotlib.use("Agg")


def synthetic(noise: float) -> pd.DataFrame:
    grid = [(n, b, p) for n in (50_000, 100_000, 200_000) for b in (1_000, 10_000) for p in (2, 8)]
    df = pd.DataFrame(grid, columns=["rows", "batch_size", "partitions"]).assign(slots=2)
    X = scale.design(df.rows, df.partitions, df.batch_size, df.slots)
    y = X @ np.array([0.8, 0.05, 0.002, 4e-6])
    df["wall_s"] = y * (1 + noise * np.random.default_rng(0).standard_normal(len(y)))
    df[scale.MEMORY_COLUMN] = 200e6 + 3.0 * df.batch_size * scale.ROW_BYTES
    return df


def _study(measured_s: float | None = None):
    """A study whose 10x check took `measured_s` (default: what the model predicts, +2%)."""
    df = synthetic(noise=0.01)
    df["where"] = "local[2]"
    fit = scale.fit_cost(df)
    predicted = float(fit.predict(2_000_000, 8, 10_000, 2)[0])
    check = scale.validation_record(
        fit,
        {
            "where": "local[2]",
            "rows": 2_000_000,
            "partitions": 8,
            "batch_size": 10_000,
            "slots": 2,
            "wall_s": measured_s or 1.02 * predicted,
        },
        "10x larger run",
    )
    return scale.ScaleStudy(
        "map_in_arrow", "3.5.9", "local[2]", df, fit, scale.fit_memory(df), [check]
    )


def test_fit_plot_marks_every_check():
    study = _study()
    extra = [{**study.checks[0], "check": "cluster"}]
    fig = viz.plot_fit(study, extra)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(lab.startswith("10x larger run") for lab in labels)
    assert any(lab.startswith("cluster") for lab in labels)


def test_components_add_up_to_the_prediction():
    study = _study()
    s = scale.size_job(study.fit, 6_000_000_000, 50, 4, "8g", memory_fit=study.memory)
    parts = scale.cost_components(study.fit, s.rows, s.partitions, s.batch_size, 200)
    assert abs(sum(parts.values()) - s.wall_s) < 1e-6 * s.wall_s
    fig = viz.plot_components(study.fit, s)
    assert len(fig.axes[0].patches) == 4


def test_sizing_panel_draws_and_redraws():
    panel = viz.sizing_panel(_study(), "3.5.9")
    rows = panel.children[0]
    rows.value = 1_000_000_000
    assert len(panel.children) == 6
    view = viz.sizing_view(_study(), 10**9, 10, 2, "4g", None, "3.5.9")
    assert "--conf spark.sql.execution.arrow.maxRecordsPerBatch" in view[2].data
    assert "spark.executor.pyspark.memory" in view[2].data


def test_a_missed_check_shows_why_instead_of_a_block():
    study = _study()
    slow = _study(measured_s=1.5 * study.checks[0]["predicted_s"])
    view = viz.sizing_view(slow, 10**9, 10, 2, "4g", None, "3.5.9")
    assert "No configuration block" in view[2].data and "--conf" not in view[2].data
    assert "50% slower than predicted" in view[2].data


def test_components_axis_reads_minutes_for_a_short_job():
    study = _study()
    s = scale.size_job(study.fit, 60_000_000, 1, 2, "4g", batch_size=10_000)
    assert 90 <= s.wall_s < 5400  # a job of minutes
    fig = viz.plot_components(study.fit, s)
    assert fig.axes[0].get_xlabel() == "predicted wall time (min)"
    assert viz.time_unit(30) == (1.0, "s") and viz.time_unit(3 * 3600) == (3600.0, "h")

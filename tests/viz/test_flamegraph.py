"""Notebook 05's matplotlib charts besides the flame graph itself (tests/profile/test_profile.py
draws that): py-spy's titled graph and the per-task cost lines. Values, never timings."""

import matplotlib
import pandas as pd

from helpers.profile.pyspy import PySpyProfile
from helpers.viz import flamegraph

matplotlib.use("Agg")


def test_plot_pyspy_titles_samples_rate_and_processes():
    spy = PySpyProfile("map_in_pandas", 1000, 100, 1.0, 100, True, 7, [11, 12], {"a;b": 70_000})
    fig = flamegraph.plot_pyspy(spy)
    assert fig.axes[0].get_title() == (
        "map_in_pandas, py-spy --native: 7 samples at 100 Hz from 2 processes"
    )


def test_plot_task_overhead_one_line_per_daemon_with_its_slope():
    tasks = pd.DataFrame(
        {
            "daemon": ["stock", "stock", "lean", "lean"],
            "partitions": [2, 8, 2, 8],
            "wall_s": [1.0, 1.6, 1.0, 1.3],
        }
    )
    fig = flamegraph.plot_task_overhead(tasks, title="t")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == [
        "stock daemon: 100 ms/task",
        "lean daemon: 50 ms/task",
    ]
    assert list(ax.get_lines()[1].get_ydata()) == [1.0, 1.3] and ax.get_title() == "t"

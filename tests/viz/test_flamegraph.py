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


def test_batch_flame_view_profiles_python_only_at_the_chosen_batch(monkeypatch):
    """The render function of notebook 05's control: one profile_scenario at the slider's batch
    size (no JFR), drawn as one Python flame graph."""
    seen = {}

    def fake_profile(spark, name, rows, out_dir, worker_dir, batch_size=None, jvm=True, warm=True):
        seen.update(name=name, rows=rows, batch_size=batch_size, jvm=jvm, warm=warm)
        return "result"

    monkeypatch.setattr(flamegraph, "profile_scenario", fake_profile)
    monkeypatch.setattr(flamegraph, "plot_flames", lambda results, side: (list(results), side))
    drawn = flamegraph.batch_flame_view(100, None, "map_in_pandas", 2000, "out", "workers")
    assert drawn == (["result"], "python")
    assert seen == {
        "name": "map_in_pandas",
        "rows": 2000,
        "batch_size": 100,
        "jvm": False,
        "warm": False,
    }

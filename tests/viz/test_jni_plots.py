"""Notebook 06's charts draw from hand-made results (pure: no Spark, no measurement)."""

import matplotlib.pyplot as plt
import pandas as pd

from helpers.lab import jni
from helpers.viz import jni as jni_plots


def _bar_labels(fig):
    return [t.get_text() for t in fig.axes[0].get_yticklabels()]


def test_cost_per_row_stacks_jvm_and_python():
    costs = pd.DataFrame(
        {
            "path": ["synapseml", "map_in_arrow"],
            "jvm_cpu_us_per_row": [12.0, 2.0],
            "python_cpu_us_per_row": [0.0, 4.0],
            "cpu_us_per_row": [12.0, 6.0],
        }
    )
    fig = jni_plots.cost_per_row(costs)
    assert _bar_labels(fig) == ["map_in_arrow", "synapseml"]  # cheapest first
    assert len(fig.axes[0].patches) == 4
    plt.close(fig)


def test_native_calls_and_buckets():
    single = pd.DataFrame(
        {
            "call": [jni.CALL_NOOP, jni.CALL_SINGLE, jni.CALL_FAST, jni.CALL_BATCHED],
            "us_per_row": [0.1, 10.0, 4.0, 0.5],
        }
    )
    fig = jni_plots.native_calls(single)
    assert fig.axes[0].get_xscale() == "log" and _bar_labels(fig)[-1] == jni.CALL_NOOP
    plt.close(fig)
    breakdown = pd.DataFrame({"bucket": ["a", "b"], "seconds": [1.5, 0.5], "share": [0.75, 0.25]})
    fig = jni_plots.jvm_buckets(breakdown)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert " 75% (1.50 s)" in texts and " 25% (0.50 s)" in texts
    plt.close(fig)


def test_gil_speedups_marks_the_ideal():
    runs = pd.DataFrame(
        {
            "mode": ["serial", "threads", "serial", "threads"],
            "work": ["lightgbm predict"] * 2 + ["pure-Python loop (control)"] * 2,
            "parallelism": [1, 2, 1, 2],
            "speedup": [1.0, 1.8, 1.0, 0.97],
        }
    )
    fig = jni_plots.gil_speedups(runs)
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "ideal with 2 workers"
    plt.close(fig)


def test_gil_view_draws_the_experiment_at_the_chosen_workers(monkeypatch):
    """The render function of notebook 06's control passes the slider's value on as `workers`, and
    the learner's worker function as `work`."""
    seen = {}

    def fake_experiment(rows=None, workers=None, repeats=1, work=None):
        seen.update(rows=rows, workers=workers, repeats=repeats, work=work)
        return pd.DataFrame(
            {
                "mode": ["serial", "threads"],
                "work": ["lightgbm predict", "lightgbm predict"],
                "parallelism": [1, workers],
                "speedup": [1.0, 1.7],
            }
        )

    monkeypatch.setattr(jni_plots, "gil_experiment", fake_experiment)
    fig = jni_plots.gil_view(3, work=len)
    assert seen == {"rows": None, "workers": 3, "repeats": 1, "work": len}
    assert len(fig.axes[0].patches) == 2
    plt.close(fig)

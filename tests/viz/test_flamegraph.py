"""Notebook 05's matplotlib charts: the icicle's colours against the breakdown (coloured area per
category = the classifier's shares), py-spy's titled graph and the per-task cost lines. Values,
never timings."""

from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from helpers.profile import classify
from helpers.profile.pyspy import PySpyProfile
from helpers.profile.stacks import read_collapsed
from helpers.viz import flamegraph

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402


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

    def fake_profile(
        spark, name, rows, out_dir, worker_dir, batch_size=None, jvm=True, warm=True, build=None
    ):
        seen.update(name=name, rows=rows, batch_size=batch_size, jvm=jvm, warm=warm, build=build)
        return "result"

    def job(df):
        return df

    monkeypatch.setattr(flamegraph, "profile_scenario", fake_profile)
    monkeypatch.setattr(flamegraph, "plot_flames", lambda results, side: (list(results), side))
    drawn = flamegraph.batch_flame_view(100, None, "mine", 2000, "out", "workers", build=job)
    assert drawn == (["result"], "python")
    assert seen == {
        "name": "mine",
        "rows": 2000,
        "batch_size": 100,
        "jvm": False,
        "warm": False,
        "build": job,
    }


# ---- colour agrees with the numbers ------------------------------------------------------------

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "python_task.collapsed"
TASK = "thread:Executor task launch worker;java.lang.Thread.run"
JVM_RUN = {
    f"{TASK};java.io.DataInputStream.readInt;sun.nio.ch.NioSocketImpl.implRead;"
    "sun.nio.ch.SocketDispatcher.read0 [native]": 200_000,
    "thread:stdout writer for python;org.apache.spark.sql.execution.arrow.ArrowWriter.write;"
    "java.net.Socket$SocketOutputStream.write;sun.nio.ch.SocketDispatcher.write;"
    "sun.nio.ch.FileDispatcherImpl.write0 [native]": 480_000,
    f"{TASK};org.apache.arrow.vector.ipc.ArrowStreamReader.loadNextBatch": 60_000,
    f"{TASK};org.apache.spark.sql.execution.arrow.ArrowWriter.write": 90,
}


@pytest.mark.parametrize("min_share,max_depth", [(0.0, 40), (0.003, 40), (0.05, 3), (0.0, 1)])
@pytest.mark.parametrize("side", ["python", "jvm"])
def test_coloured_area_per_category_is_the_breakdown(side, min_share, max_depth):
    """Add up the drawn coloured rectangles per category (what a reader's eye does): the shares
    are `classify.categorize`'s, whatever is pruned, cut at max_depth or hidden."""
    stacks = read_collapsed(FIX) if side == "python" else JVM_RUN
    hide = classify.JVM_SCAFFOLDING if side == "jvm" else None
    fig = flamegraph.plot_flame(stacks, "t", side, None, min_share, max_depth, hide)
    area = flamegraph.coloured_area(fig.axes[0])
    cats = classify.categorize(stacks, side)
    total = sum(cats.values())
    expected = {c: s / total for c, s in cats.items() if s}
    drawn = sum(area.values())
    assert {c: a / drawn for c, a in area.items()} == pytest.approx(expected, abs=1e-9)
    for p in fig.axes[0].patches:  # coloured = a category's colour; everything else is white
        colour = classify.CATEGORY_COLORS.get(p.get_gid(), "white")
        assert to_hex(p.get_facecolor()) == to_hex(colour)
    plt.close(fig)


def test_pass_through_frames_stay_white():
    """`dump_stream` and `process` only pass calls through: their rectangles are white, and the
    only coloured width in their row is their own self time."""
    stacks = read_collapsed(FIX)
    fig = flamegraph.plot_flame(stacks, "t", "python", min_share=0.0)
    ax = fig.axes[0]
    labels = {t.get_text() for t in ax.texts}
    assert "process" in labels
    white = [p for p in ax.patches if p.get_gid() is None]
    assert white and all(to_hex(p.get_facecolor()) == "#ffffff" for p in white)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "calls only (no self time)" and "waiting" in legend
    plt.close(fig)


# ---- JVM socket waits folded, comparable pairs on one axis --------------------------------------

READ_35 = (
    "thread:Executor task launch worker-0;org.apache.spark.api.python.PythonRunner$$anon$3.read;"
    "java.io.DataInputStream.readInt;java.io.BufferedInputStream.fill;"
    "sun.nio.ch.NioSocketImpl$1.read;sun.nio.ch.NioSocketImpl.read;"
    "sun.nio.ch.NioSocketImpl.implRead;sun.nio.ch.NioSocketImpl.tryRead;"
    "sun.nio.ch.SocketDispatcher.read;sun.nio.ch.SocketDispatcher.read0 [native]"
)
EPOLL_4X = (
    "thread:Executor task launch worker-0;"
    "org.apache.spark.api.python.BasePythonRunner$ReaderInputStream.read;"
    "sun.nio.ch.SelectorImpl.select;sun.nio.ch.SelectorImpl.lockAndDoSelect;"
    "sun.nio.ch.EPollSelectorImpl.doSelect;sun.nio.ch.EPoll.wait [native]"
)


@pytest.mark.parametrize(
    "stack, label",
    [
        (READ_35, "[waiting: socket read, Python still computing]"),
        (EPOLL_4X, "[waiting: epoll on the worker's socket]"),
    ],
)
def test_jvm_socket_waits_fold_into_one_labelled_frame(stack, label):
    from helpers.profile.classify import fold_io

    folded = fold_io(stack)
    assert folded[-1] == label and len(folded) == 3
    assert fold_io("thread:t;a.B.c;d.E.f") == ["thread:t", "a.B.c", "d.E.f"]  # busy: untouched


def test_folding_changes_the_drawing_not_the_coloured_area():
    stacks = {READ_35: 600, EPOLL_4X: 300, "thread:t;org.apache.spark.X.convert": 100}
    plain = flamegraph.coloured_area(flamegraph.plot_flame(stacks, side="jvm").axes[0])
    folded_fig = flamegraph.plot_flame(stacks, side="jvm", fold=True)
    assert flamegraph.coloured_area(folded_fig.axes[0]) == pytest.approx(plain)
    labels = {t.get_text() for t in folded_fig.axes[0].texts}
    assert any(t.startswith("[waiting: socket read") for t in labels)
    assert not any("NioSocketImpl" in t for t in labels)


def test_shared_axis_draws_the_smaller_profile_narrower():
    small, large = {"m;f": 1_000_000}, {"m;f": 3_000_000}
    fig = flamegraph.plot_flame(small, side="python", xmax_s=3.0)
    root = fig.axes[0].patches[0]
    assert root.get_width() == pytest.approx(1 / 3)
    wide = flamegraph.plot_flame(large, side="python", xmax_s=3.0).axes[0].patches[0]
    assert wide.get_width() == pytest.approx(1.0)

"""Notebook 07's charts draw hand-made runs and tables (pure: no Spark)."""

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from helpers.profile import memory as mp
from helpers.viz import memory as memory_plots

MiB = 2**20


def _run():
    tl = pd.DataFrame(
        [
            (-0.1, "process", "jvm RSS", 1, 300 * MiB),
            (0.2, "process", "python_worker RSS", 5, 90 * MiB),
            (0.2, "jvm", "JVM heap used", None, 100 * MiB),
            (0.2, "jvm", "JVM Arrow allocator peak (since JVM start)", None, 9 * MiB),
            (0.3, "memray", "Python heap (memray)", 5, 30 * MiB),
        ],
        columns=["t", "source", "layer", "pid", "bytes"],
    )
    caps = pd.DataFrame({"pid": [5], "seq": [0], "peak_bytes": [30 * MiB]})
    return mp.MemoryRun("map_in_pandas", 4000, 1000, 1, 0.5, 0.0, tl, caps, 0, 9 * MiB)


def test_layers_timeline_draws_each_group_on_its_own_axis():
    fig = memory_plots.layers_timeline(_run())
    jvm_rss, py_rss, jvm_meters, py_heap = fig.axes
    # one line per process or meter, then the start/end markers
    assert len(jvm_rss.lines) == 1 + 2 and len(py_rss.lines) == 1 + 2
    # the Arrow high-water mark is not a timeline: the JVM panel draws the heap only, on a log axis
    assert len(jvm_meters.lines) == 1 + 2 and jvm_meters.get_yscale() == "symlog"
    assert len(py_heap.lines) == 1 + 2 and py_heap.get_ylim()[1] < 100  # MiB, not under 300
    assert "batch 1,000" in fig._suptitle.get_text()
    tl = _run().timeline
    two = pd.concat([tl, tl[tl.layer == "python_worker RSS"].assign(pid=6)])
    run = mp.MemoryRun("map_in_pandas", 4000, 1000, 1, 0.5, 0.0, two, _run().captures, 0, 0)
    styles = [ln.get_linestyle() for ln in memory_plots.layers_timeline(run).axes[1].lines[:2]]
    assert styles == ["-", "--"]  # two workers, one colour, told apart by the line
    plt.close(fig)


def test_hierarchy_bars_and_peaks_vs_batch():
    run = _run()
    fig = memory_plots.hierarchy_bars(mp.memory_hierarchy(run))
    assert isinstance(fig, Figure) and "1,000 rows" in fig.axes[0].get_title()
    plt.close(fig)
    table = mp.peaks_by_batch_size([run])
    fig = memory_plots.peaks_vs_batch(table)
    assert len(fig.axes[0].lines) == 3 and "map_in_pandas" in fig.axes[0].get_title()
    plt.close(fig)


def test_timeline_view_runs_at_the_chosen_batch_size(monkeypatch, tmp_path):
    """The render function of notebook 07's control: one memory_run at the slider's batch size,
    captures in their own folder, drawn as a layer timeline."""
    seen = {}

    def fake_run(
        spark, name, rows, worker_dir, dest, batch_size=None, partitions=None, warm=True, build=None
    ):
        seen.update(name=name, rows=rows, dest=dest, batch_size=batch_size, warm=warm)
        seen.update(partitions=partitions, build=build)
        return _run()

    monkeypatch.setattr(memory_plots, "memory_run", fake_run)
    fig = memory_plots.timeline_view(1000, None, "map_in_pandas", 4000, tmp_path, tmp_path)
    assert isinstance(fig, Figure)
    assert seen == {
        "name": "map_in_pandas",
        "rows": 4000,
        "dest": tmp_path / "batch1000",
        "batch_size": 1000,
        "warm": False,
        "partitions": None,
        "build": None,
    }
    plt.close(fig)

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


def test_layers_timeline_draws_rss_and_meters():
    fig = memory_plots.layers_timeline(_run())
    top, bottom = fig.axes
    assert len(top.lines) == 2 + 2  # jvm and worker RSS, then the start/end markers
    # the Arrow high-water mark is not a timeline: JVM heap and memray heap only
    assert len(bottom.lines) == 2 + 2
    assert "batch 1,000" in top.get_title()
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

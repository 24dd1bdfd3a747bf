"""helpers.viz.journey: the foundation notebooks' charts draw what their tables hold. Pure."""

import matplotlib.pyplot as plt
import pandas as pd

from helpers.viz import journey as journey_plots


def test_layer_bars_labels_each_layer_with_its_factor():
    layers = pd.DataFrame(
        {"layer": ["JVM", "socket"], "bytes": [2**20, 2**19], "factor": [1.125, 0.5]}
    )
    fig = journey_plots.layer_bars(layers, 10_000)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["socket", "JVM"]
    assert {t.get_text().strip() for t in ax.texts} == {"1.12x raw", "0.50x raw"}
    assert "10,000 rows" in ax.get_title()
    plt.close(fig)


def test_throughput_vs_limit_draws_the_limit_as_a_line():
    table = pd.DataFrame(
        {
            "name": ["physical_limit", "map_in_arrow", "row_udf"],
            "rows_per_s": [200_000.0, 20_000.0, 2_000.0],
            "ratio_to_limit": [1.0, 0.1, 0.01],
        }
    )
    fig = journey_plots.throughput_vs_limit(table)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["row_udf", "map_in_arrow"]
    assert ax.lines[0].get_xdata()[0] == 200_000.0
    plt.close(fig)

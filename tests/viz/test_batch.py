"""Notebook 04's charts and its zone widget render, on a synthetic sweep table (no Spark)."""

import matplotlib
import pandas as pd
from IPython.display import Markdown
from matplotlib.figure import Figure

from helpers.lab.batch.zone import goldilocks_zone
from helpers.viz import batch as batch_plots

matplotlib.use("Agg")
MiB = 2**20

# throughput rises, plateaus around 10k rows and falls; off-heap grows with the batch
CURVE = pd.DataFrame(
    {
        "batch_size": [10**k for k in range(1, 7)],
        "throughput": [100.0, 600.0, 960.0, 1000.0, 980.0, 700.0],
        "peak_jvm_offheap_bytes": [m * MiB for m in (1, 2, 4, 16, 128, 1024)],
    }
).assign(label="x", rows=1000, cpu_saturation=0.5, jvm_cpu_s=0.1, python_cpu_s=0.2)


def zone_spans(fig):
    return [
        p for ax in fig.axes for p in ax.patches if p.get_label().lstrip("_") == "Goldilocks zone"
    ]


def test_plots_return_figures_with_the_zone_shaded():
    z = goldilocks_zone(CURVE, 64 * MiB)
    fig = batch_plots.plot_sweep(CURVE, {"x": z}, budget_bytes=64 * MiB)
    (span,) = zone_spans(fig)
    x0 = span.get_x()
    x1 = x0 + span.get_width()
    assert 100 < x0 < 1000 and 10_000 < x1 < 100_000  # half-way (geometric) to the neighbours
    assert batch_plots.plot_saturation(CURVE).axes


def test_zone_view_gives_the_findings_and_the_chart_for_a_budget_in_mib():
    pts = pd.concat([CURVE, CURVE.assign(label="y", peak_jvm_offheap_bytes=1024 * MiB)])
    md, fig = batch_plots.zone_view(pts, 64)
    assert isinstance(md, Markdown) and isinstance(fig, Figure)
    assert md.data.splitlines() == [
        "- **x**: Goldilocks zone: 1,000 and 10,000 rows per batch: at least 950 rows/s "
        "(best 1,000 at 10,000) with peak_jvm_offheap_bytes under 64.0 MiB.",
        "- **y**: No Goldilocks zone: the points within 5% of the best (1,000 rows/s at 10,000) "
        "all exceed the 64.0 MiB budget (peak_jvm_offheap_bytes); no batch size fits: raise the "
        "budget or use smaller batches.",
    ]
    assert len(fig.axes) == 4 and len(zone_spans(fig)) == 1  # two panels, each with its twin


def test_the_zone_band_shades_only_points_inside_the_zone():
    """Issue 20/24: a zone with a gap (10,000 fast but over budget) gets two bands, and the point
    in the gap lies in neither."""
    noisy = CURVE.assign(throughput=[100.0, 600.0, 990.0, 1000.0, 995.0, 700.0])
    noisy.loc[noisy.batch_size == 10_000, "peak_jvm_offheap_bytes"] = 2048 * MiB
    z = goldilocks_zone(noisy, 200 * MiB)
    assert z.batches == [1000, 100_000]
    spans = zone_spans(batch_plots.plot_sweep(noisy, {"x": z}, budget_bytes=200 * MiB))
    assert len(spans) == 2
    for b in noisy.batch_size:
        covered = any(s.get_x() <= b <= s.get_x() + s.get_width() for s in spans)
        assert covered == (b in z.batches), b


def test_sweep_chart_draws_the_runs_range():
    twice = pd.concat([CURVE, CURVE.assign(throughput=CURVE.throughput * 0.5)])
    fig = batch_plots.plot_sweep(twice)
    (bars,) = [c for c in fig.axes[0].containers]
    segments = bars.lines[2][0].get_segments()  # one min..max segment per batch size
    assert len(segments) == 6 and segments[3][0][1] == 500.0 and segments[3][1][1] == 1000.0

"""Every chart that draws paths draws each one in its colour from `helpers.viz.style`, the
physical limit as the black dashed line, and legends whose entries never look alike. Built from
small hand-made tables (pure: no Spark)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.container import BarContainer, ErrorbarContainer  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from helpers.lab import jni  # noqa: E402
from helpers.lab.zerocopy.layouts import ARRAY_RUN, COLUMNS_RUN  # noqa: E402
from helpers.viz import batch as batch_plots  # noqa: E402
from helpers.viz import jni as jni_plots  # noqa: E402
from helpers.viz import journey as journey_plots  # noqa: E402
from helpers.viz import pickling as pickling_plots  # noqa: E402
from helpers.viz import talk as talk_plots  # noqa: E402
from helpers.viz import wire as wire_plots  # noqa: E402
from helpers.viz import zerocopy as zerocopy_plots  # noqa: E402
from helpers.viz.style import PATH_COLORS  # noqa: E402

MiB = 2**20


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def hexes(patches) -> list[str]:
    return [to_hex(p.get_facecolor()) for p in patches]


def bars(ax) -> list[Rectangle]:
    """The drawn bars of `ax` (legend-only empty bars have no patches)."""
    return [p for c in ax.containers if isinstance(c, BarContainer) for p in c.patches]


def tick_labels(ax, axis="y") -> list[str]:
    ticks = ax.get_yticklabels() if axis == "y" else ax.get_xticklabels()
    return [t.get_text() for t in ticks]


def look(handle) -> tuple:
    """What a reader sees of one legend entry: colour, hatch, line style, marker."""
    if isinstance(handle, Rectangle):
        return ("patch", to_hex(handle.get_facecolor()), handle.get_hatch() or "")
    if hasattr(handle, "get_linestyle") and hasattr(handle, "get_marker"):
        return ("line", to_hex(handle.get_color()), handle.get_linestyle(), handle.get_marker())
    return ("other", repr(handle))


def assert_legends_tell_series_apart(fig):
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        looks = [look(h) for h in legend.legend_handles]
        assert len(set(looks)) == len(looks), [t.get_text() for t in legend.get_texts()]


def assert_limit_line(line):
    assert to_hex(line.get_color()) == "#000000" and line.get_linestyle() == "--"


# ---- notebook 00 -------------------------------------------------------------------------------


def test_throughput_vs_limit_bars_in_path_colours_and_k_m_ticks():
    table = pd.DataFrame(
        {
            "name": ["physical_limit", "map_in_arrow", "pandas_udf", "row_udf", "map_in_pandas"],
            "rows_per_s": [2_000_000.0, 900_000.0, 700_000.0, 20_000.0, 800_000.0],
            "ratio_to_limit": [1.0, 0.45, 0.35, 0.01, 0.4],
        }
    )
    fig = journey_plots.throughput_vs_limit(table)
    ax = fig.axes[0]
    names = tick_labels(ax)
    assert hexes(bars(ax)) == [PATH_COLORS[n].lower() for n in names]
    (limit,) = ax.lines
    assert_limit_line(limit)
    assert ax.get_legend().get_texts()[0].get_text() == "physical limit 2M rows/s"
    assert ax.xaxis.get_major_formatter()(1_500_000, 0) == "1.5M"
    assert_legends_tell_series_apart(fig)


# ---- notebook 02 -------------------------------------------------------------------------------


def _type_table():
    rows = [
        (kind, path, label, us)
        for kind in ("double", "string")
        for path, label, us in (
            ("row_udf", "row @udf (pickle)", 3.0),
            ("arrow_udf", "@udf(useArrow=True)", 1.0),
            ("pandas_udf", "@pandas_udf", 0.5),
        )
    ]
    df = pd.DataFrame(rows, columns=["kind", "path", "label", "us_per_row"])
    return df.assign(rows=5000, sent_bytes=40_000.0)


def test_type_throughput_draws_each_path_in_its_colour():
    fig = pickling_plots.plot_type_throughput(_type_table())
    ax = fig.axes[0]
    for container, path in zip(ax.containers, ("row_udf", "arrow_udf", "pandas_udf")):
        assert set(hexes(container.patches)) == {PATH_COLORS[path].lower()}
    assert_legends_tell_series_apart(fig)


def test_wire_sizes_draw_formats_in_greys_and_each_path_metric_in_its_colour():
    sizes = pd.DataFrame(
        {"kind": ["double", "string"], "pickled_per_row": [9.0, 20.0], "arrow_per_row": [8.0, 12.0]}
    )
    fig = pickling_plots.plot_wire_sizes(sizes, _type_table())
    ax = fig.axes[0]
    colours = [set(hexes(c.patches)) for c in ax.containers]
    assert colours[2:] == [{PATH_COLORS[p].lower()} for p in ("row_udf", "arrow_udf", "pandas_udf")]
    path_colours = {c.lower() for c in PATH_COLORS.values()}
    assert not (colours[0] | colours[1]) & path_colours and colours[0] != colours[1]
    assert_legends_tell_series_apart(fig)


# ---- notebook 03 -------------------------------------------------------------------------------


def test_ledger_draws_each_path_in_its_colour_and_the_side_as_a_hatch():
    paths = ["pandas_udf", "map_in_pandas", "map_in_arrow"]
    hops = pd.DataFrame(
        [
            (p, hop, side, 1000 * (i + 1), 0.001 * (i + 1))
            for p in paths
            for i, (hop, side) in enumerate(
                [("encode Arrow", "jvm"), ("socket write", "kernel"), ("to_pandas copy", "python")]
            )
        ],
        columns=["path", "hop", "side", "bytes", "seconds"],
    )
    summary = pd.DataFrame({"path": paths, "end_to_end_per_batch_s": [0.007, 0.006, 0.005]})
    fig = zerocopy_plots.plot_ledger(hops, summary)
    left, right = fig.axes
    drawn = [p for p in bars(left) if p.get_width() > 0]
    assert hexes(drawn) == [PATH_COLORS[p].lower() for p in paths for _ in range(3)]
    assert [p.get_hatch() or "" for p in drawn[:3]] == ["", "..", "//"]
    assert [set(hexes(c.patches)) for c in right.containers] == [
        {PATH_COLORS[p].lower()} for p in paths
    ]
    assert right.get_xlabel() == "KiB written to new memory per batch"  # 3,000 bytes at most
    assert_legends_tell_series_apart(fig)


def test_layouts_draw_in_the_colour_of_the_path_that_reads_them():
    runs = pd.DataFrame({"layout": [COLUMNS_RUN, ARRAY_RUN], "rows_per_s": [300_000.0, 450_000.0]})
    fig = zerocopy_plots.plot_layouts(runs)
    ax = fig.axes[0]
    assert hexes(bars(ax)) == [
        PATH_COLORS["map_in_arrow"].lower(),
        PATH_COLORS["map_in_arrow_rowmajor"].lower(),
    ]
    assert ax.xaxis.get_major_formatter()(450_000, 0) == "450k"


# ---- notebook 04 -------------------------------------------------------------------------------


def _sweep_points():
    curve = pd.DataFrame(
        {
            "batch_size": [10**k for k in range(2, 6)],
            "throughput": [600.0, 960.0, 1000.0, 700.0],
            "peak_jvm_offheap_bytes": [m * MiB for m in (2, 4, 16, 128)],
        }
    ).assign(rows=1000, cpu_saturation=0.5, jvm_cpu_s=0.1, python_cpu_s=0.2)
    labels = ["pandas_udf", "map_in_arrow", "my mapInPandas"]
    return pd.concat([curve.assign(label=label) for label in labels], ignore_index=True), labels


def test_sweep_panels_draw_throughput_in_the_path_colour():
    points, labels = _sweep_points()
    fig = batch_plots.plot_sweep(points, budget_bytes=64 * MiB)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == labels
    for ax, path in zip(panels, ["pandas_udf", "map_in_arrow", "map_in_pandas"]):
        (throughput,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert to_hex(throughput.lines[0].get_color()) == PATH_COLORS[path].lower()
    assert_legends_tell_series_apart(fig)


def test_saturation_lines_in_path_colours():
    points, labels = _sweep_points()
    fig = batch_plots.plot_saturation(points)
    a, b = fig.axes
    got = [to_hex(c.lines[0].get_color()) for c in a.containers]
    assert got == [PATH_COLORS[p].lower() for p in ("pandas_udf", "map_in_arrow", "map_in_pandas")]
    assert [to_hex(line.get_color()) for line in b.lines] == [g for g in got for _ in range(2)]
    assert_legends_tell_series_apart(fig)


# ---- notebook 06 -------------------------------------------------------------------------------


def test_cost_per_row_keeps_each_path_colour_and_hatches_python():
    costs = pd.DataFrame(
        {
            "path": [jni.ONE_CORE, "synapseml", "map_in_arrow"],
            "jvm_cpu_us_per_row": [0.0, 12.0, 2.0],
            "python_cpu_us_per_row": [3.0, 0.0, 4.0],
            "cpu_us_per_row": [3.0, 12.0, 6.0],
        }
    )
    fig = jni_plots.cost_per_row(costs)
    ax = fig.axes[0]
    order = tick_labels(ax)
    assert order == [jni.ONE_CORE, "map_in_arrow", "synapseml"]
    want = ["#000000", PATH_COLORS["map_in_arrow"].lower(), PATH_COLORS["synapseml"].lower()]
    jvm, python = [c for c in ax.containers if len(c.patches)]
    assert hexes(jvm.patches) == hexes(python.patches) == want
    assert {p.get_hatch() or "" for p in jvm.patches} == {""}
    assert {p.get_hatch() for p in python.patches} == {"//"}
    assert_legends_tell_series_apart(fig)


# ---- notebook 08 -------------------------------------------------------------------------------


def test_ratio_bars_keep_each_path_colour_and_hatch_each_spark_line():
    side = pd.DataFrame(
        {"Spark 3.5": [1.0, 0.4, 0.3], "Spark 4.x": [1.0, 0.5, 0.45]},
        index=["physical_limit", "pandas_udf", "map_in_arrow"],
    )
    fig = wire_plots.ratio_bars(side)
    ax = fig.axes[0]
    first, second = [c for c in ax.containers if len(c.patches)]
    want = [PATH_COLORS["pandas_udf"].lower(), PATH_COLORS["map_in_arrow"].lower()]
    assert hexes(first.patches) == hexes(second.patches) == want
    assert {p.get_hatch() or "" for p in first.patches} != {p.get_hatch() for p in second.patches}
    (limit,) = ax.lines
    assert_limit_line(limit)
    assert_legends_tell_series_apart(fig)


# ---- notebook 11 -------------------------------------------------------------------------------


def test_dial_draws_each_path_in_its_colour_and_marker_and_the_limit_black():
    paths = ["row_udf", "pandas_udf", "map_in_pandas", "map_in_arrow"]
    dial = pd.DataFrame(
        [
            (trees, us, p, 10_000.0 * r, 9_000.0 * r, 11_000.0 * r, 20_000.0, r / 2)
            for trees, us in ((10, 1.0), (1000, 100.0))
            for p, r in zip(paths, (0.1, 0.5, 0.6, 0.8))
        ],
        columns=[
            "trees",
            "predict_us_per_row",
            "path",
            "rows_per_s",
            "rows_per_s_min",
            "rows_per_s_max",
            "limit_rows_per_s",
            "ratio",
        ],
    )
    fig = talk_plots.plot_dial(dial)
    ax = fig.axes[0]
    lines = {c.get_label(): c.lines[0] for c in ax.containers}
    assert list(lines) == paths
    for p, line in lines.items():
        assert to_hex(line.get_color()) == PATH_COLORS[p].lower()
    assert len({line.get_marker() for line in lines.values()}) == len(paths)
    (models,) = ax.child_axes  # each model named on the top axis, clear of the lines
    assert [t.get_text() for t in models.get_xticklabels()] == ["10 trees", "1,000 trees"]
    (limit,) = [line for line in ax.lines if line.get_label() == "physical limit of that model"]
    assert_limit_line(limit)
    assert_legends_tell_series_apart(fig)


def test_threads_grid_is_one_path_its_colour_one_hatch_per_setting():
    grid = pd.DataFrame(
        [
            (tasks, threads, 50_000.0 * tasks, 45_000.0 * tasks, 55_000.0 * tasks)
            for tasks in (1, 2)
            for threads in ("default", "1", "2")
        ],
        columns=["tasks", "threads", "rows_per_s", "rows_per_s_min", "rows_per_s_max"],
    )
    fig = talk_plots.plot_threads(grid)
    ax = fig.axes[0]
    assert set(hexes(bars(ax))) == {PATH_COLORS["map_in_arrow"].lower()}
    per_setting = [c for c in ax.containers if isinstance(c, BarContainer)]
    hatches = [{p.get_hatch() or "" for p in c.patches} for c in per_setting]
    assert all(len(h) == 1 for h in hatches) and len({h.pop() for h in hatches}) == 3
    assert ax.yaxis.get_major_formatter()(100_000, 0) == "100k"
    assert_legends_tell_series_apart(fig)

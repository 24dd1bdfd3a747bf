import functools

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd
import pytest
import traitlets

from helpers.core.config import LabError
from helpers.viz import widgets as w
from helpers.viz.pickling import ExplorerChoice
from helpers.viz.widgets import live


def test_live_renders_now_and_on_every_change():
    calls, figs = [], []

    def render(v):
        calls.append(v)
        if v == 3:
            raise LabError("too big")
        fig, _ = plt.subplots()
        figs.append(fig.number)
        return [pd.DataFrame({"v": [v]}), fig]

    slider = widgets.IntSlider(value=1, min=1, max=3)
    box = live(slider, render)
    slider.value = 2
    slider.value = 3  # a LabError is shown, not raised
    assert calls == [1, 2, 3] and box.children[0] is slider
    assert len(figs) == 2 and not set(figs) & set(plt.get_fignums())  # closed after display


def test_progress_bar_counts_finished_points():
    from helpers.core.progress import ProgressEvent
    from helpers.viz.widgets import ProgressBar

    bar = ProgressBar()
    bar(ProgressEvent("sweep", 1, 3, "batch 10", 0.0))
    assert (bar.bar.value, bar.bar.max) == (0, 3) and "1/3 batch 10" in bar.caption.value
    bar(ProgressEvent("sweep", 3, 3, "batch 1,000", 2.0))
    assert (bar.bar.value, bar.bar.max) == (2, 3)
    bar(ProgressEvent("sweep", 3, 3, "", 3.0, finished=True))
    assert (bar.bar.value, bar.bar.max) == (3, 3) and bar.bar.bar_style == "success"
    assert bar.caption.value.startswith("sweep: done, 3 points")


def test_progress_bar_with_an_upper_bound_ends_full():
    from helpers.core.progress import ProgressEvent
    from helpers.viz.widgets import ProgressBar

    bar = ProgressBar()
    bar(ProgressEvent("tune", 2, 9, "batch 100", 0.0, at_most=True))
    assert (bar.bar.value, bar.bar.max) == (1, 9)
    bar(ProgressEvent("tune", 5, 9, "", 1.0, finished=True, at_most=True))
    assert bar.bar.value == bar.bar.max == 5


def test_use_progress_bars_makes_the_bar_the_default():
    from helpers.core import progress as pg
    from helpers.viz import widgets as w

    assert not w.in_kernel()  # pytest is no notebook kernel: nothing registered on import
    try:
        w.use_progress_bars()
        p = pg.as_progress(None)
        with p.task("t", 1):
            p.step("one")
            assert isinstance(p._active, w.ProgressBar)
    finally:
        pg.set_default_sink(None)


# ---- the registry of live views and move_every_control ------------------------------------------


@pytest.fixture
def fresh():
    w.forget_views()
    yield
    w.forget_views()


def _table(value):
    return pd.DataFrame({"v": [value]})


def test_moves_every_kind_of_control_the_series_uses(fresh):
    seen = []

    def render(value, tag):
        seen.append((tag, value))
        return _table(value)

    controls = {
        "slider": widgets.IntSlider(value=5_000, min=1_000, max=20_000, step=1_000),
        "choice": widgets.SelectionSlider(options=[100, 1_000, 10_000], value=1_000),
        "last": widgets.SelectionSlider(options=[1_000, 10_000], value=10_000),
        "budget": widgets.BoundedFloatText(value=24.0, min=0.01, max=1e6),
        "threads": widgets.IntSlider(value=1, min=1, max=4),
    }
    for tag, c in controls.items():
        c.description = tag
        w.live(c, functools.partial(render, tag=tag))
    w.live(ExplorerChoice(2_000), functools.partial(render, tag="explorer"))
    seen.clear()
    table = w.move_every_control()
    assert list(table.columns) == ["view", "control", "from", "to", "seconds", "outcome"]
    moves = dict(zip(table.control, zip(table["from"], table["to"])))
    assert moves == {
        "slider": (5_000, 4_000),  # one step down
        "choice": (1_000, 10_000),  # the next option
        "last": (10_000, 1_000),  # at the end: the previous one
        "budget": (24.0, 12.0),  # half, within the bounds
        "threads": (1, 2),  # at the minimum: one step up
        "column": ("string", "array<double>"),
        "path": ("pandas_udf", "arrow_udf"),
        "rows": (2_000, 1_000),  # a row count never grows
    }
    assert (table.outcome == "ok").all() and (table.seconds >= 0).all()
    # a render named just "render" says nothing: the view is named after its controls
    assert table.view.tolist() == [*controls, *["column / path / rows"] * 3]
    assert len(seen) == 8 and seen[-1] == ("explorer", ("array<double>", "arrow_udf", 1_000))


def test_a_raising_render_fails_the_move_and_names_the_control(fresh):
    def fragile(value):
        if value != 3:
            raise ConnectionRefusedError("the session is gone")
        return _table(value)

    w.live(widgets.IntSlider(value=3, min=1, max=5, description="knob"), fragile, name="fragile")
    fine = widgets.Dropdown(options=["a", "b"], description="fine")
    w.live(fine, _table)
    with pytest.raises(
        LabError,
        match=r"1 of 2 controls.*fragile / knob: failed: "
        r"ConnectionRefusedError: the session is gone",
    ):
        w.move_every_control()
    assert [(e.kind, e.lab) for e in w._ERRORS] == [("ConnectionRefusedError", False)]
    assert fine.value == "b"  # the other view was still moved


def test_a_lab_error_fails_unless_a_free_text_box_reports_bad_input(fresh):
    def strict(value):
        if value < 3:
            raise LabError("rows must be at least 3")
        return _table(value)

    w.live(widgets.IntText(value=4, description="rows"), strict, name="text")
    table = w.move_every_control()  # a free text box: the kit's check is its input-error path
    assert table.outcome.iloc[0] == "input error: rows must be at least 3"
    w.live(widgets.IntSlider(value=3, min=1, max=5, description="knob"), strict, name="slider")
    with pytest.raises(LabError, match="slider / knob: failed: rows must be at least 3"):
        w.move_every_control()


def test_untouched_controls_stay_alone(fresh):
    outside = widgets.IntSlider(value=2, min=1, max=3)  # never drawn by live: not a view's control
    label = widgets.Label("just text")
    one = widgets.Dropdown(options=["only"], description="one")
    off = widgets.IntSlider(value=2, min=1, max=3, description="off", disabled=True)
    box = widgets.HBox([label, one, off])
    box.add_traits(value=traitlets.Any(1))
    w.live(box, _table, name="box")
    table = w.move_every_control()
    assert outside.value == 2 and label.value == "just text" and off.value == 2
    assert table[["control", "outcome"]].values.tolist() == [
        ["one", "not moved: no other valid value"]
    ]


def test_a_control_without_a_rule_fails(fresh):
    w.live(widgets.Text("abc", description="name"), _table, name="text")
    with pytest.raises(LabError, match="no rule to move a Text"):
        w.move_every_control()


def test_no_view_is_an_error_not_an_empty_check(fresh):
    with pytest.raises(LabError, match="no live view"):
        w.move_every_control()


def test_a_cell_run_twice_registers_its_view_once(fresh):
    for _ in range(2):
        w.live(widgets.IntSlider(value=2, min=1, max=3, description="knob"), _table)
    assert len(w.views()) == 1 and w.views()[0].name == "_table"


def test_sizing_panel_registers_one_view_of_five_controls(fresh):
    from helpers.viz import scale as scale_viz
    from tests.viz.test_scale_plots import _study

    panel = scale_viz.sizing_panel(_study(), "3.5.9")
    (view,) = w.views()
    assert view.name == "sizing_panel" and view.controls == list(panel.children[:5])
    table = w.move_every_control()
    assert table.control.tolist() == [
        "rows",
        "executors",
        "cores/executor",
        "executor heap",
        "batch size",
    ]
    assert table["to"].tolist() == [3_000_000_000, 49, 3, "16g", scale_viz.BATCH_CANDIDATES[0]]
    assert (table.outcome == "ok").all()
    assert panel.children[4].label == f"{scale_viz.BATCH_CANDIDATES[0]:,}"

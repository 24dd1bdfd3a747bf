import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd

from helpers.core.config import LabError
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

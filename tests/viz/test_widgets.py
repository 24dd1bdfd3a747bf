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

"""The one widget pattern of the series: a control -> re-measure -> re-draw.

`live(control, render)` draws `render(control.value)` at once (the non-interactive default a
headless run such as nbval shows), then again whenever the control changes; each drawing replaces
the previous one. `render` returns what to show: a DataFrame, a Figure, Markdown, or a list of them.
A LabError while re-measuring shows as one line in the output instead of a traceback.

Long cells show a progress bar (`ProgressBar`, a sink of `helpers.core.progress`): which point is
running and how many remain. Importing this module inside a notebook kernel makes it the default
for every long function called with `progress=None` (`use_progress_bars`).
"""

from __future__ import annotations

from typing import Any, Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython import get_ipython
from IPython.display import display
from matplotlib.figure import Figure

from helpers.core.config import LabError
from helpers.core.progress import ProgressEvent, set_default_sink


def _show(item: Any) -> None:
    for x in item if isinstance(item, (list, tuple)) else [item]:
        if x is None:
            continue
        display(x)
        if isinstance(x, Figure):
            plt.close(x)


def redraw(out: widgets.Output, render: Callable[[Any], Any], value: Any) -> None:
    """Clear `out` and draw `render(value)` into it."""
    with out:
        out.clear_output(wait=True)
        try:
            _show(render(value))
        except LabError as exc:
            print(f"error: {exc}")


def live(control: widgets.ValueWidget, render: Callable[[Any], Any]) -> widgets.VBox:
    """A box with `control` above its output; the output holds `render(control.value)` now and is
    re-rendered on every change of the control's value."""
    out = widgets.Output()
    redraw(out, render, control.value)
    control.observe(lambda change: redraw(out, render, change["new"]), names="value")
    return widgets.VBox([control, out])


class ProgressBar:
    """A progress sink for notebooks: a bar and a caption ('sweep: 3/5 map_in_arrow: batch 1,000
    (2 remain, 4 s)'), displayed in the running cell's output at the first event and left showing
    the final count. The bar counts finished points."""

    def __init__(self):
        self.bar = widgets.IntProgress(value=0, min=0, max=1)
        self.caption = widgets.Label()
        self.box = widgets.HBox([self.bar, self.caption])
        self._shown = False

    def __call__(self, event: ProgressEvent) -> None:
        if not self._shown:
            display(self.box)
            self._shown = True
        done = event.running if event.finished else max(0, event.running - 1)
        total = done if event.finished else (event.total or event.running)
        self.bar.max = max(1, total)
        self.bar.value = min(done, self.bar.max)
        if event.finished:
            self.bar.bar_style = "success"
        self.caption.value = event.line()


def in_kernel() -> bool:
    """True inside a Jupyter kernel (a notebook), False in a plain Python process or pytest."""
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def use_progress_bars() -> None:
    """Long functions called with `progress=None` draw a `ProgressBar` in the cell running them."""
    set_default_sink(ProgressBar)


if in_kernel():
    use_progress_bars()

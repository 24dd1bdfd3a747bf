"""The one widget pattern of the series: a control -> re-measure -> re-draw.

`live(control, render)` draws `render(control.value)` at once (the non-interactive default a
headless run such as nbval shows), then again whenever the control changes; each drawing replaces
the previous one. `render` returns what to show: a DataFrame, a Figure, Markdown, or a list of them.
A LabError while re-measuring shows as one line in the output instead of a traceback.
"""

from __future__ import annotations

from typing import Any, Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display
from matplotlib.figure import Figure

from helpers.core.config import LabError


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

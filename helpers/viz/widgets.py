"""The one widget pattern of the series: a control -> re-measure -> re-draw.

`live(control, render)` draws `render(control.value)` at once (the non-interactive default a
headless run such as nbval shows), then again whenever the control changes; each drawing replaces
the previous one. `render` returns what to show: a DataFrame, a Figure, Markdown, or a list of them.
A LabError while re-measuring shows as one line in the output instead of a traceback.

Every view drawn in this kernel is registered (`register_view`, called by `live` and by
`helpers.viz.scale.sizing_panel`), and `redraw` records every error it meets, so
`move_every_control()` can move each control once after Run All, the way a learner does, and
report which ones broke.

Long cells show a progress bar (`ProgressBar`, a sink of `helpers.core.progress`): which point is
running and how many remain. Importing this module inside a notebook kernel makes it the default
for every long function called with `progress=None` (`use_progress_bars`).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd
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


@dataclass
class View:
    """A live view drawn in this kernel: its name and its controls (as passed: a composite control
    such as `helpers.viz.pickling.ExplorerChoice` stays one entry)."""

    name: str
    controls: list[widgets.Widget]


@dataclass
class RedrawError:
    """An error met while drawing a view: its type name and message (not the exception: its
    traceback would keep the render's data alive); `lab` is True for a LabError (shown as one
    line), False for any other (shown as a traceback, raised outside a kernel)."""

    kind: str
    message: str
    lab: bool

    @classmethod
    def of(cls, exc: Exception) -> RedrawError:
        return cls(type(exc).__name__, str(exc), isinstance(exc, LabError))

    def line(self) -> str:
        return self.message if self.lab else f"{self.kind}: {self.message}"


_VIEWS: dict[tuple, View] = {}
_ERRORS: list[RedrawError] = []


def register_view(controls: list[widgets.Widget], name: str | None = None) -> View:
    """Remember a live view of this kernel for `move_every_control`. A view registered again
    under the same name and control descriptions (a cell run twice) replaces the earlier one."""
    leaves = [leaf for c in controls for leaf in leaf_controls(c)]
    name = name or " / ".join(_describe(c) for c in leaves) or "view"
    key = (name, *(_describe(c) for c in leaves))
    _VIEWS.pop(key, None)
    _VIEWS[key] = view = View(name, list(controls))
    return view


def views() -> list[View]:
    """The live views registered in this kernel, oldest first."""
    return list(_VIEWS.values())


def forget_views() -> None:
    """Empty the registry and the error record (tests; a fresh start in a long kernel)."""
    _VIEWS.clear()
    _ERRORS.clear()


def redraw(out: widgets.Output, render: Callable[[Any], Any], value: Any) -> None:
    """Clear `out` and draw `render(value)` into it. Every error is recorded for
    `move_every_control` first; a LabError is then shown as one line, any other is re-raised
    (inside a kernel the Output shows its traceback)."""
    with out:
        out.clear_output(wait=True)
        try:
            _show(render(value))
        except LabError as exc:
            _ERRORS.append(RedrawError.of(exc))
            print(f"error: {exc}")
        except Exception as exc:
            _ERRORS.append(RedrawError.of(exc))
            raise


def live(
    control: widgets.ValueWidget, render: Callable[[Any], Any], name: str | None = None
) -> widgets.VBox:
    """A box with `control` above its output; the output holds `render(control.value)` now and is
    re-rendered on every change of the control's value. The view is registered under `name`
    (default: the render function's name) for `move_every_control`."""
    out = widgets.Output()
    redraw(out, render, control.value)
    control.observe(lambda change: redraw(out, render, change["new"]), names="value")
    register_view([control], name or _render_name(render))
    return widgets.VBox([control, out])


# ---- moving every control once -----------------------------------------------------------------

_DISPLAY_ONLY = (widgets.Label, widgets.HTML, widgets.HTMLMath, widgets.Valid)


def leaf_controls(control: widgets.Widget) -> list[widgets.Widget]:
    """The value widgets a learner moves: the control itself, or the enabled value-widget children
    of a composite control (a box of controls, e.g. `ExplorerChoice`); labels, progress bars and
    outputs are left out."""
    children = getattr(control, "children", None)
    if children:
        return [leaf for child in children for leaf in leaf_controls(child)]
    if not isinstance(control, widgets.ValueWidget) or isinstance(control, _DISPLAY_ONLY):
        return []
    if isinstance(control, (widgets.IntProgress, widgets.FloatProgress)):
        return []
    return [] if getattr(control, "disabled", False) else [control]


def is_free_text(control: widgets.Widget) -> bool:
    """An Int/Float text box without bounds: what it accepts is checked by the kit (a LabError)."""
    return isinstance(control, (widgets.IntText, widgets.FloatText))


def next_value(control: widgets.Widget) -> Any:
    """A different valid value for `control`, kept cheap: the next option of a selection (the
    previous one at the end), one step down a slider (up at its minimum), half the number in a
    text box (within its bounds), the other state of a checkbox. None when it has no other value;
    LabError for a kind of control this function has no rule for."""
    v = control.value
    if hasattr(control, "options") and hasattr(control, "index") and not isinstance(v, tuple):
        values = _option_values(control)
        at = control.index if control.index is not None else _position(values, v)
        i = at + 1 if at + 1 < len(values) else at - 1
        return values[i] if 0 <= i < len(values) and i != at else None
    if isinstance(v, bool):
        return not v
    integer = isinstance(v, int)
    if isinstance(control, widgets.FloatLogSlider):
        lo, hi, e = control.min, control.max, math.log(v, control.base)
        e = e - control.step if e - control.step >= lo else e + control.step
        return control.base**e if lo <= e <= hi else None
    if hasattr(control, "min") and hasattr(control, "max") and "Slider" in type(control).__name__:
        lo, hi, step = control.min, control.max, control.step or 1
        new = v - step if v - step >= lo else v + step
        return new if lo <= new <= hi else None
    if isinstance(v, (int, float)):
        lo, hi = getattr(control, "min", -math.inf), getattr(control, "max", math.inf)
        for new in (v // 2 if integer else v / 2, lo, v + 1):
            if new != v and lo <= new <= hi:
                return new
        return None
    raise LabError(f"no rule to move a {type(control).__name__} ({_describe(control)!r}).")


def move_every_control() -> pd.DataFrame:
    """Move every control of every live view of this kernel once, the way a learner does after
    Run All: each leaf control (see `leaf_controls`) goes to `next_value` (a cheap, valid value),
    which runs its real observers (re-measure and redraw). Returns one row per control: view,
    control (its description), from, to, seconds (wall time of the move: re-measure plus redraw)
    and outcome: 'ok', 'not moved: …' (no other value), 'input error: …' or 'failed: …'.

    A move fails when it raised, when `redraw` recorded an exception, or when it showed a LabError
    line: every new value is one the control itself offers (an option, a value within its bounds),
    so a LabError there means the view broke (e.g. the session it needs is gone). The one exception
    is a free text box (`is_free_text`): the kit checks what is typed into it and a LabError line is
    its documented input-error path, reported as 'input error'. A control with no rule fails too.
    Raises LabError naming the failed controls, or when no view is registered (then this check
    would check nothing); else returns the table."""
    if not _VIEWS:
        raise LabError("no live view in this kernel: run the cells that draw the controls first.")
    rows = []
    for view in views():
        for leaf in [leaf for c in view.controls for leaf in leaf_controls(c)]:
            rows.append({"view": view.name, **_move(leaf)})
    table = pd.DataFrame(rows, columns=["view", "control", "from", "to", "seconds", "outcome"])
    failed = table[table.outcome.str.startswith("failed")]
    if len(failed):
        names = "; ".join(f"{r.view} / {r.control}: {r.outcome}" for r in failed.itertuples())
        raise LabError(f"{len(failed)} of {len(table)} controls broke when moved: {names}")
    return table


def _move(control: widgets.Widget) -> dict:
    row = {"control": _describe(control), "from": control.value, "to": None, "seconds": 0.0}
    try:
        new = next_value(control)
    except LabError as exc:
        return {**row, "outcome": f"failed: {exc}"}
    if new is None:
        return {**row, "outcome": "not moved: no other valid value"}
    seen, raised = len(_ERRORS), None
    t0 = time.perf_counter()
    try:
        control.value = new
    except Exception as exc:  # outside a kernel an observer's exception reaches the setter
        raised = exc
    row.update(to=new, seconds=round(time.perf_counter() - t0, 3))
    errors = _ERRORS[seen:]
    if raised is not None:  # recorded by redraw, unless it came from elsewhere (a composite's sync)
        error = RedrawError.of(raised)
        if not any((e.kind, e.message) == (error.kind, error.message) for e in errors):
            errors.append(error)
    if not errors:
        return {**row, "outcome": "ok"}
    if all(e.lab for e in errors) and is_free_text(control):
        return {**row, "outcome": f"input error: {errors[0].line()}"}
    return {**row, "outcome": f"failed: {errors[0].line()}"}


def _option_values(control: widgets.Widget) -> list:
    """The values of a selection's options, whether given as values or (label, value) pairs."""
    labels_values = getattr(control, "_options_full", None)  # ipywidgets' own normalised pairs
    if labels_values is not None:
        return [value for _, value in labels_values]
    return [o[1] if isinstance(o, tuple) and len(o) == 2 else o for o in control.options]


def _position(values: list, value: Any) -> int:
    return next((i for i, x in enumerate(values) if x is value or x == value), -1)


def _describe(control: widgets.Widget) -> str:
    return getattr(control, "description", "") or type(control).__name__


def _render_name(render: Callable) -> str | None:
    while isinstance(render, functools.partial):
        render = render.func
    name = getattr(render, "__name__", None)
    return None if name in (None, "<lambda>", "render") else name


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

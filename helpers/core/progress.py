"""Progress of long lab functions: which point is running and how many remain.

A long function (a batch sweep, the bench, the tuner, a profile) takes `progress=None` and runs

    p = as_progress(progress)
    with p.task("sweep", total=len(sizes)):
        for b in sizes:
            p.step(f"map_in_arrow: batch {b:,}")
            ...

Each `step` and the end of the task send a `ProgressEvent` to a *sink*, any callable taking one
event. `progress=None` means the default sink: silent unless one was registered with
`set_default_sink` (the CLI registers a stderr line, `helpers.cli.common`; a notebook kernel gets a
bar, `helpers.viz.widgets`). A task started while another runs on the same `Progress` joins it:
the outer function sets the total, the inner one's steps count towards it (a sweep of three
scenarios is one bar). Progress never changes what a function returns.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator


@dataclass(frozen=True)
class ProgressEvent:
    """One report. `running` is the 1-based number of the point now running (0 before the first,
    `done` points when finished); `total` the number of points, an upper bound when `at_most`,
    None when unknown; `label` says which point runs; `elapsed_s` seconds since the task began."""

    title: str
    running: int
    total: int | None
    label: str
    elapsed_s: float
    finished: bool = False
    at_most: bool = False

    @property
    def remaining(self) -> int | None:
        """Points after the one running (after the last finished one when `finished`)."""
        if self.total is None:
            return None
        return max(0, self.total - self.running)

    def line(self) -> str:
        """One line for a terminal or a bar's caption, e.g.
        'sweep: 3/5 map_in_arrow: batch 1,000 (2 remain, 4 s)'; an upper bound reads '3/<=9'."""
        if self.finished:
            return f"{self.title}: done, {self.running} points in {self.elapsed_s:.0f} s"
        bound = "<=" if self.at_most else ""
        count = f"{self.running}" if self.total is None else f"{self.running}/{bound}{self.total}"
        left = "" if self.remaining is None else f"{bound}{self.remaining} remain, "
        return f"{self.title}: {count} {self.label} ({left}{self.elapsed_s:.0f} s)"


Sink = Callable[[ProgressEvent], None]

_default_factory: Callable[[], Sink | None] | None = None


def set_default_sink(factory: Callable[[], Sink | None] | None) -> None:
    """Register what `progress=None` uses: `factory()` is called at the start of every top-level
    task and returns a sink (or None: silent). `None` unregisters."""
    global _default_factory
    _default_factory = factory


class Progress:
    """Counts the points of one task at a time and reports each to its sink (see the module)."""

    def __init__(self, sink: Sink | None = None, default: bool = False):
        self._sink = sink
        self._default = default
        self._active: Sink | None = None
        self._running = False
        self._title, self._total, self._at_most = "", None, False
        self._n, self._t0 = 0, 0.0

    def _emit(self, label: str, finished: bool = False) -> None:
        if self._active is not None:
            event = ProgressEvent(
                self._title,
                self._n,
                self._total,
                label,
                time.perf_counter() - self._t0,
                finished,
                self._at_most,
            )
            self._active(event)

    @contextmanager
    def task(self, title: str, total: int | None = None, at_most: bool = False) -> Iterator[None]:
        """A task of `total` points (at most `total` with `at_most`; None: unknown). Inside a task
        already running on this Progress it only groups steps: the outer task's total counts."""
        if self._running:
            yield
            return
        sink = self._sink
        if sink is None and self._default and _default_factory is not None:
            sink = _default_factory()
        self._active, self._running = sink, True
        self._title, self._total, self._at_most = title, total, at_most
        self._n, self._t0 = 0, time.perf_counter()
        try:
            yield
        finally:
            self._emit("", finished=True)
            self._active, self._running = None, False

    def step(self, label: str) -> None:
        """The next point starts now; `label` names it (e.g. 'batch 1,000')."""
        if self._running:
            self._n += 1
            self._emit(label)


def as_progress(progress: Progress | Sink | None) -> Progress:
    """What a long function does with its `progress` argument: None -> the default sink (see
    `set_default_sink`), a callable -> that sink, a Progress -> itself (so nested calls share one
    count)."""
    if isinstance(progress, Progress):
        return progress
    if progress is None:
        return Progress(default=True)
    return Progress(progress)


def quiet(_event: ProgressEvent) -> None:
    """A sink that shows nothing (pass `progress=quiet` to silence a registered default)."""

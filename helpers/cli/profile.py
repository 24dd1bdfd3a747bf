"""`python -m helpers profile`: Python-worker and JVM flame graphs of one scenario, written to a
folder."""

from __future__ import annotations

import os
from pathlib import Path

from helpers.core.config import scale_rows
from helpers.core.progress import as_progress
from helpers.core.session import start_session, stop_session
from helpers.core.validate import require_positive
from helpers.paths.scenarios import get_scenario
from helpers.profile.jvm import jfr_java_options
from helpers.profile.pyspy import py_spy_profile
from helpers.profile.workers import (
    pause_workers,
    profile_scenario,
    write_breakdown,
)
from helpers.viz.flamegraph import plot_profile
from helpers.viz.flamegraph_html import write_flame_html


def run_profile_cli(
    scenario: str,
    rows: int | None,
    out_dir,
    batch_size: int | None = 10_000,
    interval_ms: float = 5.0,
    py_spy: bool = False,
) -> dict:
    """`python -m helpers profile`: a fresh profiled session (worker sampler + JFR), one run of
    `scenario`, then python.collapsed, jvm.collapsed (and their interactive .html), breakdown.json
    and profile.png in `out_dir`. With `py_spy`, one more run under py-spy --native (sampler
    paused): pyspy.raw, pyspy.collapsed, pyspy.html, and 'pyspy_native_share' in the breakdown.
    Returns the breakdown dict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    get_scenario(scenario)
    rows = rows or scale_rows("row" if get_scenario(scenario).row_at_a_time else "arrow")
    require_positive("rows", rows)
    out = Path(out_dir)
    spark = start_session(
        "profile",
        java_options=jfr_java_options(),
        profile="cpu",
        profile_dir=out / "workers",
        profile_interval_ms=interval_ms,
    )
    spy = None
    with_spy = py_spy and get_scenario(scenario).python_worker
    p = as_progress(None)  # the CLI's default sink: stderr on a terminal
    try:
        with p.task("profile", 3 + int(with_spy)):
            result = profile_scenario(
                spark, scenario, rows, out, out / "workers", batch_size=batch_size, progress=p
            )
            if with_spy:
                p.step(f"{scenario}: py-spy --native run")
                pause_workers(out / "workers")
                spy = py_spy_profile(spark, scenario, rows, out, batch_size=batch_size)
    finally:
        stop_session()
    for name, stacks, side in (
        ("python", result.python, "python"),
        ("jvm", result.jvm, "jvm"),
        ("pyspy", spy.stacks if spy else {}, "python"),
    ):
        if stacks:
            write_flame_html(stacks, out / f"{name}.html", title=f"{scenario}: {name}", side=side)
    payload = write_breakdown(result, out / "breakdown.json", pyspy=spy)
    fig = plot_profile(result)
    tmp = out / ".profile.tmp.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, out / "profile.png")
    return payload

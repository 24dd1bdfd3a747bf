"""Flame graphs as matplotlib icicles (root at the top, leaves at the bottom), coloured by the
`helpers.profile.classify` category of each frame's stack, the time-breakdown bars, and notebook
05's other charts (py-spy's flame graph, the per-task cost of `helpers.lab.taskcost`).
"""

from __future__ import annotations

from helpers.lab.taskcost import per_task_seconds
from helpers.profile.classify import (
    CATEGORIES,
    CATEGORY_COLORS,
    JVM_SCAFFOLDING,
    categorize,
    category_tree,
    flame_boxes,
)
from helpers.profile.stacks import Stacks, short_label
from helpers.profile.worker_profilers import profile_scenario
from helpers.viz.style import series_styles

PASS_THROUGH = {"facecolor": "white", "edgecolor": "#a0a0a0"}  # frames that only call others
ROW_HEIGHT = 0.92


def plot_flame(
    stacks: Stacks,
    title: str = "",
    side: str = "python",
    ax=None,
    min_share: float = 0.003,
    max_depth: int = 40,
    hide: str | None = None,
    fold: bool = False,
    xmax_s: float | None = None,
):
    """Draw an icicle flame graph (root "all" at the top, callees below; width = share of sampled
    time; siblings sorted widest first; the x-axis is not time order). Frames are white outlines;
    colour fills only the part of a frame where samples end (its self time, plus callees too
    narrow or deep to draw), in the category of those samples (`classify.classify_sample`). So
    the coloured area per category is the breakdown's share (`classify.categorize`), and a wide
    frame that only passes calls through stays white. `hide`: a regex of frames left out of the
    drawing (classified before); `fold` (JVM side) draws each socket or waiting chain as one
    labelled frame (`classify.fold_io`). `xmax_s`: an absolute x-axis in sampled seconds from 0 to
    `xmax_s` (the same for graphs to compare) instead of shares. Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if ax is None:
        fig, ax = plt.subplots(figsize=(12, 5))
    else:
        fig = ax.figure
    root = category_tree(stacks, side, hide, fold)
    total = root.weight
    if total == 0:
        ax.text(0.5, 0.5, "no samples: no Python worker ran", ha="center", va="center", fontsize=12)
        ax.set_axis_off()
        ax.set_title(title)
        return fig
    boxes = flame_boxes(root, min_share, max_depth)
    scale = total if xmax_s is None else max(xmax_s * 1e6, total)  # x = weight / scale
    used = set()
    for b in boxes:
        x, width, y = b.offset / scale, b.weight / scale, -b.depth - 1
        ax.add_patch(plt.Rectangle((x, y), width, ROW_HEIGHT, linewidth=0.4, **PASS_THROUGH))
        for cat, offset, weight in b.segments:
            used.add(cat)
            ax.add_patch(
                plt.Rectangle(
                    (offset / scale, y),
                    weight / scale,
                    ROW_HEIGHT,
                    facecolor=CATEGORY_COLORS[cat],
                    edgecolor="none",
                    gid=cat,
                )
            )
        if width > 0.05:
            text = short_label(b.name) if b.depth else f"all: {total / 1e6:.2f} s"
            chars = int(width * 125)
            text = text if len(text) <= chars else text[: max(chars - 1, 1)] + "…"
            ax.text(
                x + 0.003,
                y + 0.46,
                text.replace("$", r"\$"),  # '$' would start mathtext
                fontsize=9,
                va="center",
                clip_on=True,
            )
    deepest = max(b.depth for b in boxes)
    ax.set_xlim(0, 1)
    ax.set_ylim(-deepest - 1.2, 0.2)
    ax.set_yticks([])
    if xmax_s is None:
        ax.set_xlabel(
            f"share of {total / 1e6:.2f} s sampled thread time (root at top, callees below; "
            "colour = where samples end)"
        )
    else:
        ticks = [t for t in _nice_ticks(scale / 1e6)]
        ax.set_xticks([t * 1e6 / scale for t in ticks], [f"{t:g}" for t in ticks])
        ax.set_xlabel("sampled thread time (s), the same axis for every graph of this figure")
    ax.set_title(title, fontsize=11)
    ax.legend(
        handles=[Patch(label="calls only (no self time)", linewidth=0.4, **PASS_THROUGH)]
        + [Patch(color=CATEGORY_COLORS[c], label=c) for c in CATEGORIES if c in used],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=9,
    )
    for spine in ("left", "right", "top"):
        ax.spines[spine].set_visible(False)
    return fig


def _nice_ticks(top: float, n: int = 6) -> list[float]:
    """About `n` round tick values from 0 to `top` (seconds)."""
    import numpy as np

    step = 10 ** np.floor(np.log10(max(top, 1e-9) / n))
    step *= next(m for m in (1, 2, 5, 10) if top / (step * m) <= n)
    return [round(float(t), 6) for t in np.arange(0, top + step / 2, step) if t <= top]


def drawn_depth(
    stacks: Stacks, side: str, hide=None, fold=False, max_depth=40, min_share=0.003
) -> int:
    """Rows `plot_flame` draws for these stacks (after hiding and folding), at most `max_depth`."""
    boxes = flame_boxes(category_tree(stacks, side, hide, fold), min_share, max_depth)
    return max((b.depth for b in boxes), default=1)


def coloured_area(ax) -> dict[str, float]:
    """Area per category of the coloured rectangles `plot_flame` drew on `ax`, in axis units
    (share of the total x one row): what a reader's eye adds up."""
    out: dict[str, float] = {}
    for p in ax.patches:
        if p.get_gid() in CATEGORY_COLORS:
            out[p.get_gid()] = out.get(p.get_gid(), 0.0) + p.get_width() * p.get_height()
    return out


def plot_breakdown(results, ax=None):
    """'Where the time goes': per scenario, two stacked bars (Python workers, JVM task threads) of
    sampled thread-seconds per task slot by category, with the run's measured wall time as a black
    tick. A bar as high as the tick means that side's samples account for the whole wall time.
    Returns the Figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    results = list(results)
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(results)), 4.5))
    else:
        fig = ax.figure
    x = np.arange(len(results))
    width = 0.38
    for offset, side in ((-width / 2 - 0.01, "python"), (width / 2 + 0.01, "jvm")):
        bottoms = np.zeros(len(results))
        for cat in CATEGORIES:
            vals = np.array(
                [
                    categorize(r.python if side == "python" else r.jvm, side)[cat] / max(r.slots, 1)
                    for r in results
                ]
            )
            ax.bar(
                x + offset,
                vals,
                width,
                bottom=bottoms,
                color=CATEGORY_COLORS[cat],
                label=cat if side == "python" else None,
                edgecolor="white",
                linewidth=0.3,
            )
            bottoms += vals
        for xi, b in zip(x + offset, bottoms):
            ax.text(
                xi, b, "Py" if side == "python" else "JVM", ha="center", va="bottom", fontsize=8
            )
    for xi, r in zip(x, results):
        ax.plot(
            [xi - width - 0.05, xi + width + 0.05], [r.wall_s, r.wall_s], color="black", linewidth=2
        )
        ax.text(xi + width + 0.06, r.wall_s, f"wall {r.wall_s:.2f} s", va="center", fontsize=8)
    ax.set_xticks(x, [r.scenario for r in results])
    ax.set_ylabel("sampled seconds per task slot")
    ax.set_title("Where the time goes (left bar: Python workers, right: JVM task threads)")
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def plot_profile(result):
    """The CLI's figure for one ProfileResult: Python-worker flame graph, JVM flame graph and the
    time breakdown, one below the other. Returns the Figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(13, 14), gridspec_kw={"height_ratios": [3, 3, 2]})
    plot_flame(
        result.python,
        f"{result.scenario}: Python workers ({result.tasks} tasks)",
        "python",
        axes[0],
    )
    plot_flame(result.jvm, f"{result.scenario}: JVM task threads (JFR)", "jvm", axes[1])
    plot_breakdown([result], axes[2])
    fig.tight_layout()
    return fig


def plot_flames(results, side: str = "python", shared_axis: bool = False):
    """One flame graph per ProfileResult (Python workers or JVM task threads), stacked vertically,
    each as tall as the rows it draws. JVM graphs hide the executor's scaffolding frames
    (classify.JVM_SCAFFOLDING) and fold each socket or waiting chain into one labelled frame.
    `shared_axis`: every graph on one x-axis in sampled seconds, so a graph that sampled less
    time is narrower. Returns the Figure."""
    import matplotlib.pyplot as plt

    results = list(results)
    jvm = side != "python"
    # frames under 1% (JVM) or 0.5% (Python) of a graph are too narrow to read: not drawn
    hide, depth, cut = (JVM_SCAFFOLDING, 24, 0.01) if jvm else (None, 40, 0.005)
    panels = [r.jvm if jvm else r.python for r in results]
    rows = [drawn_depth(s, side, hide, jvm, depth, cut) if s else 2 for s in panels]
    xmax = max(sum(s.values()) for s in panels) / 1e6 if shared_axis and any(panels) else None
    fig, axes = plt.subplots(
        len(results),
        1,
        figsize=(14, sum(0.3 * n + 1.3 for n in rows)),
        squeeze=False,
        gridspec_kw={"height_ratios": [0.3 * n + 1.3 for n in rows]},
    )
    for ax, r, stacks in zip(axes[:, 0], results, panels):
        who = (
            f"Python workers, {r.tasks} tasks"
            if not jvm
            else "JVM task threads (JFR; executor plumbing hidden, socket waits folded)"
        )
        batch = f"batch {r.batch_size:,}" if r.batch_size else "no Arrow batches"
        sampled = sum(stacks.values()) / 1e6
        plot_flame(
            stacks,
            f"{r.scenario} ({batch}): {who}, {sampled:.2f} s sampled, wall {r.wall_s:.2f} s",
            side,
            ax,
            min_share=cut,
            max_depth=depth,
            hide=hide,
            fold=jvm,
            xmax_s=xmax,
        )
    fig.tight_layout()
    return fig


def batch_flame_view(
    batch_size: int, spark, scenario: str, rows: int, out_dir, worker_dir, build=None
):
    """Profile `scenario` (or the learner's job `build`, a function DataFrame -> DataFrame) over
    `rows` rows at `batch_size` rows per Arrow batch (Python workers only,
    `profile_scenario(..., jvm=False)`) and draw its flame graph: the render function of notebook
    05's batch-size control. Returns the Figure."""
    result = profile_scenario(
        spark,
        scenario,
        rows,
        out_dir,
        worker_dir,
        batch_size=batch_size,
        jvm=False,
        warm=False,
        build=build,
    )
    return plot_flames([result], side="python")


def plot_pyspy(spy):
    """py-spy's flame graph of one `pyspy.PySpyProfile` (native frames included), titled with its
    sample count, rate (Hz) and number of processes. Returns the Figure."""
    return plot_flame(
        spy.stacks,
        title=f"{spy.scenario}, py-spy{' --native' if spy.native else ''}: {spy.samples} samples "
        f"at {spy.rate} Hz from {len(spy.pids)} processes",
        side="python",
    )


def plot_task_overhead(tasks, title: str = "", ax=None):
    """Wall time (s) over the number of partitions (= Python tasks), one line per daemon of a
    `taskcost.task_overhead` table, labelled with its per-task slope in ms. Returns the Figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.2))
    else:
        fig = ax.figure
    slopes = per_task_seconds(tasks).set_index("daemon")
    styles = series_styles(tasks["daemon"])  # daemons, not paths: greys, each its line and marker
    for daemon, g in tasks.groupby("daemon", sort=False):
        ms = slopes.loc[daemon, "per_task_wall_ms"]
        st = styles[daemon]
        ax.plot(
            g.partitions, g.wall_s, marker=st["marker"], ls=st["ls"], color=st["color"], lw=2,
            label=f"{daemon} daemon: {ms:.0f} ms/task",
        )  # fmt: skip
    ax.set(xlabel="partitions (= Python tasks)", ylabel="wall time (s)", title=title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def plot_executor_flames(run, side: str = "python", height: float = 3.0):
    """One flame graph per executor of a `profile.executor_evidence.ClusterRun`, then the merged one
    (Python workers, or JVM task threads from each executor's JFR dump with the executor's
    scaffolding hidden). Returns the Figure."""
    import matplotlib.pyplot as plt

    per = run.per_executor(side)
    panels = [(f"executor {eid}", s) for eid, s in per.items()]
    panels.append((f"merged ({len(per)} executors)", run.python if side == "python" else run.jvm))
    fig, axes = plt.subplots(len(panels), 1, figsize=(13, height * len(panels)), squeeze=False)
    who = "Python workers" if side == "python" else "JVM task threads (JFR)"
    for ax, (name, stacks) in zip(axes[:, 0], panels):
        plot_flame(
            stacks,
            f"{name}: {who}, {sum(stacks.values()) / 1e6:.2f} s sampled",
            side,
            ax,
            max_depth=40 if side == "python" else 24,
            hide=None if side == "python" else JVM_SCAFFOLDING,
        )
    fig.tight_layout()
    return fig

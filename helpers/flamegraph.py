"""Collapsed stacks: parse, merge, summarise, and draw one flame graph (matplotlib icicle).

The collapsed format (Brendan Gregg's `stackcollapse` output, also py-spy's `--format raw`): one
line per distinct stack, frames root-first joined by ';', then a space and a weight. The kit's
weights are microseconds of sampled thread time for both the Python workers and the JVM, so a
stack's share of the total is a share of sampled time. Lines starting with '#' are comments.

The interactive view (hover, click to zoom, search) is `helpers.flamegraph_html`: one offline HTML
file of inline SVG, no library or network needed.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .config import LabError, atomic_write_bytes

Stacks = dict  # "root;...;leaf" -> weight (int, microseconds)


def parse_collapsed(text: str, source: str = "collapsed stacks") -> Stacks:
    """Parse collapsed-stack text into {stack: weight}; repeated stacks are summed."""
    stacks: dict = defaultdict(int)
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        stack, _, weight = line.rpartition(" ")
        try:
            value = int(float(weight))
        except ValueError:
            value = -1
        if not stack or value < 0:
            raise LabError(f"{source}, line {n}: expected 'frame;frame;... <count>', got {line[:80]!r}.")
        stacks[stack] += value
    return dict(stacks)


def read_collapsed(path) -> Stacks:
    """Read a collapsed-stack file."""
    path = Path(path)
    if not path.exists():
        raise LabError(f"No collapsed-stack file at {path}: run the profiler first.")
    return parse_collapsed(path.read_text(), str(path))


def format_collapsed(stacks: Stacks) -> str:
    """Collapsed text, heaviest stacks first."""
    return "".join(f"{s} {int(w)}\n" for s, w in sorted(stacks.items(), key=lambda kv: (-kv[1], kv[0])))


def write_collapsed(stacks: Stacks, path) -> Path:
    """Write stacks to `path` atomically (an empty file when there are none)."""
    return atomic_write_bytes(Path(path), format_collapsed(stacks).encode())


def merge(*many: Stacks) -> Stacks:
    """Sum several stack dicts."""
    out: dict = defaultdict(int)
    for stacks in many:
        for s, w in stacks.items():
            out[s] += w
    return dict(out)


def total_s(stacks: Stacks) -> float:
    """Total weight in seconds."""
    return sum(stacks.values()) / 1e6


def frames(stack: str) -> list[str]:
    """The frames of one stack, root first."""
    return stack.split(";")


def hide_frames(stacks: Stacks, pattern: str) -> Stacks:
    """Drop every frame matching the regex `pattern` from every stack (weights kept, stacks that
    become equal are summed); e.g. the JVM's executor scaffolding (profile_jvm.JVM_SCAFFOLDING)."""
    import re

    rx = re.compile(pattern)
    out: dict = defaultdict(int)
    for s, w in stacks.items():
        kept = [f for f in frames(s) if not rx.search(f)] or frames(s)[-1:]
        out[";".join(kept)] += w
    return dict(out)


def frame_table(stacks: Stacks, top: int = 15) -> pd.DataFrame:
    """Per frame: self_s (it is the leaf), total_s (it is anywhere on the stack) and their shares of
    all sampled time; the `top` frames by self time."""
    self_w: dict = defaultdict(int)
    total_w: dict = defaultdict(int)
    for s, w in stacks.items():
        fs = frames(s)
        self_w[fs[-1]] += w
        for f in set(fs):
            total_w[f] += w
    grand = sum(stacks.values()) or 1
    df = pd.DataFrame({"frame": list(total_w), "self_s": [self_w[f] / 1e6 for f in total_w],
                       "total_s": [total_w[f] / 1e6 for f in total_w]})
    df["self_share"] = df["self_s"] * 1e6 / grand
    df["total_share"] = df["total_s"] * 1e6 / grand
    return df.sort_values(["self_s", "total_s"], ascending=False).head(top).reset_index(drop=True)


def dominant_frame(stacks: Stacks, on_cpu_only: bool = True) -> str:
    """The frame with the most self time (the widest bottom edge of the icicle graph).
    With on_cpu_only, `[off-cpu]` samples are left out (time waiting for the socket or for a core
    says little about the code, and on a busy machine it mostly measures the other processes)."""
    self_w: dict = defaultdict(int)
    for s, w in stacks.items():
        fs = frames(s)
        if fs[-1] == "[off-cpu]":
            if on_cpu_only or len(fs) == 1:
                continue
            fs = fs[:-1]
        self_w[fs[-1]] += w
    if not self_w:
        raise LabError("No samples: the profiled job ran no Python worker (or ran too briefly).")
    return max(self_w.items(), key=lambda kv: (kv[1], kv[0]))[0]


@dataclass
class Node:
    name: str
    weight: int = 0
    children: dict = field(default_factory=dict)


def build_tree(stacks: Stacks) -> Node:
    """The call tree: each node's weight is the total of the stacks passing through it."""
    root = Node("all")
    for s, w in stacks.items():
        root.weight += w
        node = root
        for f in frames(s):
            node = node.children.setdefault(f, Node(f))
            node.weight += w
    return root


def _short(label: str) -> str:
    """'predict (lightgbm/basic.py)' -> 'predict'; 'org.apache.X.method' -> 'X.method'."""
    if " (" in label:
        return label.split(" (", 1)[0]
    parts = label.split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else label


def plot_flame(stacks: Stacks, title: str = "", side: str = "python", ax=None, min_share: float = 0.003,
               max_depth: int = 40):
    """Draw an icicle flame graph (root at the top, callees below; width = share of sampled time;
    siblings sorted widest first; the x-axis is not time order),
    each frame coloured by the category of the stack ending at it (helpers.classify.classify_stack),
    so a colour band reads "time below here counts as ...". Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from .classify import CATEGORY_COLORS, classify_stack

    root = build_tree(stacks)
    if ax is None:
        fig, ax = plt.subplots(figsize=(12, 5))
    else:
        fig = ax.figure
    total = root.weight
    if total == 0:
        ax.text(0.5, 0.5, "no samples: no Python worker ran", ha="center", va="center", fontsize=12)
        ax.set_axis_off()
        ax.set_title(title)
        return fig
    used = set()
    deepest = 0

    def draw(node: Node, x: float, depth: int, path: str) -> None:
        nonlocal deepest
        for child in sorted(node.children.values(), key=lambda n: -n.weight):
            width = child.weight / total
            if width < min_share or depth >= max_depth:
                x += width
                continue
            here = f"{path};{child.name}" if path else child.name
            cat = classify_stack(here, side)
            used.add(cat)
            deepest = max(deepest, depth)
            ax.add_patch(plt.Rectangle((x, -depth - 1), width, 0.92, facecolor=CATEGORY_COLORS[cat],
                                       edgecolor="white", linewidth=0.4))
            if width > 0.06:
                text = _short(child.name)
                chars = int(width * 160)
                text = text if len(text) <= chars else text[:max(chars - 1, 1)] + "…"
                ax.text(x + 0.003, -depth - 0.54, text.replace("$", r"\$"),  # '$' would start mathtext
                        fontsize=7, va="center", clip_on=True)
            draw(child, x, depth + 1, here)
            x += width

    draw(root, 0.0, 0, "")
    ax.set_xlim(0, 1)
    ax.set_ylim(-deepest - 1.2, 0.2)
    ax.set_yticks([])
    ax.set_xlabel(f"share of {total / 1e6:.2f} s sampled thread time (root at top, callees below)")
    ax.set_title(title)
    ax.legend(handles=[Patch(color=CATEGORY_COLORS[c], label=c) for c in CATEGORY_COLORS if c in used],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    for spine in ("left", "right", "top"):
        ax.spines[spine].set_visible(False)
    return fig


def plot_breakdown(results, ax=None):
    """'Where the time goes': per scenario, two stacked bars (Python workers, JVM task threads) of
    sampled thread-seconds per task slot by category, with the run's measured wall time as a black
    tick. A bar as high as the tick means that side's samples account for the whole wall time.
    Returns the Figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    from .classify import CATEGORIES, CATEGORY_COLORS, categorize

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
            vals = np.array([categorize(r.python if side == "python" else r.jvm, side)[cat] / max(r.slots, 1)
                             for r in results])
            ax.bar(x + offset, vals, width, bottom=bottoms, color=CATEGORY_COLORS[cat],
                   label=cat if side == "python" else None, edgecolor="white", linewidth=0.3)
            bottoms += vals
        for xi, b in zip(x + offset, bottoms):
            ax.text(xi, b, "Py" if side == "python" else "JVM", ha="center", va="bottom", fontsize=7)
    for xi, r in zip(x, results):
        ax.plot([xi - width - 0.05, xi + width + 0.05], [r.wall_s, r.wall_s], color="black", linewidth=2)
        ax.text(xi + width + 0.06, r.wall_s, f"wall {r.wall_s:.2f} s", va="center", fontsize=7)
    ax.set_xticks(x, [r.scenario for r in results])
    ax.set_ylabel("sampled seconds per task slot")
    ax.set_title("Where the time goes (left bar: Python workers, right: JVM task threads)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def plot_profile(result):
    """The CLI's figure for one ProfileResult: Python-worker flame graph, JVM flame graph and the
    time breakdown, one below the other. Returns the Figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(13, 14), gridspec_kw={"height_ratios": [3, 3, 2]})
    plot_flame(result.python, f"{result.scenario}: Python workers ({result.tasks} tasks)", "python", axes[0])
    plot_flame(result.jvm, f"{result.scenario}: JVM task threads (JFR)", "jvm", axes[1])
    plot_breakdown([result], axes[2])
    fig.tight_layout()
    return fig


def plot_flames(results, side: str = "python", height: float = 3.2):
    """One flame graph per ProfileResult (Python workers or JVM task threads), stacked vertically;
    JVM graphs hide the executor's scaffolding frames (profile_jvm.JVM_SCAFFOLDING). Returns the Figure."""
    import matplotlib.pyplot as plt

    from .profile_jvm import JVM_SCAFFOLDING

    results = list(results)
    fig, axes = plt.subplots(len(results), 1, figsize=(13, height * len(results)), squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        stacks = r.python if side == "python" else hide_frames(r.jvm, JVM_SCAFFOLDING)
        who = f"Python workers, {r.tasks} tasks" if side == "python" else "JVM task threads (JFR; executor plumbing hidden)"
        batch = f"batch {r.batch_size:,}" if r.batch_size else "no Arrow batches"
        plot_flame(stacks, f"{r.scenario} ({batch}): {who}, wall {r.wall_s:.2f} s", side, ax,
                   max_depth=40 if side == "python" else 24)
    fig.tight_layout()
    return fig


def check_dominant_frame(guess: str | None, stacks: Stacks) -> str:
    """Exercise checker: is `guess` (a function name such as 'predict' or 'load_stream') the frame
    with the most on-CPU self time in `stacks`? Returns a sentence saying so, or what to look at."""
    if not guess:
        return "Write the function name you read off the widest bottom edge, e.g. guess = 'load_stream'."
    top = dominant_frame(stacks)
    name = top.split(" (", 1)[0].split(".")[-1]
    if guess.strip().lower() in (name.lower(), top.lower()):
        return f"Correct: {top} has the most on-CPU self time ({self_share(stacks, top):.0%} of on-CPU samples)."
    return (f"Not quite: {guess!r} is not the widest bottom edge. Ignore the grey [off-cpu] tips and look for "
            f"the bar with the most width that nothing sits under (self time); frame_table() lists them.")


def self_share(stacks: Stacks, frame: str) -> float:
    """Share of the on-CPU sampled time (no `[off-cpu]` samples) with `frame` as the leaf."""
    on = {s: v for s, v in stacks.items() if not s.endswith("[off-cpu]")}
    total = sum(on.values()) or 1
    return sum(v for s, v in on.items() if frames(s)[-1] == frame) / total

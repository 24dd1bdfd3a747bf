"""Collapsed stacks: parse, merge, summarise, and draw one flame graph (matplotlib icicle).

The collapsed format (Brendan Gregg's `stackcollapse` output, also py-spy's `--format raw`): one
line per distinct stack, frames root-first joined by ';', then a space and a weight. The kit's
weights are microseconds of sampled thread time for both the Python workers and the JVM, so a
stack's share of the total is a share of sampled time. Lines starting with '#' are comments.

The interactive view (hover, click to zoom, search) is `helpers.viz.flamegraph_html`: one offline
HTML file of inline SVG, no library or network needed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from helpers.core.config import LabError, atomic_write_bytes

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
            raise LabError(
                f"{source}, line {n}: expected 'frame;frame;... <count>', got {line[:80]!r}."
            )
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
    return "".join(
        f"{s} {int(w)}\n" for s, w in sorted(stacks.items(), key=lambda kv: (-kv[1], kv[0]))
    )


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
    become equal are summed); e.g. the JVM's executor scaffolding (classify.JVM_SCAFFOLDING)."""
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
    df = pd.DataFrame(
        {
            "frame": list(total_w),
            "self_s": [self_w[f] / 1e6 for f in total_w],
            "total_s": [total_w[f] / 1e6 for f in total_w],
        }
    )
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
    """A frame of the call tree: total weight beneath it, callees by name, and (filled by
    `classify.category_tree`) the weight beneath it per category."""

    name: str
    weight: int = 0
    children: dict = field(default_factory=dict)
    cats: dict = field(default_factory=dict)


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


def short_label(label: str) -> str:
    """'predict (lightgbm/basic.py)' -> 'predict'; 'org.apache.X.method' -> 'X.method'."""
    if " (" in label:
        return label.split(" (", 1)[0]
    parts = label.split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else label


def on_cpu(stacks: Stacks) -> Stacks:
    """The stacks without their `[off-cpu]` samples (time the thread was not on a CPU)."""
    return {s: w for s, w in stacks.items() if not s.endswith("[off-cpu]")}


def total_share(stacks: Stacks, frame: str) -> float:
    """Share (0..1) of all sampled time with `frame` anywhere on the stack (0 without samples)."""
    grand = sum(stacks.values())
    return sum(w for s, w in stacks.items() if frame in frames(s)) / grand if grand else 0.0


def self_share(stacks: Stacks, frame: str) -> float:
    """Share of the on-CPU sampled time (no `[off-cpu]` samples) with `frame` as the leaf."""
    on = on_cpu(stacks)
    total = sum(on.values()) or 1
    return sum(v for s, v in on.items() if frames(s)[-1] == frame) / total

"""Interactive flame graph of collapsed stacks as one offline HTML file (inline SVG + a small
script).

Layout: icicle, root ("all") at the top and callees below; a frame's width is its share of the
total sampled weight (the kit's stacks weigh microseconds); siblings are sorted widest first, so
the x-axis is not time order. Frames are coloured like `flamegraph.plot_flame`: by the
`helpers.profile.classify` category of the stack ending at that frame. Hover a frame for its full
name, weight in ms and share of the total; click it to zoom in (it fills the width, its ancestors
stay as full-width, dimmed bars); click the root or "reset zoom" to zoom out. The search box
highlights frames whose name contains the text (case-insensitive) and shows the share of the total
under them (nested matches counted once).

Nothing is loaded from the network. The output also works inside a notebook
(`IPython.display.HTML(flame_html(stacks))`): element ids carry a per-call prefix, the CSS is scoped
to that container and the script only touches elements inside it.
"""

from __future__ import annotations

import re
import uuid
from html import escape
from pathlib import Path

from helpers.core.config import LabError, atomic_write_bytes
from helpers.profile.classify import CATEGORY_COLORS, classify_stack
from helpers.profile.stacks import Node, Stacks, _short, build_tree

WIDTH = 1200  # SVG user units across the whole graph (the SVG scales to its container)
ROW = 18  # SVG user units per stack level
MIN_LABEL = 36  # a frame narrower than this (user units) shows no text label
ROOT_COLOR = "#bdbdbd"
_MS_PER_UNIT = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")

_CSS = """#{id} {{font: 12px sans-serif}}
#{id} .bar {{display: flex; gap: 8px; align-items: center; margin: 4px 0}}
#{id} svg.fr {{cursor: pointer}}
#{id} svg.fr rect {{stroke: #fff; stroke-width: 1}}
#{id} svg.fr:hover rect {{stroke: #000}}
#{id} svg.fr text {{font-size: 11px; fill: #000; pointer-events: none}}
#{id} rect.anc {{opacity: .55}}
#{id} rect.hit {{fill: #e6007e}}
#{id} .key {{display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 10px}}"""

# Each frame is a nested <svg> (it clips its label) holding a <rect data-w data-o data-d> whose
# first child is the <title>. data-o is the weight left of the frame at its level, so a frame's
# interval is [o, o + w): ancestors contain it, descendants lie inside it, other frames at a level
# never overlap.
_JS = """(function () {
  var box = document.getElementById("{id}"), W = {width}, MIN = {min_label};
  var q = document.getElementById("{id}-q"), out = document.getElementById("{id}-m");
  var fr = Array.prototype.map.call(box.querySelectorAll("svg.fr > rect"), function (r) {
    return {r: r, s: r.parentNode, t: r.parentNode.querySelector("text"),
            w: +r.getAttribute("data-w"), o: +r.getAttribute("data-o"),
            d: +r.getAttribute("data-d"),
            n: r.firstChild.textContent.split("\\n")[0].toLowerCase()};
  });
  function zoom(f) {
    fr.forEach(function (g) {
      var anc = g.d <= f.d && g.o <= f.o && g.o + g.w >= f.o + f.w;
      var sub = g.d > f.d && g.o >= f.o && g.o + g.w <= f.o + f.w;
      var w = anc ? W : g.w / f.w * W;
      g.s.setAttribute("display", anc || sub ? "inline" : "none");
      g.s.setAttribute("x", anc ? 0 : (g.o - f.o) / f.w * W);
      g.s.setAttribute("width", w);
      g.t.setAttribute("display", w >= MIN ? "inline" : "none");
      g.r.classList.toggle("anc", anc && g !== f);
    });
  }
  function search() {
    var text = q.value.toLowerCase(), hits = [], end = -1, sum = 0;
    fr.forEach(function (g) {
      var on = text !== "" && g.d > 0 && g.n.indexOf(text) >= 0;
      g.r.classList.toggle("hit", on);
      if (on) hits.push(g);
    });
    hits.sort(function (a, b) { return a.o - b.o || b.w - a.w; });
    hits.forEach(function (g) { if (g.o >= end) { sum += g.w; end = g.o + g.w; } });
    out.textContent = text ? "matched " + (100 * sum / fr[0].w).toFixed(2) + "% of total" : "";
  }
  fr.forEach(function (g) { g.s.addEventListener("click", function () { zoom(g); }); });
  document.getElementById("{id}-r").addEventListener("click", function () { zoom(fr[0]); });
  q.addEventListener("input", search);
})();"""


def _layout(root: Node, min_share: float, side: str) -> list[tuple[Node, int, int, str]]:
    """(node, offset, depth, category) per drawn node, parents before children, root first;
    offset is the weight left of the node at its depth. Nodes lighter than min_share of the total
    are skipped with their subtrees (their weight stays in the parent's width)."""
    cut = min_share * root.weight
    out = [(root, 0, 0, "")]

    def walk(node: Node, offset: int, depth: int, path: str) -> None:
        for child in sorted(node.children.values(), key=lambda n: (-n.weight, n.name)):
            if child.weight > 0 and child.weight >= cut:
                here = f"{path};{child.name}" if path else child.name
                out.append((child, offset, depth, classify_stack(here, side)))
                walk(child, offset, depth + 1, here)
            offset += child.weight

    walk(root, 0, 1, "")
    return out


def _amount(weight: int, unit: str) -> str:
    """A weight in ms when `unit` is a time unit, else as is."""
    per_ms = _MS_PER_UNIT.get(unit)
    return f"{weight * per_ms:,.3f} ms" if per_ms is not None else f"{weight:,} {unit}"


def _frame(node: Node, offset: int, depth: int, category: str, total: int, unit: str) -> str:
    x, width = offset / total * WIDTH, node.weight / total * WIDTH
    tip = f"{node.name}\n{_amount(node.weight, unit)} ({100 * node.weight / total:.2f}% of total)"
    color = CATEGORY_COLORS[category] if depth else ROOT_COLOR
    label = _short(node.name) if depth else f"all: {_amount(total, unit)}"
    hidden = "" if width >= MIN_LABEL else ' display="none"'
    return (
        f'<svg class="fr" x="{x:.3f}" y="{depth * ROW}" width="{width:.3f}" height="{ROW - 1}">'
        f'<rect width="100%" height="100%" fill="{color}" data-w="{node.weight}" data-o="{offset}" '
        f'data-d="{depth}"><title>{escape(tip)}</title></rect>'
        f'<text x="3" y="{ROW - 5}"{hidden}>{escape(label)}</text></svg>'
    )


def flame_html(
    stacks: Stacks,
    title: str = "",
    unit: str = "µs",
    *,
    min_share: float = 0.001,
    side: str = "python",
    element_id: str | None = None,
) -> str:
    """A complete, self-contained HTML document with an interactive flame graph of `stacks`
    ({"root;...;leaf": weight}; weights in `unit`, microseconds for the kit's profilers; tooltips
    show ms for ns/µs/us/ms/s, the raw weight otherwise). Frames lighter than `min_share` of the
    total are not drawn (their weight stays in the parent). `side` ("python" or "jvm") picks the
    classifier's rules for the colours. `element_id` fixes the id prefix (default: a fresh random
    one per call)."""
    root = build_tree(stacks)
    if root.weight <= 0:
        raise LabError(
            "No samples to draw: run the profiler on a job first (the collapsed stacks are empty)."
        )
    if not 0 <= min_share < 1:
        raise LabError(f"min_share is a share of the total weight in [0, 1), got {min_share!r}.")
    eid = element_id or f"flame-{uuid.uuid4().hex[:12]}"
    if not _ID.match(eid):
        raise LabError(
            f"element_id must be letters, digits, '-' or '_' starting with a letter, got {eid!r}."
        )
    drawn = _layout(root, min_share, side)
    height = (max(depth for _, _, depth, _ in drawn) + 1) * ROW
    used = {cat for *_, cat in drawn}
    legend = "".join(
        f'<span class="key" style="background:{color}"></span>{escape(cat)}'
        for cat, color in CATEGORY_COLORS.items()
        if cat in used
    )
    frames = "\n".join(_frame(node, o, d, cat, root.weight, unit) for node, o, d, cat in drawn)
    heading = escape(title or "Flame graph")
    script = (
        _JS.replace("{id}", eid)
        .replace("{width}", str(WIDTH))
        .replace("{min_label}", str(MIN_LABEL))
    )
    body = (
        f'<div id="{eid}" class="flamegraph">\n<style>{_CSS.format(id=eid)}</style>\n'
        f'<div class="bar"><b>{heading}</b>'
        f'<input id="{eid}-q" type="search" placeholder="search frames">'
        f'<span id="{eid}-m"></span><button id="{eid}-r" type="button">reset zoom</button></div>\n'
        f'<svg id="{eid}-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet">\n{frames}\n</svg>\n'
        f"<div>Root at the top, callees below; width = share of {_amount(root.weight, unit)} "
        f"sampled (not time order). Click a frame to zoom, the root to zoom out. "
        f"Colours:{legend}</div>\n"
        f"<script>{script}</script>\n</div>"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n'
        f'<head><meta charset="utf-8"><title>{heading}</title></head>\n'
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def write_flame_html(
    stacks: Stacks,
    path,
    title: str = "",
    unit: str = "µs",
    *,
    min_share: float = 0.001,
    side: str = "python",
    element_id: str | None = None,
) -> Path:
    """Write `flame_html(...)` to `path` atomically (UTF-8) and return the path."""
    html = flame_html(stacks, title, unit, min_share=min_share, side=side, element_id=element_id)
    return atomic_write_bytes(Path(path), html.encode("utf-8"))


def write_result_html(results, out_dir) -> list[Path]:
    """For each ProfileResult, its Python-worker and JVM flame graphs (the sides that have samples)
    as `<out_dir>/<scenario>/python.html` and `jvm.html`; returns the paths written."""
    written = []
    for r in results:
        for side, stacks in (("python", r.python), ("jvm", r.jvm)):
            if stacks:
                path = Path(out_dir) / r.scenario / f"{side}.html"
                written.append(
                    write_flame_html(stacks, path, title=f"{r.scenario}: {side}", side=side)
                )
    return written

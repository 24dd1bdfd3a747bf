"""Interactive flame graph of collapsed stacks as one offline HTML file (inline SVG + a small
script).

Layout: icicle, root ("all") at the top and callees below; a frame's width is its share of the
total sampled weight (the kit's stacks weigh microseconds); siblings are sorted widest first, so
the x-axis is not time order. Coloured like `flamegraph.plot_flame`: frames are white outlines,
and colour fills only the part of a frame where samples end (after its drawn callees), one
segment per category of those samples (`classify.flame_boxes`), so the coloured area per category
is the breakdown's share and a frame that only passes calls through stays white. Hover a frame
for its full name, weight in ms and share of the total, a coloured segment for its category and
weight; click it to zoom in (it fills the width, its ancestors
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
from helpers.profile.classify import (
    CATEGORIES,
    CATEGORY_COLORS,
    JVM_SCAFFOLDING,
    Box,
    category_tree,
    flame_boxes,
)
from helpers.profile.stacks import Stacks, short_label

WIDTH = 1200  # SVG user units across the whole graph (the SVG scales to its container)
ROW = 18  # SVG user units per stack level
MIN_LABEL = 36  # a frame narrower than this (user units) shows no text label
PASS_THROUGH = "#ffffff"  # the fill of a frame where no sample ends: it only passes calls
_MS_PER_UNIT = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")

_CSS = """#{id} {{font: 12px sans-serif}}
#{id} .bar {{display: flex; gap: 8px; align-items: center; margin: 4px 0}}
#{id} svg.fr {{cursor: pointer}}
#{id} svg.fr rect.f {{stroke: #a0a0a0; stroke-width: 1}}
#{id} svg.fr:hover rect.f {{stroke: #000}}
#{id} svg.fr text {{font-size: 11px; fill: #000; pointer-events: none}}
#{id} rect.anc {{opacity: .55}}
#{id} rect.anc ~ rect.s {{display: none}}
#{id} rect.hit {{fill: #e6007e}}
#{id} .key {{display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 10px}}"""

# Each frame is a nested <svg> (it clips its label) holding a <rect data-w data-o data-d> whose
# first child is the <title>. data-o is the weight left of the frame at its level, so a frame's
# interval is [o, o + w): ancestors contain it, descendants lie inside it, other frames at a level
# never overlap.
_JS = """(function () {
  var box = document.getElementById("{id}"), W = {width}, MIN = {min_label};
  var q = document.getElementById("{id}-q"), out = document.getElementById("{id}-m");
  var fr = Array.prototype.map.call(box.querySelectorAll("svg.fr > rect.f"), function (r) {
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


def _amount(weight: int, unit: str) -> str:
    """A weight in ms when `unit` is a time unit, else as is."""
    per_ms = _MS_PER_UNIT.get(unit)
    return f"{weight * per_ms:,.3f} ms" if per_ms is not None else f"{weight:,} {unit}"


def _frame(box: Box, total: int, unit: str) -> str:
    x, width = box.offset / total * WIDTH, box.weight / total * WIDTH
    tip = f"{box.name}\n{_amount(box.weight, unit)} ({100 * box.weight / total:.2f}% of total)"
    label = short_label(box.name) if box.depth else f"all: {_amount(total, unit)}"
    hidden = "" if width >= MIN_LABEL else ' display="none"'
    segments = "".join(
        f'<rect class="s" x="{100 * (o - box.offset) / box.weight:.4f}%" '
        f'width="{100 * w / box.weight:.4f}%" height="100%" fill="{CATEGORY_COLORS[cat]}" '
        f'data-cat="{escape(cat)}" data-w="{w}" data-o="{o}"><title>'
        f"{escape(cat)}: {_amount(w, unit)} ({100 * w / total:.2f}% of total) ends here"
        "</title></rect>"
        for cat, o, w in box.segments
    )
    return (
        f'<svg class="fr" x="{x:.3f}" y="{box.depth * ROW}" width="{width:.3f}" '
        f'height="{ROW - 1}"><rect class="f" width="100%" height="100%" fill="{PASS_THROUGH}" '
        f'data-w="{box.weight}" data-o="{box.offset}" data-d="{box.depth}">'
        f"<title>{escape(tip)}</title></rect>{segments}"
        f'<text x="3" y="{ROW - 5}"{hidden}>{escape(label)}</text></svg>'
    )


def flame_html(
    stacks: Stacks,
    title: str = "",
    unit: str = "µs",
    *,
    min_share: float = 0.001,
    side: str = "python",
    hide: str | None = None,
    element_id: str | None = None,
) -> str:
    """A complete, self-contained HTML document with an interactive flame graph of `stacks`
    ({"root;...;leaf": weight}; weights in `unit`, microseconds for the kit's profilers; tooltips
    show ms for ns/µs/us/ms/s, the raw weight otherwise). Frames lighter than `min_share` of the
    total are not drawn (their samples colour the parent's self segments). `side` ("python" or
    "jvm") picks the classifier's rules for the colours; `hide` is a regex of frames left out of
    the drawing (after classification). `element_id` fixes the id prefix (default: a fresh random
    one per call)."""
    root = category_tree(stacks, side, hide)
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
    boxes = flame_boxes(root, min_share)
    height = (max(b.depth for b in boxes) + 1) * ROW
    used = {cat for b in boxes for cat, _, _ in b.segments}
    legend = (
        f'<span class="key" style="background:{PASS_THROUGH}; outline: 1px solid #a0a0a0">'
        "</span>calls only (no self time)"
    ) + "".join(
        f'<span class="key" style="background:{CATEGORY_COLORS[cat]}"></span>{escape(cat)}'
        for cat in CATEGORIES
        if cat in used
    )
    frames = "\n".join(_frame(b, root.weight, unit) for b in boxes)
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
    hide: str | None = None,
    element_id: str | None = None,
) -> Path:
    """Write `flame_html(...)` to `path` atomically (UTF-8) and return the path."""
    html = flame_html(
        stacks, title, unit, min_share=min_share, side=side, hide=hide, element_id=element_id
    )
    return atomic_write_bytes(Path(path), html.encode("utf-8"))


def write_result_html(results, out_dir) -> list[Path]:
    """For each ProfileResult, its Python-worker and JVM flame graphs (the sides that have samples)
    as `<out_dir>/<scenario>/python.html` and `jvm.html` (the executor's scaffolding frames,
    classify.JVM_SCAFFOLDING, hidden); returns the paths written."""
    written = []
    for r in results:
        for side, stacks in (("python", r.python), ("jvm", r.jvm)):
            if stacks:
                path = Path(out_dir) / r.scenario / f"{side}.html"
                hide = JVM_SCAFFOLDING if side == "jvm" else None
                title = f"{r.scenario}: {side}"
                written.append(write_flame_html(stacks, path, title, side=side, hide=hide))
    return written

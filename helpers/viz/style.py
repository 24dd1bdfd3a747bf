"""One look for every chart of the series: one colour (and one marker) per inference path, the
physical limit's line, the few colours of things that are not paths, and the units a person reads
(rows/s as k or M, MiB, s or min).

Colour means path. A path has the same colour in every notebook, found from its registry name
(`helpers.inference.scenarios`) or a label that names it (`path_key`). Within one chart, variants of
one path (its two Spark lines, JVM vs Python CPU, threads settings) keep the path's colour and
differ by hatch, line style or marker. The physical limit (and the in-process reference) is
always a black dashed line.

The palette is colour-blind-safe where it matters: the most compared paths (pandas_udf,
mapInPandas, mapInArrow) are Okabe-Ito blue, bluish green and orange, the row UDF of the dial is
brown; the others come from Paul Tol's sets. Under simulated protanopia or deuteranopia
(Machado 2009) every pair of paths stays at least 10 CIEDE2000 units apart, and the four
paths of notebook 11's dial at least 17.
"""

from __future__ import annotations

from typing import Iterable

from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from helpers.inference.scenarios import ALL_SCENARIOS
from helpers.lab.pickling import PATH_LABELS

LIMIT = "physical_limit"

PATH_COLORS: dict[str, str] = {
    "row_udf": "#8C510A",  # brown
    "arrow_udf": "#EE6677",  # Tol red
    "default_udf": "#EE99AA",  # Tol pink
    "pandas_udf": "#0072B2",  # Okabe-Ito blue
    "iter_pandas_udf": "#56B4E9",  # Okabe-Ito sky blue
    "map_in_pandas": "#009E73",  # Okabe-Ito bluish green
    "map_in_arrow": "#E69F00",  # Okabe-Ito orange
    "map_in_arrow_rowmajor": "#997700",  # Tol ochre
    "map_in_arrow_files": "#CC79A7",  # Okabe-Ito reddish purple
    "pyarrow_udf": "#AA3377",  # Tol purple
    "synapseml": "#332288",  # Tol indigo
    LIMIT: "#000000",
}
PATH_MARKERS: dict[str, str] = {
    "row_udf": "v",
    "arrow_udf": "^",
    "default_udf": "<",
    "pandas_udf": "o",
    "iter_pandas_udf": "p",
    "map_in_pandas": "s",
    "map_in_arrow": "D",
    "map_in_arrow_rowmajor": "d",
    "map_in_arrow_files": "h",
    "pyarrow_udf": ">",
    "synapseml": "X",
    LIMIT: "",
}
LIMIT_COLOR = PATH_COLORS[LIMIT]
LIMIT_LINE = {"color": LIMIT_COLOR, "ls": "--", "lw": 1.5}  # axhline/axvline keywords
# Any other reference line (an ideal speedup, "one full copy", all cores busy): grey, dotted.
REFERENCE_LINE = {"color": "#7F7F7F", "ls": ":", "lw": 1.2}

# Series that are no path of the registry (your own function, a format), in turn: greys, so they
# never pass for a path.
OTHER_COLORS = ("#7F7F7F", "#4D4D4D", "#B3B3B3", "#262626", "#D9D9D9")
OTHER_MARKERS = ("o", "s", "^", "D", "v")
# Variants of one path inside one chart, in turn.
HATCHES = ("", "//", "..", "xx", "\\\\")
LINE_STYLES = ("-", "--", ":", "-.")

# Colours of things that are not paths. Vermillion is no path's colour: it marks a warning (over
# budget, a crash). Greys draw processes and sides when no path is in the chart.
WARN_COLOR = "#D55E00"
ZONE_COLOR = "gold"
NEUTRAL = "#4D4D4D"
LIGHT_NEUTRAL = "#B3B3B3"
SIDE_COLORS = {"jvm": "#4D4D4D", "kernel": "#B3B3B3", "python": "#44AA99"}
SIDE_HATCHES = {"jvm": "", "kernel": "..", "python": "//"}
PROCESS_COLORS = {
    "jvm": SIDE_COLORS["jvm"],
    "daemon": "#999999",
    "python_worker": SIDE_COLORS["python"],
}
METER_COLORS = {  # notebook 07's in-process meters (no path is drawn there)
    "JVM heap used": "#882255",
    "JVM direct pool (NIO)": "#999933",
    "JVM Arrow allocator": "#762A83",
    "Python heap (memray)": "#117733",
}
SPARK_LINE_COLORS = ("#4D4D4D", "#999933")  # in the order of helpers.core.lines.LINES
CHECK_COLORS = ("#262626", "#D9D9D9", "#7F7F7F")  # notebook 09's check runs (black-edged stars)
STAGE_MARKERS = {"coarse": "o", "fine": "s", "duel": "D"}  # the batch tuner's trials

# ---- a path from its name or label ---------------------------------------------------------------

_LIMIT_WORDS = ("physical_limit", "physical limit", "in-process")
_SHORT = {  # words a label uses for a path, beyond its registry name and label
    "mapinpandas": "map_in_pandas",
    "mapinarrow": "map_in_arrow",
    "synapseml": "synapseml",
    "@arrow_udf": "pyarrow_udf",
    "@pandas_udf": "pandas_udf",
    "useArrow=True": "arrow_udf",
    "useArrow=False": "row_udf",
}


def _aliases() -> dict[str, str]:
    out = {s.name.lower(): s.name for s in ALL_SCENARIOS}
    out.update({s.label.lower(): s.name for s in ALL_SCENARIOS})
    out.update({label.lower(): name for name, label in PATH_LABELS.items()})
    out.update({k.lower(): v for k, v in _SHORT.items()})
    return out


_ALIASES = _aliases()
# longest first, so "iter_pandas_udf" wins over "pandas_udf" and "map_in_arrow_rowmajor" over
# "map_in_arrow"
_BY_LENGTH = sorted(_ALIASES, key=len, reverse=True)


def path_key(name) -> str | None:
    """The registry name of the path `name` stands for: a registry name, a `Scenario` label
    ("mapInPandas"), notebook 02's labels, or a label containing one ("my mapInPandas",
    "pandas_udf (wide)"); `LIMIT` for the physical limit or the in-process reference; None when
    it names no path."""
    text = str(getattr(name, "name", name)).strip().lower()
    if text in _ALIASES:
        return _ALIASES[text]
    if any(w in text for w in _LIMIT_WORDS):
        return LIMIT
    return next((_ALIASES[a] for a in _BY_LENGTH if a in text), None)


def path_color(name) -> str:
    """The path's colour (hex) everywhere in the series; a grey for a name that is no path."""
    key = path_key(name)
    return PATH_COLORS[key] if key else OTHER_COLORS[0]


def path_marker(name) -> str:
    """The path's marker for line and scatter charts ("o" for a name that is no path)."""
    key = path_key(name)
    return PATH_MARKERS[key] if key else "o"


def series_styles(names: Iterable) -> dict:
    """One style per series of a chart, {name: {"color", "marker", "ls", "hatch"}}: each path
    its colour and marker; a second series of the same path the same colour with the next line
    style and hatch; series that name no path the greys of `OTHER_COLORS`, line styles, hatches
    and markers in turn. So no two series of one legend look alike."""
    out, seen, others = {}, {}, 0
    for name in dict.fromkeys(names):
        key = path_key(name)
        if key is None:  # greys in turn, each with its own line style and hatch
            n = others
            color, marker = (
                OTHER_COLORS[n % len(OTHER_COLORS)],
                OTHER_MARKERS[n % len(OTHER_MARKERS)],
            )
            others += 1
        else:
            color, marker = PATH_COLORS[key], PATH_MARKERS[key]
            n = seen[key] = seen.get(key, -1) + 1
        out[name] = {
            "color": color,
            "marker": marker,
            "ls": LINE_STYLES[n % len(LINE_STYLES)],
            "hatch": HATCHES[n % len(HATCHES)],
        }
    return out


def swatch(label: str, hatch: str = "", color: str = "#7F7F7F") -> Patch:
    """A legend entry for a hatch (a side, a Spark line) drawn over every path's colour: grey
    with that hatch. Pass them as `ax.legend(handles=[...])`; an empty `bar` has no patch, so
    its legend entry would show matplotlib's default colour instead."""
    return Patch(facecolor=color, hatch=hatch, edgecolor="white", label=label)


# ---- units a person reads -----------------------------------------------------------------------


def fmt_count(value: float) -> str:
    """A count or rate as a person says it: 950, 12.3k, 4.56M, 6B (three significant digits)."""
    v = float(value)
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k"), (1.0, "")):
        if abs(v) >= div * 0.9995 or div == 1.0:
            x = v / div
            return (f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}") + unit
    return str(value)  # not reached


COUNT_FORMATTER = FuncFormatter(lambda v, _pos: fmt_count(v))
PLAIN_FORMATTER = FuncFormatter(
    lambda v, _pos: f"{v:g}"
)  # a log axis in plain numbers: 2, not 2x10^0


BYTES_FORMATTER = FuncFormatter(lambda v, _pos: fmt_bytes(v))  # a byte axis: 1 KiB, not 10^3


def count_axis(ax, axis: str = "y") -> None:
    """Tick labels of `ax`'s `axis` ("x" or "y") in k and M (rows/s, rows)."""
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(COUNT_FORMATTER)


def fmt_bytes(value: float) -> str:
    """Bytes as a person reads them: 512 B, 125 KiB, 1.5 MiB, 2 GiB (three significant digits)."""
    div, unit = bytes_unit(value)
    x = float(value) / div
    return f"{x:,.0f} {unit}" if abs(x) >= 1000 else f"{x:.3g} {unit}"


def bytes_unit(largest: float) -> tuple[float, str]:
    """The divisor and unit to draw bytes up to `largest` in (B, KiB, MiB or GiB), so an axis has
    round ticks in that unit: `ax.plot(x, y / div)`, `ax.set_xlabel(f"... ({unit})")`."""
    units = ((1, "B"), (2**10, "KiB"), (2**20, "MiB"), (2**30, "GiB"))
    return next(((d, u) for d, u in units if abs(largest) / d < 999.5), units[-1])

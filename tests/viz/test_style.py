"""helpers.viz.style: one colour per path, found from its name or its label; units people read.
Pure (no Spark)."""

import itertools

import numpy as np
import pytest
from matplotlib.colors import to_hex, to_rgb

from helpers.inference.scenarios import ALL_SCENARIOS
from helpers.lab import jni, pickling
from helpers.viz import style

PATHS = [s.name for s in ALL_SCENARIOS]


def test_every_path_of_the_registry_has_a_colour_and_a_marker():
    assert set(PATHS) | {style.LIMIT} == set(style.PATH_COLORS) == set(style.PATH_MARKERS)


def test_no_two_paths_share_a_colour_or_a_marker():
    colours = [to_hex(c) for c in style.PATH_COLORS.values()]
    assert len(set(colours)) == len(colours)
    markers = [m for p, m in style.PATH_MARKERS.items() if p != style.LIMIT]
    assert len(set(markers)) == len(markers)


def test_the_physical_limit_is_a_black_dashed_line():
    assert style.path_color("physical_limit") == "#000000"
    assert style.LIMIT_LINE == {"color": "#000000", "ls": "--", "lw": 1.5}


def test_colours_of_things_that_are_no_path_are_never_a_path_colour():
    paths = {to_hex(c) for c in style.PATH_COLORS.values()}
    others = [
        *style.OTHER_COLORS,
        *style.SIDE_COLORS.values(),
        *style.PROCESS_COLORS.values(),
        *style.METER_COLORS.values(),
        *style.SPARK_LINE_COLORS,
        *style.CHECK_COLORS,
        style.WARN_COLOR,
        style.REFERENCE_LINE["color"],
    ]
    assert not paths & {to_hex(c) for c in others}


@pytest.mark.parametrize("scenario", ALL_SCENARIOS, ids=lambda s: s.name)
def test_a_path_is_found_from_its_name_and_its_label(scenario):
    assert style.path_key(scenario.name) == scenario.name
    assert style.path_key(scenario.label) == scenario.name
    assert style.path_key(scenario) == scenario.name  # a Scenario, e.g. from user_path
    assert style.path_color(scenario.label) == style.PATH_COLORS[scenario.name]


@pytest.mark.parametrize(
    "label, path",
    [
        *[(label, name) for name, label in pickling.PATH_LABELS.items()],  # notebook 02's labels
        ("my mapInPandas", "map_in_pandas"),  # notebook 04's own function, named after its path
        ("my mapInPandas + flag", "map_in_pandas"),
        ("pandas_udf (wide)", "pandas_udf"),  # a sweep label with its suffix
        ("Spark metric, iter_pandas_udf", "iter_pandas_udf"),  # the longest name wins
        ("map_in_arrow_rowmajor", "map_in_arrow_rowmajor"),
        ("MapInArrow", "map_in_arrow"),
        (jni.ONE_CORE, style.LIMIT),  # the in-process reference
        ("physical limit", style.LIMIT),
        ("my function", None),
        ("closure", None),
    ],
)
def test_a_label_that_names_a_path_gets_its_colour(label, path):
    assert style.path_key(label) == path
    want = style.PATH_COLORS[path] if path else style.OTHER_COLORS[0]
    assert style.path_color(label) == want


def test_series_styles_never_repeat_a_look_in_one_chart():
    names = ["pandas_udf", "pandas_udf (wide)", "my function", "closure", "map_in_arrow"]
    st = style.series_styles(names)
    assert st["pandas_udf"]["color"] == st["pandas_udf (wide)"]["color"] == "#0072B2"
    assert st["pandas_udf"]["ls"] != st["pandas_udf (wide)"]["ls"]
    assert st["pandas_udf"]["hatch"] != st["pandas_udf (wide)"]["hatch"]
    assert st["my function"]["color"] != st["closure"]["color"]  # no path: greys in turn
    assert st["map_in_arrow"] == {"color": "#E69F00", "marker": "D", "ls": "-", "hatch": ""}
    looks = [tuple(s.values()) for s in st.values()]
    assert len(set(looks)) == len(looks)


@pytest.mark.parametrize(
    "value, text",
    [
        (0, "0"),
        (950, "950"),
        (999.6, "1k"),
        (12_345, "12.3k"),
        (250_000, "250k"),
        (999_999, "1M"),
        (1_500_000, "1.5M"),
        (6_000_000_000, "6B"),
        (-2_500, "-2.5k"),
    ],
)
def test_counts_read_in_k_and_m(value, text):
    assert style.fmt_count(value) == text
    assert style.COUNT_FORMATTER(value, 0) == text


@pytest.mark.parametrize(
    "value, text",
    [
        (512, "512 B"),
        (1000, "0.977 KiB"),
        (128_000, "125 KiB"),
        (1.5 * 2**20, "1.5 MiB"),
        (3 * 2**30, "3 GiB"),
    ],
)
def test_bytes_read_in_kib_and_mib(value, text):
    assert style.fmt_bytes(value) == text
    assert style.bytes_unit(value)[1] == text.split(" ")[1]


# ---- colour-blind safety (Machado et al. 2009, severity 1; CIEDE2000) ----------------------------

_CVD = {
    "normal": np.eye(3),
    "protanopia": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
    "deuteranopia": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
}


def _lab(colour: str, cvd: np.ndarray) -> np.ndarray:
    c = np.array(to_rgb(colour))
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    lin = np.clip(cvd @ lin, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    t = xyz @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> float:
    (L1, a1, b1), (L2, a2, b2) = lab1, lab2
    cb = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(cb**7 / (cb**7 + 25**7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    h1, h2 = np.degrees(np.arctan2(b1, a1)) % 360, np.degrees(np.arctan2(b2, a2)) % 360
    dh = 0.0 if c1 * c2 == 0 else (h2 - h1 + 180) % 360 - 180
    hb = h1 + h2
    if c1 * c2 != 0:
        hb = ((h1 + h2) / 2 + (180 if abs(h1 - h2) > 180 else 0)) % 360
    lb, cbp = (L1 + L2) / 2, (c1 + c2) / 2
    t = (
        1
        - 0.17 * np.cos(np.radians(hb - 30))
        + 0.24 * np.cos(np.radians(2 * hb))
        + 0.32 * np.cos(np.radians(3 * hb + 6))
        - 0.20 * np.cos(np.radians(4 * hb - 63))
    )
    sl = 1 + 0.015 * (lb - 50) ** 2 / np.sqrt(20 + (lb - 50) ** 2)
    sc, sh = 1 + 0.045 * cbp, 1 + 0.015 * cbp * t
    rt = (
        -np.sin(np.radians(60 * np.exp(-(((hb - 275) / 25) ** 2))))
        * 2
        * np.sqrt(cbp**7 / (cbp**7 + 25**7))
    )
    dl, dc = L2 - L1, c2 - c1
    dhh = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(dh / 2))
    return float(
        np.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dhh / sh) ** 2 + rt * (dc / sc) * (dhh / sh))
    )


def _closest(paths) -> float:
    return min(
        _ciede2000(_lab(style.PATH_COLORS[a], m), _lab(style.PATH_COLORS[b], m))
        for m in _CVD.values()
        for a, b in itertools.combinations(paths, 2)
    )


def test_paths_stay_apart_under_red_green_colour_blindness():
    assert _ciede2000(_lab("#ffffff", np.eye(3)), _lab("#000000", np.eye(3))) == pytest.approx(
        100, abs=0.01
    )
    assert _closest(PATHS) >= 10  # every pair, as the style's docstring says
    assert _closest(["row_udf", "pandas_udf", "map_in_pandas", "map_in_arrow"]) >= 17  # the dial


def test_text_a_room_can_read():
    """No chart text below 8 pt and no legend below 9 pt: a room reads a projected chart."""
    import re
    from pathlib import Path

    small = []
    for p in sorted(Path(style.__file__).parent.glob("*.py")):
        for n, line in enumerate(p.read_text().splitlines(), 1):
            for size in map(int, re.findall(r"fontsize=(\d+)", line)):
                if size < 8 or ("legend(" in line and size < 9):
                    small.append(f"{p.name}:{n}: {line.strip()}")
    assert not small, small

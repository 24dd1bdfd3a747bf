"""The offline HTML flame graph: values carried by the SVG (data-w/data-o/data-d and <title>s),
nesting, escaping, pruning, ids, errors and the atomic write. No browser, no timing."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers.core.config import LabError
from helpers.profile import classify
from helpers.profile.stacks import read_collapsed
from helpers.profile.worker_profilers import ProfileResult
from helpers.viz import flamegraph_html
from helpers.viz.flamegraph_html import flame_html, write_flame_html

PY_FIX = Path(__file__).resolve().parents[1] / "fixtures" / "python_task.collapsed"
SVG = "{http://www.w3.org/2000/svg}"
SMALL = {
    "main (pyspark/worker.py);process (pyspark/worker.py);predict (lightgbm/basic.py)": 6000,
    "main (pyspark/worker.py);process (pyspark/worker.py);[off-cpu]": 2000,
    "main (pyspark/worker.py);read_int (pyspark/serializers.py)": 1500,
    "thread:Executor task launch worker;sun.nio.ch.EPoll.wait [native]": 500,
}


def frames_of(html: str) -> list[dict]:
    """Parse the graph's <svg> as XML: one dict per drawn frame, in document order."""
    start = html.index("<svg id=")
    svg = ET.fromstring(html[start : html.rindex("</svg>") + len("</svg>")])
    out = []
    for rect in svg.iter(f"{SVG}rect"):
        if rect.get("class") != "f":
            continue
        name, tip = rect.find(f"{SVG}title").text.split("\n")
        out.append(
            {
                "name": name,
                "tip": tip,
                "w": int(rect.get("data-w")),
                "o": int(rect.get("data-o")),
                "d": int(rect.get("data-d")),
            }
        )
    return out


def segments_of(html: str) -> list[dict]:
    """The coloured self-time segments: per frame <svg> (x, width in SVG user units), each
    segment's category, weight, and drawn x and width (percentages of its frame resolved)."""
    start = html.index("<svg id=")
    svg = ET.fromstring(html[start : html.rindex("</svg>") + len("</svg>")])
    out = []
    for fr in svg.iter(f"{SVG}svg"):
        if fr.get("class") != "fr":
            continue
        x0, width = float(fr.get("x")), float(fr.get("width"))
        for seg in fr.findall(f"{SVG}rect"):
            if seg.get("class") == "s":
                left, span = float(seg.get("x").rstrip("%")), float(seg.get("width").rstrip("%"))
                assert 0 <= left and left + span <= 100.001  # inside its frame
                out.append(
                    {
                        "cat": seg.get("data-cat"),
                        "w": int(seg.get("data-w")),
                        "x": x0 + width * float(seg.get("x").rstrip("%")) / 100,
                        "width": width * float(seg.get("width").rstrip("%")) / 100,
                        "fill": seg.get("fill"),
                    }
                )
    return out


def paths_of(frames: list[dict]) -> dict[str, dict]:
    """'a;b;c' -> frame, rebuilt from the intervals alone: a frame's parent is the frame one level
    up whose [o, o + w) contains it (there must be exactly one)."""
    out = {}
    for f in frames[1:]:
        parents = [
            p
            for p in frames
            if p["d"] == f["d"] - 1 and p["o"] <= f["o"] and f["o"] + f["w"] <= p["o"] + p["w"]
        ]
        assert len(parents) == 1, f
        chain, node = [f["name"]], parents[0]
        while node["d"] > 0:
            chain.append(node["name"])
            node = next(
                p
                for p in frames
                if p["d"] == node["d"] - 1 and p["o"] <= node["o"] < p["o"] + p["w"]
            )
        out[";".join(reversed(chain))] = f
    return out


def test_weights_and_percentages_match_input():
    frames = frames_of(flame_html(SMALL, element_id="t1"))
    root = frames[0]
    assert (root["name"], root["d"], root["o"], root["w"]) == ("all", 0, 0, 10_000)
    assert root["tip"] == "10.000 ms (100.00% of total)"
    paths = paths_of(frames)
    expected = {}  # every prefix of every stack -> its total weight
    for stack, w in SMALL.items():
        fs = stack.split(";")
        for i in range(1, len(fs) + 1):
            expected[";".join(fs[:i])] = expected.get(";".join(fs[:i]), 0) + w
    assert {p: f["w"] for p, f in paths.items()} == expected
    for f in frames:
        assert f["tip"] == f"{f['w'] / 1000:,.3f} ms ({100 * f['w'] / 10_000:.2f}% of total)"
    assert (
        paths["main (pyspark/worker.py);process (pyspark/worker.py)"]["tip"]
        == "8.000 ms (80.00% of total)"
    )


def test_nesting_and_sibling_order():
    frames = frames_of(flame_html(SMALL, element_id="t2"))
    paths = paths_of(frames)
    main, proc = "main (pyspark/worker.py)", "main (pyspark/worker.py);process (pyspark/worker.py)"
    # root first, then depth-first with siblings widest first, each starting where the previous
    # ended
    assert [f["name"] for f in frames[:4]] == [
        "all",
        "main (pyspark/worker.py)",
        "process (pyspark/worker.py)",
        "predict (lightgbm/basic.py)",
    ]
    assert (paths[main]["o"], paths[main]["d"]) == (0, 1)
    assert paths["thread:Executor task launch worker"]["o"] == 9500
    assert (paths[f"{proc};predict (lightgbm/basic.py)"]["o"], paths[f"{proc};[off-cpu]"]["o"]) == (
        0,
        6000,
    )
    assert paths[f"{main};read_int (pyspark/serializers.py)"]["o"] == 8000
    assert paths["thread:Executor task launch worker;sun.nio.ch.EPoll.wait [native]"]["d"] == 2


def test_frame_names_are_escaped_and_svg_is_well_formed():
    nasty = '<lambda> & "x" (it\'s/<mod>.py)'
    html = flame_html({f"main (a.py);{nasty}": 3, "main (a.py)": 1}, title="<b>&", element_id="t3")
    assert "<lambda>" not in html and "<mod>" not in html and "<title><b>&" not in html
    frames = frames_of(html)  # parses the SVG with xml.etree
    assert [f["name"] for f in frames] == ["all", "main (a.py)", nasty]
    assert frames[2]["w"] == 3
    assert "<title>&lt;b&gt;&amp;</title>" in html and "<b>&lt;b&gt;&amp;</b>" in html


def test_min_share_prunes_but_keeps_totals():
    stacks = {"a;big": 9_990, "a;tiny;deeper": 10, "small": 5}
    frames = frames_of(flame_html(stacks, min_share=0.01, element_id="t4"))
    paths = paths_of(frames)
    assert set(paths) == {"a", "a;big"}
    assert (
        frames[0]["w"] == 10_005 and paths["a"]["w"] == 10_000
    )  # pruned weight stays in the parents
    everything = paths_of(frames_of(flame_html(stacks, min_share=0, element_id="t5")))
    assert set(everything) == {"a", "a;big", "a;tiny", "a;tiny;deeper", "small"}


def test_ids_are_unique_per_call_and_prefix_every_element():
    ids = [
        re.search(r'<div id="([^"]+)" class="flamegraph">', flame_html(SMALL)).group(1)
        for _ in range(2)
    ]
    assert ids[0] != ids[1]
    html = flame_html(SMALL, element_id="fixed-id")
    assert set(re.findall(r'\bid="([^"]+)"', html)) == {
        "fixed-id",
        "fixed-id-q",
        "fixed-id-m",
        "fixed-id-r",
        "fixed-id-svg",
    }
    assert html.startswith("<!DOCTYPE html>") and "http" not in html.replace(
        "http://www.w3.org/2000/svg", ""
    )
    with pytest.raises(LabError):
        flame_html(SMALL, element_id='x"><script>')


def test_empty_input_raises_lab_error():
    for empty in ({}, {"a;b": 0}):
        with pytest.raises(LabError, match="run the profiler"):
            flame_html(empty)


def test_write_is_atomic_and_matches_flame_html(tmp_path, monkeypatch):
    calls = []
    real = flamegraph_html.atomic_write_bytes
    monkeypatch.setattr(
        flamegraph_html, "atomic_write_bytes", lambda p, data: calls.append(p) or real(p, data)
    )
    out = write_flame_html(SMALL, tmp_path / "sub" / "flame.html", "demo", element_id="w1")
    assert out == tmp_path / "sub" / "flame.html" and calls == [out]
    assert out.read_bytes() == flame_html(SMALL, "demo", element_id="w1").encode("utf-8")
    assert [p.name for p in out.parent.iterdir()] == ["flame.html"]  # no temporary file left behind


def test_real_fixture_root_weight_is_the_file_total():
    lines = [ln for ln in PY_FIX.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    file_total = sum(int(ln.rpartition(" ")[2]) for ln in lines)
    frames = frames_of(flame_html(read_collapsed(PY_FIX), "python task", element_id="real"))
    assert frames[0]["w"] == file_total == 478_848
    assert frames[1]["name"] == "main (pyspark/worker.py)" and frames[1]["w"] == file_total


def test_write_result_html_one_file_per_side_with_samples(tmp_path):
    py = {k: v for k, v in SMALL.items() if not k.startswith("thread:")}
    jvm = {k: v for k, v in SMALL.items() if k.startswith("thread:")}
    results = [
        ProfileResult("map_in_pandas", 10, 10, 1.0, 2, py, jvm, [], 1, 1),
        ProfileResult("synapseml", 10, None, 1.0, 2, {}, jvm, [], 0, 0),
    ]
    paths = flamegraph_html.write_result_html(results, tmp_path)
    rel = [p.relative_to(tmp_path).as_posix() for p in paths]
    assert rel == ["map_in_pandas/python.html", "map_in_pandas/jvm.html", "synapseml/jvm.html"]
    assert "map_in_pandas: python" in paths[0].read_text()
    assert sum(f["w"] for f in frames_of(paths[1].read_text())[:1]) == 500


# ---- colour agrees with the numbers ------------------------------------------------------------

JVM_RUN = {
    "thread:Executor task launch worker;java.lang.Thread.run;"
    "org.apache.spark.executor.Executor$TaskRunner.run;java.io.DataInputStream.readInt;"
    "sun.nio.ch.NioSocketImpl.implRead;sun.nio.ch.SocketDispatcher.read0 [native]": 200_000,
    "thread:stdout writer for python;org.apache.spark.sql.execution.arrow.ArrowWriter.write;"
    "java.net.Socket$SocketOutputStream.write;sun.nio.ch.SocketDispatcher.write;"
    "sun.nio.ch.FileDispatcherImpl.write0 [native]": 480_000,
    "thread:stdout writer for python;org.apache.spark.sql.execution.arrow.ArrowWriter.write": 90,
    "thread:Executor task launch worker;java.lang.Thread.run;"
    "org.apache.spark.executor.Executor$TaskRunner.run;"
    "org.apache.arrow.vector.ipc.ArrowStreamReader.loadNextBatch": 60_000,
}


def coloured_shares(html: str) -> dict[str, float]:
    """Share of the coloured area per category, measured on the drawn geometry (widths in SVG
    units; every row has the same height)."""
    area: dict[str, float] = {}
    for seg in segments_of(html):
        area[seg["cat"]] = area.get(seg["cat"], 0.0) + seg["width"]
    total = sum(area.values())
    return {c: a / total for c, a in area.items()}


@pytest.mark.parametrize("min_share", [0.0, 0.001, 0.05])
@pytest.mark.parametrize(
    "stacks,side,hide",
    [
        (read_collapsed(PY_FIX), "python", None),
        (SMALL, "python", None),
        (JVM_RUN, "jvm", None),
        (JVM_RUN, "jvm", classify.JVM_SCAFFOLDING),
    ],
)
def test_coloured_area_per_category_is_the_breakdown(stacks, side, hide, min_share):
    """A reader who adds up the colours gets `classify.categorize`'s shares, whatever is pruned
    or hidden; the segments are drawn in the category's colour, inside their frame."""
    html = flame_html(stacks, side=side, hide=hide, min_share=min_share, element_id="area")
    cats = classify.categorize(stacks, side)
    total = sum(cats.values())
    expected = {c: s / total for c, s in cats.items() if s}
    assert coloured_shares(html) == pytest.approx(expected, abs=1e-6)
    for seg in segments_of(html):
        assert seg["fill"] == classify.CATEGORY_COLORS[seg["cat"]]
    # frames that only pass calls through carry no colour of their own
    assert all(f'fill="{flamegraph_html.PASS_THROUGH}"' in f for f in html.split('class="f"')[1:])


def test_pass_through_frames_are_white_and_the_read_is_not_painted_as_a_write():
    """The issue's picture: `loadNextBatch` and `dump_stream` only pass calls through, so they
    stay white; the JVM's blocked read and write are both waiting, in their own frames."""
    html = flame_html(JVM_RUN, side="jvm", element_id="io")
    segs = {(s["cat"], s["w"]) for s in segments_of(html)}
    assert ("waiting", 200_000) in segs and ("waiting", 480_000) in segs
    assert ("serialization", 60_000) in segs  # the reader's own frame is the leaf here
    paths = paths_of(frames_of(html))
    write0 = next(p for p in paths if p.endswith("FileDispatcherImpl.write0 [native]"))
    assert paths[write0]["w"] == 480_000
    py = flame_html(read_collapsed(PY_FIX), element_id="py")
    drawn = {f["name"] for f in frames_of(py)}
    assert "dump_stream (pyspark/sql/pandas/serializers.py)" in drawn
    # the colour under dump_stream is only where its own samples end: at most its self time
    dump = [s for s in segments_of(py) if s["cat"] == "serialization"]
    assert sum(s["w"] for s in dump) == pytest.approx(
        classify.categorize(read_collapsed(PY_FIX))["serialization"] * 1e6
    )

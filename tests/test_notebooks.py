"""The committed notebooks follow the kit's anatomy and carry no outputs."""

import json
import os
import re
from pathlib import Path

import pytest

from helpers import exercises
from helpers.cli.notebooks import has_outputs

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    assert not has_outputs(path), f"run `make clean-outputs` ({path.name})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_anatomy(path):
    nb = json.loads(path.read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    first = "".join(nb["cells"][0]["source"])
    assert first.startswith("# "), "title first"
    for needle in ("Learning objectives", "Exercise", "Summary and takeaways", "stop_session"):
        assert needle in text, f"{path.name} lacks {needle!r}"
    assert nb["metadata"]["kernelspec"]["name"] == "zero-copy"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_session_outlives_run_all(path):
    """No code cell stops the session: after Run All the widgets must still reach Spark (the
    session stops with the kernel, `core.session` registers that with atexit)."""
    nb = json.loads(path.read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert not [src for src in code if "stop_session(" in src], path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solutions_are_tagged_and_assert(path):
    """Every notebook has solution cells tagged `solution` (what `make student` leaves out), and
    each tagged code cell asserts its checker's verdict, so a broken solution fails CI."""
    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if "solution" in c["metadata"].get("tags", [])]
    code = [c for c in tagged if c["cell_type"] == "code"]
    assert code, f"{path.name}: no code cell tagged 'solution'"
    for c in code:
        assert "assert " in "".join(c["source"]), f"{path.name}: a solution cell asserts nothing"


SERIES = [p for p in NOTEBOOKS if p.name[:2] <= "07"]


@pytest.mark.parametrize("path", SERIES, ids=lambda p: p.name)
def test_at_least_two_checked_exercises(path):
    """Notebooks 00-07 have two or more exercises whose solutions assert a checker's verdict
    (distinct checkers of `helpers.exercises`, called in cells tagged `solution`)."""
    nb = json.loads(path.read_text())
    solutions = "\n".join(
        "".join(c["source"])
        for c in nb["cells"]
        if c["cell_type"] == "code" and "solution" in c["metadata"].get("tags", [])
    )
    checkers = set(re.findall(r"exercises\.(check_\w+)\(", solutions))
    assert len(checkers) >= 2, f"{path.name}: {sorted(checkers)}"
    assert all(hasattr(exercises, c) for c in checkers), sorted(checkers)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solution_headings_are_tagged(path):
    """A "**Solution**" heading leaves the student copy with its solution (`make student`)."""
    nb = json.loads(path.read_text())
    for c in nb["cells"]:
        if c["cell_type"] == "markdown" and "".join(c["source"]).startswith("**Solution**"):
            assert "solution" in c["metadata"].get("tags", []), f"{path.name}: {c.get('id')}"


# ---- nothing blank: every findings cell of an executed notebook shows its findings ---------------


def _output_text(output: dict) -> str:
    """An output's text (stream, Markdown, plain or HTML; a list of lines as saved on disk)."""
    if output.get("output_type") == "stream":
        text = output.get("text", "")
    else:
        data = output.get("data", {})
        text = data.get("text/markdown") or data.get("text/plain") or data.get("text/html") or ""
    return "".join(text) if isinstance(text, list) else str(text)


def blank_findings_cells(nb: dict) -> list[str]:
    """Ids of the executed code cells that call `findings.show(` but show no finding: no output at
    all (a `show` whose Markdown was returned unseen), a bold title with no bullet under it, or a
    traceback."""
    blank = []
    for c in nb["cells"]:
        if c["cell_type"] != "code" or "findings.show(" not in "".join(c["source"]):
            continue
        outputs = c.get("outputs", [])
        text = "\n".join(_output_text(o) for o in outputs)
        failed = any(o.get("output_type") == "error" for o in outputs)
        if failed or not any(line.startswith("- ") for line in text.splitlines()):
            blank.append(c.get("id", "?"))
    return blank


def _cell(source: str, i: int) -> dict:
    return {
        "cell_type": "code",
        "id": f"c{i}",
        "metadata": {},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def test_a_findings_cell_with_no_output_fails():
    """Execute a small notebook in a real kernel: `findings.show` inside an `if`, on the last line,
    and with no finding. The first two show their bullets (once each); the empty one is blank and
    the check names it, as it would in any executed notebook of the series."""
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    setup = (
        "from helpers.core.findings import Finding\n"
        "from helpers.viz import findings\n"
        "seen = [Finding('k', 'one {n}', {'n': 1})]"
    )
    cells = [
        setup,
        "if True:\n    findings.show(seen, 'What you saw')",
        "findings.show(seen, 'What you saw')",
        "findings.show([], 'What you saw')",
    ]
    nb = nbformat.from_dict(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "python3"}},
            "cells": [_cell(src, i) for i, src in enumerate(cells)],
        }
    )
    root = str(Path(__file__).parent.parent)
    nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": root}}
    ).execute()
    assert blank_findings_cells(nb) == ["c3"]
    on_disk = json.loads(nbformat.writes(nb))  # as saved: outputs are lists of lines
    assert isinstance(on_disk["cells"][2]["outputs"][0]["data"]["text/markdown"], list)
    assert blank_findings_cells(on_disk) == ["c3"]
    shown = [[o for o in c.outputs if "text/markdown" in o.get("data", {})] for c in nb.cells[1:3]]
    assert [len(s) for s in shown] == [1, 1]  # displayed once, not again as the cell's result
    assert shown[0][0]["data"]["text/markdown"] == "**What you saw**\n\n- one 1"


EXECUTED = [Path(p) for p in os.environ.get("LAB_EXECUTED_NOTEBOOKS", "").split(os.pathsep) if p]


@pytest.mark.parametrize("path", EXECUTED, ids=lambda p: p.name)
def test_executed_notebook_has_no_blank_findings_cell(path):
    """`LAB_EXECUTED_NOTEBOOKS=a.ipynb:b.ipynb` checks notebooks run with `nbconvert --execute`."""
    assert blank_findings_cells(json.loads(path.read_text())) == [], path.name


# ---- the reading budget (CONVENTIONS.md): prose a presenter reads aloud, provenance collapsed ----

HIDDEN_TAGS = {"deep-dive", "ci"}


def visible_words(path: Path) -> int:
    """Words of the markdown cells a presenter sees (not tagged deep-dive or ci)."""
    cells = json.loads(path.read_text())["cells"]
    return sum(
        len("".join(c["source"]).split())
        for c in cells
        if c["cell_type"] == "markdown" and not HIDDEN_TAGS & set(c["metadata"].get("tags", []))
    )


def test_series_reading_budget():
    series = [p for p in NOTEBOOKS if p.name[:2] <= "10"]
    total = sum(visible_words(p) for p in series)
    assert total <= 8_000, {p.name: visible_words(p) for p in series}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_what_we_measure_is_short_and_provenance_collapsed(path):
    for c in json.loads(path.read_text())["cells"]:
        tags = set(c["metadata"].get("tags", []))
        if tags & HIDDEN_TAGS:
            assert c["metadata"].get("jupyter", {}).get("source_hidden"), (path.name, tags)
            continue
        if c["cell_type"] != "markdown":
            continue
        for para in re.split(r"\n\s*\n", "".join(c["source"])):
            if para.lstrip().startswith("**What we measure"):
                assert len(para.split()) <= 60, (path.name, para[:60])

"""The committed notebooks follow the kit's anatomy and carry no outputs."""

import json
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

"""`make student` (copies without solution cells) and `make present` (executed, converted,
stamped copies), on small hand-made notebooks and on the real series (no Spark here)."""

import json
import subprocess
import sys
from pathlib import Path

from helpers.cli import notebooks
from helpers.core.config import LINE

REPO = Path(__file__).resolve().parents[2]
SERIES = sorted((REPO / "notebooks").glob("*.ipynb"))


def _nb(cells, kernel="python3"):
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"name": kernel, "display_name": kernel, "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _code(src, tags=()):
    meta = {"tags": list(tags)} if tags else {}
    return {
        "cell_type": "code",
        "execution_count": 3,
        "metadata": meta,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "old"}],
        "source": [src],
    }


def _md(src):
    return {"cell_type": "markdown", "metadata": {}, "source": [src]}


def test_student_copy_drops_solutions_and_outputs():
    nb = _nb([_md("# T"), _code("x = 1"), _code("assert x == 1", ["solution"]), _md("## End")])
    out = notebooks.student_copy(nb)
    assert [c["source"] for c in out["cells"]] == [["# T"], ["x = 1"], ["## End"]]
    assert out["cells"][1]["outputs"] == [] and out["cells"][1]["execution_count"] is None
    assert len(nb["cells"]) == 4  # the original is left alone


def test_make_student_writes_every_notebook_without_solutions(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "helpers", "student", "--out", str(tmp_path), *map(str, SERIES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    for src in SERIES:
        original = json.loads(src.read_text())["cells"]
        copy = json.loads((tmp_path / src.name).read_text())["cells"]
        kept = [c for c in original if not notebooks.is_solution(c)]
        assert [c["source"] for c in copy] == [c["source"] for c in kept], src.name
        assert not any(notebooks.is_solution(c) for c in copy)
    assert "student/" in (REPO / ".gitignore").read_text().splitlines()


def test_present_executes_converts_and_stamps(tmp_path):
    src = tmp_path / "in" / "09_tiny.ipynb"
    src.parent.mkdir()
    src.write_text(json.dumps(_nb([_md("# Tiny"), _code("print(6 * 7)"), _md("## Next")])))
    run = notebooks.present_notebook(src, tmp_path / "out", "ci", timeout=120)
    executed = json.loads(Path(run["files"]["ipynb"]).read_text())
    stamp = "".join(executed["cells"][0]["source"])
    assert "Presented copy" in stamp and "LAB_SCALE=ci" in stamp
    assert f"{LINE.label} (pyspark" in stamp
    assert "".join(executed["cells"][2]["outputs"][0]["text"]).strip() == "42"
    html = Path(run["files"]["html"]).read_text()
    slides = Path(run["files"]["slides"]).read_text()
    assert "Presented copy" in html and "42" in html
    assert "reveal" in slides.lower() and slides.count("<section") >= 2
    assert run["seconds"] >= 0 and run["notebook"] == "09_tiny.ipynb"
    assert "present/" in (REPO / ".gitignore").read_text().splitlines()

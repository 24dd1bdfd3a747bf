"""The README stays a first page (short, no clock times, only notebooks that exist, links that
resolve), and docs/ARCHITECTURE.md's layer table is the one the tree gives (`python -m helpers
layers`)."""

import re

from helpers.cli.layers import BEGIN, END, layer_table, marked_table
from helpers.core.config import ROOT

README = ROOT / "README.md"


def test_architecture_layer_table_matches_the_tree():
    hint = "run `make layers` and paste it into docs/ARCHITECTURE.md"
    assert marked_table(ROOT / "docs" / "ARCHITECTURE.md") == layer_table(), hint


def test_marked_table_is_empty_without_markers(tmp_path):
    (tmp_path / "R.md").write_text("no table")
    assert marked_table(tmp_path / "R.md") == ""
    (tmp_path / "R.md").write_text(f"x\n{BEGIN}\n| a |\n{END}\n")
    assert marked_table(tmp_path / "R.md") == "| a |\n"


def test_readme_is_a_first_page():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    assert not re.findall(r"\b\d{1,2}:\d{2}\b", text), "clock times belong in docs/BENCHMARKS.md"
    assert "load average" not in text.lower()
    assert "```mermaid" in text and "pyspark.daemon" in text


def test_readme_lists_only_notebooks_that_exist():
    listed = set(re.findall(r"^\| `(\d\d_[a-z0-9_]+)` \|", README.read_text(), flags=re.M))
    present = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert len(listed) >= 11 and listed <= present, listed - present


def test_readme_and_docs_links_resolve():
    for doc in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"

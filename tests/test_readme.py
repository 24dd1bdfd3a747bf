"""The README's layer table is the one the tree gives (`python -m helpers layers`)."""

from helpers.cli.layers import BEGIN, END, layer_table, readme_table
from helpers.core.config import ROOT


def test_readme_layer_table_matches_the_tree():
    hint = "run `make layers` and paste it into README"
    assert readme_table(ROOT / "README.md") == layer_table(), hint


def test_readme_table_is_empty_without_markers(tmp_path):
    (tmp_path / "R.md").write_text("no table")
    assert readme_table(tmp_path / "R.md") == ""
    (tmp_path / "R.md").write_text(f"x\n{BEGIN}\n| a |\n{END}\n")
    assert readme_table(tmp_path / "R.md") == "| a |\n"

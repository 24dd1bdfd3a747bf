"""`python -m helpers layers`: the package's layer table, read from the tree (docs/ARCHITECTURE.md,
"The helper package", is this command's output; tests/test_readme.py keeps the two equal)."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import LAYERS

PACKAGE = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- layers:begin -->", "<!-- layers:end -->"


def _first_line(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def _modules(folder: Path) -> list[str]:
    names = []
    for p in sorted(folder.rglob("*.py")):
        rel = p.relative_to(folder)
        if p.name == "__init__.py":
            continue
        names.append("`" + "/".join(rel.with_suffix("").parts) + "`")
    return names


def layer_table(root: Path = PACKAGE) -> str:
    """Markdown table: one row per layer, bottom first, with its docstring's first paragraph and
    its modules."""
    rows = ["| # | layer | what it holds | modules |", "|---|---|---|---|"]
    for i, name in enumerate(LAYERS):
        folder = root / name
        if folder.is_dir():
            about, mods = _first_line(folder / "__init__.py"), _modules(folder)
        else:
            about, mods = _first_line(root / f"{name}.py"), [f"`{name}`"]
        about = about.split(": ", 1)[-1] if about.startswith("Layer") else about
        rows.append(f"| {i} | `helpers/{name}` | {about} | {', '.join(mods)} |")
    return "\n".join(rows) + "\n"


def marked_table(doc: Path) -> str:
    """The table between the layers markers of the Markdown file `doc` ("" without the markers)."""
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        return ""
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def layers_args(p) -> None:
    pass


def layers_run(args) -> int:
    print(layer_table(), end="")
    return 0

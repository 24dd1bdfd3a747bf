"""Helper code behind each notebook: what a learner would read to see everything a notebook runs.

usage: python .ci/helper_lines.py [ROOT]     (ROOT: a checkout of the kit; default: this one)

For each notebook in ROOT/notebooks, prints
  - its code lines (code cells, without cells tagged `ci`),
  - the code lines of the helper modules its cells import ("direct"),
  - and of those plus every helper module they import in turn ("transitive").
Code lines are counted without blank lines, comments and docstrings. The closing notes of issue 20
quote this table before and after (`git worktree add /tmp/base <commit>` and pass that path).
"""

import ast
import io
import json
import sys
import tokenize
from pathlib import Path

SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
        tokenize.ENDMARKER, tokenize.ENCODING}


def code_lines(source: str) -> int:
    """Lines holding a token other than comments, blanks and docstrings."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return 0
    docs: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            first = body[0] if body else None
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docs.update(range(first.lineno, first.end_lineno + 1))
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in SKIP:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return len(lines - docs)


def module_file(root: Path, dotted: str) -> Path | None:
    base = root.joinpath(*dotted.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def imported_modules(root: Path, tree: ast.AST, package: str = "") -> set[str]:
    """Kit modules an AST imports (`from helpers.x import y` counts y when y is a module)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                mod = ".".join(parts + ([mod] if mod else []))
            names = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "helpers" and module_file(root, name):
                found.add(name)
    return found


def closure(root: Path, start: set[str]) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(root, name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        todo.extend(imported_modules(root, ast.parse(path.read_text()), package) - seen)
        # importing helpers.a.b runs helpers/__init__ and helpers/a/__init__ too
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
    return seen


def lines_of(root: Path, modules: set[str]) -> int:
    files = {module_file(root, m) for m in modules}
    return sum(code_lines(f.read_text()) for f in files)


def notebook_source(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    out = []
    for cell in cells:
        if cell["cell_type"] != "code" or "ci" in cell.get("metadata", {}).get("tags", []):
            continue
        src = "".join(cell["source"])
        keep = [line for line in src.splitlines() if not line.lstrip().startswith(("%", "!"))]
        out.append("\n".join(keep))
    return "\n".join(out)


def main(root: Path) -> int:
    print(f"{'notebook':<40} {'code':>5} {'direct':>7} {'transitive':>10}  modules (direct)")
    for nb in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        src = notebook_source(nb)
        direct = imported_modules(root, ast.parse(src))
        # a package imported only for its submodules (`from helpers.lab import scale`) is not read
        direct = {m for m in direct if not any(o.startswith(m + ".") for o in direct)} or direct
        every = closure(root, direct)
        print(f"{nb.stem[:40]:<40} {code_lines(src):5d} {lines_of(root, direct):7d}"
              f" {lines_of(root, every):10d}  {len(direct)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()))

"""The package's layers, read from the source: every import of a `helpers` module goes down the
layer order (or stays within its own subpackage), no two modules import each other through any
chain, and no `helpers` import hides inside a function (deferring a heavy third-party import is
fine). Pure: parses files, imports nothing from the kit but its layer list."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import helpers

HELPERS = Path(__file__).resolve().parent.parent / "helpers"

# Bottom to top. A module may import from its own layer (no cycle) and from the layers below.
LAYERS = (*helpers.LAYERS, "__main__")


def module_name(path: Path, root: Path = HELPERS) -> str:
    parts = ["helpers", *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    """Index of the layer a module belongs to; the package's own __init__ is below everything."""
    parts = module.split(".")
    if len(parts) == 1:
        return -1
    if parts[1] not in LAYERS:
        raise AssertionError(f"{module}: not in a layer; add its subpackage to LAYERS ({LAYERS})")
    return LAYERS.index(parts[1])


def kit_imports(path: Path, root: Path = HELPERS) -> list[tuple[str, int, bool]]:
    """(imported helpers module, line, inside a function?) for every import of the kit in `path`.
    Relative imports are resolved against the module's package; `from helpers.x import y` names
    the module `helpers.x.y` when that file exists, else `helpers.x`."""
    modules = {module_name(p, root) for p in root.rglob("*.py")}
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    nested: set[int] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            nested.update(id(n) for n in ast.walk(fn) if n is not fn)
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([mod] if mod else []))
            targets = [
                f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names
            ]
        for t in dict.fromkeys(targets):
            if t == "helpers" or t.startswith("helpers."):
                found.append((t, node.lineno, id(node) in nested))
    return found


def import_graph(root: Path = HELPERS) -> dict[str, set[str]]:
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    return {m: {t for t, _, _ in kit_imports(p, root)} for m, p in modules.items()}


def upward_imports(root: Path = HELPERS) -> list[str]:
    bad = []
    for p in sorted(root.rglob("*.py")):
        me = module_name(p, root)
        for target, line, _ in kit_imports(p, root):
            if layer_of(target) > layer_of(me):
                bad.append(
                    f"{p.relative_to(root.parent)}:{line}: {me} (layer {LAYERS[layer_of(me)]})"
                    f" imports {target} (layer {LAYERS[layer_of(target)]}, above it)"
                )
    return bad


def function_level_imports(root: Path = HELPERS) -> list[str]:
    return [
        f"{p.relative_to(root.parent)}:{line}: import of {t} inside a function"
        for p in sorted(root.rglob("*.py"))
        for t, line, inner in kit_imports(p, root)
        if inner
    ]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), plus self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_module_sits_in_a_layer():
    for p in HELPERS.rglob("*.py"):
        layer_of(module_name(p))


def test_no_upward_import():
    assert upward_imports() == []


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_no_kit_import_inside_a_function():
    assert function_level_imports() == []


# The checks themselves, on a small throw-away package: each one must be able to fail.
def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        f = root / "helpers" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return root / "helpers"


def test_only_widget_views_in_viz_can_run_a_job():
    """A viz function that takes a Spark session reruns an experiment: it must be a widget's view
    (`*_view`), the one exception the layer's contract names."""
    bad = []
    for p in sorted((HELPERS / "viz").rglob("*.py")):
        for fn in ast.walk(ast.parse(p.read_text())):
            if isinstance(fn, ast.FunctionDef) and "spark" in [a.arg for a in fn.args.args]:
                if not fn.name.endswith("_view"):
                    bad.append(f"{p.name}: {fn.name}")
    assert not bad, f"viz functions that take a session but are not *_view: {bad}"


def test_checker_flags_an_upward_import(tmp_path):
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "core/__init__.py": "",
            "viz/__init__.py": "",
            "core/config.py": "from helpers.viz import charts\n",
            "viz/charts.py": "from helpers.core import config\n",
        },
    )
    assert len(upward_imports(root)) == 1
    assert "helpers.core.config (layer core) imports helpers.viz.charts" in upward_imports(root)[0]


def test_checker_flags_a_cycle_within_a_layer(tmp_path):
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "lab/__init__.py": "",
            "lab/a.py": "from .b import x\n",
            "lab/b.py": "from helpers.lab.a import y\n",
        },
    )
    assert upward_imports(root) == []
    assert cycles(import_graph(root)) == [["helpers.lab.a", "helpers.lab.b"]]


def test_checker_flags_a_deferred_kit_import_but_not_a_third_party_one(tmp_path):
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "lab/__init__.py": "",
            "lab/a.py": "def f():\n    import numpy\n    from ..core import config\n",
        },
    )
    assert function_level_imports(root) == [
        "helpers/lab/a.py:3: import of helpers.core inside a function"
    ]


def test_checker_rejects_a_module_outside_the_layers(tmp_path):
    root = _write(tmp_path, {"__init__.py": "", "misc.py": ""})
    with pytest.raises(AssertionError, match="not in a layer"):
        for p in root.rglob("*.py"):
            layer_of(module_name(p, root))

"""Notebook housekeeping: the committed notebooks carry no outputs (README, "Outputs")."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.core.config import LabError, atomic_write_bytes


def _read_notebook(path: Path) -> dict:
    """The notebook at `path` as JSON; LabError when it is not a notebook."""
    try:
        nb = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LabError(f"{path} is not a notebook (not JSON: {exc}).") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise LabError(f"{path} is not a notebook (no list of cells).")
    return nb


def has_outputs(path: Path) -> bool:
    """True when any code cell of the notebook has outputs or an execution count."""
    nb = json.loads(Path(path).read_text())
    return any(
        c.get("outputs") or c.get("execution_count")
        for c in nb["cells"]
        if c["cell_type"] == "code"
    )


def strip_outputs(path: Path) -> None:
    """Remove outputs and execution counts in place (atomic write)."""
    nb = _read_notebook(path)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    atomic_write_bytes(Path(path), (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode())

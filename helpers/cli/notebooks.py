"""Notebook housekeeping: the committed notebooks carry no outputs (README, "The notebooks")."""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from helpers.core.config import LINE, LabError, atomic_write_bytes

CELL_TYPES = ("code", "markdown", "raw")


def _cell_problem(cell) -> str | None:
    """What is wrong with one cell of a notebook (nbformat 4), or None."""
    if not isinstance(cell, dict):
        return f"is a {type(cell).__name__}, not an object"
    if cell.get("cell_type") not in CELL_TYPES:
        return f"has cell_type {cell.get('cell_type')!r} (not one of {', '.join(CELL_TYPES)})"
    src = cell.get("source")
    if not (
        isinstance(src, str) or (isinstance(src, list) and all(isinstance(x, str) for x in src))
    ):
        return "has no source text (a string or a list of strings)"
    meta = cell.get("metadata", {})
    if not isinstance(meta, dict):
        return "has metadata that is not an object"
    tags = meta.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return "has tags that are not a list of strings"
    if cell["cell_type"] == "code" and not isinstance(cell.get("outputs", []), list):
        return "has outputs that are not a list"
    return None


def read_notebook(path: Path) -> dict:
    """The notebook at `path` as JSON; LabError (naming the file and the problem) when it is not
    a notebook or one of its cells is malformed."""
    try:
        nb = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LabError(f"{path} is not a notebook (not JSON: {exc}).") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise LabError(f"{path} is not a notebook (no list of cells).")
    if not isinstance(nb.get("metadata", {}), dict):
        raise LabError(f"{path} is not a valid notebook: its metadata is not an object.")
    for i, cell in enumerate(nb["cells"]):
        problem = _cell_problem(cell)
        if problem:
            raise LabError(f"{path} is not a valid notebook: cell {i} {problem}.")
    return nb


def refuse_overwrite(inputs, outputs, overwrite: bool = False) -> None:
    """LabError when a file to be written (`outputs`) is one of the `inputs` (the source
    notebooks) or two outputs are the same file, unless `overwrite`; checked before anything is
    written, so a refused run changes nothing."""
    sources = {Path(p).resolve() for p in inputs}
    seen = set()
    for out in outputs:
        dest = Path(out).resolve()
        if dest in sources and not overwrite:
            raise LabError(
                f"{out} would overwrite the source notebook {dest}: choose another --out folder "
                "(or pass --overwrite to replace it on purpose)."
            )
        if dest in seen:
            raise LabError(
                f"two notebooks would be written to {out}: give notebooks with different names."
            )
        seen.add(dest)


def has_outputs(path: Path) -> bool:
    """True when any code cell of the notebook has outputs or an execution count."""
    nb = read_notebook(path)
    return any(
        c.get("outputs") or c.get("execution_count")
        for c in nb["cells"]
        if c["cell_type"] == "code"
    )


def strip_outputs(path: Path) -> None:
    """Remove outputs and execution counts in place (atomic write)."""
    nb = read_notebook(path)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    atomic_write_bytes(Path(path), (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode())


# ---- student copies: the notebooks without their solution cells -------------------------------

SOLUTION_TAG = "solution"


def is_solution(cell: dict) -> bool:
    """True for a cell tagged `solution` (the cells `make student` leaves out)."""
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def student_copy(nb: dict) -> dict:
    """A copy of notebook `nb` without its solution cells and without outputs."""
    out = json.loads(json.dumps(nb))
    out["cells"] = [c for c in out["cells"] if not is_solution(c)]
    for cell in out["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return out


def write_student_copies(paths, out_dir, overwrite: bool = False) -> list[Path]:
    """Write `student_copy` of each notebook into `out_dir` (atomically, same file names);
    returns the paths written. Every notebook is read and checked first, and a copy that would
    replace a source notebook is refused (`refuse_overwrite`) unless `overwrite`."""
    dests = [Path(out_dir) / Path(path).name for path in paths]
    refuse_overwrite(paths, dests, overwrite)
    copies = [student_copy(read_notebook(Path(path))) for path in paths]
    for nb, dest in zip(copies, dests):
        atomic_write_bytes(dest, (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode())
    return dests


# ---- the presenter pack: executed notebook, static HTML, reveal.js slides, each stamped -------


def run_stamp(scale: str) -> dict:
    """What a presented copy was made with: UTC date, machine, Spark line and package versions."""

    def v(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    spark = v("pyspark")
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.node()} ({platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs)",
        "spark_line": f"{LINE.label} (pyspark {spark})",
        "versions": {
            "python": platform.python_version(),
            **{p: v(p) for p in ("pyspark", "pyarrow", "pandas", "numpy", "lightgbm")},
        },
        "lab_scale": scale,
    }


def stamp_cell(stamp: dict) -> dict:
    """A Markdown cell that says when, where and with what a presented copy was executed."""
    versions = ", ".join(f"{k} {val}" for k, val in stamp["versions"].items())
    text = (
        f"> **Presented copy**, executed {stamp['date_utc']} on {stamp['machine']}; "
        f"{stamp['spark_line']}; {versions}; LAB_SCALE={stamp['lab_scale']}. "
        "Every number below comes from that run; rerun the notebook for yours."
    )
    import nbformat

    return nbformat.v4.new_markdown_cell(text)  # with a cell id (nbformat 4.5)


def _slide_metadata(nb: dict) -> None:
    """One reveal.js slide per section: a Markdown cell opening with '#' or '##' starts a
    slide, every other cell continues it."""
    for cell in nb["cells"]:
        src = "".join(cell["source"]).lstrip()
        head = cell["cell_type"] == "markdown" and (src.startswith("# ") or src.startswith("## "))
        cell.setdefault("metadata", {})["slideshow"] = {"slide_type": "slide" if head else "-"}


def present_files(path, out_dir) -> list[Path]:
    """The files `present_notebook` writes for notebook `path` into `out_dir`."""
    stem, out = Path(path).stem, Path(out_dir)
    return [out / f"{stem}.ipynb", out / f"{stem}.html", out / f"{stem}.slides.html"]


def present_notebook(
    path, out_dir, scale: str, timeout: int = 1800, execute: bool = True, overwrite: bool = False
) -> dict:
    """Execute notebook `path` (its own kernel, LAB_SCALE=`scale`) and write into `out_dir` the
    executed `.ipynb`, a static `.html` and reveal.js `.slides.html`, each opening with
    `stamp_cell`. Returns {notebook, seconds (wall time of the execution), files}. Refuses an
    `out_dir` where the executed copy would replace the source, unless `overwrite`; a cell that
    raises or runs out of time is one LabError naming the notebook and the cell."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path, out = Path(path), Path(out_dir)
    refuse_overwrite([path], present_files(path, out), overwrite)
    nb = nbformat.reads(json.dumps(read_notebook(path)), as_version=4)
    t0 = time.perf_counter()
    if execute:
        old = os.environ.get("LAB_SCALE")
        os.environ["LAB_SCALE"] = scale
        try:
            resources = {"metadata": {"path": str(path.parent)}}
            NotebookClient(nb, timeout=timeout, resources=resources).execute()
        except CellExecutionError as exc:
            raise LabError(
                f"{path}: a cell raised {exc.ename}: {str(exc.evalue).splitlines()[0][:200]} "
                "(nothing written; run the notebook to see the cell)."
            ) from None
        except CellTimeoutError:
            raise LabError(
                f"{path}: a cell ran longer than --timeout {timeout} s (nothing written)."
            ) from None
        except DeadKernelError:
            raise LabError(f"{path}: the kernel died while executing (nothing written).") from None
        finally:
            if old is None:
                os.environ.pop("LAB_SCALE", None)
            else:
                os.environ["LAB_SCALE"] = old
    from nbconvert import HTMLExporter, SlidesExporter

    seconds = time.perf_counter() - t0
    nb.cells.insert(0, nbformat.from_dict(stamp_cell(run_stamp(scale))))
    _slide_metadata(nb)
    stem = path.stem
    files = {
        "ipynb": atomic_write_bytes(out / f"{stem}.ipynb", nbformat.writes(nb).encode()),
        "html": atomic_write_bytes(
            out / f"{stem}.html", HTMLExporter().from_notebook_node(nb)[0].encode()
        ),
        "slides": atomic_write_bytes(
            out / f"{stem}.slides.html",
            SlidesExporter().from_notebook_node(nb)[0].encode(),
        ),
    }
    written = {k: str(f) for k, f in files.items()}
    return {"notebook": path.name, "seconds": seconds, "files": written}

"""The kit ships itself to executors the way a user ships code: a zip of `helpers/` added with
`SparkContext.addPyFile` (the programmatic twin of `spark.submit.pyFiles` / `--py-files`), never
through a `PYTHONPATH` shared with the driver. Executors on other hosts then import
`helpers.model.cache`, the lean daemon and the worker profiler from that archive.

Generated data under `helpers/data/` stays out of the archive (executors get the model by
broadcast and the rows from Spark).
"""

from __future__ import annotations

import hashlib
import importlib
import io
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path

from helpers.core.config import CACHE_DIR, ROOT, LabError, atomic_write_bytes

KIT = ROOT / "helpers"
SKIP_DIRS = {"__pycache__", "data"}
MISSING = "No module named 'helpers"


def is_local(master: str) -> bool:
    """True for `local`, `local[N]`, `local[*]`, `local-cluster[...]`: executors share the
    driver's files. False for `spark://`, `yarn`, `k8s://`, ..."""
    return master.startswith("local")


def kit_files(root: Path = KIT) -> list[Path]:
    """The files of the kit that go into the archive, sorted (no caches, no generated data)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not SKIP_DIRS.intersection(p.relative_to(root).parts)
        and p.suffix not in (".pyc", ".parquet")
    )


def kit_archive(dest: Path | None = None, root: Path = KIT) -> Path:
    """A zip of the kit (`helpers/...` inside) named by its content digest, written atomically
    under `.cache/kit/` unless an identical one is there already. Returns its path."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in kit_files(root):
            info = zipfile.ZipInfo(
                str(Path(root.name) / p.relative_to(root)), (1980, 1, 1, 0, 0, 0)
            )
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, p.read_bytes())
    payload = buf.getvalue()
    path = Path(dest or CACHE_DIR / "kit") / f"helpers-{hashlib.sha1(payload).hexdigest()[:12]}.zip"
    if not path.exists():
        atomic_write_bytes(path, payload)
    return path


def ship_kit(spark, archive: Path | None = None) -> Path:
    """Add the kit's zip to `spark`'s Python files (every executor's workers import from it);
    the driver keeps importing its own copy. Returns the archive's path."""
    archive = archive or kit_archive()
    before = list(sys.path)
    spark.sparkContext.addPyFile(str(archive))
    sys.path[:] = before  # addPyFile also puts the zip on the driver's path: not wanted here
    importlib.invalidate_caches()
    return archive


def kit_missing_hint(exc: BaseException) -> LabError | None:
    """A one-line LabError naming the setting to add when `exc` (a failed job) says an executor
    could not import the kit; None for any other failure."""
    text = str(exc)
    if MISSING not in text:
        return None
    if "module specification for 'helpers" in text:  # `python -m` of a kit daemon, before any task
        return LabError(
            "An executor's Python daemon could not import the kit (No module named 'helpers'): "
            f"set spark.executorEnv.PYTHONPATH={kit_archive().name} (the shipped zip, fetched "
            "into each executor's working directory) or install the kit on the executors."
        )
    return LabError(
        "An executor could not import the kit (No module named 'helpers'): ship it with "
        f"spark.submit.pyFiles={kit_archive()} (or `--py-files`, or "
        "helpers.core.ship.ship_kit(spark))."
    )


@contextmanager
def kit_hints():
    """Inside this block, a failed job that says an executor could not import the kit is re-raised
    as `kit_missing_hint`'s one-line LabError; any other exception passes unchanged."""
    try:
        yield
    except Exception as exc:
        hint = kit_missing_hint(exc)
        if hint is not None:
            raise hint from None
        raise

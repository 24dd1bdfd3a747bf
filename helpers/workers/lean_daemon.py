"""Spark's Python daemon, with pyspark imported from site-packages instead of `pyspark.zip`.

Why: Spark puts `pyspark.zip`, `py4j-*-src.zip` and its own spark-core jar on the workers'
PYTHONPATH (`PythonUtils.sparkPythonPath`; the jar is there for a pyspark packaged inside it), and
`pyspark/worker.py` (Spark 3.5) calls `importlib.invalidate_caches()` at the start of every task.
On Python 3.10 and 3.11 a `zipimporter`'s `invalidate_caches()` re-reads the whole directory of its
archive right away (CPython issue #103200, made lazy in 3.12), so every task pays for parsing the
archives' directories — the spark-core jar alone has thousands of entries — tens of milliseconds,
measured by `helpers.lab.taskcost`. Spark later calls it only when needed (SPARK-54744).
When the same pyspark and py4j are installed as plain packages (a pip-installed pyspark always
is), this module takes the zips off `sys.path` *before* pyspark is imported, and every jar that
holds no Python module (nothing can ever be imported from it), then runs the stock
`pyspark.daemon.manager()`; the forked workers inherit that path.

Nothing else changes. It keeps the zips when pyspark or py4j would not be importable without them,
or when the installed pyspark's version differs from the zip's (a cluster whose Spark differs from
the driver's pip package), and keeps any jar with a .py/.pyc/.so member. Used with
`spark.python.daemon.module=helpers.workers.lean_daemon`.

Keep this module free of `helpers` and `pyspark` imports at module level: it must run before them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import zipfile

_VERSION = re.compile(r"""__version__(?:\s*:\s*str)?\s*=\s*["']([^"']+)["']""")


def spark_zips(path: list[str]) -> list[str]:
    """The entries of `path` that are Spark's archives (pyspark.zip, py4j-*-src.zip)."""
    return [
        p
        for p in path
        if p.endswith(".zip") and os.path.basename(p).startswith(("pyspark", "py4j"))
    ]


def _zip_version(zips: list[str]) -> str | None:
    for z in zips:
        if os.path.basename(z).startswith("pyspark"):
            try:
                with zipfile.ZipFile(z) as archive:
                    m = _VERSION.search(archive.read("pyspark/version.py").decode())
                    return m.group(1) if m else None
            except (OSError, KeyError, zipfile.BadZipFile):
                return None
    return None


def _installed_version(spec) -> str | None:
    try:
        with open(os.path.join(os.path.dirname(spec.origin), "version.py")) as fh:
            m = _VERSION.search(fh.read())
            return m.group(1) if m else None
    except (OSError, TypeError):
        return None


def drop_spark_zips() -> list[str]:
    """Take Spark's archives off `sys.path` if the same pyspark (and a py4j) import without them;
    return the entries removed (empty when they were kept)."""
    zips = spark_zips(sys.path)
    if not zips or "pyspark" in sys.modules:
        return []
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if p not in zips]
    importlib.invalidate_caches()
    spark_spec, py4j_spec = importlib.util.find_spec("pyspark"), importlib.util.find_spec("py4j")
    if (
        spark_spec is None
        or py4j_spec is None
        or _installed_version(spark_spec) != _zip_version(zips)
    ):
        sys.path[:] = saved
        return []
    for z in zips:
        sys.path_importer_cache.pop(z, None)
    return zips


_PYTHON_SUFFIXES = (".py", ".pyc", ".so", ".pyd")


def python_free_jars(path: list[str]) -> list[str]:
    """The `.jar` entries of `path` that hold no Python module (no .py/.pyc/.so member): Spark puts
    its own spark-core jar on the workers' path (`PythonUtils.sparkPythonPath`, for a pyspark
    packaged inside the jar), and importing from it can never succeed when it holds no Python."""
    out = []
    for p in path:
        if not p.endswith(".jar"):
            continue
        try:
            with zipfile.ZipFile(p) as archive:
                if not any(n.endswith(_PYTHON_SUFFIXES) for n in archive.namelist()):
                    out.append(p)
        except (OSError, zipfile.BadZipFile):
            continue
    return out


def drop_python_free_jars() -> list[str]:
    """Take the Python-free jars off `sys.path` (and their cached importers); return them."""
    jars = python_free_jars(sys.path)
    if jars:
        sys.path[:] = [p for p in sys.path if p not in jars]
        for key in [k for k in sys.path_importer_cache if k.startswith(tuple(jars))]:
            sys.path_importer_cache.pop(key, None)
    return jars


if __name__ == "__main__":
    drop_spark_zips()
    drop_python_free_jars()
    from pyspark.daemon import manager

    manager()

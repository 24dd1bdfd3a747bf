"""The two Spark lines the kit runs on (3.5 with SynapseML, the newest 4.x without), and the few
differences between them that the running Spark cannot report itself.

Everything else is asked from the running Spark: `spark.version`, its conf registry
(`helpers.core.session.conf_default`), the operator names in its physical plan. This module
imports nothing from Spark or the rest of `helpers`, so `make` can run it with a bare Python to
check the line and the Java before it builds a venv.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version


@dataclass(frozen=True)
class Line:
    name: str  # the value of `make ... SPARK=<name>`
    label: str  # how notebooks and the kernel list name it
    pyspark: str  # the leading version component(s) of the pyspark packages of this line
    requirements: str  # the one file with this line's runtime pins
    environment: str  # its conda twin (same pins, checked by tests/core/test_config.py)
    venv: str
    kernel: str  # Jupyter kernel name (display name = label)
    java_majors: tuple[int, ...]  # the Javas the kit accepts for this line
    synapseml: bool  # SynapseML's jars for this line resolve from Maven Central
    lock: str  # every package of this line, pinned with hashes (`make lock`)
    pythons: tuple[str, ...]  # the Python versions the line runs on with the kit's pins


# Pythons: pyspark 3.5.9 declares 3.8-3.11, but the kit's pins (matplotlib 3.11, ipykernel 7,
# pillow) need 3.11, so the 3.5 line runs on 3.11 only; pyspark 4.3.0 declares 3.11-3.14 and the
# 4.x line runs on 3.11-3.13 (the lock resolves for all three; 3.13 runs in CI).
# Javas: Spark 3.5 documents 8/11/17; the kit also accepts 21 there. Spark 4 needs 17 or 21.
LINES: dict[str, Line] = {
    "3.5": Line(
        "3.5", "Spark 3.5", "3.5", "requirements.txt", "environment.yml", ".venv", "zero-copy",
        (8, 11, 17, 21), True, "requirements.lock", ("3.11",),
    ),
    "4": Line(
        "4", "Spark 4.x", "4", "requirements-spark4.txt", "environment-spark4.yml",
        ".venv-spark4", "zero-copy-spark4", (17, 21), False, "requirements-spark4.lock",
        ("3.11", "3.12", "3.13"),
    ),
}  # fmt: skip
DEFAULT_LINE = "3.5"
TEST_REQUIREMENTS = "requirements-test.txt"  # shared by both lines


def version_tuple(text: str) -> tuple[int, ...]:
    """'4.3.0' -> (4, 3, 0); '3.5.9.dev0' -> (3, 5, 9)."""
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def line_of(pyspark_version: str) -> Line | None:
    """The line a pyspark version belongs to, or None for a version the kit has no line for."""
    v = version_tuple(pyspark_version)
    for line in LINES.values():
        if v[: len(version_tuple(line.pyspark))] == version_tuple(line.pyspark):
            return line
    return None


def installed_pyspark() -> str | None:
    """The pyspark version installed next to this interpreter (None without pyspark)."""
    try:
        return version("pyspark")
    except PackageNotFoundError:
        return None


def current_line() -> Line:
    """The line of the installed pyspark; the default (3.5) when pyspark is missing or unknown
    (the environment check then says what to install)."""
    found = installed_pyspark()
    return (line_of(found) if found else None) or LINES[DEFAULT_LINE]


def line_names() -> str:
    return ", ".join(f"SPARK={n}" for n in LINES)


def python_range(line: Line) -> str:
    """'3.11' or '3.11-3.13': the Pythons of a line, for one-line messages."""
    ends = dict.fromkeys((line.pythons[0], line.pythons[-1]))
    return "-".join(ends)


# ---- what changed between lines and cannot be asked from a running Spark ---------------------
# Each entry: the first version that has it, and where the change comes from.

SINCE = {
    # pyspark/worker.py (3.5) and worker_util.py (4.0, 4.1) call importlib.invalidate_caches() for
    # every task; from 4.2 only when sys.path changed (apache/spark#53518).
    "conditional_invalidate_caches": ((4, 2), "apache/spark#53518"),
    # The JVM runner feeds each worker from its own writer thread in 3.5; 4.0 writes from the task
    # thread itself (SPARK-44705).
    "single_threaded_runner": ((4, 0), "SPARK-44705"),
    # Spark's launcher adds -Dio.netty.tryReflectionSetAccessible=true to the JVM itself from 4.0.
    "netty_reflection_flag_builtin": ((4, 0), "SPARK-47610"),
    # spark.sql.execution.pythonUDF.arrow.enabled defaults to true from 4.2 (false in 3.5-4.1):
    # a plain @udf is Arrow-optimized unless it says useArrow=False.
    "arrow_udf_by_default": ((4, 2), "SPARK-54555"),
    # spark.sql.execution.arrow.maxBytesPerBatch (ArrowWriter stops a batch at a byte size) exists
    # from 4.0; 3.5 cuts batches by row count only (maxRecordsPerBatch).
    "arrow_max_bytes_per_batch": ((4, 0), "SPARK-51316"),
    # With spark.executor.processTreeMetrics.enabled, ProcfsMetricsGetter (spark-core) lists the
    # executor's child processes on every metrics poll: 3.5 starts one `pgrep -P <pid>`
    # (ProcessBuilder) per process of the tree; from 4.0 it walks java.lang.ProcessHandle instead.
    "procfs_tree_without_pgrep": ((4, 0), "spark-core ProcfsMetricsGetter (javap, 3.5.9 vs 4.x)"),
}


def has(feature: str, spark_version: str) -> bool:
    """Whether Spark `spark_version` has `feature` (a key of SINCE)."""
    first, _ = SINCE[feature]
    return version_tuple(spark_version)[:2] >= first

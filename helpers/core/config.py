"""Paths, versions, the scale switch, the Java check and the kit's error type.

Everything else in `helpers` builds on this module; it imports nothing from Spark.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers.core.lines import (
    LINES,
    TEST_REQUIREMENTS,
    Line,
    current_line,
    line_names,
    python_range,
)

ROOT = Path(__file__).resolve().parents[2]  # the project folder (helpers/core/config.py)
DATA_DIR = Path(os.environ.get("LAB_DATA_DIR", ROOT / "data"))
CACHE_DIR = ROOT / ".cache"
IVY_DIR = CACHE_DIR / "ivy"
JARS_DIR = IVY_DIR / "jars"
RUNS_DIR = Path(os.environ.get("LAB_RUNS_DIR", ROOT / "runs"))

LINE = current_line()  # the line of the installed pyspark (helpers/core/lines.py)
SPARK_LINE = LINE.label.removeprefix("Spark ")
SYNAPSEML_COORDINATE = "com.microsoft.azure:synapseml-lightgbm_2.12:1.1.3"
# Test-only or duplicate modules that SynapseML's POMs drag in; the kit needs none of them,
# and scala-reflect 2.12.15 would shadow the Scala 2.12.18 that Spark ships.
SYNAPSEML_EXCLUDES = (
    "org.scala-lang:scala-reflect",
    "org.testng:testng",
    "org.beanshell:bsh",
    "com.beust:jcommander",
    "com.linkedin.isolation-forest:isolation-forest_3.5.0_2.12",
)
JAVA_MAJORS = LINE.java_majors  # what this Spark line runs on

SCALES = {"ci": 20_000, "workshop": 200_000, "full": 1_000_000}
# Row-at-a-time paths are ~30x slower than the Arrow paths; they get a slice of the rows
# so a workshop cell stays around 30 s.
ROW_PATH_SCALES = {"ci": 5_000, "workshop": 40_000, "full": 1_000_000}


MAX_ROWS = 50_000_000  # 16 doubles x 50M = 6.4 GB in memory: beyond that, refuse clearly


class LabError(RuntimeError):
    """A user-facing error: one line that says what went wrong and what to do."""


def scale() -> str:
    """The scale switch LAB_SCALE (ci | workshop | full); default workshop."""
    value = os.environ.get("LAB_SCALE", "workshop")
    if value not in SCALES:
        raise LabError(f"LAB_SCALE={value!r} is unknown: use one of {', '.join(SCALES)}.")
    return value


def scale_rows(kind: str = "arrow") -> int:
    """Number of rows for the current scale; kind='row' gives the smaller size for
    row-at-a-time paths."""
    table = ROW_PATH_SCALES if kind == "row" else SCALES
    return table[scale()]


@dataclass(frozen=True)
class JavaInfo:
    path: str
    major: int
    version: str


def _java_binary() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        if candidate.exists():
            return str(candidate)
    return shutil.which("java")


def parse_java_version(text: str) -> tuple[int, str]:
    """Parse `java -version` output into (major, version string)."""
    m = re.search(r'version "([^"]+)"', text)
    if not m:
        raise LabError(
            "Could not read the Java version from `java -version`; set JAVA_HOME to a JDK 17."
        )
    version = m.group(1)
    parts = version.split(".")
    major = int(parts[1]) if parts[0] == "1" else int(re.match(r"\d+", parts[0]).group(0))
    return major, version


def require_java(line: Line | None = None) -> JavaInfo:
    """Find a Java that the Spark line (default: the installed one) can use, or raise one
    sentence saying how to get Java 17."""
    line = line or LINE
    how = (
        f"install one with `conda env create -f {line.environment}` (brings OpenJDK 17) "
        "or `sudo apt-get install openjdk-17-jdk-headless`, then set JAVA_HOME"
    )
    needs = "/".join(map(str, line.java_majors))
    java = _java_binary()
    if java is None:
        raise LabError(f"Java not found: {line.label} needs Java {needs}; {how}.")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    major, version = parse_java_version(out.stderr + out.stdout)
    if major not in line.java_majors:
        raise LabError(
            f"Java {version} at {java} is not supported by {line.label} (needs {needs}); {how}."
        )
    return JavaInfo(java, major, version)


def require_line(name: str) -> Line:
    """The line called `name` (the Makefile's SPARK=...), or a one-line LabError listing them."""
    if name not in LINES:
        raise LabError(f"Unknown Spark line SPARK={name!r}: use one of {line_names()}.")
    return LINES[name]


def require_python(line: Line, version: tuple[int, ...] | None = None) -> str:
    """This interpreter's "major.minor" if `line` runs on it, else a one-line LabError naming the
    Pythons of every line."""
    found = "%d.%d" % (version or sys.version_info)[:2]
    if found not in line.pythons:
        each = "; ".join(f"{ln.label} on {python_range(ln)}" for ln in LINES.values())
        raise LabError(
            f"Python {found} is not supported by {line.label} in this kit ({each}): "
            f"use make PYTHON=python{line.pythons[-1]} (or a path to it)"
        )
    return found


def preflight(name: str) -> None:
    """`make` runs this with a bare Python before it builds a line's venv: a known line, a Python
    and a Java it runs on, else one line on stdout (make's `$(error ...)` shows it) and exit
    code 2."""
    try:
        line = require_line(name)
        require_python(line)
        require_java(line)
    except LabError as exc:
        print(str(exc).rstrip("."))  # make adds ".  Stop."
        raise SystemExit(2) from None


def atomic_write_bytes(path: Path, payload: bytes) -> Path:
    """Write payload to path atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_path(path: Path) -> Path:
    """A temporary sibling path to write to before `os.replace(tmp, path)`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def pins(path: Path | None = None, line: Line | None = None) -> dict[str, str]:
    """The exact pins `name -> version` of one file, else of a line (default: the installed one):
    its requirements file plus requirements-test.txt."""
    line = line or LINE
    files = [path] if path else [ROOT / line.requirements, ROOT / TEST_REQUIREMENTS]
    result: dict[str, str] = {}
    for f in files:
        for line in Path(f).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                name, version = line.split("==", 1)
                result[name.strip().lower()] = version.strip()
    return result

"""SynapseML's JVM jars, resolved once from Maven Central into a project-local Ivy cache.

Resolution uses Spark's own mechanism (`spark.jars.packages` with `spark.jars.ivy` pointing at
`.cache/ivy` and an ivysettings file that names only Maven Central). It runs in a child process
so that the JVM it needs is gone when it returns. After that, sessions attach the jars with
`spark.jars` and never touch the network.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers.core.config import (
    IVY_DIR,
    JARS_DIR,
    SYNAPSEML_COORDINATE,
    SYNAPSEML_EXCLUDES,
    LabError,
    atomic_write_bytes,
    require_java,
)

MARKER = IVY_DIR / "resolved.json"
IVY_SETTINGS = Path(__file__).with_name("ivysettings.xml")


def synapseml_jars() -> list[Path]:
    """The resolved jar files (empty when `make jars` has not run or was interrupted)."""
    if not MARKER.exists():
        return []
    info = json.loads(MARKER.read_text())
    if info.get("coordinate") != SYNAPSEML_COORDINATE:
        return []
    jars = [JARS_DIR / name for name in info["jars"]]
    return jars if all(j.exists() for j in jars) else []


def require_synapseml_jars() -> list[Path]:
    """The jars, or a one-line LabError saying how to get them."""
    jars = synapseml_jars()
    if not jars:
        raise LabError(
            f"SynapseML jars missing in {JARS_DIR}: run `make jars` once with access to "
            f"Maven Central (resolves {SYNAPSEML_COORDINATE})."
        )
    return jars


_RESOLVE = r"""
import os, sys
from pyspark.sql import SparkSession
s = (SparkSession.builder.master("local[1]").appName("resolve-synapseml")
     .config("spark.jars.packages", sys.argv[1]).config("spark.jars.excludes", sys.argv[2])
     .config("spark.jars.ivy", sys.argv[3]).config("spark.jars.ivySettings", sys.argv[4])
     .config("spark.ui.enabled", "false").getOrCreate())
s._jvm.java.lang.Thread.currentThread().getContextClassLoader().loadClass("com.microsoft.azure.synapse.ml.lightgbm.LightGBMRegressionModel")
s.stop()
"""


def fetch_synapseml_jars(force: bool = False) -> list[Path]:
    """Resolve SynapseML core + LightGBM (and their runtime dependencies) into .cache/ivy/jars.

    Idempotent: returns at once when the marker says the same coordinate is already resolved.
    """
    if not force and synapseml_jars():
        return synapseml_jars()

    require_java()
    IVY_DIR.mkdir(parents=True, exist_ok=True)
    if MARKER.exists():
        MARKER.unlink()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _RESOLVE,
            SYNAPSEML_COORDINATE,
            ",".join(SYNAPSEML_EXCLUDES),
            str(IVY_DIR),
            str(IVY_SETTINGS),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        tail = " | ".join(line.strip() for line in proc.stderr.splitlines()[-3:])
        raise LabError(
            f"Could not resolve {SYNAPSEML_COORDINATE} from Maven Central "
            f"(check the network, then rerun `make jars`): {tail}"
        )
    jars = sorted(p.name for p in JARS_DIR.glob("*.jar"))
    atomic_write_bytes(
        MARKER, json.dumps({"coordinate": SYNAPSEML_COORDINATE, "jars": jars}, indent=1).encode()
    )
    return synapseml_jars()

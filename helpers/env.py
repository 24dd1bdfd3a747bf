"""Layer 0: what this machine has, checked with a clear message per item (notebook 00, `doctor`)."""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from .config import LabError, check_java, pins
from .jars import JARS_DIR, synapseml_jars

PACKAGES = ("pyspark", "pyarrow", "pandas", "numpy", "lightgbm", "synapseml", "memray",
            "psutil", "matplotlib", "ipywidgets")
_MODULE = {"synapseml": "synapse.ml"}


@dataclass
class Check:
    item: str
    ok: bool
    found: str
    message: str


def _version(module_name: str) -> str:
    from importlib.metadata import version

    return version(module_name)


def environment_report() -> list[Check]:
    """One Check per requirement: Java, every pinned package (found vs pinned), SynapseML jars."""
    checks = []
    try:
        j = check_java()
        checks.append(Check("java", True, j.version, f"{j.path}"))
    except LabError as exc:
        checks.append(Check("java", False, "-", str(exc)))
    wanted = pins()
    for name in PACKAGES:
        try:
            importlib.import_module(_MODULE.get(name, name))
            found = _version(name)
            ok = found == wanted.get(name, found)
            msg = "as pinned" if ok else f"pinned {wanted[name]}: run `make setup` to reinstall"
        except ImportError:
            found, ok, msg = "-", False, f"missing: run `make setup` (installs {name}=={wanted.get(name)})"
        checks.append(Check(name, ok, found, msg))
    jars = synapseml_jars()
    checks.append(Check("synapseml jars", bool(jars), f"{len(jars)} jars",
                        str(JARS_DIR) if jars else "missing: run `make jars` once with access to Maven Central"))
    return checks

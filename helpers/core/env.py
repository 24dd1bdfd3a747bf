"""What this machine has, checked with a clear message per item (notebook 00, `doctor`)."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers.core.config import JARS_DIR, LINE, LabError, pins, require_java
from helpers.core.findings import Finding, finding
from helpers.core.jars import synapseml_jars
from helpers.core.lines import LINES

PACKAGES = (
    "pyspark",
    "pyarrow",
    "pandas",
    "numpy",
    "lightgbm",
    "synapseml",
    "memray",
    "psutil",
    "matplotlib",
    "ipywidgets",
)
_MODULE = {"synapseml": "synapse.ml"}


@dataclass
class Check:
    item: str
    ok: bool
    found: str
    message: str


@dataclass
class PtraceCheck:
    allowed: bool
    reason: str


def ptrace_check() -> PtraceCheck:
    """Can this user attach py-spy to its own processes? Reads /proc/sys/kernel/yama/ptrace_scope
    and the effective capabilities (CAP_SYS_PTRACE = bit 19); says why not when it cannot."""
    scope_path = Path("/proc/sys/kernel/yama/ptrace_scope")
    scope = int(scope_path.read_text().strip()) if scope_path.exists() else 0
    cap_eff = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            cap_eff = int(line.split()[1], 16)
    has_cap = bool(cap_eff & (1 << 19))
    if scope >= 3:
        return PtraceCheck(False, "ptrace is disabled system-wide (kernel.yama.ptrace_scope=3)")
    if has_cap or os.geteuid() == 0:
        return PtraceCheck(True, "CAP_SYS_PTRACE present" if has_cap else "running as root")
    if scope == 0:
        return PtraceCheck(True, "kernel.yama.ptrace_scope=0: same-user processes may be traced")
    return PtraceCheck(
        False,
        f"kernel.yama.ptrace_scope={scope} and no CAP_SYS_PTRACE: py-spy cannot attach "
        "to the Spark workers (they are not its children); use the in-process sampler",
    )


def py_spy_exe() -> str | None:
    """The py-spy executable next to this interpreter (the project venv), else on PATH."""
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def py_spy_available() -> tuple[bool, str]:
    """(usable, why): py-spy installed and ptrace allowed."""
    if py_spy_exe() is None:
        return False, "py-spy is not installed: run `make setup` (it is pinned in requirements.txt)"
    check = ptrace_check()
    return check.allowed, check.reason


def _version(module_name: str) -> str:
    from importlib.metadata import version

    return version(module_name)


def environment_report() -> list[Check]:
    """One Check per requirement: Java, every pinned package (found vs pinned), SynapseML jars."""
    checks = []
    try:
        j = require_java()
        checks.append(Check("java", True, j.version, f"{j.path}"))
    except LabError as exc:
        checks.append(Check("java", False, "-", str(exc)))
    wanted = pins()
    for name in (p for p in PACKAGES if p in wanted):
        try:
            importlib.import_module(_MODULE.get(name, name))
            found = _version(name)
            ok = found == wanted.get(name, found)
            msg = "as pinned" if ok else f"pinned {wanted[name]}: run `make setup` to reinstall"
        except ImportError:
            found, ok, msg = (
                "-",
                False,
                f"missing: run `make setup` (installs {name}=={wanted.get(name)})",
            )
        checks.append(Check(name, ok, found, msg))
    try:
        spy = _version("py-spy")
        usable, why = py_spy_available()
        spy_msg = (
            "as pinned" if spy == wanted.get("py-spy", spy) else f"pinned {wanted['py-spy']}"
        ) + (
            f"; can attach here ({why})"
            if usable
            else f"; cannot attach here ({why}): notebook 05 skips it"
        )
        checks.append(Check("py-spy", spy == wanted.get("py-spy", spy), spy, spy_msg))
    except ImportError:
        checks.append(
            Check(
                "py-spy",
                False,
                "-",
                f"missing: run `make setup` (installs py-spy=={wanted.get('py-spy')})",
            )
        )
    if not LINE.synapseml:
        return checks
    jars = synapseml_jars()
    checks.append(
        Check(
            "synapseml jars",
            bool(jars),
            f"{len(jars)} jars",
            str(JARS_DIR) if jars else "missing: run `make jars` once with access to Maven Central",
        )
    )
    return checks


ENVIRONMENT_FINDINGS = {
    "all_ok": "All checks passed.",
    "fix_first": "Fix first: {items} (see the message column).",
}


def environment_findings(checks: pd.DataFrame) -> list[Finding]:
    """Whether every environment check passed, else the items to fix; `checks` has columns item
    and ok (one row per `helpers.core.env.Check`)."""
    missing = checks.loc[~checks["ok"].astype(bool), "item"].tolist()
    if not missing:
        return [finding(ENVIRONMENT_FINDINGS, "all_ok")]
    return [finding(ENVIRONMENT_FINDINGS, "fix_first", items=", ".join(missing))]


LINE_FINDINGS = {
    "line": (
        "This kernel runs **Spark {version}** (the {label} line, venv `{venv}`, pins in "
        "`{requirements}`); the kit accepts Java {java} for it."
    ),
    "synapseml": (
        "SynapseML's LightGBM jars for this line resolve from Maven Central (`make jars`), so "
        "every path of the series runs here, the JVM-native one included."
    ),
    "not_offered": "Not offered on this line: `{name}` — {why}",
    "other_line": "The other line{s}: {others} (`make lab` lists every kernel in one JupyterLab).",
    "default_udf": (
        "A plain `@udf` here is **{kind}** unless it says `useArrow=`: "
        "`spark.sql.execution.pythonUDF.arrow.enabled` = {value} in this Spark's conf."
    ),
}

ARROW_UDF_CONF = "spark.sql.execution.pythonUDF.arrow.enabled"


def spark_default_conf(spark, key: str) -> str | None:
    """The value this Spark uses for a registered conf `key`: asked without a default, so Spark's
    own default answers when nobody set it (an explicit default would hide it: on 4.2+
    `spark.sql.execution.pythonUDF.arrow.enabled` is true unless set). None when this Spark does
    not know the key."""
    try:
        return spark.conf.get(key)
    except Exception:  # py4j / SparkNoSuchElementException: not registered on this line
        return None


def line_findings(spark, not_offered: dict | None = None) -> list[Finding]:
    """Which Spark line this kernel runs (asked from the session: `spark.version`, its conf), the
    paths this line does not offer with the reason (`not_offered`: name -> why, e.g.
    `helpers.inference.scenarios.NOT_OFFERED`), and how a plain `@udf` is evaluated here."""
    out = [
        finding(
            LINE_FINDINGS,
            "line",
            version=spark.version,
            label=LINE.label,
            venv=LINE.venv,
            requirements=LINE.requirements,
            java="/".join(map(str, LINE.java_majors)),
        )
    ]
    if LINE.synapseml:
        out.append(finding(LINE_FINDINGS, "synapseml"))
    for name, why in (not_offered or {}).items():
        out.append(finding(LINE_FINDINGS, "not_offered", name=name, why=why))
    others = [f"{x.label} (`make lab SPARK={x.name}`)" for x in LINES.values() if x != LINE]
    out.append(
        finding(
            LINE_FINDINGS, "other_line", s="s" if len(others) > 1 else "", others=", ".join(others)
        )
    )
    asked = spark_default_conf(spark, ARROW_UDF_CONF)
    value = "absent" if asked is None else str(asked).lower()
    kind = (
        "Arrow-optimized (`ArrowEvalPython`)" if value == "true" else "pickled (`BatchEvalPython`)"
    )
    out.append(finding(LINE_FINDINGS, "default_udf", kind=kind, value=value))
    return out

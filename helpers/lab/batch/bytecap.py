"""The byte cap per Arrow batch (`spark.sql.execution.arrow.maxBytesPerBatch`, 4.0+) on notebook
04's wide rows: the same sweep with the cap on and off, and the crash lab's boundary with it on.

Where the cap exists the JVM closes an Arrow batch when either `maxRecordsPerBatch` rows or the
byte cap is reached, whichever comes first; "off" here is a cap of 1 GiB, far above any batch this
notebook builds. Whether Spark defines the conf is asked from its conf registry
(`sweep.conf_defined`), never from a version number.
"""

from __future__ import annotations

import pandas as pd

from helpers.core.findings import Finding, finding
from helpers.core.session import conf_scope
from helpers.core.validate import parse_mem
from helpers.lab.batch.sweep import BYTES_KEY, MiB, conf_defined, scenario_sweeps
from helpers.lab.levers import WHAT, lever_finding

CAP_OFF = "1g"


def byte_cap_sweeps(spark, names, batch_sizes, rows: int, df, cap: str = "2m") -> pd.DataFrame:
    """`scenario_sweeps` of `df` (the wide rows) twice: the byte cap at `cap` (labels end in
    "(wide, cap on)") and at CAP_OFF ("(wide, cap off)"); the conf is put back afterwards."""
    parse_mem(cap)
    tables = []
    for state, value in (("off", CAP_OFF), ("on", cap)):
        with conf_scope(spark, {BYTES_KEY: value}):
            suffix = f" (wide, cap {state})"
            tables.append(scenario_sweeps(spark, names, batch_sizes, rows, df=df, suffix=suffix))
    return pd.concat(tables, ignore_index=True)


def byte_cap_offered(spark) -> bool:
    """Whether this Spark's conf registry defines the byte cap."""
    return conf_defined(spark, BYTES_KEY)


BYTECAP_FINDINGS = {
    "peak": (
        "`{scenario}` on wide rows: the Arrow allocator's peak over the sweep was {on:.1f} MiB "
        "with the cap at {cap:.1f} MiB, {off:.1f} MiB with it off; at {top:,} rows per batch "
        "throughput was {ratio:.2f}x the uncapped run's."
    ),
    "crash": (
        "The crash lab ({direct}) {off} with Spark's default cap and {on} with the cap on: "
        "{moved}."
    ),
}


def _outcome(report) -> str:
    if not report.crashed:
        return "ran every batch size"
    return f"failed first at {report.first_failure:,} rows per batch"


def byte_cap_findings(
    points: pd.DataFrame | None, scenario: str, cap: str, version: str,
    report_off=None, report_on=None,
) -> list[Finding]:  # fmt: skip
    """What the byte cap did on this Spark: absent (one computed sentence), or the peak and
    throughput with the cap on/off and whether the crash lab's first failure moved."""
    if points is None:
        return [lever_finding(version, BYTES_KEY, WHAT["max_bytes"], present=False)]
    on = points[points.label == f"{scenario} (wide, cap on)"]
    off = points[points.label == f"{scenario} (wide, cap off)"]
    top = int(max(on.batch_size))
    t_on = on.set_index("batch_size")["throughput"]
    t_off = off.set_index("batch_size")["throughput"]
    out = [
        finding(
            BYTECAP_FINDINGS, "peak", scenario=scenario, on=on.peak_jvm_offheap_bytes.max() / MiB,
            off=off.peak_jvm_offheap_bytes.max() / MiB, cap=parse_mem(cap) / MiB, top=top,
            ratio=t_on[top] / t_off[top],
        )
    ]  # fmt: skip
    if report_off is not None and report_on is not None:
        direct = f"direct memory {report_off.direct_limit_bytes / MiB:.0f} MiB"
        if not report_off.crashed:
            moved = "no boundary to move"
        elif report_on.crashed and report_on.first_failure == report_off.first_failure:
            moved = "the cap did not move the boundary"
        else:
            moved = "the cap moved the boundary"
        out.append(
            finding(
                BYTECAP_FINDINGS, "crash", direct=direct, off=_outcome(report_off),
                on=_outcome(report_on), moved=moved,
            )
        )  # fmt: skip
    return out

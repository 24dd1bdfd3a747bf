"""The Goldilocks zone of a batch-size sweep: the batch sizes whose throughput is within
`tolerance` (default 5%) of the best measured throughput AND whose memory stays under a budget.

Pure computation on a sweep table (`helpers.lab.batch.sweep` columns: batch_size, throughput in
rows/s, and a memory column in bytes, by default `peak_jvm_offheap_bytes` = Arrow allocator peak).
No Spark here, so it is tested on synthetic curves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd

from helpers.core.config import LabError
from helpers.core.findings import Finding, finding
from helpers.lab.batch.sweep import MEMORY_METRIC

MiB = 2**20

# What a zone found: `Zone.findings` picks one key (rows/s, MiB, batch sizes in rows).
ZONE_FINDINGS = {
    "zone": (
        "**{label}**: Goldilocks zone: {sizes} rows per batch: at least {threshold:,.0f} rows/s "
        "(best {best_throughput:,.0f} at {best_batch:,}) with {memory_col} under "
        "{budget_mib:.1f} MiB."
    ),
    "no_zone": (
        "**{label}**: No Goldilocks zone: the points within {tolerance:.0%} of the best "
        "({best_throughput:,.0f} rows/s at {best_batch:,}) all exceed the {budget_mib:.1f} MiB "
        "budget ({memory_col}); {fallback}."
    ),
}


@dataclass
class Zone:
    """Result of `goldilocks_zone`. Bytes, rows/s; batch sizes in rows."""

    budget_bytes: int
    tolerance: float
    memory_col: str
    best_batch: int  # fastest point overall (budget ignored)
    best_throughput: float
    best_memory_bytes: int
    batches: list[int] = field(default_factory=list)  # the zone, ascending
    feasible_best_batch: int | None = None  # fastest point under the budget
    feasible_best_throughput: float | None = None
    over_budget: list[int] = field(default_factory=list)  # points whose memory exceeds the budget

    @property
    def empty(self) -> bool:
        return not self.batches

    @property
    def lo(self) -> int | None:
        return self.batches[0] if self.batches else None

    @property
    def hi(self) -> int | None:
        return self.batches[-1] if self.batches else None

    @property
    def threshold(self) -> float:
        """Lowest throughput (rows/s) that still counts as 'within tolerance of the best'."""
        return self.best_throughput * (1 - self.tolerance)

    def contains(self, batch_size: int) -> bool:
        return batch_size in self.batches

    def findings(self, label: str) -> list[Finding]:
        """One finding about this zone of the points labelled `label` (a scenario): `zone` (its
        batch sizes, the threshold in rows/s) or `no_zone` (then the best under budget and its
        share of the best, or that no batch size fits the budget, MiB)."""
        common = {
            "label": label,
            "budget_mib": self.budget_bytes / MiB,
            "memory_col": self.memory_col,
            "best_throughput": self.best_throughput,
            "best_batch": self.best_batch,
        }
        if self.empty:
            if self.feasible_best_batch is None:
                share = None
                fallback = "no batch size fits: raise the budget or use smaller batches"
            else:
                share = self.feasible_best_throughput / self.best_throughput
                fallback = (
                    f"the best under budget is {self.feasible_best_batch:,} rows at {share:.0%} "
                    "of the best"
                )
            return [
                finding(
                    ZONE_FINDINGS,
                    "no_zone",
                    tolerance=self.tolerance,
                    feasible_best_batch=self.feasible_best_batch,
                    share=share,
                    fallback=fallback,
                    **common,
                )
            ]
        sizes = _sizes(self.batches) if self.lo != self.hi else f"only {self.lo:,}"
        return [
            finding(
                ZONE_FINDINGS,
                "zone",
                lo=self.lo,
                hi=self.hi,
                points=len(self.batches),
                sizes=sizes,
                threshold=self.threshold,
                **common,
            )
        ]


def _sizes(batches: list[int]) -> str:
    """The zone's batch sizes as a reader takes them in: '3,162 and 100,000' (every size, so a
    gap shows), or '100..100,000 (7 sizes)' beyond four."""
    if len(batches) > 4:
        return f"{batches[0]:,}..{batches[-1]:,} ({len(batches)} sizes)"
    names = [f"{b:,}" for b in batches]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def zone_findings(zones: Mapping[str, Zone]) -> list[Finding]:
    """One finding per labelled zone, in the mapping's order."""
    return [f for label, z in zones.items() for f in z.findings(label)]


def goldilocks_zone(
    points: pd.DataFrame,
    budget_bytes: float,
    tolerance: float = 0.05,
    memory_col: str = MEMORY_METRIC,
) -> Zone:
    """The zone of `points` (one row per batch size): throughput >= (1 - tolerance) x the best
    throughput of all points, and `memory_col` <= budget_bytes. When several rows share a batch
    size (repeats), their median throughput and max memory are used."""
    if budget_bytes is None or isinstance(budget_bytes, bool) or not budget_bytes > 0:
        raise LabError(f"memory budget must be a positive number of bytes, got {budget_bytes!r}.")
    if not 0 <= tolerance < 1:
        raise LabError(f"tolerance must be a fraction in [0, 1), got {tolerance!r} (0.05 = 5%).")
    missing = {"batch_size", "throughput", memory_col} - set(points.columns)
    if missing:
        raise LabError(
            f"the sweep table lacks column(s) {sorted(missing)}: "
            "pass the DataFrame a sweep returned."
        )
    if points.empty:
        raise LabError("the sweep table is empty: run a sweep with at least one batch size first.")
    table = (
        points.groupby("batch_size")
        .agg(throughput=("throughput", "median"), memory=(memory_col, "max"))
        .sort_index()
    )
    best = table["throughput"].idxmax()
    threshold = table.loc[best, "throughput"] * (1 - tolerance)
    fits = table["memory"] <= budget_bytes
    zone = table[(table["throughput"] >= threshold) & fits]
    feasible = table[fits]
    fbest = feasible["throughput"].idxmax() if len(feasible) else None
    return Zone(
        budget_bytes=int(budget_bytes),
        tolerance=tolerance,
        memory_col=memory_col,
        best_batch=int(best),
        best_throughput=float(table.loc[best, "throughput"]),
        best_memory_bytes=int(table.loc[best, "memory"]),
        batches=[int(b) for b in zone.index],
        feasible_best_batch=None if fbest is None else int(fbest),
        feasible_best_throughput=None
        if fbest is None
        else float(feasible.loc[fbest, "throughput"]),
        over_budget=[int(b) for b in table.index[~fits]],
    )


def zone_table(points: pd.DataFrame, zone: Zone) -> pd.DataFrame:
    """`points` with three columns added: within_tolerance, under_budget, in_zone (booleans)."""
    out = points.copy()
    out["within_tolerance"] = out["throughput"] >= zone.threshold
    out["under_budget"] = out[zone.memory_col] <= zone.budget_bytes
    out["in_zone"] = out["batch_size"].isin(zone.batches)
    return out


def label_zones(
    points: pd.DataFrame,
    budget_bytes: float,
    tolerance: float = 0.05,
    memory_col: str = MEMORY_METRIC,
) -> dict[str, Zone]:
    """`goldilocks_zone` of each label of a sweep table, in the order the labels appear."""
    return {
        label: goldilocks_zone(
            points[points["label"] == label], budget_bytes, tolerance, memory_col
        )
        for label in dict.fromkeys(points["label"])
    }


# Narrow rows vs wide rows of one scenario (bytes per row, MiB of Arrow's allocator peak).
WIDE_FINDINGS = {
    "row_width": (
        "Row width {narrow_row_bytes:,} B → {wide_row_bytes:,} B. At {top:,} rows per batch the "
        "Arrow off-heap peak of **{label}** goes from {narrow_mib:.1f} MiB (narrow) to "
        "{wide_mib:.1f} MiB (wide), and even the smallest batch holds {wide_min_mib:.1f} MiB."
    ),
}


def wide_findings(
    narrow: pd.DataFrame,
    wide: pd.DataFrame,
    budget_bytes: float,
    tolerance: float = 0.05,
    memory_col: str = MEMORY_METRIC,
) -> list[Finding]:
    """Two sweeps of one scenario (one label each), narrow and wide rows: the row width in bytes,
    the Arrow allocator peak (MiB) at the largest batch size both measured, then each zone."""
    n = narrow.groupby("batch_size").max(numeric_only=True)
    w = wide.groupby("batch_size").max(numeric_only=True)
    common = n.index.intersection(w.index)
    out = []
    if len(common):
        top = int(common.max())
        out.append(
            finding(
                WIDE_FINDINGS,
                "row_width",
                label=narrow["label"].iloc[0],
                narrow_row_bytes=int(n.batch_bytes[top] // n.effective_batch_rows[top]),
                wide_row_bytes=int(w.batch_bytes[top] // w.effective_batch_rows[top]),
                top=top,
                narrow_mib=n.peak_jvm_offheap_bytes[top] / MiB,
                wide_mib=w.peak_jvm_offheap_bytes[top] / MiB,
                wide_min_mib=w.peak_jvm_offheap_bytes.min() / MiB,
            )
        )
    for table in (narrow, wide):
        out += zone_findings(label_zones(table, budget_bytes, tolerance, memory_col))
    return out

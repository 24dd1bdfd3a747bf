"""The Goldilocks zone of a batch-size sweep: the batch sizes whose throughput is within
`tolerance` (default 5%) of the best measured throughput AND whose memory stays under a budget.

Pure computation on a sweep table (`helpers.lab.batch.sweep` columns: batch_size, throughput in rows/s,
and a memory column in bytes, by default `peak_jvm_offheap_bytes` = Arrow allocator peak).
No Spark here, so it is tested on synthetic curves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from helpers.core.config import LabError
from helpers.lab.batch.sweep import MEMORY_METRIC


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

    def sentence(self) -> str:
        """One line for a notebook's 'what you saw' cell, computed from this zone."""
        mib = self.budget_bytes / 2**20
        if self.empty:
            if self.feasible_best_batch is None:
                return (
                    f"No batch size stays under the {mib:.1f} MiB budget ({self.memory_col}); "
                    f"raise the budget or use smaller batches."
                )
            share = self.feasible_best_throughput / self.best_throughput
            return (
                f"No Goldilocks zone: the points within {self.tolerance:.0%} of the best "
                f"({self.best_throughput:,.0f} rows/s at {self.best_batch:,}) all exceed the "
                f"{mib:.1f} MiB budget; the best under budget is {self.feasible_best_batch:,} "
                f"rows at {share:.0%} of the best."
            )
        span = (
            f"{self.lo:,} rows per batch only"
            if self.lo == self.hi
            else f"{self.lo:,}..{self.hi:,} rows per batch ({len(self.batches)} points)"
        )
        return (
            f"Goldilocks zone: {span}: at least {self.threshold:,.0f} rows/s (best {self.best_throughput:,.0f} at "
            f"{self.best_batch:,}) with {self.memory_col} under {mib:.1f} MiB."
        )


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
            f"the sweep table lacks column(s) {sorted(missing)}: pass the DataFrame a sweep returned."
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

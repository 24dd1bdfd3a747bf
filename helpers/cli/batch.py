"""CLI commands of notebook 04 (registered in `helpers.cli.main.COMMANDS`): `sweep`, `tune`,
`tune-bench`.

Inputs are checked before Spark starts: a batch size <= 0, a budget smaller than one batch of one
row, an unknown scenario -> one-line error, exit code 2 (LabError, handled by `helpers.cli.main`).
"""

from __future__ import annotations

import argparse
import statistics
import time

from helpers.cli.common import write_json
from helpers.core.config import LabError, scale_rows
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.session import start_session, stop_session
from helpers.core.validate import parse_batch_sizes, parse_mem, require_positive, require_rows
from helpers.lab.batch.sweep import (
    MEMORY_METRIC,
    MEMORY_METRICS,
    measure_point,
    require_budget,
    require_sweepable,
    scenario_row_bytes,
    scenario_workload,
    sweep,
    sweep_grid,
    warm,
    wide_frame,
)
from helpers.lab.batch.tuner import tune, tuning_grid
from helpers.lab.batch.zone import goldilocks_zone


def _budget(text: str) -> int:
    """'268435456' or '256m' / '1g' -> bytes; anything else is a LabError (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        try:
            value = parse_mem(text)
        except LabError:
            raise LabError(
                f"--memory-budget {text!r} is not a number of bytes (e.g. 268435456 or 256m)."
            ) from None
    if value <= 0:
        raise LabError(f"--memory-budget must be a positive number of bytes, got {value}.")
    return value


def _common(p, budget: bool):

    p.add_argument(
        "--scenario",
        default="map_in_pandas",
        help="pandas_udf, iter_pandas_udf, map_in_pandas or map_in_arrow",
    )
    p.add_argument("--rows", type=int, default=None, help="input rows (default: LAB_SCALE)")
    p.add_argument(
        "--wide",
        type=int,
        default=0,
        metavar="K",
        help="add K payload double columns to every row (map_in_pandas / map_in_arrow ship them)",
    )
    p.add_argument("--json", default=None, help="write the records here (atomically)")
    if budget:
        p.add_argument(
            "--memory-budget", required=True, help="bytes (or 256m, 1g) of the memory metric"
        )
        p.add_argument("--memory-metric", default=MEMORY_METRIC, choices=MEMORY_METRICS)
        p.add_argument(
            "--per-decade", type=int, default=4, help="grid points per factor of 10 (default 4)"
        )
        p.add_argument(
            "--repeats", type=int, default=1, help="runs per measured point (median throughput)"
        )


def _check(args, budget: bool) -> tuple[str, int, int | None]:
    """Validate without Spark: scenario, rows, wide, budget vs one row.
    Returns (scenario, rows, budget)."""

    name = require_sweepable(args.scenario)
    rows = require_rows(args.rows) if args.rows is not None else scale_rows()
    if args.wide < 0:
        raise LabError(f"--wide must be >= 0, got {args.wide}.")
    if args.wide and name in ("pandas_udf", "iter_pandas_udf"):
        raise LabError(
            "--wide needs map_in_pandas or map_in_arrow "
            "(a pandas_udf only receives the feature columns)."
        )
    value = None
    if budget:
        value = require_budget(_budget(args.memory_budget), scenario_row_bytes(args.wide))
        require_positive("--per-decade", args.per_decade)
        require_positive("--repeats", args.repeats)
    return name, rows, value


def _on_workload(app: str, args, name: str, rows: int, run):
    """Start a session, build the scenario's workload, return `run(spark, workload)`, stop."""
    spark = start_session(app, synapseml=False)
    try:
        df = wide_frame(spark, rows, args.wide) if args.wide else None
        return run(spark, scenario_workload(spark, name, rows, df))
    finally:
        stop_session()


# ---- sweep --------------------------------------------------------------------------------------


def sweep_args(p):
    _common(p, budget=False)
    p.add_argument(
        "--batch-sizes",
        default=None,
        help="comma-separated maxRecordsPerBatch values (default: the LAB_SCALE grid)",
    )


def sweep_run(args) -> int:

    name, rows, _ = _check(args, budget=False)
    sizes = parse_batch_sizes(args.batch_sizes) if args.batch_sizes is not None else sweep_grid()
    table = _on_workload("sweep", args, name, rows, lambda spark, w: sweep(spark, w, sizes))
    cols = [
        "label",
        "batch_size",
        "throughput",
        "cpu_saturation",
        "peak_python_rss_bytes",
        "peak_jvm_heap_bytes",
        "peak_jvm_offheap_bytes",
        "peak_jvm_direct_bytes",
        "gc_s",
    ]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    write_json(args.json, table.to_dict("records"))
    return 0


# ---- tune ---------------------------------------------------------------------------------------


def tune_args(p):
    _common(p, budget=True)


def tune_run(args) -> int:

    name, rows, budget = _check(args, budget=True)
    rec = _on_workload(
        "tune",
        args,
        name,
        rows,
        lambda spark, w: tune(
            spark, w, budget, args.memory_metric, per_decade=args.per_decade, repeats=args.repeats
        ),
    )
    print(rec.table().to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if rec.batch_size is None:
        print(f"no recommendation: {rec.reason}")
    else:
        print(
            f"recommended maxRecordsPerBatch={rec.batch_size} ({rec.throughput:,.0f} rows/s, "
            f"{rec.memory_bytes:,.0f} B {rec.memory_col}) after {rec.evaluations} runs "
            f"in {rec.wall_s:.1f} s"
        )
    write_json(args.json, rec.record())
    return 0


# ---- tune-bench ---------------------------------------------------------------------------------


def bench_args(p):
    _common(p, budget=True)


def tune_bench(
    spark,
    work,
    budget: int,
    memory_col: str,
    per_decade: int = 4,
    confirm: int = 3,
    repeats: int = 1,
    progress: Progress | Sink | None = None,
) -> dict:
    """In one session and one run: the tuner (first, so it gets the colder JVM), then the exhaustive
    sweep over the same grid (one run per point, as a notebook sweep does; the tuner takes the
    median of `repeats` runs per trial, its defence against noise), then a confirmation: the
    tuner's pick and the sweep's best batch size measured alternately `confirm` times each
    (medians), so a load change on a shared machine hits both alike. Ratios: throughput at the
    tuner's pick / throughput at the sweep's best (confirmed; the raw ratio from the sweep's single
    runs is kept too), tuner wall time / sweep wall time. `progress` reports every run as one
    task."""

    grid = tuning_grid(work, per_decade=per_decade)
    p = as_progress(progress)
    # at most: warm-up, the tuner (grid + duel of 2 x 2), the sweep, the confirmation pairs
    with p.task("tune-bench", 1 + 2 * len(grid) + 4 + 2 * confirm, at_most=True):
        p.step(f"{work.label}: warm-up")
        warm(spark, work, min(10_000, grid[-1]))
        rec = tune(
            spark,
            work,
            budget,
            memory_col,
            per_decade=per_decade,
            warm_up=False,
            repeats=repeats,
            progress=p,
        )
        t0 = time.perf_counter()
        # the exhaustive sweep: one run per point
        table = sweep(spark, work, grid, warm_up=False, progress=p)
        sweep_s = time.perf_counter() - t0
        zone = goldilocks_zone(table, budget, memory_col=memory_col)
        best = zone.feasible_best_throughput
        at_pick = None
        if rec.batch_size is not None:
            at_pick = float(table.loc[table.batch_size == rec.batch_size, "throughput"].median())
        confirmed = {"pick": [], "best": []}
        ratio = None
        if rec.batch_size is not None and zone.feasible_best_batch is not None:
            if rec.batch_size == zone.feasible_best_batch:
                ratio = 1.0
            else:
                for _ in range(confirm):
                    p.step(f"confirm: batch {rec.batch_size:,}")
                    confirmed["pick"].append(measure_point(spark, work, rec.batch_size).throughput)
                    p.step(f"confirm: batch {zone.feasible_best_batch:,}")
                    confirmed["best"].append(
                        measure_point(spark, work, zone.feasible_best_batch).throughput
                    )
                ratio = statistics.median(confirmed["pick"]) / statistics.median(confirmed["best"])
    return {
        "label": work.label,
        "rows": work.rows,
        "grid": grid,
        "budget_bytes": budget,
        "memory_col": memory_col,
        "tuner_batch_size": rec.batch_size,
        "tuner_evaluations": rec.evaluations,
        "tuner_wall_s": rec.wall_s,
        "tuner_measured_throughput": rec.throughput,
        "sweep_points": len(grid),
        "sweep_wall_s": sweep_s,
        "sweep_best_batch_size": zone.feasible_best_batch,
        "sweep_best_throughput": best,
        "sweep_throughput_at_tuner_pick": at_pick,
        "throughput_ratio": ratio,
        "throughput_ratio_sweep_single_runs": (at_pick / best) if (at_pick and best) else None,
        "confirm_runs": confirmed,
        "time_ratio": rec.wall_s / sweep_s,
        "targets": {"throughput_ratio_min": 0.95, "time_ratio_max": 0.40},
        "tuner": rec.record(),
        "sweep": table.to_dict("records"),
    }


def bench_run(args) -> int:

    name, rows, budget = _check(args, budget=True)
    result = _on_workload(
        "tune-bench",
        args,
        name,
        rows,
        lambda spark, w: tune_bench(
            spark, w, budget, args.memory_metric, args.per_decade, repeats=args.repeats
        ),
    )
    print(
        f"{result['label']}, {result['rows']:,} rows, grid {len(result['grid'])} points; "
        f"tuner picked {result['tuner_batch_size']} in {result['tuner_evaluations']} runs"
    )

    def fmt(x):
        return "n/a" if x is None else f"{x:.3f}"

    print(
        f"throughput ratio (tuner's pick / sweep's best, alternated confirmation runs): "
        f"{fmt(result['throughput_ratio'])} (target >= 0.95); from the sweep's own runs: "
        f"{fmt(result['throughput_ratio_sweep_single_runs'])}"
    )
    print(
        f"time ratio (tuner / sweep): {result['time_ratio']:.3f} "
        f"({result['tuner_wall_s']:.1f} s / {result['sweep_wall_s']:.1f} s; target <= 0.40)"
    )
    write_json(args.json, result)
    return 0


COMMANDS = {
    "sweep": (
        "maxRecordsPerBatch sweep of one scenario: throughput, CPU, memory peaks",
        sweep_args,
        sweep_run,
    ),
    "tune": (
        "recommend a maxRecordsPerBatch under a memory budget (coarse-to-fine search)",
        tune_args,
        tune_run,
    ),
    "tune-bench": (
        "benchmark: the tuner vs the exhaustive sweep (throughput and time ratios)",
        bench_args,
        bench_run,
    ),
}

__all__ = ["COMMANDS", "tune_bench", "argparse"]

"""`python -m helpers scale`: fit the scale model of the Parquet -> predict -> Parquet job, check it
on a larger run, and size a big job for a cluster shape (`helpers.lab.scale`), or say in one line
why the fit may not size one."""

from __future__ import annotations

from helpers.cli.common import write_json
from helpers.core.config import LabError
from helpers.core.session import on_cluster
from helpers.core.validate import (
    parse_batch_sizes,
    parse_mem,
    parse_partitions,
    positive_int,
    row_count,
)
from helpers.inference.scenarios import get_scenario
from helpers.lab.scale import (
    GRID_REPEATS,
    OVERHEAD_FACTORS,
    ZONE_BUDGET_MIB,
    human_time,
    paste_block,
    process_roots,
    require_sizes,
    scale_study,
    zone_batch,
)


def parse_sizes(text: str) -> list[int]:
    """'40000,80000,160000' -> sorted distinct row counts; at least three (LabError otherwise)."""
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise LabError(f"--sizes takes comma-separated row counts, got {text!r}.") from None
    return require_sizes(values)


def scale_args(p):
    p.add_argument("--scenario", default="map_in_arrow", help="the inference path of the job")
    p.add_argument("--sizes", required=True, help="at least 3 comma-separated row counts to fit")
    p.add_argument(
        "--validate",
        type=row_count,
        default=None,
        help="rows of the check run, above every fitted size (e.g. 10x the largest)",
    )
    p.add_argument("--batch-sizes", default="200,10000", help="at least 2 maxRecordsPerBatch")
    p.add_argument("--partitions", default="2,4", help="at least 2 partition counts")
    p.add_argument(
        "--repeats",
        type=positive_int,
        default=GRID_REPEATS,
        help="timed runs per grid point and check; the fastest counts",
    )
    p.add_argument("--json", default=None, help="write the study (and the sizing) here")
    p.add_argument("--target-rows", type=positive_int, default=None, help="rows of the big job")
    p.add_argument("--executors", type=positive_int, default=50, help="executors of the big job")
    p.add_argument("--cores", type=positive_int, default=4, help="cores per executor")
    p.add_argument("--memory", default="8g", help="executor heap of the big job (e.g. 8g)")
    p.add_argument(
        "--manager",
        default="yarn",
        choices=sorted(OVERHEAD_FACTORS),
        help="the big job's cluster manager (sets the memory-overhead factor)",
    )
    p.add_argument(
        "--zone-budget-mib",
        type=float,
        default=ZONE_BUDGET_MIB,
        help="batch size: notebook 04's zone under this JVM off-heap budget (0: no sweep)",
    )
    p.add_argument(
        "--cluster",
        type=positive_int,
        default=None,
        help="run on a fresh standalone cluster of N one-core workers on this machine",
    )
    p.add_argument("--cluster-memory", default="1g", help="memory each worker gives executors")


def run_scale(args) -> dict:
    """Check every input, then run the study (and the sizing); returns the JSON payload."""
    get_scenario(args.scenario)
    sizes = require_sizes(parse_sizes(args.sizes), args.validate)
    batch_sizes = sorted(set(parse_batch_sizes(args.batch_sizes)))
    if len(batch_sizes) < 2:
        raise LabError(f"Give at least 2 different batch sizes, got {args.batch_sizes!r}.")
    partitions = parse_partitions(args.partitions)
    parse_mem(args.memory)
    parse_mem(args.cluster_memory)
    if args.zone_budget_mib < 0:
        raise LabError(f"--zone-budget-mib must be 0 or more, got {args.zone_budget_mib}.")
    synapseml = args.scenario == "synapseml"
    with on_cluster(args.cluster, "scale", synapseml=synapseml, memory=args.cluster_memory) as (
        spark,
        cluster,
    ):
        batch = None
        if args.zone_budget_mib > 0 and args.scenario != "synapseml":
            batch, _, _ = zone_batch(spark, args.scenario, args.zone_budget_mib)
        study = scale_study(
            spark,
            args.scenario,
            sizes,
            batch_sizes,
            partitions,
            args.validate,
            process_roots(spark, cluster),
            args.repeats,
            batch_size=batch,
        )
    payload = study.record()
    if args.target_rows:
        sizing = study.size(
            args.target_rows, args.executors, args.cores, args.memory, manager=args.manager
        )
        payload["sizing"] = sizing.record()
        payload["conf_block"] = paste_block(sizing, study.refusal(), study.spark_version)
    write_json(args.json, payload)
    return payload


def row_split(fit: dict) -> str:
    """ " (CPU per row: JVM a, Python b)" when the CPU was measured, else ""."""
    if fit.get("cpu_row_jvm_s") is None:
        return ""
    return (
        f" (CPU per row: JVM {fit['cpu_row_jvm_s'] * 1e6:.2f}, "
        f"Python {fit['cpu_row_python_s'] * 1e6:.2f})"
    )


def check_line(c: dict) -> str:
    """One check: measured against predicted, the signed error in words, the load average."""
    load = c.get("load_average")
    words = "slower" if c["error"] > 0 else "faster"
    return (
        f"{c['check']} ({c['rows']:,} rows): predicted {c['predicted_s']:.2f} s, "
        f"measured {c['measured_s']:.2f} s: {abs(c['error']):.1%} {words} than predicted "
        f"(error {c['error']:+.1%} = (measured - predicted) / predicted"
        + (f"; load average {load:.2f}" if load is not None else "")
        + ")"
    )


def print_scale(payload: dict) -> None:
    """A few lines for the terminal: coefficients, checks, the sizing, the block or why not."""
    fit = payload["fit"]
    print(
        f"fit on {fit['runs']} runs: fixed {fit['fixed_s'] * 1e3:.0f} ms, "
        f"per task {fit['per_task_s'] * 1e3:.1f} ms, per batch {fit['per_batch_s'] * 1e3:.3f} ms, "
        f"per row {fit['per_row_s'] * 1e6:.2f} us{row_split(fit)}; "
        f"RMS residual {fit['rms_rel_error']:.1%}"
    )
    for c in payload["checks"]:
        print(check_line(c))
    if payload.get("batch_size"):
        print(f"batch size from notebook 04's zone: {payload['batch_size']:,} rows")
    s = payload.get("sizing")
    if s:
        print(
            f"{s['rows']:,} rows on {s['executors']} x {s['cores']} cores: "
            f"{human_time(s['wall_s'])} ({human_time(s['wall_low_s'])}-"
            f"{human_time(s['wall_high_s'])}), {s['core_hours']:.0f} core-hours, "
            f"{s['partitions']:,} tasks"
        )
        print(payload["conf_block"])
    elif payload.get("refusal"):
        print(f"# this fit may not size a job: {payload['refusal']}")

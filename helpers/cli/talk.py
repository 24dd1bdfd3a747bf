"""`python -m helpers dial` and `python -m helpers threads` (notebook 11): the model-cost dial and
LightGBM threads against concurrent tasks, headless, with `--json`."""

from __future__ import annotations

import argparse

import pandas as pd

from helpers.cli.common import scenario_names, write_json
from helpers.core.config import LabError
from helpers.core.session import start_session, stop_session
from helpers.core.validate import positive_int, row_count
from helpers.lab.talk import (
    DIAL_PATHS,
    dial,
    dial_findings,
    parse_trees,
    sizes,
    threads_findings,
    threads_grid,
    worker_env,
)


def trees_list(text: str) -> list[int]:
    """argparse type for --trees (`lab.talk.parse_trees`): a bad list is an argument error."""
    try:
        return parse_trees(text)
    except LabError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_threads(text: str) -> list[int | None]:
    """'default,1,2' -> [None, 1, 2]: 'default' or 1-64 threads each."""
    out: list[int | None] = []
    for v in (v.strip() for v in str(text).split(",")):
        if not v:
            continue
        if v == "default":
            out.append(None)
            continue
        try:
            n = int(v)
        except ValueError:
            n = 0
        if not 1 <= n <= 64:
            raise argparse.ArgumentTypeError(
                f"--threads {text!r}: use 'default' or 1 to 64, e.g. default,1,2."
            )
        out.append(n)
    if not out:
        raise argparse.ArgumentTypeError("--threads is empty: give e.g. default,1,2.")
    return list(dict.fromkeys(out))


def parse_slots(text: str) -> list[int]:
    """'1,2' -> [1, 2]: concurrent tasks, each at least 1 (the session caps them at its cores)."""
    try:
        out = sorted({int(v) for v in str(text).split(",") if v.strip()})
    except ValueError:
        out = []
    if not out or out[0] < 1:
        raise argparse.ArgumentTypeError(
            f"--slots {text!r}: give concurrent task counts of at least 1, e.g. 1,2."
        )
    return out


def _print(table: pd.DataFrame, found) -> None:
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for f in found:
        print(f"- {f.text()}")


def dial_args(p):
    s = sizes()
    p.add_argument(
        "--trees",
        type=trees_list,
        default=list(s.trees),
        help="comma-separated tree counts, one model each (default: LAB_SCALE)",
    )
    p.add_argument("--scenarios", default=",".join(DIAL_PATHS), help="paths to time")
    p.add_argument("--rows", type=row_count, default=s.dial_rows, help="rows per Arrow path")
    p.add_argument(
        "--row-rows", type=row_count, default=s.dial_row_rows, help="rows per row-at-a-time path"
    )
    p.add_argument("--repeats", type=positive_int, default=3, help="timed runs per point")
    p.add_argument("--json", default=None, help="write one record per (model, path) here")


def run_dial(args) -> int:
    names = scenario_names(args.scenarios)
    try:
        spark = start_session("dial")
        table = dial(spark, args.trees, names, args.rows, args.row_rows, args.repeats)
    finally:
        stop_session()
    _print(table, dial_findings(table))
    write_json(args.json, {"runs": table.to_dict("records")})
    return 0


def threads_args(p):
    s = sizes()
    p.add_argument(
        "--threads",
        type=parse_threads,
        default=[None, 1, 2],
        help="LightGBM num_threads values: default and/or 1-64 (default: default,1,2)",
    )
    p.add_argument(
        "--slots",
        type=parse_slots,
        default=[1, 2],
        help="concurrent tasks (default 1,2; at most the session's cores)",
    )
    p.add_argument("--rows", type=row_count, default=s.threads_rows, help="rows")
    p.add_argument("--trees", type=positive_int, default=100, help="trees of the model")
    p.add_argument("--repeats", type=positive_int, default=3, help="timed runs per point")
    p.add_argument("--json", default=None, help="write one record per (tasks, threads)")


def run_threads(args) -> int:
    if args.trees > 5_000:
        raise LabError(f"--trees {args.trees}: use at most 5,000.")
    try:
        spark = start_session("threads")
        env = worker_env(spark)
        table = threads_grid(spark, args.rows, args.threads, args.slots, args.repeats, args.trees)
    finally:
        stop_session()
    print(f"Python worker environment: {env}")
    _print(table, threads_findings(table, env.get("OMP_NUM_THREADS")))
    write_json(args.json, {"worker_env": env, "runs": table.to_dict("records")})
    return 0


COMMANDS = {
    "dial": ("the same paths with models of increasing cost, each against its own limit",
             dial_args, run_dial),
    "threads": ("LightGBM num_threads x concurrent tasks: rows/s and CPU",
                threads_args, run_threads),
}  # fmt: skip

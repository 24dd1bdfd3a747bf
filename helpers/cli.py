"""`python -m helpers <command>`: headless runs of the kit's experiments.

Errors the user can fix (unknown scenario, bad sizes, missing Java or jars) print one line
on stderr and exit with code 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from .config import LabError, atomic_write_bytes, check_positive


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def write_json(path: str | None, payload) -> None:
    """Write `payload` as JSON to `path` atomically (no-op when path is None)."""
    if path:
        atomic_write_bytes(Path(path), json.dumps(payload, indent=1, default=float).encode())


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        self.exit(2, f"error: {message}\n")


# ---- commands ------------------------------------------------------------------------------

def _setup_args(p):
    p.add_argument("--no-jars", action="store_true", help="skip resolving SynapseML jars")


def _setup(args) -> int:
    from .config import scale_rows
    from .data import ensure_features, ensure_model
    from .jars import fetch_synapseml_jars

    from .config import check_java

    check_java()
    if not args.no_jars:
        print(f"jars: {len(fetch_synapseml_jars())} in .cache/ivy/jars")
    print(f"model: {ensure_model()}")
    for kind in ("arrow", "row"):
        print(f"features: {ensure_features(scale_rows(kind))}")
    return 0


def _doctor_args(p):
    pass


def _doctor(args) -> int:
    from .env import environment_report

    checks = environment_report()
    for c in checks:
        print(f"{'ok ' if c.ok else 'BAD'} {c.item:15s} {c.found:12s} {c.message}")
    return 0 if all(c.ok for c in checks) else 1


def _bench_args(p):
    p.add_argument("--rows", type=positive_int, default=None, help="rows (default: LAB_SCALE)")
    p.add_argument("--scenarios", default="all", help="comma-separated scenario names, or all")
    p.add_argument("--batch-size", type=positive_int, default=10_000,
                   help="spark.sql.execution.arrow.maxRecordsPerBatch")
    p.add_argument("--repeats", type=positive_int, default=3, help="timed runs per Arrow/JVM path (median)")
    p.add_argument("--row-repeats", type=positive_int, default=1, help="timed runs per row-at-a-time path")
    p.add_argument("--no-parity", action="store_true", help="skip collecting predictions")
    p.add_argument("--json", default=None, help="write one record per scenario here")


def _bench(args) -> int:
    from .config import scale_rows
    from .measure import bench, bench_table
    from .scenarios import parse_scenarios
    from .session import start_session, stop_session

    names = parse_scenarios(args.scenarios)
    rows = args.rows or scale_rows()
    spark = start_session("bench")
    try:
        limit, records = bench(spark, rows, names, args.batch_size, args.repeats, args.row_repeats,
                               parity=not args.no_parity)
    finally:
        stop_session()
    table = bench_table(limit, records)
    print(table[["name", "rows", "batch_size", "wall_s", "rows_per_s", "ratio_to_limit",
                 "max_abs_diff"]].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    # one record per scenario; the physical limit first, as the record everything is compared to
    write_json(args.json, [{**limit.record(), "batch_size": None, "ratio_to_limit": 1.0,
                            "max_abs_diff": 0.0, "spark_version": None}]
               + [asdict(r) for r in records])
    return 0


def _strip_args(p):
    p.add_argument("paths", nargs="+", help="notebooks to strip of outputs in place")


def _strip(args) -> int:
    from .notebook import strip_outputs

    for path in args.paths:
        strip_outputs(Path(path))
    return 0


COMMANDS = {
    "setup": ("resolve jars, build data and model (idempotent)", _setup_args, _setup),
    "doctor": ("check Java, packages and jars", _doctor_args, _doctor),
    "strip-outputs": ("remove outputs and execution counts from notebooks", _strip_args, _strip),
    "bench": ("time every inference path against the physical limit", _bench_args, _bench),
}


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m helpers", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (helptext, add_args, _) in COMMANDS.items():
        add_args(sub.add_parser(name, help=helptext))
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command][2](args)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

"""`python -m helpers <command>`: headless runs of the kit's experiments.

Errors the user can fix (unknown scenario, bad sizes, missing Java or jars) print one line
on stderr and exit with code 2.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from dataclasses import asdict
from pathlib import Path

from helpers.cli.batch import COMMANDS as BATCH_COMMANDS
from helpers.cli.common import (
    Parser,
    add_batch_size,
    scenario_names,
    stderr_progress,
    write_json,
)
from helpers.cli.layers import layers_args, layers_run
from helpers.cli.levers import COMMANDS as LEVER_COMMANDS
from helpers.cli.memory import memray_table, run_memory_cluster, run_memory_command
from helpers.cli.notebooks import (
    present_files,
    present_notebook,
    read_notebook,
    refuse_overwrite,
    strip_outputs,
    write_student_copies,
)
from helpers.cli.profile import run_profile_cli, run_profile_cluster
from helpers.cli.scale import print_scale, run_scale, scale_args
from helpers.cli.talk import COMMANDS as TALK_COMMANDS
from helpers.core.config import LINE, MAX_ROWS, LabError, require_java, scale_rows
from helpers.core.env import environment_report
from helpers.core.jars import fetch_synapseml_jars
from helpers.core.processes import kept_family, stop_kept
from helpers.core.progress import set_default_sink
from helpers.core.session import (
    active_session,
    on_cluster,
    spark_error_text,
    start_session,
    stop_session,
)
from helpers.core.validate import (
    conf_pair,
    parse_partitions,
    partition_count,
    positive_float,
    positive_int,
    row_count,
)
from helpers.inference.scenarios import get_scenario
from helpers.lab.taskcost import DAEMONS, per_task_seconds, task_overhead
from helpers.lab.zerocopy.ledger import copy_ledger, require_ledger_paths
from helpers.measure.timing import bench, bench_table, limit_row
from helpers.model.data import ensure_features, ensure_model
from helpers.profile.memory import memory_rows

# ---- commands ------------------------------------------------------------------------------


def _setup_args(p):
    p.add_argument("--no-jars", action="store_true", help="skip resolving SynapseML jars")


def _setup(args) -> int:

    require_java()
    if not args.no_jars and LINE.synapseml:
        print(f"jars: {len(fetch_synapseml_jars())} in .cache/ivy/jars")
    print(f"model: {ensure_model()}")
    for kind in ("arrow", "row"):
        print(f"features: {ensure_features(scale_rows(kind))}")
    return 0


def _doctor_args(p):
    pass


def _doctor(args) -> int:

    checks = environment_report()
    for c in checks:
        print(f"{'ok ' if c.ok else 'BAD'} {c.item:15s} {c.found:12s} {c.message}")
    return 0 if all(c.ok for c in checks) else 1


def _bench_args(p):
    p.add_argument("--rows", type=row_count, default=None, help="rows (default: LAB_SCALE)")
    p.add_argument("--scenarios", default="all", help="comma-separated scenario names, or all")
    add_batch_size(p)
    p.add_argument(
        "--repeats", type=positive_int, default=3, help="timed runs per Arrow/JVM path (median)"
    )
    p.add_argument(
        "--row-repeats", type=positive_int, default=1, help="timed runs per row-at-a-time path"
    )
    p.add_argument("--no-parity", action="store_true", help="skip collecting predictions")
    p.add_argument(
        "--daemon",
        choices=["stock", "lean"],
        default="stock",
        help="Python worker daemon: Spark's, or helpers.workers.lean_daemon "
        "(pyspark from site-packages)",
    )
    p.add_argument(
        "--conf",
        type=conf_pair,
        action="append",
        default=[],
        metavar="spark.KEY=VALUE",
        help="a Spark conf for the bench's session (repeatable), e.g. "
        "spark.python.udf.pipelined.enabled=true; Spark ignores keys it does not know",
    )
    p.add_argument("--json", default=None, help="write one record per scenario here")
    p.add_argument(
        "--cluster",
        type=positive_int,
        default=None,
        help="run on a fresh standalone cluster of N one-core workers on this machine",
    )


def _bench(args) -> int:

    names = scenario_names(args.scenarios)
    rows = args.rows or scale_rows()

    conf = {"spark.python.daemon.module": DAEMONS[args.daemon], **dict(args.conf)}
    with on_cluster(args.cluster, "bench", conf=conf) as (spark, _):
        limit, records = bench(
            spark,
            rows,
            names,
            args.batch_size,
            args.repeats,
            args.row_repeats,
            parity=not args.no_parity,
        )
    table = bench_table(limit, records)
    print(
        table[
            [
                "name",
                "rows",
                "batch_size",
                "wall_s",
                "rows_per_s",
                "ratio_to_limit",
                "limit_wall_s",
                "max_abs_diff",
                "jvm_cpu_s",
                "python_cpu_s",
                "cpu_ceiling",
            ]
        ].to_string(index=False, float_format=lambda v: f"{v:.4g}")
    )
    # one record per scenario; the physical limit first, as the record everything is compared to
    write_json(
        args.json,
        [{**limit.record(), **limit_row(limit)}] + [asdict(r) for r in records],
    )
    return 0


def _strip_args(p):
    p.add_argument("paths", nargs="+", help="notebooks to strip of outputs in place")


def _strip(args) -> int:

    for path in args.paths:
        strip_outputs(Path(path))
    return 0


def _student_args(p):
    p.add_argument("paths", nargs="+", help="notebooks to copy without their solution cells")
    p.add_argument("--out", default="student", help="folder for the copies (git-ignored)")
    p.add_argument(
        "--overwrite", action="store_true", help="allow a copy to replace a source notebook"
    )


def _student(args) -> int:

    for path in write_student_copies(args.paths, args.out, overwrite=args.overwrite):
        print(path)
    return 0


def _present_args(p):
    p.add_argument("paths", nargs="+", help="notebooks to execute and convert, in order")
    p.add_argument("--out", default="present", help="folder for the pack (git-ignored)")
    p.add_argument(
        "--scale", default="workshop", choices=["ci", "workshop", "full"], help="LAB_SCALE"
    )
    p.add_argument("--timeout", type=positive_int, default=1800, help="seconds allowed per cell")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="allow an executed copy to replace a source notebook",
    )


def _present(args) -> int:

    refuse_overwrite(
        args.paths,
        [f for p in args.paths for f in present_files(p, args.out)]
        + [Path(args.out) / "timings.json"],
        args.overwrite,
    )
    for path in args.paths:  # every notebook readable before the first one runs
        read_notebook(path)
    runs = []
    for path in args.paths:
        run = present_notebook(path, args.out, args.scale, args.timeout, overwrite=args.overwrite)
        print(f"{run['notebook']}: {run['seconds']:.0f} s -> {', '.join(run['files'].values())}")
        runs.append(run)
    write_json(str(Path(args.out) / "timings.json"), runs)
    return 0


def _ledger_args(p):
    p.add_argument(
        "--rows",
        type=positive_int,
        default=None,
        help="rows per batch (default: LAB_SCALE rows / 4)",
    )
    p.add_argument("--batches", type=positive_int, default=4, help="batches in the end-to-end run")
    p.add_argument(
        "--paths",
        default="pandas_udf,map_in_pandas,map_in_arrow",
        help="comma-separated: pandas_udf, map_in_pandas, map_in_arrow",
    )
    p.add_argument(
        "--json", default=None, help="write one record per hop (path, hop, bytes, seconds)"
    )


def _ledger(args) -> int:

    rows = args.rows or max(1, scale_rows() // 4)
    if rows * args.batches > MAX_ROWS:
        raise LabError(
            f"--rows {rows:,} x --batches {args.batches} = {rows * args.batches:,} rows is more "
            f"than this kit generates in memory ({MAX_ROWS:,}): pass fewer rows or batches."
        )
    paths = require_ledger_paths(args.paths)
    spark = start_session("ledger", synapseml=False)
    try:
        ledger = copy_ledger(spark, rows=rows, paths=paths, batches=args.batches)
    finally:
        stop_session()
    print(
        ledger.table().drop(columns="how").to_string(index=False, float_format=lambda v: f"{v:.4g}")
    )
    print(ledger.summary().to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    write_json(args.json, ledger.records())
    return 0


def _profile_args(p):
    p.add_argument(
        "--scenario", required=True, help="one scenario name (see helpers.inference.scenarios)"
    )
    p.add_argument("--rows", type=row_count, default=None, help="rows (default: LAB_SCALE)")
    p.add_argument(
        "--out",
        required=True,
        help="folder for python/jvm .collapsed and .html, breakdown.json, profile.png",
    )
    add_batch_size(p)
    p.add_argument(
        "--interval-ms",
        type=positive_float,
        default=5.0,
        help="Python worker sampling period (ms)",
    )
    p.add_argument(
        "--py-spy",
        action="store_true",
        help="also run the job once under py-spy --native (needs ptrace): "
        "pyspy.collapsed, pyspy.html",
    )
    p.add_argument(
        "--cluster",
        type=positive_int,
        default=None,
        help="profile on a fresh standalone cluster of N one-core workers: executors/<id>/ "
        "with each executor's stacks, merged stacks, tasks.csv, memory.csv",
    )
    p.add_argument(
        "--shared-dir",
        default=None,
        help="with --cluster: folder the executor JVMs dump their JFR into at exit "
        "(default OUT/shared)",
    )


def _profile(args) -> int:

    if args.cluster:
        if args.py_spy:
            raise LabError(
                "--py-spy reads this machine's workers by ptrace: drop it with --cluster."
            )
        summary = run_profile_cluster(
            args.scenario,
            args.rows,
            args.out,
            args.cluster,
            args.shared_dir,
            args.batch_size,
            args.interval_ms,
        )
        print(json.dumps(summary, default=float))
        return 0
    if args.shared_dir:
        raise LabError("--shared-dir is for --cluster N (executor JVMs' JFR dumps): add --cluster.")
    payload = run_profile_cli(
        args.scenario, args.rows, args.out, args.batch_size, args.interval_ms, py_spy=args.py_spy
    )
    print(json.dumps({k: v for k, v in payload.items() if not isinstance(v, dict)}, default=float))
    return 0


def _memory_args(p):
    p.add_argument(
        "--scenario",
        required=True,
        help="scenario name (see helpers.inference.scenarios.SCENARIOS)",
    )
    p.add_argument(
        "--rows", type=row_count, default=None, help="rows (default: LAB_SCALE memory rows)"
    )
    add_batch_size(p)
    p.add_argument(
        "--partitions",
        type=partition_count,
        default=None,
        help="coalesce the input (1 = one task)",
    )
    p.add_argument(
        "--out",
        required=True,
        help="folder for timeline.csv/.json, captures.json, meters.csv, summary.json "
        "(with --cluster: executor_memory.csv, summary.json; with --memray also "
        "executors/<id>/memray-peak.json, memray_peaks.csv)",
    )
    p.add_argument(
        "--cluster",
        type=positive_int,
        default=None,
        help="run on a fresh standalone cluster of N one-core workers: each executor's peaks "
        "from Spark's executor metrics",
    )
    p.add_argument(
        "--memray",
        action="store_true",
        help="with --cluster: memray in every executor's Python workers, peaks brought back "
        "through Spark (executors/<id>/memray-peak.json, memray_peaks.csv)",
    )


def _memory(args) -> int:

    if args.cluster:
        if args.partitions:
            raise LabError("--partitions is for the local memray run: drop it with --cluster.")
        summary = run_memory_cluster(
            args.scenario,
            args.rows or memory_rows(),
            args.batch_size,
            args.out,
            args.cluster,
            memray=args.memray,
        )
        for rec in summary["peaks_mib"]:
            print(
                f"executor {rec['executor']}: "
                + ", ".join(f"{k} {v:.1f} MiB" for k, v in rec.items() if k != "executor")
            )
        print(f"{summary['scenario']}: {summary['wall_s']:.2f} s; meter: {summary['meter']}")
        if args.memray:
            print(memray_table(summary["memray"]))
        print(f"cluster processes left running: {summary['left_running']}")
        return 0
    if args.memray:
        raise LabError(
            "--memray is for --cluster N (the local `memory` command always records memray): "
            "add --cluster."
        )
    summary = run_memory_command(
        args.scenario,
        args.rows or memory_rows(),
        args.batch_size,
        args.out,
        partitions=args.partitions,
    )
    peaks = ", ".join(
        f"{pid}: {b / 2**20:.1f} MiB" for pid, b in summary["peak_bytes_per_worker"].items()
    )
    print(
        f"{summary['scenario']}: {summary['rows']:,} rows in {summary['wall_s']:.2f} s; "
        f"{summary['tasks']} memray captures; peak per worker {peaks or '-'}; files in {args.out}"
    )
    for m in summary["meters"]:
        print(
            f"{m['quantity']}: {m['kit_meter']} {m['kit_peak_bytes'] / 2**20:.1f} MiB, Spark "
            f"{m['spark_metric']} {m['spark_peak_bytes'] / 2**20:.1f} MiB"
        )
    return 0


def _taskcost_args(p):
    p.add_argument("--scenario", default="map_in_pandas", help="a scenario with Python workers")
    p.add_argument("--rows", type=row_count, default=None, help="rows (default: LAB_SCALE)")
    p.add_argument(
        "--partitions", default="2,32", help="comma-separated partition counts (at least two)"
    )
    p.add_argument(
        "--repeats", type=positive_int, default=3, help="timed runs per point (best is kept)"
    )
    p.add_argument("--json", default=None, help="write one record per (daemon, partitions)")


def _taskcost(args) -> int:
    get_scenario(args.scenario)  # an unknown or absent path: one line before any session check
    table = task_overhead(
        args.scenario, args.rows or scale_rows(), parse_partitions(args.partitions), args.repeats
    )
    print(
        table.drop(columns="pyspark_file").to_string(index=False, float_format=lambda v: f"{v:.4g}")
    )
    print(per_task_seconds(table).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    write_json(args.json, table.to_dict("records"))
    return 0


COMMANDS = {
    "setup": ("resolve jars, build data and model (idempotent)", _setup_args, _setup),
    "doctor": ("check Java, packages and jars", _doctor_args, _doctor),
    "strip-outputs": ("remove outputs and execution counts from notebooks", _strip_args, _strip),
    "student": ("copies of notebooks without their solution cells", _student_args, _student),
    "present": (
        "execute notebooks; write executed copies, HTML and reveal.js slides, stamped",
        _present_args,
        _present,
    ),
    "bench": ("time every inference path against the physical limit", _bench_args, _bench),
    "memory": (
        "memory timelines of every layer + memray peaks per Python worker",
        _memory_args,
        _memory,
    ),
    "profile": (
        "flame graphs of one scenario: Python workers + JVM, time breakdown",
        _profile_args,
        _profile,
    ),
    "ledger": (
        "the copy ledger: bytes and seconds per hop of one batch's round trip",
        _ledger_args,
        _ledger,
    ),
    "taskcost": (
        "per-task cost with the stock vs the lean Python daemon (pyspark.zip re-read per task)",
        _taskcost_args,
        _taskcost,
    ),
    "layers": ("print the package's layer table (docs/ARCHITECTURE.md)", layers_args, layers_run),
}

COMMANDS["scale"] = (
    "fit the scale model of Parquet -> predict -> Parquet, check it 10x larger, size a big job",
    scale_args,
    lambda args: print_scale(run_scale(args)) or 0,
)
COMMANDS.update(BATCH_COMMANDS)  # sweep, tune, tune-bench: notebook 04
COMMANDS.update(LEVER_COMMANDS)  # columnar-bench: notebook 10
COMMANDS.update(TALK_COMMANDS)  # dial, threads: notebook 11


class _Interrupt:
    """Ctrl-C (SIGINT) or SIGTERM during a command: counts the processes the kit runs at that
    moment (the driver JVM, its workers, a cluster), then lets the command unwind, which stops
    them; `finish` stops whatever is still running and prints one line."""

    def __init__(self):
        self.signum: int | None = None
        self.running: set[int] = set()

    def __call__(self, signum, frame):
        if self.signum is None:
            self.signum = signum
            self.running = {p.pid for p in kept_family()}
            logging.getLogger("py4j").setLevel(logging.CRITICAL + 1)  # no lost-connection noise
        raise KeyboardInterrupt

    def install(self) -> dict:
        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old[sig] = signal.signal(sig, self)
            except ValueError:  # not the main thread (called from a test's thread)
                pass
        return old

    def finish(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C does not cut the stop short
            try:
                signal.signal(sig, signal.SIG_IGN)
            except ValueError:
                pass
        try:  # the JVM's own errors about the stopped job are not news
            active_session().sparkContext.setLogLevel("OFF")
        except BaseException:
            pass
        try:
            stop_session(timeout=10)
        except BaseException:
            pass
        self.running |= set(stop_kept())
        print(f"interrupted; stopped {len(self.running)} processes", file=sys.stderr)
        return 128 + (self.signum or signal.SIGINT)


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m helpers", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, (helptext, add_args, _) in COMMANDS.items():
        add_args(sub.add_parser(name, help=helptext))
    args = parser.parse_args(argv)
    set_default_sink(stderr_progress)  # long commands report their points on a terminal's stderr
    interrupt = _Interrupt()
    old = interrupt.install()
    try:
        return _run(args)
    except BaseException:
        if interrupt.signum is None and not isinstance(sys.exc_info()[1], KeyboardInterrupt):
            raise
        return interrupt.finish()  # whatever the unwinding raised after a Ctrl-C: one line
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _run(args) -> int:
    try:
        return COMMANDS[args.command][2](args)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder or file the user named cannot be made or written
        if exc.filename is None:
            raise
        print(
            f"error: cannot use {exc.filename} ({exc.strerror}): name a file or folder that "
            "exists and that you can write to.",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:  # Spark refused what it was given (a conf, a resource, a job)
        text = _spark_failure(exc)
        if text is None:
            raise
        print(
            f"error: Spark failed ({text}); check the --conf values and LAB_* variables.",
            file=sys.stderr,
        )
        return 2


def _spark_failure(exc: BaseException) -> str | None:
    """One line for an error Spark raised (through py4j or pyspark's own errors), else None."""
    text = getattr(exc, "lab_text", None)
    if text:
        return text
    names = {c.__module__.split(".")[0] for c in type(exc).__mro__}
    return spark_error_text(exc) if names & {"py4j", "pyspark"} else None

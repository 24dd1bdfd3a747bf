"""The crash lab: push batch sizes up against a deliberately small memory limit until the job
fails, in a separate Python process with its own Spark JVM, so the notebook kernel (and its
session) survive. Then decode the real error: which limit, which component, which message.

Limits (both apply in local mode; the child checks and reports it):
- `-XX:MaxDirectMemorySize` on the driver JVM (local mode: the driver is the executor). Arrow Java
  allocates its buffers through Netty from direct memory; Netty counts them against this cap and
  throws `OutOfDirectMemoryError`, which Arrow wraps in `OutOfMemoryException`.
  Arrow needs `-Dio.netty.tryReflectionSetAccessible=true` on Java 9+: Spark 3.5's launcher has
  no such flag, so on 3.5 `helpers.core.session` adds it to the JVM options (with the options you
  pass to `start_session` after it); from 4.0 Spark's launcher adds it and the kit does not. Either
  way `extraJavaOptions` never replace the options Spark's launcher sets itself.
- `spark.executor.pyspark.memory`: the JVM passes PYSPARK_EXECUTOR_MEMORY_MB to each Python
  worker and `pyspark/worker.py` sets RLIMIT_AS (address space, not RSS) to it.

Run `python -m helpers.lab.batch.crash ARGS_JSON OUT_JSON` for the child side; call
`run_crash_lab` from a notebook.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

import pandas as pd
import psutil

from helpers.core.config import LabError, scale_rows
from helpers.core.findings import Finding, finding, span
from helpers.core.session import session_processes, start_session, stop_session
from helpers.core.validate import parse_mem, require_positive
from helpers.inference.scenarios import scenario_frame
from helpers.lab.batch.sweep import require_sweepable, row_bytes, wide_frame
from helpers.measure.samplers import arrow_memory, process_table, reset_arrow_peak
from helpers.measure.timing import set_batch_size, time_noop

MiB = 2**20

# ---- decoding a failure -----------------------------------------------------------------------


@dataclass
class Decoded:
    """What failed, in the reader's terms. Byte counts are None when the message has none."""

    # short id: netty_direct, nio_direct, arrow_oom, python_memory, worker_crash, jvm_gone, other
    cause: str
    component: str
    limit: str
    message: str  # the decisive line of the real error
    requested_bytes: int | None = None
    used_bytes: int | None = None
    max_bytes: int | None = None
    signals: list[str] = field(default_factory=list)  # every known signature found, in text order
    where: str | None = None  # for Python errors: the innermost frame of the worker's traceback
    fatal_thread: str | None = None  # the JVM thread Spark's uncaught-exception handler reported


_SIGNATURES = [
    # (cause, regex, component, limit)
    (
        "netty_direct",
        r"OutOfDirectMemoryError: failed to allocate (\d+) byte\(s\) of direct memory "
        r"\(used: (\d+), max: (\d+)\)",
        "JVM off-heap: Netty's direct-memory counter, used by Arrow's allocator "
        "(ArrowWriter in the JVM)",
        "-XX:MaxDirectMemorySize (driver JVM = executor in local mode)",
    ),
    (
        "nio_direct",
        r"OutOfMemoryError: Direct buffer memory",
        "JVM off-heap: NIO direct ByteBuffers (java.nio.Bits)",
        "-XX:MaxDirectMemorySize",
    ),
    (
        "arrow_oom",
        r"org\.apache\.arrow\.memory\.OutOfMemoryException[^\n]*",
        "JVM off-heap: Arrow Java allocator (arrow-memory)",
        "Arrow allocator limit or the direct memory under it",
    ),
    (
        "python_memory",
        r"(?:ArrowMemoryError|_ArrayMemoryError|(?<![A-Za-z])MemoryError|std::bad_alloc|"
        r"Cannot allocate memory|can't start new thread)[^\n]*",
        "Python worker (pandas / pyarrow / numpy allocating the batch)",
        "spark.executor.pyspark.memory -> RLIMIT_AS in pyspark/worker.py",
    ),
    (
        "worker_crash",
        r"Python worker exited unexpectedly \(crashed\)[^\n]*",
        "Python worker process",
        "(the worker died; see the cause above it)",
    ),
    ("heap_oom", r"OutOfMemoryError: Java heap space", "JVM heap", "spark.driver.memory / -Xmx"),
    (
        "jvm_gone",
        r"(?:Py4JNetworkError|Connection refused|Answer from Java side is empty)[^\n]*",
        "driver JVM (gone: py4j cannot reach it)",
        "(the JVM exited)",
    ),
]
_PRIORITY = [
    "netty_direct",
    "nio_direct",
    "heap_oom",
    "python_memory",
    "arrow_oom",
    "worker_crash",
    "jvm_gone",
]


def decode_error(text: str) -> Decoded:
    """Find the known failure signatures in an error text (exception + logs) and name the root
    one: the memory error closest to the limit beats the wrappers around it."""
    found = {}
    order = []
    for cause, pattern, component, limit in _SIGNATURES:
        m = re.search(pattern, text)
        if m:
            found[cause] = (m, component, limit)
            order.append((m.start(), cause))
    if not found:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        first = next(
            (ln for ln in lines if "Error" in ln or "Exception" in ln), lines[0] if lines else ""
        )
        return Decoded("other", "unknown", "unknown", first[:300])
    cause = next(c for c in _PRIORITY if c in found)
    m, component, limit = found[cause]
    nums = [int(g) for g in m.groups()] if m.groups() else []
    where = None
    if cause == "python_memory":
        frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', text[: m.start()])
        if frames:
            path, line, func = frames[-1]
            where = f"{func} ({path.split('/')[-1]}:{line})"
    thread = re.search(r"Uncaught exception in thread (Thread\[[^\]]*\]|\S+)", text)
    return Decoded(
        cause,
        component,
        limit,
        m.group(0).strip()[:300],
        *(nums + [None, None, None])[:3],
        signals=[c for _, c in sorted(order)],
        where=where,
        fatal_thread=thread.group(1) if thread else None,
    )


SPARK_EXIT_CODES = {
    50: "SparkExitCode.UNCAUGHT_EXCEPTION: an executor thread died of an uncaught error",
    52: "SparkExitCode.OOM: an OutOfMemoryError reached the uncaught-exception handler",
    53: "ExecutorExitCode.DISK_STORE_FAILED_TO_CREATE_DIR",
}


# ---- the report -------------------------------------------------------------------------------


@dataclass
class CrashStep:
    batch_size: int
    ok: bool
    wall_s: float
    arrow_peak_bytes: int | None  # Arrow allocator peak during this step (None after a crash)
    batch_bytes: int
    error: str | None = None  # first 4000 characters of the real error text


@dataclass
class CrashReport:
    """The child's run: its limits, the steps, the first failure decoded. Bytes and seconds."""

    direct_limit_bytes: int | None
    python_limit_bytes: int | None
    jvm_options: list[str]
    worker_memory_env: list[str]  # PYSPARK_EXECUTOR_MEMORY_MB as each Python worker saw it
    worker_rlimit_as: list[str]  # (soft, hard) RLIMIT_AS inside each worker
    one_row_bytes: int
    rows: int
    steps: list[CrashStep]
    decoded: Decoded | None
    jvm_alive_after: bool | None
    jvm_exit_code: (
        int | None
    )  # the child JVM's exit status after the failure (52 = Spark's OOM exit)
    child_exit_code: int
    elapsed_s: float
    leftover_pids_killed: list[int] = field(default_factory=list)
    log_tail: str = ""

    @property
    def last_ok(self) -> int | None:
        ok = [s.batch_size for s in self.steps if s.ok]
        return max(ok) if ok else None

    @property
    def first_failure(self) -> int | None:
        bad = [s.batch_size for s in self.steps if not s.ok]
        return min(bad) if bad else None

    @property
    def crashed(self) -> bool:
        return self.first_failure is not None

    def table(self, mib: bool = False) -> pd.DataFrame:
        """One row per step (bytes, seconds); `mib` adds batch_MiB and arrow_peak_MiB."""
        t = pd.DataFrame(
            [{k: v for k, v in asdict(s).items() if k != "error"} for s in self.steps],
            columns=[f for f in CrashStep.__dataclass_fields__ if f != "error"],
        )
        if mib:
            t["batch_MiB"] = t["batch_bytes"] / MiB
            t["arrow_peak_MiB"] = pd.to_numeric(t["arrow_peak_bytes"]) / MiB
        return t


# ---- what the crash lab found -------------------------------------------------------------------

# Sizes in rows per batch and MiB; `crash_findings` & co. pick the keys that apply.
CRASH_FINDINGS = {
    "failed": (
        "{first_failure:,} rows per batch failed ({ran}) with `{message}` in {where}; limit: "
        "{limit}."
    ),
    "no_failure": (
        "No failure up to {last_ok:,} rows per batch: the limit was not reached; push bigger "
        "batches or lower the limit."
    ),
    "survived": (
        "The child's JVM {fate}; this kernel (pid {pid}) still runs jobs: "
        "`spark.range(1000).count()` = {count}."
    ),
    "pyspark_memory": (
        "Each Python worker saw PYSPARK_EXECUTOR_MEMORY_MB={env} and RLIMIT_AS={rlimit}, so "
        "`spark.executor.pyspark.memory` {applies} in local mode."
    ),
    "vs_cap": (
        "At {first_failure:,} rows per batch, where the child failed, the unlimited sweep measured "
        "{failure_mib:.1f} MiB of Arrow memory, {side} the child's {cap_mib:.0f} MiB cap."
    ),
    "netty_chunks": (
        "Netty takes direct memory in chunks (the failed request was {requested_mib:.0f} MiB), "
        "so the cap binds a little before Arrow's own count reaches it."
    ),
    "idle_vms": (
        "This session's {n} idle Python workers map {mib} MiB of address space each (RSS is "
        "smaller): that is what RLIMIT_AS counts."
    ),
    "skipped": (
        "Skipped at LAB_SCALE={scale}: partitions of {rows:,} rows are too small to exceed the "
        "limit. Run with LAB_SCALE=workshop to see it."
    ),
}


def crash_findings(report: CrashReport) -> list[Finding]:
    """What happened in the child, one sentence: the first failing batch size (and the largest
    that ran), the decisive line of its error, where it was raised and the limit; or the largest
    size that ran when none failed."""
    if not report.steps:
        raise LabError("the crash lab measured no batch size: see the report's `log_tail`.")
    if not report.crashed:
        return [finding(CRASH_FINDINGS, "no_failure", last_ok=report.last_ok)]
    d = report.decoded or Decoded("unknown", "unknown", "unknown", "")
    ran = f"{report.last_ok:,} ran" if report.last_ok else "the smallest size tried"
    where = f"{d.component}, raised in {d.where}" if d.where else d.component
    return [
        finding(
            CRASH_FINDINGS,
            "failed",
            first_failure=report.first_failure,
            ran=ran,
            message=d.message or d.cause,
            where=where,
            limit=d.limit,
            cause=d.cause,
            signals=", ".join(d.signals),
        )
    ]


def jvm_fate(report: CrashReport) -> str:
    """What became of the child's JVM after the first failure, as a phrase: its exit code (Spark's
    name for it and the thread its uncaught-exception handler named), or that it survived."""
    code = report.jvm_exit_code
    if not report.crashed:
        return "ran every batch size"
    if code is None:
        return "survived the failure" if report.jvm_alive_after else "left no exit code"
    d = report.decoded
    name = SPARK_EXIT_CODES.get(code)
    if name and d and d.fatal_thread:
        return f"then exited with code {code} ({name}; thread `{d.fatal_thread}`)"
    return f"then exited with code {code} ({name})" if name else f"then exited with code {code}"


def pyspark_memory_findings(report: CrashReport) -> list[Finding]:
    """Whether spark.executor.pyspark.memory reached the child's Python workers: the
    PYSPARK_EXECUTOR_MEMORY_MB and RLIMIT_AS each worker saw."""
    env = report.worker_memory_env
    applies = "applies" if env and env != ["unset"] else "does not apply"
    return [
        finding(
            CRASH_FINDINGS, "pyspark_memory", env=env, rlimit=report.worker_rlimit_as,
            applies=applies,
        )
    ]  # fmt: skip


def lab_findings(report: CrashReport, still_counts: int) -> list[Finding]:
    """Everything notebook 04 says after the crash lab: the outcome and its decoded error, what
    became of the child's JVM while this kernel (this pid) survived (`still_counts`: the count its
    own session returned after the lab), and whether the Python limit applies."""
    alive = finding(
        CRASH_FINDINGS, "survived", fate=jvm_fate(report), pid=os.getpid(), count=still_counts
    )
    return [*crash_findings(report), alive, *pyspark_memory_findings(report)]


def sweep_vs_crash_findings(report: CrashReport, wide: pd.DataFrame) -> list[Finding]:
    """The unlimited sweep's Arrow allocator peak (MiB, `wide`: one label of a sweep table) at
    the child's first failing batch size, against the child's direct-memory cap (below it:
    Netty's chunk, MiB, explains why); the child's own outcome (`crash_findings`) when the sweep
    did not measure the failing size."""
    peaks = wide.groupby("batch_size")["peak_jvm_offheap_bytes"].max()
    cap = report.direct_limit_bytes
    if not report.crashed or report.first_failure not in peaks.index or not cap:
        return crash_findings(report)
    at_failure = peaks[report.first_failure]
    side = "above" if at_failure > cap else "below"
    out = [
        finding(
            CRASH_FINDINGS,
            "vs_cap",
            first_failure=report.first_failure,
            failure_mib=at_failure / MiB,
            side=side,
            cap_mib=cap / MiB,
        )
    ]
    d = report.decoded
    if side == "below" and d and d.requested_bytes:
        out.append(finding(CRASH_FINDINGS, "netty_chunks", requested_mib=d.requested_bytes / MiB))
    return out


def idle_worker_vms() -> list[int]:
    """Address space (virtual memory, bytes) of each Python worker of this session right now."""
    out = []
    for pid in process_table().query("role == 'python_worker'").pid:
        try:
            out.append(int(psutil.Process(int(pid)).memory_info().vms))
        except psutil.Error:  # the worker ended in between
            pass
    return out


def python_limit_findings(
    vms: list[int], report: CrashReport | None, rows_per_partition: int, scale_name: str
) -> list[Finding]:
    """The idle workers' address space (MiB, min-max of `vms`; nothing when no worker is idle),
    then the Python-limit crash lab's RLIMIT_AS and outcome, or why it was skipped (`report`
    None: partitions too small)."""
    out = []
    if vms:
        lo, hi = min(vms) / MiB, max(vms) / MiB
        mib = span(lo, hi, "{:,.0f}", "–")
        out.append(finding(CRASH_FINDINGS, "idle_vms", n=len(vms), lo_mib=lo, hi_mib=hi, mib=mib))
    if report is None:
        return out + [finding(CRASH_FINDINGS, "skipped", scale=scale_name, rows=rows_per_partition)]
    return out + pyspark_memory_findings(report) + crash_findings(report)


# ---- the child side -----------------------------------------------------------------------------


def _probe_worker_limits(spark) -> tuple[list[str], list[str]]:
    def probe(it):
        import os as _os
        import resource

        import pandas as _pd

        for _ in it:
            yield _pd.DataFrame(
                {
                    "env": [_os.environ.get("PYSPARK_EXECUTOR_MEMORY_MB", "unset")],
                    "rlimit": [str(resource.getrlimit(resource.RLIMIT_AS))],
                }
            )

    n = spark.sparkContext.defaultParallelism
    rows = spark.range(n, numPartitions=n).mapInPandas(probe, "env string, rlimit string").collect()
    return sorted({r.env for r in rows}), sorted({r.rlimit for r in rows})


def child_main(args: dict, out_path: str) -> int:
    """Run in the child process: start a limited session, push the batch sizes, write the
    report JSON."""

    t0 = time.perf_counter()
    java_options = (
        (f"-XX:MaxDirectMemorySize={args['direct_memory']}",) if args.get("direct_memory") else ()
    )
    conf = (
        {"spark.executor.pyspark.memory": args["python_memory"]}
        if args.get("python_memory")
        else {}
    )
    conf.update(args.get("conf") or {})
    result = {
        "pids": [],
        "steps": [],
        "jvm_options": [],
        "worker_memory_env": [],
        "worker_rlimit_as": [],
        "error_text": None,
        "jvm_alive_after": None,
        "jvm_exit_code": None,
        "one_row_bytes": 0,
    }

    def dump():
        with open(out_path + ".tmp", "w") as fh:
            json.dump(result, fh)
        os.replace(out_path + ".tmp", out_path)

    def _pids():
        out = []
        for p in session_processes():
            try:
                out.append((p.pid, p.create_time()))
            except psutil.Error:
                pass
        return out

    try:
        spark = start_session("crashlab", conf=conf, synapseml=False, java_options=java_options)
    except Exception as exc:  # the limits refused before any batch: say so in the report
        result["error_text"] = f"{type(exc).__name__}: {exc}"[:200_000]
        dump()
        return 0
    try:
        result["pids"] = _pids()
        mx = spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
        result["jvm_options"] = [
            str(a)
            for a in mx.getInputArguments()
            if "DirectMemory" in str(a) or "netty" in str(a) or str(a).startswith("-Xmx")
        ]
        result["worker_memory_env"], result["worker_rlimit_as"] = _probe_worker_limits(spark)
        result["pids"] = sorted({*map(tuple, result["pids"]), *_pids()})
        df = wide_frame(spark, args["rows"], args["extra_doubles"])
        one = row_bytes(df.schema)
        result["one_row_bytes"] = one
        cap = -(-args["rows"] // df.rdd.getNumPartitions())
        dump()
        for batch in args["batch_sizes"]:
            step = {
                "batch_size": batch,
                "ok": False,
                "wall_s": 0.0,
                "arrow_peak_bytes": None,
                "batch_bytes": min(batch, cap) * one,
                "error": None,
            }
            result["steps"].append(step)
            dump()
            t = time.perf_counter()
            try:
                set_batch_size(spark, batch)
                reset_arrow_peak(spark)
                frame = scenario_frame(spark, args["scenario"], df=df)
                t = time.perf_counter()
                time_noop(frame)
                step["wall_s"] = time.perf_counter() - t
                step["arrow_peak_bytes"] = arrow_memory(spark)[1]
                step["ok"] = True
            except Exception as exc:  # the real failure: keep its text
                step["wall_s"] = time.perf_counter() - t
                text = f"{type(exc).__name__}: {exc}"
                result["error_text"] = text[:200_000]
                step["error"] = text[:4000]
                gw_proc = getattr(getattr(spark.sparkContext, "_gateway", None), "proc", None)
                if gw_proc is not None:
                    try:
                        result["jvm_exit_code"] = gw_proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        result["jvm_exit_code"] = None
                result["jvm_alive_after"] = result["jvm_exit_code"] is None
                dump()
                break
            dump()
    except Exception as exc:  # failed before the first batch (e.g. workers that cannot start)
        result["error_text"] = f"{type(exc).__name__}: {exc}"[:200_000]
    finally:
        try:
            stop_session(timeout=10)
        except Exception:
            pass
        result["elapsed_s"] = time.perf_counter() - t0
        dump()
    return 0


# ---- the parent side --------------------------------------------------------------------------


def default_batches() -> list[int]:
    """Growing batch sizes for the crash lab, a decade apart (a batch is capped at its
    partition's rows)."""
    return [1_000, 10_000, 100_000]


def run_crash_lab(
    direct_memory: str | None = "24m",
    python_memory: str | None = "2g",
    batch_sizes: list[int] | None = None,
    rows: int | None = None,
    extra_doubles: int = 120,
    scenario: str = "map_in_pandas",
    timeout: float = 600,
    conf: dict | None = None,
) -> CrashReport:
    """Run the crash lab in a child process and return its report. `direct_memory` caps the
    child JVM's direct memory (e.g. '24m'), `python_memory` sets spark.executor.pyspark.memory
    (e.g. '2g' just to show it applies, '450m' to make workers fail); batches of
    `extra_doubles` + 17 doubles per row are pushed in ascending `batch_sizes` until one fails.
    `conf`: more Spark confs for the child's session (e.g. a byte cap per Arrow batch)."""

    require_sweepable(scenario)
    if scenario == "pandas_udf" or scenario == "iter_pandas_udf":
        raise LabError("the crash lab ships whole wide rows: use map_in_pandas or map_in_arrow.")
    if direct_memory is None and python_memory is None:
        raise LabError(
            "give the crash lab a limit: direct_memory='24m' and/or python_memory='450m'."
        )
    direct = parse_mem(direct_memory) if direct_memory is not None else None
    pymem = parse_mem(python_memory) if python_memory is not None else None
    sizes = sorted(
        require_positive("batch size", int(b)) for b in (batch_sizes or default_batches())
    )
    rows = require_positive("rows", rows) if rows is not None else scale_rows()
    args = {
        "direct_memory": direct_memory,
        "python_memory": python_memory,
        "batch_sizes": sizes,
        "rows": rows,
        "extra_doubles": require_positive("extra doubles", extra_doubles),
        "scenario": scenario,
        "conf": {k: str(v) for k, v in (conf or {}).items()},
    }
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="crashlab-") as tmp:
        out = os.path.join(tmp, "report.json")
        env = dict(os.environ, LAB_LOG_LEVEL="ERROR")
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "helpers.lab.batch.crash", json.dumps(args), out],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
            )
            code, log = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            code, log = -1, f"timeout after {timeout} s\n{exc.stderr or ''}"
        if not os.path.exists(out):
            raise LabError(
                f"the crash-lab child produced no report (exit {code}); its log ends: "
                f"{' | '.join(log.strip().splitlines()[-3:])[:400]}"
            )
        with open(out) as fh:
            res = json.load(fh)
    killed = []
    for pid, created in res.get(
        "pids", []
    ):  # processes the child's session started, if any outlived it
        try:
            p = psutil.Process(pid)
            if abs(p.create_time() - created) < 0.01:  # the same process, not a reused PID
                p.kill()
                killed.append(pid)
        except psutil.Error:
            pass
    text = res.get("error_text")
    decoded = decode_error(text + "\n" + log) if text else None
    steps = [CrashStep(**s) for s in res["steps"]]
    if not steps and not text:  # killed before its first batch: a report of nothing is no result
        raise LabError(
            f"the crash-lab child measured no batch size (exit {code}); its log ends: "
            f"{' | '.join(log.strip().splitlines()[-3:])[:400]}"
        )
    if not steps:  # nothing ran: an empty report would say nothing went wrong
        why = f" ({decoded.limit})" if decoded and decoded.cause != "other" else ""
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")[:240]
        raise LabError(
            f"the crash lab failed before its first batch{why}: {first}; with "
            f"python_memory={python_memory!r} and direct_memory={direct_memory!r} the workers "
            "may not start at all: raise python_memory or set direct_memory='24m'."
        )
    return CrashReport(
        direct,
        pymem,
        res["jvm_options"],
        res["worker_memory_env"],
        res["worker_rlimit_as"],
        res["one_row_bytes"],
        rows,
        steps,
        decoded,
        res.get("jvm_alive_after"),
        res.get("jvm_exit_code"),
        code,
        time.perf_counter() - t0,
        killed,
        "\n".join(log.strip().splitlines()[-40:]),
    )


if __name__ == "__main__":
    sys.exit(child_main(json.loads(sys.argv[1]), sys.argv[2]))

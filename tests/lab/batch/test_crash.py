"""Decoding real failure texts of the crash lab, its input checks and its findings on hand-made
reports (no Spark)."""

import os

import pandas as pd
import pytest

from helpers.core.config import LabError
from helpers.lab.batch import crash as C
from helpers.lab.batch.crash import decode_error, parse_mem, run_crash_lab

NETTY = (
    "py4j.protocol.Py4JJavaError: An error occurred while calling o123.save.\n"
    ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 13.0 "
    "failed 1 times\n"
    "org.apache.spark.api.python.PythonException: Python worker exited unexpectedly (crashed)\n"
    "Caused by: org.apache.arrow.memory.OutOfMemoryException: Failure allocating buffer.\n"
    "Caused by: io.netty.util.internal.OutOfDirectMemoryError: failed to allocate 4194304 byte(s) "
    "of direct memory (used: 25165824, max: 25165824)\n"
    "26/11/24 02:49:18 ERROR SparkUncaughtExceptionHandler: Uncaught exception in thread "
    "Thread[stdout writer for python,5,main]\n"
)

PYMEM = """PythonException:
  An exception was thrown from the Python worker. Please see the stack trace below.
Traceback (most recent call last):
  File "/x/pyspark/sql/pandas/serializers.py", line 112, in load_stream
    for batch in reader:
  File "pyarrow/ipc.pxi", line 705, in pyarrow.lib.RecordBatchReader.read_next_batch
  File "pyarrow/error.pxi", line 89, in pyarrow.lib.check_status
MemoryError
"""


def test_decode_netty_direct_memory():
    d = decode_error(NETTY)
    assert d.cause == "netty_direct" and "MaxDirectMemorySize" in d.limit
    assert (d.requested_bytes, d.used_bytes, d.max_bytes) == (4194304, 25165824, 25165824)
    assert d.signals == ["worker_crash", "arrow_oom", "netty_direct"]
    assert d.fatal_thread == "Thread[stdout writer for python,5,main]"


def test_decode_python_memory_limit():
    d = decode_error(PYMEM)
    assert d.cause == "python_memory" and "pyspark.memory" in d.limit
    assert d.where == "pyarrow.lib.check_status (error.pxi:89)"
    assert d.requested_bytes is None


def test_out_of_direct_memory_is_not_a_python_memory_error():
    assert "python_memory" not in decode_error(NETTY).signals


def test_unknown_error_keeps_the_first_error_line():
    d = decode_error("something\njava.lang.IllegalStateException: boom\nmore")
    assert d.cause == "other" and d.message == "java.lang.IllegalStateException: boom"


def test_parse_mem():
    assert (
        parse_mem("24m") == 24 * 2**20
        and parse_mem("1g") == 2**30
        and parse_mem("512K") == 512 * 1024
    )
    assert parse_mem(4096) == 4096
    for bad in ("0m", "-3m", "lots", ""):
        with pytest.raises(LabError):
            parse_mem(bad)


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"direct_memory": None, "python_memory": None}, "give the crash lab a limit"),
        ({"scenario": "row_udf"}, "Arrow batches"),
        ({"scenario": "pandas_udf"}, "wide rows"),
        ({"direct_memory": "lots"}, "24m"),
        ({"batch_sizes": [0]}, "batch size"),
    ],
)
def test_bad_input_before_any_process_starts(kwargs, needle):
    with pytest.raises(LabError, match=needle):
        run_crash_lab(**kwargs)


# ---- findings on hand-made reports ---------------------------------------------------------------

MiB = 2**20


def keys(found):
    return [f.key for f in found if f.text()]


def report(sizes_ok, failed=None, decoded=None, exit_code=None, alive=None, env=("2048",)):
    steps = [C.CrashStep(b, True, 0.1, 2 * MiB, b * 1096) for b in sizes_ok]
    if failed is not None:
        steps.append(C.CrashStep(failed, False, 0.1, None, failed * 1096, "boom"))
    return C.CrashReport(
        direct_limit_bytes=24 * MiB,
        python_limit_bytes=2**31,
        jvm_options=["-XX:MaxDirectMemorySize=24m"],
        worker_memory_env=list(env),
        worker_rlimit_as=["(2147483648, 2147483648)"],
        one_row_bytes=1096,
        rows=20_000,
        steps=steps,
        decoded=decoded,
        jvm_alive_after=alive,
        jvm_exit_code=exit_code,
        child_exit_code=0,
        elapsed_s=9.0,
    )


NETTY_REPORT = report([1000], 10_000, decode_error(NETTY), exit_code=52)


def test_crash_findings_of_a_netty_failure():
    (f,) = C.crash_findings(NETTY_REPORT)
    assert f.key == "failed"
    assert f.text().startswith(
        "10,000 rows per batch failed (1,000 ran) with `OutOfDirectMemoryError: failed to "
        "allocate 4194304 byte(s) of direct memory (used: 25165824, max: 25165824)` in JVM "
        "off-heap: Netty's direct-memory counter"
    )
    assert f.text().endswith("; limit: -XX:MaxDirectMemorySize (driver JVM = executor in local "
                             "mode).")  # fmt: skip


def test_crash_findings_of_a_python_failure_names_the_frame():
    (f,) = C.crash_findings(report([], 10_000, decode_error(PYMEM), alive=True))
    assert f.text().startswith("10,000 rows per batch failed (the smallest size tried) with ")
    assert ", raised in pyarrow.lib.check_status (error.pxi:89); limit: " in f.text()
    (g,) = C.crash_findings(report([], 10_000, None))
    assert g.key == "failed" and "with `unknown` in unknown" in g.text()


def test_crash_findings_without_a_failure_or_without_steps():
    (f,) = C.crash_findings(report([1000, 10_000]))
    assert keys([f]) == ["no_failure"] and f.text().startswith("No failure up to 10,000 rows")
    with pytest.raises(LabError, match="measured no batch size"):
        C.crash_findings(report([]))


@pytest.mark.parametrize(
    "exit_code, alive, fate",
    [
        (52, None, "then exited with code 52 (SparkExitCode.OOM: an OutOfMemoryError reached"),
        (1, None, "then exited with code 1; this kernel"),
        (None, True, "survived the failure"),
        (None, None, "left no exit code"),
    ],
)
def test_the_childs_jvm_fate(exit_code, alive, fate):
    r = report([], 10_000, decode_error(PYMEM), exit_code=exit_code, alive=alive)
    assert fate in C.lab_findings(r, 1000)[1].text()


def test_lab_findings_outcome_then_the_jvm_and_this_kernel_then_the_python_limit():
    found = C.lab_findings(NETTY_REPORT, 1000)
    assert keys(found) == ["failed", "survived", "pyspark_memory"]
    assert found[1].text() == (
        "The child's JVM then exited with code 52 (SparkExitCode.OOM: an OutOfMemoryError reached "
        "the uncaught-exception handler; thread `Thread[stdout writer for python,5,main]`); this "
        f"kernel (pid {os.getpid()}) still runs jobs: `spark.range(1000).count()` = 1000."
    )
    assert "so `spark.executor.pyspark.memory` applies in local mode" in found[2].text()
    (ignored,) = C.pyspark_memory_findings(report([1000], env=("unset",)))
    assert ignored.values["applies"] == "does not apply"
    assert "JVM ran every batch size" in C.lab_findings(report([1000]), 1000)[1].text()


def wide_sweep(peaks_mib):
    return pd.DataFrame(
        {
            "batch_size": list(peaks_mib),
            "peak_jvm_offheap_bytes": [m * MiB for m in peaks_mib.values()],
        }
    )


def test_sweep_vs_crash_above_and_below_the_cap():
    (above,) = C.sweep_vs_crash_findings(NETTY_REPORT, wide_sweep({1000: 3.0, 10_000: 30.0}))
    assert above.text() == (
        "At 10,000 rows per batch, where the child failed, the unlimited sweep measured 30.0 MiB "
        "of Arrow memory, above the child's 24 MiB cap."
    )
    below = C.sweep_vs_crash_findings(NETTY_REPORT, wide_sweep({10_000: 20.0}))
    assert keys(below) == ["vs_cap", "netty_chunks"]
    assert "below the child's 24 MiB cap" in below[0].text()
    assert "(the failed request was 4 MiB)" in below[1].text()


def test_sweep_vs_crash_falls_back_to_the_outcome():
    not_measured = C.sweep_vs_crash_findings(NETTY_REPORT, wide_sweep({1000: 3.0}))
    assert keys(not_measured) == keys(C.crash_findings(NETTY_REPORT))
    assert keys(C.sweep_vs_crash_findings(report([1000]), wide_sweep({1000: 3.0}))) == [
        "no_failure"
    ]


def test_python_limit_findings():
    skipped = C.python_limit_findings([300 * MiB, 420 * MiB], None, 10_000, "ci")
    assert keys(skipped) == ["idle_vms", "skipped"]
    assert skipped[0].text().startswith("This session's 2 idle Python workers map 300–420 MiB")
    assert "Skipped at LAB_SCALE=ci: partitions of 10,000 rows" in skipped[1].text()
    assert keys(C.python_limit_findings([], None, 10_000, "ci")) == ["skipped"]
    ran = C.python_limit_findings([], report([10_000], 50_000, decode_error(PYMEM)), 50_000, "full")
    assert keys(ran) == ["pyspark_memory", "failed"]
    assert "RLIMIT_AS=['(2147483648, 2147483648)']" in ran[0].text()


def test_table_in_mib():
    t = NETTY_REPORT.table(mib=True)
    assert t.batch_MiB.tolist() == [1000 * 1096 / MiB, 10_000 * 1096 / MiB]
    assert t.arrow_peak_MiB.iloc[0] == 2.0 and pd.isna(t.arrow_peak_MiB.iloc[1])
    assert "error" not in t and list(report([]).table().columns)[0] == "batch_size"


def test_every_crash_template_is_reachable():
    reports = [NETTY_REPORT, report([1000]), report([1000], env=("unset",))]
    sweeps = [wide_sweep({1000: 3.0, 10_000: 30.0}), wide_sweep({10_000: 20.0})]
    seen = {f.key for r in reports for f in C.lab_findings(r, 1000)}
    seen |= {f.key for w in sweeps for f in C.sweep_vs_crash_findings(NETTY_REPORT, w)}
    seen |= {f.key for vms in ([], [MiB]) for f in C.python_limit_findings(vms, None, 1, "ci")}
    assert seen == set(C.CRASH_FINDINGS)


def test_a_child_that_fails_before_its_first_batch_is_an_error_not_an_empty_report(monkeypatch):
    """python_memory without a direct-memory limit, workers that cannot start: the child writes
    the error and no step; the parent says so in one line instead of an empty report."""
    import json
    import subprocess

    def child(argv, **kwargs):
        with open(argv[-1], "w") as fh:
            json.dump(
                {
                    "pids": [],
                    "steps": [],
                    "jvm_options": [],
                    "worker_memory_env": [],
                    "worker_rlimit_as": [],
                    "error_text": "PythonException: MemoryError\nmore lines",
                    "one_row_bytes": 0,
                },
                fh,
            )
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(C.subprocess, "run", child)
    with pytest.raises(LabError, match="before its first batch") as err:
        run_crash_lab(direct_memory=None, python_memory="300m", rows=1000)
    assert "\n" not in str(err.value) and "python_memory='300m'" in str(err.value)
    text = None  # killed before its first batch without an error: no result either

    def silent(argv, **kwargs):
        with open(argv[-1], "w") as fh:
            json.dump({"pids": [], "steps": [], "error_text": text}, fh)
        return subprocess.CompletedProcess(argv, -9, "", "last words\n")

    monkeypatch.setattr(C.subprocess, "run", silent)
    with pytest.raises(LabError, match="measured no batch size .exit -9.; its log ends: last"):
        run_crash_lab(rows=1000)


def test_exit_code_53_is_the_executors_own():
    assert C.SPARK_EXIT_CODES[53].startswith("ExecutorExitCode.")

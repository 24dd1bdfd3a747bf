"""Decoding real failure texts of the crash lab (no Spark), and its input checks."""

import pytest

from helpers.core.config import LabError
from helpers.lab.batch.crash import decode_error, parse_mem, run_crash_lab

NETTY = """py4j.protocol.Py4JJavaError: An error occurred while calling o123.save.
: org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 13.0 failed 1 times
org.apache.spark.api.python.PythonException: Python worker exited unexpectedly (crashed)
Caused by: org.apache.arrow.memory.OutOfMemoryException: Failure allocating buffer.
Caused by: io.netty.util.internal.OutOfDirectMemoryError: failed to allocate 4194304 byte(s) of direct memory (used: 25165824, max: 25165824)
26/11/24 02:49:18 ERROR SparkUncaughtExceptionHandler: Uncaught exception in thread Thread[stdout writer for python,5,main]
"""

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

"""Clean stop: the JVM, pyspark.daemon and its workers are all gone after stop_session()."""

import os

import psutil
import pytest

from helpers.core import processes, session


def test_build_conf_defaults(monkeypatch):
    monkeypatch.delenv("LAB_MASTER", raising=False)
    conf = session.build_conf("x", {"spark.driver.extraJavaOptions": "-Xss4m"})
    assert conf["spark.master"] == "local[*]"
    assert conf["spark.driver.bindAddress"] == "127.0.0.1"
    flag = session.NETTY_REFLECTION_FLAG
    assert (flag in conf["spark.driver.extraJavaOptions"]) != session.SPARK_ADDS_NETTY_FLAG
    assert "-Xss4m" in conf["spark.driver.extraJavaOptions"]
    monkeypatch.setenv("LAB_MASTER", "spark://127.0.0.1:7077")
    assert session.build_conf("x")["spark.master"] == "spark://127.0.0.1:7077"


def test_logs_off_puts_back_the_level_the_kit_set(monkeypatch):
    """A session kept OFF for good stays OFF after a failing job's `logs_off` (notebook 10's Arrow
    cache session); otherwise the kit's level comes back. Only the log-level calls are recorded."""
    levels = []
    sc = type("SC", (), {"setLogLevel": lambda self, level: levels.append(level)})()
    spark = type("S", (), {"sparkContext": sc})()
    monkeypatch.setattr(session._STATE, "log_level", None)
    session.set_log_level(spark, "WARN")
    with session.logs_off(spark):
        pass
    session.set_log_level(spark, "OFF")
    with session.logs_off(spark):
        pass
    assert levels == ["WARN", "OFF", "WARN", "OFF", "OFF", "OFF"]


def test_runtime_conf_reuses_session(spark):
    again = session.start_session(
        "unit-tests", conf={"spark.sql.execution.arrow.maxRecordsPerBatch": "777"}
    )
    assert again is spark
    assert spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch") == "777"


def test_stop_leaves_no_process(spark):
    from helpers.inference.scenarios import scenario_frame
    from helpers.measure.timing import time_noop

    time_noop(scenario_frame(spark, "pandas_udf", rows=2000))
    procs = session.session_processes()
    names = {processes.process_command(p) for p in procs}
    assert any("java" in n for n in names) and any("pyspark.daemon" in n for n in names)
    assert session.stop_session() == []
    assert not [p.pid for p in procs if processes.is_running(p)]
    mine = [p for p in psutil.Process().children(recursive=True) if processes.is_running(p)]
    assert not [
        p
        for p in mine
        if "java" in processes.process_command(p)
        or "pyspark.daemon" in processes.process_command(p)
    ]
    # the fixture's own stop is now a no-op; a new session can start afterwards
    s2 = session.start_session("unit-tests-2")
    assert s2.range(3).count() == 3
    session.stop_session()


_KERNEL_JOB = """
from helpers.core import session
from helpers.measure.timing import time_noop
from helpers.inference.scenarios import scenario_frame
spark = session.start_session("kernel-lifetime", synapseml=False)
time_noop(scenario_frame(spark, "pandas_udf", rows=2000))
print("PIDS", *sorted(p.pid for p in session.session_processes()))
"""


@pytest.mark.spark
@pytest.mark.parametrize("how", ["restart", "kill"])
def test_kernel_end_stops_its_session(how):
    """A notebook kernel that restarts (atexit runs stop_session) or is killed outright (the JVM
    exits when its stdin pipe closes, the daemon and workers with it) leaves none of its session's
    processes behind, checked by the PIDs the kernel reported."""
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="python3")
    km.shutdown_wait_time = 30.0
    km.start_kernel(env={**os.environ, "LAB_SCALE": "ci"})
    kc = km.client()
    kc.start_channels()
    lines: list[str] = []

    def keep(msg):
        if msg["msg_type"] == "stream":
            lines.append(msg["content"]["text"])

    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(_KERNEL_JOB, timeout=240, output_hook=keep)
        assert reply["content"]["status"] == "ok", reply["content"]
        text = "".join(lines)
        pids = [int(x) for x in text.split("PIDS", 1)[1].split()]
        procs = [psutil.Process(pid) for pid in pids]
        names = {processes.process_command(p) for p in procs}
        assert any("java" in n for n in names) and any("pyspark.daemon" in n for n in names)
        if how == "restart":
            km.restart_kernel(now=False)
        else:
            km.shutdown_kernel(now=True)  # SIGKILL: no atexit in the kernel
        assert processes.wait_for(
            lambda: not [p for p in procs if processes.is_running(p)], timeout=60
        ), [p.pid for p in procs if processes.is_running(p)]
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)

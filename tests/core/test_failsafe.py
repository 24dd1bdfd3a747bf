"""Nothing the kit starts outlives the Python process that started it, whatever kills that process
(SIGKILL, SIGTERM, Ctrl-C during the driver's start-up): real signals on real processes."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from helpers.core.config import ROOT
from helpers.core.processes import running_pids, wait_for

# a parent that keeps a child (which has a child of its own) and then waits to be killed
_KEEPER = """
import subprocess, sys, time
import psutil
from helpers.core import processes
child = subprocess.Popen([sys.executable, "-c",
    "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
    "'import time; time.sleep(60)']); time.sleep(60)"])
processes.keep(child.pid)
spare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
processes.keep(spare.pid)
processes.release(spare.pid)  # released: stopped on purpose elsewhere, the watchdog leaves it
while not psutil.Process(child.pid).children():
    time.sleep(0.05)
grandchild = psutil.Process(child.pid).children()[0].pid
print("PIDS", child.pid, grandchild, spare.pid, processes.watchdog_pid(), flush=True)
time.sleep(60)
"""


def _family(pid):
    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return set()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_watchdog_stops_kept_trees_when_the_parent_dies(sig):
    parent = subprocess.Popen(
        [sys.executable, "-c", _KEEPER], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        line = parent.stdout.readline()
        child, grandchild, spare, watchdog = (int(x) for x in line.split()[1:])
        family = [child, grandchild, spare, watchdog]
        assert running_pids(family) == family
        os.kill(parent.pid, sig)
        parent.wait(timeout=10)
        assert wait_for(lambda: not running_pids([child, grandchild, watchdog]), timeout=15)
        assert running_pids([spare]) == [spare]  # a released PID is never touched
    finally:
        for p in running_pids([spare]):
            psutil.Process(p).kill()
        if parent.poll() is None:
            parent.kill()


def _cli(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "helpers", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "LAB_SCALE": "ci"},
    )


def _watch_until(proc, ready, timeout=240):
    """Poll the CLI's process tree until `ready(names)` (names of its descendants) holds; return
    every descendant PID seen."""
    seen: set[int] = set()
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        kids = _family(proc.pid)
        seen |= kids
        names = []
        for pid in kids:
            try:
                names.append(" ".join(psutil.Process(pid).cmdline()))
            except psutil.Error:
                pass
        if ready(names):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"not ready in {timeout} s (exit {proc.poll()})")


@pytest.mark.spark
def test_ctrl_c_during_driver_start_up_stops_the_jvm():
    """Ctrl-C while the driver JVM starts: one line, exit code 130, no JVM left."""
    proc = _cli("bench", "--scenarios", "pandas_udf", "--repeats", "1", "--no-parity")
    try:
        seen = _watch_until(proc, lambda names: any("SparkSubmit" in n for n in names))
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err[-2000:]
        last = err.strip().splitlines()[-1]
        assert last.startswith("interrupted; stopped ") and last.endswith(" processes"), err
        assert "Traceback" not in err
        assert wait_for(lambda: not running_pids(seen), timeout=20), running_pids(seen)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.spark
def test_killed_driver_takes_its_cluster_with_it():
    """SIGKILL to a command running on a 1-worker standalone cluster, once an executor runs: the
    master, the worker, the executor and the driver JVM all go (the watchdog, by kept PIDs)."""
    proc = _cli("bench", "--cluster", "1", "--scenarios", "pandas_udf", "--repeats", "1")
    try:
        seen = _watch_until(
            proc, lambda names: any("CoarseGrainedExecutorBackend" in n for n in names)
        )
        seen |= _family(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert wait_for(lambda: not running_pids(seen), timeout=30), [
            " ".join(psutil.Process(p).cmdline())[:120] for p in running_pids(seen)
        ]
    finally:
        if proc.poll() is None:
            proc.kill()

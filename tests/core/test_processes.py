"""helpers.core.processes on real child processes (no Spark)."""

import subprocess
import sys
import time

from helpers.core.processes import processes_under, reap

CHILD = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)"
)


def test_processes_under_walks_the_tree_and_skips_gone_roots():
    parent = subprocess.Popen([sys.executable, "-c", CHILD])
    try:
        for _ in range(100):  # the grandchild starts a moment later
            tree = processes_under([parent.pid])
            if len(tree) == 2:
                break
            time.sleep(0.05)
        assert [p.pid for p in tree][0] == parent.pid and len(tree) == 2
        below = processes_under([parent.pid, 2**22 + 7], include_roots=False)
        assert [p.pid for p in below] == [tree[1].pid]
    finally:
        left = processes_under([parent.pid])
        for p in left:
            p.kill()
        reap(left)


def test_reap_survives_a_failing_psutil_wait(monkeypatch):
    """psutil 7.2's pidfd wait raised FileNotFoundError for a process that had just exited: reap
    then polls, still waits for the slow one and kills what outlives the timeout."""
    import psutil

    from helpers.core import processes

    def broken_wait(*_args, **_kwargs):
        raise FileNotFoundError(2, "No such file or directory")

    quick = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    stuck = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(psutil, "wait_procs", broken_wait)
    try:
        killed = processes.reap([psutil.Process(quick.pid), psutil.Process(stuck.pid)], timeout=3)
        assert killed == [stuck.pid]
        assert quick.wait(timeout=5) == 0 and stuck.wait(timeout=5) != 0
    finally:
        stuck.kill()
        quick.wait()
        stuck.wait()

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

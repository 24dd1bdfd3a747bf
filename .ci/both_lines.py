"""`make test-both`: the two Spark lines' test runs side by side, each into its own log.

usage: python .ci/both_lines.py PYTHON4     (called by the Makefile after the 3.5 line's set-up)

Runs `make test-run` (3.5) and `make test SPARK=4 PYTHON=PYTHON4` at once: the 4.x line's set-up
and lint (a venv from its lock; the data the 3.5 set-up made are already there) overlap the 3.5
tests instead of keeping them waiting. Each line has its
own venv, runs/ folder (LAB_RUNS_DIR) and JVMs, so they share nothing but the two cores. A test run
of one line leaves a core idle much of the time (JVM start-up, executors registering, waits on a
cluster), which the other line then uses. Logs: runs/test-3.5.log and runs/test-4.log, printed
when both have ended. Ctrl-C (or SIGTERM) stops both runs; exit code: 0 only when both passed.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRACE_S = 30  # seconds a run gets to stop on its own after Ctrl-C


def main(python4: str) -> int:
    runs = ROOT / "runs"
    runs.mkdir(exist_ok=True)
    lines = {
        "3.5": ["make", "--no-print-directory", "test-run"],
        "4": ["make", "--no-print-directory", "test", "SPARK=4", f"PYTHON={python4}"],
    }
    logs = {line: runs / f"test-{line}.log" for line in lines}
    procs: dict[str, subprocess.Popen] = {}
    started = time.monotonic()

    def stop(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    rcs: dict[str, int] = {}
    try:
        for line, cmd in lines.items():
            with open(logs[line], "wb") as log:
                # its own process group, whose id is the PID we keep: a signal for the run reaches
                # make and everything under it (make alone would not pass it on to pytest)
                procs[line] = subprocess.Popen(
                    cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
        print(f"testing both lines at once; logs: {', '.join(str(p) for p in logs.values())}",
              flush=True)  # fmt: skip
        for line, p in procs.items():
            rcs[line] = p.wait()
            print(f"Spark {line} line: exit {rcs[line]} after "
                  f"{(time.monotonic() - started) / 60:.1f} min", flush=True)  # fmt: skip
    except KeyboardInterrupt:
        stop_runs(list(procs.values()))
        print("test-both: stopped; both runs have ended.", file=sys.stderr)
        return 130
    for line, log in logs.items():
        print(f"\n===== Spark {line} line ({log}) =====", flush=True)
        sys.stdout.buffer.write(log.read_bytes())
        sys.stdout.flush()
    failed = [line for line, rc in rcs.items() if rc]
    print(f"\nboth lines in {(time.monotonic() - started) / 60:.1f} min: "
          + (f"FAILED on Spark {', '.join(failed)}" if failed else "passed"))  # fmt: skip
    return 1 if failed else 0


def group_alive(proc: subprocess.Popen) -> bool:
    """Whether anything of `proc`'s process group still runs (`proc` reaped when it ended, so
    its own exit does not count)."""
    proc.poll()
    try:
        os.killpg(proc.pid, 0)
        return True
    except ProcessLookupError:
        return False


def stop_runs(procs: list[subprocess.Popen]) -> None:
    """Ctrl-C or SIGTERM: SIGINT to each run's process group (pytest stops its sessions, kernels
    and clusters as after Ctrl-C), GRACE_S seconds to end, then SIGTERM, then SIGKILL."""
    for signum, wait_s in ((signal.SIGINT, GRACE_S), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        for p in procs:
            if group_alive(p):
                os.killpg(p.pid, signum)
        deadline = time.monotonic() + wait_s
        while any(group_alive(p) for p in procs) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not any(group_alive(p) for p in procs):
            return


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python .ci/both_lines.py PYTHON4", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))

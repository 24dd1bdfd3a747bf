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
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signum)  # by the PID we kept; make passes SIGTERM on to pytest
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    rcs: dict[str, int] = {}
    try:
        for line, cmd in lines.items():
            with open(logs[line], "wb") as log:
                procs[line] = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        print(f"testing both lines at once; logs: {', '.join(str(p) for p in logs.values())}",
              flush=True)  # fmt: skip
        for line, p in procs.items():
            rcs[line] = p.wait()
            print(f"Spark {line} line: exit {rcs[line]} after "
                  f"{(time.monotonic() - started) / 60:.1f} min", flush=True)  # fmt: skip
    except KeyboardInterrupt:
        # Ctrl-C in a terminal reached both runs too (one process group): give them time to stop
        # their sessions, then pass SIGINT on to a run still going (a signal sent to us alone)
        deadline = time.monotonic() + GRACE_S
        for p in procs.values():
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGINT)
        for p in procs.values():
            p.wait()
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


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python .ci/both_lines.py PYTHON4", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))

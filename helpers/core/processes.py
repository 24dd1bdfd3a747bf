"""Processes the kit starts or finds: liveness, command lines that never raise, and `reap` (wait,
then kill what is left, by PID).
"""

from __future__ import annotations

import time

import psutil


def is_running(proc: psutil.Process) -> bool:
    """False for processes that have exited, including zombies (a worker that exited and that the
    daemon has not reaped yet: it holds no memory and runs no code, and psutil refuses its
    cmdline)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def process_command(proc: psutil.Process) -> str:
    """A process's command line as one string, or "" once it has exited."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def reap(procs: list[psutil.Process], timeout: float = 20.0) -> list[int]:
    """Wait up to `timeout` s for `procs` (psutil Processes kept earlier) to exit, then kill the
    ones still alive; return the PIDs that had to be killed."""
    alive = wait_gone(procs, timeout)
    killed = []
    for p in alive:
        try:
            p.kill()
            killed.append(p.pid)
        except psutil.Error:
            pass
    wait_gone(alive, 5)
    return killed


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to `timeout` s for `procs` to exit; return those still running. psutil 7.2 waits
    through `pidfd_open`, which raised FileNotFoundError for a process that exited between its
    check and its wait (seen when JupyterLab's kernels ended): then poll instead."""
    try:
        return psutil.wait_procs(procs, timeout=timeout)[1]
    except OSError:
        wait_for(lambda: not any(is_running(p) for p in procs), timeout=timeout, interval=0.1)
        return [p for p in procs if is_running(p)]


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Poll `predicate()` until true or `timeout` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def running_pids(pids) -> list[int]:
    """The PIDs of `pids` whose process still runs (zombies count as gone)."""
    out = []
    for pid in pids:
        try:
            if is_running(psutil.Process(pid)):
                out.append(pid)
        except psutil.Error:
            pass
    return out


def processes_under(roots, include_roots: bool = True) -> list[psutil.Process]:
    """The processes `roots` (PIDs) and all their descendants, roots first unless
    `include_roots` is False; a root that is gone is skipped."""
    out = []
    for root in roots:
        try:
            top = psutil.Process(root)
            out.extend(([top] if include_roots else []) + top.children(recursive=True))
        except psutil.Error:
            continue
    return out


# ---- the watchdog: what the kit starts dies with the Python process that started it ----------
#
# A tiny child process (`_WATCHDOG_SOURCE`) holds the read end of a pipe from this process and a
# list of kept PIDs (each with its start time, so a reused PID is never hit). When this process
# dies, however it dies (SIGKILL included), the kernel closes the pipe; the watchdog reads EOF,
# walks the kept processes' trees while they still exist, sends SIGTERM, and SIGKILL to whatever
# is left after `WATCHDOG_GRACE` s. It runs in its own session (a Ctrl-C on the terminal does not
# reach it) and ignores SIGINT/SIGHUP. No code of the dying process has to run.

WATCHDOG_GRACE = 5.0

_WATCHDOG_SOURCE = r"""
import signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
import psutil
kept = {}
for line in sys.stdin.buffer:
    parts = line.split()
    if len(parts) == 3 and parts[0] == b"+":
        kept[int(parts[1])] = float(parts[2])
    elif len(parts) == 2 and parts[0] == b"-":
        kept.pop(int(parts[1]), None)
procs = []
for pid, started in kept.items():
    try:
        root = psutil.Process(pid)
        if abs(root.create_time() - started) < 0.01:
            procs += [root] + root.children(recursive=True)
    except psutil.Error:
        pass
for p in procs:
    try:
        p.terminate()
    except psutil.Error:
        pass
_, alive = psutil.wait_procs(procs, timeout=float(sys.argv[1]))
for p in alive:
    try:
        p.kill()
    except psutil.Error:
        pass
"""

_WATCHDOG: dict = {"proc": None, "kept": set()}


def watchdog_pid() -> int | None:
    """PID of this process's watchdog (None until something was kept)."""
    proc = _WATCHDOG["proc"]
    return proc.pid if proc is not None else None


def _send(line: str) -> None:
    import subprocess
    import sys

    proc = _WATCHDOG["proc"]
    if proc is None or proc.poll() is not None:
        proc = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG_SOURCE, str(WATCHDOG_GRACE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _WATCHDOG["proc"] = proc
        for pid in _WATCHDOG["kept"]:  # a watchdog that was killed: the new one learns all
            _write(proc, _keep_line(pid))
    _write(proc, line)


def _write(proc, line: str) -> None:
    try:
        proc.stdin.write(line.encode())
        proc.stdin.flush()
    except OSError:
        pass


def _keep_line(pid: int) -> str:
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        return ""
    return f"+ {pid} {started!r}\n"


def keep(pid: int) -> int:
    """Have the watchdog stop process `pid` and its descendants if this process dies first."""
    _WATCHDOG["kept"].add(pid)
    _send(_keep_line(pid))
    return pid


def release(pid: int) -> None:
    """`pid` was stopped on purpose (or is stopped next): the watchdog forgets it."""
    if pid in _WATCHDOG["kept"]:
        _WATCHDOG["kept"].discard(pid)
        _send(f"- {pid}\n")


def kept_pids() -> list[int]:
    """The PIDs kept for the watchdog now (the roots; their descendants are found at need)."""
    return sorted(_WATCHDOG["kept"])


def kept_family() -> list[psutil.Process]:
    """The kept processes and all their descendants that still run."""
    return [p for p in processes_under(kept_pids()) if is_running(p)]


_PRCTL = []


def die_with_parent_preexec(then=None):
    """A `preexec_fn` for Popen: the child gets SIGKILL when the thread that starts it ends
    (Linux PR_SET_PDEATHSIG, kept across exec), then runs `then` (another preexec). Covers the
    moment between fork and `keep`. Returns `then` unchanged where prctl is not available."""
    import ctypes
    import os
    import signal

    if not _PRCTL:
        try:
            _PRCTL.append(ctypes.CDLL(None, use_errno=True).prctl)
        except (OSError, AttributeError):
            _PRCTL.append(None)
    prctl = _PRCTL[0]
    if prctl is None:
        return then
    parent = os.getpid()

    def preexec():
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl ran
            os.kill(os.getpid(), signal.SIGKILL)
        if then is not None:
            then()

    return preexec


def stop_kept(timeout: float = 10.0) -> list[int]:
    """Stop every kept process and its descendants now, by PID (SIGTERM, then SIGKILL after
    `timeout` s); the watchdog forgets them. Returns the PIDs that were still running."""
    family = kept_family()
    for p in family:
        try:
            p.terminate()
        except psutil.Error:
            pass
    reap(family, timeout=timeout)
    for pid in kept_pids():
        release(pid)
    return [p.pid for p in family]

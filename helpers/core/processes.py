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
    ones
    still alive; return the PIDs that had to be killed."""
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    killed = []
    for p in alive:
        try:
            p.kill()
            killed.append(p.pid)
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)
    return killed


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

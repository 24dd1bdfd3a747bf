"""The Python-worker daemon with a profiler around every task (set via
`spark.python.daemon.module`).

Spark starts `python -m <spark.python.daemon.module>`; the stock module, `pyspark/daemon.py`,
forks one worker process per connection and runs `pyspark.worker.main` once per task. Where it
finds that function differs between the lines, so the hook asks the installed daemon: Spark 3.5's
imports it once, as the module-level `worker_main`, which this module swaps for `_profiled_main`
before the forks; Spark 4.x's looks `pyspark.worker.main` up in each forked worker (after the
fork, so no pandas/pyarrow thread exists before it), so this module wraps the daemon's
`worker(sock, ...)` function, which replaces `pyspark.worker.main` in the child before running.
Then the stock `pyspark.daemon.manager()` runs: every forked worker gets the wrapper. The swap
happens only when the module runs as the daemon (`install()` under `__main__`).

Configured by environment variables (set through `spark.executorEnv.*`, see
`helpers.core.session.worker_profiler_conf`):

- LAB_PROFILE_MODE = cpu | memray
- LAB_PROFILE_DIR: where files go (one file per task, named `<mode>-<pid>-<seq>.*`); a relative
  path is taken in the daemon's working directory, which on a cluster is its executor's
- LAB_PROFILE_INTERVAL_MS (cpu, default 5): sampling period
- LAB_PROFILE_NATIVE (memray, default 0): 1 records native (C/C++) frames too

The wrapper waits (unprofiled) until the JVM sends the task's first byte, so a reused worker's idle
time between tasks is not counted. A file `PAUSED` in LAB_PROFILE_DIR turns the profiler off for the
next tasks (the overhead benchmark uses it). While a task runs, `<mode>-<pid>-<seq>.running` exists;
the result file is written (atomically) before the worker flushes its last bytes to the JVM, so it
exists when the Spark job returns.

cpu mode: a thread samples the worker's main thread with `sys._current_frames()` every interval and
adds the measured seconds since its previous sample to that stack (weights in microseconds); the
part of them the main thread spent off a CPU (its thread CPU clock, `pthread_getcpuclockid`, did
not advance: blocked on the socket, or waiting for a core) goes to the same stack plus a leaf
`[off-cpu]`.
memray mode: `memray.Tracker` around the task (Python frames only unless LAB_PROFILE_NATIVE=1).

Keep this module free of `helpers` imports: it runs in the daemon before any worker exists.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pyspark.daemon as _daemon

_MODE = os.environ.get("LAB_PROFILE_MODE", "cpu")
# A relative folder is the executor's working directory's (the daemon's cwd): one per executor
_DIR = os.path.abspath(os.environ["LAB_PROFILE_DIR"]) if os.environ.get("LAB_PROFILE_DIR") else ""
_INTERVAL = float(os.environ.get("LAB_PROFILE_INTERVAL_MS", "5")) / 1000.0
_NATIVE = os.environ.get("LAB_PROFILE_NATIVE", "0") == "1"
_ORIGINAL_MAIN = getattr(_daemon, "worker_main", None)  # Spark 3.5's daemon; None on 4.x
_ORIGINAL_WORKER = _daemon.worker

_LABELS: dict = {}
_SEQ = [0]


def short_path(path: str) -> str:
    """A source file's path as stacks show it: relative to site-packages or the stdlib folder,
    the kit's own files from their `helpers/` folder on (e.g. 'helpers/inference/scenarios.py'),
    else its last two path parts; inside a zip (pyspark.zip, the kit's zip), relative to the zip."""
    for marker in ("site-packages/", "dist-packages/", "/lib/python3."):
        i = path.rfind(marker)
        if i >= 0:
            path = path[i + len(marker) :]
            if marker.startswith("/lib/python3."):
                path = path.split("/", 1)[-1]
            break
    else:
        i = path.rfind("/helpers/")
        path = path[i + 1 :] if i >= 0 else "/".join(path.split("/")[-2:])
    if ".zip/" in path:  # workers import pyspark from pyspark/python/lib/pyspark.zip
        path = path.split(".zip/", 1)[1]
    return path


def frame_label(code) -> str:
    """'function (package/file.py)', the file as `short_path` shows it."""
    label = _LABELS.get(code)
    if label is None:
        label = _LABELS[code] = f"{code.co_name} ({short_path(code.co_filename)})"
    return label


class _Sampler:
    """Samples one thread's Python stack; weights are the measured seconds between samples."""

    def __init__(self, interval: float):
        self.interval = interval
        self.target = None
        self.active = False
        self.counts: dict = {}
        self.samples = 0
        self.last = 0.0
        self.clock = None
        self.last_cpu = 0.0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="lab-sampler", daemon=True)
        self.thread.start()

    def start(self, ident: int) -> None:
        with self.lock:
            self.target, self.counts, self.samples = ident, {}, 0
            try:
                self.clock = time.pthread_getcpuclockid(ident)
                self.last_cpu = time.clock_gettime(self.clock)
            except (AttributeError, OSError):
                self.clock = None
            self.own = time.pthread_getcpuclockid(self.thread.ident)
            self.own_start = time.clock_gettime(self.own)
            self.last = time.perf_counter()
            self.active = True

    def stop(self) -> tuple[dict, int, float]:
        """Stop sampling; returns (stacks -> seconds, samples, CPU seconds the sampler used)."""
        with self.lock:
            self.active = False
            return self.counts, self.samples, time.clock_gettime(self.own) - self.own_start

    def _run(self) -> None:
        wait = threading.Event().wait
        while True:
            wait(self.interval)
            with self.lock:
                if not self.active:
                    continue
                frame = sys._current_frames().get(self.target)
                now = time.perf_counter()
                dt, self.last = now - self.last, now
                cpu = dt
                if self.clock is not None:
                    c = time.clock_gettime(self.clock)
                    cpu, self.last_cpu = min(dt, c - self.last_cpu), c
                if frame is None:
                    continue
                labels = []
                while frame is not None and frame.f_code is not _WRAPPER_CODE:
                    labels.append(frame_label(frame.f_code))
                    frame = frame.f_back
                key = ";".join(reversed(labels))
                counts = self.counts
                if cpu > 0:
                    counts[key] = counts.get(key, 0.0) + cpu
                if dt - cpu > 0:
                    off = key + ";[off-cpu]"
                    counts[off] = counts.get(off, 0.0) + dt - cpu
                self.samples += 1


_SAMPLER: list = []


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _wait_for_task(infile) -> None:
    """Block (unprofiled) until the JVM sends this task's first bytes."""
    try:
        infile.peek(1)
    except Exception:
        pass


def _profiled_main(infile, outfile):
    _wait_for_task(infile)
    if not _DIR or os.path.exists(os.path.join(_DIR, "PAUSED")):
        return _ORIGINAL_MAIN(infile, outfile)
    pid, seq = os.getpid(), _SEQ[0]
    _SEQ[0] += 1
    base = os.path.join(_DIR, f"{_MODE}-{pid}-{seq}")
    try:
        open(base + ".running", "w").close()
    except OSError:  # the folder is gone: run the task unprofiled rather than fail it
        return _ORIGINAL_MAIN(infile, outfile)
    try:
        if _MODE == "memray":
            import memray

            with memray.Tracker(base + ".bin", native_traces=_NATIVE, follow_fork=False):
                return _ORIGINAL_MAIN(infile, outfile)
        if not _SAMPLER:
            _SAMPLER.append(_Sampler(_INTERVAL))
        sampler = _SAMPLER[0]
        t0, w0 = time.perf_counter(), time.time()
        sampler.start(threading.get_ident())
        try:
            return _ORIGINAL_MAIN(infile, outfile)
        finally:
            counts, samples, cost = sampler.stop()
            busy = time.perf_counter() - t0
            head = (
                f"# pid={pid} seq={seq} start={w0:.6f} busy_s={busy:.6f} samples={samples} "
                f"sampler_cpu_s={cost:.6f} interval_s={_INTERVAL} unit=us\n"
            )
            body = "".join(f"{k} {max(1, round(v * 1e6))}\n" for k, v in counts.items())
            try:
                _write_atomic(base + ".collapsed", head + body)
            except OSError:
                pass
    finally:
        try:
            os.remove(base + ".running")
        except OSError:
            pass


def _forked_worker(sock, authenticated):
    """The daemon's `worker()` in a forked child (4.x): `pyspark.worker.main` wrapped first."""
    global _ORIGINAL_MAIN
    import pyspark.worker as _worker

    if _worker.main is not _profiled_main:
        _ORIGINAL_MAIN, _worker.main = _worker.main, _profiled_main
    return _ORIGINAL_WORKER(sock, authenticated)


_WRAPPER_CODE = _profiled_main.__code__  # stacks start below it, at pyspark.worker.main


def install() -> None:
    """Put the wrapper into the stock daemon (before its forks). Only the daemon process calls
    it: importing this module elsewhere (e.g. for `short_path`) changes nothing."""
    if _ORIGINAL_MAIN is not None:
        _daemon.worker_main = _profiled_main
    else:
        _daemon.worker = _forked_worker


if __name__ == "__main__":
    if _MODE not in ("cpu", "memray"):
        raise SystemExit(f"LAB_PROFILE_MODE={_MODE!r}: use cpu or memray")
    if _DIR:
        os.makedirs(_DIR, exist_ok=True)
    install()
    _daemon.manager()

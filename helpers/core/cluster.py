"""A throw-away Spark standalone cluster on this machine: one Master and N Worker JVMs (default 2
workers with 1 core each) on 127.0.0.1, to run the kit against a real master URL instead of
`local[*]`. Any other master (`spark://`, `yarn`, `k8s://`) still comes through `LAB_MASTER`.

`LocalStandalone` starts the JVMs with pyspark's own `bin/spark-class`
(`org.apache.spark.deploy.master.Master`, `org.apache.spark.deploy.worker.Worker`), waits until
every worker has registered (the master's `/json` page), and on exit stops them by the PIDs it kept:
SIGTERM, then SIGKILL for whatever of them and their descendants (executor JVMs, `pyspark.daemon`s,
Python workers) is still alive. If the Python process that started them dies first (SIGKILL, a
killed kernel), the watchdog (`helpers.core.processes.keep`) stops them by the same PIDs.
Executors of a standalone cluster are children of a Worker, not of the driver, so
`session.stop_session()` cannot see them.

Before anything starts it checks Java, the ports it was asked to use and the free memory, so a
cluster that cannot come up fails with one line and leaves no process behind. The workers get no
`PYTHONPATH`: executors import the kit only from what the driver ships (`helpers.core.ship`).

    with LocalStandalone(workers=2) as cluster:
        spark = session.start_session("app", master=cluster.master_url)
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from helpers.core.config import LabError, require_java
from helpers.core.processes import is_running, keep, reap, release
from helpers.core.validate import parse_mem, require_positive

# Heap of each master / worker daemon JVM (the executors get the worker's --memory).
DAEMON_MEMORY = "256m"
# What a daemon JVM or an executor needs beyond its heap (metaspace, threads, Python workers).
PROCESS_OVERHEAD = 384 * 2**20


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_free_port(port: int) -> int:
    """`port` if nothing listens on 127.0.0.1:port, else a one-line LabError."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise LabError(
                f"Port {port} on 127.0.0.1 is taken: stop what listens there or let the "
                "cluster pick free ports (no port argument)."
            ) from None
    return port


def cluster_memory_bytes(workers: int, memory: str) -> int:
    """Bytes a cluster of `workers` workers offering `memory` each to executors needs: the master,
    each worker daemon and each executor's heap, plus a fixed overhead per JVM."""
    daemon = parse_mem(DAEMON_MEMORY) + PROCESS_OVERHEAD
    return daemon * (1 + workers) + workers * (parse_mem(memory) + PROCESS_OVERHEAD)


def require_memory(workers: int, memory: str, available: int | None = None) -> int:
    """The bytes the cluster needs if this machine has them available now, else a LabError."""
    need = cluster_memory_bytes(workers, memory)
    have = psutil.virtual_memory().available if available is None else available
    if need > have:
        raise LabError(
            f"Not enough memory for {workers} workers x {memory}: the cluster needs about "
            f"{need / 2**30:.1f} GiB, {have / 2**30:.1f} GiB is available; use fewer workers "
            "or a smaller memory per worker."
        )
    return need


def spark_class() -> str:
    """pyspark's `bin/spark-class` launcher."""
    import pyspark

    path = Path(pyspark.__file__).parent / "bin" / "spark-class"
    if not path.exists():
        raise LabError(f"No spark-class at {path}: reinstall pyspark (`make setup`).")
    return str(path)


def _first_error(text: str) -> str:
    """The line of a daemon's log that says why it stopped (a bind failure first)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for needle in ("Address already in use", "BindException", "Exception", "Error"):
        for ln in lines:
            if needle in ln:
                return ln[:200]
    return lines[-1][:200] if lines else "no log output"


class LocalStandalone:
    """A Spark standalone cluster on 127.0.0.1: `workers` Worker JVMs with `cores` cores and
    `memory` for executors each (context manager; `master_url` inside). `port`/`ui_port` pin the
    master's ports (default: free ones)."""

    def __init__(
        self,
        workers: int = 2,
        cores: int = 1,
        memory: str = "1g",
        timeout: float = 90.0,
        port: int | None = None,
        ui_port: int | None = None,
    ):
        require_positive("workers", workers)
        require_positive("cores", cores)
        parse_mem(memory)
        self.workers, self.cores, self.memory, self.timeout = workers, cores, memory, timeout
        self.port = port or free_port()
        self.ui_port = ui_port or free_port()
        self.master_url = f"spark://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self._work: tempfile.TemporaryDirectory | None = None

    @property
    def slots(self) -> int:
        """Task slots the cluster offers (workers x cores)."""
        return self.workers * self.cores

    def _start(self, *args: str, log: str) -> subprocess.Popen:
        opts = "-Dspark.port.maxRetries=0"  # a taken port is an error, not a silent other port
        env = {
            **os.environ,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "JAVA_HOME": os.environ.get(
                "JAVA_HOME", str(Path(require_java().path).resolve().parent.parent)
            ),
            "SPARK_WORKER_DIR": self._work.name,
            "SPARK_LOG_DIR": self._work.name,
            "SPARK_DAEMON_MEMORY": DAEMON_MEMORY,
            "SPARK_MASTER_OPTS": opts,
            "SPARK_WORKER_OPTS": opts,
        }
        env.pop("PYTHONPATH", None)  # executors get the kit from the driver, as on real hosts
        out = open(Path(self._work.name) / log, "wb")
        # spark-class ends in `exec java ...`, so the PID kept here is the JVM's
        proc = subprocess.Popen(
            [spark_class(), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()
        self.procs.append(proc)
        keep(proc.pid)  # the watchdog stops it (and its executors) if this process dies
        return proc

    def status(self) -> dict:
        """The master's JSON status page (workers, cores, running applications)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as r:
            return json.load(r)

    def log(self, name: str) -> str:
        path = Path(self._work.name) / name if self._work else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def pids(self) -> list[int]:
        """PIDs of the master, the workers and everything they started (executors, Python)."""
        out = []
        for proc in self.procs:
            try:
                root = psutil.Process(proc.pid)
                out += [p.pid for p in [root, *root.children(recursive=True)] if is_running(p)]
            except psutil.Error:
                pass
        return out

    def executor_pids(self) -> list[int]:
        """PIDs of the executor JVMs running under the workers now."""
        out = []
        for proc in self.procs[1:]:
            try:
                kids = psutil.Process(proc.pid).children()
            except psutil.Error:
                continue
            out += [
                p.pid
                for p in kids
                if is_running(p) and "CoarseGrainedExecutorBackend" in " ".join(p.cmdline())
            ]
        return out

    def wait_executors_exit(self, timeout: float = 20.0) -> bool:
        """After the application stopped: wait until its executor JVMs have exited on their own
        (their shutdown hooks, e.g. a JFR dump at exit, ran); True when none is left."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.executor_pids():
                return True
            time.sleep(0.2)
        return not self.executor_pids()

    def __enter__(self):
        require_java()
        require_free_port(self.port)
        require_free_port(self.ui_port)
        require_memory(self.workers, self.memory)
        self._work = tempfile.TemporaryDirectory(prefix="lab-standalone-")
        try:
            master = ("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1")
            self._start(
                *master,
                "--port",
                str(self.port),
                "--webui-port",
                str(self.ui_port),
                log="master.log",
            )
            for i in range(self.workers):
                work = Path(self._work.name) / f"worker{i}"
                work.mkdir()
                self._start(
                    "org.apache.spark.deploy.worker.Worker",
                    self.master_url,
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    str(self.cores),
                    "--memory",
                    self.memory,
                    "--webui-port",
                    str(free_port()),
                    "--work-dir",
                    str(work),
                    log=f"worker{i}.log",
                )
            end = time.monotonic() + self.timeout
            while time.monotonic() < end:
                dead = [i for i, p in enumerate(self.procs) if p.poll() is not None]
                if dead:
                    name = "master.log" if dead[0] == 0 else f"worker{dead[0] - 1}.log"
                    raise LabError(
                        f"The standalone cluster did not start ({name}: "
                        f"{_first_error(self.log(name))})."
                    )
                try:
                    if self.status().get("aliveworkers", 0) >= self.workers:
                        return self
                except OSError:
                    pass
                time.sleep(0.5)
            raise LabError(
                f"The standalone cluster did not come up within {self.timeout:.0f} s "
                f"(master.log: {_first_error(self.log('master.log'))})."
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> list[int]:
        """Stop the workers, then the master, by their kept PIDs; kill any descendant left; return
        the PIDs that had to be killed."""
        family = []
        for proc in self.procs:
            try:
                family += psutil.Process(proc.pid).children(recursive=True)
            except psutil.Error:
                pass
        for proc in reversed(self.procs):  # workers first: they stop their executors
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        killed = reap(family, timeout=10)
        for proc in self.procs:
            release(proc.pid)
        self.procs = []
        if self._work is not None:
            self._work.cleanup()
            self._work = None
        return killed

    def start(self) -> "LocalStandalone":
        """Start it outside a `with` block (a notebook); it is stopped at interpreter exit at the
        latest, so a kernel that stops leaves no JVM behind."""
        self.__enter__()
        atexit.register(self.stop)
        return self

    def __exit__(self, *exc):
        self.stop()

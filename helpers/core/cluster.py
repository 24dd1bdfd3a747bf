"""A throw-away Spark standalone cluster on this machine, to run the kit against
a real master URL (`LAB_MASTER=spark://...`) instead of `local[*]`.

`LocalStandalone` starts one Master and one Worker JVM with pyspark's own `bin/spark-class`
(`org.apache.spark.deploy.master.Master`, `org.apache.spark.deploy.worker.Worker`), bound to
127.0.0.1 on free ports, waits until the worker has registered (the master's `/json` page), and on
exit stops both by the PIDs it kept: SIGTERM, then SIGKILL for whatever of them and their
descendants (executor JVMs, `pyspark.daemon`s) is still alive. Executors of a standalone cluster
are children of the Worker, not of the driver, so `session.stop_session()` cannot see them.

    with LocalStandalone(cores=2) as cluster:
        os.environ["LAB_MASTER"] = cluster.master_url
        ...
"""

from __future__ import annotations

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
from helpers.core.processes import reap
from helpers.core.validate import require_positive


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_class() -> str:
    """pyspark's `bin/spark-class` launcher."""
    import pyspark

    path = Path(pyspark.__file__).parent / "bin" / "spark-class"
    if not path.exists():
        raise LabError(f"No spark-class at {path}: reinstall pyspark (`make setup`).")
    return str(path)


class LocalStandalone:
    """A one-worker Spark standalone cluster on 127.0.0.1 (context manager; `master_url` inside)."""

    def __init__(self, cores: int = 2, memory: str = "2g", timeout: float = 90.0):
        require_positive("cores", cores)
        self.cores, self.memory, self.timeout = cores, memory, timeout
        self.port, self.ui_port = free_port(), free_port()
        self.master_url = f"spark://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self._work = tempfile.TemporaryDirectory(prefix="lab-standalone-")

    def _start(self, *args: str, log: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "JAVA_HOME": os.environ.get(
                "JAVA_HOME", str(Path(require_java().path).resolve().parent.parent)
            ),
            "SPARK_WORKER_DIR": self._work.name,
            "SPARK_LOG_DIR": self._work.name,
        }
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
        return proc

    def status(self) -> dict:
        """The master's JSON status page (workers, cores, running applications)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as r:
            return json.load(r)

    def log(self, name: str) -> str:
        path = Path(self._work.name) / name
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self):
        try:
            self._start(
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--webui-port",
                str(self.ui_port),
                log="master.log",
            )
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
                self._work.name,
                log="worker.log",
            )
            end = time.monotonic() + self.timeout
            while time.monotonic() < end:
                if any(p.poll() is not None for p in self.procs):
                    break
                try:
                    if self.status().get("aliveworkers", 0) >= 1:
                        return self
                except OSError:
                    pass
                time.sleep(0.5)
            tail = (self.log("master.log") + self.log("worker.log")).strip().splitlines()[-1:]
            raise LabError(
                f"The standalone cluster did not come up within {self.timeout:.0f} s: {tail}"
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> list[int]:
        """Stop the worker, then the master, by their kept PIDs; kill any descendant left; return
        the
        PIDs that had to be killed."""
        family = []
        for proc in self.procs:
            try:
                family += psutil.Process(proc.pid).children(recursive=True)
            except psutil.Error:
                pass
        for proc in reversed(self.procs):  # the worker first: it stops its executors
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        killed = reap(family, timeout=10)
        self.procs = []
        self._work.cleanup()
        return killed

    def __exit__(self, *exc):
        self.stop()

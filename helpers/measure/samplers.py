"""The one sampler module: background threads that read, every `interval` s, the session's process
tree (CPU, RSS per role), the JVM's heap, direct and Arrow off-heap memory, and the layers of
notebook 07. Results in SI units (seconds, bytes), stamped in epoch seconds.
"""

from __future__ import annotations

import threading
import time

import pandas as pd
import psutil

from helpers.core.config import LabError
from helpers.core.processes import process_command
from helpers.core.session import session_key, session_processes


def _role(proc: psutil.Process, root_pid: int) -> str:
    try:
        if proc.pid == root_pid:
            return "jvm"
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return "gone"
    if "python" in cmd:  # workers are forked from the daemon, so they share its command line
        try:
            return "daemon" if proc.ppid() == root_pid else "python_worker"
        except psutil.Error:
            return "gone"
    return "other"


def process_table(pid: int | None = None) -> pd.DataFrame:
    """The driver JVM and its descendants now: pid, ppid, role, rss_bytes, cpu_s, threads,
    command."""
    procs = session_processes(pid)
    root = procs[0].pid if procs else None
    rows = []
    for p in procs:
        try:
            with p.oneshot():
                ct = p.cpu_times()
                rows.append(
                    {
                        "pid": p.pid,
                        "ppid": p.ppid(),
                        "role": _role(p, root),
                        "rss_bytes": p.memory_info().rss,
                        "cpu_s": ct.user + ct.system,
                        "threads": p.num_threads(),
                        "command": process_command(p)[:120],
                    }
                )
        except psutil.Error:
            continue
    return pd.DataFrame(
        rows, columns=["pid", "ppid", "role", "rss_bytes", "cpu_s", "threads", "command"]
    )


def jvm_memory(spark) -> dict:
    """The driver JVM's memory now, through py4j (bytes):
    heap_used (MemoryMXBean), direct_used / direct_capacity (BufferPoolMXBean "direct": NIO
    direct buffers), arrow_allocated / arrow_peak (ArrowUtils.rootAllocator: Arrow's own
    accounting; the peak is a per-JVM high-water mark that never resets), gc_time_s (all
    collectors, cumulative). Arrow Java allocates through Netty, not NIO ByteBuffers, so
    arrow_* and direct_* measure different things: say which one a chart uses."""
    jvm = spark._jvm
    mf = jvm.java.lang.management.ManagementFactory
    heap = mf.getMemoryMXBean().getHeapMemoryUsage()
    out = {
        "heap_used": int(heap.getUsed()),
        "heap_committed": int(heap.getCommitted()),
        "direct_used": 0,
        "direct_capacity": 0,
    }
    for pool in mf.getPlatformMXBeans(jvm.java.lang.management.BufferPoolMXBean._java_lang_class):
        if pool.getName() == "direct":
            out["direct_used"] = int(pool.getMemoryUsed())
            out["direct_capacity"] = int(pool.getTotalCapacity())
    alloc = getattr(
        getattr(jvm.org.apache.spark.sql.util, "ArrowUtils$"), "MODULE$"
    ).rootAllocator()
    out["arrow_allocated"] = int(alloc.getAllocatedMemory())
    out["arrow_peak"] = int(alloc.getPeakMemoryAllocation())
    out["gc_time_s"] = (
        sum(int(g.getCollectionTime()) for g in mf.getGarbageCollectorMXBeans()) / 1000
    )
    return out


class BackgroundSampler:
    """Calls `sample_once()` every `interval` seconds in a daemon thread while used as a context
    manager, plus once before the job (a baseline) and once after it. An exception inside the
    thread is kept in `error`; with `stop_on_error` (default) sampling then ends — typically the
    JVM went away — otherwise it goes on at the next tick."""

    stop_on_error = True

    def __init__(self, interval: float = 0.1):
        if not interval > 0:
            raise LabError(f"interval must be > 0 seconds, got {interval!r}.")
        self.interval = interval
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample_once(self) -> None:  # pragma: no cover - subclasses define it
        raise NotImplementedError

    def _run(self):
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"[:200]
                if self.stop_on_error:
                    return
            self._stop.wait(self.interval)

    def __enter__(self):
        self.sample_once()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        try:
            self.sample_once()
        except Exception:
            pass


class ProcessSampler(BackgroundSampler):
    """Samples the session's process tree every `interval` s in a background thread.

    `samples` is a tidy DataFrame: t (s since start), pid, role, rss_bytes, cpu_s (cumulative).
    Use as a context manager around a job."""

    def __init__(self, interval: float = 0.1, pid: int | None = None):
        super().__init__(interval)
        self.pid = pid
        self._rows: list[dict] = []
        self._t0 = time.monotonic()

    def sample_once(self) -> None:
        table = process_table(self.pid)
        t = time.monotonic() - self._t0
        for r in table.itertuples():
            self._rows.append(
                {"t": t, "pid": r.pid, "role": r.role, "rss_bytes": r.rss_bytes, "cpu_s": r.cpu_s}
            )

    @property
    def samples(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows, columns=["t", "pid", "role", "rss_bytes", "cpu_s"])


def _root_allocator(spark):
    return getattr(
        getattr(spark._jvm.org.apache.spark.sql.util, "ArrowUtils$"), "MODULE$"
    ).rootAllocator()


_RESETTERS: dict = {}


def _peak_resetter(spark):
    """A JVM-side MethodHandle (Accountant)void doing `peakAllocation.set(getAllocatedMemory())`.

    py4j turns every java.lang.Number it returns (AtomicLong included) into a Python int, so the
    AtomicLong cannot be fetched and `.set()` from Python; the handle composes field getter,
    `AtomicLong.set` and `getAllocatedMemory` inside the JVM (java.lang.invoke.MethodHandles)."""
    key = session_key(spark)
    handle = _RESETTERS.get(key)
    if handle is None:
        jvm, gw = spark._jvm, spark.sparkContext._gateway
        mh, mt = jvm.java.lang.invoke.MethodHandles, jvm.java.lang.invoke.MethodType
        void, long_ = jvm.java.lang.Void.TYPE, jvm.java.lang.Long.TYPE
        accountant = jvm.java.lang.Class.forName("org.apache.arrow.memory.Accountant")
        field = accountant.getDeclaredField("peakAllocation")  # AtomicLong, or long in newer Arrow
        field.setAccessible(True)
        allocated = accountant.getDeclaredMethod(
            "getAllocatedMemory", gw.new_array(jvm.java.lang.Class, 0)
        )
        allocated.setAccessible(True)
        lookup = mh.publicLookup()
        atomic_set = lookup.findVirtual(
            jvm.java.lang.Class.forName("java.util.concurrent.atomic.AtomicLong"),
            "set",
            mt.methodType(void, long_),
        )  # (AtomicLong, long)void
        if field.getType().getName() == "long":  # newer Arrow Java (Spark 4.x): a plain long
            handle = lookup.unreflectSetter(field)  # (Accountant, long)void
        else:
            handle = mh.collectArguments(
                atomic_set, 0, lookup.unreflectGetter(field)
            )  # (Accountant, long)void
        handle = mh.collectArguments(
            handle, 1, lookup.unreflect(allocated)
        )  # (Accountant, Accountant)void
        handle = mh.permuteArguments(
            handle, mt.methodType(void, accountant), gw.new_array(jvm.int, 2)
        )
        _RESETTERS.clear()
        _RESETTERS[key] = handle
    return handle


def arrow_memory(spark) -> tuple[int, int]:
    """(allocated, peak) bytes of Spark's Arrow root allocator now."""
    alloc = _root_allocator(spark)
    return int(alloc.getAllocatedMemory()), int(alloc.getPeakMemoryAllocation())


def reset_arrow_peak(spark) -> int:
    """Set the Arrow root allocator's high-water mark back to what is allocated now (bytes,
    returned), so the next reading of the peak belongs to the jobs run after this call.
    Arrow Java keeps the mark in a private AtomicLong (`Accountant.peakAllocation`,
    arrow-memory-core);
    there is no public reset, so this uses reflection (allowed: Arrow is not in a named module)
    composed into one MethodHandle (see `_peak_resetter`)."""
    alloc = _root_allocator(spark)
    args = spark._jvm.java.util.ArrayList()
    args.add(alloc)
    _peak_resetter(spark).invokeWithArguments(args)
    return int(alloc.getAllocatedMemory())


class JvmSampler(BackgroundSampler):
    """Polls the driver JVM through py4j every `interval` s in a background thread: heap used,
    JMX direct pool used, Arrow allocated (bytes). `peaks()` returns the maxima seen."""

    stop_on_error = False  # the JVM is busy or going away: keep what we have

    def __init__(self, spark, interval: float = 0.05):
        super().__init__(interval)
        self.spark = spark
        self.samples = 0
        self.heap = self.direct = self.arrow = 0
        jvm = spark._jvm
        mf = jvm.java.lang.management.ManagementFactory
        self._mem = mf.getMemoryMXBean()
        self._direct = None
        for pool in mf.getPlatformMXBeans(
            jvm.java.lang.management.BufferPoolMXBean._java_lang_class
        ):
            if pool.getName() == "direct":
                self._direct = pool
        self._alloc = _root_allocator(spark)

    def sample_once(self) -> None:
        self.heap = max(self.heap, int(self._mem.getHeapMemoryUsage().getUsed()))
        if self._direct is not None:
            self.direct = max(self.direct, int(self._direct.getMemoryUsed()))
        self.arrow = max(self.arrow, int(self._alloc.getAllocatedMemory()))
        self.samples += 1


def gc_seconds(spark) -> float:
    """Cumulative collection time of all JVM garbage collectors, seconds."""
    mf = spark._jvm.java.lang.management.ManagementFactory
    return sum(int(g.getCollectionTime()) for g in mf.getGarbageCollectorMXBeans()) / 1000


JVM_LAYERS = {
    "heap_used": "JVM heap used",
    "direct_used": "JVM direct pool (NIO)",
    "arrow_allocated": "JVM Arrow allocator",
}


class LayerSampler(BackgroundSampler):
    """Samples process RSS (JVM, daemon, each Python worker) and the JVM's heap / direct pool /
    Arrow allocator every `interval` s in a background thread. Use as a context manager around
    a job; `samples` is tidy: t (epoch s), source, layer, pid, bytes."""

    def __init__(self, spark, interval: float = 0.05):
        super().__init__(interval)
        self.spark = spark
        self._rows: list[dict] = []

    def sample_once(self) -> None:

        t = time.time()
        for r in process_table().itertuples():
            if r.role in ("jvm", "daemon", "python_worker"):
                self._rows.append(
                    {
                        "t": t,
                        "source": "process",
                        "layer": f"{r.role} RSS",
                        "pid": int(r.pid),
                        "bytes": int(r.rss_bytes),
                    }
                )
        mem = jvm_memory(self.spark)
        t2 = time.time()
        for key, layer in JVM_LAYERS.items():
            self._rows.append(
                {"t": t2, "source": "jvm", "layer": layer, "pid": None, "bytes": int(mem[key])}
            )
        self._rows.append(
            {
                "t": t2,
                "source": "jvm",
                "layer": "JVM Arrow allocator peak (since JVM start)",
                "pid": None,
                "bytes": int(mem["arrow_peak"]),
            }
        )

    @property
    def samples(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows, columns=["t", "source", "layer", "pid", "bytes"])

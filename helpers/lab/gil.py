"""The GIL question, measured inside one Python process.

LightGBM's Python package calls its C library through `ctypes.CDLL` (lightgbm/libpath.py:
`ctypes.cdll.LoadLibrary`), and ctypes releases the GIL for the duration of every foreign call.
So while `Booster.predict` runs in C, other Python threads of the same process run too. This
module measures what that buys, on the same model and rows as everything else in the kit:

- `gil_experiment`: one thread (num_threads=1) vs N Python threads sharing one Booster vs N
  plain processes (`measure.physical_limit`) vs one call with LightGBM's own N OpenMP threads,
  plus a control whose work holds the GIL (a pure-Python loop) run serially and in N threads.
- `gil_probe`: how much CPU a pure-Python counter thread gets while the main thread is idle, inside
  `predict`, or in pure-Python work; and how many cores the process used meanwhile (CPU / wall).
  More than one core used at once by one Python process = the GIL was released.

Units: seconds, rows/s; speedup = serial wall / mode wall (same work); cores_used = CPU s / wall s.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psutil

from helpers.core.config import LabError, scale
from helpers.core.findings import Finding, finding
from helpers.core.validate import require_positive
from helpers.measure.timing import physical_limit
from helpers.model.data import feature_matrix, load_booster, predict

# The GIL runs need enough work per thread for thread start-up to vanish in the noise.
GIL_ROWS = {"ci": 100_000, "workshop": 250_000, "full": 1_000_000}
CONTROL_ROWS = 100_000  # rows of the pure-Python control (capped at the predict rows)


def gil_rows() -> int:
    """Rows for the GIL experiment at the current LAB_SCALE."""
    return GIL_ROWS[scale()]


def _in_threads(fn, chunks: list) -> tuple[float, float, list]:
    """Run fn(chunk) for every chunk in its own thread, all released together.
    Returns (wall seconds from release to last finish, process CPU seconds used, results)."""
    results = [None] * len(chunks)
    barrier = threading.Barrier(len(chunks) + 1)

    def run(i):
        barrier.wait()
        results[i] = fn(chunks[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(chunks))]
    for t in threads:
        t.start()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, time.process_time() - cpu0, results


def _python_work(X: np.ndarray) -> float:
    """A GIL-holding control: a pure-Python loop over the rows (no C call that releases the GIL)."""
    total = 0.0
    for row in X.tolist():
        acc = 0.0
        for v in row:
            acc += v * v if v > 0 else -v
        total += acc
    return total


@dataclass
class GilRun:
    mode: str
    work: str  # "lightgbm predict" or "pure-Python loop (control)"
    parallelism: int  # threads or processes used
    rows: int
    wall_s: float
    cpu_s: float | None  # CPU seconds of this process (None for the multi-process mode)
    cores_used: float | None  # cpu_s / wall_s: >1 means threads of this process ran at once
    rows_per_s: float
    speedup: float  # serial wall / this wall, same work
    max_abs_diff: float | None  # vs the single-thread predictions


def _best(fn, repeats: int):
    """Run fn() `repeats` times, keep the run with the smallest wall time (least disturbed)."""
    runs = [fn() for _ in range(repeats)]
    return min(runs, key=lambda r: r[0])


def gil_experiment(
    rows: int | None = None,
    workers: int | None = None,
    repeats: int = 3,
    control_rows: int = CONTROL_ROWS,
    work=None,
) -> pd.DataFrame:
    """Predict the same `rows` rows in five ways and return one GilRun per way (tidy DataFrame).

    Modes (all on the kit's model, the same matrix, best of `repeats`):
      serial        1 thread, predict(num_threads=1) over all rows
      threads       `workers` Python threads, each predicts rows/workers with num_threads=1,
                    sharing one Booster in this process
      processes     `workers` plain processes (measure.physical_limit), one model each
      openmp        one predict call with num_threads=workers (LightGBM's own threads)
    and the control: a pure-Python loop over `control_rows` rows, serial vs `workers` threads.
    `work(booster, X) -> predictions` is what the serial and threads modes run per block of rows
    (the learner's worker function; default: `booster.predict(X, num_threads=1)`); its
    predictions are checked against one-thread predict (max_abs_diff)."""

    rows = require_positive("rows", rows if rows is not None else gil_rows())
    workers = require_positive("workers", workers or psutil.cpu_count(logical=True) or 1)
    require_positive("repeats", repeats)
    if rows < workers:
        raise LabError(
            f"rows={rows} is fewer than workers={workers}: give each worker at least one row."
        )
    booster = load_booster()
    X = np.ascontiguousarray(feature_matrix(rows))
    chunks = np.array_split(X, workers)
    work = work or predict
    expected = predict(booster, X)  # the reference: one thread, in-process
    work(booster, X[:10])  # warm the model's code paths

    def serial():
        c0, t0 = time.process_time(), time.perf_counter()
        p = np.asarray(work(booster, X), dtype=float)
        return time.perf_counter() - t0, time.process_time() - c0, p

    def threads():
        wall, cpu, parts = _in_threads(lambda c: np.asarray(work(booster, c), dtype=float), chunks)
        return wall, cpu, np.concatenate(parts)

    def openmp():
        c0, t0 = time.process_time(), time.perf_counter()
        p = booster.predict(X, num_threads=workers)
        return time.perf_counter() - t0, time.process_time() - c0, p

    def processes():
        lim = physical_limit(rows, processes=workers)
        return lim.wall_s, None, lim.predictions

    out = []
    base_wall, base_cpu, ref = _best(serial, repeats)
    out.append(
        GilRun(
            "serial",
            "lightgbm predict",
            1,
            rows,
            base_wall,
            base_cpu,
            base_cpu / base_wall,
            rows / base_wall,
            1.0,
            float(np.max(np.abs(ref - expected))),
        )
    )
    ref = expected
    for mode, fn, reps in (
        ("threads", threads, repeats),
        ("processes", processes, 1),
        ("openmp", openmp, repeats),
    ):
        wall, cpu, pred = _best(fn, reps)
        out.append(
            GilRun(
                mode,
                "lightgbm predict",
                workers,
                rows,
                wall,
                cpu,
                None if cpu is None else cpu / wall,
                rows / wall,
                base_wall / wall,
                float(np.max(np.abs(pred - ref))),
            )
        )

    Xc = X[: min(control_rows, rows)]
    cchunks = np.array_split(Xc, workers)

    def c_serial():
        c0, t0 = time.process_time(), time.perf_counter()
        _python_work(Xc)
        return time.perf_counter() - t0, time.process_time() - c0, None

    def c_threads():
        wall, cpu, _ = _in_threads(_python_work, cchunks)
        return wall, cpu, None

    cw, cc, _ = _best(c_serial, repeats)
    out.append(
        GilRun(
            "serial",
            "pure-Python loop (control)",
            1,
            len(Xc),
            cw,
            cc,
            cc / cw,
            len(Xc) / cw,
            1.0,
            None,
        )
    )
    tw, tc, _ = _best(c_threads, repeats)
    out.append(
        GilRun(
            "threads",
            "pure-Python loop (control)",
            workers,
            len(Xc),
            tw,
            tc,
            tc / tw,
            len(Xc) / tw,
            cw / tw,
            None,
        )
    )
    return pd.DataFrame([r.__dict__ for r in out])


# What the main thread does while gil_probe's counter thread spins (its rows, in order).
PROBE_IDLE = "sleeping (idle)"
PROBE_PREDICT = "lightgbm predict (C, via ctypes)"
PROBE_PYTHON = "pure-Python loop (holds the GIL)"


@dataclass
class GilProbe:
    main_thread_doing: str
    rounds: int
    counter_core_share: float  # median: the counter thread's CPU seconds / wall seconds
    process_cores_used: float  # median: this process's CPU seconds / wall seconds


def _count_while(stop: threading.Event, box: list) -> None:
    c0 = time.thread_time()
    n = 0
    while not stop.is_set():
        n += 1
    box.append(time.thread_time() - c0)


def gil_probe(rows: int = 100_000, python_rows: int = 30_000, rounds: int = 3) -> pd.DataFrame:
    """A pure-Python counter thread spins while the main thread (a) sleeps, (b) runs lightgbm
    predict over `rows` rows, (c) runs the pure-Python control over `python_rows` rows.
    Measured per condition (median of `rounds`, conditions interleaved): the share of a core the
    counter thread got (its thread CPU time / wall) and the cores this process used (process CPU
    / wall). The GIL's signature: in (c) the two threads together stay at or below ~1 core; in (b)
    they exceed it, because predict runs in C with the GIL released."""
    import statistics

    require_positive("rows", rows)
    require_positive("rounds", rounds)
    booster = load_booster()
    X = np.ascontiguousarray(feature_matrix(rows))
    predict(booster, X[:10])
    works = {
        PROBE_IDLE: lambda: time.sleep(0.2),
        PROBE_PREDICT: lambda: predict(booster, X),
        PROBE_PYTHON: lambda: _python_work(X[:python_rows]),
    }
    got = {k: ([], []) for k in works}
    for _ in range(rounds):
        for label, work in works.items():
            stop, box = threading.Event(), []
            t = threading.Thread(target=_count_while, args=(stop, box))
            c0, t0 = time.process_time(), time.perf_counter()
            t.start()
            work()
            stop.set()
            t.join()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            got[label][0].append(box[0] / wall)
            got[label][1].append(cpu / wall)
    return pd.DataFrame(
        [
            GilProbe(k, rounds, statistics.median(a), statistics.median(b)).__dict__
            for k, (a, b) in got.items()
        ]
    )


OVERLAP_ABOVE = 1.3  # cores used by one process above which its threads ran at once
FILL_SHARE = 0.75  # speedup / workers at or above which threads "filled the cores"
BUSY_BELOW = 0.8  # share of a core below which a single-thread run was crowded out

GIL_FINDINGS = {
    "speedups": (
        "**{threads:.2f}x with {workers} threads** ({fill}), using {threads_cores:.2f} cores at "
        "once against {control_cores:.2f} for GIL-holding threads: {gil}."
    ),
}
# The phrases gil_findings picks from the measured numbers (GIL_FINDINGS' `fill` and `gil`).
GIL_FILL = {
    "busy": "unreliable: one thread got {serial_cores:.2f} core",
    "fill": "threads filled the cores",
    "short": "short of {workers}x",
}
GIL_OVERLAP = {
    True: "the GIL was released during predict",
    False: "this run showed no overlap",
}


def gil_findings(
    runs: pd.DataFrame, busy_below: float = BUSY_BELOW, overlap_above: float = OVERLAP_ABOVE
) -> list[Finding]:
    """What gil_experiment measured, in one sentence: the threads' speedup over one thread (x),
    whether they filled the cores (FILL_SHARE of `workers` x or more; "unreliable" when the serial
    run got less than `busy_below` of a core, a busy machine), and whether the predicting threads
    used more than `overlap_above` cores at once against the GIL-holding control."""
    p = runs[runs.work == "lightgbm predict"].set_index("mode")
    c = runs[runs.work != "lightgbm predict"].set_index("mode")
    serial_cores = float(p.loc["serial", "cores_used"])
    workers = int(p.loc["threads", "parallelism"])
    threads = float(p.loc["threads", "speedup"])
    if serial_cores < busy_below:
        fill = "busy"
    else:
        fill = "fill" if threads >= FILL_SHARE * workers else "short"
    t_cores, c_cores = float(p.loc["threads", "cores_used"]), float(c.loc["threads", "cores_used"])
    return [
        finding(
            GIL_FINDINGS,
            "speedups",
            workers=workers,
            threads=threads,
            threads_cores=t_cores,
            control_cores=c_cores,
            fill=GIL_FILL[fill].format(serial_cores=serial_cores, workers=workers),
            gil=GIL_OVERLAP[t_cores > overlap_above],
            verdict=fill,
            serial_cores=serial_cores,
        )
    ]


PROBE_FINDINGS = {
    "probe": (
        "Inside predict the process used {predict_cores:.2f} cores, {overlap}; in pure Python "
        "{python_cores:.2f}: one thread at a time."
    ),
}
PROBE_OVERLAP = {
    True: "two threads at once, so the GIL was free",
    False: "too busy a machine to show the overlap",
}


def probe_findings(probe: pd.DataFrame, overlap_above: float = OVERLAP_ABOVE) -> list[Finding]:
    """What gil_probe measured: cores the process used while the main thread predicted (two
    threads at once above `overlap_above`) and while it ran pure Python, and the counter thread's
    share of a core during pure Python."""
    pr = probe.set_index("main_thread_doing")
    inside = float(pr.loc[PROBE_PREDICT, "process_cores_used"])
    return [
        finding(
            PROBE_FINDINGS,
            "probe",
            predict_cores=inside,
            overlap=PROBE_OVERLAP[inside > overlap_above],
            python_cores=float(pr.loc[PROBE_PYTHON, "process_cores_used"]),
            python_counter_share=float(pr.loc[PROBE_PYTHON, "counter_core_share"]),
        )
    ]

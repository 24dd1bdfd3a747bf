"""Checkers for the notebooks' exercises. Each returns a short verdict string (never raises on a
wrong answer), so a learner can try again. Solutions live in the notebooks' "Solution" cells."""
from __future__ import annotations

import pandas as pd


def _close(answer: float, truth: float, rel: float) -> bool:
    return abs(answer - truth) <= rel * abs(truth)


def check_speedup(answer: float, table: pd.DataFrame, fast: str, slow: str, rel: float = 0.05) -> str:
    """Exercise 00: the throughput ratio fast/slow read from this run's bench table (5% tolerance)."""
    r = table.set_index("name")["rows_per_s"]
    truth = r[fast] / r[slow]
    if _close(float(answer), truth, rel):
        return f"Correct: {fast} ran {truth:.1f}x the rows/s of {slow} in this run."
    return f"Not quite: recompute rows_per_s[{fast!r}] / rows_per_s[{slow!r}] from the table."


def check_worker_count(answer: int, samples: pd.DataFrame) -> str:
    """Exercise 01a: how many distinct Python worker processes ran the job (from the sampler)."""
    truth = samples.loc[samples.role == "python_worker", "pid"].nunique()
    if int(answer) == truth:
        return f"Correct: {truth} Python worker processes, forked by one pyspark.daemon."
    return "Not quite: count distinct PIDs with role 'python_worker' in the samples."


def check_bytes_per_row(answer: float, layers: pd.DataFrame, batch_rows: int, rel: float = 0.05) -> str:
    """Exercise 01b: bytes per row on the socket towards Python, from this run's layer table."""
    sent = layers.loc[layers.layer.str.contains("Arrow IPC sent"), "bytes"].iloc[0]
    truth = sent / batch_rows
    if _close(float(answer), truth, rel):
        return f"Correct: about {truth:.0f} bytes per row cross the socket (16 doubles = 128 bytes of data)."
    return "Not quite: divide the 'Arrow IPC sent' bytes by the rows in the batch."

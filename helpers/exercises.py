"""Checkers for the notebooks' exercises. Each returns a short verdict string (never raises on a
wrong answer), so a learner can try again. Solutions live in the notebooks' "Solution" cells."""

from __future__ import annotations

import pandas as pd

from helpers.core.config import LabError
from helpers.core.validate import require_positive
from helpers.lab.batch.sweep import MEMORY_METRIC
from helpers.lab.batch.zone import goldilocks_zone
from helpers.lab.jni import JniTax
from helpers.lab.pickling import command_bytes
from helpers.lab.scale import HEADROOM, CostFit, Sizing
from helpers.lab.wire import WireComparison
from helpers.lab.zerocopy.buffers import forensics_table
from helpers.profile.stacks import Stacks, dominant_frame, self_share


def _close(answer: float, truth: float, rel: float) -> bool:
    return abs(answer - truth) <= rel * abs(truth)


def check_speedup(
    answer: float, table: pd.DataFrame, fast: str, slow: str, rel: float = 0.05
) -> str:
    """Exercise 00: the throughput ratio fast/slow read from this run's bench table
    (5% tolerance)."""
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


def check_bytes_per_row(
    answer: float, layers: pd.DataFrame, batch_rows: int, rel: float = 0.05
) -> str:
    """Exercise 01b: bytes per row on the socket towards Python, from this run's layer table."""
    sent = layers.loc[layers.layer.str.contains("Arrow IPC sent"), "bytes"].iloc[0]
    truth = sent / batch_rows
    if _close(float(answer), truth, rel):
        return (
            f"Correct: about {truth:.0f} bytes per row cross the socket "
            "(16 doubles = 128 bytes of data)."
        )
    return "Not quite: divide the 'Arrow IPC sent' bytes by the rows in the batch."


def check_dominant_frame(guess: str | None, stacks: Stacks) -> str:
    """Exercise checker: is `guess` (a function name such as 'predict' or 'load_stream') the frame
    with the most on-CPU self time in `stacks`? Returns a sentence saying so, or what to look at."""
    if not guess:
        return (
            "Write the function name you read off the widest bottom edge, "
            "e.g. guess = 'load_stream'."
        )
    top = dominant_frame(stacks)
    name = top.split(" (", 1)[0].split(".")[-1]
    if guess.strip().lower() in (name.lower(), top.lower()):
        return (
            f"Correct: {top} has the most on-CPU self time "
            f"({self_share(stacks, top):.0%} of on-CPU samples)."
        )
    return (
        f"Not quite: {guess!r} is not the widest bottom edge. Ignore the grey [off-cpu] tips "
        "and look for "
        "the bar with the most width that nothing sits under (self time); "
        "frame_table() lists them."
    )


def check_gil_speedup(
    answer: float, runs: pd.DataFrame, mode: str = "threads", rel: float = 0.05
) -> str:
    """Exercise checker: the speedup of `mode` over serial predict, read from this run's table."""
    p = runs[runs.work == "lightgbm predict"].set_index("mode")
    if mode not in p.index:
        raise LabError(f"mode must be one of {', '.join(p.index)}; got {mode!r}.")
    truth = float(p.loc[mode, "speedup"])
    if abs(float(answer) - truth) <= rel * truth:
        return f"Correct: {mode} ran {truth:.2f}x faster than one thread in this run."
    return (
        f"Not quite: divide the serial wall_s by the {mode!r} wall_s of the lightgbm predict rows."
    )


def check_zone_answer(
    answer,
    points: pd.DataFrame,
    budget_bytes: float,
    tolerance: float = 0.05,
    memory_col: str = MEMORY_METRIC,
) -> str:
    """Exercise checker: compare a list of batch sizes with the zone `goldilocks_zone` computes
    from the same table. Returns one sentence (it never raises on a wrong answer)."""
    try:
        mine = sorted({int(b) for b in answer})
    except (TypeError, ValueError):
        return "Not yet: answer with a list of batch sizes, e.g. [1000, 10000]."
    zone = goldilocks_zone(points, budget_bytes, tolerance, memory_col)
    missing = sorted(set(zone.batches) - set(mine))
    extra = sorted(set(mine) - set(zone.batches))
    if not missing and not extra:
        return (
            f"Correct: {mine} (threshold {zone.threshold:,.0f} rows/s, "
            f"budget {budget_bytes / 2**20:.1f} MiB)."
        )
    hints = []
    if missing:
        hints.append(f"missing {missing}")
    if extra:
        hints.append(
            f"not in the zone: {extra} (check both conditions: throughput >= "
            f"{zone.threshold:,.0f} rows/s and {memory_col} <= {budget_bytes:,.0f} B)"
        )
    return "Not yet: " + "; ".join(hints) + "."


def check_calls_per_second(answer: float, tax: JniTax, rel: float = 0.05) -> str:
    """Exercise checker: JNI calls per second across all cores, from this run's JniTax."""
    truth = tax.native_calls_per_s
    if abs(float(answer) - truth) <= rel * truth:
        return (
            f"Correct: {truth:,.0f} JNI calls per second "
            f"({tax.native_calls_per_row} per row x {tax.rows_per_s:,.0f} rows/s)."
        )
    return (
        "Not quite: multiply rows scored per second by the JNI calls per row "
        "from the bytecode table."
    )


def check_factor(
    answer: float,
    hierarchy: pd.DataFrame,
    layer_prefix: str = "Python heap peak",
    rel: float = 0.05,
) -> str:
    """Exercise checker: a layer's bytes divided by the raw batch bytes, from this run's table."""
    row = hierarchy[hierarchy.layer.str.startswith(layer_prefix)]
    if row.empty:
        raise LabError(
            f"No layer starting with {layer_prefix!r}: use one of {', '.join(hierarchy.layer)}."
        )
    truth = float(row.factor_vs_raw.iloc[0])
    if abs(float(answer) - truth) <= rel * abs(truth):
        return f"Correct: {row.layer.iloc[0]} held {truth:.1f}x the raw bytes of one batch."
    return (
        "Not quite: divide that layer's bytes by the raw bytes of one batch "
        "(first row of the table)."
    )


def check_small_command(udf_obj, limit: int = 10_000) -> dict:
    """Exercise checker: is the pickled command of `udf_obj` under `limit` bytes (the model is
    not inside it)? Returns {'command_bytes', 'limit', 'ok'}."""
    require_positive("limit", limit)
    size = command_bytes(udf_obj)
    return {"command_bytes": size, "limit": limit, "ok": size < limit}


def check_zero_copy_guess(guess: dict[str, bool], rows: int = 1000) -> pd.DataFrame:
    """Compare a guess {case: True if zero-copy view} with the measured forensics table.
    Returns one row per case with guess, measured and correct; LabError on unknown cases."""
    table = forensics_table(rows).set_index("case")
    unknown = set(guess) - set(table.index)
    if unknown:
        raise LabError(
            f"Unknown case(s) {sorted(unknown)}: use names from forensics_table()['case']."
        )
    rows_out = [
        {"case": c, "guess": bool(g), "measured": table.loc[c, "verdict"] == "zero-copy view"}
        for c, g in guess.items()
    ]
    df = pd.DataFrame(rows_out)
    df["correct"] = df["guess"] == df["measured"]
    return df


def check_wall_by_hand(
    answer: float,
    fit: CostFit,
    rows: int,
    partitions: int,
    batch_size: int,
    slots: int,
    rel: float = 0.02,
) -> str:
    """Exercise 09a: the wall time (s) of one run computed by hand from the fitted coefficients
    (waves of tasks, batches and rows on the slowest slot); 2% tolerance."""
    truth = float(fit.predict(rows, partitions, batch_size, slots)[0])
    if _close(float(answer), truth, rel):
        return f"Correct: the model predicts {truth:.2f} s for {rows:,} rows in {partitions} tasks."
    return (
        "Not quite: waves = ceil(partitions / slots); each wave runs one task of rows/partitions "
        "rows in ceil(task rows / batch size) batches; add fixed + waves x (task + batches x "
        "batch cost + task rows x row cost)."
    )


def check_pyspark_memory(answer_mib: float, sizing: Sizing, rel: float = 0.02) -> str:
    """Exercise 09b: spark.executor.pyspark.memory (MiB) for the sized job: each Python worker
    needs its measured peak x HEADROOM, and Spark gives each worker 1/cores of the setting."""
    if sizing.worker_bytes is None:
        raise LabError("This sizing has no measured worker memory: size it with a memory fit.")
    truth = sizing.worker_bytes * HEADROOM * sizing.cores / 2**20
    if _close(float(answer_mib), truth, rel):
        return (
            f"Correct: {truth:,.0f} MiB per executor, i.e. {truth / sizing.cores:,.0f} MiB for "
            f"each of its {sizing.cores} Python workers."
        )
    if _close(float(answer_mib), truth / sizing.cores, rel):
        return (
            "Almost: that is one worker's share. Spark divides the setting by the executor's "
            "cores, so multiply by them."
        )
    return "Not quite: take the worker's peak bytes x HEADROOM x cores, in MiB."


def check_line_speedup(
    answer: dict, comparison: WireComparison, fast: str = "pandas_udf", slow: str = "row_udf",
    rel: float = 0.05,
) -> str:  # fmt: skip
    """Exercise 08a: per line that ran, rows/s of `fast` over rows/s of `slow` from this run's
    `comparison.bench_table()`, as {line label: factor} (5% tolerance each)."""
    t = comparison.bench_table()
    if t.empty:
        return "Nothing to check: no line ran `bench` in this run."
    speed = t.pivot(index="name", columns="line", values="rows_per_s")
    truth = {line: float(speed.loc[fast, line] / speed.loc[slow, line]) for line in speed.columns}
    answer = answer if isinstance(answer, dict) else {}
    wrong = [line for line in truth if not _close(float(answer.get(line, 0)), truth[line], rel)]
    if not wrong:
        said = ", ".join(f"{truth[line]:.1f} on {line}" for line in truth)
        return f"Correct: rows/s of {fast} / rows/s of {slow} = {said}."
    return (
        f"Not quite for {', '.join(wrong)}: divide rows_per_s of {fast!r} by that of {slow!r}, "
        "line by line, in comparison.bench_table()."
    )


def check_best_batch(answer: dict, comparison: WireComparison) -> str:
    """Exercise 08b: per line that ran, the batch size with the highest throughput in this run's
    `comparison.sweep_table()`, as {line label: batch size}."""
    t = comparison.sweep_table()
    if t.empty:
        return "Nothing to check: no line ran `sweep` in this run."
    best = t.loc[t.groupby("line").throughput.idxmax()].set_index("line").batch_size
    answer = answer if isinstance(answer, dict) else {}
    wrong = [line for line in best.index if answer.get(line) != int(best[line])]
    if not wrong:
        said = ", ".join(f"{int(best[line]):,} rows on {line}" for line in best.index)
        return f"Correct: the fastest batch size was {said}."
    return (
        f"Not quite for {', '.join(wrong)}: take the row with the largest throughput per line "
        "in comparison.sweep_table()."
    )

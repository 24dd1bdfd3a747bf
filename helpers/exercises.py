"""Checkers for the notebooks' exercises. Each returns a short verdict string (never raises on a
wrong answer), so a learner can try again. Solutions live in the notebooks' "Solution" cells."""

from __future__ import annotations

import math

import pandas as pd

from helpers.core.config import LabError
from helpers.core.validate import require_positive
from helpers.lab.batch.sweep import MEMORY_METRIC, spread_table
from helpers.lab.batch.zone import goldilocks_zone
from helpers.lab.jni import JniTax
from helpers.lab.pickling import command_bytes
from helpers.lab.scale import HEADROOM, CostFit, Sizing
from helpers.lab.talk import converging_trees
from helpers.lab.wire import WireComparison
from helpers.lab.zerocopy.buffers import forensics_table
from helpers.lab.zerocopy.layouts import STACK_LAYOUT
from helpers.profile.stacks import Stacks, dominant_frame, self_share, total_share


def _close(answer: float, truth: float, rel: float) -> bool:
    return abs(answer - truth) <= rel * abs(truth)


def _number(answer) -> float | None:
    """`answer` as a float, or None when it is not a number (a learner's answer never raises)."""
    try:
        return float(answer)
    except (TypeError, ValueError):
        return None


NOT_A_NUMBER = "Not yet: answer with a number (replace the placeholder)."


def check_speedup(
    answer: float, table: pd.DataFrame, fast: str, slow: str, rel: float = 0.05
) -> str:
    """Exercise 00: the throughput ratio fast/slow read from this run's bench table
    (5% tolerance)."""
    r = table.set_index("name")["rows_per_s"]
    truth = r[fast] / r[slow]
    answer = _number(answer)
    if answer is None:
        return NOT_A_NUMBER
    if _close(float(answer), truth, rel):
        return f"Correct: {fast} ran {truth:.1f}x the rows/s of {slow} in this run."
    return f"Not quite: recompute rows_per_s[{fast!r}] / rows_per_s[{slow!r}] from the table."


def check_closest_path(answer: str | None, table: pd.DataFrame) -> str:
    """Exercise 00b: which Spark path came closest to the physical limit (the largest
    `ratio_to_limit` of this run's bench table, the limit's own row left out)?"""
    ratio = table[table["name"] != "physical_limit"].set_index("name")["ratio_to_limit"]
    names = ", ".join(ratio.index)
    if not isinstance(answer, str) or not answer:
        return f"Not yet: answer with a path name from table.name: {names}."
    if answer == "physical_limit":
        return "Not yet: the physical limit is the yardstick itself; pick a Spark path."
    if answer not in ratio.index:
        return f"Not yet: {answer!r} is not a path in this table; use one of {names}."
    if ratio[answer] >= ratio.max():
        return (
            f"Correct: {answer} reached {ratio[answer]:.2f} of the physical limit, the closest of "
            f"the {len(ratio)} paths in this run."
        )
    return (
        f"Not quite: {answer} reached {ratio[answer]:.2f} of the limit; another path came closer. "
        "Sort the table by ratio_to_limit."
    )


def check_worker_count(answer: int, samples: pd.DataFrame) -> str:
    """Exercise 01a: how many distinct Python worker processes ran the job (from the sampler)."""
    truth = samples.loc[samples.role == "python_worker", "pid"].nunique()
    answer = _number(answer)
    if answer is None:
        return NOT_A_NUMBER
    if int(answer) == truth:
        return f"Correct: {truth} Python worker processes, forked by one pyspark.daemon."
    return "Not quite: count distinct PIDs with role 'python_worker' in the samples."


def check_bytes_per_row(
    answer: float, layers: pd.DataFrame, batch_rows: int, rel: float = 0.05
) -> str:
    """Exercise 01b: bytes per row on the socket towards Python, from this run's layer table."""
    sent = layers.loc[layers.layer.str.contains("Arrow IPC sent"), "bytes"].iloc[0]
    truth = sent / batch_rows
    answer = _number(answer)
    if answer is None:
        return NOT_A_NUMBER
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
    answer = _number(answer)
    if answer is None:
        return NOT_A_NUMBER
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
    from the same table. `None` is the placeholder; `[]` is an answer (right only when no batch
    size qualifies). Returns one sentence (it never raises on a wrong answer)."""
    try:
        mine = sorted({int(b) for b in answer})
    except (TypeError, ValueError):
        return (
            "Not yet: answer with a list of batch sizes, e.g. [1000, 10000] ([] if none qualifies)."
        )
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
    answer = _number(answer)
    if answer is None:
        return NOT_A_NUMBER
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
    answer = _number(answer)
    if answer is None:
        return NOT_A_NUMBER
    if abs(float(answer) - truth) <= rel * abs(truth):
        return f"Correct: {row.layer.iloc[0]} held {truth:.1f}x the raw bytes of one batch."
    return (
        "Not quite: divide that layer's bytes by the raw bytes of one batch "
        "(first row of the table)."
    )


def check_small_command(udf_obj, limit: int = 10_000) -> str:
    """Exercise 02a: is the pickled command of `udf_obj` (what every task carries) under `limit`
    bytes, i.e. is the model no longer inside it?"""
    require_positive("limit", limit)
    size = command_bytes(udf_obj)
    if size < limit:
        return f"Correct: the pickled command is {size:,} bytes, under {limit:,}."
    return (
        f"Not yet: the pickled command is {size:,} bytes (limit {limit:,}): the function still "
        "captures something big. Reference a broadcast (or a file path) instead of the Booster."
    )


def check_zero_copy_guess(guess: dict[str, bool], rows: int = 1000) -> str:
    """Exercise 03a: compare a guess {case: True if `to_numpy()` returns a zero-copy view} with
    the forensics table measured now (buffer addresses)."""
    if not isinstance(guess, dict) or not guess:
        return "Not yet: answer with a dict {case: True or False}, e.g. {'int64': True}."
    table = forensics_table(rows).set_index("case")
    unknown = sorted(set(guess) - set(table.index))
    if unknown:
        return f"Not yet: unknown case(s) {unknown}: use names from forensics_table()['case']."
    measured = {c: table.loc[c, "verdict"] == "zero-copy view" for c in guess}
    wrong = [c for c, g in guess.items() if bool(g) != measured[c]]
    if not wrong:
        return f"Correct: all {len(guess)} guesses match the addresses measured now."
    return (
        f"Not yet: {len(guess) - len(wrong)} of {len(guess)} right; look again at {wrong} "
        "(nulls — null_count > 0 — or bit-packed booleans cannot be shared with NumPy)."
    )


def check_pickle_growth(answer: str | None, sizes: pd.DataFrame) -> str:
    """Exercise 02b: which column kind grew the most when pickled instead of sent as Arrow
    (largest `pickled_over_arrow` in `wire_sizes`' table)?"""
    kinds = list(sizes["kind"])
    if not isinstance(answer, str) or not answer:
        return f"Not yet: answer with one kind from sizes.kind: {', '.join(kinds)}."
    if answer not in kinds:
        return f"Not yet: {answer!r} is not a kind in this table; use one of {', '.join(kinds)}."
    ratio = sizes.set_index("kind")["pickled_over_arrow"]
    top = ratio.idxmax()
    if ratio[answer] >= ratio[top]:
        return (
            f"Correct: {answer} pickled to {ratio[answer]:.1f}x its Arrow bytes, the most of "
            f"the {len(kinds)} kinds in this run."
        )
    return (
        f"Not quite: {answer} pickled to {ratio[answer]:.1f}x its Arrow bytes; another kind grew "
        "more. Compare the pickled_over_arrow column."
    )


def check_stack_copy(answer: float, inproc: pd.DataFrame, rel: float = 0.01) -> str:
    """Exercise 03b: the bytes `np.column_stack` writes to new memory to build the model's
    matrix of one batch (`layouts.stacking_vs_view`, measured by address), predicted by hand."""
    row = inproc[inproc["layout"] == STACK_LAYOUT]
    if row.empty:
        return "Not yet: `inproc` has no np.column_stack row; run the section 5 cell first."
    truth, rows = float(row["copied_bytes"].iloc[0]), int(row["rows"].iloc[0])
    answer = _number(answer)
    if answer is None:
        return NOT_A_NUMBER
    if _close(answer, truth, rel):
        return (
            f"Correct: {truth:,.0f} new bytes for {rows:,} rows, all of the batch's "
            f"{truth / rows / 8:.0f} double columns copied once."
        )
    if _close(answer * 8, truth, rel):
        return "Almost: that counts values; each double takes 8 bytes."
    return "Not quite: a new rows x columns matrix of doubles: rows x columns x 8 bytes."


def check_small_batch_cost(
    answer: float, points: pd.DataFrame, label: str = "map_in_arrow", rel: float = 0.05
) -> str:
    """Exercise 04b: how many times the best throughput of `label` in the sweep exceeds its
    throughput at the smallest batch size, read from `points` (the median of each batch size's
    runs, as the findings and the chart read them)."""
    p = points[points["label"] == label]
    if p.empty:
        labels = sorted(set(points["label"]))
        return f"Not yet: no sweep points labelled {label!r}; use one of {labels}."
    median = spread_table(p).set_index("batch_size")["median"].sort_index()
    best_size, small_size = int(median.idxmax()), int(median.index[0])
    truth = median[best_size] / median[small_size]
    answer = _number(answer)
    if answer is None:
        return NOT_A_NUMBER
    if _close(answer, truth, rel):
        return (
            f"Correct: {label} ran {truth:.1f}x the rows/s at {best_size:,} rows per batch of "
            f"what it ran at {small_size:,} (medians of the runs)."
        )
    if answer > 0 and _close(1 / answer, truth, rel):
        return "Almost: that is the smallest batch over the best; invert it."
    return (
        f"Not quite: divide the best median throughput of {label!r} by its median at the smallest "
        "batch size (group the runs by batch_size)."
    )


def check_share_prediction(
    answer: int | None, by_batch: dict, frame: str = "predict (lightgbm/basic.py)"
) -> str:
    """Exercise 05b, predict then measure: at which batch size (a key of `by_batch`, {batch size:
    collapsed stacks}) does `frame` sit on the stack in the larger share of sampled time?"""
    sizes = sorted(by_batch)
    try:
        known = answer in by_batch
    except TypeError:  # e.g. a list
        known = False
    if not known:
        return f"Not yet: answer with one of the batch sizes {', '.join(f'{b:,}' for b in sizes)}."
    shares = {b: total_share(by_batch[b], frame) for b in sizes}
    measured = " vs ".join(f"{shares[b]:.0%} at {b:,}" for b in sizes)
    if shares[answer] >= max(shares.values()):
        return f"Correct: {frame} was on the stack in {measured} rows per batch."
    return (
        f"Not this time: {frame} was on the stack in {measured} rows per batch. What does a "
        "batch cost regardless of its size?"
    )


def check_cores_used(
    answer: float,
    runs: pd.DataFrame,
    mode: str = "threads",
    work: str = "pure-Python loop (control)",
    rel: float = 0.10,
) -> str:
    """Exercise 06b: cores used (CPU s / wall s) by `work` in `mode`, read from
    `gil.gil_experiment`'s table after predicting it."""
    row = runs[(runs["mode"] == mode) & (runs["work"] == work)]
    if row.empty:
        return f"Not yet: `runs` has no row with mode {mode!r} and work {work!r}."
    truth, n = float(row["cores_used"].iloc[0]), int(row["parallelism"].iloc[0])
    answer = _number(answer)
    if answer is None:
        return NOT_A_NUMBER
    if _close(answer, truth, rel):
        return f"Correct: the {work} in {n} {mode} used {truth:.2f} cores in this run."
    return f"Not quite: read cores_used of the row with mode {mode!r} and work {work!r}."


def check_peak_growth(answer: float, peaks: pd.DataFrame, rel: float = 0.05) -> str:
    """Exercise 07b: how many times the Python task's heap peak (memray) at the largest batch
    size exceeds the one at the smallest, read from `memory.peaks_by_batch_size`'s table."""
    p = peaks.dropna(subset=["python_peak_bytes"]).sort_values("batch_size")
    if len(p) < 2:
        return "Not yet: `peaks` needs memray peaks at two batch sizes; run section 2 first."
    lo, hi = p.iloc[0], p.iloc[-1]
    truth = hi.python_peak_bytes / lo.python_peak_bytes
    raw = hi.raw_batch_bytes / lo.raw_batch_bytes
    answer = _number(answer)
    if answer is None:
        return NOT_A_NUMBER
    if _close(answer, truth, rel):
        return (
            f"Correct: the heap peak grew {truth:.1f}x from {int(lo.batch_size):,} to "
            f"{int(hi.batch_size):,} rows per batch, while one raw batch grew {raw:.0f}x."
        )
    if answer > 0 and _close(1 / answer, truth, rel):
        return "Almost: that is the smallest over the largest; invert it."
    return (
        "Not quite: divide python_peak_bytes at the largest batch size by python_peak_bytes at "
        "the smallest."
    )


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
    answer = _number(answer)
    if answer is None:
        return NOT_A_NUMBER
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
    per_slot = math.ceil(sizing.worker_bytes * HEADROOM / 2**20)  # as the sizing rounds it
    truth = per_slot * sizing.cores
    answer_mib = _number(answer_mib)
    if answer_mib is None:
        return NOT_A_NUMBER
    if _close(float(answer_mib), truth, rel):
        return (
            f"Correct: {truth:,} MiB per executor, i.e. {per_slot:,} MiB for each of its "
            f"{sizing.cores} Python workers."
        )
    if _close(float(answer_mib), per_slot, rel):
        return (
            "Almost: that is one worker's share. Spark divides the setting by the executor's "
            "cores, so multiply by them."
        )
    return "Not quite: take the worker's peak bytes x HEADROOM x cores, in MiB."


def check_lever_count(answer: int, table: pd.DataFrame) -> str:
    """Exercise 10a: how many of notebook 10's levers this Spark's conf registry defines (from this
    run's `levers.lever_table`). `None` is the placeholder (a count can be 0)."""
    truth = int(table["defined"].sum())
    answer = _number(answer)
    if answer is None:
        return NOT_A_NUMBER
    if answer == truth:
        return f"Correct: this Spark defines {truth} of the {len(table)} levers."
    return "Not quite: count the rows whose 'defined' column is True."


def check_column_to_row(answer: bool | None, facts: dict) -> str:
    """Exercise 10b: does a ColumnarToRow sit between the Parquet scan and the Python operator in
    this run's plan (from `levers.python_input`)?"""
    if answer is None:
        return "Not answered yet: replace None with True or False."
    truth = bool(facts["column_to_row"])
    if bool(answer) == truth:
        how = "rows, converted by ColumnarToRow" if truth else "columnar batches straight"
        return f"Correct: `{facts['operator']}` gets {how} from `{facts['child']}`."
    return "Not quite: look at the executed plan (`frame.explain()`) under the Python operator."


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


def check_dial_trees(answer, dial: pd.DataFrame) -> str:
    """Exercise 11a: the fewest trees at which the Arrow paths of this run's dial were within 10%
    of each other (None when they never were)."""
    truth = converging_trees(dial, [p for p in dial.path.unique() if p != "row_udf"])
    if answer == "?" or (answer is not None and _number(answer) is None):
        return "Not yet: answer with a number of trees from dial.trees, or None."
    if truth is None:
        if answer is None:
            return "Correct: the Arrow paths never came within 10% of each other in this run."
        return "Not quite: at the heaviest model the Arrow paths are still more than 10% apart."
    if answer is not None and int(_number(answer)) == truth:
        return f"Correct: from {truth:,} trees the Arrow paths were within 10% of each other."
    return "Not quite: the fewest trees from which on every model's Arrow paths are < 10% apart."


def check_model_loads(answer, loads: dict) -> str:
    """Exercise 11b: how many times the per-batch UDF loaded the model in this run."""
    truth = loads["per batch"]["loads"]
    n = _number(answer)
    if n is None or n < 0:
        return NOT_A_NUMBER
    if int(n) == truth:
        conf = loads["per batch"]["batches"]
        if truth == conf:
            return f"Correct: {truth} loads, one per Arrow batch ({conf} batches)."
        return (
            f"Correct: {truth} loads, one per Arrow batch the workers got; maxRecordsPerBatch "
            f"predicted {conf}, so the batches came another way (e.g. a cache's own batches)."
        )
    return "Not quite: read loads['per batch']['loads']."

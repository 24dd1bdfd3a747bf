"""The tuner's search logic and findings on synthetic, deterministic throughput/memory curves
(no Spark, no timing)."""

import math

import numpy as np
import pytest

from helpers.core.config import LabError
from helpers.lab.batch.sweep import Workload, log_grid
from helpers.lab.batch.tuner import search, tune, tuner_findings, tuning_grid

GRID = log_grid(10, 1_000_000, 4)  # 21 points, 4 per decade


def curve(peak, width=1.2, top=1e6, mem_per_row=100.0, base_mem=1e6):
    """Throughput: a bump in log10(batch) around `peak`; memory grows linearly with the batch."""
    calls = []

    def evaluate(b):
        calls.append(b)
        tp = top * math.exp(-(((math.log10(b) - math.log10(peak)) / width) ** 2))
        return tp, base_mem + mem_per_row * b

    return evaluate, calls


def best_feasible(evaluate, budget):
    vals = [(evaluate(b), b) for b in GRID]
    return max(tp for (tp, mem), b in vals if mem <= budget)


def test_grid_is_log_scale_with_exact_decades():
    assert GRID[:5] == [10, 18, 32, 56, 100] and GRID[-1] == 1_000_000 and len(GRID) == 21
    assert all(d in GRID for d in (10, 100, 1000, 10_000, 100_000, 1_000_000))


def test_finds_the_peak_with_fewer_runs():
    ev, calls = curve(peak=31_623)
    rec = search(ev, budget_bytes=1e12, grid=GRID, step=4)
    assert rec.batch_size == 31_623
    assert rec.evaluations == len(calls) and len(set(calls)) <= 8 < len(GRID)
    assert {t.stage for t in rec.trials} == {"coarse", "fine", "duel"}
    assert [t.order for t in rec.trials] == list(range(rec.evaluations))
    duel = [t.batch_size for t in rec.trials if t.stage == "duel"]
    assert duel[:2] == [31_623, duel[1]] and duel == duel[:2] * 2  # alternated, twice each


def test_climbs_down_when_small_batches_win():
    ev, calls = curve(peak=178)
    rec = search(ev, budget_bytes=1e12, grid=GRID, step=4)
    assert rec.batch_size == 178
    assert calls[:3] == [10_000, 100_000, 1_000]  # start, one decade up (worse), then down


def test_budget_stops_the_climb_early():
    # memory = 1e6 + 100 * b; budget 3e6 -> batches above 20,000 do not fit
    ev, calls = curve(peak=300_000)
    rec = search(ev, budget_bytes=3e6, grid=GRID, step=4)
    assert rec.batch_size == 17_783  # largest grid point under budget, the fastest that fits
    assert rec.memory_bytes <= 3e6
    over = [t.batch_size for t in rec.trials if t.over_budget]
    assert over and min(over) > 17_783
    # early stop: once 100,000 is over budget nothing larger is ever tried
    assert max(calls) == 100_000 and 316_228 not in calls and 1_000_000 not in calls
    assert "exceed the budget" in rec.reason


def test_start_over_budget_walks_down():
    ev, calls = curve(peak=10_000, base_mem=0, mem_per_row=1000)  # memory = 1000 * b
    rec = search(ev, budget_bytes=150_000, grid=GRID, step=4)
    assert calls[0] == 10_000 and calls[1] == 1_000 and calls[2] == 100
    assert rec.batch_size == 100  # 178 and above use more than 150 kB


def test_nothing_fits():
    ev, _ = curve(peak=1000, base_mem=5e6)
    rec = search(ev, budget_bytes=1e6, grid=GRID, step=4)
    assert rec.batch_size is None and "even 10 rows" in rec.reason
    assert all(t.over_budget for t in rec.trials)


def test_monotone_curve_goes_to_the_top():
    def ev(b):
        return float(b), 0.0

    rec = search(ev, 1.0, GRID, 4)
    assert rec.batch_size == 1_000_000


@pytest.mark.parametrize("seed", range(5))
def test_many_random_bumps_reach_95_percent(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        peak = float(10 ** rng.uniform(1, 6))
        width = float(rng.uniform(0.6, 2.5))
        budget = float(10 ** rng.uniform(6.2, 9))
        ev, calls = curve(peak, width)
        rec = search(ev, budget, GRID, 4)
        best = best_feasible(curve(peak, width)[0], budget)
        assert rec.throughput >= 0.95 * best
        assert rec.memory_bytes <= budget
        assert len(set(calls)) <= 10 and rec.evaluations <= 14


def test_duel_overrules_a_lucky_run():
    """A noisy curve: 1,000 rows looked fastest once, but 10,000 wins both re-runs."""
    seen = {}

    def ev(b):
        seen[b] = seen.get(b, 0) + 1
        base = {1000: 95.0, 10_000: 100.0}.get(b, 10.0)
        lucky = 20.0 if (b == 1000 and seen[b] == 1) else 0.0
        return base + lucky, 1.0

    rec = search(ev, 10.0, log_grid(100, 100_000, 1), 1)
    assert rec.batch_size == 10_000 and rec.throughput == 100.0
    assert [t.batch_size for t in rec.trials if t.stage == "duel"] == [1000, 10_000, 1000, 10_000]
    assert "runner-up 1,000" in rec.reason


def test_no_duel_when_asked():
    ev, calls = curve(peak=1000)
    rec = search(ev, 1e12, GRID, 4, duel_rounds=0)
    assert rec.evaluations == len(set(calls)) and "duel" not in {t.stage for t in rec.trials}


def test_bad_grid():
    with pytest.raises(LabError, match="ascending"):
        search(lambda b: (1, 1), 10, [100, 10], 1)


def test_tuning_grid_stops_at_rows_per_partition():
    w = Workload("x", lambda: None, rows=20_000, partitions=2, one_row_bytes=136)
    g = tuning_grid(w)
    assert g[0] == 10 and g[-1] == 10_000


@pytest.mark.parametrize("budget", [0, -1, 100])
def test_tune_rejects_budget_below_one_row(budget):
    w = Workload("x", lambda: None, rows=1000, partitions=1, one_row_bytes=136)
    with pytest.raises(LabError, match="budget"):
        tune(None, w, budget)  # fails before any Spark call


def test_tune_rejects_unknown_memory_column():
    w = Workload("x", lambda: None, rows=1000, partitions=1, one_row_bytes=136)
    with pytest.raises(LabError, match="memory column"):
        tune(None, w, 10**9, memory_col="nope")


def test_findings_of_a_recommendation():
    ev, calls = curve(peak=1000, base_mem=0, mem_per_row=2**20 / 1000)  # 1 MiB per 1,000 rows
    rec = search(ev, 1e12, GRID, 4)
    rec.wall_s = 2.5
    (f,) = tuner_findings(rec)
    v = f.values
    assert f.key == "recommended" and v["batch_size"] == 1000 and v["memory_mib"] == 1.0
    assert (v["evaluations"], v["distinct"], v["grid_points"]) == (
        rec.evaluations,
        len(set(calls)),
        21,
    )
    assert (v["runs"], v["tp_min"], v["tp_max"]) == (3, 1e6, 1e6)  # its trial + 2 duel runs
    assert f.text().startswith(
        "The tuner recommends **maxRecordsPerBatch = 1,000** (1,000,000 rows/s, median of 3 "
        "runs, range 1,000,000..1,000,000; 1.0 MiB of peak_jvm_offheap_bytes) after "
    )
    assert f"in 2.5 s; {rec.reason}." in f.text()


def test_findings_when_nothing_fits():
    ev, _ = curve(peak=1000, base_mem=5e6)
    (f,) = tuner_findings(search(ev, budget_bytes=1e6, grid=GRID, step=4))
    assert f.key == "none" and f.text().startswith("No recommendation: even 10 rows per batch")


def test_the_pick_is_quoted_with_its_runs_and_a_faster_single_run_is_named():
    """Issue 24: a lucky first run at 10,000 must not leave the pick quoted below it unexplained.
    10,000 runs 192k once, then 100k; 17,783 runs 160k steadily: the medians pick 17,783."""
    seen = {}

    def evaluate(b):
        seen[b] = seen.get(b, 0) + 1
        if b == 10_000:
            return (192_000.0 if seen[b] == 1 else 100_000.0), 1e6
        return (160_000.0 if b == 17_783 else 50_000.0), 1e6

    rec = search(evaluate, 1e12, GRID, 4)
    assert rec.batch_size == 17_783 and rec.throughput == 160_000.0
    assert (rec.throughput_min, rec.throughput_max, rec.runs) == (160_000.0, 160_000.0, 3)
    assert "one run at 10,000 measured 192,000 rows/s, above every run of the pick" in rec.reason
    assert "its median over 3 run(s) is 100,000" in rec.reason


def test_no_faster_single_run_no_note():
    ev, _ = curve(peak=1000)
    assert "a single fast run" not in search(ev, 1e12, GRID, 4).reason

"""The Goldilocks zone on synthetic sweep tables (no Spark, no timing)."""

import pandas as pd
import pytest

from helpers.core.config import LabError
from helpers.lab.batch.zone import goldilocks_zone, zone_table

MiB = 2**20


def table(rows):
    return pd.DataFrame(rows, columns=["batch_size", "throughput", "peak_jvm_offheap_bytes"])


CURVE = table(
    [
        (10, 100.0, 1 * MiB),
        (100, 600.0, 2 * MiB),
        (1_000, 960.0, 4 * MiB),
        (10_000, 1000.0, 16 * MiB),
        (100_000, 980.0, 128 * MiB),
        (1_000_000, 700.0, 1024 * MiB),
    ]
)


def test_zone_is_within_tolerance_and_under_budget():
    z = goldilocks_zone(CURVE, budget_bytes=64 * MiB)
    assert z.best_batch == 10_000 and z.best_throughput == 1000.0
    assert z.threshold == pytest.approx(950.0)
    # 1k (960 >= 950) and 10k qualify; 100k is fast enough but 128 MiB > 64 MiB
    assert z.batches == [1_000, 10_000] and (z.lo, z.hi) == (1_000, 10_000)
    assert z.over_budget == [100_000, 1_000_000]
    assert z.feasible_best_batch == 10_000
    assert "1,000..10,000" in z.sentence()


def test_budget_that_is_large_keeps_every_fast_point():
    z = goldilocks_zone(CURVE, budget_bytes=10 * 1024 * MiB)
    assert z.batches == [1_000, 10_000, 100_000] and z.over_budget == []


def test_tolerance_zero_keeps_only_the_best():
    assert goldilocks_zone(CURVE, 10**12, tolerance=0.0).batches == [10_000]


def test_empty_zone_reports_best_under_budget():
    z = goldilocks_zone(CURVE, budget_bytes=3 * MiB)
    assert z.empty and z.lo is None
    assert z.feasible_best_batch == 100 and z.feasible_best_throughput == 600.0
    assert "No Goldilocks zone" in z.sentence() and "60%" in z.sentence()


def test_nothing_under_budget():
    z = goldilocks_zone(CURVE, budget_bytes=1)
    assert z.empty and z.feasible_best_batch is None
    assert "No batch size stays under" in z.sentence()


def test_repeats_use_median_throughput_and_max_memory():
    rep = table([(100, 90.0, 1), (100, 100.0, 5), (100, 200.0, 2), (1000, 100.0, 1)])
    z = goldilocks_zone(rep, budget_bytes=4)
    # median of 100-row throughputs is 100 (the best, tied with 1000); max memory 5 > 4
    assert z.over_budget == [100] and z.batches == [1000]


def test_other_memory_column():
    t = CURVE.assign(peak_python_rss_bytes=[1, 1, 1, 1, 1, 10**12])
    z = goldilocks_zone(t, budget_bytes=2, memory_col="peak_python_rss_bytes")
    assert z.batches == [1_000, 10_000, 100_000]


def test_zone_table_flags():
    z = goldilocks_zone(CURVE, 64 * MiB)
    t = zone_table(CURVE, z)
    assert t["in_zone"].tolist() == [False, False, True, True, False, False]
    assert t["under_budget"].tolist() == [True, True, True, True, False, False]
    assert t["within_tolerance"].tolist() == [False, False, True, True, True, False]


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"budget_bytes": 0}, "budget"),
        ({"budget_bytes": -5}, "budget"),
        ({"budget_bytes": 10, "tolerance": 1.5}, "tolerance"),
        ({"budget_bytes": 10, "memory_col": "nope"}, "lacks column"),
    ],
)
def test_bad_input(kwargs, needle):
    with pytest.raises(LabError, match=needle):
        goldilocks_zone(CURVE, **kwargs)


def test_empty_table():
    with pytest.raises(LabError, match="empty"):
        goldilocks_zone(CURVE.iloc[:0], 10)


def test_exercise_checker():
    from helpers.exercises import check_zone_answer

    assert check_zone_answer([1000, 10000], CURVE, 64 * MiB).startswith("Correct")
    msg = check_zone_answer([10000, 100000], CURVE, 64 * MiB)
    assert msg.startswith("Not yet") and "[1000]" in msg and "[100000]" in msg
    assert check_zone_answer("x", CURVE, 64 * MiB).startswith("Not yet")


def test_single_point_zone_sentence():
    z = goldilocks_zone(CURVE, 64 * MiB, tolerance=0.0)
    assert "10,000 rows per batch only" in z.sentence()


def test_plots_return_figures_with_the_zone_shaded():
    import matplotlib

    matplotlib.use("Agg")
    from helpers.viz import batch as plots_batch

    pts = CURVE.assign(label="x", rows=1000, cpu_saturation=0.5, jvm_cpu_s=0.1, python_cpu_s=0.2)
    z = goldilocks_zone(pts, 64 * MiB)
    fig = plots_batch.plot_sweep(pts, {"x": z}, budget_bytes=64 * MiB)
    ax = fig.axes[0]
    spans = [p for p in ax.patches if p.get_label() == "Goldilocks zone"]
    assert len(spans) == 1
    x0 = spans[0].get_x()
    x1 = x0 + spans[0].get_width()
    assert 100 < x0 < 1000 and 10_000 < x1 < 100_000  # half-way (geometric) to the neighbours
    assert plots_batch.plot_saturation(pts).axes

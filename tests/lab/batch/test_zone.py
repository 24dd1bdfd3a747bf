"""The Goldilocks zone on synthetic sweep tables (no Spark, no timing)."""

import pandas as pd
import pytest

from helpers.core.config import LabError
from helpers.lab.batch.zone import (
    ZONE_FINDINGS,
    goldilocks_zone,
    label_zones,
    wide_findings,
    zone_findings,
    zone_table,
)

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
    (f,) = z.findings("x")
    assert f.key == "zone" and "1,000 and 10,000 rows per batch" in f.text()
    assert f.values["threshold"] == pytest.approx(950.0) and f.values["budget_mib"] == 64


def test_budget_that_is_large_keeps_every_fast_point():
    z = goldilocks_zone(CURVE, budget_bytes=10 * 1024 * MiB)
    assert z.batches == [1_000, 10_000, 100_000] and z.over_budget == []


def test_tolerance_zero_keeps_only_the_best():
    assert goldilocks_zone(CURVE, 10**12, tolerance=0.0).batches == [10_000]


def test_empty_zone_reports_best_under_budget():
    z = goldilocks_zone(CURVE, budget_bytes=3 * MiB)
    assert z.empty and z.lo is None
    assert z.feasible_best_batch == 100 and z.feasible_best_throughput == 600.0
    (f,) = z.findings("x")
    assert f.key == "no_zone" and f.values["share"] == pytest.approx(0.6)
    assert "the best under budget is 100 rows at 60% of the best" in f.text()


def test_nothing_under_budget():
    z = goldilocks_zone(CURVE, budget_bytes=1)
    assert z.empty and z.feasible_best_batch is None
    (f,) = z.findings("x")
    assert f.key == "no_zone" and f.values["share"] is None
    assert f.text().endswith(
        "all exceed the 0.0 MiB budget (peak_jvm_offheap_bytes); no batch size fits: raise the "
        "budget or use smaller batches."
    )


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


def test_single_point_zone_finding():
    z = goldilocks_zone(CURVE, 64 * MiB, tolerance=0.0)
    (f,) = z.findings("x")
    assert f.key == "zone"
    assert f.text().startswith("**x**: Goldilocks zone: only 10,000 rows per batch: at least")


def test_every_zone_template_is_reachable():
    keys = {
        f.key
        for budget, tol in [(64 * MiB, 0.05), (3 * MiB, 0.05)]
        for f in goldilocks_zone(CURVE, budget, tolerance=tol).findings("x")
    }
    assert keys == set(ZONE_FINDINGS)


def labelled(label, rows):
    return table(rows).assign(label=label)


def test_label_zones_and_their_findings_keep_the_label_order():
    pts = pd.concat([labelled("b", CURVE.values), labelled("a", CURVE.values)], ignore_index=True)
    zones = label_zones(pts, 64 * MiB)
    assert list(zones) == ["b", "a"] and zones["a"].batches == [1_000, 10_000]
    found = zone_findings(zones)
    assert [f.values["label"] for f in found] == ["b", "a"]
    assert found[0].text().startswith("**b**: Goldilocks zone: 1,000 and 10,000")


def sized(label, rows, row_bytes, per_partition=5_000):
    t = labelled(label, rows)
    t["effective_batch_rows"] = t["batch_size"].clip(upper=per_partition)
    t["batch_bytes"] = t["effective_batch_rows"] * row_bytes
    return t


def test_wide_findings_compare_row_width_and_peaks_at_the_top_batch():
    narrow = sized("m", [(100, 960.0, 2 * MiB), (10_000, 1000.0, 8 * MiB)], 136)
    wide = sized("m (wide)", [(100, 700.0, 6 * MiB), (10_000, 800.0, 40 * MiB)], 1096)
    found = wide_findings(narrow, wide, 24 * MiB)
    assert [f.key for f in found] == ["row_width", "zone", "no_zone"]
    v = found[0].values
    assert (v["narrow_row_bytes"], v["wide_row_bytes"], v["top"]) == (136, 1096, 10_000)
    assert (v["narrow_mib"], v["wide_mib"], v["wide_min_mib"]) == (8, 40, 6)
    assert found[0].text().startswith("Row width 136 B → 1,096 B. At 10,000 rows per batch")
    assert found[2].values["label"] == "m (wide)" and found[2].values["feasible_best_batch"] == 100


def test_wide_findings_without_a_common_batch_size_only_give_the_zones():
    narrow = sized("m", [(100, 900.0, 2 * MiB)], 136)
    wide = sized("m (wide)", [(1000, 700.0, 6 * MiB)], 1096)
    assert [f.key for f in wide_findings(narrow, wide, 24 * MiB)] == ["zone", "zone"]


def test_zone_sizes_read_as_a_list_so_a_gap_shows():
    from helpers.lab.batch.zone import _sizes

    assert _sizes([3162, 100_000]) == "3,162 and 100,000"
    assert _sizes([100, 316, 1000]) == "100, 316 and 1,000"
    assert _sizes([5]) == "5"
    assert _sizes([1, 2, 3, 4, 5]) == "1..5 (5 sizes)"

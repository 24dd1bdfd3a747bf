"""helpers.measure.timing's findings (notebook 00): every template branch, on hand-made results.
Pure: no Spark, no timing."""

import numpy as np
import pandas as pd
import pytest

from helpers.core import env
from helpers.measure import timing


def keys(findings):
    return [f.key for f in findings]


def bench(diffs, ratios):
    """A bench_table-shaped frame: the limit first, then paths p0, p1, ..."""
    return pd.DataFrame(
        {
            "name": ["physical_limit"] + [f"p{i}" for i in range(len(diffs))],
            "max_abs_diff": [0.0] + [np.nan if d is None else d for d in diffs],
            "ratio_to_limit": [1.0] + list(ratios),
        }
    )


def limit(preds, walls=()):
    return timing.LimitResult(20_000, 2, 0.0705, 283_687.9, np.asarray(preds), walls=walls)


SPREAD = limit([], walls=(0.08, 0.0705, 0.072))  # slowest / fastest - 1 = 13%


CASES = {
    "env_all_ok": (
        env.environment_findings,
        (pd.DataFrame({"item": ["java", "pyspark"], "ok": [True, True]}),),
        ["all_ok"],
        ["All checks passed."],
    ),
    "env_fix_first": (
        env.environment_findings,
        (pd.DataFrame({"item": ["java", "pyspark", "jars"], "ok": [False, True, False]}),),
        ["fix_first"],
        ["Fix first: java, jars (see the message column)."],
    ),
    "limit_identical": (
        timing.limit_findings,
        (limit([0.5, 1.5]), np.array([0.5, 1.5])),
        ["limit"],
        [
            "**283,688 rows/s** with 2 processes on 20,000 rows (median of 1 round: 283,688 "
            "rows/s); its predictions are bit-identical to the single-process reference.",
        ],
    ),
    "limit_spread_different": (
        timing.limit_findings,
        (limit([0.5, 1.5], walls=(0.08, 0.0705, 0.072)), np.array([0.5, 1.5 + 1e-12])),
        ["limit"],
        [
            "**283,688 rows/s** with 2 processes on 20,000 rows (median of 3 rounds: "
            "250,000-283,688 rows/s); its predictions are NOT equal to the single-process "
            "reference.",
        ],
    ),
    "bench_agree_lead": (
        timing.bench_findings,
        (bench([0.0, 2e-16, 0.0], [0.13, 0.0476, 0.09]), SPREAD),
        ["ranked", "parity"],
        [
            "`p0` came closest to the physical limit: **0.13** of it, 44% ahead of `p2`: more "
            "than the limit's own spread (13% over 3 rounds).",
            "0 of 3 paths differ from the reference by more than 1e-09 (largest difference "
            "2.0e-16).",
        ],
    ),
    "bench_disagree_tie": (
        timing.bench_findings,
        (bench([0.0, 0.25, 1e-3], [0.1, 0.29, 0.3]), SPREAD),
        ["ranked", "parity"],
        [
            "`p2` came closest to the physical limit: **0.30** of it, 3% ahead of `p1`: no clear "
            "winner, inside the limit's own spread (13% over 3 rounds).",
            "2 of 3 paths differ from the reference by more than 1e-09: `p1`, `p2` "
            "(largest difference 2.5e-01).",
        ],
    ),
    "bench_unchecked_one_round": (
        timing.bench_findings,
        (bench([None, None], [0.5, 0.25]), limit([])),
        ["unranked"],
        [
            "No ranking in this run: `p0` measured **0.50** of the physical limit, with no spread "
            "of the limit measured; rerun.",
        ],
    ),
    "bench_one_path": (
        timing.bench_findings,
        (bench([0.0], [0.5]), SPREAD),
        ["unranked", "parity"],
        [
            "No ranking in this run: `p0` measured **0.50** of the physical limit, the only path "
            "timed; rerun.",
            None,
        ],
    ),
    "bench_above_the_limit_is_noise": (
        timing.bench_findings,
        (bench([0.0, 0.0], [1.31, 0.5]), SPREAD),
        ["unranked", "parity"],
        [
            "No ranking in this run: `p0` measured **1.31** of the physical limit, above 1.0, "
            "which no Spark path can reach: the limit's rounds were disturbed; rerun.",
            None,
        ],
    ),
    "bench_best_reads_its_own_rows": (
        timing.bench_findings,
        (
            bench([0.0, 0.0, 0.0], [0.91, 0.86, 0.5]).assign(
                name=["physical_limit", "map_in_arrow_files", "map_in_arrow_rowmajor", "x"]
            ),
        ),
        ["unranked", "parity", "best_via_jvm"],
        [
            None,
            None,
            "`map_in_arrow_files` reads its own rows (no feature crosses the JVM); of the paths "
            "Spark feeds, `map_in_arrow_rowmajor` came closest (0.86).",
        ],
    ),
    "bench_cpu_above_its_ceiling": (
        timing.bench_findings,
        (
            bench([0.0], [0.80]).assign(
                jvm_cpu_s=[0.0, 0.43], python_cpu_s=[1.0, 1.32], cpu_ceiling=[1.0, 1.0 / 1.75]
            ),
        ),
        ["unranked", "parity", "cpu"],
        [
            None,
            None,
            "`p0` burned 1.75 core-seconds per run, prediction alone 1.00, so its CPU allows at "
            "most 0.57; it reached 0.80: the limit was disturbed, rerun.",
        ],
    ),
    "bench_cpu": (
        timing.bench_findings,
        (
            bench([0.0, 0.0], [0.86, 0.5]).assign(
                jvm_cpu_s=[0.0, 0.37, 0.9],
                python_cpu_s=[4.4, 4.62, 4.8],
                cpu_ceiling=[1.0, 4.4 / 4.99, 4.4 / 5.7],
            ),
        ),
        ["unranked", "parity", "cpu"],
        [
            None,
            None,
            "`p0` burned 4.99 core-seconds per run, prediction alone 4.40, so its CPU allows at "
            "most 0.88; it reached 0.86.",
        ],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_findings_branch(case):
    fn, args, expected_keys, texts = CASES[case]
    found = fn(*args)
    assert keys(found) == expected_keys
    for f, text in zip(found, texts):
        if text is not None:
            assert f.text() == text


def test_every_template_is_exercised():
    seen = {k for _, _, ks, _ in CASES.values() for k in ks}
    tables = env.ENVIRONMENT_FINDINGS, timing.LIMIT_FINDINGS, timing.BENCH_FINDINGS
    assert seen == {k for t in tables for k in t}
    assert {f.key for f in _change_cases()} == set(timing.CHANGE_FINDINGS) | {"parity"}


def test_bench_findings_read_the_numbers_not_the_row_order():
    t = bench([0.0, 0.0, 0.0], [0.02, 0.4, 0.1]).iloc[::-1]
    top = timing.bench_findings(t, SPREAD)[0]
    assert top.values["best"] == "p1" and top.values["second"] == "p2"


def test_a_what_you_saw_has_a_takeaway_and_at_most_three_bullets():
    t = bench([0.0, 0.0, 0.0], [0.91, 0.86, 0.5]).assign(
        name=["physical_limit", "map_in_arrow_files", "p1", "p2"],
        jvm_cpu_s=[0.0, 0.3, 0.3, 0.3], python_cpu_s=[1.0, 1.0, 1.0, 1.0],
        cpu_ceiling=[1.0, 0.8, 0.8, 0.8],
    )  # fmt: skip
    assert len(timing.bench_findings(t, SPREAD)) <= 3
    assert timing.bench_findings(bench([None, None], [0.5, 0.25]), SPREAD)  # parity off: not blank


def test_limit_spread():
    assert limit([]).spread is None
    assert SPREAD.spread == pytest.approx(0.08 / 0.0705 - 1)


def test_findings_bullets_stay_short():
    """A "What you saw" bullet is at most about 25 words (the takeaway may carry its numbers)."""
    for fn, args, _, _ in CASES.values():
        for f in fn(*args)[1:]:
            assert len(f.text().split()) <= 28, f.text()


def test_cpu_spent_counts_differences_newcomers_and_roles():
    before = {1: ("jvm", 10.0), 2: ("daemon", 1.0), 3: ("python_worker", 5.0), 9: ("other", 1.0)}
    after = {1: ("jvm", 10.5), 2: ("daemon", 1.0), 3: ("python_worker", 7.0),
             4: ("python_worker", 0.25), 9: ("other", 3.0)}  # fmt: skip
    assert timing.cpu_spent(before, after) == {"jvm": 0.5, "python": 2.25}


def test_tree_cpu_snapshot_sees_a_root_and_its_children():
    import os
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        snap = timing.tree_cpu_snapshot([os.getpid(), 2**22 + 7])  # the second PID: no such process
        assert snap[os.getpid()][0] == "python" and snap[child.pid][0] == "python"
        assert all(cpu >= 0 for _, cpu in snap.values())
        spent = timing.cpu_spent(snap, {**snap, os.getpid(): ("python", snap[os.getpid()][1] + 1)})
        assert spent == {"jvm": 0.0, "python": pytest.approx(1.0)}
    finally:
        child.kill()
        child.wait()


def test_cpu_ceiling_is_prediction_cpu_over_all_cpu():
    assert timing.cpu_ceiling(4.0, 1.0, 4.0) == pytest.approx(0.8)
    assert timing.cpu_ceiling(None, 1.0, 4.0) is None
    assert timing.cpu_ceiling(4.0, None, 4.0) is None
    assert timing.cpu_ceiling(4.0, 0.0, 0.0) is None


def test_the_limit_row_heads_the_bench_table_with_its_prediction_cpu():
    lim = timing.LimitResult(100, 2, 0.5, 200.0, np.zeros(100), cpu_s=0.98)
    row = timing.limit_row(lim)
    assert row["python_cpu_s"] == 0.98 and row["jvm_cpu_s"] == 0.0 and row["cpu_ceiling"] == 1.0
    rec = timing.BenchRecord("p", 100, 10, 1.0, 100.0, 0.5, 0.0, "3.5.9")
    top = timing.bench_table(lim, [rec]).iloc[0].to_dict()
    assert top.keys() == row.keys() and pd.isna(top.pop("batch_size"))  # None -> NaN in pandas
    assert top == {k: v for k, v in row.items() if k != "batch_size"}
    assert timing.limit_row(limit([0.5]))["cpu_ceiling"] is None  # no CPU measured: no ceiling


def _rec(name, walls, diff=0.0):
    w = sorted(walls)[(len(walls) - 1) // 2]
    return timing.BenchRecord(name, 1000, 10, w, 1000 / w, None, diff, "3.5.9", len(walls),
                              walls=tuple(walls))  # fmt: skip


def _change_cases():
    orig = _rec("orig", [1.0, 1.02, 1.01])
    return [
        f
        for walls in ([1.3, 1.32, 1.31], [0.5, 0.52, 0.51], [0.98, 1.05, 1.0])
        for f in timing.change_findings([_rec("mine", walls), orig], "mine", "orig")
    ]


def test_change_findings_name_a_direction_only_outside_every_pair_of_runs():
    orig = _rec("orig", [1.0, 1.02, 1.01])
    slow = timing.change_findings([_rec("mine", [1.3, 1.32, 1.31]), orig], "mine", "orig")
    assert [f.key for f in slow] == ["change", "parity"]
    assert slow[0].values["ratio"] == pytest.approx(1.01 / 1.31)
    assert slow[0].values["hi"] < 1.0
    assert slow[0].values["verdict"] == f"the edit costs {1 - 1.01 / 1.31:.0%}"
    assert slow[1].values["n_bad"] == 0
    fast = timing.change_findings([_rec("mine", [0.5, 0.52, 0.51]), orig], "mine", "orig")
    assert fast[0].values["verdict"] == f"the edit gains {1.01 / 0.51 - 1:.0%}"
    same = timing.change_findings([_rec("mine", [0.98, 1.05, 1.0], 1e-3), orig], "mine", "orig")
    assert [f.key for f in same] == ["change", "parity"]
    assert same[0].values["lo"] < 1.0 < same[0].values["hi"]
    assert "no measurable difference" in same[0].text()
    assert same[1].values["n_bad"] == 1 and "`mine`" in same[1].text()
    with pytest.raises(timing.LabError, match="No bench record named 'nope'"):
        timing.change_findings([orig], "nope", "orig")

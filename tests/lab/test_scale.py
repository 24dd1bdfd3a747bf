"""The scale model's math on synthetic runs with known coefficients (no Spark, no timings)."""

import numpy as np
import pandas as pd
import pytest

from helpers import exercises
from helpers.core.config import LabError
from helpers.lab import scale

TRUE = dict(fixed_s=0.8, per_task_s=0.05, per_batch_s=0.002, per_row_s=4e-6)


def synthetic(noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for n in (50_000, 100_000, 200_000):
        for b in (1_000, 10_000):
            for p in (2, 8):
                rows.append({"rows": n, "partitions": p, "batch_size": b, "slots": 2})
    df = pd.DataFrame(rows)
    X = scale.design(df.rows, df.partitions, df.batch_size, df.slots)
    y = X @ np.array([TRUE[c] for c in scale.COEFFICIENTS])
    df["wall_s"] = y * (1 + noise * rng.standard_normal(len(y)))
    df["peak_worker_rss"] = 200e6 + 3.0 * df.batch_size * scale.ROW_BYTES
    return df


def test_design_counts_waves_batches_and_rows_of_the_slowest_slot():
    X = scale.design(1000, 3, 100, 2)
    # 3 tasks on 2 slots: 2 waves; 333.3 rows per task, 4 batches per task
    assert X.tolist() == [[1.0, 2.0, 8.0, pytest.approx(2000 / 3)]]


def test_fit_recovers_known_coefficients_exactly():
    fit = scale.fit_cost(synthetic())
    for c in scale.COEFFICIENTS:
        assert getattr(fit, c) == pytest.approx(TRUE[c], rel=1e-6)
    assert fit.rms_rel_error < 1e-9 and fit.runs == 12


def test_fit_with_noise_extrapolates_tenfold():
    fit = scale.fit_cost(synthetic(noise=0.02))
    truth = scale.design(2_000_000, 8, 10_000, 2) @ np.array(list(TRUE.values()))
    assert abs(scale.relative_error(fit.predict(2_000_000, 8, 10_000, 2)[0], truth[0])) < 0.05


def test_coefficients_are_never_negative():
    df = synthetic()
    df["wall_s"] = 1.0 + 0.0 * df.rows  # flat: only the fixed cost explains it
    fit = scale.fit_cost(df)
    assert min(fit.coefficients) >= 0 and fit.fixed_s == pytest.approx(1.0)


def test_fit_refuses_too_few_runs_or_bad_times():
    with pytest.raises(LabError, match="at least 4 grid points"):
        scale.fit_cost(synthetic().head(3))
    bad = synthetic()
    bad.loc[0, "wall_s"] = 0
    with pytest.raises(LabError, match="positive wall time"):
        scale.fit_cost(bad)


def test_repeats_fit_their_fastest_run():
    clean = synthetic()
    slow = clean.assign(wall_s=clean.wall_s * 1.5)  # a repeat disturbed by the machine
    fit = scale.fit_cost(pd.concat([slow, clean, slow], ignore_index=True))
    for c in scale.COEFFICIENTS:
        assert getattr(fit, c) == pytest.approx(TRUE[c], rel=1e-6)
    assert fit.runs == 12


def test_cpu_per_row_is_the_slope_of_each_process_kind():
    df = synthetic()
    df["jvm_cpu_s"] = 1.5 + 1.2e-6 * df.rows
    df["python_cpu_s"] = 0.3 + 0.01 * df.partitions + 4.7e-6 * df.rows
    fit = scale.fit_cost(df)
    assert fit.cpu_row_jvm_s == pytest.approx(1.2e-6, rel=1e-6)
    assert fit.cpu_row_python_s == pytest.approx(4.7e-6, rel=1e-6)
    assert scale.fit_cost(synthetic()).cpu_row_jvm_s is None  # not measured: not invented
    df.loc[0, "jvm_cpu_s"] = None
    assert scale.fit_cost(df).record()["cpu_row_python_s"] is None


def test_findings_state_the_cpu_beside_the_fit_and_each_check():
    df = synthetic()
    df["jvm_cpu_s"] = 1.0 + 1e-6 * df.rows
    df["python_cpu_s"] = 0.5 + 4e-6 * df.rows
    fit = scale.fit_cost(df)
    check = {"check": "10x", "predicted_s": 9.0, "measured_s": 10.0, "error": -0.1}
    found = scale.scale_findings(fit, [check])
    assert [f.key for f in found] == ["fit", "fit_cpu", "validate_ok"]
    assert "1.00 µs in the JVM" in found[1].text() and "5.00 µs in all" in found[1].text()
    assert [f.key for f in scale.fit_findings(scale.fit_cost(synthetic()))] == ["fit"]
    bad = scale.check_findings([{**check, "measured_s": 12.0, "error": -0.25}])
    assert [f.key for f in bad] == ["validate_bad"]


def test_cpu_comparison_of_two_checks():
    base = {"check": "10x", "jvm_cpu_s": 6.0, "python_cpu_s": 20.0}
    other = {"check": "cluster", "jvm_cpu_s": 8.0, "python_cpu_s": 20.6}
    (f,) = scale.cpu_comparison(base, other)
    assert f.key == "check_cpu" and f.values["ratio"] == pytest.approx(28.6 / 26.0)
    assert scale.cpu_comparison(base, {**other, "jvm_cpu_s": None}) == []


def test_input_splits_one_task_per_partition(tmp_path, monkeypatch):
    from helpers.model import data

    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    path, confs = scale.input_splits(6_400, 4)
    import pyarrow.parquet as pq

    assert pq.ParquetFile(path).num_row_groups == scale.INPUT_ROW_GROUPS
    assert confs["spark.sql.files.minPartitionNum"] == 4
    size = path.stat().st_size
    assert 4 * confs["spark.sql.files.maxPartitionBytes"] >= size
    assert 3 * confs["spark.sql.files.maxPartitionBytes"] < size


def test_memory_fit_recovers_slope():
    m = scale.fit_memory(synthetic())
    assert m.base_bytes == pytest.approx(200e6, rel=1e-6)
    assert m.per_batch_byte == pytest.approx(3.0, rel=1e-6)
    assert scale.fit_memory(synthetic().drop(columns="peak_worker_rss")) is None


def test_require_sizes():
    assert scale.require_sizes([3, 1, 2], 30) == [1, 2, 3]
    with pytest.raises(LabError, match="at least 3"):
        scale.require_sizes([1, 2])
    with pytest.raises(LabError, match="must be above"):
        scale.require_sizes([1, 2, 3], 3)


def test_recommend_batch_keeps_batch_overhead_small():
    fit = scale.fit_cost(synthetic())
    b = scale.recommend_batch(fit)
    assert fit.per_batch_s <= scale.BATCH_OVERHEAD_SHARE * b * fit.per_row_s
    smaller = [c for c in scale.BATCH_CANDIDATES if c < b]
    assert all(fit.per_batch_s > scale.BATCH_OVERHEAD_SHARE * c * fit.per_row_s for c in smaller)


def test_size_job_six_billion_rows():
    df = synthetic()
    fit, mem = scale.fit_cost(df), scale.fit_memory(df)
    s = scale.size_job(
        fit, 6_000_000_000, executors=50, cores=4, memory="8g", memory_fit=mem, uncertainty=0.1
    )
    slots = 200
    assert s.partitions % slots == 0 and s.partitions * scale.SPLIT_BYTES >= 6e9 * scale.ROW_BYTES
    assert s.wall_s == pytest.approx(fit.predict(6e9, s.partitions, s.batch_size, slots)[0])
    assert s.wall_low_s == pytest.approx(0.9 * s.wall_s) and s.wall_high_s == pytest.approx(
        1.1 * s.wall_s
    )
    assert s.core_hours == pytest.approx(s.wall_s * slots / 3600)
    # pyspark memory is per executor; Spark divides it by the executor's cores per worker
    assert s.pyspark_memory_mib * 2**20 / 4 >= mem.worker_bytes(s.batch_size) * scale.HEADROOM
    assert s.conf["spark.executor.pyspark.memory"] == f"{s.pyspark_memory_mib}m"
    assert s.overhead_mib >= 819  # 10% of 8g, at least 384m, plus Arrow buffers


def test_conf_block_adds_byte_cap_only_on_spark4():
    s = scale.size_job(scale.fit_cost(synthetic()), 10**9, 10, 2, "4g", batch_size=10_000)
    assert "maxBytesPerBatch" not in scale.conf_block(s, "3.5.9")
    assert "maxBytesPerBatch" in scale.conf_block(s, "4.1.3")
    assert "--conf spark.sql.execution.arrow.maxRecordsPerBatch=10000" in scale.conf_block(s)


def test_findings_take_the_right_branch():
    fit = scale.fit_cost(synthetic())
    checks = [
        {"check": "10x", "predicted_s": 1.0, "measured_s": 1.1, "error": -0.09},
        {"check": "cluster", "predicted_s": 1.0, "measured_s": 2.0, "error": -0.5},
    ]
    s = scale.size_job(fit, 10**9, 10, 2, "4g")
    keys = [f.key for f in scale.scale_findings(fit, checks, s)]
    assert keys == ["fit", "validate_ok", "validate_bad", "sizing", "no_memory"]
    mem = scale.fit_memory(synthetic())
    s = scale.size_job(fit, 10**9, 10, 2, "4g", memory_fit=mem)
    assert scale.scale_findings(fit, [], s, mem)[-1].key == "memory"


def test_exercise_checkers_of_notebook_09():
    df = synthetic()
    fit, mem = scale.fit_cost(df), scale.fit_memory(df)
    truth = fit.predict(1_000_000, 8, 5_000, 2)[0]
    assert exercises.check_wall_by_hand(truth, fit, 1_000_000, 8, 5_000, 2).startswith("Correct")
    assert exercises.check_wall_by_hand(truth * 2, fit, 1_000_000, 8, 5_000, 2).startswith("Not")
    s = scale.size_job(fit, 6_000_000_000, 50, 4, "8g", memory_fit=mem)
    mib = s.worker_bytes * scale.HEADROOM * 4 / 2**20
    assert exercises.check_pyspark_memory(mib, s).startswith("Correct")
    assert exercises.check_pyspark_memory(mib / 4, s).startswith("Almost")
    assert exercises.check_pyspark_memory(1, s).startswith("Not")
    with pytest.raises(LabError, match="no measured worker memory"):
        exercises.check_pyspark_memory(1, scale.size_job(fit, 10**9, 10, 2, "4g"))

"""The scale model's math on synthetic runs with known coefficients (no Spark, no timings)."""

import math

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
    df[scale.MEMORY_COLUMN] = 200e6 + 3.0 * df.batch_size * scale.ROW_BYTES
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
    found = scale.fit_findings(fit)
    assert [f.key for f in found] == ["fit", "fit_cpu"]
    assert found[1].values["jvm_us"] == pytest.approx(1.0) and found[1].values["py_us"] == (
        pytest.approx(4.0)
    )
    assert [f.key for f in scale.fit_findings(scale.fit_cost(synthetic()))] == ["fit"]


def test_check_findings_sign_the_error_in_words():
    slow = {"check": "10x", "predicted_s": 10.0, "measured_s": 11.0, "error": 0.1}
    (f,) = scale.check_findings([{**slow, "load_average": 1.25}])
    assert f.key == "validate_ok" and f.values["direction"] == "slower than predicted"
    assert f.values["pct"] == pytest.approx(0.1) and f.values["load"] == "1.2"
    fast = {**slow, "measured_s": 7.0, "error": -0.3}
    (f,) = scale.check_findings([fast])
    assert f.key == "validate_bad" and f.values["direction"] == "faster than predicted"
    assert f.values["load"] == "not measured" and f.values["measured"] == "7.0 s"


def test_cpu_comparison_of_two_checks():
    base = {"check": "10x", "jvm_cpu_s": 6.0, "python_cpu_s": 20.0}
    other = {"check": "cluster", "jvm_cpu_s": 8.0, "python_cpu_s": 20.6}
    (f,) = scale.cpu_comparison(base, other)
    assert f.key == "check_cpu" and f.values["ratio"] == pytest.approx(28.6 / 26.0)
    assert scale.cpu_comparison(base, {**other, "jvm_cpu_s": None}) == []
    (same,) = scale.cpu_comparison(base, {**other, "jvm_cpu_s": 6.5})  # 1.02x: the same work
    assert same.key == "check_cpu_same" and "waiting, not work" in same.text()


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


def test_memory_fit_recovers_slope_of_the_address_space():
    m = scale.fit_memory(synthetic())
    assert m.base_bytes == pytest.approx(200e6, rel=1e-6)
    assert m.per_batch_byte == pytest.approx(3.0, rel=1e-6)
    assert scale.fit_memory(synthetic().drop(columns=scale.MEMORY_COLUMN)) is None
    assert scale.MEMORY_COLUMN == "peak_worker_vms"  # address space (RLIMIT_AS), not RSS


def test_require_sizes():
    assert scale.require_sizes([3, 1, 2], 30) == [1, 2, 3]
    with pytest.raises(LabError, match="at least 3"):
        scale.require_sizes([1, 2])
    with pytest.raises(LabError, match="must be above"):
        scale.require_sizes([1, 2, 3], 3)


def test_recommend_batch_keeps_batch_overhead_small():
    fit = scale.fit_cost(synthetic())
    b = scale.recommend_batch(fit)
    assert fit.per_batch_s <= 0.02 * b * fit.per_row_s
    smaller = [c for c in scale.BATCH_CANDIDATES if c < b]
    assert all(fit.per_batch_s > 0.02 * c * fit.per_row_s for c in smaller)


def test_relative_error_is_measured_minus_predicted_over_predicted():
    assert scale.relative_error(10.0, 12.0) == pytest.approx(0.2)
    assert scale.relative_error(10.0, 8.0) == pytest.approx(-0.2)
    assert scale.direction(0.2) == "slower than predicted"
    assert scale.direction(-0.2) == "faster than predicted"
    with pytest.raises(LabError, match="positive"):
        scale.relative_error(0.0, 1.0)


@pytest.mark.parametrize(
    "seconds,text",
    [(3.2, "3.2 s"), (42, "42 s"), (210, "3.5 min"), (5399, "90.0 min"), (7560, "2.1 h")],
)
def test_human_time(seconds, text):
    assert scale.human_time(seconds) == text


def test_spark_tasks_split_files_like_spark():
    GiB, MiB = 2**30, 2**20
    # one 1 GiB file: maxSplitBytes = min(128 MiB, max(4 MiB, (1 GiB + 4 MiB) / 2)) = 128 MiB
    assert scale.max_split_bytes([GiB], 2) == 128 * MiB
    assert scale.spark_tasks([GiB], 2) == 8
    # ten 1 MiB files on 2 slots: split (10 x 5 MiB) / 2 = 25 MiB; 5 files (+4 MiB open cost
    # each) fill one task, so 2 tasks
    assert scale.max_split_bytes([MiB] * 10, 2) == 25 * MiB
    assert scale.spark_tasks([MiB] * 10, 2) == 2
    # many slots: the split shrinks to total / slots, never below the open cost
    assert scale.max_split_bytes([GiB], 1000) == 4 * MiB
    assert scale.spark_tasks([MiB], 1) == 1
    with pytest.raises(LabError, match="non-empty file"):
        scale.spark_tasks([], 2)
    assert scale.job_files(2.5 * GiB) == [GiB, GiB, GiB // 2]


def test_overhead_factor_per_cluster_manager():
    GiB = 2**30
    assert scale.overhead_bytes(8 * GiB, "yarn") == int(0.1 * 8 * GiB)
    assert scale.overhead_bytes(8 * GiB, "kubernetes") == int(0.4 * 8 * GiB)
    assert scale.overhead_bytes(2 * GiB, "standalone") == 384 * 2**20  # the 384 MiB floor
    with pytest.raises(LabError, match="Unknown cluster manager"):
        scale.overhead_bytes(GiB, "mesos")


def test_sizing_arithmetic_values():
    a = scale.sizing_arithmetic(
        6_000_000_000, 50, 4, "8g", 10_000, disk_row_bytes=100, worker_bytes=460 * 2**20
    )
    assert a["input_bytes"] == 6e11 and a["slots"] == 200
    # 558 files of 1 GiB (8 splits of 128 MiB each) and one of 812.6 MiB (6 + 1 splits)
    assert a["tasks"] == 558 * 8 + 7 and a["waves"] == 23
    arrow = 2 * 10_000 * scale.ROW_BYTES * 4
    assert a["overhead_mib"] == math.ceil((int(0.1 * 8 * 2**30) + arrow) / 2**20) == 830
    assert a["pyspark_mib_per_slot"] == 690 and a["pyspark_mib"] == 2760  # 460 MiB x 1.5, x 4
    k8s = scale.sizing_arithmetic(10**9, 10, 4, "8g", 10_000, 100, manager="kubernetes")
    assert k8s["overhead_mib"] == math.ceil((int(0.4 * 8 * 2**30) + arrow) / 2**20)
    assert k8s["pyspark_mib"] is None
    with pytest.raises(LabError, match="on disk must be positive"):
        scale.sizing_arithmetic(10, 1, 1, "1g", 10, 0)


def test_size_job_six_billion_rows():
    df = synthetic()
    fit, mem = scale.fit_cost(df), scale.fit_memory(df)
    s = scale.size_job(
        fit, 6_000_000_000, 50, 4, "8g", 10_000, mem, uncertainty=0.1, disk_row_bytes=100
    )
    slots = 200
    assert s.partitions == 558 * 8 + 7 and s.input_bytes == 6e11
    assert s.wall_s == pytest.approx(fit.predict(6e9, s.partitions, 10_000, slots)[0])
    assert s.wall_low_s == pytest.approx(0.9 * s.wall_s)
    assert s.wall_high_s == pytest.approx(1.1 * s.wall_s)
    assert s.core_hours == pytest.approx(s.wall_s * slots / 3600)
    # per task slot: one worker's address space x HEADROOM; Spark divides the setting by cores
    per_slot = math.ceil(mem.worker_bytes(10_000) * scale.HEADROOM / 2**20)
    assert s.pyspark_memory_mib == 4 * per_slot
    assert s.conf["spark.executor.pyspark.memory"] == f"{4 * per_slot}m"
    assert s.conf["spark.sql.execution.arrow.maxRecordsPerBatch"] == "10000"


def test_conf_block_adds_byte_cap_only_on_spark4():
    s = scale.size_job(scale.fit_cost(synthetic()), 10**9, 10, 2, "4g", batch_size=10_000)
    assert "maxBytesPerBatch" not in scale.conf_block(s, "3.5.9")
    assert "maxBytesPerBatch" in scale.conf_block(s, "4.1.3")
    assert "--conf spark.sql.execution.arrow.maxRecordsPerBatch=10000" in scale.conf_block(s)


def test_refusal_branches():
    good = scale.fit_cost(synthetic())
    ok = {"check": "10x larger run", "predicted_s": 10.0, "measured_s": 11.0, "error": 0.1}
    assert scale.refusal(good, [ok]) is None
    zero = scale.CostFit(1.0, 0.0, 0.0, 1e-6, rel_residuals=(0.01,))
    assert zero.zero_terms == ["per-task", "per-batch"]
    assert "per-task and per-batch cost at 0 s" in scale.refusal(zero)
    rough = scale.CostFit(1.0, 0.1, 0.001, 1e-6, rel_residuals=(0.3, -0.3))
    assert "30% RMS" in scale.refusal(rough)
    bad = {**ok, "measured_s": 7.0, "error": -0.3}
    line = scale.refusal(good, [bad])
    assert "30% faster than predicted" in line and "misses something" in line
    noisy = scale.CostFit(*good.coefficients, rel_residuals=(0.01,), repeat_spread=0.2)
    assert "machine was busy (repeats differ by 20%" in scale.refusal(noisy, [bad])
    assert "load average 5.0" in scale.refusal(good, [bad], load=5.0, cores=2)
    assert "\n" not in line
    # a check elsewhere than the fit's home (which passed): the place, and the CPU it burned more
    home = {**ok, "where": "local[2]", "jvm_cpu_s": 10.0, "python_cpu_s": 30.0}
    away = {**home, "where": "standalone 2x1", "check": "local[2] model on the cluster",
            "error": 0.24, "jvm_cpu_s": 12.0, "python_cpu_s": 32.8}  # fmt: skip
    line = scale.refusal(noisy, [home, away], load=5.0, cores=2)
    assert "24% slower than predicted" in line
    assert "fitted on local[2], not on standalone 2x1" in line
    assert "burned 1.12x the CPU" in line and "--cluster N" in line and "busy" not in line
    line = scale.refusal(noisy, [home, {**away, "spread": 0.127}])
    assert line.endswith("that run's repeats also differ by 13%.")


def test_paste_block_or_one_line_why_not():
    s = scale.size_job(scale.fit_cost(synthetic()), 10**9, 10, 2, "4g", batch_size=10_000)
    assert scale.paste_block(s, None, "3.5.9").startswith("spark-submit \\\n  --conf")
    refused = scale.paste_block(s, "the fit put the per-batch cost at 0 s")
    assert refused == "# No configuration block: the fit put the per-batch cost at 0 s"


def test_repeat_spread_of_grid_points():
    clean = synthetic()
    assert scale.repeat_spread(clean) is None
    both = pd.concat([clean, clean.assign(wall_s=clean.wall_s * 1.2)], ignore_index=True)
    assert scale.repeat_spread(both) == pytest.approx(0.2)
    assert scale.fit_cost(both).repeat_spread == pytest.approx(0.2)


def test_study_size_uses_zone_batch_and_disk_bytes():
    df = synthetic().assign(input_bytes=lambda d: d.rows * 90)
    study = scale.ScaleStudy(
        "map_in_arrow", "3.5.9", "local[2]", df, scale.fit_cost(df), scale.fit_memory(df), [],
        batch_size=5_000,
    )  # fmt: skip
    assert study.disk_row_bytes == 90
    s = study.size(10**9, 10, 4, "8g")
    assert s.batch_size == 5_000 and s.input_bytes == 9e10
    assert study.size(10**9, 10, 4, "8g", batch_size=2_000).batch_size == 2_000
    assert study.refusal() is None


def test_findings_take_the_right_branch():
    df = synthetic()
    fit, mem = scale.fit_cost(df), scale.fit_memory(df)
    s = scale.size_job(fit, 10**9, 10, 2, "4g")
    assert [f.key for f in scale.sizing_findings(s)] == ["sizing", "no_memory"]
    s = scale.size_job(fit, 6 * 10**9, 50, 4, "8g", memory_fit=mem)
    (sized, memory) = scale.sizing_findings(s)
    assert memory.key == "memory" and memory.values["pyspark_mib"] == s.pyspark_memory_mib
    assert sized.values["wall"] == scale.human_time(s.wall_s) and sized.values["tasks"] > 0
    assert [f.key for f in scale.verdict_findings(None)] == ["usable"]
    (f,) = scale.verdict_findings("a reason")
    assert f.key == "refused" and f.values["reason"] == "a reason"
    study = scale.ScaleStudy("map_in_arrow", "3.5.9", "local[2]", df, fit, mem, [])
    assert [f.key for f in scale.study_findings(study)] == ["fit", "usable"]


def test_limit_findings():
    ok = {"setting": "2760m", "cores": 4, "per_worker_mib": 690, "rows": 200_000, "ok": True}
    bad = {"setting": "1001m", "cores": 4, "per_worker_mib": 250, "rows": None, "ok": False,
           "error": "MemoryError in a Python worker: ..."}  # fmt: skip
    found = scale.limit_findings([ok, bad])
    assert [f.key for f in found] == ["limit_ok", "limit_failed"]
    assert "ran** in local[2]" in found[0].text()  # a run without `where` was a local session
    on_cluster = {**ok, "cores": 1, "where": "a standalone 2x1 cluster"}
    assert "in a standalone 2x1 cluster" in scale.limit_findings([on_cluster])[0].text()
    assert scale.limit_findings([bad])[0].values["error"].startswith("MemoryError")
    # a smaller setting that ran is not "the sized setting": the measurement was an upper bound
    half = {**ok, "setting": "1380m", "per_worker_mib": 345}
    found = scale.limit_findings([ok, half])
    assert [f.key for f in found] == ["limit_ok", "limit_ok_below"]
    assert found[1].values["share"] == 0.5 and "sized setting" not in found[1].text()


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


def _score(batches):  # a mapInPandas function whose worker imports LightGBM (module level: pickled)
    import lightgbm  # noqa: F401

    for pdf in batches:
        yield pdf.assign(score=pdf.id * 0.5)


@pytest.mark.spark
def test_pyspark_memory_is_an_address_space_limit_per_core():
    """1000 MiB of address space per worker runs a worker that imports LightGBM; 250 MiB fails
    with a MemoryError, turned into one line (the setting divided by spark.executor.cores). A
    worker that stalls instead is cancelled after 60 s (the notebook waits 300 s)."""
    ok, low = scale.memory_limit_runs(
        _score, "id long, score double", ["4000m", "1000m"], 4, rows=20_000,
        progress=lambda e: None, timeout_s=60,
    )  # fmt: skip
    assert ok["ok"] and ok["rows"] == 20_000 and ok["per_worker_mib"] == 1000
    assert not low["ok"] and low["per_worker_mib"] == 250
    assert (  # the cause named, or a worker that stalled until the run's timeout
        "in a Python worker: 250 MiB of address space" in low["error"]
        or "stalled at 250 MiB of address space" in low["error"]
    ), low["error"]
    assert "\n" not in low["error"]


def test_limit_error_names_the_cause_in_one_line():
    tail = "in a Python worker: 250 MiB of address space (RLIMIT_AS = 1001m / 4 cores)"
    assert scale.limit_error("x\nMemoryError\n", "PythonException", "1001m", 4).startswith(
        "MemoryError " + tail
    )
    crash = "An error occurred\nPython worker exited unexpectedly (crashed)"
    assert scale.limit_error(crash, "Py4JJavaError", "1001m", 4).startswith("A crash " + tail)
    reset = "An error occurred\n: ... (TID 1): java.net.SocketException: Connection reset\n\tat"
    assert scale.limit_error(reset, "Py4JJavaError", "1001m", 4).startswith("A crash " + tail)
    mmap = "ImportError: libgomp.so.1: failed to map segment from shared object"
    assert scale.limit_error(mmap, "PythonException", "1001m", 4).startswith(
        "An allocation failure " + tail
    )
    assert scale.limit_error("boom\nmore", "ValueError", "1001m", 4) == "ValueError: boom"


def place_runs(factor: float, fixed_s: float, sizes=(25_000, 200_000, 400_000)) -> pd.DataFrame:
    """Runs at one place that does the work `factor` x slower, with its own fixed cost."""
    df = pd.DataFrame(
        [{"rows": n, "partitions": 4, "batch_size": 10_000, "slots": 2} for n in sizes]
    )
    X = scale.design(df.rows, df.partitions, df.batch_size, df.slots)
    work = X[:, 2] * TRUE["per_batch_s"] + X[:, 3] * TRUE["per_row_s"]
    df["wall_s"] = fixed_s + X[:, 1] * TRUE["per_task_s"] + factor * work
    return df


def test_recalibrate_keeps_the_local_work_and_fits_the_place_fixed_cost():
    home = scale.fit_cost(synthetic())
    there = scale.recalibrate(home, place_runs(1.0, 2.0))
    assert there.fixed_s == pytest.approx(2.0, rel=1e-6) and there.runs == 3
    assert (there.per_task_s, there.per_batch_s, there.per_row_s) == (
        home.per_task_s, home.per_batch_s, home.per_row_s)  # fmt: skip
    assert there.rms_rel_error < 1e-9
    # 10x beyond the place's runs its prediction holds; the home model misses the fixed cost
    X = scale.design(4_000_000, 4, 10_000, 2)[0]
    work = X[2] * TRUE["per_batch_s"] + X[3] * TRUE["per_row_s"]
    truth = 2.0 + X[1] * TRUE["per_task_s"] + work
    assert abs(scale.relative_error(there.predict(4_000_000, 4, 10_000, 2)[0], truth)) < 1e-6
    assert scale.relative_error(home.predict(4_000_000, 4, 10_000, 2)[0], truth) > 0.05
    # a place that does the work slower shows in the residuals, and the fixed cost never goes < 0
    slower = scale.recalibrate(home, place_runs(1.3, 0.0))
    assert slower.rms_rel_error > 0.05 and slower.fixed_s >= 0


def test_recalibrate_needs_a_run():
    with pytest.raises(LabError, match="at least one run"):
        scale.recalibrate(scale.fit_cost(synthetic()), place_runs(1.0, 1.0).iloc[:0])


def place_check(error_home: float, error_there: float) -> scale.PlaceCheck:
    rec = {"where": "standalone 2x1", "rows": 4_000_000, "predicted_s": 10.0, "load_average": 2.0}
    return scale.PlaceCheck(
        place_runs(1.2, 1.0), scale.recalibrate(scale.fit_cost(synthetic()), place_runs(1.2, 1.0)),
        {**rec, "check": "10x run, local[2] model", "measured_s": 10 * (1 + error_home),
         "error": error_home},
        {**rec, "check": "10x run, model recalibrated there", "fitted_at": "standalone 2x1",
         "measured_s": 10 * (1 + error_there), "error": error_there},
    )  # fmt: skip


def test_place_findings_give_the_factor_then_both_checks():
    home = scale.fit_cost(synthetic())
    f = scale.place_findings(place_check(0.24, 0.03), home, "standalone 2x1")
    assert [x.key for x in f] == ["recalibrated", "validate_bad", "validate_ok"]
    assert "ms fixed per job" in f[0].text() and "standalone 2x1" in f[0].text()
    assert "24% slower than predicted" in f[1].text() and "3% slower than predicted" in f[2].text()


def test_a_recalibrated_check_that_misses_is_not_blamed_on_the_place():
    fit = scale.fit_cost(synthetic())
    local = {"where": "local[2]", "check": "10x larger run", "error": 0.05}
    pc = place_check(0.30, 0.25)
    why = scale.refusal(fit, [local, pc.check])
    assert "25% slower" in why and "refit where the job runs" not in why
    # the model as it came, checked on the cluster, is blamed on the place
    assert "refit where the job runs" in scale.refusal(fit, [local, pc.home])

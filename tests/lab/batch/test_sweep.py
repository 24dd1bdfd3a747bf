"""The sweep's meters on a real small Spark job (values, never timings) and the CLI's input checks."""

import json
import subprocess
import sys

import pytest

from helpers.core import validate
from helpers.core.config import LabError
from helpers.lab.batch import sweep as S
from helpers.measure import samplers


def test_log_grid_and_parse():
    assert S.log_grid(30, 10_000, 1) == [30, 100, 1000, 10_000]
    assert S.log_grid(10, 100, 2) == [10, 32, 100]
    assert validate.parse_batch_sizes("10, 100,1000") == [10, 100, 1000]
    for bad in ("0", "10,-1", "x", ""):
        with pytest.raises(LabError):
            validate.parse_batch_sizes(bad)


def test_row_bytes_of_the_input(spark):
    df = S.wide_frame(spark, 2000, extra_doubles=8)
    assert S.row_bytes(df.schema) == S.scenario_row_bytes(8) == 8 * (1 + 16 + 8)
    assert df.count() == 2000 and "w7" in df.columns


def test_unknown_or_rowwise_scenario():
    with pytest.raises(LabError, match="Unknown scenario"):
        S.check_sweepable("nope")
    with pytest.raises(LabError, match="Arrow batches"):
        S.check_sweepable("row_udf")


def test_meters_are_positive_during_a_real_job(spark):
    work = S.scenario_workload(spark, "map_in_pandas", rows=4000)
    S.warm(spark, work, 1000)
    p = S.measure_point(spark, work, 500, interval=0.02)
    assert p.batch_size == 500 and p.effective_batch_rows == 500 and p.rows == 4000
    assert p.batch_bytes == 500 * 136
    assert p.throughput > 0 and p.wall_s > 0
    assert p.cpu_s > 0 and p.python_cpu_s > 0 and 0 < p.cpu_saturation <= 1.0
    assert p.peak_python_rss_bytes > 10 * 2**20  # an interpreter with pandas + lightgbm
    assert p.peak_python_rss_total_bytes >= p.peak_python_rss_bytes and p.python_workers >= 1
    assert p.peak_jvm_heap_bytes > 0 and p.peak_jvm_direct_bytes >= 0
    # Arrow buffers of 500 rows x 17 columns of 8 bytes were allocated in the JVM for this job
    assert p.peak_jvm_offheap_bytes >= 500 * 17 * 8
    assert p.gc_s >= 0 and p.jvm_samples >= 2


def test_arrow_peak_is_per_point_not_per_jvm(spark):
    # Arrow Java's vectors start with room for 3970 values (BaseValueVector.INITIAL_VALUE_ALLOCATION,
    # 32 KiB of doubles once rounded to a power of two), so only batches beyond 4096 rows allocate
    # more: 6000-row batches vs 50-row batches
    work = S.scenario_workload(spark, "map_in_arrow", rows=12000)
    big = S.measure_point(spark, work, 6000)
    small = S.measure_point(spark, work, 50)
    allocated, peak = samplers.arrow_memory(spark)
    # without the reset the small job would report the big job's high-water mark
    assert small.peak_jvm_offheap_bytes < big.peak_jvm_offheap_bytes
    assert peak == small.peak_jvm_offheap_bytes
    assert samplers.reset_arrow_peak(spark) == allocated
    assert samplers.arrow_memory(spark)[1] == allocated


def test_batch_size_is_capped_by_the_partition(spark):
    work = S.scenario_workload(spark, "map_in_arrow", rows=4000)
    p = S.measure_point(spark, work, 1_000_000)
    assert p.effective_batch_rows == 4000 // work.partitions


def test_sweep_table_is_ascending_and_tidy(spark):
    table = S.scenario_sweep(spark, "pandas_udf", [1000, 100], rows=2000)
    assert table.batch_size.tolist() == [100, 1000] and set(table.label) == {"pandas_udf"}
    assert (table.peak_jvm_offheap_bytes > 0).all()


def test_max_bytes_per_batch_does_not_exist_in_35(spark):
    assert S.conf_defined(spark, "spark.sql.execution.arrow.maxRecordsPerBatch")
    assert not S.conf_defined(spark, "spark.sql.execution.arrow.maxBytesPerBatch")
    keys = set(S.arrow_confs(spark).key)
    assert "spark.sql.execution.arrow.maxRecordsPerBatch" in keys
    assert "spark.sql.execution.arrow.maxBytesPerBatch" not in keys


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "helpers", *args], capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize(
    "args,needle",
    [
        (["sweep", "--scenario", "nope"], "Unknown scenario"),
        (["sweep", "--batch-sizes", "100,0"], "batch size"),
        (["sweep", "--batch-sizes", "-5"], "batch size"),
        (["tune", "--scenario", "nope", "--memory-budget", "1g"], "Unknown scenario"),
        (["tune", "--memory-budget", "100"], "one batch of one row"),
        (["tune", "--memory-budget", "0"], "memory-budget"),
        (["tune-bench", "--memory-budget", "64"], "one batch of one row"),
        (["sweep", "--scenario", "synapseml"], "Arrow batches"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(args, needle):
    r = run(*args)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.spark  # starts Spark in a child process
def test_cli_sweep_writes_records(tmp_path):
    out = tmp_path / "sweep.json"
    r = run(
        "sweep",
        "--scenario",
        "map_in_arrow",
        "--batch-sizes",
        "200,1000",
        "--rows",
        "3000",
        "--json",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    records = json.loads(out.read_text())
    assert [x["batch_size"] for x in records] == [200, 1000]
    for rec in records:
        for key in (
            "throughput",
            "cpu_saturation",
            "peak_python_rss_bytes",
            "peak_jvm_heap_bytes",
            "peak_jvm_offheap_bytes",
        ):
            assert rec[key] > 0, key

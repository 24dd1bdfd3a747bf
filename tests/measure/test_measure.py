import numpy as np
import pytest

from helpers.core import validate
from helpers.core.config import LabError
from helpers.measure import metrics, samplers
from helpers.measure import timing as measure


def test_parse_size():
    assert validate.parse_size("12.0 MiB") == 12 * 2**20
    text = (
        "total (min, med, max (stageId: taskId))\n"
        "1.5 KiB (0.7 KiB, 0.7 KiB, 0.8 KiB (stage 3.0: task 4))"
    )
    assert validate.parse_size(text) == 1536
    with pytest.raises(ValueError):
        validate.parse_size("12 ms")


def test_physical_limit_predicts_the_reference():
    limit = measure.physical_limit(3000, processes=2)
    assert limit.rows_per_s > 0 and limit.processes == 2
    assert np.array_equal(limit.predictions, measure.reference_predictions(3000))


def test_physical_limit_repeats_in_the_same_processes():
    limit = measure.physical_limit(3000, processes=2, repeats=3)
    assert len(limit.walls) == 3 and limit.wall_s == sorted(limit.walls)[1]
    assert limit.rows_per_s == 3000 / limit.wall_s and limit.cpu_s > 0
    assert np.array_equal(limit.predictions, measure.reference_predictions(3000))
    with pytest.raises(LabError, match="repeats"):
        measure.physical_limit(3000, repeats=0)


def test_run_scenario_record(spark):
    rec = measure.run_scenario(spark, "map_in_arrow", 4000, batch_size=500, limit_rows_per_s=1e6)
    assert rec.batch_size == 500 and rec.rows == 4000
    assert rec.max_abs_diff <= 1e-9 and rec.wall_s > 0 and rec.ratio_to_limit > 0


def test_bad_batch_size(spark):
    with pytest.raises(LabError, match="batch size"):
        measure.set_batch_size(spark, 0)


def test_python_sql_metrics_count_the_bytes(spark):
    from helpers.inference.scenarios import scenario_frame

    rows = 4000
    spark.conf.set(measure.BATCH_CONF, "1000")
    measure.time_noop(scenario_frame(spark, "pandas_udf", rows=rows))
    m = metrics.python_metrics(spark)
    sent = m[m.metric == "data sent to Python workers"]["bytes"].sum()
    # 16 double columns go to the worker: at least 16 * 8 bytes per row, plus Arrow framing
    assert sent >= rows * 16 * 8


def test_process_table_and_jvm_memory(spark):
    from helpers.inference.scenarios import scenario_frame

    with samplers.ProcessSampler(0.05) as sampler:
        measure.time_noop(scenario_frame(spark, "map_in_pandas", rows=4000))
    s = sampler.samples
    assert (s.role == "jvm").any() and (s.rss_bytes > 0).all()
    assert "python_worker" in set(samplers.process_table().role) | set(s.role)
    mem = samplers.jvm_memory(spark)
    assert mem["heap_used"] > 0 and mem["arrow_peak"] > 0

import numpy as np
import pytest

from helpers.core.config import LabError, scale_rows
from helpers.inference import scenarios
from helpers.measure import metrics
from helpers.measure import timing as measure

ROWS = scale_rows("row")


@pytest.fixture(scope="module")
def reference():
    return measure.reference_predictions(ROWS)


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_parity_with_reference(spark, reference, name):
    """Every path's predictions equal the in-process reference within 1e-9 on the same rows."""
    spark.conf.set(measure.BATCH_CONF, "1000")
    got = measure.collect_predictions(spark, name, ROWS)
    assert got.shape == reference.shape
    assert np.max(np.abs(got - reference)) <= 1e-9


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_physical_operator(spark, name):
    frame = scenarios.scenario_frame(spark, name, rows=ROWS)
    ops, python_ops = metrics.physical_operators(frame), metrics.python_operators(frame)
    sc = scenarios.get_scenario(name)
    assert any(metrics.operator_matches(sc.operator, o) for o in ops)
    assert bool(python_ops) == sc.python_worker


def test_unknown_scenario():
    with pytest.raises(LabError, match="Unknown scenario 'nope'"):
        scenarios.get_scenario("nope")
    with pytest.raises(LabError):
        scenarios.parse_scenarios("pandas_udf,nope")


def test_parse_scenarios_all():
    assert scenarios.parse_scenarios("all") == list(scenarios.SCENARIOS)
    assert scenarios.parse_scenarios("map_in_arrow, pandas_udf") == ["map_in_arrow", "pandas_udf"]


def test_file_split_path_refuses_a_feature_frame():
    class Frame:  # only the columns are looked at before the refusal
        columns = ["id", "f0"]

    with pytest.raises(LabError, match="rows="):
        scenarios.build_map_in_arrow_files(Frame(), model=None)


def test_file_splits_cover_the_rows_once(spark):
    rows = scenarios.file_splits(spark, 1001).collect()
    assert len(rows) == spark.sparkContext.defaultParallelism
    assert rows[0].lo == 0 and rows[-1].hi == 1001
    assert all(a.hi == b.lo for a, b in zip(rows, rows[1:]))
    first = scenarios.file_splits(spark, 1001, first=100).collect()
    assert first[-1].hi == 100 and first[0].path == rows[0].path

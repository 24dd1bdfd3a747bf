"""One source of truth: the inference paths notebook 00 writes on the page (its code cells tagged
`path`) against the registry the CLI times (`helpers/inference/scenarios.py`): the same predictions
(<= 1e-9 from the in-process reference) and the same physical operator, on the running line. And
the model the notebook ships as a broadcast is parsed once per Python worker, not once per task."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from helpers.core.config import scale_rows
from helpers.core.session import session_key
from helpers.inference import scenarios
from helpers.measure import metrics
from helpers.measure import timing as measure

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "00_setup_and_baseline.ipynb"
ROWS = min(2_000, scale_rows("row"))


def _cells(tag=None):
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    return [c for c in code if tag is None or tag in c["metadata"].get("tags", [])]


_NAMESPACES: dict = {}


@pytest.fixture
def notebook(spark):
    """The notebook's namespace after its setup cell and every cell tagged `path`, run as the
    notebook runs them (functions defined in `__main__`, pickled by value); once per session."""
    key = session_key(spark)
    if key not in _NAMESPACES:
        _NAMESPACES.clear()
        ns = {"__name__": "__main__", "spark": spark}
        for cell in [_cells()[0], *_cells("path")]:
            exec(compile("".join(cell["source"]), str(NOTEBOOK), "exec"), ns)
        _NAMESPACES[key] = ns
    return _NAMESPACES[key]


def test_the_notebook_writes_every_path_of_the_registry(notebook):
    assert _cells("path"), "no cell of notebook 00 is tagged `path`"
    assert sorted(notebook["paths"]) == sorted(scenarios.SCENARIOS)


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_notebook_path_matches_the_registry(spark, notebook, name):
    spark.conf.set(measure.BATCH_CONF, "1000")
    mine = scenarios.user_path(notebook["paths"][name], like=name)
    ref = measure.reference_predictions(ROWS)
    got = measure.collect_predictions(spark, mine, ROWS)
    assert got.shape == ref.shape and np.max(np.abs(got - ref)) <= 1e-9
    ops_mine = metrics.python_operators(scenarios.scenario_frame(spark, mine, rows=ROWS))
    ops_registry = metrics.python_operators(scenarios.scenario_frame(spark, name, rows=ROWS))
    assert ops_mine == ops_registry


def test_the_model_is_parsed_once_per_worker(spark, notebook):
    """A second job finds the Booster a first job's task left in the worker's module-level cache
    (keyed by the broadcast), in every worker process both jobs used."""
    from helpers.model.cache import cached_booster

    booster, bc = notebook["booster"], notebook["model_bc"]

    def first(frames):
        booster(bc)
        for _ in frames:
            pass
        yield {"pid": [os.getpid()]}

    def second(frames):
        hit = cached_booster(bc, lambda: None) is not None
        for _ in frames:
            pass
        yield {"pid": [os.getpid()], "hit": [hit]}

    import pandas as pd

    df = spark.range(0, 64, numPartitions=8)
    one = df.mapInPandas(lambda it: (pd.DataFrame(d) for d in first(it)), "pid long").toPandas()
    two = df.mapInPandas(
        lambda it: (pd.DataFrame(d) for d in second(it)), "pid long, hit boolean"
    ).toPandas()
    both = two[two["pid"].isin(set(one["pid"]))]
    assert len(both) and both["hit"].all(), two


def test_user_path_refuses_a_non_function():
    with pytest.raises(scenarios.LabError, match="function df -> DataFrame"):
        scenarios.user_path("not a function", like="map_in_arrow")

"""helpers.lab.talk: the claims' verdicts, the dial and threads findings (every branch), the sizing
arithmetic, the worker-only round trip (values), and on Spark the model-load counts."""

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from helpers import exercises
from helpers.core.config import LabError
from helpers.lab import talk


def dial_table(ratios: dict) -> pd.DataFrame:
    """A dial table: {trees: {path: rows_per_s}} with a limit of 100 rows/s and no spread."""
    rows = []
    for trees, paths in ratios.items():
        for path, rps in paths.items():
            rows.append({"trees": trees, "predict_us_per_row": trees / 10, "path": path,
                         "rows": 10, "rows_per_s": rps, "rows_per_s_min": rps,
                         "rows_per_s_max": rps, "limit_rows_per_s": 100.0, "ratio": rps / 100,
                         "transport_share": 1 - rps / 100, "max_abs_diff": 0.0})  # fmt: skip
    return pd.DataFrame(rows)


def keys(found):
    return [f.key for f in found]


def test_parse_trees():
    assert talk.parse_trees("100,10,10") == [10, 100]
    for bad in ("", "0", "-5", "ten", "10,99999"):
        with pytest.raises(LabError):
            talk.parse_trees(bad)


def test_dial_findings_converge_or_never():
    t = dial_table({
        10: {"row_udf": 5, "pandas_udf": 20, "map_in_arrow": 40},
        1000: {"row_udf": 50, "pandas_udf": 85, "map_in_arrow": 90},
    })  # fmt: skip
    found = talk.dial_findings(t)
    assert keys(found) == ["paths", "paths"]
    assert found[0].values["trees"] == 1000 and "from there on" in found[0].values["verdict"]
    assert found[0].text().startswith("The Arrow paths are 6% apart at 1,000 trees")
    assert "the heaviest model tried" in found[1].values["verdict"]


def test_dial_findings_converge_only_from_where_every_heavier_model_agrees():
    t = dial_table({
        10: {"row_udf": 5, "pandas_udf": 95, "map_in_arrow": 100},  # inside 10%, by chance
        100: {"row_udf": 5, "pandas_udf": 70, "map_in_arrow": 100},
        1000: {"row_udf": 50, "pandas_udf": 96, "map_in_arrow": 100},
    })  # fmt: skip
    found = talk.dial_findings(t)
    assert "from there on" in found[0].values["verdict"] and found[0].values["trees"] == 1000


def test_dial_findings_never():
    t = dial_table({
        10: {"row_udf": 5, "pandas_udf": 20, "map_in_arrow": 40},
        100: {"row_udf": 5, "pandas_udf": 21, "map_in_arrow": 40},
    })  # fmt: skip
    found = talk.dial_findings(t)
    assert all("heaviest model" in f.values["verdict"] for f in found)
    assert [f.values["trees"] for f in found] == [100, 100]


def test_path_spread_flags_under_ten_percent():
    t = dial_table({10: {"a": 95, "b": 100}, 20: {"a": 80, "b": 100}})
    s = talk.path_spread(t).set_index("trees")
    assert s.loc[10, "spread"] == pytest.approx(0.05) and s.loc[10, "under_10pct"]
    assert not s.loc[20, "under_10pct"]


def threads_table(rps: dict) -> pd.DataFrame:
    rows = []
    for (tasks, threads), v in rps.items():
        rows.append({"tasks": tasks, "threads": threads,
                     "threads_per_core": None if threads == "default" else tasks * int(threads) / 2,
                     "rows_per_s": v, "rows_per_s_min": v, "rows_per_s_max": v,
                     "python_cpu_s": 1.0, "jvm_cpu_s": 0.1})  # fmt: skip
    return pd.DataFrame(rows)


def test_threads_findings_branches():
    costly = threads_table({(2, "1"): 100, (2, "2"): 60, (2, "default"): 98})
    found = talk.threads_findings(costly, "1")
    assert keys(found) == ["best", "oversub", "default"]
    assert found[1].values["ratio"] == pytest.approx(0.6)
    assert found[1].values["verdict"] == "beyond the 10% noise"
    free = talk.threads_findings(threads_table({(2, "1"): 100, (2, "2"): 95}), "1")
    assert keys(free) == ["best", "oversub"] and "within the 10% noise" in free[1].text()


def runs_table(rps: dict) -> pd.DataFrame:
    return pd.DataFrame([
        {"path": p, "rows_per_s": v, "rows_per_s_min": lo, "rows_per_s_max": hi}
        for p, (v, lo, hi) in rps.items()
    ])  # fmt: skip


def test_ratio_band_and_verdicts():
    t = runs_table({"fast": (200, 190, 210), "slow": (100, 95, 105), "same": (101, 90, 110)})
    r, lo, hi = talk.ratio_band(t, "fast", "slow")
    assert (r, lo, hi) == pytest.approx((2.0, 190 / 105, 210 / 95))
    assert talk.ratio_band(t, "fast", "missing") is None
    assert talk.ratio_verdict(talk.ratio_band(t, "same", "slow"), 2.0).startswith("no gain")
    assert talk.ratio_verdict((2.0, 1.9, 2.1), 2.0) == "holds here"
    assert talk.ratio_verdict((5.0, 4.5, 5.5), 2.0) == "larger here"
    assert talk.ratio_verdict((1.2, 1.1, 1.3), 2.5) == "smaller here"
    assert talk.ratio_verdict((1.2, 1.1, 1.3), None).startswith("measured")
    assert talk.ratio_verdict(None, 2.0) == "not measurable on this line"


def test_claims_findings_tally_and_worst():
    claims = pd.DataFrame([
        {"claim": "row @udf -> map_in_arrow, in all", "talk": "≈9x, as reported",
         "this run": "7.5x (6.0-8.0)", "verdict": "holds here"},
        {"claim": "a", "talk": "≈2x, as reported", "this run": "1.0x", "verdict": "no gain here"},
        {"claim": "b", "talk": "-", "this run": "3x", "verdict": "measured (no figure)"},
    ])  # fmt: skip
    found = talk.claims_findings(claims)
    assert keys(found) == ["tally", "worst"]
    assert found[0].values["holds"] == 1 and found[0].values["rated"] == 2
    assert found[0].values["chain"] == 7.5 and found[0].values["best"] == "map_in_arrow"
    assert found[1].values["claim"] == "a"


def test_metric_seconds_parses_spark_ui_durations():
    assert talk.metric_seconds("total (min, med, max)\n1.5 s (0.2 s, 0.7 s, 0.8 s)") == 1.5
    assert talk.metric_seconds("total (min, med, max)\n250 ms (1 ms, 2 ms, 3 ms)") == 0.25
    assert talk.metric_seconds("2.1 m") == pytest.approx(126)
    assert talk.metric_seconds("12.3 MiB") is None


def test_ui_findings_branches():
    m = pd.DataFrame({"metric": ["data sent to Python workers", "time to run Python workers",
                                 "time to initialize Python workers"],
                      "bytes": [2.0 * 2**20, None, None],
                      "seconds": [None, 4.0, 40.0]})  # fmt: skip
    readings = pd.DataFrame({"reading": ["inside the tasks", "  prediction", "  waiting",
                                         "CPU of the Python workers"],
                             "seconds": [3.0, 1.5, 0.75, 2.0]})  # fmt: skip
    found = talk.ui_findings(m, readings, arrow_bytes=2**20, version="4.3.0")
    assert keys(found) == ["bytes", "times"]
    assert found[0].values["ratio"] == pytest.approx(2.0)
    assert found[1].values["name"] == "time to run Python workers"  # the total, not the largest
    assert found[1].values["agree"] == pytest.approx(0.75)
    no_time = m.assign(seconds=[None, None, None])
    found = talk.ui_findings(no_time, readings, 2**20, "3.5.9")
    assert keys(found) == ["bytes", "no_times"] and found[1].values["sampled"] == 3.0


def test_worker_round_trip_keeps_every_value():
    t = pa.table({"id": np.arange(2500), "f0": np.linspace(0, 1, 2500)})
    payload = talk.ipc_stream_bytes(t, 1000)
    for api, convert in talk.WORKER_APIS.items():
        out = pa.ipc.open_stream(payload).read_all()
        back = pa.Table.from_batches([convert(b) for b in out.to_batches()])
        assert back.equals(t), api


def test_worker_row_cost_table_and_findings():
    cost = talk.worker_row_cost(rows=3000, batch_sizes=(1000,), repeats=2)
    assert set(cost.api) == set(talk.WORKER_APIS) and (cost.ns_per_row > 0).all()
    assert (cost.ns_min <= cost.ns_per_row).all() and (cost.ns_per_row <= cost.ns_max).all()
    found = talk.worker_findings(cost)  # one size: absolute values only
    assert [f.key for f in found] == ["compare"] * 3
    assert {f.values["published"] for f in found} == {195, 30, 171}


@pytest.mark.parametrize("lo, shape", [(200.0, "the same shape"), (40.0, "a flatter step"),
                                       (600.0, "a steeper step")])  # fmt: skip
def test_worker_findings_compare_the_step_not_the_absolute_values(lo, shape):
    # published mapInPandas: 195 -> 19 ns (10.3x); here lo -> 20 ns
    cost = pd.DataFrame({"api": ["mapInPandas"] * 2, "batch_size": [1_000, 10_000],
                         "ns_per_row": [lo, 20.0], "published_ns_per_row": [195, 19]})  # fmt: skip
    (f,) = talk.worker_findings(cost)
    assert f.key == "step" and f.values["shape"].startswith(shape)
    assert f.values["ours_step"] == pytest.approx(lo / 20)
    assert f.values["pub_step"] == pytest.approx(195 / 19) and "published" in f.text()


def test_pyspark_memory_sizes_from_address_space_per_core():
    assert talk.pyspark_memory(460, 4) == f"{math.ceil(460 * 1.5 / 64) * 64 * 4}m"
    assert talk.pyspark_memory(1000, 1, headroom=1.0) == "1024m"
    for bad in ((0, 4), (460, 0)):
        with pytest.raises(LabError):
            talk.pyspark_memory(*bad)


def test_rows_per_batch():
    assert talk.rows_per_batch(136, 64) == int(64 * 2**20 / (136 * 3)) // 1000 * 1000
    with pytest.raises(LabError):
        talk.rows_per_batch(10**6, 1)


def test_exercise_checkers_reject_placeholders():
    t = dial_table({10: {"row_udf": 5, "pandas_udf": 20, "map_in_arrow": 40},
                    100: {"row_udf": 9, "pandas_udf": 95, "map_in_arrow": 100}})  # fmt: skip
    assert exercises.check_dial_trees("?", t).startswith("Not yet")
    assert exercises.check_dial_trees(10, t).startswith("Not quite")
    assert exercises.check_dial_trees(100, t).startswith("Correct")
    loads = {"per batch": {"loads": 20, "batches": 20}}
    assert exercises.check_model_loads(-1, loads).startswith("Not yet")
    assert exercises.check_model_loads(19, loads).startswith("Not quite")
    assert exercises.check_model_loads(20, loads).startswith("Correct")
    never = dial_table({10: {"pandas_udf": 20, "map_in_arrow": 40}})
    assert exercises.check_dial_trees(None, never).startswith("Correct")


# ---- on Spark ----------------------------------------------------------------------------------


def test_defaults_come_from_the_registry_through_fallbacks(spark):
    got = talk._default(spark, "spark.sql.execution.arrow.pyspark.enabled")  # a fallback entry
    assert got in ("true", "false")
    assert talk._default(spark, "spark.no.such.conf") is None


def test_worker_env_has_spark_omp_threads(spark):
    env = talk.worker_env(spark)
    assert env["OMP_NUM_THREADS"] == spark.conf.get("spark.task.cpus", "1")


def test_count_loads_per_batch_per_task_per_worker(spark):
    import lightgbm as lgb
    from pyspark.sql.functions import pandas_udf

    from helpers.model.cache import cached_booster
    from helpers.model.data import model_text

    model = spark.sparkContext.broadcast(model_text())
    n = spark.sparkContext.accumulator(0)

    def load():
        n.add(1)
        return lgb.Booster(model_str=model.value)

    @pandas_udf("double")
    def per_batch(*cols):
        return pd.Series(load().predict(pd.concat(cols, axis=1).to_numpy(), num_threads=1))

    @pandas_udf("double")
    def cached(*cols):
        booster = cached_booster("test_talk model", load)
        return pd.Series(booster.predict(pd.concat(cols, axis=1).to_numpy(), num_threads=1))

    got = talk.count_loads(spark, per_batch, n, 4000, batch_size=500)
    assert got["loads"] == got["batches"] >= 8
    got = talk.count_loads(spark, cached, n, 4000, batch_size=500)
    assert 1 <= got["loads"] <= spark.sparkContext.defaultParallelism


def test_worker_memory_address_space_exceeds_resident(spark):
    from helpers.model.data import model_text

    mem = talk.worker_memory(spark, spark.sparkContext.broadcast(model_text()))
    assert mem["address_space_mib"] > mem["rss_mib"] > 10


def test_dial_rows_shrink_for_a_costly_model_only(monkeypatch):
    path = talk.trees_model_path(10)
    assert talk.dial_rows(path, 50_000, cores=2) == 50_000  # a light model keeps every row
    # a model costing 1 ms per row gets about run_s x cores / 1 ms rows, never under the floor
    clock = iter(range(0, 10_000))
    monkeypatch.setattr(talk.time, "perf_counter", lambda: 2.0 * next(clock))  # 2 s per 2k rows
    assert talk.dial_rows(path, 50_000, cores=2, run_s=10.0) == 20_000
    assert talk.dial_rows(path, 50_000, cores=2, run_s=1.0) == talk.DIAL_MIN_ROWS


def test_kit_transport_reads_the_model_nearest_100_trees_and_its_best_batched_path():
    dial = pd.DataFrame({"trees": [10, 10, 100, 100, 1000],
                         "path": ["map_in_arrow", "row_udf", "map_in_arrow", "pandas_udf",
                                  "map_in_arrow"],
                         "transport_share": [0.88, 0.99, 0.38, 0.41, 0.03]})  # fmt: skip
    assert talk.kit_transport(dial) == (100, 0.38)
    assert talk.kit_transport(dial[dial.trees != 100]) == (10, 0.88)  # 10 is nearer than 1000


def test_per_batch_loads_below_the_conf_count_say_the_batches_came_larger():
    assert talk._batch_note({"loads": 200, "batches": 200, "tasks": 8}) == ""
    assert "fewer, larger" in talk._batch_note({"loads": 24, "batches": 200, "tasks": 8})
    from helpers import exercises

    loads = {"per batch": {"loads": 24, "batches": 200, "tasks": 8}}
    assert "maxRecordsPerBatch predicted 200" in exercises.check_model_loads(24, loads)
    loads = {"per batch": {"loads": 200, "batches": 200, "tasks": 8}}
    assert exercises.check_model_loads(200, loads).startswith("Correct: 200 loads, one per")

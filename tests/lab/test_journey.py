"""helpers.lab.journey on a real session: the plan's Python operators, one batch's bytes per
layer, and the sockets between the session's processes, read from the OS and paired. The
findings' wording is tested without Spark in test_journey_findings.py."""

from helpers.inference.scenarios import SCENARIOS, scenario_frame
from helpers.lab import journey
from helpers.measure import metrics
from helpers.measure.timing import time_noop


def test_socket_table_pairs_workers_with_the_jvm(spark):
    time_noop(scenario_frame(spark, "map_in_pandas", rows=4000))  # reused workers stay connected
    t = journey.socket_table(spark)
    # one daemon per Python executable and environment the shared session's tasks have used
    daemon = t[(t.role == "daemon") & (t.status == "LISTEN")]
    assert len(daemon) >= 1
    workers = t[(t.role == "python_worker") & (t.status == "ESTABLISHED")]
    assert len(workers) >= 1 and (workers.peer_role == "jvm").all()
    # every worker's socket was accepted on a daemon's port; the JVM's end points back at it
    assert workers.local_port.isin(daemon.local_port).all()
    jvm_side = t[(t.role == "jvm") & (t.peer_role == "python_worker")]
    pairs = {(r.peer_pid, r.local_port) for r in jvm_side.itertuples()}
    assert {(r.pid, r.remote_port) for r in workers.itertuples()} <= pairs
    gateway = spark.sparkContext._gateway.gateway_parameters.port
    assert ((t.role == "jvm") & (t.status == "LISTEN") & (t.local_port == gateway)).any()
    assert t.purpose.str.contains("py4j").any()
    found = journey.socket_findings(t)
    one = len(daemon) == 1 and len(workers) == workers.pid.nunique()
    assert [f.key for f in found] == ["workers", "py4j"]
    assert found[0].values["kind"] == ("forked" if one else "other")
    assert found[-1].values["py4j"] >= 1  # py4j to the gateway; other sockets are not counted


def test_operator_table_finds_each_scenario_s_operator(spark):
    names = [n for n in ["row_udf", "map_in_arrow", "synapseml"] if n in SCENARIOS]
    ops = journey.operator_table(spark, 4000, names)
    got = ops.python_operator.tolist()
    assert got[0] == "BatchEvalPython" and metrics.operator_matches("MapInArrow", got[1])
    assert got[2:] == [journey.NO_PYTHON] * (len(names) - 2)
    assert ops.as_expected.all()
    (found,) = journey.operator_findings(ops)
    assert found.key == "paths" and found.values["n_ok"] == len(names)
    assert found.values["n_python"] == len(names) - ("synapseml" in names)
    # 3.5 prints MapInArrow as PythonMapInArrow: the finding says so, it does not hide it
    renamed = got[1] != "MapInArrow"
    assert bool(found.values["renamed"]) == renamed


def test_batch_layers_measure_every_layer(spark):
    t = journey.batch_layers(spark, 4000, 1000).set_index("layer")
    raw = 1000 * 16 * 8
    assert t.loc["Python: model input matrix", "bytes"] == raw
    # the worker's per-column conversion: 16 float64 Series, values only (no DataFrame, no index)
    assert t.loc["Python: pandas columns", "bytes"] == raw
    assert t.loc["JVM -> socket: Arrow IPC sent", "bytes"] >= raw  # Arrow framing on top
    assert t.loc["Python -> socket: predictions IPC", "bytes"] >= 1000 * 8
    assert t.loc["Python: model input matrix", "memory"] == "new"
    # 3.5 converts per column with Arrow's zero-copy to_pandas; 4.3's ArrowBatchTransformer copies
    pandas_memory = "new" if journey.WORKER_CALLS == "conversion" else "view"
    assert t.loc["Python: pandas columns", "memory"] == pandas_memory
    found = journey.layer_findings(t.reset_index(), 1000)
    assert [f.key for f in found] == ["copies"] and found[0].values["memory"] == pandas_memory


def test_batch_layers_take_the_learners_udf_and_the_conf(spark):
    import numpy as np
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("float")
    def first_feature(*cols: pd.Series) -> pd.Series:
        return cols[0].astype(np.float32)

    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "500")
    t = journey.batch_layers(spark, 2000, scenario=first_feature).set_index("layer")
    assert t.loc["Python: model input matrix", "bytes"] == 500 * 16 * 8  # the conf's batch
    back = t.loc["Python -> socket: predictions IPC", "bytes"]
    assert 500 * 4 <= back < 500 * 8  # float32 predictions: 4 bytes each plus framing


def test_notebook_udf_agrees_with_the_reference(spark):
    """Notebook 01's `@pandas_udf`, run from its own cell: predictions within 1e-9 of the
    in-process reference, and planned as the registry's `pandas_udf`."""
    import json
    from pathlib import Path

    import numpy as np

    from helpers.measure import timing

    path = Path(__file__).parents[2] / "notebooks" / "01_journey_of_a_row.ipynb"
    cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
    setup = next(s for s in cells if "start_session(" in s)
    cell = next(s for s in cells if "def predict(" in s)
    ns = {"__name__": "__main__"}
    imports = "\n".join(x for x in setup.splitlines() if x.startswith(("import ", "from ")))
    exec(imports, ns)
    ns.update(spark=spark, rows=2_000)
    exec(cell, ns)
    got = ns["scored"].toPandas().sort_values("id")["prediction"].to_numpy()
    ref = timing.reference_predictions(2_000)
    assert got.shape == ref.shape and np.max(np.abs(got - ref)) <= 1e-9
    ops = metrics.python_operators(ns["scored"])
    assert ops == metrics.python_operators(scenario_frame(spark, "pandas_udf", rows=2_000))


def test_only_the_port_a_jvm_connected_to_is_the_py4j_callback_server():
    from helpers.lab.journey import _purpose

    ports = {"gateway": 1, "ui": 2, "rpc": 3, "callback": {5000}}
    me = "this Python (driver side)"
    assert _purpose(me, "", 5000, None, "LISTEN", ports).startswith("py4j callback server")
    assert "Jupyter" in _purpose(me, "", 6000, None, "LISTEN", ports)

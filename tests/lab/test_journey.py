"""helpers.lab.journey on a real session: the plan's Python operators, one batch's bytes per
layer, and the sockets between the session's processes, read from the OS and paired. The
findings' wording is tested without Spark in test_journey_findings.py."""

from helpers.lab import journey
from helpers.measure import metrics
from helpers.measure.timing import time_noop
from helpers.paths.scenarios import SCENARIOS, scenario_frame


def test_socket_table_pairs_workers_with_the_jvm(spark):
    time_noop(scenario_frame(spark, "map_in_pandas", rows=4000))  # reused workers stay connected
    t = journey.socket_table(spark)
    daemon = t[(t.role == "daemon") & (t.status == "LISTEN")]
    assert len(daemon) == 1
    workers = t[(t.role == "python_worker") & (t.status == "ESTABLISHED")]
    assert len(workers) >= 1 and (workers.peer_role == "jvm").all()
    # every worker's socket was accepted on the daemon's port; the JVM's end points back at it
    assert (workers.local_port == daemon.local_port.iloc[0]).all()
    jvm_side = t[(t.role == "jvm") & (t.peer_role == "python_worker")]
    pairs = {(r.peer_pid, r.local_port) for r in jvm_side.itertuples()}
    assert {(r.pid, r.remote_port) for r in workers.itertuples()} <= pairs
    gateway = spark.sparkContext._gateway.gateway_parameters.port
    assert ((t.role == "jvm") & (t.status == "LISTEN") & (t.local_port == gateway)).any()
    assert t.purpose.str.contains("py4j").any()
    found = journey.socket_findings(t)
    assert [f.key for f in found] == ["daemon_port", "py4j"]
    assert found[-1].values["py4j"] >= 1  # py4j to the gateway; other sockets are not counted


def test_operator_table_finds_each_scenario_s_operator(spark):
    names = [n for n in ["row_udf", "map_in_arrow", "synapseml"] if n in SCENARIOS]
    ops = journey.operator_table(spark, 4000, names)
    got = ops.python_operator.tolist()
    assert got[0] == "BatchEvalPython" and metrics.operator_matches("MapInArrow", got[1])
    assert got[2:] == [journey.NO_PYTHON] * (len(names) - 2)
    keys = [f.key for f in journey.operator_findings(ops)]
    assert keys == [
        "some_in_jvm" if "synapseml" in names else "all_python",
        "operators",
        "as_expected",
    ]


def test_batch_layers_measure_every_layer(spark):
    t = journey.batch_layers(spark, 4000, 1000).set_index("layer")
    raw = 1000 * 16 * 8
    assert t.loc["Python: model input matrix", "bytes"] == raw
    # the worker's per-column conversion: 16 float64 Series, values only (no DataFrame, no index)
    assert t.loc["Python: pandas columns", "bytes"] == raw
    assert t.loc["JVM -> socket: Arrow IPC sent", "bytes"] >= raw  # Arrow framing on top
    assert t.loc["Python -> socket: predictions IPC", "bytes"] >= 1000 * 8
    assert [f.key for f in journey.layer_findings(t.reset_index(), 1000)] == ["largest"]

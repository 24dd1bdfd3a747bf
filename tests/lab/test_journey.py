"""helpers.lab.journey: the sockets between the session's processes, read from the OS and paired."""

from helpers.lab import journey
from helpers.measure.timing import time_noop
from helpers.paths.scenarios import scenario_frame


def test_socket_table_pairs_workers_with_the_jvm(spark):
    time_noop(scenario_frame(spark, "map_in_pandas", rows=4000))  # reused workers stay connected
    t = journey.socket_table(spark)
    daemon = t[(t.role == "daemon") & (t.status == "LISTEN")]
    assert len(daemon) == 1
    workers = t[(t.role == "python_worker") & (t.status == "ESTABLISHED")]
    assert len(workers) >= 1 and (workers.peer_role == "jvm").all()
    # every worker's socket was accepted on the daemon's port, and the JVM's end points back at that worker
    assert (workers.local_port == daemon.local_port.iloc[0]).all()
    jvm_side = t[(t.role == "jvm") & (t.peer_role == "python_worker")]
    pairs = {(r.peer_pid, r.local_port) for r in jvm_side.itertuples()}
    assert {(r.pid, r.remote_port) for r in workers.itertuples()} <= pairs
    gateway = spark.sparkContext._gateway.gateway_parameters.port
    assert ((t.role == "jvm") & (t.status == "LISTEN") & (t.local_port == gateway)).any()
    assert t.purpose.str.contains("py4j").any()

"""The journey of one batch (notebook 01) — bytes in each layer, measured.

Each layer's size is measured in this run: the JVM's UnsafeRow size through py4j, the bytes
Spark reports sending over the worker socket (SQL metric), and the Python-side objects built by
the same library calls the worker makes (pyarrow IPC read, to_pandas, the model's input matrix).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.core.validate import check_positive
from helpers.measure.metrics import physical_operators, python_metrics
from helpers.measure.samplers import process_table
from helpers.measure.timing import BATCH_CONF, time_noop
from helpers.model.data import feature_frame, feature_names
from helpers.paths.scenarios import get_scenario, input_frame, scenario_frame


def unsafe_row_bytes(spark, rows: int) -> int:
    """Size in bytes of one UnsafeRow of the input table, read from the JVM (UnsafeRow.getSizeInBytes)."""
    return int(input_frame(spark, rows)._jdf.queryExecution().toRdd().first().getSizeInBytes())


def batch_layers(spark, rows: int, batch_rows: int, scenario: str = "pandas_udf") -> pd.DataFrame:
    """Bytes one batch of `batch_rows` rows occupies in each layer of the round trip.

    Columns: layer, bytes, factor (vs the raw feature bytes batch_rows x 16 x 8), how (what measured it)."""
    check_positive("batch size", batch_rows)
    batch_rows = min(batch_rows, rows)
    raw = batch_rows * 16 * 8
    spark.conf.set(BATCH_CONF, str(batch_rows))
    time_noop(scenario_frame(spark, scenario, rows=rows))
    metrics = python_metrics(spark)
    n_batches = int(np.ceil(rows / batch_rows))
    sent = metrics.loc[metrics.metric == "data sent to Python workers", "bytes"].sum() / n_batches
    back = (
        metrics.loc[metrics.metric == "data returned from Python workers", "bytes"].sum()
        / n_batches
    )

    pdf = feature_frame(batch_rows)[feature_names()]
    batch = pa.RecordBatch.from_pandas(pdf, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    ipc = sink.getvalue()
    read_back = pa.ipc.open_stream(ipc).read_all()  # worker: ArrowStreamSerializer.load_stream
    as_pandas = read_back.to_pandas()  # worker: arrow_to_pandas per column
    X = np.column_stack(
        [as_pandas[c].to_numpy() for c in as_pandas.columns]
    )  # the UDF: model input
    layers = [
        (
            "JVM heap: UnsafeRows",
            batch_rows * unsafe_row_bytes(spark, rows),
            "UnsafeRow.getSizeInBytes() via py4j x rows",
        ),
        (
            "JVM -> socket: Arrow IPC sent",
            sent,
            "SQL metric 'data sent to Python workers' / batches",
        ),
        (
            "Python: pyarrow batch read from IPC",
            read_back.nbytes,
            "pa.ipc.open_stream(...).read_all().nbytes",
        ),
        (
            "Python: pandas columns",
            int(as_pandas.memory_usage(deep=True, index=False).sum()),
            "DataFrame.memory_usage(deep=True)",
        ),
        ("Python: model input matrix", X.nbytes, "np.column_stack(...).nbytes"),
        (
            "Python -> socket: predictions IPC",
            back,
            "SQL metric 'data returned from Python workers' / batches",
        ),
    ]
    df = pd.DataFrame(layers, columns=["layer", "bytes", "how"])
    df["bytes"] = df["bytes"].astype(float)
    df["factor"] = df["bytes"] / raw
    return df[["layer", "bytes", "factor", "how"]]


def operator_table(spark, rows: int, names: list[str]) -> pd.DataFrame:
    """For each scenario: the Python-related physical operators found in its executed plan."""

    python_ops = ("BatchEvalPython", "ArrowEvalPython", "MapInPandas", "PythonMapInArrow")
    out = []
    for name in names:
        ops = physical_operators(scenario_frame(spark, name, rows=rows))
        found = [o for o in ops if o in python_ops]
        out.append(
            {
                "scenario": name,
                "expected": get_scenario(name).operator,
                "python_operator": ", ".join(found) or "(none: runs in the JVM)",
                "plan": " <- ".join(ops),
            }
        )
    return pd.DataFrame(out)


# ---- the sockets between the processes ----------------------------------------------------------


def _endpoint(addr) -> tuple[str, int]:
    ip = addr.ip[7:] if addr.ip.startswith("::ffff:") else addr.ip  # IPv4-mapped IPv6 -> IPv4
    return ip, addr.port


def socket_table(spark) -> pd.DataFrame:
    """The TCP sockets the session's processes hold now (the JVM, pyspark.daemon, the Python workers,
    and this Python process's py4j connections), read from the OS with psutil. Each established
    connection is matched with the process at its other end. Columns: pid, role, local_port,
    remote_port, status, peer_pid, peer_role, purpose."""
    import os

    import psutil

    procs = process_table()
    roles = dict(zip(procs.pid, procs.role))
    roles[os.getpid()] = "this Python (driver side)"
    ports = {
        "gateway": spark.sparkContext._gateway.gateway_parameters.port,
        "ui": int((spark.sparkContext.uiWebUrl or ":0").rsplit(":", 1)[-1]),
        "rpc": int(spark.conf.get("spark.driver.port")),
    }
    conns = []
    for pid, role in roles.items():
        try:
            for c in psutil.Process(pid).net_connections(kind="inet"):
                conns.append(
                    (
                        pid,
                        role,
                        _endpoint(c.laddr),
                        _endpoint(c.raddr) if c.raddr else None,
                        c.status,
                    )
                )
        except psutil.Error:
            continue
    # an accepted socket shares its local port with the listener, so a connection is keyed by both ends
    owner = {(local, remote): pid for pid, _, local, remote, status in conns if remote}
    rows = []
    for pid, role, local, remote, status in conns:
        peer = owner.get((remote, local)) if remote else None
        peer_role = roles.get(peer, "outside the session") if remote else ""
        rows.append(
            {
                "pid": pid,
                "role": role,
                "local_port": local[1],
                "remote_port": remote[1] if remote else None,
                "status": status,
                "peer_pid": peer,
                "peer_role": peer_role,
                "purpose": _purpose(
                    role, peer_role, local[1], remote[1] if remote else None, status, ports
                ),
            }
        )
    cols = [
        "pid",
        "role",
        "local_port",
        "remote_port",
        "status",
        "peer_pid",
        "peer_role",
        "purpose",
    ]
    return pd.DataFrame(rows, columns=cols).sort_values(
        ["role", "status", "local_port"], ignore_index=True
    )


def _purpose(role, peer_role, local, remote, status, ports) -> str:
    if role == "daemon" and status == "LISTEN":
        return "the daemon waits here for the JVM to ask for a new worker (pyspark/daemon.py)"
    if {role, peer_role} == {"jvm", "python_worker"}:
        return "one worker's data socket: Arrow/pickled batches to and from a task (PythonRunner.scala)"
    if ports["gateway"] in (local, remote) and "this Python (driver side)" in (role, peer_role):
        return "py4j: this Python process driving the JVM (the DataFrame API calls)"
    if "this Python (driver side)" in (role, peer_role) and "jvm" in (role, peer_role):
        return "py4j callback: the JVM calling back into this Python process"
    if role == "this Python (driver side)" and status == "LISTEN":
        return "py4j callback server of this Python process"
    if role == "jvm" and status == "LISTEN":
        return {
            ports["ui"]: "Spark UI",
            ports["gateway"]: "py4j gateway server",
            ports["rpc"]: "driver RPC (spark.driver.port)",
        }.get(local, "JVM service (block manager, callbacks, ...)")
    return "other"

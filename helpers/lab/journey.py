"""The journey of one batch (notebook 01) — bytes in each layer, measured.

Each layer's size is measured in this run: the JVM's UnsafeRow size through py4j, the bytes
Spark reports sending over the worker socket (SQL metric), and the Python-side objects built by
the same library calls the worker makes (pyarrow IPC read, this pyspark's own per-column Arrow ->
pandas conversion, the model's input matrix).
Beside each result, its findings: the sentence templates a "what you saw" cell renders.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.core.findings import Finding, finding
from helpers.core.validate import require_positive
from helpers.inference.scenarios import get_scenario, input_frame, scenario_frame
from helpers.measure.metrics import (
    operator_matches,
    physical_operators,
    python_operators,
    run_with_python_metrics,
)
from helpers.measure.samplers import process_table
from helpers.measure.timing import BATCH_CONF, time_noop
from helpers.model.data import N_FEATURES, feature_frame, feature_names

VALIDITY_PAD = 8  # bytes: Arrow Java pads every buffer of an IPC body to a multiple of 8

# ---- the worker's own Arrow <-> pandas calls, asked from the installed pyspark ------------------
# pyspark 3.5 (to 4.2) converts inside its serializers (pyspark/sql/pandas/serializers.py:
# ArrowStreamPandasUDFSerializer); 4.3 moved the conversions out of them into
# pyspark/sql/conversion.py (ArrowBatchTransformer, PandasToArrowConversion), called from worker.py.
_SERIALIZER_CALLS = ("ArrowStreamPandasUDFSerializer", "ArrowStreamUDFSerializer")
_CONVERSION_CALLS = {
    "ArrowBatchTransformer": ("to_pandas", "flatten_struct", "wrap_struct"),
    "PandasToArrowConversion": ("convert",),
}


def _worker_calls() -> str | None:
    """Which calls this pyspark's worker makes for pandas/Arrow UDFs: 'serializers' (the UDF
    serializers of pyspark/sql/pandas/serializers.py), 'conversion' (pyspark/sql/conversion.py)
    or None (neither: a pyspark the kit does not know)."""
    import pyspark.sql.pandas.serializers as serializers

    if all(hasattr(serializers, name) for name in _SERIALIZER_CALLS):
        return "serializers"
    try:
        import pyspark.sql.conversion as conversion
    except ImportError:
        return None
    if all(
        all(hasattr(getattr(conversion, cls, None), fn) for fn in fns)
        for cls, fns in _CONVERSION_CALLS.items()
    ):
        return "conversion"
    return None


WORKER_CALLS = _worker_calls()


def _udf_serializer(timezone: str, safecheck: bool):
    """pyspark 3.5's serializer as worker.py read_udfs builds it for SQL_SCALAR_PANDAS_UDF and
    SQL_MAP_PANDAS_ITER_UDF (assign_cols_by_name true, df_for_struct true, struct as dict)."""
    from pyspark.sql.pandas.serializers import ArrowStreamPandasUDFSerializer

    return ArrowStreamPandasUDFSerializer(timezone, safecheck, True, True, "dict", False, False)


def worker_arrow_to_pandas(
    batch: pa.RecordBatch | pa.Table, timezone: str = "UTC"
) -> tuple[list[pd.Series | pd.DataFrame], str]:
    """Arrow -> pandas through the call this pyspark's worker makes for a pandas UDF or
    mapInPandas (a struct column becomes a DataFrame): one pandas object per column, and that
    call's name (source file and function). 3.5: `ArrowStreamPandasUDFSerializer.arrow_to_pandas`
    per column (pyspark/sql/pandas/serializers.py, its load_stream); 4.3:
    `ArrowBatchTransformer.to_pandas` (pyspark/sql/conversion.py, called by worker.py)."""
    if WORKER_CALLS == "conversion":
        from pyspark.sql.conversion import ArrowBatchTransformer

        cols = ArrowBatchTransformer.to_pandas(
            batch,
            timezone=timezone,
            struct_in_pandas="dict",
            ndarray_as_list=False,
            prefer_int_ext_dtype=False,
            df_for_struct=True,
        )
        return list(cols), "ArrowBatchTransformer.to_pandas (pyspark/sql/conversion.py)"
    ser = _udf_serializer(timezone, False)
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    return (
        [ser.arrow_to_pandas(c) for c in table.itercolumns()],
        "ArrowStreamPandasUDFSerializer.arrow_to_pandas by column "
        "(pyspark/sql/pandas/serializers.py, load_stream)",
    )


def worker_pandas_to_arrow(
    results: list, schema, timezone: str = "UTC", safecheck: bool = False
) -> tuple[pa.RecordBatch, str]:
    """pandas -> Arrow through the call this pyspark's worker makes for the results of a pandas
    UDF or mapInPandas: `results` one pandas Series (or DataFrame, for a struct) per field of the
    Spark StructType `schema` (`_0`, ...). Returns the batch the worker writes and the call's name.
    3.5: `ArrowStreamPandasUDFSerializer._create_batch` (pyspark/sql/pandas/serializers.py, its
    dump_stream); 4.3: `PandasToArrowConversion.convert` (pyspark/sql/conversion.py), with the
    arguments worker.py passes."""
    if WORKER_CALLS == "conversion":
        from pyspark.sql.conversion import PandasToArrowConversion

        batch = PandasToArrowConversion.convert(
            results,
            schema,
            timezone=timezone,
            safecheck=safecheck,
            arrow_cast=True,
            prefers_large_types=False,
            assign_cols_by_name=True,
            int_to_decimal_coercion_enabled=False,
        )
        return batch, "PandasToArrowConversion.convert (pyspark/sql/conversion.py)"
    from pyspark.sql.pandas.types import to_arrow_type

    ser = _udf_serializer(timezone, safecheck)
    pairs = [(r, to_arrow_type(f.dataType)) for r, f in zip(results, schema.fields)]
    return (
        ser._create_batch(pairs),
        "ArrowStreamPandasUDFSerializer._create_batch (pyspark/sql/pandas/serializers.py, "
        "dump_stream)",
    )


def unsafe_row_bytes(spark, rows: int) -> int:
    """Size in bytes of one UnsafeRow of the input table, read from the JVM
    (UnsafeRow.getSizeInBytes)."""
    return int(input_frame(spark, rows)._jdf.queryExecution().toRdd().first().getSizeInBytes())


def udf_frame(spark, rows: int, udf):
    """The learner's scalar UDF applied to the shared input (id, f0..f15): (id, prediction)."""
    df = input_frame(spark, rows)
    return df.select("id", udf(*feature_names()).alias("prediction"))


def _frame(spark, rows: int, scenario):
    """A scenario's DataFrame (by name) or the learner's UDF applied to the input."""
    if isinstance(scenario, str):
        return scenario_frame(spark, scenario, rows=rows)
    return udf_frame(spark, rows, scenario)


def _inside(start: int, nbytes: int, buffers) -> bool:
    """Whether memory [start, start + nbytes) lies inside one of the Arrow `buffers`."""
    return any(
        b is not None and b.address <= start and start + nbytes <= b.address + b.size
        for b in buffers
    )


def _shares(a: np.ndarray, buffers) -> bool:
    """Whether the NumPy array `a` is a view over one of the Arrow `buffers` (not a copy)."""
    return _inside(a.__array_interface__["data"][0], a.nbytes, buffers)


def validity_bytes(batch_rows: int, columns: int = N_FEATURES) -> int:
    """Bytes of the validity bitmaps the JVM writes for one batch: one bit per value and column,
    each bitmap padded to 8 bytes (Arrow Java writes them even when nothing is null)."""
    per_column = -(-int(np.ceil(batch_rows / 8)) // VALIDITY_PAD) * VALIDITY_PAD
    return columns * per_column


def batch_layers(
    spark, rows: int, batch_rows: int | None = None, scenario="pandas_udf"
) -> pd.DataFrame:
    """Bytes one batch occupies in each layer of the round trip of `scenario` (a scenario name or
    the learner's own scalar UDF over f0..f15). `batch_rows` None: the session's
    spark.sql.execution.arrow.maxRecordsPerBatch; otherwise that conf is set to it first.

    Columns: layer, bytes, factor (vs the raw feature bytes batch_rows x 16 x 8), memory ('view'
    when the layer's values lie inside the layer above's buffers, 'new' when they were copied,
    '' on the JVM side), how (what measured it)."""
    if batch_rows is None:
        batch_rows = int(spark.conf.get(BATCH_CONF))
    require_positive("batch size", batch_rows)
    spark.conf.set(BATCH_CONF, str(batch_rows))
    batch_rows = min(batch_rows, rows)
    raw = batch_rows * N_FEATURES * 8
    frame = _frame(spark, rows, scenario)
    _, metrics = run_with_python_metrics(spark, lambda: time_noop(frame))
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
    arrow_buffers = [b for col in read_back.columns for c in col.chunks for b in c.buffers()]
    # worker (pandas_udf): one Series per column; no DataFrame is built (only mapInPandas joins
    # them, with pd.concat)
    series, call = worker_arrow_to_pandas(read_back)
    arrays = [s.to_numpy() for s in series]
    X = np.column_stack(arrays)  # the UDF: model input
    in_ipc = all(_inside(b.address, b.size, [ipc]) for b in arrow_buffers if b is not None)
    views = all(_shares(a, arrow_buffers) for a in arrays)
    layers = [
        (
            "JVM heap: UnsafeRows",
            batch_rows * unsafe_row_bytes(spark, rows),
            "",
            "UnsafeRow.getSizeInBytes() via py4j x rows",
        ),
        (
            "JVM -> socket: Arrow IPC sent",
            sent,
            "",
            "SQL metric 'data sent to Python workers' / batches",
        ),
        (
            "Python: pyarrow batch read from IPC",
            read_back.nbytes,
            "view" if in_ipc else "new",
            "pa.ipc.open_stream(...).read_all().nbytes",
        ),
        (
            "Python: pandas columns",
            int(sum(s.memory_usage(deep=True, index=False) for s in series)),
            "view" if views else "new",
            f"{call}, Series.memory_usage(deep)",
        ),
        (
            "Python: model input matrix",
            X.nbytes,
            "view" if _shares(X, arrow_buffers) else "new",
            "np.column_stack(...).nbytes",
        ),
        (
            "Python -> socket: predictions IPC",
            back,
            "",
            "SQL metric 'data returned from Python workers' / batches",
        ),
    ]
    df = pd.DataFrame(layers, columns=["layer", "bytes", "memory", "how"])
    df["bytes"] = df["bytes"].astype(float)
    df["factor"] = df["bytes"] / raw
    return df[["layer", "bytes", "factor", "memory", "how"]]


def layer_change(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Two `batch_layers` tables side by side (same batch size): layer, before, after (bytes)
    and ratio (after / before)."""
    t = before.set_index("layer")[["bytes"]].join(
        after.set_index("layer")[["bytes"]], lsuffix="_before", rsuffix="_after"
    )
    t.columns = ["before", "after"]
    t["ratio"] = t["after"] / t["before"]
    return t.reset_index()


COUNTER_FINDINGS = {  # shared by layer_findings and byte_findings: both read these counters
    "no_counters": (
        "Spark's Python byte counters for this job came back incomplete (its UI listener did "
        "not answer in time): run the cell again."
    ),
}

LAYER_FINDINGS = {
    "copies": (
        "On pyspark {pyspark} a {raw_mib:.2f} MiB batch's pandas columns are {pandas} its Arrow "
        "buffers: the model's matrix is the {nth} copy in Python."
    ),
}
# layer_findings' phrases, by the `memory` batch_layers measured for the pandas columns
LAYER_PANDAS = {"view": ("views over", "first"), "new": ("copies of", "second")}


def layer_findings(layers: pd.DataFrame, batch_rows: int) -> list[Finding]:
    """Whether this pyspark's pandas columns are views over the Arrow buffers or copies (`memory`
    of `batch_layers`), so which copy of the batch (MiB of raw feature values) the model's matrix
    is; says so when the socket layers read no bytes."""
    import pyspark

    memory = layers.set_index("layer")["memory"]
    kind = "view" if memory.get("Python: pandas columns") == "view" else "new"
    pandas, nth = LAYER_PANDAS[kind]
    out = [
        finding(
            LAYER_FINDINGS,
            "copies",
            pyspark=pyspark.__version__,
            raw_mib=batch_rows * N_FEATURES * 8 / 2**20,
            pandas=pandas,
            nth=nth,
            memory=kind,
        )
    ]
    socket = layers.loc[layers["layer"].str.contains("socket"), "bytes"]
    if not (socket.fillna(0) > 0).all():
        out.append(finding(COUNTER_FINDINGS, "no_counters"))
    return out


CHANGE_FINDINGS = {
    "moved": (
        "Your change moved {moved} of {n} layers by more than {band:.0%} (the byte metric's "
        "rounding), *{layer}* most: {before:,.0f} -> {after:,.0f} bytes per batch ({ratio:.2f}x)."
    ),
}


def change_findings(change: pd.DataFrame, band: float = 0.05) -> list[Finding]:
    """How many layers moved beyond `band` (relative) between two `batch_layers` runs (from
    `layer_change`), and the layer that moved most (bytes per batch before and after)."""
    ratio = change["ratio"].astype(float)
    moved = int(((ratio - 1).abs() > band).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        size = pd.Series(np.abs(np.log(ratio.to_numpy())), index=change.index)
    top = change.loc[size.fillna(-1.0).idxmax()]  # a ratio of nan (0 bytes before) moves least
    return [
        finding(
            CHANGE_FINDINGS,
            "moved",
            moved=moved,
            n=len(change),
            layer=top["layer"],
            before=top["before"],
            after=top["after"],
            ratio=top["ratio"],
            band=band,
        )
    ]


NO_PYTHON = "(none: runs in the JVM)"


def operator_table(spark, rows: int, names: list[str]) -> pd.DataFrame:
    """For each scenario: the Python-related physical operators found in its executed plan, and
    `as_expected`: whether that is the operator its scenario expects (computed here)."""
    out = []
    for name in names:
        frame = scenario_frame(spark, name, rows=rows)
        ops, found = physical_operators(frame), python_operators(frame)
        out.append(
            {
                "scenario": name,
                "expected": get_scenario(name).operator,
                "python_operator": ", ".join(found) or NO_PYTHON,
                "plan": " <- ".join(ops),
            }
        )
    table = pd.DataFrame(out, columns=["scenario", "expected", "python_operator", "plan"])
    table["as_expected"] = table.apply(_planned_as_expected, axis=1) if out else []
    return table


OPERATOR_FINDINGS = {
    "paths": (
        "{n_python} of {n} paths run a Python operator (JVM only: {jvm}); {n_ok} of {n} planned "
        "their scenario's operator{notes}."
    ),
}


def _planned_as_expected(row) -> bool:
    if row["python_operator"] == NO_PYTHON:
        return row["expected"] in row["plan"].split(" <- ")
    return any(operator_matches(row["expected"], o) for o in row["python_operator"].split(", "))


def operator_findings(ops: pd.DataFrame) -> list[Finding]:
    """How many paths run through a Python operator (naming those that stay in the JVM) and how
    many planned the one their scenario expects, naming the operators this Spark names differently
    and the paths that planned another; `ops` from `operator_table`."""
    in_jvm = ops.loc[ops["python_operator"] == NO_PYTHON, "scenario"].tolist()
    n = len(ops)
    ok = ops.apply(_planned_as_expected, axis=1) if n else pd.Series(dtype=bool)
    mismatches = "; ".join(
        f"`{r.scenario}` planned {r.python_operator}, not `{r.expected}`"
        for r in ops[~ok].itertuples()
    )
    named = ops[ok & (ops["python_operator"] != NO_PYTHON)]
    renamed = named[named["python_operator"] != named["expected"]]
    pairs = renamed[["python_operator", "expected"]].drop_duplicates()
    renamed_text = ", ".join(f"`{a}` for `{b}`" for a, b in pairs.itertuples(index=False))
    notes = [f"this Spark's names: {renamed_text}"] if renamed_text else []
    notes += [mismatches] if mismatches else []
    return [
        finding(
            OPERATOR_FINDINGS,
            "paths",
            n_python=n - len(in_jvm),
            n=n,
            jvm=", ".join(f"`{x}`" for x in in_jvm) or "none",
            n_ok=int(ok.sum()),
            notes=f" ({'; '.join(notes)})" if notes else "",
            renamed=renamed_text,
            mismatches=mismatches,
        )
    ]


# ---- the processes of a job and Spark's byte counters --------------------------------------------


def process_summary(samples: pd.DataFrame) -> pd.DataFrame:
    """Per sampled process (index role, pid): peak RSS in MiB and CPU seconds used while sampled,
    from `ProcessSampler.samples`."""
    g = samples.groupby(["role", "pid"])
    summary = pd.DataFrame(
        {
            "peak_rss_mib": g["rss_bytes"].max() / 2**20,
            "cpu_s": g["cpu_s"].max() - g["cpu_s"].min(),
        }
    )
    return summary.round(2)


def worker_reuse(spark) -> bool:
    """spark.python.worker.reuse of the running session (Spark's default: true)."""
    return spark.sparkContext.getConf().get("spark.python.worker.reuse", "true").lower() == "true"


PROCESS_FINDINGS = {
    "workers": (
        "{workers} Python workers ran beside the JVM on {cores} cores (largest {worker_mib:,.0f} "
        "MiB RSS), each with its own model, {reuse}."
    ),
    "no_workers": (
        "The sampler saw no Python worker, only the JVM (peak {jvm_mib:,.0f} MiB RSS, {cores} "
        "cores): the job ran between two samples; run the cell again."
    ),
}
# process_findings' phrase, by spark.python.worker.reuse (`worker_reuse`)
PROCESS_REUSE = {
    True: "kept for the next task (`spark.python.worker.reuse=true`)",
    False: "reloaded by every task (`spark.python.worker.reuse=false`)",
}


def process_findings(samples: pd.DataFrame, cores: int, reuse: bool = True) -> list[Finding]:
    """Distinct Python workers seen, peak RSS (MiB) of the largest worker and whether its model
    outlives the task (`worker_reuse`); when the sampler saw no worker, the JVM's peak and why.
    From `ProcessSampler.samples` and the cores Spark has."""
    workers = samples.loc[samples["role"] == "python_worker"]
    jvm_mib = samples.loc[samples["role"] == "jvm", "rss_bytes"].max() / 2**20
    n = workers["pid"].nunique()
    if not n:
        return [finding(PROCESS_FINDINGS, "no_workers", cores=cores, jvm_mib=jvm_mib)]
    return [
        finding(
            PROCESS_FINDINGS,
            "workers",
            workers=n,
            cores=cores,
            worker_mib=workers["rss_bytes"].max() / 2**20,
            reuse=PROCESS_REUSE[bool(reuse)],
            jvm_mib=jvm_mib,
        )
    ]


BYTE_FINDINGS = {
    "sent": (
        "{sent_mib:.1f} MiB went to the workers for {raw_mib:.1f} MiB of raw features "
        "({ratio:.2f}x): validity bitmaps, written even without nulls, are {bitmap_mib:.2f} of "
        "{extra_mib:.2f} MiB extra."
    ),
    "sent_rounded": (
        "{sent_mib:.1f} MiB went to the workers for {raw_mib:.1f} MiB of raw features; "
        "±{round_mib:.2f} MiB metric rounding hides the extra; validity bitmaps alone add "
        "{bitmap_mib:.2f} MiB."
    ),
}


def metric_rounding(nbytes: float) -> float:
    """Half the last digit Spark shows for a size metric of `nbytes` (one decimal in B, KiB,
    MiB, ...): the most the shown value can be off, in bytes."""
    unit = 1024 ** int(np.floor(np.log(max(nbytes, 1.0)) / np.log(1024)))
    return 0.05 * unit


def byte_findings(metrics: pd.DataFrame, rows: int, batch_rows: int) -> list[Finding]:
    """MiB Spark counted towards the workers vs the raw feature bytes (rows x 16 x 8), and how
    much of the extra the JVM's validity bitmaps explain (batches of `batch_rows`), or that the
    metric's rounding hides the extra; `metrics` from `python_metrics` of one job."""
    sent = metrics.loc[metrics["metric"] == "data sent to Python workers", "bytes"].sum()
    if not sent > 0:
        return [finding(COUNTER_FINDINGS, "no_counters")]
    raw = rows * N_FEATURES * 8
    full, last = divmod(rows, min(batch_rows, rows))
    bitmaps = full * validity_bytes(min(batch_rows, rows)) + (validity_bytes(last) if last else 0)
    rounding = metric_rounding(sent)
    values = dict(sent_mib=sent / 2**20, raw_mib=raw / 2**20, bitmap_mib=bitmaps / 2**20)
    if sent - raw > 4 * rounding:  # the extra is known to within a quarter of itself
        return [
            finding(
                BYTE_FINDINGS, "sent", ratio=sent / raw, extra_mib=(sent - raw) / 2**20, **values
            )
        ]
    return [finding(BYTE_FINDINGS, "sent_rounded", round_mib=rounding / 2**20, **values)]


# ---- the sockets between the processes ----------------------------------------------------------


def _endpoint(addr) -> tuple[str, int]:
    ip = addr.ip[7:] if addr.ip.startswith("::ffff:") else addr.ip  # IPv4-mapped IPv6 -> IPv4
    return ip, addr.port


def socket_table(spark) -> pd.DataFrame:
    """The TCP sockets the session's processes hold now (the JVM, pyspark.daemon, the Python
    workers, and this Python process's py4j connections), read from the OS with psutil. Each
    established connection is matched with the process at its other end. Columns: pid, role,
    local_port, remote_port, status, peer_pid, peer_role, purpose."""
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
    # an accepted socket shares its local port with the listener: key a connection by both ends
    owner = {(local, remote): pid for pid, _, local, remote, status in conns if remote}
    # py4j's callback server: a port this process listens on that a JVM connected to
    me = os.getpid()
    listening = {lo[1] for pid, _, lo, _, st in conns if pid == me and st == "LISTEN"}
    ports["callback"] = {
        lo[1] for pid, _, lo, re, _ in conns
        if pid == me and re and lo[1] in listening and roles.get(owner.get((re, lo))) == "jvm"
    }  # fmt: skip
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


SOCKET_FINDINGS = {
    "workers": "{workers} Python workers hold {sockets} established sockets{where}.",
    "py4j": (
        "This notebook's own process holds {py4j} py4j connections to the JVM: they drive the "
        "plan, but no scored row passes through them."
    ),
}
# socket_findings' phrase for where the workers' sockets sit
SOCKET_WHERE = {
    "forked": (
        ", all on local port {port}: the daemon's listening port, inherited when it forked them"
    ),
    "other": ", on local ports {ports} (the daemon listens on {listen})",
    "none": " (none is connected now)",
}


def _ports(values) -> str:
    return ", ".join(str(int(x)) for x in sorted(set(values))) or "-"


def socket_findings(socks: pd.DataFrame) -> list[Finding]:
    """Which local ports the workers' sockets use (the daemon's, when forked from it) and how
    many connections this Python process holds to the JVM; `socks` from `socket_table`."""
    est = socks[socks["status"] == "ESTABLISHED"]
    data = est[est["role"] == "python_worker"]
    listen = socks.loc[(socks["role"] == "daemon") & (socks["status"] == "LISTEN"), "local_port"]
    workers = data["pid"].nunique()
    forked = (
        len(data) == workers
        and (data["peer_role"] == "jvm").all()
        and len(set(listen)) == 1
        and set(data["local_port"]) == set(listen)
    )
    kind = "none" if not workers else "forked" if forked else "other"
    where = SOCKET_WHERE[kind].format(
        port=_ports(listen), ports=_ports(data["local_port"]), listen=_ports(listen)
    )
    mine = est[(est["role"] == "this Python (driver side)") & (est["peer_role"] == "jvm")]
    return [
        finding(
            SOCKET_FINDINGS, "workers", workers=workers, sockets=len(data), where=where, kind=kind
        ),
        finding(SOCKET_FINDINGS, "py4j", py4j=len(mine)),
    ]


def _purpose(role, peer_role, local, remote, status, ports) -> str:
    if role == "daemon" and status == "LISTEN":
        return "the daemon waits here for the JVM to ask for a new worker (pyspark/daemon.py)"
    if {role, peer_role} == {"jvm", "python_worker"}:
        return (
            "one worker's data socket: Arrow/pickled batches to and from a task "
            "(PythonRunner.scala)"
        )
    if ports["gateway"] in (local, remote) and "this Python (driver side)" in (role, peer_role):
        return "py4j: this Python process driving the JVM (the DataFrame API calls)"
    if "this Python (driver side)" in (role, peer_role) and "jvm" in (role, peer_role):
        return "py4j callback: the JVM calling back into this Python process"
    if role == "this Python (driver side)" and status == "LISTEN":
        if local in ports.get("callback", ()):
            return "py4j callback server of this Python process"
        return "a port this process listens on for something else (e.g. Jupyter's kernel channels)"
    if role == "jvm" and status == "LISTEN":
        return {
            ports["ui"]: "Spark UI",
            ports["gateway"]: "py4j gateway server",
            ports["rpc"]: "driver RPC (spark.driver.port)",
        }.get(local, "JVM service (block manager, callbacks, ...)")
    return "other"

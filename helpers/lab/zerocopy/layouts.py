"""Notebook 03, layouts: one array<double> column vs 16 double columns, by buffer address (does the
worker's matrix share Arrow's memory?) and by time (the JVM's Arrow writer per layout).
`layout_findings` says what the three results found (templates in LAYOUT_FINDINGS).
"""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.core.config import LabError
from helpers.core.findings import Finding, finding
from helpers.core.session import conf_scope
from helpers.core.validate import require_positive
from helpers.inference.scenarios import BATCH_CONF, input_frame, rowmajor_view, scenario_frame
from helpers.lab.zerocopy.buffers import copied_bytes, feature_matrix_cols, shares_with
from helpers.lab.zerocopy.ledger import JvmArrow, median_time
from helpers.measure.timing import reference_predictions, time_noop
from helpers.model.data import N_FEATURES, feature_names

STACK_LAYOUT = "16 double columns -> np.column_stack"
VIEW_LAYOUT = "array<double> column -> values.reshape"
COLUMNS_RUN = "16 double columns (column_stack)"
ARRAY_RUN = "array<double> column (view)"


def inspect_array_batches(batches, width: int):
    """mapInArrow function for verification: per batch, whether the matrix handed to the model
    is a view of the Arrow values buffer (address test) and its C-contiguity."""
    for batch in batches:
        arr = batch.column("features")
        X = rowmajor_view(arr, width)
        yield pa.RecordBatch.from_pydict(
            {
                "rows": [len(arr)],
                "shared": [bool(shares_with(X, arr))],
                "c_contiguous": [bool(X.flags["C_CONTIGUOUS"])],
                "matrix_address": [int(X.__array_interface__["data"][0])],
                "values_address": [
                    int(arr.flatten().buffers()[1].address + arr.flatten().offset * 8)
                ],
            }
        )


def verify_array_zero_copy(spark, df, n_features: int = N_FEATURES) -> pd.DataFrame:
    """Run the verification function inside the Python workers: one row per batch."""
    schema = (
        "rows long, shared boolean, c_contiguous boolean, matrix_address long, values_address long"
    )
    return df.mapInArrow(lambda it: inspect_array_batches(it, n_features), schema).toPandas()


def stacking_vs_view(rows: int, n_features: int = N_FEATURES, repeats: int = 5) -> pd.DataFrame:
    """In-process, one batch: the naive matrix (np.column_stack of the columns) against the view
    of an array column's values buffer. Seconds (median), bytes copied and address verdict."""
    cols = feature_matrix_cols(rows, n_features)
    batch = pa.RecordBatch.from_arrays([pa.array(c) for c in cols], names=feature_names(n_features))
    flat = np.column_stack(cols).ravel()
    lists = pa.FixedSizeListArray.from_arrays(pa.array(flat), n_features)
    lists = pa.ListArray.from_arrays(
        pa.array(np.arange(0, rows * n_features + 1, n_features, dtype=np.int32)), lists.flatten()
    )
    s1, X1 = median_time(
        lambda: np.column_stack([batch.column(i).to_numpy() for i in range(n_features)]), repeats
    )
    s2, X2 = median_time(lambda: rowmajor_view(lists, n_features), repeats)
    if not np.array_equal(X1, X2):
        raise LabError(
            "The two layouts disagree: the array column was not built from the same rows."
        )
    return pd.DataFrame(
        [
            {
                "layout": STACK_LAYOUT,
                "rows": rows,
                "seconds": s1,
                "copied_bytes": copied_bytes(X1, batch),
                "shared": shares_with(X1, batch),
                "c_contiguous": X1.flags["C_CONTIGUOUS"],
            },
            {
                "layout": VIEW_LAYOUT,
                "rows": rows,
                "seconds": s2,
                "copied_bytes": copied_bytes(X2, lists),
                "shared": shares_with(X2, lists),
                "c_contiguous": X2.flags["C_CONTIGUOUS"],
            },
        ]
    )


def jvm_write_seconds(spark, df, batch_rows: int, repeats: int = 3) -> tuple[float, int]:
    """Seconds per batch the JVM spends turning `df`'s rows, wrapped as one struct like
    MapInBatchExec does, into Arrow IPC bytes (ArrowConverters via py4j), and the batch's bytes."""
    from pyspark.sql import functions as F

    jvm = JvmArrow(spark)
    sent = df.select(F.struct(*df.columns).alias("struct"))
    secs, _, message = jvm.to_arrow(jvm.rows_of(sent), sent._jdf.schema(), batch_rows, repeats)
    return secs, len(message)


def array_vs_columns(spark, rows: int, repeats: int = 3, batch_size: int = 10_000) -> pd.DataFrame:
    """End to end on Spark: mapInArrow with 16 double columns (np.column_stack) vs mapInArrow with
    one array<double> column (view). Median wall seconds, rows/s, parity with the reference, and
    the JVM's own cost of writing one batch (batch_rows rows) of each layout to Arrow (seconds,
    bytes)."""

    ref = reference_predictions(rows)
    arr_df = input_frame(spark, rows, layout="array")
    out = []
    with conf_scope(spark, {BATCH_CONF: require_positive("batch size", batch_size)}):
        for label, src, make in (
            (
                COLUMNS_RUN,
                input_frame(spark, rows),
                lambda: scenario_frame(spark, "map_in_arrow", rows=rows),
            ),
            (
                ARRAY_RUN,
                arr_df,
                lambda: scenario_frame(spark, "map_in_arrow_rowmajor", df=arr_df),
            ),
        ):
            time_noop(make())  # warm-up
            walls = [time_noop(make()) for _ in range(repeats)]
            pred = make().toPandas().sort_values("id")["prediction"].to_numpy()
            wall = statistics.median(walls)
            jvm_s, jvm_bytes = jvm_write_seconds(spark, src, min(batch_size, rows), repeats)
            out.append(
                {
                    "layout": label,
                    "rows": rows,
                    "wall_s": wall,
                    "rows_per_s": rows / wall,
                    "rows_per_s_min": rows / max(walls),
                    "rows_per_s_max": rows / min(walls),
                    "max_abs_diff": float(np.max(np.abs(pred - ref))),
                    "batch_rows": min(batch_size, rows),
                    "jvm_write_s_per_batch": jvm_s,
                    "jvm_batch_bytes": jvm_bytes,
                }
            )
    return pd.DataFrame(out)


# ---- findings: what this run's layouts say ------------------------------------------------------

LAYOUT_FINDINGS = {
    "view": "Stacking {rows:,} rows copied {stack_bytes:,} bytes in {stack_ms:.3f} ms, the view "
    "{view_bytes:,} in {view_us:.1f} µs; inside the workers {shared} of {batches} batches handed "
    "the model a view (C-contiguous: {c_contiguous}).",
    "array": "End to end the array column ran {array_rps:,.0f} rows/s (runs {array_lo:,.0f}.."
    "{array_hi:,.0f}), {features} columns {columns_rps:,.0f} ({columns_lo:,.0f}..{columns_hi:,.0f})"
    ": {verdict} (wall time per row {delta_us:+.2f} µs with the array); the copy it skips costs "
    "{copy_us:.2f} µs per row in one process.",
}
# the array layout against the columns, by whether the runs' ranges overlap
ARRAY_VERDICTS = {
    "faster": "the array layout is faster",
    "slower": "the array layout is slower, its saved copy outweighed (see the JVM write column)",
    "same": "the ranges overlap, no winner in this run",
}


def layout_findings(
    inproc: pd.DataFrame, checks: pd.DataFrame, runs: pd.DataFrame, n_features: int = N_FEATURES
) -> list[Finding]:
    """Two findings: `stacking_vs_view` (bytes copied, ms / µs) with the workers' address checks
    of `verify_array_zero_copy`; `array_vs_columns` end to end (rows/s, the runs' range): the array
    layout faster or slower only when the ranges do not overlap, else no winner (ARRAY_VERDICTS),
    with the wall time per row it changed beside the copy it skips. The JVM's write time and
    parity are columns of `runs`."""
    ip, lay = inproc.set_index("layout"), runs.set_index("layout")
    stack, view = ip.loc[STACK_LAYOUT], ip.loc[VIEW_LAYOUT]
    cols, arr = lay.loc[COLUMNS_RUN], lay.loc[ARRAY_RUN]
    if arr["rows_per_s_min"] > cols["rows_per_s_max"]:
        verdict = "faster"
    elif arr["rows_per_s_max"] < cols["rows_per_s_min"]:
        verdict = "slower"
    else:
        verdict = "same"
    return [
        finding(
            LAYOUT_FINDINGS,
            "view",
            rows=int(stack["rows"]),
            stack_bytes=int(stack["copied_bytes"]),
            stack_ms=stack["seconds"] * 1e3,
            view_bytes=int(view["copied_bytes"]),
            view_us=view["seconds"] * 1e6,
            shared=int(checks["shared"].sum()),
            batches=len(checks),
            c_contiguous=bool(checks["c_contiguous"].all()),
        ),
        finding(
            LAYOUT_FINDINGS,
            "array",
            verdict=ARRAY_VERDICTS[verdict],
            columns_rps=cols["rows_per_s"],
            columns_lo=cols["rows_per_s_min"],
            columns_hi=cols["rows_per_s_max"],
            array_rps=arr["rows_per_s"],
            array_lo=arr["rows_per_s_min"],
            array_hi=arr["rows_per_s_max"],
            features=n_features,
            delta_us=(1 / arr["rows_per_s"] - 1 / cols["rows_per_s"]) * 1e6,
            copy_us=stack["seconds"] / stack["rows"] * 1e6,
        ),
    ]

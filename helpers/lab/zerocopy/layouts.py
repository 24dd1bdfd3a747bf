"""Notebook 03, layouts: one array<double> column vs 16 double columns, by buffer address (does the
worker's matrix share Arrow's memory?) and by time (the JVM's Arrow writer per layout).
"""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.core.config import LabError
from helpers.lab.zerocopy.buffers import copied_bytes, feature_matrix_cols, shares_with
from helpers.lab.zerocopy.ledger import _JvmArrow, _median_time
from helpers.measure.timing import reference_predictions, set_batch_size, time_noop
from helpers.model.data import N_FEATURES, feature_names
from helpers.paths.scenarios import input_frame, rowmajor_view, scenario_frame


def check_array_batches(batches, width: int):
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
    return df.mapInArrow(lambda it: check_array_batches(it, n_features), schema).toPandas()


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
    s1, X1 = _median_time(
        lambda: np.column_stack([batch.column(i).to_numpy() for i in range(n_features)]), repeats
    )
    s2, X2 = _median_time(lambda: rowmajor_view(lists, n_features), repeats)
    if not np.array_equal(X1, X2):
        raise LabError(
            "The two layouts disagree: the array column was not built from the same rows."
        )
    return pd.DataFrame(
        [
            {
                "layout": "16 double columns -> np.column_stack",
                "seconds": s1,
                "copied_bytes": copied_bytes(X1, batch),
                "shared": shares_with(X1, batch),
                "c_contiguous": X1.flags["C_CONTIGUOUS"],
            },
            {
                "layout": "array<double> column -> values.reshape",
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

    jvm = _JvmArrow(spark)
    sent = df.select(F.struct(*df.columns).alias("struct"))
    secs, _, message = jvm.to_arrow(jvm.rows_of(sent), sent._jdf.schema(), batch_rows, repeats)
    return secs, len(message)


def array_vs_columns(spark, rows: int, repeats: int = 3, batch_size: int = 10_000) -> pd.DataFrame:
    """End to end on Spark: mapInArrow with 16 double columns (np.column_stack) vs mapInArrow with
    one array<double> column (view). Median wall seconds, rows/s, parity with the reference, and
    the JVM's own cost of writing one batch of each layout to Arrow (seconds, bytes)."""

    previous_batch = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    set_batch_size(spark, batch_size)
    ref = reference_predictions(rows)
    arr_df = input_frame(spark, rows, layout="array")
    out = []
    try:
        for label, src, make in (
            (
                "16 double columns (column_stack)",
                input_frame(spark, rows),
                lambda: scenario_frame(spark, "map_in_arrow", rows=rows),
            ),
            (
                "array<double> column (view)",
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
                    "max_abs_diff": float(np.max(np.abs(pred - ref))),
                    "jvm_write_s_per_batch": jvm_s,
                    "jvm_batch_bytes": jvm_bytes,
                }
            )
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", previous_batch)
    return pd.DataFrame(out)

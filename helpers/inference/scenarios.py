"""One registry of inference paths over the same DataFrame and the same model.

Every path turns the input table (`id`, `f0..f15`) into (`id`, `prediction`). The model travels
the way a careful user ships it: its native text in a Spark broadcast, parsed into a
`lightgbm.Booster` once per Python worker process (module-level cache below), never re-pickled
per row. SynapseML loads the same text into the JVM and scores there (no Python worker).

Physical operators (`explain()`; `Scenario.operator`, matched by `metrics.operator_matches`):
  row_udf -> BatchEvalPython; arrow_udf, pandas_udf, iter_pandas_udf, pyarrow_udf ->
  ArrowEvalPython; default_udf -> either, as its Spark's conf decides; map_in_pandas ->
  MapInPandas; map_in_arrow, map_in_arrow_rowmajor, map_in_arrow_files -> MapInArrow (printed
  PythonMapInArrow by 3.5); synapseml -> Project.

A user's own path (notebook 00 writes every path on the page) is timed beside these through
`user_path(build, like=name)`: the same input layout and metadata as `name`.
`tests/inference/test_notebook_paths.py` runs notebook 00's definitions beside this registry (same
predictions, same physical operator), so the page and the CLI cannot drift apart.

`map_in_arrow_files` is the counter-experiment: its input is one (file, row range) per task and
the Python task memory-maps its rows from a row-major Arrow file, so no feature crosses the JVM.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterator, Tuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyspark.sql.functions as _functions

from helpers.core.config import LINE, LabError
from helpers.core.jars import require_synapseml_jars
from helpers.core.session import session_key
from helpers.core.validate import require_positive
from helpers.model.cache import worker_booster
from helpers.model.data import (
    N_FEATURES,
    ensure_features,
    ensure_features_arrow,
    feature_names,
    model_text,
    predict,
)

OUTPUT_SCHEMA = "id long, prediction double"
BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"
SPLITS_SCHEMA = "path string, lo long, hi long"

# ---- worker side: one Booster per Python worker process -------------------------------------


def _model_value(model):
    """A broadcast's value on the worker, or the text itself when passed directly."""
    return model.value if hasattr(model, "value") else model


# ---- the paths --------------------------------------------------------------------------------


def _feature_cols(df):
    return [c for c in df.columns if c.startswith("f") and c[1:].isdigit()]


def _row_udf(df, model, use_arrow: bool):
    from pyspark.sql.functions import udf

    # A named first argument matters: Spark 3.5 falls back to pickling for `useArrow=True` when
    # the function has no named positional argument, with a UserWarning "Arrow optimization for
    # Python UDFs cannot be enabled." (pyspark/sql/udf.py, `_create_py_udf`); 4.x has no such
    # fallback.
    def predict_row(first, *rest):
        booster = worker_booster(_model_value(model))
        x = np.asarray((first, *rest), dtype=np.float64).reshape(1, -1)
        return float(predict(booster, x)[0])

    f = udf(predict_row, "double", useArrow=use_arrow)
    return df.select("id", f(*_feature_cols(df)).alias("prediction"))


def build_row_udf(df, model):
    return _row_udf(df, model, use_arrow=False)


def build_arrow_udf(df, model):
    return _row_udf(df, model, use_arrow=True)


def build_default_udf(df, model):
    """`@udf` as most code writes it, without `useArrow`: its eval type (pickled rows or Arrow) is
    fixed at creation from `spark.sql.execution.pythonUDF.arrow.enabled`; the plan shows which."""
    from pyspark.sql.functions import udf

    def predict_row(first, *rest):
        booster = worker_booster(_model_value(model))
        x = np.asarray((first, *rest), dtype=np.float64).reshape(1, -1)
        return float(predict(booster, x)[0])

    f = udf(predict_row, "double")
    return df.select("id", f(*_feature_cols(df)).alias("prediction"))


def build_pyarrow_udf(df, model):
    """`@arrow_udf` (pyspark 4.1+): pyarrow arrays in and out, no pandas on the worker."""
    from pyspark.sql.functions import arrow_udf

    @arrow_udf("double")
    def predict_arrays(*cols: pa.Array) -> pa.Array:
        booster = worker_booster(_model_value(model))
        X = np.column_stack([c.to_numpy(zero_copy_only=False) for c in cols])
        return pa.array(predict(booster, X))

    return df.select("id", predict_arrays(*_feature_cols(df)).alias("prediction"))


def build_pandas_udf(df, model):
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("double")
    def predict_series(*cols: pd.Series) -> pd.Series:
        booster = worker_booster(_model_value(model))
        return pd.Series(predict(booster, np.column_stack(cols)))

    return df.select("id", predict_series(*_feature_cols(df)).alias("prediction"))


def build_iter_pandas_udf(df, model):
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("double")
    def predict_batches(batches: Iterator[Tuple[pd.Series, ...]]) -> Iterator[pd.Series]:
        booster = worker_booster(_model_value(model))  # once per task
        for cols in batches:
            yield pd.Series(predict(booster, np.column_stack(cols)))

    return df.select("id", predict_batches(*_feature_cols(df)).alias("prediction"))


def build_map_in_pandas(df, model):
    feats = _feature_cols(df)

    def predict_frames(frames):
        booster = worker_booster(_model_value(model))
        for pdf in frames:
            yield pd.DataFrame(
                {"id": pdf["id"], "prediction": predict(booster, pdf[feats].to_numpy())}
            )

    return df.mapInPandas(predict_frames, OUTPUT_SCHEMA)


def build_map_in_arrow(df, model):
    feats = _feature_cols(df)

    def predict_batches(batches):
        import pyarrow as pa

        booster = worker_booster(_model_value(model))
        for batch in batches:
            X = np.column_stack([batch.column(f).to_numpy(zero_copy_only=False) for f in feats])
            yield pa.RecordBatch.from_arrays(
                [batch.column("id"), pa.array(predict(booster, X))], names=["id", "prediction"]
            )

    return df.mapInArrow(predict_batches, OUTPUT_SCHEMA)


def rowmajor_view(arr, width: int) -> np.ndarray:
    """A (len(arr), width) float64 matrix over a list/fixed-size-list array's values buffer,
    without copying. LabError when the array cannot be viewed that way (nulls, ragged rows)."""
    values = arr.flatten()  # respects the array's offset: a slice of the child, no copy
    if arr.null_count or values.null_count:
        raise LabError(
            "The feature arrays contain nulls: fill them before sending (no view possible)."
        )
    if len(values) != len(arr) * width:
        raise LabError(
            f"Rows are not all {width} long: a ragged list cannot be viewed as a matrix."
        )
    return values.to_numpy(zero_copy_only=True).reshape(len(arr), width)


def build_map_in_arrow_rowmajor(df, model):
    """mapInArrow over an `array<double>` features column: the Arrow list's values buffer is one
    contiguous row-major block, so the model's (rows x 16) matrix is a reshape — no copy, no
    column stacking (checked by address in notebook 03)."""

    def predict_batches(batches):
        import pyarrow as pa

        booster = worker_booster(_model_value(model))
        for batch in batches:
            X = rowmajor_view(batch.column("features"), N_FEATURES)
            yield pa.RecordBatch.from_arrays(
                [batch.column("id"), pa.array(predict(booster, X))], names=["id", "prediction"]
            )

    if "features" not in df.columns:
        df = as_array_layout(df)
    return df.mapInArrow(predict_batches, OUTPUT_SCHEMA)


def build_map_in_arrow_files(df, model):
    """mapInArrow over file splits: each input row is (path, lo, hi), rows [lo, hi) of a row-major
    Arrow IPC file (`ensure_features_arrow`); the task memory-maps the file and predicts on views
    of maxRecordsPerBatch rows. The JVM carries one descriptor per split in and the predictions
    out: no feature value passes through it (the data must sit where every executor can read
    it)."""
    if "path" not in df.columns:
        raise LabError(
            "map_in_arrow_files reads its rows from its own Arrow file: call it with rows=, not a "
            "DataFrame of features (scenarios.file_splits makes its input)."
        )
    batch = int(df.sparkSession.conf.get(BATCH_CONF))

    def predict_splits(splits):
        import pyarrow as pa

        booster = worker_booster(_model_value(model))
        for s in splits:
            for path, lo, hi in zip(*(s.column(c).to_pylist() for c in ("path", "lo", "hi"))):
                with pa.memory_map(path) as source:
                    table = pa.ipc.open_file(source).get_batch(0)
                    for start in range(lo, hi, batch):
                        part = table.slice(start, min(batch, hi - start))
                        X = rowmajor_view(part.column("features"), N_FEATURES)
                        yield pa.RecordBatch.from_arrays(
                            [part.column("id"), pa.array(predict(booster, X))],
                            names=["id", "prediction"],
                        )

    return df.mapInArrow(predict_splits, OUTPUT_SCHEMA)


def as_array_layout(df):
    """(id, f0..f15) -> (id, features array<double>), features in column order."""
    from pyspark.sql import functions as F

    return df.select("id", F.array(*_feature_cols(df)).alias("features"))


def build_synapseml(df, model_str: str):
    from pyspark.ml.feature import VectorAssembler

    require_synapseml_jars()
    try:
        from synapse.ml.lightgbm import LightGBMRegressionModel

        m = LightGBMRegressionModel.loadNativeModelFromString(model_str)
    except Exception as exc:
        raise LabError(
            "SynapseML classes are not on this session's classpath: run `make jars`, then "
            "start the session with helpers.core.session.start_session(synapseml=True)."
        ) from exc
    m = m.setFeaturesCol("features").setPredictionCol("prediction")
    assembled = VectorAssembler(inputCols=_feature_cols(df), outputCol="features").transform(df)
    return m.transform(assembled).select("id", "prediction")


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    operator: str  # the physical operator to look for in explain()
    python_worker: bool
    row_at_a_time: bool
    build: Callable
    layout: str = "columns"  # "columns": f0..f15 doubles; "array": one array<double> column;
    # "files": (path, lo, hi) splits of a row-major Arrow file the Python task reads itself
    offered: bool = True  # False where the installed Spark line lacks it (see `why_not`)
    why_not: str = ""


# Paths that exist on one line only: asked from the installed pyspark (its Python API) and the
# line table (SynapseML's jars), never from a version number typed here.
_HAS_ARROW_UDF = hasattr(_functions, "arrow_udf")
_WHY_NOT_ARROW_UDF = "pyspark.sql.functions has no `arrow_udf` in this pyspark (it came in 4.1)."
_WHY_NOT_SYNAPSEML = (
    f"SynapseML has no build for {LINE.label} on Maven Central (its Spark 4 jars are published "
    "only to Microsoft's own repository), so this line has no JVM-native scoring path."
)

ALL_SCENARIOS: list[Scenario] = [
        Scenario("row_udf", "row @udf(useArrow=False) (pickle)", "BatchEvalPython", True, True,
                 build_row_udf),
        Scenario(
            "arrow_udf", "@udf(useArrow=True)", "ArrowEvalPython", True, True, build_arrow_udf
        ),
        Scenario(
            "pandas_udf",
            "@pandas_udf Series->Series",
            "ArrowEvalPython",
            True,
            False,
            build_pandas_udf,
        ),
        Scenario(
            "iter_pandas_udf",
            "@pandas_udf Iterator",
            "ArrowEvalPython",
            True,
            False,
            build_iter_pandas_udf,
        ),
        Scenario("map_in_pandas", "mapInPandas", "MapInPandas", True, False, build_map_in_pandas),
        Scenario("map_in_arrow", "mapInArrow", "MapInArrow", True, False, build_map_in_arrow),
        Scenario(
            "map_in_arrow_rowmajor",
            "mapInArrow, row-major array input",
            "MapInArrow",
            True,
            False,
            build_map_in_arrow_rowmajor,
            layout="array",
        ),
        Scenario(
            "map_in_arrow_files",
            "mapInArrow over file splits (Python memory-maps the rows; no features via the JVM)",
            "MapInArrow",
            True,
            False,
            build_map_in_arrow_files,
            layout="files",
        ),
        Scenario(
            "synapseml", "SynapseML LightGBM (JVM, JNI)", "Project", False, False, build_synapseml,
            offered=LINE.synapseml, why_not=_WHY_NOT_SYNAPSEML,
        ),
        Scenario(
            "default_udf", "@udf as written (no useArrow)", "EvalPython", True, True,
            build_default_udf,
        ),
        Scenario(
            "pyarrow_udf", "@arrow_udf (pyarrow arrays)", "ArrowEvalPython", True, False,
            build_pyarrow_udf, offered=_HAS_ARROW_UDF, why_not=_WHY_NOT_ARROW_UDF,
        ),
]  # fmt: skip

SCENARIOS: dict[str, Scenario] = {s.name: s for s in ALL_SCENARIOS if s.offered}
NOT_OFFERED: dict[str, str] = {s.name: s.why_not for s in ALL_SCENARIOS if not s.offered}

ARROW_SCENARIOS = (
    "pandas_udf",
    "iter_pandas_udf",
    "map_in_pandas",
    "map_in_arrow",
    "map_in_arrow_rowmajor",
)


def get_scenario(name) -> Scenario:
    """The scenario called `name` (a Scenario, e.g. from `user_path`, is returned as it is), or a
    one-line LabError listing the known names."""
    if isinstance(name, Scenario):
        return name
    if name in NOT_OFFERED:
        raise LabError(f"Scenario {name!r} is not offered on {LINE.label}: {NOT_OFFERED[name]}")
    try:
        return SCENARIOS[name]
    except KeyError:
        raise LabError(f"Unknown scenario {name!r}: use one of {', '.join(SCENARIOS)}.") from None


def user_path(build: Callable, like: str, name: str | None = None) -> Scenario:
    """A path written by the user, timed like the registry's path `like`: `build(df)` turns the
    input DataFrame (`like`'s layout: `id, f0..f15`; `id, features` for the row-major path;
    `path, lo, hi` splits for the file path) into (`id`, `prediction`), its model captured by the
    user's own broadcast. Named `like` unless `name` is given (a variant timed beside it)."""
    base = get_scenario(like)
    if not callable(build):
        raise LabError(f"user_path needs a function df -> DataFrame, got {type(build).__name__}.")
    return replace(base, name=name or base.name, build=lambda df, model: build(df))


def parse_scenarios(text: str | None) -> list[str]:
    """'a,b' -> ['a', 'b'] checked against the registry; None or 'all' -> every scenario."""
    if not text or text == "all":
        return list(SCENARIOS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    for n in names:
        get_scenario(n)
    return names


# ---- driver side: the shared input and the shipped model --------------------------------------

_INPUTS: dict = {}
_MODELS: dict = {}


def input_frame(spark, rows: int, n_features: int = N_FEATURES, layout: str = "columns"):
    """The cached input DataFrame of `rows` rows, split evenly over the default parallelism.
    layout="columns": id, f0..f15 (doubles); layout="array": id, features (array<double>);
    layout="files": `file_splits` (nothing cached: the rows stay in their Arrow file)."""
    require_positive("rows", rows)
    if layout not in ("columns", "array", "files"):
        raise LabError(f"Unknown layout {layout!r}: use 'columns', 'array' or 'files'.")
    if layout == "files":
        return file_splits(spark, rows)

    key = (session_key(spark), rows, n_features, layout)
    df = _INPUTS.get(key)
    if df is None:
        for old in [k for k in _INPUTS if k[:3] != key[:3]]:
            stale = _INPUTS.pop(old)
            if old[0] == key[0]:  # same session, other size: free its cache
                stale.unpersist()
        path = ensure_features(rows, n_features)
        n = max(1, spark.sparkContext.defaultParallelism)
        df = spark.read.parquet(str(path)).repartition(n)
        if layout == "array":
            df = as_array_layout(df)
        df = df.cache()
        df.count()
        _INPUTS[key] = df
    return df


def file_splits(spark, rows: int, first: int | None = None):
    """The input of `map_in_arrow_files`: one row (path, lo, hi) per partition (the default
    parallelism), together covering rows [0, first or rows) of the row-major Arrow file of `rows`
    rows, written once by `ensure_features_arrow`."""
    require_positive("rows", rows)
    path = str(ensure_features_arrow(rows))
    n = max(1, spark.sparkContext.defaultParallelism)
    bounds = np.linspace(0, min(first or rows, rows), n + 1).astype(int)
    splits = [(path, int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]
    return spark.sparkContext.parallelize(splits, n).toDF(SPLITS_SCHEMA)


def model_broadcast(spark):
    """The model text as a Spark broadcast (one per session)."""

    key = session_key(spark)
    bc = _MODELS.get(key)
    if bc is None:
        _MODELS.clear()
        bc = _MODELS[key] = spark.sparkContext.broadcast(model_text())
    return bc


def scenario_frame(spark, name, df=None, rows: int | None = None, model=None):
    """The DataFrame (`id`, `prediction`) that scores `df` (or the input of `rows` rows) via
    `name` (a registry name or a Scenario), with the kit's model or `model` (a broadcast of a
    model's text; SynapseML, which loads the model into the JVM, is given the text itself)."""
    sc = get_scenario(name)
    if df is None:
        df = input_frame(spark, rows, layout=sc.layout)
    if sc.build is build_synapseml:
        model = model_text() if model is None else getattr(model, "value", model)
    elif model is None:
        model = model_broadcast(spark)
    return sc.build(df, model)


def feature_columns() -> list[str]:
    return feature_names(N_FEATURES)

"""The deterministic synthetic feature table and the LightGBM model.

- Features: `id` (int64) + `f0..f{F-1}` (double), drawn from a seeded generator. The same
  seed gives the same rows on every machine; the first k rows of a bigger table equal a
  table of k rows (the generator fills row-major).
- Extra column kinds (string, array<double>, struct, timestamp, nullable, wide rows) come
  from `make_columns`, for the notebooks that compare types.
- Model: LightGBM regression (100 trees x 31 leaves by default), trained single-threaded with
  `deterministic=True` on its own seeded sample, saved as native text under data/ atomically,
  rebuilt only when missing or when its spec changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from helpers.core.config import DATA_DIR, LabError, atomic_path, atomic_write_bytes
from helpers.core.validate import require_rows
from helpers.model.cache import require_model_text

N_FEATURES = 16
SEED = 20261124


def feature_names(n_features: int = N_FEATURES) -> list[str]:
    return [f"f{i}" for i in range(n_features)]


def feature_matrix(rows: int, n_features: int = N_FEATURES, seed: int = SEED) -> np.ndarray:
    """The (rows x n_features) float64 feature matrix, C-contiguous (row-major)."""
    require_rows(rows)
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, n_features))


def target(X: np.ndarray, seed: int = SEED) -> np.ndarray:
    """A nonlinear target with noise, so the trees have something to learn."""
    rng = np.random.default_rng(seed + 1)
    y = (
        np.sin(X[:, 0]) * 2
        + X[:, 1] * X[:, 2]
        + np.where(X[:, 3] > 0, X[:, 4], -X[:, 5])
        + 0.5 * X[:, 6:].sum(axis=1) / max(1, X.shape[1] - 6)
    )
    return y + 0.1 * rng.standard_normal(len(X))


def feature_frame(rows: int, n_features: int = N_FEATURES, seed: int = SEED) -> pd.DataFrame:
    """The feature table as pandas: `id` then `f0..`."""
    X = feature_matrix(rows, n_features, seed)
    df = pd.DataFrame(X, columns=feature_names(n_features))
    df.insert(0, "id", np.arange(rows, dtype=np.int64))
    return df


ROW_GROUP_ROWS = 256_000  # Parquet row group of the feature files, unless asked otherwise


def features_path(
    rows: int, n_features: int = N_FEATURES, seed: int = SEED, row_group_rows: int | None = None
) -> Path:
    group = "" if row_group_rows in (None, ROW_GROUP_ROWS) else f"_rg{row_group_rows}"
    return DATA_DIR / f"features_{rows}x{n_features}_s{seed}{group}.parquet"


def ensure_features(
    rows: int, n_features: int = N_FEATURES, seed: int = SEED, row_group_rows: int | None = None
) -> Path:
    """Write the feature table to data/ as Parquet (atomically) unless it is already there.
    `row_group_rows`: rows per Parquet row group (default 256,000); Spark can split a file into
    input partitions only at row-group boundaries."""
    path = features_path(rows, n_features, seed, row_group_rows)
    if path.exists() and _parquet_ok(path, rows, n_features):
        return path
    table = pa.Table.from_pandas(feature_frame(rows, n_features, seed), preserve_index=False)
    tmp = atomic_path(path)
    try:
        pq.write_table(table, tmp, row_group_size=min(rows, row_group_rows or ROW_GROUP_ROWS))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _parquet_ok(path: Path, rows: int, n_features: int) -> bool:
    """A cheap read of a feature file's footer: False when it is truncated or not the table its
    name promises (then it is rebuilt, never handed to Spark or Arrow half-written)."""
    try:
        meta = pq.ParquetFile(path).metadata
        return meta.num_rows == rows and meta.num_columns == n_features + 1
    except (OSError, pa.ArrowException):
        return False


def _rowmajor_ok(path: Path, rows: int, n_features: int) -> bool:
    """A cheap read of the row-major Arrow file (footer and the one batch's metadata; the data
    stays memory-mapped): False when it is truncated or not one batch of `rows` rows."""
    try:
        with pa.memory_map(str(path)) as source:
            reader = pa.ipc.open_file(source)
            if reader.num_record_batches != 1:
                return False
            batch = reader.get_batch(0)
            return (
                batch.num_rows == rows
                and batch.schema.field("features").type.list_size == n_features
            )
    except (OSError, pa.ArrowException, KeyError, AttributeError):
        return False


def rowmajor_features_path(rows: int, n_features: int = N_FEATURES, seed: int = SEED) -> Path:
    return DATA_DIR / f"features_{rows}x{n_features}_s{seed}_rowmajor.arrow"


def ensure_features_arrow(rows: int, n_features: int = N_FEATURES, seed: int = SEED) -> Path:
    """The same feature table as an Arrow IPC file of ONE record batch: `id` and `features`, a
    fixed_size_list<double>[n_features] whose values buffer is the row-major (rows x n_features)
    matrix, so any row range of a memory-mapped file is a (rows x n) view without a copy.
    Written to data/ atomically unless it is already there."""
    path = rowmajor_features_path(rows, n_features, seed)
    if path.exists() and _rowmajor_ok(path, rows, n_features):
        return path
    X = np.ascontiguousarray(feature_matrix(rows, n_features, seed))
    features = pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1)), n_features)
    batch = pa.RecordBatch.from_arrays(
        [pa.array(np.arange(rows, dtype=np.int64)), features], names=["id", "features"]
    )
    tmp = atomic_path(path)
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as writer:
            writer.write_batch(batch)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# ---- extra column kinds (notebook 02: pickling vs Arrow across types) ---------------------

COLUMN_KINDS = (
    "int64",
    "double",
    "string",
    "array<double>",
    "struct",
    "timestamp",
    "nullable_double",
)


def make_columns(rows: int, kind: str, seed: int = SEED, width: int = 8) -> pd.DataFrame:
    """`id` + one column `value` of the given kind (deterministic). Unknown kind: LabError."""
    require_rows(rows)
    rng = np.random.default_rng(seed + 7)
    ids = np.arange(rows, dtype=np.int64)
    if kind == "int64":
        value = rng.integers(-1_000_000, 1_000_000, rows, dtype=np.int64)
    elif kind == "double":
        value = rng.standard_normal(rows)
    elif kind == "string":
        value = pd.Series(rng.integers(0, 10**9, rows)).map(lambda v: f"item-{v:09d}").to_numpy()
    elif kind == "array<double>":
        value = list(rng.standard_normal((rows, width)))
    elif kind == "struct":
        a, b = rng.standard_normal(rows), rng.integers(0, 100, rows)
        value = [{"a": float(x), "b": int(y)} for x, y in zip(a, b)]
    elif kind == "timestamp":
        value = pd.to_datetime(1_700_000_000 + rng.integers(0, 10**7, rows), unit="s")
    elif kind == "nullable_double":
        value = pd.array(rng.standard_normal(rows), dtype="Float64")
        value[rng.random(rows) < 0.1] = pd.NA  # 10% nulls
    else:
        raise LabError(f"Unknown column kind {kind!r}: use one of {', '.join(COLUMN_KINDS)}.")
    return pd.DataFrame({"id": ids, "value": value})


# ---- the model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    n_features: int = N_FEATURES
    train_rows: int = 50_000
    num_trees: int = 100
    num_leaves: int = 31
    learning_rate: float = 0.1
    seed: int = SEED

    def digest(self) -> str:
        import lightgbm

        payload = json.dumps({**asdict(self), "lightgbm": lightgbm.__version__}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


MODEL_PATH = DATA_DIR / "model.txt"
MODEL_SPEC_PATH = DATA_DIR / "model.json"


def train_model(spec: ModelSpec = ModelSpec()) -> str:
    """Train the model from `spec` and return its native text (deterministic: same spec, same
    text)."""
    import lightgbm as lgb

    X = feature_matrix(spec.train_rows, spec.n_features, spec.seed + 100)
    y = target(X, spec.seed)
    params = {
        "objective": "regression",
        "num_leaves": spec.num_leaves,
        "learning_rate": spec.learning_rate,
        "seed": spec.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "verbose": -1,
    }
    booster = lgb.train(
        params,
        lgb.Dataset(X, y, feature_name=feature_names(spec.n_features)),
        num_boost_round=spec.num_trees,
    )
    return booster.model_to_string()


def _text_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _model_ok(spec: ModelSpec) -> bool:
    """data/model.txt is the model of `spec` and whole: model.json parses, names the spec's
    digest and the sha256 of model.txt's bytes (a truncated or edited model.txt fails here, not
    inside LightGBM)."""
    try:
        saved = json.loads(MODEL_SPEC_PATH.read_text())
        return (
            isinstance(saved, dict)
            and saved.get("digest") == spec.digest()
            and saved.get("sha256") == _text_sha256(MODEL_PATH)
        )
    except (OSError, ValueError):
        return False


def spec_model_path(num_trees: int, train_rows: int = 5_000) -> Path:
    """The kit's model shape (16 features, 31 leaves) with `num_trees` trees, trained on
    `train_rows` rows locally and deterministically, cached in data/ under a name that holds its
    spec digest (data/model.txt is never touched). Returns its path."""
    spec = ModelSpec(num_trees=num_trees, train_rows=train_rows)
    path = DATA_DIR / f"model_heavy_{spec.digest()}.txt"
    if not path.exists():
        atomic_write_bytes(path, train_model(spec).encode())
    return path


def ensure_model(spec: ModelSpec = ModelSpec()) -> Path:
    """Train and save the model unless data/model.txt already matches `spec` and its checksum
    (`_model_ok`); a missing, truncated or corrupt model is trained again. Returns its path."""
    if _model_ok(spec):
        return MODEL_PATH
    text = train_model(spec).encode()
    atomic_write_bytes(MODEL_PATH, text)
    record = {**asdict(spec), "digest": spec.digest(), "sha256": hashlib.sha256(text).hexdigest()}
    atomic_write_bytes(MODEL_SPEC_PATH, json.dumps(record, indent=1).encode())
    return MODEL_PATH


def model_text(spec: ModelSpec = ModelSpec()) -> str:
    """The model in LightGBM's native text format (trains it first if needed)."""
    return ensure_model(spec).read_text()


def load_booster(text: str | None = None):
    """A lightgbm.Booster from model text (default: data/model.txt)."""
    import lightgbm as lgb

    text = model_text() if text is None else text
    return lgb.Booster(model_str=require_model_text(text))


def predict(booster, X: np.ndarray) -> np.ndarray:
    """The kit's one way to predict: single-threaded batched predict (Spark gives us the cores)."""
    return booster.predict(X, num_threads=1)

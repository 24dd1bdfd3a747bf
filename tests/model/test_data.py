import numpy as np
import pytest

from helpers.core import config
from helpers.core.config import LabError
from helpers.model import data


def test_features_are_deterministic_and_prefix_stable():
    a = data.feature_matrix(1000)
    b = data.feature_matrix(1000)
    c = data.feature_matrix(300)
    assert np.array_equal(a, b)
    assert np.array_equal(a[:300], c)
    assert a.flags["C_CONTIGUOUS"] and a.shape == (1000, data.N_FEATURES)


def test_feature_frame_layout():
    df = data.feature_frame(10)
    assert list(df.columns) == ["id"] + [f"f{i}" for i in range(16)]
    assert df["id"].tolist() == list(range(10))


def test_parquet_written_once(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    p = data.ensure_features(100)
    mtime = p.stat().st_mtime_ns
    assert data.ensure_features(100).stat().st_mtime_ns == mtime
    assert not [x for x in tmp_path.iterdir() if x.name.startswith(".")]


def test_row_groups_named_and_written(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    default = data.ensure_features(1000)
    fine = data.ensure_features(1000, row_group_rows=100)
    assert default != fine and fine.name.endswith("_rg100.parquet")
    assert pq.ParquetFile(default).num_row_groups == 1
    assert pq.ParquetFile(fine).num_row_groups == 10
    assert data.features_path(1000, row_group_rows=data.ROW_GROUP_ROWS) == default


def test_rowmajor_arrow_file_is_one_batch_viewed_without_a_copy(tmp_path, monkeypatch):
    import pyarrow as pa

    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    p = data.ensure_features_arrow(500)
    mtime = p.stat().st_mtime_ns
    assert data.ensure_features_arrow(500).stat().st_mtime_ns == mtime  # written once
    assert not [x for x in tmp_path.iterdir() if x.name.startswith(".")]
    with pa.memory_map(str(p)) as source:
        reader = pa.ipc.open_file(source)
        assert reader.num_record_batches == 1
        batch = reader.get_batch(0).slice(100, 50)
        X = batch.column("features").flatten().to_numpy(zero_copy_only=True).reshape(50, 16)
        assert np.array_equal(X, data.feature_matrix(500)[100:150])
        assert batch.column("id").to_pylist() == list(range(100, 150))


def test_model_training_is_deterministic():
    spec = data.ModelSpec(train_rows=2000, num_trees=5)
    assert data.train_model(spec) == data.train_model(spec)
    assert spec.digest() != data.ModelSpec().digest()


def test_model_on_disk_matches_spec():
    path = data.ensure_model()
    assert data.ensure_model() == path  # not rebuilt
    booster = data.load_booster()
    assert booster.num_trees() == data.ModelSpec().num_trees
    assert booster.num_feature() == data.N_FEATURES


def test_too_many_rows_is_refused():
    with pytest.raises(LabError, match="more than"):
        data.feature_matrix(config.MAX_ROWS + 1)


@pytest.mark.parametrize("kind", data.COLUMN_KINDS)
def test_column_kinds(kind):
    df = data.make_columns(50, kind)
    assert len(df) == 50 and list(df.columns) == ["id", "value"]
    assert df.equals(data.make_columns(50, kind)) or kind in ("array<double>", "struct")


def test_unknown_column_kind():
    with pytest.raises(LabError, match="Unknown column kind"):
        data.make_columns(5, "decimal")


# ---- corrupt files are noticed by a cheap read and rebuilt, never handed on ------------------


def test_truncated_or_empty_parquet_is_rebuilt(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    path = data.ensure_features(500)
    whole = path.read_bytes()
    for broken in (whole[: len(whole) // 2], b"", whole[:-9]):
        path.write_bytes(broken)
        assert data.ensure_features(500) == path
        assert pq.ParquetFile(path).metadata.num_rows == 500


def test_truncated_rowmajor_arrow_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    path = data.ensure_features_arrow(300)
    whole = path.read_bytes()
    for broken in (whole[: len(whole) // 3], b"", whole[:-20]):
        path.write_bytes(broken)
        assert data.ensure_features_arrow(300) == path
        assert path.read_bytes() == whole


FAKE_MODEL = "tree\nversion=v4\nTree=0\nend of trees\n\nparameters:\nend of parameters\n"


def test_model_checked_by_checksum_and_retrained(tmp_path, monkeypatch):
    trained = []
    monkeypatch.setattr(data, "MODEL_PATH", tmp_path / "model.txt")
    monkeypatch.setattr(data, "MODEL_SPEC_PATH", tmp_path / "model.json")
    monkeypatch.setattr(data, "train_model", lambda spec: trained.append(1) or FAKE_MODEL)
    data.ensure_model()
    data.ensure_model()
    assert len(trained) == 1  # whole and matching: kept
    for corrupt in (
        lambda: data.MODEL_PATH.write_text(FAKE_MODEL[:20]),  # truncated model.txt
        lambda: data.MODEL_PATH.write_text(FAKE_MODEL.replace("v4", "v5")),  # same size, edited
        lambda: data.MODEL_SPEC_PATH.write_text('{"digest": '),  # truncated model.json
        lambda: data.MODEL_SPEC_PATH.write_text("[]"),  # not an object
        lambda: data.MODEL_PATH.unlink(),
    ):
        corrupt()
        data.ensure_model()
        assert data.MODEL_PATH.read_text() == FAKE_MODEL
    assert len(trained) == 6


@pytest.mark.parametrize("cut", [0, 10, 0.5, -60])
def test_truncated_model_text_is_one_line_not_a_native_abort(cut):
    text = data.model_text()
    n = int(len(text) * cut) if isinstance(cut, float) else cut
    broken = text[:n] if n >= 0 else text[: text.index("end of trees") + n]
    with pytest.raises(LabError, match="not a whole LightGBM model"):
        data.load_booster(broken)
    from helpers.model.cache import worker_booster

    with pytest.raises(LabError, match="setup"):
        worker_booster(broken)

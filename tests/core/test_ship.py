"""The kit's zip for executors: what goes in, a stable name, and the hint when it is missing."""

import subprocess
import zipfile

import numpy as np
import psutil
import pytest

from helpers.core import session, ship
from helpers.core.cluster import LocalStandalone
from helpers.core.config import LabError
from helpers.core.processes import is_running
from helpers.lab import scale
from helpers.measure.timing import collect_predictions, reference_predictions


def test_archive_holds_the_package_without_data_or_caches(tmp_path):
    path = ship.kit_archive(tmp_path)
    names = zipfile.ZipFile(path).namelist()
    assert "helpers/__init__.py" in names and "helpers/model/cache.py" in names
    assert "helpers/workers/lean_daemon.py" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith("helpers/data/")]
    assert ship.kit_archive(tmp_path) == path  # same content, same name: not rewritten


def test_local_masters_share_the_driver_files():
    assert ship.is_local("local[*]") and ship.is_local("local[2]")
    assert not ship.is_local("spark://127.0.0.1:7077") and not ship.is_local("yarn")
    assert not ship.is_local("k8s://https://host:443")


def test_missing_kit_names_the_setting():
    err = ship.kit_missing_hint(RuntimeError("ModuleNotFoundError: No module named 'helpers'"))
    assert isinstance(err, LabError) and "spark.submit.pyFiles=" in str(err)
    assert "\n" not in str(err)
    assert ship.kit_missing_hint(RuntimeError("No module named 'pandas'")) is None


@pytest.mark.spark
def test_executors_without_the_kit_get_it_shipped(tmp_path, monkeypatch, kitless_executors):
    """Executors on a standalone cluster whose Python cannot import the kit (no PYTHONPATH, no
    editable install): a job fails naming the setting to add; shipped, it runs with parity."""
    check = subprocess.run(
        [str(kitless_executors), "-c", "import helpers"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert "No module named 'helpers'" in check.stderr
    monkeypatch.setenv("LAB_SHIP_KIT", "0")
    rows = 4000
    with LocalStandalone(workers=2) as cluster:
        spark = session.start_session("kitless", master=cluster.master_url, synapseml=False)
        try:
            with pytest.raises(LabError, match="spark.submit.pyFiles="):
                scale.measure_one(spark, "map_in_arrow", rows, 2, 1000)
            ship.ship_kit(spark)
            run = scale.measure_one(spark, "map_in_arrow", rows, 2, 1000)
            pred = collect_predictions(spark, "map_in_arrow", rows)
        finally:
            session.stop_session()
        pids = cluster.pids()
    assert run["rows"] == rows and run["slots"] == 2
    assert np.max(np.abs(pred - reference_predictions(rows))) <= 1e-9
    assert not [p for p in pids if psutil.pid_exists(p) and is_running(psutil.Process(p))]


def test_kit_hints_turns_only_a_missing_kit_into_its_one_line_error():
    with pytest.raises(LabError, match="spark.submit.pyFiles"):
        with ship.kit_hints():
            raise RuntimeError("ModuleNotFoundError: No module named 'helpers'")
    with pytest.raises(RuntimeError, match="pandas"):
        with ship.kit_hints():
            raise RuntimeError("No module named 'pandas'")

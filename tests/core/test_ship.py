"""The kit's zip for executors: what goes in, a stable name, and the hint when it is missing."""

import zipfile

from helpers.core import ship
from helpers.core.config import LabError


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

import re
from pathlib import Path

import pytest

from helpers.core import config, validate
from helpers.core.config import LabError


def test_environment_yml_pins_match_requirements():
    env = Path(config.ROOT / "environment.yml").read_text()
    listed = dict(re.findall(r"^\s*-\s*([A-Za-z0-9_.-]+)==([^\s]+)\s*$", env, flags=re.M))
    listed = {k.lower(): v for k, v in listed.items()}
    assert listed == config.pins()


def test_environment_yml_python_and_java():
    env = Path(config.ROOT / "environment.yml").read_text()
    assert "python=3.11" in env and "openjdk=17" in env


@pytest.mark.parametrize(
    "text,major",
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "21" 2023-09-19', 21),
    ],
)
def test_parse_java_version(text, major):
    assert config.parse_java_version(text)[0] == major


def test_java_missing_gives_one_line(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(config.shutil, "which", lambda name: None)
    with pytest.raises(LabError) as err:
        config.require_java()
    assert "Java not found" in str(err.value) and "\n" not in str(err.value)


def test_java_wrong_version(monkeypatch, tmp_path):
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'openjdk version \"26.0.1\" 2026-01-20' >&2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(LabError, match="not supported by Spark 3.5"):
        config.require_java()


def test_java_found_here():
    assert config.require_java().major in config.JAVA_MAJORS


def test_scale_switch(monkeypatch):
    monkeypatch.setenv("LAB_SCALE", "full")
    assert config.scale_rows() == 1_000_000
    monkeypatch.setenv("LAB_SCALE", "huge")
    with pytest.raises(LabError, match="LAB_SCALE"):
        config.scale()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_require_positive(bad):
    with pytest.raises(LabError):
        validate.require_positive("batch size", bad)


def test_atomic_write_leaves_no_temp(tmp_path):
    target = tmp_path / "x.bin"
    config.atomic_write_bytes(target, b"abc")
    assert target.read_bytes() == b"abc"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]

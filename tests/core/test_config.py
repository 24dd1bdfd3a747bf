import re
from pathlib import Path

import pytest

from helpers.core import config, lines, validate
from helpers.core.config import LabError


@pytest.mark.parametrize("name", list(lines.LINES))
def test_environment_yml_pins_match_requirements(name):
    line = lines.LINES[name]
    env = Path(config.ROOT / line.environment).read_text()
    listed = dict(re.findall(r"^\s*-\s*([A-Za-z0-9_.-]+)==([^\s]+)\s*$", env, flags=re.M))
    listed = {k.lower(): v for k, v in listed.items()}
    assert listed == config.pins(line=line)


@pytest.mark.parametrize("name", list(lines.LINES))
def test_environment_yml_python_and_java(name):
    env = Path(config.ROOT / lines.LINES[name].environment).read_text()
    assert "python=3.11" in env and "openjdk=17" in env


@pytest.mark.parametrize("name", list(lines.LINES))
def test_each_line_pins_its_pyspark_in_one_file(name):
    line = lines.LINES[name]
    pinned = config.pins(config.ROOT / line.requirements)
    assert lines.line_of(pinned["pyspark"]) == line
    assert ("synapseml" in pinned) == line.synapseml


def test_makefile_knows_exactly_the_lines():
    text = Path(config.ROOT / "Makefile").read_text()
    named = re.findall(r"^\s*(?:else )?ifeq \(\$\(SPARK\),([^)]+)\)", text, flags=re.M)
    assert sorted(named) == sorted(lines.LINES)
    for line in lines.LINES.values():
        assert line.venv in text and line.requirements in text and line.kernel in text


def test_unknown_line_one_line_error():
    with pytest.raises(LabError) as err:
        config.require_line("5")
    assert "SPARK=3.5" in str(err.value) and "SPARK=4" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "v,name", [("3.5.9", "3.5"), ("4.3.0", "4"), ("4.0.4", "4"), ("3.4.1", None)]
)
def test_line_of(v, name):
    assert lines.line_of(v) == (lines.LINES[name] if name else None)


def test_java_11_refused_for_spark4(monkeypatch, tmp_path):
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    assert config.require_java(lines.LINES["3.5"]).major == 11
    with pytest.raises(LabError, match="Spark 4.x .needs 17/21.*Java 17|openjdk-17") as err:
        config.require_java(lines.LINES["4"])
    assert "\n" not in str(err.value)


def test_has_feature_by_version():
    assert not lines.has("single_threaded_runner", "3.5.9")
    assert lines.has("single_threaded_runner", "4.3.0")
    assert not lines.has("conditional_invalidate_caches", "4.1.3")
    assert lines.has("conditional_invalidate_caches", "4.2.0")


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
    with pytest.raises(LabError, match=f"not supported by {config.LINE.label}"):
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

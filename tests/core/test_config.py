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


def _python_spec(first, last):
    """The spec of the Pythons first..last: python=3.11, or python>=3.11,<3.14 for 3.11-3.13."""
    if first == last:
        return f"python={first}"
    major, minor = last.split(".")
    return f"python>={first},<{major}.{int(minor) + 1}"


@pytest.mark.parametrize("name", list(lines.LINES))
def test_environment_yml_python_and_java(name):
    line = lines.LINES[name]
    env = Path(config.ROOT / line.environment).read_text()
    assert f"- {_python_spec(line.pythons[0], line.pythons[-1])}\n" in env
    assert "openjdk=17" in env


def test_pyproject_python_covers_every_line():
    text = Path(config.ROOT / "pyproject.toml").read_text()
    every = sorted({p for ln in lines.LINES.values() for p in ln.pythons}, key=lines.version_tuple)
    spec = _python_spec(every[0], every[-1]).removeprefix("python")
    assert f'requires-python = "{spec}"' in text


def _lock(path):
    """name -> (versions, entries without a hash) of a `make lock` file."""
    versions, unhashed = {}, []
    for block in re.split(r"\n(?=[A-Za-z0-9])", Path(path).read_text()):
        m = re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)", block)
        if m:
            name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
            versions.setdefault(name, set()).add(m.group(2))
            if "--hash=sha256:" not in block:
                unhashed.append(name)
    return versions, unhashed


@pytest.mark.parametrize("name", list(lines.LINES))
def test_lock_holds_exactly_the_top_level_pins(name):
    line = lines.LINES[name]
    versions, unhashed = _lock(config.ROOT / line.lock)
    pinned = {re.sub(r"[-_.]+", "-", k): v for k, v in config.pins(line=line).items()}
    hint = f"{line.lock} disagrees with {line.requirements}/requirements-test.txt: run `make lock`"
    assert {k: versions.get(k) for k in pinned} == {k: {v} for k, v in pinned.items()}, hint
    assert unhashed == [] and len(versions) > 3 * len(pinned)  # the transitive ones too


def test_lock_parser_sees_a_disagreement(tmp_path):
    lock = tmp_path / "r.lock"
    lock.write_text(
        "Foo_Bar==1.0 ; python_full_version < '3.12' \\\n    --hash=sha256:ab\n"
        "foo-bar==2.0 ; python_full_version >= '3.12' \\\n    --hash=sha256:cd\n"
        "baz==3\n    # via foo-bar\n"
    )
    assert _lock(lock) == ({"foo-bar": {"1.0", "2.0"}, "baz": {"3"}}, ["baz"])


def test_makefile_installs_each_line_from_its_lock():
    text = Path(config.ROOT / "Makefile").read_text()
    assert "pip install -q --require-hashes -r $(LOCK)" in text
    for line in lines.LINES.values():
        assert f"-o {line.lock} {line.requirements} requirements-test.txt" in text
        assert f"LOCK   := {line.lock}" in text


@pytest.mark.parametrize("name", list(lines.LINES))
def test_python_outside_the_line_one_line_error(name):
    line = lines.LINES[name]
    major, minor = map(int, line.pythons[-1].split("."))
    assert config.require_python(line, (major, minor, 0)) == line.pythons[-1]
    with pytest.raises(LabError) as err:
        config.require_python(line, (major, minor + 1, 0))
    assert f"PYTHON=python{line.pythons[-1]}" in str(err.value) and "\n" not in str(err.value)
    assert "3.11-3.13" in str(err.value)


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

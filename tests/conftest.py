import os
import subprocess
import sys

import pytest

from helpers.core.config import LINE

os.environ.setdefault("LAB_SCALE", "ci")


def pytest_collection_modifyitems(items):
    """Every test that takes the `spark` fixture is a `spark` test; tests that start Spark in a
    child process carry the marker themselves. `make unit-fast` runs `-m "not spark"` with
    SPARK_HOME pointing nowhere, so an unmarked test that starts a JVM fails there at once.
    Tests marked `synapseml` are skipped, with the reason, on a line without SynapseML."""
    skip = pytest.mark.skip(reason=f"{LINE.label} has no SynapseML (docs/ARCHITECTURE.md)")
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)
        if not LINE.synapseml and item.get_closest_marker("synapseml"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def _unit_session_cleanup():
    """Stops the unit tests' session (and all its processes) once, at the very end."""
    from helpers.core.session import stop_session

    yield
    stop_session()


@pytest.fixture
def spark(_unit_session_cleanup):
    """The shared local session for unit tests. start_session() returns the running one when its
    static conf matches, so this is cheap; a test that stopped it or started a differently
    configured session (profiler, crash lab) gets a fresh one here instead of a dead handle."""
    from helpers.core.session import start_session

    return start_session("unit-tests")


@pytest.fixture
def child():
    """Runs `python ARGV...` in a child process from the project root (its own JVM when it starts
    Spark); returns the CompletedProcess with text stdout/stderr."""
    from helpers.core.config import ROOT

    def run(*argv, env=None):
        return subprocess.run(
            [sys.executable, *argv], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600
        )

    return run


@pytest.fixture
def cli(child):
    """Runs `python -m helpers ARGS...` in a child process; returns the CompletedProcess."""
    return lambda *args, env=None: child("-m", "helpers", *args, env=env)


KITLESS = """#!/bin/sh
# this venv's Python without its site hooks: no editable install of the kit, packages via the path
PYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{site}" exec {python} -S "$@"
"""


@pytest.fixture
def kitless_executors(tmp_path, monkeypatch):
    """Executors of the kit's standalone clusters run a Python that cannot import the kit except
    from the shipped zip (this venv's Python with `-S`: no editable install), as on other hosts."""
    site = next(p for p in sys.path if p.endswith("site-packages"))
    wrapper = tmp_path / "python-kitless"
    wrapper.write_text(KITLESS.format(site=site, python=sys.executable))
    wrapper.chmod(0o755)
    monkeypatch.setenv("LAB_EXECUTOR_PYTHON", str(wrapper))
    return wrapper

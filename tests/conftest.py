import os

import pytest

os.environ.setdefault("LAB_SCALE", "ci")


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

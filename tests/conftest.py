import os

import pytest

os.environ.setdefault("LAB_SCALE", "ci")


@pytest.fixture(scope="session")
def spark():
    """One shared local session for the unit tests; stopped (with all its processes) at the end."""
    from helpers.session import start_session, stop_session

    s = start_session("unit-tests")
    yield s
    stop_session()

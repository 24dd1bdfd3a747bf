"""The saved-notebook check of `tests.ui.labrun` on hand-made notebooks (pure: no browser)."""

from tests.ui import labrun

DAEMON = (
    "Traceback (most recent call last):\n"
    '  File "/x/pyspark.zip/pyspark/daemon.py", line 264, in manager\n'
    '  File "/x/pyspark.zip/pyspark/daemon.py", line 95, in worker\n'
    "BrokenPipeError: [Errno 32] Broken pipe\n"
)
MINE = 'Traceback (most recent call last):\n  File "<cell>", line 1\nValueError: mine\n'


def _nb(*texts):
    outs = [{"output_type": "stream", "name": "stderr", "text": t} for t in texts]
    return {"cells": [{"cell_type": "code", "id": "a", "execution_count": 1, "outputs": outs,
                       "source": "", "metadata": {}}]}  # fmt: skip


def test_a_cancelled_worker_is_not_an_error_but_any_other_traceback_is():
    assert labrun.only_cancelled_workers(DAEMON * 3 + "26/12/07 WARN x\n")
    assert not labrun.only_cancelled_workers(DAEMON + MINE)
    assert not labrun.only_cancelled_workers("no traceback here")
    assert labrun.check_saved(_nb(DAEMON * 2))["errors"] == []
    assert labrun.check_saved(_nb(DAEMON, MINE))["errors"] == [
        "cell 0: a Traceback in its stderr stream"
    ]

"""Every CLI error path a user can reach with bad input ends in one line on stderr and exit code 2,
before any JVM starts (these run in seconds)."""

import subprocess
import sys

import pytest

from helpers.lab.zerocopy.ledger import LEDGER_HERE
from helpers.paths.scenarios import SCENARIOS


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "helpers", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def not_a_notebook(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("not json")
    return str(path)


CASES = [
    (["nosuch"], "invalid choice"),
    (["bench", "--rows", "99999999999"], "more than this kit generates"),
    (["bench", "--repeats", "0"], "--repeats"),
    (["profile", "--scenario", "nope", "--out", "x"], "Unknown scenario"),
    (["profile", "--scenario", "map_in_pandas", "--out", "x", "--interval-ms", "nan"], "interval"),
    (["memory", "--scenario", "map_in_pandas", "--out", "x", "--rows", "99999999999"], "--rows"),
    (["profile", "--scenario", "map_in_pandas", "--out", "x", "--shared-dir", "y"], "--cluster"),
    (["profile", "--scenario", "map_in_pandas", "--out", "x", "--cluster", "0"], "--cluster"),
    (["profile", "--scenario", "nope", "--out", "x", "--cluster", "2"], "Unknown scenario"),
    (["profile", "--scenario", "map_in_pandas", "--out", "x", "--cluster", "2", "--py-spy"],
     "--py-spy"),
    (["profile", "--scenario", "map_in_pandas", "--out", "/tmp/x", "--cluster", "2",
      "--shared-dir", "/tmp/a,b"], "space or comma"),
    (["memory", "--scenario", "map_in_pandas", "--out", "x", "--cluster", "2", "--partitions", "2"],
     "--partitions"),
    (["memory", "--scenario", "map_in_pandas", "--out", "x", "--memray"], "--memray"),
    (
        ["memory", "--scenario", "synapseml", "--out", "x", "--cluster", "2", "--memray"],
        "no Python worker" if "synapseml" in SCENARIOS else "not offered",
    ),
    (["ledger", "--paths", "nope"], "ledger covers" if LEDGER_HERE else "ledger is skipped"),
    (["ledger", "--rows", "40000000", "--batches", "4"], "--batches"),
    (["sweep", "--scenario", "row_udf"], "Arrow batches"),
    (["sweep", "--rows", "99999999999"], "more than this kit generates"),
    (["sweep", "--batch-sizes", "10,x"], "not an integer"),
    (["tune", "--memory-budget", "12x"], "--memory-budget"),
    (["tune-bench", "--memory-budget", "0"], "--memory-budget"),
    (["taskcost", "--partitions", "2"], "at least two"),
    (
        ["taskcost", "--scenario", "synapseml"],
        "no Python worker" if "synapseml" in SCENARIOS else "not offered",
    ),
    (["strip-outputs", "/nonexistent/x.ipynb"], "cannot use"),
]


@pytest.mark.parametrize(
    "args,needle", CASES, ids=lambda a: " ".join(a) if isinstance(a, list) else ""
)
def test_bad_input_one_line_exit_2(args, needle):
    r = run(*args)
    assert r.returncode == 2, r.stderr[-1500:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr[-1500:]


def test_not_a_notebook(not_a_notebook):
    r = run("strip-outputs", not_a_notebook)
    assert r.returncode == 2 and "is not a notebook" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1

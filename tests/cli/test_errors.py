"""Every CLI error a user can reach with bad input ends in exactly one line on stderr, exit code 2
and no traceback, before any JVM starts. The CLI runs in this process (`main(argv)`): what is
tested is the exit code and the message, so no interpreter start per case."""

import json

import pytest

from helpers.cli.main import COMMANDS, main
from helpers.inference.scenarios import SCENARIOS
from helpers.lab.zerocopy.ledger import LEDGER_HERE

NO_PY = "no Python worker" if "synapseml" in SCENARIOS else "not offered"
MAP = ["--scenario", "map_in_pandas", "--out", "x"]

# (argv, text the one line must contain)
CASES = [
    (["nosuch"], "invalid choice"),
    # dial, threads (notebook 11)
    (["dial", "--trees", "0"], "--trees"),
    (["dial", "--trees", "10,ten"], "--trees"),
    (["dial", "--trees", "99999"], "--trees"),
    (["dial", "--scenarios", ","], "names no scenario"),
    (["dial", "--scenarios", "nope"], "Unknown scenario"),
    (["dial", "--repeats", "0"], "--repeats"),
    (["threads", "--threads", "0"], "--threads"),
    (["threads", "--threads", "default,many"], "--threads"),
    (["threads", "--threads", ","], "--threads"),
    (["threads", "--slots", "0"], "--slots"),
    (["threads", "--trees", "-1"], "--trees"),
    (["threads", "--rows", "0"], "--rows"),
    (["setup", "--bogus"], "unrecognized arguments"),
    (["doctor", "extra"], "unrecognized arguments"),
    (["layers", "--bogus"], "unrecognized arguments"),
    (["strip-outputs", "/nonexistent/x.ipynb"], "cannot use"),
    (["student", "/nonexistent/x.ipynb", "--out", "/tmp/lab-student-never"], "cannot use"),
    (["present", "/nonexistent/x.ipynb", "--out", "/tmp/lab-present-never"], "cannot use"),
    (["present", "x.ipynb", "--timeout", "0"], "--timeout"),
    # bench: numbers, names, confs
    (["bench", "--rows", "99999999999"], "more than this kit generates"),
    (["bench", "--repeats", "0"], "--repeats"),
    (["bench", "--batch-size", "3000000000"], "Java int"),
    (["bench", "--batch-size", "-5"], "--batch-size"),
    (["bench", "--scenarios", ","], "names no scenario"),
    (["bench", "--scenarios", " , "], "names no scenario"),
    (["bench", "--scenarios", "nope"], "Unknown scenario"),
    (["bench", "--cluster", "0"], "--cluster"),
    (["bench", "--conf", "spark.sql.execution.arrow.maxRecordsPerBatch=abc"], "integer"),
    (["bench", "--conf", "spark.sql.execution.arrow.maxRecordsPerBatch=99999999999"], "Java int"),
    (["bench", "--conf", "spark.python.daemon.module=no.such.module"], "no such Python module"),
    (["bench", "--conf", "spark.python.worker.module=no.such.module"], "no such Python module"),
    (["bench", "--conf", "spark.master=local[0]"], "not a Spark master URL"),
    (["bench", "--conf", "spark.master=local[-1]"], "not a Spark master URL"),
    (["bench", "--conf", "spark.master=nowhere"], "not a Spark master URL"),
    (["bench", "--conf", "spark.driver.memory=16m"], "too small"),
    (["bench", "--conf", "spark.driver.memory=lots"], "not a size"),
    (["bench", "--conf", "spark.executor.memory=100m"], "too small"),
    (["bench", "--conf", "spark.executor.pyspark.memory=1m"], "too small"),
    (["bench", "--conf", "spark.sql.execution.arrow.pyspark.enabled=maybe"], "true or false"),
    (["bench", "--conf", "spark.python.worker.reuse=yes"], "true or false"),
    (["bench", "--conf", "spark.sql.shuffle.partitions=1.5"], "integer"),
    (["bench", "--conf", "notspark=1"], "spark.KEY=VALUE"),
    (["bench", "--conf", "spark.x="], "spark.KEY=VALUE"),
    # profile
    (["profile", "--scenario", "nope", "--out", "x"], "Unknown scenario"),
    (["profile", *MAP, "--interval-ms", "nan"], "interval"),
    (["profile", *MAP, "--interval-ms", "inf"], "finite"),
    (["profile", *MAP, "--interval-ms", "-1"], "finite"),
    (["profile", *MAP, "--interval-ms", "abc"], "number"),
    (["profile", *MAP, "--batch-size", "2147483648"], "Java int"),
    (["profile", *MAP, "--shared-dir", "y"], "--cluster"),
    (["profile", *MAP, "--cluster", "0"], "--cluster"),
    (["profile", "--scenario", "nope", "--out", "x", "--cluster", "2"], "Unknown scenario"),
    (["profile", *MAP, "--cluster", "2", "--py-spy"], "--py-spy"),
    (
        [
            "profile",
            "--scenario",
            "map_in_pandas",
            "--out",
            "/tmp/x",
            "--cluster",
            "2",
            "--shared-dir",
            "/tmp/a,b",
        ],
        "space or comma",
    ),
    # memory
    (["memory", *MAP, "--rows", "99999999999"], "--rows"),
    (["memory", *MAP, "--partitions", "1000000"], "partitions"),
    (["memory", *MAP, "--partitions", "0"], "--partitions"),
    (["memory", *MAP, "--cluster", "2", "--partitions", "2"], "--partitions"),
    (["memory", *MAP, "--memray"], "--memray"),
    (["memory", "--scenario", "synapseml", "--out", "x", "--cluster", "2", "--memray"], NO_PY),
    # ledger
    (["ledger", "--paths", "nope"], "ledger covers" if LEDGER_HERE else "ledger is skipped"),
    (["ledger", "--rows", "40000000", "--batches", "4"], "--batches"),
    (["ledger", "--batches", "0"], "--batches"),
    # taskcost
    (["taskcost", "--partitions", "2"], "at least two"),
    (["taskcost", "--partitions", "2,1000000"], "more than this kit runs"),
    (["taskcost", "--partitions", "2,x"], "comma-separated"),
    (["taskcost", "--scenario", "synapseml"], NO_PY),
    # sweep / tune / tune-bench
    (["sweep", "--scenario", "row_udf"], "Arrow batches"),
    (["sweep", "--rows", "99999999999"], "more than this kit generates"),
    (["sweep", "--batch-sizes", "10,x"], "not an integer"),
    (["sweep", "--batch-sizes", "99999999999"], "Java int"),
    (["sweep", "--batch-sizes", ","], "no batch sizes"),
    (["sweep", "--batch-sizes", "0"], "positive"),
    (["tune", "--memory-budget", "12x"], "--memory-budget"),
    (["tune-bench", "--memory-budget", "0"], "--memory-budget"),
    # scale, columnar-bench
    (["scale", "--bogus"], "error: "),  # its own checks: tests/cli/test_scale.py
    (["columnar-bench", "--scenarios", ","], "names no scenario"),
    (["columnar-bench", "--sources", "nope"], "Unknown source"),
    (["columnar-bench", "--repeats", "0"], "--repeats"),
]

# (variable, value, argv, text): LAB_* variables are checked when read
ENV_CASES = [
    ("LAB_LOG_LEVEL", "BOGUS", ["bench", "--scenarios", "pandas_udf"], "LAB_LOG_LEVEL"),
    (
        "LAB_EXECUTOR_PYTHON",
        "/nonexistent/python",
        ["bench", "--scenarios", "pandas_udf"],
        "LAB_EXECUTOR_PYTHON",
    ),
    (
        "LAB_MASTER",
        "spark://127.0.0.1:1",
        ["bench", "--scenarios", "pandas_udf"],
        "does not answer",
    ),
    ("LAB_MASTER", "local[0]", ["ledger"], "not a Spark master URL"),
    ("LAB_DRIVER_MEMORY", "16m", ["sweep", "--batch-sizes", "10"], "too small"),
]


def one_line(argv, capsys):
    """Run the CLI in this process; (exit code, stderr lines, everything it printed)."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's one-line errors exit through SystemExit(2)
        code = exc.code
    out = capsys.readouterr()
    return code, out.err.strip().splitlines(), out.out + out.err


def assert_one_line(argv, needle, capsys):
    code, lines, printed = one_line(argv, capsys)
    assert code == 2, printed[-1500:]
    assert len(lines) == 1 and needle in lines[0], printed[-1500:]
    assert "Traceback" not in printed


@pytest.mark.parametrize("argv,needle", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_one_line_exit_2(argv, needle, capsys):
    assert_one_line(argv, needle, capsys)


@pytest.mark.parametrize(
    "var,value,argv,needle", ENV_CASES, ids=[f"{v}={x}" for v, x, _, _ in ENV_CASES]
)
def test_bad_lab_variable_one_line_exit_2(var, value, argv, needle, capsys, monkeypatch):
    if var == "LAB_DRIVER_MEMORY":  # read when the session module is imported: patch the conf
        from helpers.core import session

        monkeypatch.setitem(session.BASE_CONF, "spark.driver.memory", value)
    monkeypatch.setenv(var, value)
    assert_one_line(argv, needle, capsys)


def test_every_command_has_a_bad_input_case():
    covered = {a[0] for a, _ in CASES} | {a[0] for _, _, a, _ in ENV_CASES}
    assert not set(COMMANDS) - covered, sorted(set(COMMANDS) - covered)


# ---- the notebook tools: malformed notebooks, and an --out over a source --------------------


def _nb(cells):
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _code(src="x = 1", **extra):
    return {"cell_type": "code", "metadata": {}, "outputs": [], "source": src, **extra}


BROKEN = {
    "not json": "not json",
    "no cells": json.dumps({"metadata": {}}),
    "cells not a list": json.dumps({"cells": {}}),
    "cell a string": json.dumps(_nb(["x = 1"])),
    "no cell_type": json.dumps(_nb([{"source": "x", "metadata": {}}])),
    "cell_type wrong": json.dumps(_nb([{"cell_type": 3, "source": "x"}])),
    "no source": json.dumps(_nb([{"cell_type": "markdown", "metadata": {}}])),
    "source an int": json.dumps(_nb([_code(src=5)])),
    "source a list of ints": json.dumps(_nb([_code(src=[1, 2])])),
    "metadata a list": json.dumps(_nb([{**_code(), "metadata": []}])),
    "tags a string": json.dumps(_nb([{**_code(), "metadata": {"tags": "solution"}}])),
    "outputs a dict": json.dumps(_nb([_code(outputs={})])),
    "notebook metadata a list": json.dumps({**_nb([_code()]), "metadata": []}),
}


@pytest.mark.parametrize("tool", ["strip-outputs", "student", "present"])
@pytest.mark.parametrize("problem", list(BROKEN))
def test_malformed_notebook_one_line_naming_the_file(tool, problem, tmp_path, capsys):
    src = tmp_path / "in" / "bad.ipynb"
    src.parent.mkdir()
    src.write_text(BROKEN[problem])
    before = src.read_bytes()
    argv = [tool, str(src)] + ([] if tool == "strip-outputs" else ["--out", str(tmp_path / "o")])
    code, lines, printed = one_line(argv, capsys)
    assert code == 2 and len(lines) == 1 and str(src) in lines[0], printed[-1500:]
    assert "notebook" in lines[0] and "Traceback" not in printed
    assert src.read_bytes() == before and not (tmp_path / "o").exists()


@pytest.mark.parametrize("tool", ["student", "present"])
def test_out_over_a_source_is_refused_and_changes_nothing(tool, tmp_path, capsys):
    good = tmp_path / "a.ipynb"
    good.write_text(
        json.dumps(_nb([_code("x = 1"), _code("assert x", metadata={"tags": ["solution"]})]))
    )
    before = good.read_bytes()
    code, lines, printed = one_line([tool, str(good), "--out", str(tmp_path)], capsys)
    assert code == 2 and len(lines) == 1 and "would overwrite the source" in lines[0], printed
    assert good.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ipynb"]


def test_two_sources_with_one_name_are_refused(tmp_path, capsys):
    for d in ("x", "y"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "n.ipynb").write_text(json.dumps(_nb([_code()])))
    argv = ["student", str(tmp_path / "x/n.ipynb"), str(tmp_path / "y/n.ipynb")]
    code, lines, _ = one_line([*argv, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "two notebooks would be written" in lines[0]
    assert not (tmp_path / "o").exists()


def test_student_overwrite_flag_replaces_on_purpose(tmp_path, capsys):
    src = tmp_path / "a.ipynb"
    src.write_text(json.dumps(_nb([_code("x = 1"), _code("y", metadata={"tags": ["solution"]})])))
    code, _, printed = one_line(
        ["student", str(src), "--out", str(tmp_path), "--overwrite"], capsys
    )
    assert code == 0, printed
    assert [c["source"] for c in json.loads(src.read_text())["cells"]] == ["x = 1"]


def test_a_cell_that_raises_under_present_is_one_line_and_writes_nothing(tmp_path, capsys):
    src = tmp_path / "in" / "raises.ipynb"
    src.parent.mkdir()
    src.write_text(json.dumps(_nb([_code("raise ValueError('boom\\nsecond line')")])))
    code, lines, printed = one_line(
        ["present", str(src), "--out", str(tmp_path / "o"), "--timeout", "120"], capsys
    )
    assert code == 2 and len(lines) == 1, printed[-1500:]
    assert "ValueError: boom" in lines[0] and str(src) in lines[0]
    assert not list((tmp_path / "o").glob("*.ipynb"))

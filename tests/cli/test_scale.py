"""`python -m helpers scale`: bad inputs exit 2 with one line and start nothing; a small study
writes its fit, its check and the sizing (values checked for shape and consistency, not speed)."""

import json
import subprocess
import sys

import psutil
import pytest

from helpers.cli.main import main
from helpers.core.config import ROOT


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "helpers", "scale", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=env,
    )


def _descendants(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--sizes", "1000,2000"], "at least 3 different"),
        (["--sizes", "1000,2000,2000"], "at least 3 different"),
        (["--sizes", "1000,2000,x"], "comma-separated row counts"),
        (["--sizes", "1000,2000,3000", "--validate", "3000"], "must be above"),
        (["--sizes", "1000,2000,3000", "--batch-sizes", "1000"], "2 different batch sizes"),
        (["--sizes", "1000,2000,3000", "--partitions", "2"], "two different positive partition"),
        (["--sizes", "1000,2000,3000", "--scenario", "nope"], "Unknown scenario"),
        (["--sizes", "1000,2000,3000", "--memory", "lots"], "memory size"),
        (["--sizes", "1000,2000,3000", "--manager", "mesos"], "invalid choice"),
        (["--sizes", "1000,2000,3000", "--zone-budget-mib", "-1"], "0 or more"),
        (
            ["--sizes", "1000,2000,3000", "--cluster", "2", "--cluster-memory", "4096g"],
            "Not enough memory",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_nothing_running(args, needle, capsys):
    before = set(_descendants(psutil.Process().pid))
    assert _main("scale", *args) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert set(_descendants(psutil.Process().pid)) == before


def test_a_cluster_without_java_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert _main("scale", "--sizes", "1000,2000,3000", "--cluster", "2") == 2
    err = capsys.readouterr().err
    assert "Java not found" in err and len(err.strip().splitlines()) == 1


def _main(*argv) -> int:
    """The CLI in this process (no JVM starts before the inputs are checked)."""
    try:
        return main(list(argv))
    except SystemExit as exc:  # argparse's own errors
        return exc.code


@pytest.mark.spark  # starts Spark in a child process
def test_small_study_writes_fit_check_and_sizing(tmp_path):
    out = tmp_path / "scale.json"
    r = run(
        "--sizes",
        "2000,3000,4000",
        "--validate",
        "12000",
        "--batch-sizes",
        "500,2000",
        "--partitions",
        "2,4",
        "--json",
        str(out),
        "--target-rows",
        "6000000000",
        "--executors",
        "10",
        "--cores",
        "4",
        "--memory",
        "8g",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    p = json.loads(out.read_text())
    # every grid point twice (the default repeats), fitted on the fastest of each
    assert len(p["runs"]) == 24 and p["fit"]["runs"] == 12
    assert min(p["fit"][k] for k in ("fixed_s", "per_task_s", "per_batch_s", "per_row_s")) >= 0
    # CPU measured per run over the job's processes (local mode: the driver JVM's tree)
    assert all(r["jvm_cpu_s"] > 0 and r["python_cpu_s"] > 0 for r in p["runs"])
    assert p["fit"]["cpu_row_python_s"] is not None
    (check,) = p["checks"]
    assert check["rows"] == 12000 and check["repeats"] == 2
    assert check["error"] == pytest.approx(
        (check["measured_s"] - check["predicted_s"]) / check["predicted_s"]
    )
    assert check["load_average"] >= 0 and check["spread"] >= 0
    # the batch size is notebook 04's zone pick, measured in the same session
    assert p["batch_size"] in (30, 100, 1000, 10_000)
    s = p["sizing"]
    assert s["rows"] == 6_000_000_000 and s["batch_size"] == p["batch_size"]
    assert s["wall_low_s"] <= s["wall_s"] <= s["wall_high_s"]
    # one worker's address space x 1.5 per task slot, x 4 cores
    assert s["pyspark_memory_mib"] >= 4 * 1.5 * s["worker_bytes"] / 2**20
    if p["refusal"] is None:
        assert p["conf_block"].startswith("spark-submit")
        assert f"--conf spark.executor.pyspark.memory={s['pyspark_memory_mib']}m" in p["conf_block"]
    else:
        assert p["conf_block"] == f"# No configuration block: {p['refusal']}"
    assert {r["slots"] for r in p["runs"]} == {int(r["slots"]) for r in p["runs"][:1]}

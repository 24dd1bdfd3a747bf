import json

import pytest

from helpers.inference.scenarios import SCENARIOS


@pytest.mark.parametrize(
    "args,needle",
    [
        (["bench", "--scenarios", "nope"], "Unknown scenario"),
        (["bench", "--rows", "0"], "--rows"),
        (["bench", "--batch-size", "-5"], "--batch-size"),
        (["bench", "--conf", "pipelined=true"], "spark.KEY=VALUE"),
        (["bench", "--conf", "spark.python.udf.pipelined.enabled"], "spark.KEY=VALUE"),
        (["profile", "--scenario", "nope", "--out", "{tmp}"], "Unknown scenario"),
        (["memory", "--scenario", "nope", "--out", "{tmp}"], "Unknown scenario"),
        (["taskcost", "--partitions", "4"], "partition"),
        (["sweep", "--scenario", "nope"], "Unknown scenario"),
        (["sweep", "--batch-sizes", "100,0"], "batch size"),
        (["sweep", "--batch-sizes", "-5"], "batch size"),
        (["tune", "--scenario", "nope", "--memory-budget", "1g"], "Unknown scenario"),
        (["tune", "--memory-budget", "100"], "one batch of one row"),
        (["tune", "--memory-budget", "0"], "memory-budget"),
        (["tune-bench", "--memory-budget", "64"], "one batch of one row"),
        (
            ["sweep", "--scenario", "synapseml"],
            "Arrow batches" if "synapseml" in SCENARIOS else "not offered",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(cli, tmp_path, args, needle):
    r = cli(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.spark  # starts Spark in a child process
@pytest.mark.synapseml
def test_bench_writes_json(cli, tmp_path):
    out = tmp_path / "bench.json"
    r = cli(
        "bench",
        "--rows",
        "3000",
        "--scenarios",
        "map_in_arrow,synapseml",
        "--batch-size",
        "1000",
        "--repeats",
        "1",
        "--json",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    records = json.loads(out.read_text())
    assert [x["name"] for x in records] == ["physical_limit", "map_in_arrow", "synapseml"]
    keys = {
        "name",
        "rows",
        "batch_size",
        "wall_s",
        "rows_per_s",
        "ratio_to_limit",
        "max_abs_diff",
        "spark_version",
    }
    for rec in records:
        assert keys <= set(rec)
        assert rec["max_abs_diff"] <= 1e-9 and rec["rows"] == 3000
    assert "map_in_arrow" in r.stdout


def test_rows_above_the_kit_limit_is_one_line_exit_2(cli):
    r = cli("bench", "--rows", "99999999999")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "more than this kit generates" in r.stderr and len(r.stderr.strip().splitlines()) <= 2


def test_unwritable_out_folder_is_one_line_exit_2(cli):
    r = cli("profile", "--scenario", "map_in_pandas", "--rows", "100", "--out", "/proc/nope")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: cannot use /proc/nope") and len(r.stderr.splitlines()) == 1

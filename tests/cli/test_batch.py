"""The batch commands (sweep, tune, tune-bench) from the command line."""

import json

import pytest


@pytest.mark.spark  # starts Spark in a child process
def test_sweep_writes_records(cli, tmp_path):
    out = tmp_path / "sweep.json"
    r = cli(
        "sweep",
        "--scenario",
        "map_in_arrow",
        "--batch-sizes",
        "200,1000",
        "--rows",
        "3000",
        "--json",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    records = json.loads(out.read_text())
    assert [x["batch_size"] for x in records] == [200, 1000]
    for rec in records:
        for key in (
            "throughput",
            "cpu_saturation",
            "peak_python_rss_bytes",
            "peak_jvm_heap_bytes",
            "peak_jvm_offheap_bytes",
        ):
            assert rec[key] > 0, key

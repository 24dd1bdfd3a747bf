"""`python -m helpers columnar-bench`: bad input is one line and exit code 2 (no Spark started)."""

import pytest

from helpers.cli.levers import parse_sources
from helpers.core.config import LabError


def test_parse_sources():
    assert parse_sources("parquet_scan, cache_arrow") == ["parquet_scan", "cache_arrow"]
    with pytest.raises(LabError, match="use some of"):
        parse_sources("hdfs")
    with pytest.raises(LabError, match="use some of"):
        parse_sources(",")


def test_unknown_source_exits_2_with_one_line(cli):
    out = cli("columnar-bench", "--sources", "hdfs")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "use some of" in out.stderr

"""helpers.core.validate: what a user types, parsed or refused in one line. Pure."""

import argparse

import pytest

from helpers.core.validate import conf_pair


def test_conf_pair_splits_on_the_first_equals_sign():
    assert conf_pair("spark.python.udf.pipelined.enabled=true") == (
        "spark.python.udf.pipelined.enabled",
        "true",
    )
    assert conf_pair(" spark.driver.extraJavaOptions=-Da=b ") == (
        "spark.driver.extraJavaOptions",
        "-Da=b",
    )


@pytest.mark.parametrize("text", ["pipelined=true", "spark.x", "spark.x=", "=true", ""])
def test_conf_pair_refuses_anything_but_spark_key_value(text):
    with pytest.raises(argparse.ArgumentTypeError, match="spark.KEY=VALUE"):
        conf_pair(text)

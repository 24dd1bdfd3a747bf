"""helpers.core.env: the line findings, from a stand-in for a running session and from the real
one (the plan of a plain `@udf` must match what the findings say)."""

import pytest

from helpers.core import env
from helpers.core.config import LINE
from helpers.core.lines import LINES


class _FakeConf:
    """Spark's RuntimeConfig semantics: `get(key)` answers with the value set or, when none was
    set, Spark's registered default; `get(key, default)` answers the caller's default instead."""

    def __init__(self, registered, set_=None):
        self.registered, self.set_ = registered, set_ or {}

    def get(self, key, *default):
        if key in self.set_:
            return self.set_[key]
        if default:
            return default[0]
        if key not in self.registered:
            raise RuntimeError(f"SparkNoSuchElementException: {key}")
        return self.registered[key]


class _FakeSpark:
    def __init__(self, version, registered, set_=None):
        self.version = version
        self.conf = _FakeConf(registered, set_)


@pytest.mark.parametrize(
    "registered,set_,kind,value",
    [
        ({env.ARROW_UDF_CONF: "true"}, {}, "Arrow-optimized", "true"),  # 4.2+: the default
        ({env.ARROW_UDF_CONF: "false"}, {}, "pickled", "false"),  # 3.5-4.1
        ({env.ARROW_UDF_CONF: "true"}, {env.ARROW_UDF_CONF: "false"}, "pickled", "false"),
        ({}, {}, "pickled", "absent"),  # a Spark that does not know the key
    ],
)
def test_line_findings_read_the_running_spark(registered, set_, kind, value):
    found = env.line_findings(_FakeSpark("9.9.9", registered, set_), {"x": "why not."})
    keys = [f.key for f in found]
    assert keys[0] == "line" and "Spark 9.9.9" in found[0].text()
    assert ("synapseml" in keys) == LINE.synapseml
    assert "Not offered on this line: `x` — why not." in [f.text() for f in found]
    assert found[-1].key == "default_udf"
    assert kind in found[-1].values["kind"] and found[-1].values["value"] == value
    other = [f for f in found if f.key == "other_line"][0].text()
    assert all(f"SPARK={n}" in other for n in LINES if LINES[n] != LINE)


def test_spark_default_conf_is_asked_without_a_default():
    """An explicit default hides Spark's own: the old `get(key, "false")` read false on 4.3."""
    spark = _FakeSpark("4.3.0", {env.ARROW_UDF_CONF: "true"})
    assert spark.conf.get(env.ARROW_UDF_CONF, "false") == "false"  # what the old code saw
    assert env.spark_default_conf(spark, env.ARROW_UDF_CONF) == "true"


@pytest.mark.spark
def test_default_udf_finding_matches_the_plan(spark):
    """What the findings say about a plain `@udf` is what the running Spark plans for one."""
    from pyspark.sql.functions import udf

    from helpers.measure import metrics

    plain = udf(lambda x: x + 1.0, "double")
    ops = metrics.python_operators(spark.range(3).selectExpr("id * 1.0 AS x").select(plain("x")))
    said = env.line_findings(spark)[-1].values["kind"]
    assert ("ArrowEvalPython" in said) == any(o.endswith("ArrowEvalPython") for o in ops), ops
    assert ("BatchEvalPython" in said) == any(o.endswith("BatchEvalPython") for o in ops), ops

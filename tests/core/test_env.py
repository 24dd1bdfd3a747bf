"""helpers.core.env: the line findings, from a stand-in for a running session."""

import pytest

from helpers.core import env
from helpers.core.config import LINE
from helpers.core.lines import LINES


class _FakeConf:
    def __init__(self, values):
        self.values = values

    def get(self, key, default=None):
        return self.values.get(key, default)


class _FakeSpark:
    def __init__(self, version, arrow):
        self.version = version
        self.conf = _FakeConf({env.ARROW_UDF_CONF: arrow})


@pytest.mark.parametrize("arrow,kind", [("true", "Arrow-optimized"), ("false", "pickled")])
def test_line_findings_read_the_running_spark(arrow, kind):
    found = env.line_findings(_FakeSpark("9.9.9", arrow), {"x": "why not."})
    keys = [f.key for f in found]
    assert keys[0] == "line" and "Spark 9.9.9" in found[0].text()
    assert ("synapseml" in keys) == LINE.synapseml
    assert "Not offered on this line: `x` — why not." in [f.text() for f in found]
    assert kind in found[-1].text() and f"= {arrow}" in found[-1].text()
    other = [f for f in found if f.key == "other_line"][0].text()
    assert all(f"SPARK={n}" in other for n in LINES if LINES[n] != LINE)

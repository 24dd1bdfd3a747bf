"""helpers.viz.pickling: the explorer's control (pure: no Spark)."""

import pandas as pd

from helpers.lab import pickling
from helpers.viz.pickling import ExplorerChoice
from helpers.viz.widgets import live


def test_explorer_choice_value_follows_its_fields():
    choice = ExplorerChoice(500)
    assert choice.value == ("string", "pandas_udf", 500)
    assert [o[1] for o in choice.path.options] == list(pickling.TYPE_PATHS)
    choice.kind.value = "double"
    choice.path.value = "row_udf"
    choice.rows.value = 100
    assert choice.value == ("double", "row_udf", 100)


def test_explorer_choice_drives_live_once_now_and_on_every_change():
    seen = []

    def render(value):
        seen.append(value)
        return pd.DataFrame({"kind": [value[0]]})

    choice = ExplorerChoice(200, kind="timestamp", path="arrow_udf")
    box = live(choice, render)
    choice.rows.value = 300
    assert seen == [("timestamp", "arrow_udf", 200), ("timestamp", "arrow_udf", 300)]
    assert box.children[0] is choice

import pytest

from helpers.core.findings import Finding, finding
from helpers.viz.findings import show, to_markdown

T = {"faster": "{name} ran {ratio:.2f}x faster.", "slower": "{name} was slower."}


def test_finding_fills_its_template_and_keeps_the_numbers():
    f = finding(T, "faster", name="mapInArrow", ratio=1.234)
    assert (
        f.text() == "mapInArrow ran 1.23x faster."
        and f.values["ratio"] == 1.234
        and f.key == "faster"
    )


def test_finding_fails_on_unknown_key_or_missing_value():
    with pytest.raises(KeyError):
        finding(T, "nope")
    with pytest.raises(KeyError):
        finding(T, "faster", name="x")


def test_markdown_has_one_bullet_per_finding_under_the_title():
    fs = [Finding("a", "one {n}", {"n": 1}), Finding("b", "two")]
    assert to_markdown(fs) == "- one 1\n- two"
    assert to_markdown(fs, "Seen") == "**Seen**\n\n- one 1\n- two"
    assert show(fs).data == "- one 1\n- two"

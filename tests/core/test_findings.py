import pytest
from IPython.display import Markdown

from helpers.core.findings import Finding, finding
from helpers.viz import findings as viz_findings
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


def test_show_displays_at_once_and_its_result_does_not_display_again(monkeypatch):
    """`show` inside an `if` block used to return its Markdown unseen (06's blank cells): it now
    displays when called, and the returned value adds nothing when a cell's last line shows it."""
    shown = []
    monkeypatch.setattr(viz_findings, "display", lambda obj: shown.append(obj))
    out = show([Finding("a", "one {n}", {"n": 1})], "Seen")
    assert [m.data for m in shown] == ["**Seen**\n\n- one 1"]
    assert isinstance(out, Markdown) and out.data == "**Seen**\n\n- one 1"
    assert out._ipython_display_() is None  # IPython calls this instead of rendering it again


def test_span_says_one_share_when_both_ends_round_alike():
    from helpers.core.findings import span

    assert span(0.12, 0.97) == "12% to 97%"
    assert span(0.971, 0.968) == "97%"


def test_span_in_mib_says_one_size_when_both_ends_round_alike():
    from helpers.core.findings import span

    assert span(440.2, 461.0, "{:,.0f}", "–") == "440–461"
    assert span(446.2, 445.9, "{:,.0f}", "–") == "446"

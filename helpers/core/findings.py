"""Findings: what a result found in this run, as plain data.

A result type (a dataclass or a DataFrame's producer) offers `findings(...) -> list[Finding]`. Each
finding names a sentence template that lives beside the result type (a module-level dict of
templates) and the numbers of this run that fill it. `helpers.viz.findings` turns a list of them
into Markdown; notebooks never assemble these sentences themselves, and tests check every branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Finding:
    """One sentence about this run: `key` names the template (so tests can tell which branch was
    taken), `template` is a `str.format` string, `values` the numbers that fill it."""

    key: str
    template: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        return self.template.format(**self.values)


def finding(templates: Mapping[str, str], key: str, **values: Any) -> Finding:
    """The finding `key` of a template table, filled with `values` (KeyError on an unknown key or a
    missing value, so a typo fails in the tests, not in front of a class)."""
    f = Finding(key, templates[key], values)
    f.text()
    return f


def span(lo: float, hi: float) -> str:
    """A range of shares as a person reads it: '12% to 97%', or '97%' when both round alike."""
    a, b = f"{lo:.0%}", f"{hi:.0%}"
    return a if a == b else f"{a} to {b}"


def mib_span(lo: float, hi: float) -> str:
    """A range of MiB as a person reads it: '440–461', or '446' when both round alike."""
    a, b = f"{lo:,.0f}", f"{hi:,.0f}"
    return a if a == b else f"{a}–{b}"

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



def span(lo: float, hi: float, fmt: str = "{:.0%}", joiner: str = " to ") -> str:
    """A range as a person reads it, its ends formatted with `fmt`: '12% to 97%', or '97%' when
    both ends read alike (MiB: `span(lo, hi, "{:,.0f}", "–")` gives '440–461' or '446')."""
    a, b = fmt.format(lo), fmt.format(hi)
    return a if a == b else f"{a}{joiner}{b}"

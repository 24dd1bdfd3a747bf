"""Markdown of findings (`helpers.core.findings`): the one renderer of every "what you saw" cell."""

from __future__ import annotations

from typing import Iterable

from helpers.core.findings import Finding


def to_markdown(findings: Iterable[Finding], title: str | None = None) -> str:
    """One bullet per finding, in order, under an optional bold title."""
    lines = [f"**{title}**", ""] if title else []
    lines += [f"- {f.text()}" for f in findings]
    return "\n".join(lines)


def show(findings: Iterable[Finding], title: str | None = None):
    """The findings as an IPython Markdown object (the last expression of a cell displays it)."""
    from IPython.display import Markdown

    return Markdown(to_markdown(list(findings), title))

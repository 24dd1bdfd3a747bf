"""Markdown of findings (`helpers.core.findings`): the one renderer of every "what you saw" cell."""

from __future__ import annotations

from typing import Iterable

from IPython.display import Markdown, display

from helpers.core.findings import Finding


def to_markdown(findings: Iterable[Finding], title: str | None = None) -> str:
    """One bullet per finding, in order, under an optional bold title."""
    lines = [f"**{title}**", ""] if title else []
    lines += [f"- {f.text()}" for f in findings]
    return "\n".join(lines)


class Shown(Markdown):
    """Markdown already displayed by `show`: it keeps its text (`.data`) for tests and callers,
    and displaying it again (a cell's last expression, a widget render) adds nothing."""

    def _ipython_display_(self) -> None:
        return None


def show(findings: Iterable[Finding], title: str | None = None) -> Shown:
    """Display the findings as Markdown now, wherever `show` is called (inside an `if`, a loop or
    a function as well as on a cell's last line), and return them as `Shown`. Show at least one
    finding: a title alone is a blank "What you saw" (`tests/test_notebooks.py` fails on it)."""
    text = to_markdown(list(findings), title)
    display(Markdown(text))
    return Shown(text)

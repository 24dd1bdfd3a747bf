"""The CLI's progress sink: one rewritten line on a terminal's stderr, nothing otherwise."""

import io

from helpers.cli import common
from helpers.core import progress as pg


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_terminal_gets_one_rewritten_line_per_point_and_a_newline_at_the_end():
    tty = Tty()
    sink = common.stderr_progress(tty)
    assert isinstance(sink, common.StderrProgress)
    p = pg.as_progress(sink)
    with p.task("sweep fake", 2):
        p.step("batch 10")
        p.step("batch 100")
    out = tty.getvalue()
    parts = out.split("\r\033[K")[1:]
    assert len(parts) == 3 and out.endswith("\n") and out.count("\n") == 1
    assert parts[0].startswith("sweep fake: 1/2 batch 10 (1 remain, ")
    assert parts[1].startswith("sweep fake: 2/2 batch 100 (0 remain, ")
    assert parts[2].startswith("sweep fake: done, 2 points in ")


def test_quiet_when_stderr_is_not_a_terminal():
    assert common.stderr_progress(io.StringIO()) is None
    assert common.stderr_progress(object()) is None  # no isatty at all


def test_the_cli_registers_it_as_the_default(monkeypatch, capsys):
    from helpers.cli.main import main

    seen = []
    monkeypatch.setattr(pg, "set_default_sink", seen.append)
    monkeypatch.setattr("helpers.cli.main.set_default_sink", seen.append)
    assert main(["layers"]) == 0
    assert seen == [common.stderr_progress]
    assert "helpers/core" in capsys.readouterr().out

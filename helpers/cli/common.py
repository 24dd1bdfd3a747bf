"""What every CLI command shares: the argument parser that exits 2 with one line, JSON output
written atomically, progress of long commands on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from helpers.core.config import LabError, atomic_write_bytes
from helpers.core.progress import ProgressEvent, Sink
from helpers.core.validate import java_int
from helpers.inference.scenarios import parse_scenarios


def write_json(path: str | None, payload) -> None:
    """Write `payload` as JSON to `path` atomically (no-op when path is None)."""
    if path:
        atomic_write_bytes(Path(path), json.dumps(payload, indent=1, default=float).encode())


def add_batch_size(p: argparse.ArgumentParser) -> None:
    """The `--batch-size` option every job command takes (Arrow records per batch)."""
    p.add_argument(
        "--batch-size",
        type=java_int,
        default=10_000,
        help="spark.sql.execution.arrow.maxRecordsPerBatch",
    )


def scenario_names(text: str | None) -> list[str]:
    """--scenarios: 'a,b' or 'all' -> scenario names (checked against the registry); a list that
    names none (',' or ' ') is a one-line LabError."""
    if text is not None and text != "all" and not [n for n in text.split(",") if n.strip()]:
        raise LabError(
            f"--scenarios {text!r} names no scenario: pass e.g. pandas_udf,map_in_arrow."
        )
    return parse_scenarios(text)


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        self.exit(2, f"error: {message}\n")


class StderrProgress:
    """The CLI's progress sink: one line on `stream` (stderr), rewritten in place while a task
    runs (which point, how many remain) and ended with a newline when it finishes."""

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr

    def __call__(self, event: ProgressEvent) -> None:
        end = "\n" if event.finished else ""
        self.stream.write(f"\r\033[K{event.line()}{end}")
        self.stream.flush()


def stderr_progress(stream=None) -> Sink | None:
    """A `StderrProgress` when `stream` (default stderr) is a terminal; None (quiet) otherwise, so
    logs and pipes get no progress lines. Registered by `helpers.cli.main` as the default sink."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return StderrProgress(stream) if isatty is not None and isatty() else None

"""What every CLI command shares: the argument parser that exits 2 with one line, JSON output
written atomically.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from helpers.core.config import atomic_write_bytes
from helpers.core.validate import positive_int


def write_json(path: str | None, payload) -> None:
    """Write `payload` as JSON to `path` atomically (no-op when path is None)."""
    if path:
        atomic_write_bytes(Path(path), json.dumps(payload, indent=1, default=float).encode())


def add_batch_size(p: argparse.ArgumentParser) -> None:
    """The `--batch-size` option every job command takes (Arrow records per batch)."""
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=10_000,
        help="spark.sql.execution.arrow.maxRecordsPerBatch",
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        self.exit(2, f"error: {message}\n")

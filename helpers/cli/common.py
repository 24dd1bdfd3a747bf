"""What every CLI command shares: the argument parser that exits 2 with one line, JSON output
written atomically.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from helpers.core.config import atomic_write_bytes


def write_json(path: str | None, payload) -> None:
    """Write `payload` as JSON to `path` atomically (no-op when path is None)."""
    if path:
        atomic_write_bytes(Path(path), json.dumps(payload, indent=1, default=float).encode())


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        self.exit(2, f"error: {message}\n")

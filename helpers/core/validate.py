"""One place for parsing and validating what a user types: positive integers, sizes ('512m'),
batch-size lists, partition counts. Each bad input is a one-line LabError that says what to do.
"""

from __future__ import annotations

import argparse
import numbers
import re

from helpers.core.config import MAX_ROWS, LabError


def require_positive(name: str, value: int) -> int:
    """Return value if it is a positive integer, else raise a one-line LabError."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise LabError(f"{name} must be a positive integer, got {value!r}.")
    return value


def require_rows(rows: int) -> int:
    """`rows` if it is a positive integer no larger than the kit generates (config.MAX_ROWS)."""
    require_positive("rows", rows)
    if rows > MAX_ROWS:
        raise LabError(
            f"rows={rows:,} is more than this kit generates in memory ({MAX_ROWS:,}); "
            "use LAB_SCALE=full (1M rows) or a smaller --rows."
        )
    return rows


def row_count(text: str) -> int:
    """argparse type for --rows: a positive integer up to config.MAX_ROWS."""
    value = positive_int(text)
    try:
        return require_rows(value)
    except LabError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


SIZE_RE = re.compile(r"^\s*(\d+)\s*([kmg]?)\s*b?\s*$", re.I)


def parse_mem(text: str | int) -> int:
    """'24m' / '512k' / '1g' / 1048576 -> bytes (JVM-style suffixes, powers of 1024)."""
    if isinstance(text, int) and not isinstance(text, bool):
        return require_positive("memory size", text)
    m = SIZE_RE.match(str(text))
    if not m or int(m.group(1)) <= 0:
        raise LabError(f"memory size {text!r} is not like 24m, 512k or 1g.")
    return int(m.group(1)) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[m.group(2).lower()]


def _as_int(value):
    """numpy integers -> int; anything else unchanged (require_positive rejects it)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def parse_batch_sizes(text: str) -> list[int]:
    """'10,100,1000' -> [10, 100, 1000]; each must be a positive integer (LabError otherwise)."""
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = int(part)
        except ValueError:
            raise LabError(
                f"batch size {part!r} is not an integer: pass e.g. --batch-sizes 100,1000,10000."
            ) from None
        if value <= 0:
            raise LabError(
                f"batch size must be a positive integer, got {value}: "
                "pass e.g. --batch-sizes 100,1000,10000."
            )
        out.append(value)
    if not out:
        raise LabError("no batch sizes given: pass e.g. --batch-sizes 100,1000,10000.")
    return out


def parse_partitions(text: str) -> list[int]:
    """'2,32' -> [2, 32]: at least two distinct positive counts, ascending."""
    try:
        values = sorted({int(v) for v in str(text).split(",") if v.strip()})
    except ValueError:
        raise LabError(
            f"Partitions must be comma-separated positive integers, got {text!r}."
        ) from None
    if len(values) < 2 or values[0] <= 0:
        raise LabError(
            f"Give at least two different positive partition counts (e.g. 2,32), got {text!r}."
        )
    return values


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def conf_pair(text: str) -> tuple[str, str]:
    """argparse type for --conf: 'spark.some.key=value' -> ('spark.some.key', 'value')."""
    key, sep, value = str(text).partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key.startswith("spark.") or not value:
        raise argparse.ArgumentTypeError(
            f"expected spark.KEY=VALUE (e.g. spark.python.udf.pipelined.enabled=true), got {text!r}"
        )
    return key, value


_UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def parse_size(text: str) -> float:
    """Spark's size metric text ('12.3 MiB', or 'total (min, med, max ...)\\n12.3 MiB (...)')
    -> bytes."""
    line = text.strip().split("\n")[-1] if "\n" in text else text.strip()
    m = re.match(r"([\d.,]+)\s*(B|KiB|MiB|GiB|TiB)", line)
    if not m:
        raise ValueError(f"not a size metric: {text!r}")
    return float(m.group(1).replace(",", "")) * _UNITS[m.group(2)]

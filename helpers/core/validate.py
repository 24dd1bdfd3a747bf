"""One place for parsing and validating what a user types: positive integers, sizes ('512m'),
batch-size lists, partition counts, the confs and `LAB_*` variables a session starts with. Each bad
input is a one-line LabError that says what to do.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import numbers
import os
import re
import socket

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


def as_int(value):
    """numpy integers -> int; anything else unchanged (require_positive rejects it)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


# Spark keeps batch sizes (maxRecordsPerBatch) and most counts in a Java int.
JAVA_INT_MAX = 2**31 - 1
# More partitions than this is not a sane experiment on one machine (each is a task).
MAX_PARTITIONS = 4096


def java_int(text: str) -> int:
    """argparse type for a positive count Spark keeps in a Java int (e.g. --batch-size)."""
    value = positive_int(text)
    if value > JAVA_INT_MAX:
        raise argparse.ArgumentTypeError(
            f"{value:,} is more than Spark accepts here (a Java int, at most {JAVA_INT_MAX:,})"
        )
    return value


def positive_float(text: str) -> float:
    """argparse type for a finite number > 0 (e.g. --interval-ms)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
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
        if value <= 0 or value > JAVA_INT_MAX:
            raise LabError(
                f"batch size must be a positive integer up to {JAVA_INT_MAX:,} (a Java int), "
                f"got {value}: pass e.g. --batch-sizes 100,1000,10000."
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
    if values[-1] > MAX_PARTITIONS:
        raise LabError(
            f"{values[-1]:,} partitions is more than this kit runs on one machine "
            f"({MAX_PARTITIONS:,} tasks at most): pass e.g. 2,32."
        )
    return values


def partition_count(text: str) -> int:
    """argparse type for one --partitions count: 1 .. MAX_PARTITIONS."""
    value = positive_int(text)
    if value > MAX_PARTITIONS:
        raise argparse.ArgumentTypeError(
            f"{value:,} partitions is more than this kit runs on one machine "
            f"(at most {MAX_PARTITIONS:,})"
        )
    return value


def positive_int(text: str) -> int:
    """argparse type for a positive integer."""
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


# ---- what a session starts with: confs and LAB_* variables, checked before the JVM starts ------

MASTER_RE = re.compile(
    r"^(local(\[(\*|[1-9]\d*)(,\s*[1-9]\d*)?\])?|local-cluster\[[1-9]\d*,\s*[1-9]\d*,\s*[1-9]\d*\]"
    r"|spark://[^\s/:,]+:\d+(,[^\s/:,]+:\d+)*|yarn|k8s://\S+|mesos://\S+)$"
)
LOG_LEVELS = ("ALL", "DEBUG", "ERROR", "FATAL", "INFO", "OFF", "TRACE", "WARN")
# Spark refuses a driver or executor heap under 1.5 x 300 MiB of reserved memory
# (UnifiedMemoryManager.getMaxMemory); 512m is the smallest round size above it.
MIN_HEAP_MIB = 512
HEAP_CONFS = ("spark.driver.memory", "spark.executor.memory")
# spark.executor.pyspark.memory becomes RLIMIT_AS of each Python worker (pyspark/worker.py); a
# worker forked with less address space than it already maps fails at its first allocation.
MIN_PYSPARK_MEMORY_MIB = 256
INT_CONFS = (
    "spark.sql.execution.arrow.maxRecordsPerBatch",
    "spark.sql.shuffle.partitions",
    "spark.default.parallelism",
    "spark.executor.cores",
    "spark.task.cpus",
)
MODULE_CONFS = ("spark.python.daemon.module", "spark.python.worker.module")
MASTER_WAIT_S = 5.0

_SPARK_SIZE_RE = re.compile(r"^\s*(\d+)\s*(b|k|kb|m|mb|g|gb|t|tb|p|pb)?\s*$", re.I)


def spark_size_mib(key: str, text: str) -> float:
    """A Spark memory conf ('4g', '512m', '1024' = MiB) in MiB; LabError when Spark would refuse
    it."""
    m = _SPARK_SIZE_RE.match(str(text))
    if not m:
        raise LabError(f"{key}={text!r} is not a size: use e.g. 512m or 4g.")
    unit = (m.group(2) or "m").lower()[0]
    return (
        int(m.group(1))
        * {"b": 2**-20, "k": 2**-10, "m": 1, "g": 2**10, "t": 2**20, "p": 2**30}[unit]
    )


def check_master(url: str, wait: float = MASTER_WAIT_S, source: str = "master") -> str:
    """`url` if Spark accepts it as a master and, for spark://, the master answers on its port
    within `wait` seconds; else a one-line LabError."""
    if not MASTER_RE.match(str(url)):
        raise LabError(
            f"{source} {url!r} is not a Spark master URL: use local[*], local[N] (N >= 1) or "
            "spark://HOST:PORT."
        )
    if url.startswith("spark://"):
        for hostport in url[len("spark://") :].split(","):
            host, _, port = hostport.rpartition(":")
            try:
                socket.create_connection((host, int(port)), timeout=wait).close()
            except OSError as exc:
                raise LabError(
                    f"{source} {url} does not answer on {hostport} within {wait:.0f} s "
                    f"({exc.strerror or type(exc).__name__}): start that master or unset "
                    "LAB_MASTER."
                ) from None
    return url


def check_log_level(text: str | None) -> str:
    """LAB_LOG_LEVEL (default ERROR), upper-cased, if Spark knows the level."""
    level = (text or "ERROR").strip().upper()
    if level not in LOG_LEVELS:
        raise LabError(
            f"LAB_LOG_LEVEL={text!r} is not a log level: use one of {', '.join(LOG_LEVELS)}."
        )
    return level


def check_executor_python(path: str | None, master: str) -> str | None:
    """LAB_EXECUTOR_PYTHON: on this machine (a local master or a cluster on 127.0.0.1) it must
    be an executable file; for other hosts it is their business."""
    if not path:
        return None
    here = master.startswith("local") or master.startswith("spark://127.0.0.1:")
    if here and not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise LabError(
            f"LAB_EXECUTOR_PYTHON={path} is not an executable file on this machine: point it at "
            "a Python with the kit's packages, or unset it."
        )
    return path


def _is_bool(text: str) -> bool:
    return str(text).strip().lower() in ("true", "false")


def check_session_conf(conf: dict, wait: float = MASTER_WAIT_S) -> dict:
    """`conf` (a session's full conf) if the values whose type is known here are valid: the
    master URL (and a spark:// master answers), heap sizes Spark accepts, a pyspark memory a
    worker can start with, booleans, integers within a Java int, a daemon/worker module this
    Python finds. One-line LabError otherwise."""
    master = conf.get("spark.master", "local[*]")
    check_master(master, wait=wait)
    for key in HEAP_CONFS:
        if key in conf and spark_size_mib(key, conf[key]) < MIN_HEAP_MIB:
            raise LabError(
                f"{key}={conf[key]} is too small: Spark needs a heap of at least "
                f"{MIN_HEAP_MIB}m (it reserves 300 MiB and refuses less than 1.5 times that)."
            )
    key = "spark.executor.pyspark.memory"
    if key in conf and spark_size_mib(key, conf[key]) < MIN_PYSPARK_MEMORY_MIB:
        raise LabError(
            f"{key}={conf[key]} is too small for a Python worker to start (its address-space "
            f"limit, RLIMIT_AS): use at least {MIN_PYSPARK_MEMORY_MIB}m."
        )
    for key, value in conf.items():
        if (key.endswith(".enabled") or key == "spark.python.worker.reuse") and not _is_bool(value):
            raise LabError(f"{key}={value!r} must be true or false.")
        if key in INT_CONFS:
            try:
                number = int(str(value).strip())
            except ValueError:
                raise LabError(f"{key}={value!r} must be an integer.") from None
            if abs(number) > JAVA_INT_MAX:
                raise LabError(f"{key}={value} is beyond a Java int ({JAVA_INT_MAX:,}).")
        if key in MODULE_CONFS and master.startswith("local"):
            try:
                found = importlib.util.find_spec(str(value)) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                raise LabError(
                    f"{key}={value}: no such Python module here (Python workers could not "
                    "start): name an importable module, e.g. pyspark.daemon."
                )
    return conf

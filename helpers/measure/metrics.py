"""Spark's own numbers: the physical operators of a plan and the Python SQL metrics Spark keeps per
plan node (read through the driver's REST API), and jobs run so that their metrics can be read.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

import pandas as pd

from helpers.core.validate import parse_size


def rest_json(url: str, timeout: float = 30.0, tries: int = 3):
    """GET a JSON document from the local Spark UI; on a loaded machine the UI can answer late,
    so a timed-out read is retried (`tries` in all) before the error goes up."""
    for attempt in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                return json.loads(resp.read())
        except (TimeoutError, urllib.error.URLError) as exc:
            timed_out = isinstance(getattr(exc, "reason", exc), TimeoutError)
            if not timed_out or attempt == tries - 1:
                raise


def python_metrics(spark, execution_id: int | None = None) -> pd.DataFrame:
    """SQL metrics of the Python plan nodes of one SQL execution (default: the latest), from the
    REST API: node, metric, value (text as Spark shows it) and bytes (for size metrics)."""
    base = f"{spark.sparkContext.uiWebUrl}/api/v1/applications/{spark.sparkContext.applicationId}"
    if execution_id is None:
        executions = rest_json(f"{base}/sql?details=false&length=1000")
        execution_id = max(e["id"] for e in executions)
    detail = rest_json(f"{base}/sql/{execution_id}?details=true")
    # Spark's listener aggregates an execution's metrics when it handles the end event, a moment
    # after the action returned: until then the REST API shows the execution RUNNING, metrics empty
    deadline = time.monotonic() + 10.0
    while detail.get("status") == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
        detail = rest_json(f"{base}/sql/{execution_id}?details=true")
    rows = []
    for node in detail.get("nodes", []):
        for metric in node.get("metrics", []):
            name = metric["name"]
            if "Python" in name or "python" in name.lower():
                try:
                    nbytes = parse_size(metric["value"])
                except ValueError:
                    nbytes = None
                rows.append(
                    {
                        "execution": execution_id,
                        "node": node["nodeName"],
                        "metric": name,
                        "value": metric["value"],
                        "bytes": nbytes,
                    }
                )
    return pd.DataFrame(rows, columns=["execution", "node", "metric", "value", "bytes"])


def physical_operators(frame) -> list[str]:
    """Names of the physical plan's operators (executed plan), outermost first."""
    plan = frame._jdf.queryExecution().executedPlan()
    names = []
    for line in plan.treeString().splitlines():
        m = re.search(r"([A-Z][A-Za-z]+)", line)
        if m:
            names.append(m.group(1))
    return names


# Every physical operator that runs Python workers lives in this JVM package, on every line.
PYTHON_EXEC_PACKAGE = "org.apache.spark.sql.execution.python."


def plan_nodes(frame) -> list[tuple[str, str]]:
    """(operator name, JVM class) of every node of the executed physical plan, outermost first
    (depth first), asked from the running Spark."""
    out, todo = [], [frame._jdf.queryExecution().executedPlan()]
    while todo:
        node = todo.pop()
        out.append((node.nodeName(), node.getClass().getName()))
        kids = node.children()
        todo.extend(kids.apply(i) for i in reversed(range(kids.size())))
    return out


def python_operators(frame) -> list[str]:
    """Names of the executed plan's operators that run Python workers (their class is in Spark's
    `execution.python` package), outermost first: e.g. `PythonMapInArrow` (3.5) or `MapInArrow`."""
    return [name for name, cls in plan_nodes(frame) if cls.startswith(PYTHON_EXEC_PACKAGE)]


def operator_matches(expected: str, name: str) -> bool:
    """Whether a planned operator `name` is the scenario's `expected` kind: the same name, or the
    name with a line's prefix (`PythonMapInArrow` is 3.5's `MapInArrow`)."""
    return name == expected or name.endswith(expected)


def _executions(spark) -> list[dict]:

    sc = spark.sparkContext
    return rest_json(
        f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/sql?details=false&length=100000"
    )


def run_with_python_metrics(spark, fn, timeout: float = 15.0):
    """Run `fn()` (one Spark action) and return (its result, the Python SQL metrics of the SQL
    execution it started). Spark fills the REST API from an asynchronous listener, so this waits
    until that execution is COMPLETED and reports its size metrics, instead of reading
    whatever execution happens to be the latest."""

    before = max((e["id"] for e in _executions(spark)), default=-1)
    result = fn()
    deadline = time.monotonic() + timeout
    while True:
        done = [
            e["id"]
            for e in _executions(spark)
            if e["id"] > before and e.get("status") == "COMPLETED"
        ]
        if done:
            metrics = python_metrics(spark, max(done))
            if len(metrics) and metrics["bytes"].notna().any():
                return result, metrics
        if time.monotonic() > deadline:
            return result, pd.DataFrame(columns=["execution", "node", "metric", "value", "bytes"])
        time.sleep(0.1)


def metric_bytes(metrics: pd.DataFrame, needle: str) -> float | None:
    """The first size metric whose name contains `needle` (bytes), or None."""
    m = metrics[metrics["metric"].str.contains(needle)]
    vals = m["bytes"].dropna()
    return float(vals.iloc[0]) if len(vals) else None

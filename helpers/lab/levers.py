"""Spark 4.x levers on the Python data path (notebook 10), each measured on the same job.

- `lever_table(spark)`: which of the levers this Spark's conf registry defines (key, default, the
  version the registry names). Every section of notebook 10 asks it before it measures.
- `pipelined_compare`: the pipelined runner (`spark.python.udf.pipelined.enabled`, a static core
  conf read from the SparkConf by `BasePythonRunner`; its worker side is `pipelined_process` in
  `pyspark/worker.py`) against the default runner: one session each, same rows, throughput and
  parity.
- `compression_sweep`: Arrow IPC compression JVM <-> Python (`...arrow.compression.codec`
  none/lz4/zstd): bytes on the wire from Spark's Python SQL metric "data sent to Python workers"
  (the writer counts `DataOutputStream.size()` after the codec has run, `PythonArrowInput` /
  `ColumnarArrowPythonInput`), wall time and the CPU seconds of the JVM and the Python workers
  (psutil), parity.
- `columnar_sources`: which upstream operators feed `ArrowEvalPython` columnar batches
  (`...arrow.pythonUDF.columnarInput.enabled`; `ArrowEvalPythonExec.supportsColumnar` is the
  child's `supportsColumnar` and the conf): the plan with the conf on and off, throughput, parity,
  and the error where a run fails.
- `profiler_compare`: Spark's built-in UDF profiler (`spark.sql.pyspark.udf.profiler=perf`, cProfile
  around the user function) and the kit's worker sampler on the same run: the share of the
  workers' CPU seconds each one sees.

Units: seconds, bytes, rows/s.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from helpers.core.config import LabError
from helpers.core.findings import Finding, finding
from helpers.core.session import (
    conf_scope,
    logs_off,
    set_log_level,
    start_session,
    stop_session,
)
from helpers.core.validate import require_positive
from helpers.inference.scenarios import Scenario, get_scenario, input_frame, scenario_frame
from helpers.measure.metrics import metric_bytes, run_with_python_metrics
from helpers.measure.samplers import process_table
from helpers.measure.timing import (
    BATCH_CONF,
    PARITY_TOL,
    reference_predictions,
    time_noop,
    warm_up,
)
from helpers.model.data import ensure_features, feature_frame
from helpers.profile.classify import categorize
from helpers.profile.stacks import on_cpu, total_s
from helpers.profile.worker_profilers import profile_scenario

LEVERS = {
    "pipelined": "spark.python.udf.pipelined.enabled",
    "compression": "spark.sql.execution.arrow.compression.codec",
    "columnar_input": "spark.sql.execution.arrow.pythonUDF.columnarInput.enabled",
    "profiler": "spark.sql.pyspark.udf.profiler",
    "max_bytes": "spark.sql.execution.arrow.maxBytesPerBatch",
}
WHAT = {
    "pipelined": "the pipelined runner",
    "compression": "Arrow IPC compression between the JVM and Python",
    "columnar_input": "columnar input to Arrow UDFs",
    "profiler": "the built-in UDF profiler",
    "max_bytes": "a byte cap per Arrow batch",
}
CACHE_SERIALIZER = "spark.sql.cache.serializer"
ARROW_CACHE = "org.apache.spark.sql.execution.columnar.ArrowCachedBatchSerializer"
# Config objects whose entries register only when the JVM first loads them.
_CONF_OBJECTS = (
    "org.apache.spark.internal.config.Python$",
    "org.apache.spark.sql.internal.SQLConf$",
)


# ---- what this Spark defines --------------------------------------------------------------------


def conf_entry(spark, key: str) -> dict | None:
    """This Spark's registered config entry for `key` (core or SQL, public or internal): its default
    as text and the version the entry names; None when the registry has no such key."""
    jvm = spark._jvm
    for cls in _CONF_OBJECTS:
        jvm.java.lang.Class.forName(cls)  # static init registers the object's entries
    entry = jvm.org.apache.spark.internal.config.ConfigEntry.findEntry(key)
    if entry is None:
        return None
    return {"default": entry.defaultValueString(), "since": entry.version()}


def lever_table(spark) -> pd.DataFrame:
    """One row per lever: lever, key, defined (bool), default, since (as the registry says)."""
    rows = []
    for lever, key in LEVERS.items():
        e = conf_entry(spark, key)
        rows.append(
            {
                "lever": lever,
                "key": key,
                "defined": e is not None,
                "default": e["default"] if e else None,
                "since": e["since"] if e else None,
            }
        )
    return pd.DataFrame(rows, columns=["lever", "key", "defined", "default", "since"])


def lever_defined(table: pd.DataFrame, lever: str) -> bool:
    """Whether `lever` (a key of LEVERS) is defined in a `lever_table`."""
    if lever not in LEVERS:
        raise LabError(f"Unknown lever {lever!r}: use one of {', '.join(LEVERS)}.")
    return bool(table.set_index("lever").loc[lever, "defined"])


LEVER_FINDINGS = {
    "lever": "Spark {version}'s conf registry {has} `{conf}`: this section {measures} {what} here.",
}
# One sentence on parity with the in-process reference, for every lever that compares predictions.
PARITY_FINDINGS = {
    "parity": (
        "{who}: largest difference from the in-process reference {diff:.1e}, {verdict} the "
        "{tol:.0e} tolerance."
    ),
}


def lever_finding(version: str, conf: str, what: str, present: bool) -> Finding:
    """Whether Spark `version` defines `conf` (the lever `what` of a section), as one sentence."""
    has, measures = ("defines", "measures") if present else ("has no", "cannot measure")
    return finding(
        LEVER_FINDINGS, "lever", version=version, has=has, conf=conf, measures=measures, what=what
    )


def lever_findings(table: pd.DataFrame, lever: str, version: str) -> list[Finding]:
    """One sentence: whether this Spark has `lever`, computed from its conf registry."""
    present = lever_defined(table, lever)
    conf = table.set_index("lever").loc[lever, "key"]
    return [lever_finding(version, conf, WHAT[lever], present)]


def parity_finding(who: str, diff: float, tol: float = PARITY_TOL) -> Finding:
    """`who` (e.g. "Both runners") against the reference: largest difference, within or over
    `tol`."""
    verdict = "within" if diff <= tol else "over"
    return finding(PARITY_FINDINGS, "parity", who=who, diff=diff, verdict=verdict, tol=tol)


# ---- shared: the learner's job, one timed, checked run ----------------------------------------


def as_job(job, like: str = "pandas_udf") -> Scenario:
    """What a lever runs: a registry name, a Scenario, or the learner's own `job(df, model)`
    (df: id, f0..f15; model: this session's model broadcast; returns id, prediction), labelled
    like the registry's `like` path and named after the function. The model comes per session,
    so the job survives the new sessions a static conf needs."""
    if isinstance(job, (str, Scenario)):
        return get_scenario(job)
    if not callable(job):
        raise LabError(
            f"A job is a scenario name or a function (df, model) -> DataFrame, not {job!r}."
        )
    return replace(get_scenario(like), name=getattr(job, "__name__", "job"), build=job)


def _parity(frame, reference: np.ndarray) -> float:
    pred = frame.toPandas().sort_values("id")["prediction"].to_numpy()
    if len(pred) != len(reference):
        return float("inf")
    return float(np.max(np.abs(pred - reference)))


def _timed(frame, repeats: int) -> float:
    return statistics.median(time_noop(frame) for _ in range(repeats))


def _cpu_by_role() -> dict:
    t = process_table()
    return {
        "jvm": float(t.loc[t.role == "jvm", "cpu_s"].sum()),
        "python": float(t.loc[t.role == "python_worker", "cpu_s"].sum()),
        "pids": dict(zip(t.pid, t.cpu_s)),
    }


def _cpu_delta(before: dict, after: dict, role_pids: set | None = None) -> float:
    """CPU seconds used between two snapshots by the processes of `after` (a process that appeared
    in between counts from zero)."""
    pids = after["pids"]
    return float(
        sum(cpu - before["pids"].get(pid, 0.0) for pid, cpu in pids.items() if pid in role_pids)
    )


def _role_pids(role: str) -> set:
    t = process_table()
    return set(t.loc[t.role == role, "pid"])


# ---- 1. the pipelined runner ---------------------------------------------------------------------

PIPELINED_KEY = LEVERS["pipelined"]


@dataclass
class RunnerRecord:
    runner: str  # "default" or "pipelined"
    scenario: str
    rows: int
    wall_s: float
    rows_per_s: float
    max_abs_diff: float


def pipelined_compare(
    app: str, scenario="pandas_udf", rows: int = 20_000, repeats: int = 3, conf=None
) -> pd.DataFrame:
    """`scenario` (a name or the learner's job, `as_job`) over `rows` cached rows with the default
    runner, then with `conf` (default: the pipelined runner on): each in its own session (static
    confs, so a new JVM), warmed up, median of `repeats` runs into the noop sink, parity against
    the in-process reference. Leaves a session of `app` with the default runner running."""
    sc = as_job(scenario)
    require_positive("repeats", repeats)
    conf = dict(conf or {PIPELINED_KEY: "true"})
    ref = reference_predictions(rows)
    out = []
    for runner, variant in (("default", {PIPELINED_KEY: "false"}), ("pipelined", conf)):
        spark = start_session(app, conf=variant)
        warm_up(spark, sc, rows)
        frame = scenario_frame(spark, sc, rows=rows)
        wall = _timed(frame, repeats)
        out.append(RunnerRecord(runner, sc.name, rows, wall, rows / wall, _parity(frame, ref)))
    start_session(app, conf={PIPELINED_KEY: "false"})
    return pd.DataFrame([asdict(r) for r in out])


RUNNER_FINDINGS = {
    "speed": (
        "The pipelined runner ran `{scenario}` at {ratio:.2f}x the default runner's rows/s "
        "({pipe:,.0f} vs {base:,.0f} rows/s, {rows:,} rows)."
    ),
}


def runner_findings(table: pd.DataFrame, tol: float = PARITY_TOL) -> list[Finding]:
    """Throughput ratio pipelined / default and parity, from `pipelined_compare`."""
    r = table.set_index("runner")
    return [
        finding(
            RUNNER_FINDINGS,
            "speed",
            scenario=r.loc["default", "scenario"],
            ratio=r.loc["pipelined", "rows_per_s"] / r.loc["default", "rows_per_s"],
            pipe=r.loc["pipelined", "rows_per_s"],
            base=r.loc["default", "rows_per_s"],
            rows=int(r.loc["default", "rows"]),
        ),
        parity_finding("Both runners", float(table["max_abs_diff"].max()), tol),
    ]


# ---- 2. Arrow IPC compression ------------------------------------------------------------------

CODEC_KEY = LEVERS["compression"]
CODECS = ("none", "lz4", "zstd")


def compression_sweep(
    spark, scenario="pandas_udf", rows: int = 20_000, codecs=CODECS, repeats: int = 2
) -> pd.DataFrame:
    """For each codec, running `scenario` (a name or the learner's job, `as_job`): wall time
    (median of `repeats`), rows/s, the bytes Spark's Python SQL metrics count towards and back
    from the workers, the CPU seconds of the JVM and of the Python workers during the timed runs
    (psutil, summed), and parity. Resets the codec afterwards."""
    scenario = as_job(scenario)
    require_positive("repeats", repeats)
    bad = [c for c in codecs if c not in CODECS]
    if bad:
        raise LabError(f"Unknown codec(s) {bad}: use some of {', '.join(CODECS)}.")
    ref = reference_predictions(rows)
    warm_up(spark, scenario, rows)
    out = []
    for codec in codecs:
        with conf_scope(spark, {CODEC_KEY: codec}):
            frame = scenario_frame(spark, scenario, rows=rows)
            time_noop(frame)  # this codec's first run
            before, jvm_pids, py_pids = (
                _cpu_by_role(),
                _role_pids("jvm"),
                _role_pids("python_worker"),
            )
            walls, metrics = [], None
            for _ in range(repeats):
                wall, metrics = run_with_python_metrics(spark, lambda f=frame: time_noop(f))
                walls.append(wall)
            after = _cpu_by_role()
            py_pids |= _role_pids("python_worker")
            wall = statistics.median(walls)
            out.append(
                {
                    "codec": codec,
                    "rows": rows,
                    "wall_s": wall,
                    "rows_per_s": rows / wall,
                    "sent_bytes": metric_bytes(metrics, "sent to Python"),
                    "returned_bytes": metric_bytes(metrics, "returned from Python"),
                    "jvm_cpu_s": _cpu_delta(before, after, jvm_pids) / repeats,
                    "python_cpu_s": _cpu_delta(before, after, py_pids) / repeats,
                    "max_abs_diff": _parity(frame, ref),
                }
            )
    return pd.DataFrame(out)


CODEC_FINDINGS = {
    "sent": (
        "Bytes sent to the workers (Spark's metric) against `none`'s {base:,.0f}: {ratios}; JVM / "
        "worker CPU per run: {cpus}."
    ),
}


def compression_findings(table: pd.DataFrame, tol: float = PARITY_TOL) -> list[Finding]:
    """Bytes sent by each codec relative to `none` and every codec's CPU seconds, then parity.
    (The returned bytes are in the table: the results coming back are not compressed.)"""
    t = table.set_index("codec")
    base = t.loc["none"]["sent_bytes"]
    ratios = ", ".join(
        f"`{c}` {t.loc[c, 'sent_bytes'] / base:.3f}x" for c in t.index if c != "none"
    )
    cpus = ", ".join(
        f"`{c}` {r['jvm_cpu_s']:.2f} / {r['python_cpu_s']:.2f} s" for c, r in t.iterrows()
    )
    diff = float(table["max_abs_diff"].max())
    return [
        finding(CODEC_FINDINGS, "sent", base=base, ratios=ratios or "no other codec", cpus=cpus),
        parity_finding("Every codec", diff, tol),
    ]


# ---- 3. columnar input ---------------------------------------------------------------------------

COLUMNAR_KEY = LEVERS["columnar_input"]
SOURCES = {
    "cache_default": "cached DataFrame, default cache serializer (InMemoryTableScan)",
    "parquet_scan": "plain Parquet scan (FileScan parquet, vectorized reader)",
    "cache_arrow": "cached DataFrame, ArrowCachedBatchSerializer (InMemoryTableScan)",
    "cache_arrow_from_pandas": (
        "createDataFrame(pandas).cache() under ArrowCachedBatchSerializer (pyarrow's batches "
        "become rows in the JVM, ArrowConverters.toDataFrame; the cache re-encodes the rows)"
    ),
}


def source_frame(spark, source: str, rows: int):
    """The input rows as `source` delivers them (see SOURCES): `cache_default`/`cache_arrow` are
    the kit's cached input (which serializer caches it is the session's static conf),
    `parquet_scan` reads the Parquet file itself, uncached; `cache_arrow_from_pandas` caches the
    same rows sent from pandas with `createDataFrame`: pyarrow builds Arrow batches, the JVM turns
    them into rows (`ArrowConverters.toDataFrame`) and the cache serializer encodes those rows."""
    if source not in SOURCES:
        raise LabError(f"Unknown source {source!r}: use one of {', '.join(SOURCES)}.")
    if source == "parquet_scan":
        return spark.read.parquet(str(ensure_features(rows)))
    if source == "cache_arrow_from_pandas":
        df = spark.createDataFrame(feature_frame(rows)).cache()
        df.count()
        return df
    return input_frame(spark, rows)


def python_input(frame) -> dict:
    """How the Python operator of `frame`'s executed plan takes its input: the operator, its child,
    whether the operator runs columnar (`supportsColumnar`) and whether a ColumnarToRow sits
    between the source and it."""
    plan = frame._jdf.queryExecution().executedPlan()
    todo, node = [plan], None
    while todo:
        n = todo.pop()
        if n.getClass().getName().startswith("org.apache.spark.sql.execution.python."):
            node = n
            break
        kids = n.children()
        todo.extend(kids.apply(i) for i in range(kids.size()))
    if node is None:
        raise LabError("This plan has no Python operator.")
    child = node.children().apply(0)
    chain, c = [], child
    while True:  # the child's chain down to the first leaf or cache
        chain.append(c.nodeName())
        if c.children().size() == 0 or c.nodeName() == "InMemoryTableScan":
            break
        c = c.children().apply(0)
    return {
        "operator": node.nodeName(),
        "columnar": bool(node.supportsColumnar()),
        "child": child.nodeName(),
        "column_to_row": "ColumnarToRow" in chain,
        "source_node": chain[-1],
    }


# Exceptions that only wrap the one that decides (a failed stage, a py4j call, a Python worker).
_WRAPPERS = ("SparkException", "Py4JJavaError", "PythonException", "StreamingQueryException")
_EXC_RE = re.compile(r"[A-Za-z_][\w.$]*(?:Exception|Error)\b")


def _error(exc: BaseException) -> str:
    """The decisive line of a failed job: the first exception named in its text that is not a
    wrapper (SparkException, Py4JJavaError, ...), as 'Class: message'."""
    text = str(exc)
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("at "):
            continue
        for m in _EXC_RE.finditer(s):
            if m.group(0).rsplit(".", 1)[-1] not in _WRAPPERS:
                message = s[m.end() :].lstrip(": ")
                return f"{m.group(0)}: {message}".strip(": ")[:300]
    first = text.splitlines()[0][:300] if text else ""
    return f"{type(exc).__name__}: {first}"


def columnar_sources(
    spark,
    rows: int = 20_000,
    sources=("cache_default", "parquet_scan"),
    scenarios=("pandas_udf", "map_in_arrow"),
    repeats: int = 2,
) -> pd.DataFrame:
    """For each source x scenario (names or the learner's jobs, `as_job`) x columnar input on/off:
    the plan facts of `python_input`,
    throughput (median of `repeats` runs into the noop sink, after one warm run), parity, or the
    error where the job fails. Resets the conf afterwards."""
    require_positive("repeats", repeats)
    ref = reference_predictions(rows)
    out = []
    for source in sources:
        df = source_frame(spark, source, rows)
        per_task = -(-rows // df.rdd.getNumPartitions())
        batches = -(-per_task // int(spark.conf.get(BATCH_CONF)))
        for job in scenarios:
            sc = as_job(job)
            for on in (True, False):
                with conf_scope(spark, {COLUMNAR_KEY: "true" if on else "false"}):
                    frame = scenario_frame(spark, sc, df=df)
                    rec = {"source": source, "scenario": sc.name, "columnar_input": on,
                           "batches_per_task": batches}  # fmt: skip
                    rec.update(python_input(frame))
                    rec.update(_source_run(spark, frame, rows, repeats, ref))
                    if rec["error"] and batches > 1:  # the same job, one Arrow batch per task
                        with conf_scope(spark, {BATCH_CONF: per_task}):
                            one = _source_run(spark, scenario_frame(spark, sc, df=df), rows, 1, ref)
                        rec.update(one_batch_rows=per_task, one_batch_error=one["error"])
                    out.append(rec)
    return pd.DataFrame(out)


def _source_run(spark, frame, rows: int, repeats: int, ref) -> dict:
    """One warm run and the median of `repeats` into the noop sink, with parity; or the one line
    of why it failed (Spark's log off meanwhile: the failure is the finding)."""
    with logs_off(spark):
        try:
            time_noop(frame)
            wall = _timed(frame, repeats)
            return dict(wall_s=wall, rows_per_s=rows / wall, max_abs_diff=_parity(frame, ref),
                        error=None)  # fmt: skip
        except Exception as exc:
            return dict(wall_s=None, rows_per_s=None, max_abs_diff=None, error=_error(exc))


COLUMNAR_FINDINGS = {
    "input": (
        "`{scenario}` over {source}: with columnar input on, `{operator}` took {takes} from "
        "`{child}`, at {ratio:.2f}x its rows/s with the conf off."
    ),
    "failed": (
        "`{scenario}` over {source} with columnar input {state} failed with {batches:,} Arrow "
        "batch(es) per task: {error}; {retry}."
    ),
}


def columnar_findings(table, tol: float = PARITY_TOL) -> list[Finding]:
    """Per source x scenario: columnar or not, throughput on/off, failures (and whether one batch
    per task ran); then parity. `table`: a `columnar_sources` table or a list of them (None
    entries skipped)."""
    if isinstance(table, (list, tuple)):
        table = pd.concat([t for t in table if t is not None], ignore_index=True)
    out = []
    for (source, name), g in table.groupby(["source", "scenario"], sort=False):
        on, off = g[g.columnar_input].iloc[0], g[~g.columnar_input].iloc[0]
        for r, state in ((on, "on"), (off, "off")):
            if not r["error"]:
                continue
            one = r.get("one_batch_rows", np.nan)
            if pd.isna(one):  # no retry: the run had one batch per task already
                retry = "one batch per task is this run"
            else:
                again = f"failed as well: {r.one_batch_error}" if r["one_batch_error"] else (
                    "ran: the failure needs a second batch in a task"
                )  # fmt: skip
                retry = f"with one (maxRecordsPerBatch={int(one):,}) it {again}"
            out.append(
                finding(
                    COLUMNAR_FINDINGS, "failed", scenario=name, source=source, state=state,
                    batches=int(r.batches_per_task), error=r["error"], retry=retry,
                    one_batch_rows=None if pd.isna(one) else int(one),
                )
            )  # fmt: skip
        if on["error"] or off["error"]:
            continue
        out.append(
            finding(
                COLUMNAR_FINDINGS, "input", scenario=name, source=source, operator=on["operator"],
                takes="columnar batches" if on["columnar"] else "rows", child=on["child"],
                ratio=on["rows_per_s"] / off["rows_per_s"],
            )
        )  # fmt: skip
    diffs = table["max_abs_diff"].dropna()
    out.append(parity_finding("Every run that finished", float(diffs.max()) if len(diffs) else 0.0,
                              tol))  # fmt: skip
    return out


def arrow_cache_session(app: str):
    """A session whose cache serializer is `ArrowCachedBatchSerializer` (a static conf: a new
    JVM)."""
    stop_session()
    spark = start_session(app, conf={CACHE_SERIALIZER: ARROW_CACHE})
    # its jobs may fail (a finding, one line each): Spark's log stays off while this session lives
    # (`logs_off` puts back OFF), so no executor ERROR arrives after a job (a cancelled task's log)
    set_log_level(spark, "OFF")
    return spark


def default_session(app: str):
    """Back to a session with the default cache serializer and runner."""
    stop_session()
    return start_session(app)


# ---- 5. the built-in profiler vs the kit's sampler ---------------------------------------------

PROFILER_KEY = LEVERS["profiler"]


# The user function of each scenario (helpers.inference.scenarios): the frame the built-in profiler
# wraps; the worker sampler labels frames "name (path)".
UDF_FRAMES = {
    "pandas_udf": "predict_series",
    "iter_pandas_udf": "predict_batches",
    "pyarrow_udf": "predict_arrays",
    "map_in_pandas": "predict_frames",
    "map_in_arrow": "predict_batches",
}


# Iterator-based eval types: the built-in profiler wraps each `next()` of their generator
# (pyspark/worker.py `wrap_perf_profiler`, `_is_iter_based`), not one call of the function.
ITERATOR_SCENARIOS = ("iter_pandas_udf", "map_in_pandas", "map_in_arrow")


def udf_seconds(stacks: dict, udf: str) -> float:
    """Seconds of `stacks` (collapsed, microseconds) with the user function `udf` on the stack."""
    return sum(w for s, w in stacks.items() if any(f.startswith(f"{udf} (") for f in s.split(";")))
    # (a frame "predict_series (helpers/inference/scenarios.py)" matches udf="predict_series")


@dataclass
class ProfilerComparison:
    """One run seen by both profilers. Seconds: the workers' CPU (psutil: user + system time of the
    Python worker processes during the run), what the kit's sampler saw on a CPU (its `[off-cpu]`
    samples left out) and the part of it inside the user function (all the built-in profiler can
    wrap), what the built-in profiler reported (cProfile's total time over the UDF calls: a wall
    clock, so it counts time the worker waited for a CPU), and the kit's seconds per category."""

    scenario: str
    rows: int
    wall_s: float
    worker_cpu_s: float
    builtin_s: float
    kit_on_cpu_s: float
    udf_on_cpu_s: float
    kit_categories: dict = field(default_factory=dict)
    udf_frame: str = ""  # the user function's frame name the sampler looked for

    def share(self, seconds: float) -> float:
        return seconds / self.worker_cpu_s if self.worker_cpu_s else 0.0

    @property
    def kit_share(self) -> float:
        return self.share(self.kit_on_cpu_s)

    @property
    def udf_share(self) -> float:
        """Share of the workers' CPU spent inside the user function: the most the built-in
        profiler can see."""
        return self.share(self.udf_on_cpu_s)

    def table(self) -> pd.DataFrame:
        rows = [
            ("worker CPU (psutil)", self.worker_cpu_s),
            ("kit sampler, on CPU", self.kit_on_cpu_s),
            ("kit sampler, on CPU inside the UDF (built-in profiler's reach)", self.udf_on_cpu_s),
            ("built-in profiler, reported (wall clock)", self.builtin_s),
        ]
        return pd.DataFrame(
            [{"view": v, "seconds": s, "share_of_worker_cpu": self.share(s)} for v, s in rows]
        )


def builtin_seconds(spark) -> float:
    """Total time (s) the built-in perf profiler accounted so far, over every profiled UDF."""
    results = spark._profiler_collector._perf_profile_results
    return float(sum(stats.total_tt for stats in results.values()))


def profiler_compare(
    app: str,
    worker_dir,
    out_dir,
    scenario="pandas_udf",
    rows: int = 20_000,
    conf=None,
    udf: str | None = None,
) -> ProfilerComparison:
    """Start a session with the kit's worker sampler and `conf` (default: the built-in perf
    profiler) both on, warm `scenario` (a name or the learner's job, `as_job`) up, clear both,
    then run it once: the workers' CPU seconds (psutil) and what each profiler accounted. `udf`
    names the user function's frame (default: the registry scenario's, UDF_FRAMES)."""
    sc = as_job(scenario)
    udf = udf or UDF_FRAMES.get(sc.name, "")
    conf = dict(conf or {PROFILER_KEY: "perf"})
    spark = start_session(app, conf=conf, profile="cpu", profile_dir=worker_dir)
    warm_up(spark, sc, rows)
    spark.profile.clear()
    before, py = _cpu_by_role(), _role_pids("python_worker")
    result = profile_scenario(spark, sc, rows, out_dir, worker_dir, jvm=False, warm=False)
    after = _cpu_by_role()
    py |= _role_pids("python_worker")
    stacks = on_cpu(result.python)
    return ProfilerComparison(
        sc.name,
        rows,
        result.wall_s,
        _cpu_delta(before, after, py),
        builtin_seconds(spark),
        total_s(stacks),
        udf_seconds(stacks, udf) / 1e6,
        {k: v for k, v in categorize(stacks).items() if v > 0},
        udf,
    )


PROFILER_FINDINGS = {
    "shares": (
        "`{frame}` held {udf:.2f} s ({ushare:.0%}) of the workers' {cpu:.2f} CPU seconds on "
        "`{scenario}`, the kit's sampler saw {kit:.2f} s ({kshare:.0%}: {cats}); the built-in "
        "profiler wraps {reach}."
    ),
}


def profiler_findings(c: ProfilerComparison) -> list[Finding]:
    """The user function's share of the workers' CPU (all the built-in profiler wraps of a scalar
    UDF; of an iterator UDF it times each `next()`) against what the kit's sampler saw, from a
    `profiler_compare`. What the built-in profiler reported (a wall clock) is in `c.table()`."""
    ranked = sorted(c.kit_categories.items(), key=lambda kv: -kv[1])
    cats = ", ".join(f"{k} {v:.2f} s" for k, v in ranked) or "nothing"
    if c.scenario in ITERATOR_SCENARIOS:
        reach = "each `next()` of its generator, input batches read and converted included"
    else:
        reach = "only its calls, no Arrow (de)serialization or socket reads"
    frame = c.udf_frame or UDF_FRAMES.get(c.scenario, "your UDF")
    return [
        finding(
            PROFILER_FINDINGS, "shares", frame=frame,
            udf=c.udf_on_cpu_s, ushare=c.udf_share, cpu=c.worker_cpu_s, scenario=c.scenario,
            kit=c.kit_on_cpu_s, kshare=c.kit_share, cats=cats, reach=reach,
        )
    ]  # fmt: skip

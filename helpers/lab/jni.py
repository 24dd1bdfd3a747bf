"""SynapseML's LightGBM scoring in the JVM, and what its JNI crossings cost.

SynapseML 1.1.3 `LightGBMRegressionModel.transform` is a Spark ML `RegressionModel`: a JVM UDF
calls `predict(features: Vector)` once per row, which calls `LightGBMBooster.score` ->
`predictForMat` -> `lightgbmlib.LGBM_BoosterPredictForMatSingle` (a JNI call with one row) and
then reads the result back with `lightgbmlib.doubleArray_getitem` (another JNI call per class).
Source: microsoft/SynapseML `lightgbm/src/main/scala/com/microsoft/azure/synapse/ml/lightgbm/
booster/LightGBMBooster.scala` (`score`, `predictForMat`, `predScoreToArray`) and
`LightGBMRegressor.scala` (`LightGBMRegressionModel.predict`). `native_call_sites` reads the same
facts from the bytecode of the jar this session runs, so the count is checked, not quoted.

Everything here returns plain data: seconds, rows/s, native calls/s, microseconds per row.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.core.config import (
    JARS_DIR,
    LINE,
    LabError,
    scale,
)
from helpers.core.findings import Finding, finding
from helpers.core.lines import LINES
from helpers.core.progress import Progress, Sink, as_progress
from helpers.core.session import jvm_pid
from helpers.core.validate import require_positive
from helpers.inference.scenarios import get_scenario, input_frame, model_broadcast, scenario_frame
from helpers.measure.metrics import physical_operators, python_operators
from helpers.measure.samplers import ProcessSampler, process_table
from helpers.measure.timing import set_batch_size, time_noop, warm_up
from helpers.model.data import (
    feature_matrix,
    load_booster,
    model_text,
    predict,
    spec_model_path,
)
from helpers.profile.classify import TASK_THREADS, jni_breakdown
from helpers.profile.jvm import dump_jfr, event_time, jfr_events, parse_jfr_events
from helpers.profile.stacks import write_collapsed

SYNAPSEML = LINE.synapseml  # this Spark line has SynapseML's jars (helpers/core/lines.py)
ONE_CORE = "batched predict (in-process, 1 core)"  # path_costs' in-process reference row

NOT_HERE_FINDINGS = {
    "no_synapseml": (
        "SynapseML has no {label} build on Maven Central, only in Microsoft's own repository: "
        "this section is skipped here; the {other} kernel runs it."
    ),
}


def not_here_findings() -> list[Finding]:
    """Why a SynapseML section is skipped on this Spark line, and which kernel runs it."""
    other = next((x.label for x in LINES.values() if x.synapseml), "3.5")
    return [finding(NOT_HERE_FINDINGS, "no_synapseml", label=LINE.label, other=other)]


BOOSTER_CLASS = "com.microsoft.azure.synapse.ml.lightgbm.booster.LightGBMBooster"
SWIG_CLASS = "com.microsoft.ml.lightgbm.lightgbmlib"
JNI_CLASS = "com.microsoft.ml.lightgbm.lightgbmlibJNI"

# The per-row path of a regression score, caller -> how often it runs per row (numClasses = 1).
# `$anonfun$predScoreToArray$1` is the closure `(0 until numClasses).map(...)` runs once per class.
PER_ROW_METHODS = {"predictForMat": "1", "$anonfun$predScoreToArray$1": "numClasses"}


# ---- 1. the native calls per row, read from the jar's bytecode -----------------------------------


def _jar(prefix: str) -> Path:
    found = sorted(JARS_DIR.glob(f"{prefix}*.jar"))
    if not found:
        raise LabError(
            f"No {prefix}*.jar in {JARS_DIR}: run `make jars` (or `python -m helpers setup`)."
        )
    return found[0]


def _javap(jar: Path, cls: str) -> str:
    try:
        out = subprocess.run(
            ["javap", "-c", "-p", "-classpath", str(jar), cls],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except FileNotFoundError:
        raise LabError(
            "javap not found: it ships with a JDK (not a JRE); install openjdk-17-jdk-headless."
        ) from None
    if out.returncode != 0:
        raise LabError(f"javap could not read {cls} from {jar.name}: {out.stderr.strip()[:200]}")
    return out.stdout


def parse_javap_calls(text: str) -> pd.DataFrame:
    """`javap -c -p` text -> one row per call instruction: method (the caller's name), callee
    ('owner.name' with '/' turned into '.'), offset (bytecode offset). Callees without an owner
    are calls on the same class."""
    rows, method = [], None
    header = re.compile(r"^  (?:[\w$.<>\[\], ]+ )?([\w$<>]+)\(.*\)(?: throws [\w.$, ]+)?;$")
    call = re.compile(
        r"^\s+(\d+): invoke\w+\s+#\d+(?:,\s*\d+)?\s+// (?:Interface)?Method ([\w/$<>\".]+):"
    )
    for line in text.splitlines():
        m = header.match(line)
        if m:
            method = m.group(1)
            continue
        c = call.match(line)
        if c and method:
            callee = c.group(2).replace('"', "").replace("/", ".")
            rows.append({"method": method, "offset": int(c.group(1)), "callee": callee})
    return pd.DataFrame(rows, columns=["method", "offset", "callee"])


def native_methods(text: str) -> set[str]:
    """Names of the `native` methods declared in `javap -p` text of a class."""
    return set(re.findall(r" native [\w.\[\]]+ (\w+)\(", text))


@dataclass
class NativeCallSites:
    table: pd.DataFrame  # caller, swig_wrapper, jni_native, per_row
    calls_per_row: int  # JNI crossings per scored row (regression, numClasses = 1)
    builds_param_string: bool  # predictForMat builds the parameter String on every call
    fast_api_in_lib: bool  # lightgbmlib offers the *SingleRowFast API (parse params once)
    fast_api_used: bool  # ... and whether LightGBMBooster calls it
    jar: str


CALL_SITE_FINDINGS = {
    "calls_per_row": (
        "Per row SynapseML crosses into native code **{calls_per_row} times**; `predictForMat` "
        "builds {param} parameter string per call; the *Fast* API (parses once) is {fast}."
    ),
}
# call_site_findings' phrases, from the bytecode: the parameter string, the Fast single-row API
CALL_SITE_PARAM = {True: "a", False: "no"}
CALL_SITE_FAST = {"used": "used", "unused": "bundled but unused", "absent": "not bundled"}


def native_call_sites(num_classes: int = 1) -> NativeCallSites:
    """From the jars on this machine: which JNI natives a regression `score` reaches per row.

    Reads `LightGBMBooster`'s bytecode (javap), keeps the lightgbmlib calls made by the per-row
    methods (`predictForMat` once, the `predScoreToArray` closure once per class), and checks in
    `lightgbmlibJNI` that each wrapper ends in a `native` method."""
    require_positive("num_classes", num_classes)
    booster_jar, lib_jar = (
        _jar("com.microsoft.azure_synapseml-lightgbm"),
        _jar("com.microsoft.ml.lightgbm_lightgbmlib"),
    )
    calls = parse_javap_calls(_javap(booster_jar, BOOSTER_CLASS))
    swig = parse_javap_calls(_javap(lib_jar, SWIG_CLASS))
    natives = native_methods(_javap(lib_jar, JNI_CLASS))
    rows = []
    for caller, times in PER_ROW_METHODS.items():
        per_row = 1 if times == "1" else num_classes
        for callee in calls.loc[calls.method == caller, "callee"]:
            if not callee.startswith(SWIG_CLASS + "."):
                continue
            wrapper = callee.rsplit(".", 1)[1]
            jni = [
                c.rsplit(".", 1)[1]
                for c in swig.loc[swig.method == wrapper, "callee"]
                if c.startswith(JNI_CLASS + ".") and c.rsplit(".", 1)[1] in natives
            ]
            for j in jni:
                rows.append(
                    {
                        "caller": f"LightGBMBooster.{caller}",
                        "swig_wrapper": f"lightgbmlib.{wrapper}",
                        "jni_native": f"lightgbmlibJNI.{j}",
                        "per_row": per_row,
                    }
                )
    table = pd.DataFrame(rows, columns=["caller", "swig_wrapper", "jni_native", "per_row"])
    pfm = calls[calls.method == "predictForMat"]
    builds = bool(pfm.callee.str.contains("StringBuilder.toString").any())
    fast_in_lib = any("SingleRowFast" in n for n in natives)
    fast_used = bool(calls.callee.str.contains("SingleRowFast").any())
    return NativeCallSites(
        table, int(table.per_row.sum()), builds, fast_in_lib, fast_used, booster_jar.name
    )


def call_site_findings(sites: NativeCallSites) -> list[Finding]:
    """What the bytecode showed: JNI crossings per row (count), whether `predictForMat` builds a
    parameter string per call, and whether the Fast single-row API is bundled and used."""
    fast = "used" if sites.fast_api_used else "unused" if sites.fast_api_in_lib else "absent"
    return [
        finding(
            CALL_SITE_FINDINGS,
            "calls_per_row",
            calls_per_row=sites.calls_per_row,
            param=CALL_SITE_PARAM[bool(sites.builds_param_string)],
            fast=CALL_SITE_FAST[fast],
            fast_api=fast,
            jar=sites.jar,
        )
    ]


# ---- 2. no Python worker: the process tree and the physical plan ---------------------------------


@dataclass
class JvmOnlyEvidence:
    scenario: str
    operators: list  # physical operators, outermost first
    python_operators: list  # those that run Python (empty for SynapseML)
    roles_seen: list  # process roles sampled under the JVM while the job ran
    python_pids: list  # daemon / worker PIDs seen during the job
    python_cpu_s: float  # CPU seconds Python processes used during the job
    jvm_cpu_s: float  # CPU seconds the JVM used during the job
    wall_s: float
    rows: int = 0  # rows scored


EVIDENCE_FINDINGS = {
    "processes": (
        "{label} scored {rows:,} rows with {python_processes} Python processes and "
        "{python_cpu_s:.2f} s of Python CPU; its plan's Python operators: {python_operators}."
    ),
}


def evidence_table(evidence: list[JvmOnlyEvidence]) -> pd.DataFrame:
    """One row per jvm_only_evidence result: plan operators, process roles, Python PIDs, CPU s."""
    cols = ["scenario", "operators", "python_operators", "roles_seen", "python_pids"]
    return pd.DataFrame([asdict(e) for e in evidence])[cols + ["python_cpu_s", "jvm_cpu_s"]]


def evidence_findings(evidence: list[JvmOnlyEvidence]) -> list[Finding]:
    """Per jvm_only_evidence result: rows scored, the Python processes seen and their CPU seconds,
    and the plan's Python operators (for a path without one: none, and the plan's head)."""
    out = []
    for e in evidence:
        head = " → ".join(e.operators[:2])
        ops = ", ".join(f"`{o}`" for o in e.python_operators) or f"none (`{head}`)"
        out.append(
            finding(
                EVIDENCE_FINDINGS,
                "processes",
                label=get_scenario(e.scenario).label,
                rows=e.rows,
                python_processes=len(e.python_pids),
                python_cpu_s=e.python_cpu_s,
                python_operators=ops,
            )
        )
    return out


def jvm_only_evidence(
    spark, name: str, rows: int, interval: float = 0.05, frame=None
) -> JvmOnlyEvidence:
    """Run `frame` (default: scenario `name`'s frame over `rows` rows) into the noop sink while
    sampling the session's process tree; return the plan's operators and which processes did
    work. For SynapseML in a session that has not run Python yet, no Python process exists."""

    frame = frame if frame is not None else scenario_frame(spark, name, rows=rows)
    ops = physical_operators(frame)
    with ProcessSampler(interval) as sampler:
        wall = time_noop(frame)
    s = sampler.samples
    py = s[s.role.isin(["daemon", "python_worker"])]

    def cpu_delta(g):
        return (
            float((g.groupby("pid").cpu_s.max() - g.groupby("pid").cpu_s.min()).sum())
            if len(g)
            else 0.0
        )

    return JvmOnlyEvidence(
        name,
        ops,
        python_operators(frame),
        sorted(set(s.role)),
        sorted(int(p) for p in py.pid.unique()),
        cpu_delta(py),
        cpu_delta(s[s.role == "jvm"]),
        wall,
        rows,
    )


# ---- 3. the JNI tax: time per row, native calls per second, vs batched predict ------------------


def timed_job(frame) -> dict:
    """Run `frame` into the noop sink; wall seconds and the CPU seconds the session's processes
    used meanwhile (process_table before/after: the JVM, and the daemon + Python workers).
    CPU seconds per row resist the noise of a shared machine better than wall time."""

    def cpu_by_role():
        t = process_table()
        return {(r.pid, "jvm" if r.role == "jvm" else "python"): r.cpu_s for r in t.itertuples()}

    before = cpu_by_role()
    wall = time_noop(frame)
    after = cpu_by_role()
    used = {"jvm": 0.0, "python": 0.0}
    for key, cpu in after.items():
        used[key[1]] += cpu - before.get(key, 0.0)
    return {"wall_s": wall, "jvm_cpu_s": used["jvm"], "python_cpu_s": used["python"]}


# Rows for the JNI-tax timing: enough that per-task fixed costs (task launch, the native model
# parse in each task) fade next to the per-row cost, at ~1-3 s per SynapseML run at ci scale.
JNI_ROWS = {"ci": 50_000, "workshop": 250_000, "full": 1_000_000}


def jni_rows() -> int:
    """Rows for the JNI-tax measurement at the current LAB_SCALE."""

    return JNI_ROWS[scale()]


def path_costs(
    spark,
    rows: int,
    scenarios=("synapseml", "map_in_arrow"),
    model_str: str | None = None,
    repeats: int = 3,
    batch_size: int | None = None,
    frames: dict | None = None,
    progress: Progress | Sink | None = None,
) -> pd.DataFrame:
    """Cost per row of each scenario scoring `rows` cached rows, plus batched predict in-process
    on one core, all with the same model (`model_str`, default: the kit's model). `frames` maps a
    scenario name to the learner's own DataFrame (id, prediction) for that path, e.g. a SynapseML
    `model.transform(...)` built in the notebook; it is timed instead of the kit's.

    One row per path: wall_s (median of `repeats` runs after a warm-up), rows_per_s with
    rows_per_s_low / rows_per_s_high (slowest and fastest run: the spread),
    us_per_row_per_core (wall x cores / rows), jvm / python / total cpu_us_per_row (CPU
    microseconds the session's processes used per row: robust to a busy machine), python_worker,
    max_abs_diff vs in-process predict with the same model. `progress`: one step per path."""

    require_positive("rows", rows)
    require_positive("repeats", repeats)
    set_batch_size(spark, batch_size)
    text = model_str
    if text is None:
        text = model_text()
    df = input_frame(spark, rows)
    booster = load_booster(text)
    X = np.ascontiguousarray(feature_matrix(rows))
    predict(booster, X[:10])
    c0, t0 = time.process_time(), time.perf_counter()
    ref = predict(booster, X)
    one_core, one_cpu = time.perf_counter() - t0, time.process_time() - c0
    cores = spark.sparkContext.defaultParallelism
    out = [
        {
            "path": ONE_CORE,
            "rows": rows,
            "wall_s": one_core,
            "rows_per_s": rows / one_core,
            "rows_per_s_low": rows / one_core,
            "rows_per_s_high": rows / one_core,
            "us_per_row_per_core": one_core / rows * 1e6,
            "jvm_cpu_us_per_row": 0.0,
            "python_cpu_us_per_row": one_cpu / rows * 1e6,
            "cpu_us_per_row": one_cpu / rows * 1e6,
            "python_worker": False,
            "max_abs_diff": 0.0,
        }
    ]
    p = as_progress(progress)
    with p.task("paths", len(scenarios)):
        for name in scenarios:
            p.step(name)
            sc = get_scenario(name)
            own_text = model_str is not None or name == "synapseml"
            model = text if own_text else model_broadcast(spark)
            frame = (frames or {}).get(name)
            frame = frame if frame is not None else sc.build(df, model)
            timed_job(frame)  # warm-up: workers, imports, model parse, JIT
            runs = sorted((timed_job(frame) for _ in range(repeats)), key=lambda r: r["wall_s"])
            mid = runs[len(runs) // 2]
            got = frame.toPandas().sort_values("id")["prediction"].to_numpy()
            out.append(
                {
                    "path": name,
                    "rows": rows,
                    "wall_s": mid["wall_s"],
                    "rows_per_s": rows / mid["wall_s"],
                    "rows_per_s_low": rows / runs[-1]["wall_s"],
                    "rows_per_s_high": rows / runs[0]["wall_s"],
                    "us_per_row_per_core": mid["wall_s"] * cores / rows * 1e6,
                    "jvm_cpu_us_per_row": mid["jvm_cpu_s"] / rows * 1e6,
                    "python_cpu_us_per_row": mid["python_cpu_s"] / rows * 1e6,
                    "cpu_us_per_row": (mid["jvm_cpu_s"] + mid["python_cpu_s"]) / rows * 1e6,
                    "python_worker": sc.python_worker,
                    "max_abs_diff": float(np.max(np.abs(got - ref))),
                }
            )
    return pd.DataFrame(out)


@dataclass
class JniTax:
    rows: int
    cores: int  # tasks running at once (Spark's default parallelism)
    wall_s: float  # SynapseML, median of the timed runs into the noop sink
    rows_per_s: float
    native_calls_per_row: int  # from the bytecode (native_call_sites)
    native_calls_per_s: float  # all cores together
    us_per_row_per_core: float  # wall x cores / rows, microseconds
    cpu_us_per_row: float  # JVM CPU microseconds per row
    predict_cpu_us_per_row: float  # batched predict, one core, same model and rows
    limit_rows_per_s: float  # batched predict in plain processes, one per core
    ratio_to_limit: float  # rows_per_s / limit_rows_per_s
    tax_cpu_us_per_row: float  # cpu_us_per_row - predict_cpu_us_per_row
    max_abs_diff: float  # SynapseML predictions vs the reference


PARITY = 1e-9  # largest |difference| to the reference that counts as the same prediction

TAX_FINDINGS = {
    "calls_per_s": (
        "SynapseML's {rows_per_s:,.0f} rows/s on {cores} cores made **{native_calls_per_s:,.0f} "
        "JNI calls per second**, {tax_cpu_us_per_row:.1f} CPU µs per row over batched predict, "
        "predictions {parity} the reference."
    ),
}
# tax_findings' phrase: SynapseML's predictions against the reference, within PARITY
TAX_PARITY = {True: "matching", False: "not matching"}


def limit_rows_per_s(costs: pd.DataFrame, limit) -> float:
    """The physical limit's rows/s, never below one core's batched predict in this process
    (path_costs' first row): a limit run slower than one core was disturbed, not a limit."""
    one_core = float(costs.set_index("path").loc[ONE_CORE, "rows_per_s"])
    return max(float(limit.rows_per_s), one_core)


def jni_tax(costs: pd.DataFrame, limit, sites: NativeCallSites, cores: int) -> JniTax:
    """The JNI tax from this run's measurements: `costs` from path_costs (with a 'synapseml'
    row), `limit` a measure.LimitResult over the same rows, `sites` from native_call_sites."""
    c = costs.set_index("path")
    if "synapseml" not in c.index:
        raise LabError("path_costs(...) has no 'synapseml' row: include it in scenarios.")
    syn, batched = c.loc["synapseml"], c.loc[ONE_CORE]
    rps = float(syn.rows_per_s)
    return JniTax(
        int(syn.rows),
        cores,
        float(syn.wall_s),
        rps,
        sites.calls_per_row,
        rps * sites.calls_per_row,
        float(syn.us_per_row_per_core),
        float(syn.cpu_us_per_row),
        float(batched.cpu_us_per_row),
        limit_rows_per_s(costs, limit),
        rps / limit_rows_per_s(costs, limit),
        float(syn.cpu_us_per_row - batched.cpu_us_per_row),
        float(syn.max_abs_diff),
    )


def tax_findings(tax: JniTax) -> list[Finding]:
    """The JNI tax in one sentence: rows/s and JNI calls/s, CPU µs per row over batched predict,
    and whether the predictions match the reference (within PARITY)."""
    ok = tax.max_abs_diff <= PARITY
    return [finding(TAX_FINDINGS, "calls_per_s", parity=TAX_PARITY[ok], **asdict(tax))]


# ---- 3b. what one native call costs: the same C API from Python (ctypes), no JVM ----------------

SYNAPSEML_PARAMS = (
    "max_bin=255 predict_disable_shape_check=false"  # what predictForMat passes per row
)
# The call styles of native_single_row_costs, in its row order.
CALL_NOOP = "ctypes call, no work (LGBM_GetLastError)"
CALL_SINGLE = "LGBM_BoosterPredictForMatSingleRow (params parsed per call)"
CALL_FAST = "LGBM_BoosterPredictForMatSingleRowFast (params parsed once)"
CALL_BATCHED = "Booster.predict, batched (one call for all rows)"


def native_single_row_costs(rows: int = 5_000, repeats: int = 3) -> pd.DataFrame:
    """Microseconds per row of LightGBM's C API called from this process through ctypes
    (lightgbm 4.x here; SynapseML bundles 3.3.5 with the same API), best of `repeats`:

    - 'ctypes call, no work' (LGBM_GetLastError): the price of crossing into C from Python;
    - 'LGBM_BoosterPredictForMatSingleRow': one row per call, the parameter string parsed into a
      fresh Config on every call -- what SynapseML's JNI wrapper `LGBM_BoosterPredictForMatSingle`
      calls (LightGBM swig/lightgbmlib.i: GetPrimitiveArrayCritical, then this function);
    - 'LGBM_BoosterPredictForMatSingleRowFast': one row per call, parameters parsed once (FastInit);
    - 'Booster.predict (batched)': all rows in one call, the Python paths' way.
    Each prediction path is checked against the reference (max_abs_diff)."""
    import ctypes

    from lightgbm.basic import _LIB, _safe_call

    require_positive("rows", rows)
    require_positive("repeats", repeats)
    booster = load_booster()
    X = np.ascontiguousarray(feature_matrix(rows))
    ref = predict(booster, X)
    handle = booster._handle
    ncol = X.shape[1]
    params = ctypes.c_char_p(SYNAPSEML_PARAMS.encode())
    out = np.zeros(1)
    out_ptr = out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
    out_len = ctypes.c_int64(0)
    ptrs = [X[i].ctypes.data_as(ctypes.c_void_p) for i in range(rows)]
    got = np.empty(rows)
    C_API_DTYPE_FLOAT64, C_API_PREDICT_NORMAL = 1, 0

    def single():
        for i, p in enumerate(ptrs):
            _safe_call(
                _LIB.LGBM_BoosterPredictForMatSingleRow(
                    handle,
                    p,
                    ctypes.c_int(C_API_DTYPE_FLOAT64),
                    ctypes.c_int32(ncol),
                    ctypes.c_int(1),
                    ctypes.c_int(C_API_PREDICT_NORMAL),
                    ctypes.c_int(0),
                    ctypes.c_int(-1),
                    params,
                    ctypes.byref(out_len),
                    out_ptr,
                )
            )
            got[i] = out[0]

    fast = ctypes.c_void_p()
    _safe_call(
        _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
            handle,
            ctypes.c_int(C_API_PREDICT_NORMAL),
            ctypes.c_int(0),
            ctypes.c_int(-1),
            ctypes.c_int(C_API_DTYPE_FLOAT64),
            ctypes.c_int32(ncol),
            params,
            ctypes.byref(fast),
        )
    )

    def single_fast():
        for i, p in enumerate(ptrs):
            _safe_call(
                _LIB.LGBM_BoosterPredictForMatSingleRowFast(fast, p, ctypes.byref(out_len), out_ptr)
            )
            got[i] = out[0]

    def noop_calls():
        for _ in ptrs:
            _LIB.LGBM_GetLastError()

    def batched():
        got[:] = predict(booster, X)

    results = []
    try:
        for label, fn, checks in (
            (CALL_NOOP, noop_calls, False),
            (CALL_SINGLE, single, True),
            (CALL_FAST, single_fast, True),
            (CALL_BATCHED, batched, True),
        ):
            best = float("inf")
            for _ in range(repeats):
                got[:] = np.nan
                t0 = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - t0)
            results.append(
                {
                    "call": label,
                    "rows": rows,
                    "us_per_row": best / rows * 1e6,
                    "max_abs_diff": float(np.max(np.abs(got - ref))) if checks else None,
                }
            )
    finally:
        _LIB.LGBM_FastConfigFree(fast)
    return pd.DataFrame(results)


CROSSING_DOMINATES = 0.5  # crossing share of a one-row call above which crossing is the cost

SINGLE_ROW_FINDINGS = {  # the sources behind them: notebook 06's deep-dive on c_api.cpp
    "per_call": (
        "One row per call costs {per_call_us:.1f} µs, {per_call_over_batched:.1f}× batched "
        "predict ({batched_us:.1f} µs); the Fast API, parsing parameters once, {fast_us:.1f} µs "
        "({saved_us:.1f} µs saved)."
    ),
    "crossing": (
        "Crossing into C costs {crossing_us:.2f} µs, {crossing_share:.1%} of a one-row call: "
        "the tax is mostly {culprit}, paid per row, not per batch."
    ),
}
# single_row_findings' phrase, by the crossing's share of a one-row call (CROSSING_DOMINATES)
SINGLE_ROW_CULPRIT = {False: "the work behind it", True: "the crossing itself"}


def single_row_costs_us(single: pd.DataFrame) -> dict[str, float]:
    """Microseconds per row of each call style in native_single_row_costs' result: crossing_us,
    per_call_us, fast_us, batched_us."""
    u = single.set_index("call").us_per_row
    return {
        "crossing_us": float(u[CALL_NOOP]),
        "per_call_us": float(u[CALL_SINGLE]),
        "fast_us": float(u[CALL_FAST]),
        "batched_us": float(u[CALL_BATCHED]),
    }


def single_row_findings(single: pd.DataFrame) -> list[Finding]:
    """What one native call costs (µs per row, native_single_row_costs): one row per call vs
    batched and with the Fast API (what it saved, never below 0), then the crossing and its share
    of a one-row call (the crossing or the work behind it is most of the cost)."""
    c = single_row_costs_us(single)
    share = c["crossing_us"] / c["per_call_us"]
    return [
        finding(
            SINGLE_ROW_FINDINGS,
            "per_call",
            per_call_over_batched=c["per_call_us"] / c["batched_us"],
            saved_us=max(c["per_call_us"] - c["fast_us"], 0.0),
            **c,
        ),
        finding(
            SINGLE_ROW_FINDINGS,
            "crossing",
            crossing_us=c["crossing_us"],
            crossing_share=share,
            culprit=SINGLE_ROW_CULPRIT[share > CROSSING_DOMINATES],
        ),
    ]


# ---- 4. a heavier model: does SynapseML catch up when predict itself costs more? ---------------


def heavy_model_text(num_trees: int = 1000, train_rows: int = 5_000) -> str:
    """A heavier model of the same shape (16 features, 31 leaves), `num_trees` trees, cached in
    data/ under a name that includes its spec (the kit's model.txt is never touched)."""

    require_positive("num_trees", num_trees)
    return spec_model_path(num_trees, train_rows).read_text()


# ---- 5. where the JVM spends the time: JFR samples in buckets ---------------------------------


@dataclass
class JfrScoring:
    rows: int
    wall_s: float
    stacks: dict  # collapsed JVM stacks of the task threads, microseconds
    breakdown: pd.DataFrame
    java_samples: int  # jdk.ExecutionSample events of the task threads in the window
    native_samples: int  # jdk.NativeMethodSample events of the task threads in the window
    jfr_path: str


JFR_FINDINGS = {
    "buckets": (
        "Of {seconds:.2f} s of task-thread samples ({java_samples} Java, {native_samples} "
        "native), {native} was in `LGBM_BoosterPredictForMatSingle` and {vector_share:.1%} in "
        "row → vector."
    ),
}
# jfr_findings' phrase for the native share, by how many native samples it rests on
JFR_NATIVE = {
    "many": "**{share:.0%}**",
    "few": "about {share:.0%} (rough: few native samples)",
    "none": "an unmeasured share (score more rows)",
}


def task_sample_counts(events: list, since: float, until: float) -> tuple[int, int]:
    """(Java samples, native samples) of Spark task threads among JFR events in [since, until]:
    how many observations the shares rest on (HotSpot samples at most one thread in native code
    per 20 ms period, so native samples of busy task threads are few)."""

    java = native = 0
    for ev in events:
        th = ev.get("values", {}).get("sampledThread") or {}
        name = th.get("javaName") or th.get("osName") or ""
        if not re.search(TASK_THREADS, name) or not since <= event_time(ev) <= until:
            continue
        if ev.get("type") == "jdk.ExecutionSample":
            java += 1
        elif ev.get("type") == "jdk.NativeMethodSample":
            native += 1
    return java, native


def profile_synapseml(spark, rows: int, out_dir=None, warm: bool = True, frame=None) -> JfrScoring:
    """Score `rows` rows with SynapseML once (after a warm-up) in a session started with
    `helpers.profile.jvm.jfr_java_options()`, dump JFR for exactly that run and bucket the task
    threads' samples (jni_breakdown). Writes jvm.jfr and synapseml_jvm.collapsed under `out_dir`
    (default: a new temporary folder). warm=False skips the warm-up when SynapseML already ran
    here. `frame`: the learner's SynapseML DataFrame (default: the kit's scenario frame)."""

    require_positive("rows", rows)
    out = Path(out_dir if out_dir is not None else tempfile.mkdtemp(prefix="nb06-jfr-"))
    out.mkdir(parents=True, exist_ok=True)
    input_frame(spark, rows)
    if warm:
        warm_up(spark, "synapseml", rows)
    frame = frame if frame is not None else scenario_frame(spark, "synapseml", rows=rows)
    t0 = time.time()
    wall = time_noop(frame)
    t1 = time.time()
    path = dump_jfr(jvm_pid(spark), out / "jvm.jfr", begin=t0)
    events = jfr_events(path)
    stacks = parse_jfr_events(events, t0, t1)
    java, native = task_sample_counts(events, t0, t1)
    write_collapsed(stacks, out / "synapseml_jvm.collapsed")
    return JfrScoring(rows, wall, stacks, jni_breakdown(stacks), java, native, str(path))


def jfr_findings(prof: JfrScoring) -> list[Finding]:
    """Where the task threads' sampled time went (JFR, seconds and shares): the native predict
    call and the row -> vector step, with the sample counts the shares rest on (the native share
    bolded from MIN_NATIVE_SAMPLES native samples, called rough below, unmeasured at 0)."""
    b = prof.breakdown.set_index("bucket")
    share = float(b.loc[b.index.str.startswith("native predict"), "share"].sum())
    n = prof.native_samples
    samples = "none" if not n else "few" if n < MIN_NATIVE_SAMPLES else "many"
    return [
        finding(
            JFR_FINDINGS,
            "buckets",
            seconds=float(b.seconds.sum()),
            java_samples=prof.java_samples,
            native_samples=n,
            native=JFR_NATIVE[samples].format(share=share),
            native_share=share,
            samples=samples,
            vector_share=float(b.loc[b.index.str.startswith("row -> vector"), "share"].sum()),
        )
    ]


MIN_NATIVE_SAMPLES = 20  # below this, a native share is stated without a bold number


# ---- 6. the decision table --------------------------------------------------------------------


def decision_table(
    costs: pd.DataFrame, limit, heavy: pd.DataFrame | None = None, python: str = "map_in_arrow"
) -> pd.DataFrame:
    """One row per Spark path measured in this run (from path_costs) plus the physical limit:
    rows/s with its spread (slowest, fastest run), ratio to the limit (limit_rows_per_s: never
    below one core's batched predict), CPU microseconds per row, the overhead per row over
    batched predict, whether a Python worker runs, and `verdict`: "winner" for the fastest Spark
    path only when its slowest run beat every other path's fastest and it stayed at or under the
    limit; "tie (rerun)" for paths whose spread overlaps the fastest's; "above the limit (noise,
    rerun)" for a ratio above 1.0. With `heavy` (path_costs with a heavier model) adds
    `synapseml_over_python_heavy`, the SynapseML/Python rows-per-second ratio for that model."""
    base = costs.set_index("path").loc[ONE_CORE, "cpu_us_per_row"]
    lim = limit_rows_per_s(costs, limit)
    t = costs[costs.path != ONE_CORE].copy()
    t["ratio_to_limit"] = t.rows_per_s / lim
    t["overhead_cpu_us_per_row"] = t.cpu_us_per_row - base
    walls = sorted(limit.walls) if getattr(limit, "walls", ()) else [limit.wall_s]
    limit_row = {
        "path": "physical_limit",
        "rows": limit.rows,
        "wall_s": limit.wall_s,
        "rows_per_s": lim,
        "rows_per_s_low": limit.rows / walls[-1],
        "rows_per_s_high": max(lim, limit.rows / walls[0]),
        "ratio_to_limit": 1.0,
        "cpu_us_per_row": limit.wall_s * limit.processes / limit.rows * 1e6,
        "overhead_cpu_us_per_row": 0.0,
        "python_worker": False,
    }
    t = pd.concat([t, pd.DataFrame([limit_row])], ignore_index=True)
    t["verdict"] = ""
    spark_paths = t[t.path != "physical_limit"].sort_values("rows_per_s", ascending=False)
    top = spark_paths.iloc[0]
    for i, r in spark_paths.iterrows():
        if r.ratio_to_limit > 1.0:
            t.loc[i, "verdict"] = "above the limit (noise, rerun)"
        elif r.path != top.path and r.rows_per_s_high >= top.rows_per_s_low:
            t.loc[i, "verdict"] = "tie (rerun)"
    if t.loc[spark_paths.index[0], "verdict"] == "":
        tied = (t.verdict == "tie (rerun)").any()
        t.loc[spark_paths.index[0], "verdict"] = "tie (rerun)" if tied else "winner"
    cols = [
        "path",
        "rows_per_s",
        "rows_per_s_low",
        "rows_per_s_high",
        "ratio_to_limit",
        "cpu_us_per_row",
        "overhead_cpu_us_per_row",
        "python_worker",
        "verdict",
    ]
    if heavy is not None:
        h = heavy.set_index("path").rows_per_s
        t["synapseml_over_python_heavy"] = np.where(
            t.path == "synapseml", h.get("synapseml", np.nan) / h.get(python, np.nan), np.nan
        )
        cols.append("synapseml_over_python_heavy")
    return t[cols].sort_values("rows_per_s", ascending=False).reset_index(drop=True)


DECISION_FINDINGS = {
    "verdict": (
        "**{top}** ran the most rows/s among the Spark paths, {rows_per_s:,.0f} "
        "({ratio:.2f}x the limit): {verdict}."
    ),
    "synapseml_gap": (
        "SynapseML ran {synapseml_rows_per_s:,.0f} rows/s, {synapseml_overhead_us:.1f} µs per row "
        "over batched predict: one call per row parsing its parameters (section 3: "
        "{per_call_us:.1f} µs, Fast API {fast_us:.1f})."
    ),
}
# decision_findings' phrase, by the fastest Spark path's verdict in decision_table
DECISION_VERDICT = {
    "winner": "the winner, its slowest run ahead of every other path's fastest",
    "tie (rerun)": "no winner, its spread overlaps {tied}'s; rerun with more repeats",
    "above the limit (noise, rerun)": "no winner, above 1.0 is noise in a run; rerun",
}


def decision_findings(table: pd.DataFrame, single: pd.DataFrame) -> list[Finding]:
    """The decision table (decision_table) in two sentences: the fastest Spark path and its
    verdict (a winner only when the spreads do not overlap and it stays at or under the limit;
    else which paths tie, or noise above the limit: rerun), then SynapseML's overhead per row and
    what one call cost with and without the Fast single-row API in section 3 (µs per row)."""
    spark = table[table.path != "physical_limit"].sort_values("rows_per_s", ascending=False)
    top = spark.iloc[0]
    tied = spark[(spark.verdict == "tie (rerun)") & (spark.path != top.path)]
    s = table.set_index("path").loc["synapseml"]
    c = single_row_costs_us(single)
    return [
        finding(
            DECISION_FINDINGS,
            "verdict",
            top=top.path,
            rows_per_s=float(top.rows_per_s),
            ratio=float(top.ratio_to_limit),
            verdict=DECISION_VERDICT[top.verdict].format(tied=" and ".join(tied.path)),
            top_verdict=top.verdict,
        ),
        finding(
            DECISION_FINDINGS,
            "synapseml_gap",
            synapseml_rows_per_s=float(s.rows_per_s),
            synapseml_overhead_us=float(s.overhead_cpu_us_per_row),
            per_call_us=c["per_call_us"],
            fast_us=c["fast_us"],
        ),
    ]


def synapseml_vs_python(
    light: pd.DataFrame, heavy: pd.DataFrame, python: str = "map_in_arrow"
) -> pd.DataFrame:
    """For the kit's model and a heavier one (both from path_costs): predict CPU per row, the
    overhead CPU per row of SynapseML and of the Python path over batched predict, and the
    SynapseML/Python throughput ratio (above 1: SynapseML wins for that model)."""
    out = []
    for label, t in (("light (kit model)", light), ("heavy", heavy)):
        c = t.set_index("path")
        base = float(c.loc[ONE_CORE, "cpu_us_per_row"])
        out.append(
            {
                "model": label,
                "predict_cpu_us_per_row": base,
                "synapseml_overhead_us_per_row": float(c.loc["synapseml", "cpu_us_per_row"]) - base,
                "python_overhead_us_per_row": float(c.loc[python, "cpu_us_per_row"]) - base,
                "synapseml_over_python": float(
                    c.loc["synapseml", "rows_per_s"] / c.loc[python, "rows_per_s"]
                ),
            }
        )
    return pd.DataFrame(out)


VERSUS_FINDINGS = {
    "trend": (
        "SynapseML's rows/s relative to {python} went from {light_ratio:.2f}× with the kit's "
        "model to {heavy_ratio:.2f}× with the heavy one: it {trend} in this run."
    ),
}
# versus_findings' phrase, by the SynapseML/Python ratios for the light and the heavy model
VERSUS_TREND = {
    "overtook": "overtook {python}",
    "gained": "gained ground",
    "no_gain": "gained no ground",
}


def versus_findings(versus: pd.DataFrame, python: str = "mapInArrow") -> list[Finding]:
    """The light vs heavy model comparison (synapseml_vs_python) in one sentence: the
    SynapseML/`python` throughput ratio for each model and its trend (overtook: from below 1 to 1
    or more; gained: rose; else no gain)."""
    v = versus.set_index("model")
    r_light = float(v.loc["light (kit model)", "synapseml_over_python"])
    r_heavy = float(v.loc["heavy", "synapseml_over_python"])
    if r_light < 1 <= r_heavy:
        trend = "overtook"
    elif r_heavy > r_light:
        trend = "gained"
    else:
        trend = "no_gain"
    return [
        finding(
            VERSUS_FINDINGS,
            "trend",
            python=python,
            light_ratio=r_light,
            heavy_ratio=r_heavy,
            trend=VERSUS_TREND[trend].format(python=python),
            direction=trend,
        )
    ]


def record(tax: JniTax) -> dict:
    """The JniTax as a plain dict (JSON-ready)."""
    return asdict(tax)

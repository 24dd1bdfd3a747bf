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
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.core.config import DATA_DIR, JARS_DIR, LabError, atomic_write_bytes, scale
from helpers.core.session import jvm_pid
from helpers.core.validate import check_positive
from helpers.measure.metrics import physical_operators
from helpers.measure.samplers import ProcessSampler, process_table
from helpers.measure.timing import set_batch_size, time_noop, warm_up
from helpers.model.data import (
    ModelSpec,
    feature_matrix,
    load_booster,
    model_text,
    predict,
    train_model,
)
from helpers.paths.scenarios import get_scenario, input_frame, model_broadcast, scenario_frame
from helpers.profile.classify import TASK_THREADS, jni_breakdown
from helpers.profile.jvm import dump_jfr, event_time, jfr_events, parse_jfr_events
from helpers.profile.stacks import write_collapsed

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


def native_call_sites(num_classes: int = 1) -> NativeCallSites:
    """From the jars on this machine: which JNI natives a regression `score` reaches per row.

    Reads `LightGBMBooster`'s bytecode (javap), keeps the lightgbmlib calls made by the per-row
    methods (`predictForMat` once, the `predScoreToArray` closure once per class), and checks in
    `lightgbmlibJNI` that each wrapper ends in a `native` method."""
    check_positive("num_classes", num_classes)
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


# ---- 2. no Python worker: the process tree and the physical plan ---------------------------------

PYTHON_OPERATORS = (
    "BatchEvalPython",
    "ArrowEvalPython",
    "MapInPandas",
    "PythonMapInArrow",
    "FlatMapGroupsInPandas",
    "AggregateInPandas",
    "WindowInPandas",
)


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


def jvm_only_evidence(spark, name: str, rows: int, interval: float = 0.05) -> JvmOnlyEvidence:
    """Run scenario `name` over `rows` rows into the noop sink while sampling the session's
    process tree; return the plan's operators and which processes did work. For SynapseML in a
    session that has not run Python yet, no Python process exists at all."""

    frame = scenario_frame(spark, name, rows=rows)
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
        [o for o in ops if o in PYTHON_OPERATORS],
        sorted(set(s.role)),
        sorted(int(p) for p in py.pid.unique()),
        cpu_delta(py),
        cpu_delta(s[s.role == "jvm"]),
        wall,
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
) -> pd.DataFrame:
    """Cost per row of each scenario scoring `rows` cached rows, plus batched predict in-process
    on one core, all with the same model (`model_str`, default: the kit's model).

    One row per path: wall_s (median of `repeats` runs after a warm-up), rows_per_s,
    us_per_row_per_core (wall x cores / rows), jvm / python / total cpu_us_per_row (CPU
    microseconds the session's processes used per row: robust to a busy machine), python_worker,
    max_abs_diff vs in-process predict with the same model."""

    check_positive("rows", rows)
    check_positive("repeats", repeats)
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
            "path": "batched predict (in-process, 1 core)",
            "rows": rows,
            "wall_s": one_core,
            "rows_per_s": rows / one_core,
            "us_per_row_per_core": one_core / rows * 1e6,
            "jvm_cpu_us_per_row": 0.0,
            "python_cpu_us_per_row": one_cpu / rows * 1e6,
            "cpu_us_per_row": one_cpu / rows * 1e6,
            "python_worker": False,
            "max_abs_diff": 0.0,
        }
    ]
    for name in scenarios:
        sc = get_scenario(name)
        model = text if (model_str is not None or name == "synapseml") else model_broadcast(spark)
        frame = sc.build(df, model)
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


def jni_tax(costs: pd.DataFrame, limit, sites: NativeCallSites, cores: int) -> JniTax:
    """The JNI tax from this run's measurements: `costs` from path_costs (with a 'synapseml'
    row), `limit` a measure.LimitResult over the same rows, `sites` from native_call_sites."""
    c = costs.set_index("path")
    if "synapseml" not in c.index:
        raise LabError("path_costs(...) has no 'synapseml' row: include it in scenarios.")
    syn, batched = c.loc["synapseml"], c.loc["batched predict (in-process, 1 core)"]
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
        limit.rows_per_s,
        rps / limit.rows_per_s,
        float(syn.cpu_us_per_row - batched.cpu_us_per_row),
        float(syn.max_abs_diff),
    )


# ---- 3b. what one native call costs: the same C API from Python (ctypes), no JVM ----------------

SYNAPSEML_PARAMS = (
    "max_bin=255 predict_disable_shape_check=false"  # what predictForMat passes per row
)


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

    check_positive("rows", rows)
    check_positive("repeats", repeats)
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
            ("ctypes call, no work (LGBM_GetLastError)", noop_calls, False),
            ("LGBM_BoosterPredictForMatSingleRow (params parsed per call)", single, True),
            ("LGBM_BoosterPredictForMatSingleRowFast (params parsed once)", single_fast, True),
            ("Booster.predict, batched (one call for all rows)", batched, True),
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


# ---- 4. a heavier model: does SynapseML catch up when predict itself costs more? ---------------


def heavy_model_text(num_trees: int = 1000, train_rows: int = 5_000) -> str:
    """A heavier model of the same shape (16 features, 31 leaves), `num_trees` trees, cached in
    data/ under a name that includes its spec (the kit's model.txt is never touched)."""

    check_positive("num_trees", num_trees)
    spec = ModelSpec(num_trees=num_trees, train_rows=train_rows)
    path = DATA_DIR / f"model_heavy_{spec.digest()}.txt"
    if not path.exists():
        atomic_write_bytes(path, train_model(spec).encode())
    return path.read_text()


# ---- 5. where the JVM spends the time: JFR samples in buckets -------------------------------------


@dataclass
class JfrScoring:
    rows: int
    wall_s: float
    stacks: dict  # collapsed JVM stacks of the task threads, microseconds
    breakdown: pd.DataFrame
    java_samples: int  # jdk.ExecutionSample events of the task threads in the window
    native_samples: int  # jdk.NativeMethodSample events of the task threads in the window
    jfr_path: str


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


def profile_synapseml(spark, rows: int, out_dir, warm: bool = True) -> JfrScoring:
    """Score `rows` rows with SynapseML once (after a warm-up) in a session started with
    `profile_jvm.jfr_java_options()`, dump JFR for exactly that run and bucket the task threads'
    samples (jni_breakdown). Writes jvm.jfr and synapseml_jvm.collapsed under `out_dir`.
    warm=False skips the warm-up when SynapseML already ran in this session."""

    check_positive("rows", rows)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    input_frame(spark, rows)
    if warm:
        warm_up(spark, "synapseml", rows)
    frame = scenario_frame(spark, "synapseml", rows=rows)
    t0 = time.time()
    wall = time_noop(frame)
    t1 = time.time()
    path = dump_jfr(jvm_pid(spark), out / "jvm.jfr", begin=t0)
    events = jfr_events(path)
    stacks = parse_jfr_events(events, t0, t1)
    java, native = task_sample_counts(events, t0, t1)
    write_collapsed(stacks, out / "synapseml_jvm.collapsed")
    return JfrScoring(rows, wall, stacks, jni_breakdown(stacks), java, native, str(path))


# ---- 6. the decision table ------------------------------------------------------------------------


def decision_table(
    costs: pd.DataFrame, limit, heavy: pd.DataFrame | None = None, python: str = "map_in_arrow"
) -> pd.DataFrame:
    """One row per Spark path measured in this run (from path_costs) plus the physical limit:
    rows/s, ratio to the limit, CPU microseconds per row, the overhead per row over batched
    predict, whether a Python worker runs, and `winner` (most rows/s among the Spark paths).
    With `heavy` (path_costs with a heavier model) adds `synapseml_over_python_heavy`, the
    SynapseML/Python rows-per-second ratio for that model (>1: SynapseML wins there)."""
    base = costs.set_index("path").loc["batched predict (in-process, 1 core)", "cpu_us_per_row"]
    t = costs[costs.path != "batched predict (in-process, 1 core)"].copy()
    t["ratio_to_limit"] = t.rows_per_s / limit.rows_per_s
    t["overhead_cpu_us_per_row"] = t.cpu_us_per_row - base
    t = pd.concat(
        [
            t,
            pd.DataFrame(
                [
                    {
                        "path": "physical_limit",
                        "rows": limit.rows,
                        "wall_s": limit.wall_s,
                        "rows_per_s": limit.rows_per_s,
                        "ratio_to_limit": 1.0,
                        "cpu_us_per_row": limit.wall_s * limit.processes / limit.rows * 1e6,
                        "overhead_cpu_us_per_row": 0.0,
                        "python_worker": False,
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    t["winner"] = False
    spark_paths = t[t.path != "physical_limit"]
    t.loc[spark_paths.rows_per_s.idxmax(), "winner"] = True
    cols = [
        "path",
        "rows_per_s",
        "ratio_to_limit",
        "cpu_us_per_row",
        "overhead_cpu_us_per_row",
        "python_worker",
        "winner",
    ]
    if heavy is not None:
        h = heavy.set_index("path").rows_per_s
        t["synapseml_over_python_heavy"] = np.where(
            t.path == "synapseml", h.get("synapseml", np.nan) / h.get(python, np.nan), np.nan
        )
        cols.append("synapseml_over_python_heavy")
    return t[cols].sort_values("rows_per_s", ascending=False).reset_index(drop=True)


def synapseml_vs_python(
    light: pd.DataFrame, heavy: pd.DataFrame, python: str = "map_in_arrow"
) -> pd.DataFrame:
    """For the kit's model and a heavier one (both from path_costs): predict CPU per row, the
    overhead CPU per row of SynapseML and of the Python path over batched predict, and the
    SynapseML/Python throughput ratio (above 1: SynapseML wins for that model)."""
    out = []
    for label, t in (("light (kit model)", light), ("heavy", heavy)):
        c = t.set_index("path")
        base = float(c.loc["batched predict (in-process, 1 core)", "cpu_us_per_row"])
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


def record(tax: JniTax) -> dict:
    """The JniTax as a plain dict (JSON-ready)."""
    return asdict(tax)

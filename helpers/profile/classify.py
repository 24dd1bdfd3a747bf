"""Frames -> categories: where the sampled time of a Python worker or the JVM goes.

Categories (in the order charts stack them):
- prediction: the model (Python `lightgbm/` and the kit's `predict` in `helpers/model/data.py`,
  SynapseML's `com.microsoft.azure.synapse.ml.lightgbm` and LightGBM's JNI wrapper
  `com.microsoft.ml.lightgbm`). Any such frame on a stack wins, so the NumPy calls LightGBM makes
  inside predict count as prediction.
- conversion: Arrow <-> pandas (`arrow_to_pandas`, `_create_batch`, `pyarrow/pandas_compat.py`),
  building the model's input matrix (`np.column_stack`, `to_numpy`, pandas/NumPy frames, the kit's
  UDF bodies in `helpers/paths/scenarios.py`), SynapseML's `VectorAssembler`.
- serialization: Arrow IPC and pickle (`load_stream`/`dump_stream` in `pyspark/serializers.py` and
  `pyspark/sql/pandas/serializers.py`, `pyarrow/ipc`, cloudpickle; JVM
  `org.apache.arrow.vector.ipc`, Pyrolite `net.razorvine.pickle`).
- JVM row<->Arrow: `ArrowWriter`, `ArrowColumnVector`, Arrow vectors, generated
  `UnsafeProjection`s (rows rebuilt from Arrow results), `EvaluatePython` (rows to Java objects for
  pickling), and the other row <-> object conversions of Catalyst (`UnsafeRow` getters, e.g.
  SynapseML's `VectorUDT`). A whole-stage codegen iterator (`GeneratedIteratorForCodegenStage…`)
  is the parent of everything in its stage and is left to the frames below it.
- socket I/O: reading/writing the worker socket (`read_int`/`write_int`, `java.net.Socket*`,
  `sun.nio.ch`).
- native/JNI: other JVM threads' time in native methods (leaf marked `[native]`).
- waiting/idle: Python `[off-cpu]` (the thread CPU clock did not advance: blocked on the socket or
  waiting for a core); JVM `park`/`wait`/`sleep`/epoll.
- other: Spark's own bookkeeping, imports, the cached-table scan, ...

The deepest (leaf-most) frame that matches a rule decides, except that prediction wins anywhere
and an `[off-cpu]` leaf is always waiting.
"""

from __future__ import annotations

import re

import pandas as pd

from helpers.core.config import LabError
from helpers.core.findings import Finding, finding

CATEGORIES = (
    "prediction",
    "conversion",
    "serialization",
    "JVM row<->Arrow",
    "socket I/O",
    "native/JNI",
    "waiting/idle",
    "other",
)
CATEGORY_COLORS = {
    "prediction": "#2ca02c",
    "conversion": "#ff7f0e",
    "serialization": "#d62728",
    "JVM row<->Arrow": "#9467bd",
    "socket I/O": "#17becf",
    "native/JNI": "#8c564b",
    "waiting/idle": "#c7c7c7",
    "other": "#7f7f7f",
}

_PREDICTION = re.compile(
    r"\(lightgbm/|^predict \(helpers/model/data\.py\)"
    r"|^com\.microsoft\.azure\.synapse\.ml\.lightgbm\.|^com\.microsoft\.ml\.lightgbm\."
)

_PY_RULES = [
    ("waiting/idle", re.compile(r"^\[off-cpu\]$")),
    (
        "socket I/O",
        re.compile(
            r"^(read_int|write_int|read_long|write_long|write_with_length)"
            r" \(pyspark/serializers\.py\)"
            r"|^(readinto|recv_into|recv|send|sendall|makefile) \(socket\.py\)"
        ),
    ),
    (
        "conversion",
        re.compile(
            r"^(arrow_to_pandas|_create_batch|_create_array|_create_struct_array|_create_arrow_batch"
            r"|convert|_to_corrected_pandas_type|from_arrow_type|to_arrow_type)"
            r" \(pyspark/sql/pandas/"
            r"|\(pyarrow/pandas_compat\.py\)|\(pandas/|\(numpy/|\(helpers/paths/scenarios\.py\)"
            r"|\(pyspark/sql/pandas/types\.py\)"
            r"|^arrow::py::.*(Pandas|NumPy)"
        ),
    ),  # py-spy native frames of to_pandas
    (
        "serialization",
        re.compile(
            r"\(pyspark/serializers\.py\)|\(pyspark/sql/pandas/serializers\.py\)"
            r"|\(pyarrow/ipc|\(cloudpickle/|\(pickle\.py\)"
            r"|^arrow::ipc::"
        ),
    ),  # py-spy native frames of the IPC reader/writer
]

_JVM_RULES = [
    (
        "waiting/idle",
        re.compile(
            r"^(jdk\.internal\.misc\.Unsafe\.park|java\.lang\.Object\.wait|java\.lang\.Thread\.sleep"
            r"|java\.util\.concurrent\.locks\.LockSupport\.park|sun\.nio\.ch\.EPoll\.wait"
            r"|sun\.nio\.ch\.EPollSelectorImpl\.doSelect)"
        ),
    ),
    (
        "socket I/O",
        re.compile(
            r"^(sun\.nio\.ch\.(Net\.poll|NioSocketImpl|SocketDispatcher|SocketChannelImpl|IOUtil)"
            r"|java\.net\.Socket|java\.net\.SocketInputStream|java\.net\.SocketOutputStream)"
        ),
    ),
    (
        "serialization",
        re.compile(
            r"^(org\.apache\.arrow\.vector\.ipc\.|org\.apache\.arrow\.flatbuf\.|net\.razorvine\.pickle\."
            r"|org\.apache\.spark\.api\.python\.SerDeUtil)"
        ),
    ),
    (
        "JVM row<->Arrow",
        re.compile(
            r"^(org\.apache\.spark\.sql\.execution\.arrow\.|org\.apache\.spark\.sql\.vectorized\."
            r"|org\.apache\.arrow\.vector\.|org\.apache\.arrow\.memory\."
            r"|org\.apache\.spark\.sql\.catalyst\.expressions\.GeneratedClass\$Specific(Unsafe|Safe)Projection"
            r"|org\.apache\.spark\.sql\.catalyst\.expressions\.(Unsafe|Interpreted)"
            r"|org\.apache\.spark\.sql\.execution\.python\.EvaluatePython)"
        ),
    ),
    (
        "conversion",
        re.compile(
            r"^(org\.apache\.spark\.ml\.feature\.VectorAssembler|org\.apache\.spark\.ml\.linalg\.)"
        ),
    ),
    ("native/JNI", re.compile(r" \[native\]$")),
]


def _side(side: str) -> list:
    if side not in ("python", "jvm"):
        raise ValueError(f"side must be 'python' or 'jvm', got {side!r}")
    return _PY_RULES if side == "python" else _JVM_RULES


def classify_frame(label: str, side: str = "python") -> str | None:
    """The category of one frame on its own (None when no rule matches)."""
    if _PREDICTION.search(label):
        return "prediction"
    for cat, rx in _side(side):
        if rx.search(label):
            return cat
    return None


def classify_stack(stack: str, side: str = "python") -> str:
    """The category of a whole stack ('root;...;leaf'): prediction anywhere wins, an [off-cpu] leaf
    is waiting, otherwise the leaf-most frame matching a rule decides; 'other' if none does."""
    fs = stack.split(";")
    if fs[-1] == "[off-cpu]":
        return "waiting/idle"
    if any(_PREDICTION.search(f) for f in fs):
        return "prediction"
    rules = _side(side)
    for f in reversed(fs):
        for cat, rx in rules:
            if rx.search(f):
                return cat
    return "other"


def categorize(stacks: dict, side: str = "python") -> dict[str, float]:
    """Seconds per category (every category present, in CATEGORIES order) of stacks weighted in
    microseconds."""
    out = dict.fromkeys(CATEGORIES, 0.0)
    for s, w in stacks.items():
        out[classify_stack(s, side)] += w / 1e6
    return out


def breakdown(result) -> dict:
    """breakdown.json for one ProfileResult: category -> seconds (Python workers + JVM
    threads), 'wall_s', per-side dicts, and each side's coverage = sampled thread-seconds /
    (wall_s x slots)."""
    py = categorize(result.python, "python")
    jv = categorize(result.jvm, "jvm")
    capacity = result.wall_s * max(result.slots, 1)
    out = {c: py[c] + jv[c] for c in CATEGORIES}
    out.update(
        {
            "wall_s": result.wall_s,
            "scenario": result.scenario,
            "rows": result.rows,
            "batch_size": result.batch_size,
            "slots": result.slots,
            "python": py,
            "jvm": jv,
            "python_sampled_s": sum(py.values()),
            "jvm_sampled_s": sum(jv.values()),
            "python_coverage": sum(py.values()) / capacity if capacity else 0.0,
            "jvm_coverage": sum(jv.values()) / capacity if capacity else 0.0,
            "python_processes": result.python_processes,
            "tasks": result.tasks,
        }
    )
    return out


def breakdown_frame(results) -> pd.DataFrame:
    """Tidy table: scenario, side (python|jvm), category, seconds, share (of that side's samples),
    wall_s, slots."""
    rows = []
    for r in results:
        for side, stacks in (("python", r.python), ("jvm", r.jvm)):
            cats = categorize(stacks, side)
            tot = sum(cats.values())
            for c, s in cats.items():
                rows.append(
                    {
                        "scenario": r.scenario,
                        "side": side,
                        "category": c,
                        "seconds": s,
                        "share": s / tot if tot else 0.0,
                        "wall_s": r.wall_s,
                        "slots": r.slots,
                    }
                )
    return pd.DataFrame(rows)


def split(result, side: str = "python") -> dict:
    """The serialization-vs-prediction split of one side's busy time (the `[off-cpu]` and
    waiting samples, and on the JVM the blocking socket reads, are left out): seconds and shares
    for prediction, serialization (Arrow IPC, pickle, socket I/O, JVM row<->Arrow), conversion
    and other; plus the waiting seconds."""
    cats = categorize(result.python if side == "python" else result.jvm, side)
    # On the JVM, time in the socket's native read is the task thread blocked on the worker:
    # waiting.
    sock = cats["socket I/O"] if side == "python" else 0.0
    parts = {
        "prediction": cats["prediction"],
        "serialization": cats["serialization"] + sock + cats["JVM row<->Arrow"],
        "conversion": cats["conversion"],
        "other": cats["other"] + cats["native/JNI"],
    }
    busy = sum(parts.values())
    parts.update({f"{k}_share": (v / busy if busy else 0.0) for k, v in list(parts.items())})
    parts.update(on_cpu_s=busy, waiting_s=cats["waiting/idle"] + cats["socket I/O"] - sock)
    return parts


SPLIT_FINDINGS = {
    "split_python": (
        "**{scenario}** (wall {wall_s:.2f} s): of the {on_cpu_s:.2f} s its Python workers were "
        "busy, **{prediction:.0%} predicting** vs **{serialization:.0%} serializing** and "
        "{conversion:.0%} converting ({other:.0%} other); another {waiting_s:.2f} s waiting. The "
        "samples cover {python_coverage:.0%} (Python) and {jvm_coverage:.0%} (JVM) of wall time "
        "× {slots} slots."
    ),
    "split_jvm": (
        "**{scenario}** (wall {wall_s:.2f} s): of the {on_cpu_s:.2f} s the JVM task threads were "
        "busy, **{prediction:.0%} predicting** vs **{serialization:.0%} serializing** and "
        "{conversion:.0%} converting ({other:.0%} other); another {waiting_s:.2f} s waiting. The "
        "samples cover {python_coverage:.0%} (Python) and {jvm_coverage:.0%} (JVM) of wall time "
        "× {slots} slots."
    ),
    "batch": (
        "Batch {batch_size:,}: wall {wall_s:.2f} s, prediction {prediction:.0%} vs serialization "
        "{serialization:.0%} + conversion {conversion:.0%} of the Python workers' busy time."
    ),
}


def _shares(s: dict) -> dict:
    return {k: s[f"{k}_share"] for k in ("prediction", "serialization", "conversion", "other")}


def breakdown_findings(results) -> list[Finding]:
    """Per ProfileResult: the split of busy time (`split`) on the Python side, or on the JVM side
    when no Python task ran, with waiting seconds and each side's coverage of wall time x slots."""
    out = []
    for r in results:
        side = "python" if r.tasks else "jvm"
        s, b = split(r, side), breakdown(r)
        out.append(
            finding(
                SPLIT_FINDINGS,
                f"split_{side}",
                scenario=r.scenario,
                wall_s=r.wall_s,
                on_cpu_s=s["on_cpu_s"],
                waiting_s=s["waiting_s"],
                python_coverage=b["python_coverage"],
                jvm_coverage=b["jvm_coverage"],
                slots=r.slots,
                **_shares(s),
            )
        )
    return out


def batch_findings(results) -> list[Finding]:
    """Per ProfileResult (e.g. one per Arrow batch size): wall seconds and the shares of the Python
    workers' busy time spent predicting, serializing and converting."""
    return [
        finding(
            SPLIT_FINDINGS,
            "batch",
            batch_size=r.batch_size or 0,
            wall_s=r.wall_s,
            **_shares(split(r)),
        )
        for r in results
    ]


# Threads that do a Spark task's work: the task thread, 3.5's writer thread feeding the Python
# worker (PythonRunner.WriterThread "stdout writer for <python>"), and its monitor.
TASK_THREADS = re.compile(
    r"^(Executor task launch worker|stdout writer for|writer for |Worker Monitor for)"
)


# Executor plumbing every task-thread stack passes through (thread pool, task runner, error-
# handling wrappers, lambdas, the noop writer's task loop): hidden in the drawings, kept in the
# .collapsed files.
JVM_SCAFFOLDING = (
    r"^(java\.lang\.Thread\.run|java\.util\.concurrent\.ThreadPoolExecutor"
    r"|org\.apache\.spark\.executor\.Executor\$TaskRunner"
    r"|org\.apache\.spark\.util\.(SparkErrorUtils|Utils\$)"
    r"|org\.apache\.spark\.scheduler\.(Task|ResultTask)\.|org\.apache\.spark\.TaskContext"
    r"|org\.apache\.spark\.sql\.execution\.datasources\.v2\."
    r"(V2TableWriteExec|DataWritingSparkTask|WritingSparkTask)"
    r"|\d+\.apply$|.*\$\$Lambda)"
)


# Checked leaf-first: the first frame that matches decides the bucket.
JNI_BUCKETS = (
    (
        "native predict (JNI: LGBM_BoosterPredictForMatSingle)",
        re.compile(r"lightgbmlibJNI\.LGBM_BoosterPredict"),
    ),
    ("other JNI calls (result read, pointers)", re.compile(r"lightgbmlibJNI\.")),
    (
        "row -> vector (VectorAssembler, ml.linalg)",
        re.compile(r"VectorAssembler|ml\.linalg|VectorUDT|ml\.feature"),
    ),
    (
        "SynapseML Scala around the call (params string, logging)",
        re.compile(r"synapse\.ml|com\.microsoft"),
    ),
    ("Spark row pipeline (scan, codegen, noop sink)", re.compile(r"org\.apache\.spark")),
)


TASK_FRAME = re.compile(r"Executor\$TaskRunner|org\.apache\.spark\.scheduler\.Task\.run")


def classify_jvm_stack(frames: list[str]) -> str:
    """Bucket of one JVM stack given root-first frames (the collapsed-stack order)."""
    for frame in reversed(frames):
        for label, pattern in JNI_BUCKETS:
            if pattern.search(frame):
                return label
    return "other (JDK, GC, unresolved)"


def jni_breakdown(stacks: dict, only_tasks: bool = True) -> pd.DataFrame:
    """Collapsed JVM stacks ('root;...;leaf' -> microseconds, e.g. from jvm.jvm_stacks)
    -> seconds per bucket, share, and the part spent in native code (leaf frame '[native]', i.e.
    a jdk.NativeMethodSample: the thread was inside a JNI call). With `only_tasks`, keeps stacks
    under Executor$TaskRunner: idle threads parked in native code (sockets, epoll) are sampled
    by jdk.NativeMethodSample too and would drown the signal."""
    rows = []
    for stack, us in stacks.items():
        if only_tasks and not TASK_FRAME.search(stack):
            continue
        frames = stack.split(";")
        rows.append(
            {
                "bucket": classify_jvm_stack(frames),
                "seconds": us / 1e6,
                "native_seconds": us / 1e6 if frames[-1].endswith("[native]") else 0.0,
            }
        )
    if not rows:
        raise LabError(
            "No Spark task stacks in the JFR samples: start the session with "
            "jvm.jfr_java_options() and run the SynapseML job while recording."
        )
    out = pd.DataFrame(rows).groupby("bucket", as_index=False)[["seconds", "native_seconds"]].sum()
    out["share"] = out["seconds"] / out["seconds"].sum()
    return out.sort_values("seconds", ascending=False).reset_index(drop=True)

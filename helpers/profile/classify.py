"""Samples -> categories: where the sampled time of a Python worker or the JVM goes.

One sample is one collapsed stack ('root;...;leaf', frames root first) with its weight. It is
classified by its **leaf-most meaningful frame**, in this order:

1. **waiting** when the thread was not working: a Python `[off-cpu]` leaf (the thread CPU clock
   did not advance), a JVM thread inside a blocking socket call (`SocketDispatcher.read0`, a socket
   write's `FileDispatcherImpl.write0`, Java 8's `socketRead0`/`socketWrite0`; JFR samples threads
   in native code without telling blocked from copying, and copying one batch into the kernel
   takes a small fraction of its 20 ms period, so such a sample is a thread waiting for the
   Python worker), or a parked, sleeping or polling JVM thread (`park`, `wait`, `sleep`, epoll);
2. **prediction** when a model frame is anywhere on the stack (Python `lightgbm/` and the kit's
   `predict` in `helpers/model/data.py`, SynapseML's `com.microsoft.azure.synapse.ml.lightgbm`,
   LightGBM's JNI wrapper `com.microsoft.ml.lightgbm`): the NumPy calls LightGBM makes inside
   predict are prediction, SynapseML extracting LightGBM's native library from its jar is not;
3. otherwise the deepest frame that matches a rule below; `other` when none does.

Categories (in the order charts stack them):
- prediction: the model, see above.
- conversion: Arrow <-> pandas (`arrow_to_pandas`, `_create_batch`, `pyarrow/pandas_compat.py`),
  building the model's input matrix (`np.column_stack`, `to_numpy`, pandas/NumPy frames, the kit's
  UDF bodies in `helpers/inference/scenarios.py`), SynapseML's `VectorAssembler`.
- serialization: Arrow IPC and pickle (`load_stream`/`dump_stream` in `pyspark/serializers.py` and
  `pyspark/sql/pandas/serializers.py`, `pyarrow/ipc`, cloudpickle; JVM
  `org.apache.arrow.vector.ipc`, Pyrolite `net.razorvine.pickle`).
- JVM row<->Arrow: `ArrowWriter`, `ArrowColumnVector`, Arrow vectors, generated
  `UnsafeProjection`s (rows rebuilt from Arrow results), `EvaluatePython` (rows to Java objects for
  pickling), and the other row <-> object conversions of Catalyst (`UnsafeRow` getters, e.g.
  SynapseML's `VectorUDT`). A whole-stage codegen iterator (`GeneratedIteratorForCodegenStage…`)
  is the parent of everything in its stage and is left to the frames below it.
- socket I/O: on-CPU work reading/writing the worker socket (`read_int`/`write_int`, the JVM's
  socket classes in Java code).
- native/JNI: other time of JVM task threads in native methods (leaf marked `[native]`).
- other: Spark's own bookkeeping, imports, the cached-table scan, ...
- waiting: see above.

Each sample also has a direction (`classify_sample`): "read" or "write" when its deciding frame
reads from or writes to the other side (the Python worker's `read_int`/`load_stream` and
`write_int`/`dump_stream`, whose socket calls run in C under them: `pyspark/daemon.py` wraps the
socket with `os.fdopen`; the JVM's socket read/write methods), else None. A waiting sample with
a direction is a thread blocked on the other side; without one it waited for a core, the disk
or a lock (Python) or was parked or polling (JVM).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import pandas as pd

from helpers.core.config import LabError
from helpers.core.findings import Finding, finding, span
from helpers.profile.stacks import Node

CATEGORIES = (
    "prediction",
    "conversion",
    "serialization",
    "JVM row<->Arrow",
    "socket I/O",
    "native/JNI",
    "other",
    "waiting",
)
CATEGORY_COLORS = {
    "prediction": "#2ca02c",
    "conversion": "#ff7f0e",
    "serialization": "#d62728",
    "JVM row<->Arrow": "#9467bd",
    "socket I/O": "#17becf",
    "native/JNI": "#8c564b",
    "other": "#7f7f7f",
    "waiting": "#c7c7c7",
}
# What a waiting sample waited in, by its direction (`classify_sample`), per side.
WAIT_KINDS = {
    "python": {
        "read": "reading from the JVM",
        "write": "writing to the JVM",
        None: "for a core, the disk or a lock",
    },
    "jvm": {
        "read": "reading the Python worker's results",
        "write": "writing batches to the Python worker",
        None: "parked or polling",
    },
}

_PREDICTION = re.compile(
    r"\(lightgbm/|^predict \(helpers/model/data\.py\)"
    r"|^com\.microsoft\.azure\.synapse\.ml\.lightgbm\.|^com\.microsoft\.ml\.lightgbm\."
)
# Under a model frame but not predicting: SynapseML's booster extracting LightGBM's native library
# from its jar (`NativeLoader.extractNativeLibraries`, on the booster's first use).
_NOT_PREDICTION = re.compile(r"^com\.microsoft\.azure\.synapse\.ml\.core\.env\.NativeLoader\.")

_PY_RULES = [
    ("waiting", re.compile(r"^\[off-cpu\]$")),
    (
        "socket I/O",
        re.compile(
            r"^(read_int|write_int|read_long|write_long|read_bool|write_with_length)"
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
            r"|\(pyarrow/pandas_compat\.py\)|\(pandas/|\(numpy/|\(helpers/inference/scenarios\.py\)"
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
# The worker's socket is a file (`os.fdopen` in pyspark/daemon.py): its reads and writes run in C
# under these frames, so they give a waiting sample its direction.
_PY_IO = (
    (
        "read",
        re.compile(
            r"^(read_int|read_long|read_bool|_read_with_length|load_stream"
            r"|_load_stream_without_unmarshal) \(pyspark/(sql/pandas/)?serializers\.py\)"
            r"|^(readinto|recv_into|recv) \(socket\.py\)"
        ),
    ),
    (
        "write",
        re.compile(
            r"^(write_int|write_long|write_with_length|_write_with_length|dump_stream)"
            r" \(pyspark/(sql/pandas/)?serializers\.py\)|^(send|sendall) \(socket\.py\)"
        ),
    ),
)

_JVM_SOCKET_CLASS = re.compile(
    r"^(sun\.nio\.ch\.(NioSocketImpl|SocketDispatcher|SocketChannelImpl)"
    r"|java\.net\.Socket|java\.net\.SocketInputStream|java\.net\.SocketOutputStream)"
)
# A native read/write system call; on a stack through a socket class it is the socket's
# (JDK 17: SocketDispatcher.write calls FileDispatcherImpl.write0).
_JVM_SYSCALL = re.compile(
    r"^(sun\.nio\.ch\.(SocketDispatcher|FileDispatcherImpl)\.(?P<a>read|readv|write|writev)0"
    r"|java\.net\.Socket(Input|Output)Stream\.socket(?P<b>Read|Write)0) \[native\]$"
)
_JVM_RULES = [
    (
        "waiting",
        re.compile(
            r"^(jdk\.internal\.misc\.Unsafe\.park|sun\.misc\.Unsafe\.park|java\.lang\.Object\.wait"
            r"|java\.lang\.Thread\.sleep|java\.util\.concurrent\.locks\.LockSupport\.park"
            r"|sun\.nio\.ch\.EPoll\.wait|sun\.nio\.ch\.EPollSelectorImpl\.doSelect"
            r"|sun\.nio\.ch\.Net\.poll)"
        ),
    ),
    (
        "socket I/O",
        re.compile(
            r"^(sun\.nio\.ch\.(NioSocketImpl|SocketDispatcher|SocketChannelImpl|IOUtil)"
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
_JVM_READ = re.compile(r"\.\w*[Rr]ead\w*(\$\w*)?$")
_JVM_WRITE = re.compile(r"\.\w*[Ww]rite\w*(\$\w*)?$")


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


def _io(frame: str, side: str) -> str | None:
    if side == "python":
        return next((d for d, rx in _PY_IO if rx.search(frame)), None)
    if _JVM_READ.search(frame.removesuffix(" [native]")):
        return "read"
    if _JVM_WRITE.search(frame.removesuffix(" [native]")):
        return "write"
    return None


def _jvm_socket_wait(fs: list[str]) -> str | None:
    """'read'/'write' when the leaf is a native read/write call under a socket class."""
    m = _JVM_SYSCALL.search(fs[-1])
    if m and any(_JVM_SOCKET_CLASS.search(f) for f in fs):
        return "read" if (m.group("a") or m.group("b")).lower().startswith("read") else "write"
    return None


def _meaningful(frame: str, rules: list) -> bool:
    return bool(_PREDICTION.search(frame)) or any(rx.search(frame) for _, rx in rules)


def classify_sample(stack: str, side: str = "python") -> tuple[str, str | None]:
    """(category, direction) of one sample 'root;...;leaf' (module docstring): the leaf-most
    frame that matches a rule decides, except that a waiting frame (or a JVM thread blocked in a
    socket call) always wins and a model frame anywhere makes the rest prediction. Direction:
    'read'/'write' for socket I/O and waiting samples whose deciding frame (for a Python
    `[off-cpu]` leaf, the leaf-most meaningful frame above it) reads from or writes to the other
    side, else None."""
    rules = _side(side)
    fs = stack.split(";")
    if side == "jvm" and (way := _jvm_socket_wait(fs)):
        return "waiting", way
    for i in range(len(fs) - 1, -1, -1):
        cat = next((c for c, rx in rules if rx.search(fs[i])), None)
        if cat is None:
            continue
        if cat == "waiting":
            if side == "jvm":
                return "waiting", None
            above = next((f for f in reversed(fs[:i]) if _meaningful(f, rules)), None)
            return "waiting", _io(above, side) if above else None
        break
    else:
        cat = "other"
    if any(_PREDICTION.search(f) for f in fs) and not any(_NOT_PREDICTION.search(f) for f in fs):
        return "prediction", None
    return cat, (_io(fs[i], side) if cat == "socket I/O" else None)


def classify_stack(stack: str, side: str = "python") -> str:
    """The category of one sample 'root;...;leaf' (`classify_sample`)."""
    return classify_sample(stack, side)[0]


def categorize(stacks: dict, side: str = "python") -> dict[str, float]:
    """Seconds per category (every category present, in CATEGORIES order) of stacks weighted in
    microseconds."""
    out = dict.fromkeys(CATEGORIES, 0.0)
    for s, w in stacks.items():
        out[classify_stack(s, side)] += w / 1e6
    return out


def io_seconds(stacks: dict, side: str = "python") -> dict[tuple[str, str | None], float]:
    """Seconds per (category, direction) of stacks weighted in microseconds (`classify_sample`);
    e.g. ('waiting', 'read') is a thread blocked reading from the other side."""
    out: dict = defaultdict(float)
    for s, w in stacks.items():
        out[classify_sample(s, side)] += w / 1e6
    return dict(out)


# Where a JVM socket wait or copy enters the JDK's I/O layers: `fold_io` cuts a waiting or
# socket I/O stack here and puts one labelled frame in place of the 10-20 frames below it.
_JVM_IO_LAYER = re.compile(
    r"^(java\.io\.|java\.net\.|java\.nio\.|sun\.nio\.ch\.|jdk\.internal\.misc\.Unsafe\.park"
    r"|sun\.misc\.Unsafe\.park|java\.util\.concurrent\.locks\.)"
)
_JVM_POLL = re.compile(r"EPoll|Net\.poll|SelectorImpl")
FOLDED = {
    ("waiting", "read"): "[waiting: socket read, Python still computing]",
    ("waiting", "write"): "[waiting: socket write, Python not reading yet]",
    ("waiting", "poll"): "[waiting: epoll on the worker's socket]",
    ("waiting", None): "[waiting: parked]",
    ("socket I/O", "read"): "[socket read: copying bytes]",
    ("socket I/O", "write"): "[socket write: copying bytes]",
    ("socket I/O", None): "[socket I/O]",
}


def fold_io(stack: str) -> list[str]:
    """The frames of one JVM sample as drawn: a waiting or socket I/O sample loses every frame
    from its first JDK I/O frame (java.io, java.net, sun.nio.ch, park, ...) down, replaced by one
    `FOLDED` label that says what the thread waited for; other samples are unchanged."""
    fs = stack.split(";")
    cat, way = classify_sample(stack, "jvm")
    if cat not in ("waiting", "socket I/O"):
        return fs
    cut = next((i for i, f in enumerate(fs) if _JVM_IO_LAYER.search(f)), None)
    if cut is None:
        return fs
    if cat == "waiting" and way is None and _JVM_POLL.search(fs[-1]):
        way = "poll"
    return fs[:cut] + [FOLDED[(cat, way)]]


def category_tree(
    stacks: dict, side: str = "python", hide: str | None = None, fold: bool = False
) -> Node:
    """The call tree of `stacks` (`stacks.build_tree`) whose nodes also carry `cats`: the weight
    beneath them per category. Each stack is classified in full before the frames matching the
    regex `hide` (e.g. JVM_SCAFFOLDING) are dropped from the tree and, with `fold` (JVM side),
    its socket and waiting frames become one labelled frame (`fold_io`), so hiding and folding
    change the drawing, never the shares."""
    root = Node("all")
    rx = re.compile(hide) if hide else None
    for s, w in stacks.items():
        cat = classify_stack(s, side)
        fs = fold_io(s) if fold and side == "jvm" else s.split(";")
        if rx is not None:
            fs = [f for f in fs if not rx.search(f)] or fs[-1:]
        for node in _descend(root, fs):
            node.weight += w
            node.cats[cat] = node.cats.get(cat, 0) + w
    return root


def _descend(root: Node, fs: list[str]):
    node = root
    yield node
    for f in fs:
        node = node.children.setdefault(f, Node(f))
        yield node


@dataclass
class Box:
    """One drawn frame of a flame graph: `name` at `depth` (0 = the root 'all'), spanning the
    weight interval [offset, offset + weight); `segments` are (category, offset, weight) of the
    samples that end in this frame or in callees too narrow or too deep to draw, after the
    drawn callees. The rest of the box only passes calls through."""

    name: str
    depth: int
    offset: int
    weight: int
    segments: list


def flame_boxes(root: Node, min_share: float = 0.0, max_depth: int | None = None) -> list[Box]:
    """The boxes of an icicle flame graph of a `category_tree`, parents before children, siblings
    widest first (ties by name). A callee lighter than `min_share` of the total or deeper than
    `max_depth` is not drawn: its samples become segments of its caller. Per category, the
    segments' weights add up to the tree's: the coloured area is the breakdown."""
    cut = min_share * root.weight
    out: list[Box] = []

    def walk(node: Node, offset: int, depth: int) -> None:
        box = Box(node.name, depth, offset, node.weight, [])
        out.append(box)
        left = dict(node.cats)
        x = offset
        deeper = max_depth is None or depth < max_depth
        for child in sorted(node.children.values(), key=lambda n: (-n.weight, n.name)):
            if deeper and child.weight > 0 and child.weight >= cut:
                walk(child, x, depth + 1)
                x += child.weight
                for c, w in child.cats.items():
                    left[c] -= w
        for c in CATEGORIES:
            if left.get(c, 0) > 0:
                box.segments.append((c, x, left[c]))
                x += left[c]

    walk(root, 0, 0)
    return out


def describe(category: str, direction: str | None, side: str = "python") -> str:
    """A category in words, with what a waiting or socket sample waited in or did: e.g.
    'waiting: writing batches to the Python worker', 'socket I/O (read)', 'prediction'."""
    if category == "waiting":
        return f"waiting: {WAIT_KINDS[side][direction]}"
    if category == "socket I/O" and direction:
        return f"socket I/O ({direction})"
    return category


def leaf_table(stacks: dict, side: str = "python", top: int = 3, on_cpu: bool = False):
    """The `top` leaf frames by self time (the widest bottom edges of the icicle): frame, seconds,
    share (of all samples, or of the on-CPU ones, i.e. without waiting samples, with `on_cpu`)
    and `kind` (`describe`) of the category and direction holding most of that leaf's time."""
    per: dict = defaultdict(lambda: defaultdict(int))
    for s, w in stacks.items():
        cat, io = classify_sample(s, side)
        if on_cpu and cat == "waiting":
            continue
        per[s.rsplit(";", 1)[-1]][(cat, io)] += w
    grand = sum(sum(v.values()) for v in per.values())
    rows = [
        {
            "frame": leaf,
            "seconds": sum(kinds.values()) / 1e6,
            "share": sum(kinds.values()) / grand,
            "kind": describe(*max(kinds, key=lambda k: (kinds[k], str(k))), side),
        }
        for leaf, kinds in per.items()
    ]
    table = pd.DataFrame(rows, columns=["frame", "seconds", "share", "kind"])
    return table.sort_values(["seconds", "frame"], ascending=[False, True]).head(top)


def shares(stacks: dict, side: str = "python") -> dict[str, float]:
    """Shares (0..1) of all samples of one side: every category (`categorize`), and the waiting
    samples by direction as 'wait_read', 'wait_write', 'wait_other' (they add up to 'waiting')."""
    io = io_seconds(stacks, side)
    total = sum(io.values())
    if not total:
        return dict.fromkeys([*CATEGORIES, "wait_read", "wait_write", "wait_other"], 0.0)
    out = {c: sum(v for (k, _), v in io.items() if k == c) / total for c in CATEGORIES}
    for d, key in (("read", "wait_read"), ("write", "wait_write"), (None, "wait_other")):
        out[key] = io.get(("waiting", d), 0.0) / total
    return out


TASK_THREAD = "thread:Executor task launch worker"


def task_thread_seconds(stacks: dict) -> float:
    """Seconds sampled on the JVM's task threads alone (stacks rooted at `TASK_THREAD`): one
    thread per running task, so at most wall time x slots. The other sampled threads serve a task
    beside it (3.5's writer thread feeding the worker, the worker monitor)."""
    return sum(w for s, w in stacks.items() if s.startswith(TASK_THREAD)) / 1e6


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
            "jvm_task_coverage": task_thread_seconds(result.jvm) / capacity if capacity else 0.0,
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
    """The serialization-vs-prediction split of one side's busy time (waiting samples left out):
    seconds and shares for prediction, serialization (Arrow IPC, pickle, on-CPU socket I/O, JVM
    row<->Arrow), conversion and other (with native/JNI); plus the waiting seconds. Every
    seconds value is a sum of `categorize` categories: the same numbers as the breakdown."""
    cats = categorize(result.python if side == "python" else result.jvm, side)
    parts = {
        "prediction": cats["prediction"],
        "serialization": cats["serialization"] + cats["socket I/O"] + cats["JVM row<->Arrow"],
        "conversion": cats["conversion"],
        "other": cats["other"] + cats["native/JNI"],
    }
    busy = sum(parts.values())
    parts.update({f"{k}_share": (v / busy if busy else 0.0) for k, v in list(parts.items())})
    parts.update(on_cpu_s=busy, waiting_s=cats["waiting"])
    return parts


SPLIT_FINDINGS = {
    "prediction": (
        "**Prediction took {share} of busy time ({paths})**; the rest went to serialization, "
        "conversion and other work (table above)."
    ),
    "coverage": (
        "Samples covered {py} of wall time × {slots} slots in Python, {jvm} on JVM task threads, "
        "plus {extra} on other JVM threads."
    ),
    "batch": (
        "Batch {batch_size:,}: wall {wall_s:.2f} s, prediction {prediction:.0%} vs serialization "
        "{serialization:.0%} + conversion {conversion:.0%} of the Python workers' busy time."
    ),
}


def _shares(s: dict) -> dict:
    return {k: s[f"{k}_share"] for k in ("prediction", "serialization", "conversion", "other")}


def breakdown_findings(results) -> list[Finding]:
    """The prediction share of busy time (Python side; the JVM side for a path without Python
    tasks), highest path first; the range of each side's coverage of wall time x slots (JVM: task
    threads, plus the helper threads beside them, e.g. 3.5's writer thread). What coverage below
    100% leaves out is notebook 05's deep dive beside the table."""
    results = list(results)
    if not results:
        raise LabError("No profiled runs: profile at least one path first.")
    pred = {
        r.scenario: split(r, "python" if r.tasks else "jvm")["prediction_share"] for r in results
    }
    hi, lo = max(pred, key=pred.get), min(pred, key=pred.get)
    out = [
        finding(
            SPLIT_FINDINGS, "prediction", hi=pred[hi], hi_path=hi, lo=pred[lo], lo_path=lo,
            share=span(pred[hi], pred[lo]), paths=hi if hi == lo else f"{hi} to {lo}",
        )
    ]  # fmt: skip
    b = [breakdown(r) for r in results]
    py = [x["python_coverage"] for x, r in zip(b, results) if r.tasks]
    jv = [x["jvm_task_coverage"] for x in b]
    # task threads are a subset of the JVM's threads: a difference below 0 is rounding ("-0%")
    extra = [max(0.0, x["jvm_coverage"] - x["jvm_task_coverage"]) for x in b]
    py = py or [0.0]
    out.append(
        finding(
            SPLIT_FINDINGS,
            "coverage",
            py_lo=min(py),
            py_hi=max(py),
            jvm_lo=min(jv),
            jvm_hi=max(jv),
            py=span(min(py), max(py)),
            jvm=span(min(jv), max(jv)),
            extra=span(min(extra), max(extra)),
            slots=results[0].slots,
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


# The task thread's names: Spark 4.x renames a pool thread "Executor task idle worker" between tasks
# (Executor's IDLE_TASK_THREAD_NAME, javap of spark-core 4.3.0), and JFR can keep that name on the
# samples it takes while the thread runs the next task.
TASK_THREAD_NAMES = ("Executor task launch worker", "Executor task idle worker")
# Threads that do a Spark task's work: the task thread, 3.5's writer thread feeding the Python
# worker (PythonRunner.WriterThread "stdout writer for <python>"), and its monitor.
TASK_THREADS = re.compile(
    "^("
    + "|".join([*TASK_THREAD_NAMES, "stdout writer for", "writer for ", "Worker Monitor for"])
    + ")"
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
    (  # first use of a booster: LightGBM's native library unpacked from SynapseML's jar
        "native library extraction (NativeLoader, first use)",
        re.compile(r"core\.env\.NativeLoader|java\.util\.zip\.Inflater"),
    ),
    ("SynapseML Scala around the call", re.compile(r"synapse\.ml|com\.microsoft")),
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

"""helpers.lab.journey's findings (notebook 01): every template branch, on hand-made tables shaped
like operator_table, batch_layers, ProcessSampler.samples, python_metrics and socket_table.
Pure: no Spark, no timing."""

import pandas as pd
import pytest

from helpers.lab import journey

MIB = 2**20
ME = "this Python (driver side)"


def ops(rows):
    return pd.DataFrame(rows, columns=["scenario", "expected", "python_operator", "plan"])


OPS_OK = ops(
    [
        ("row_udf", "BatchEvalPython", "BatchEvalPython", "Project <- BatchEvalPython <- Scan"),
        ("pandas_udf", "ArrowEvalPython", "ArrowEvalPython", "Project <- ArrowEvalPython"),
        ("arrow_udf", "ArrowEvalPython", "ArrowEvalPython", "Project <- ArrowEvalPython"),
        ("synapseml", "Project", journey.NO_PYTHON, "Project <- InMemoryTableScan"),
    ]
)
OPS_ALL_PYTHON_WRONG = ops(
    [
        ("map_in_pandas", "MapInPandas", "MapInPandas", "MapInPandas <- Scan"),
        ("map_in_arrow", "PythonMapInArrow", "MapInPandas", "MapInPandas <- Scan"),
    ]
)
OPS_JVM_WRONG = ops([("synapseml", "Project", journey.NO_PYTHON, "Filter <- Scan")])
OPS_RENAMED = ops(
    [
        ("row_udf", "BatchEvalPython", "BatchEvalPython", "BatchEvalPython <- Scan"),
        ("map_in_arrow", "MapInArrow", "PythonMapInArrow", "PythonMapInArrow <- Scan"),
        ("default_udf", "EvalPython", "ArrowEvalPython", "ArrowEvalPython <- Scan"),
    ]
)


def layers(sent=1310720.0, back=80128.0, pandas="view"):
    names = [
        "JVM heap: UnsafeRows",
        "JVM -> socket: Arrow IPC sent",
        "Python: pandas columns",
        "Python -> socket: predictions IPC",
    ]
    b = [1440000.0, sent, 1280000.0, back]
    memory = ["", "", pandas, ""]
    return pd.DataFrame(
        {"layer": names, "bytes": b, "factor": [x / 1280000.0 for x in b], "memory": memory}
    )


def change(ratios):
    names = [f"layer {i}" for i in range(len(ratios))]
    before = [1000.0] * len(ratios)
    after = [1000.0 * r for r in ratios]
    return pd.DataFrame({"layer": names, "before": before, "after": after, "ratio": ratios})


def samples(workers=((11, 165), (12, 160))):
    rows = [(0.0, 1, "jvm", 400 * MIB, 1.0), (0.5, 1, "jvm", 502 * MIB, 2.8)]
    rows += [(0.0, 2, "daemon", 56 * MIB, 0.2), (0.5, 2, "daemon", 56 * MIB, 0.3)]
    for pid, mib in workers:
        rows += [(0.1, pid, "python_worker", 60 * MIB, 0.5)]
        rows += [(0.5, pid, "python_worker", mib * MIB, 1.5)]
    return pd.DataFrame(rows, columns=["t", "pid", "role", "rss_bytes", "cpu_s"])


def metrics(sent, back):
    return pd.DataFrame(
        {
            "node": ["ArrowEvalPython"] * 2,
            "metric": ["data sent to Python workers", "data returned from Python workers"],
            "bytes": [sent, back],
        }
    )


NO_METRICS = pd.DataFrame(columns=["execution", "node", "metric", "value", "bytes"])


def socks(rows):
    cols = ["pid", "role", "local_port", "remote_port", "status", "peer_role"]
    return pd.DataFrame(rows, columns=cols)


DAEMON = (2, "daemon", 39035, None, "LISTEN", "")
PY4J = [
    (9, ME, 42658, 44051, "ESTABLISHED", "jvm"),
    (9, ME, 42674, 44051, "ESTABLISHED", "jvm"),
    (9, ME, 36431, 47562, "ESTABLISHED", "jvm"),
    (9, ME, 33077, 40588, "ESTABLISHED", "outside the session"),  # the kernel's own sockets
    (9, ME, 36431, None, "LISTEN", ""),
]
FORKED = socks(
    [
        DAEMON,
        (11, "python_worker", 39035, 32834, "ESTABLISHED", "jvm"),
        (12, "python_worker", 39035, 32850, "ESTABLISHED", "jvm"),
        (1, "jvm", 32834, 39035, "ESTABLISHED", "python_worker"),
        *PY4J,
    ]
)
ODD = socks(
    [
        DAEMON,
        (11, "python_worker", 39035, 32834, "ESTABLISHED", "jvm"),
        (11, "python_worker", 50000, 8080, "ESTABLISHED", "outside the session"),
        *PY4J[:1],
    ]
)
NO_WORKERS = socks([DAEMON, *PY4J])

CASES = {
    "ops_one_in_jvm": (
        journey.operator_findings,
        (OPS_OK,),
        ["paths"],
        [
            "3 of 4 paths run a Python operator (JVM only: `synapseml`); 4 of 4 planned their "
            "scenario's operator."
        ],
    ),
    "ops_all_python_unexpected": (
        journey.operator_findings,
        (OPS_ALL_PYTHON_WRONG,),
        ["paths"],
        [
            "2 of 2 paths run a Python operator (JVM only: none); 1 of 2 planned their "
            "scenario's operator (`map_in_arrow` planned MapInPandas, not `PythonMapInArrow`)."
        ],
    ),
    "ops_jvm_without_its_operator": (
        journey.operator_findings,
        (OPS_JVM_WRONG,),
        ["paths"],
        [None],
    ),
    "ops_renamed": (
        journey.operator_findings,
        (OPS_RENAMED,),
        ["paths"],
        [
            "3 of 3 paths run a Python operator (JVM only: none); 3 of 3 planned their "
            "scenario's operator (this Spark's names: "
            "`PythonMapInArrow` for `MapInArrow`, `ArrowEvalPython` for `EvalPython`)."
        ],
    ),
    "layers_views": (
        journey.layer_findings,
        (layers(), 10_000),
        ["copies"],
        [None],
    ),
    "layers_copies_without_socket_bytes": (
        journey.layer_findings,
        (layers(sent=0.0, back=float("nan"), pandas="new"), 10_000),
        ["copies", "no_counters"],
        [None, None],
    ),
    "change_one": (journey.change_findings, (change([1.0, 0.5, 1.02]),), ["moved"], [None]),
    "change_many": (
        journey.change_findings,
        (change([1.2, 0.5, 1.0]),),
        ["moved"],
        [
            "Your change moved 2 of 3 layers by more than 5% (the byte metric's rounding), "
            "*layer 1* most: 1,000 -> 500 bytes per batch (0.50x)."
        ],
    ),
    "change_none": (journey.change_findings, (change([1.0, 1.03]),), ["moved"], [None]),
    "processes": (
        journey.process_findings,
        (samples(), 2),
        ["workers"],
        [
            "2 Python workers ran beside the JVM on 2 cores (largest 165 MiB RSS), each with its "
            "own model, kept for the next task (`spark.python.worker.reuse=true`)."
        ],
    ),
    "processes_no_reuse": (
        journey.process_findings,
        (samples(), 4, False),
        ["workers"],
        [None],
    ),
    "processes_none_seen": (
        journey.process_findings,
        (samples(workers=()), 4, False),
        ["no_workers"],
        [
            "The sampler saw no Python worker, only the JVM (peak 502 MiB RSS, 4 cores): the job "
            "ran between two samples; run the cell again."
        ],
    ),
    "bytes": (
        journey.byte_findings,
        (metrics(25.0 * MIB, 1602560.0), 200_000, 10_000),
        ["sent"],
        [
            "25.0 MiB went to the workers for 24.4 MiB of raw features (1.02x): validity "
            "bitmaps, written even without nulls, are 0.38 of 0.59 MiB extra."
        ],
    ),
    "bytes_rounded_below_raw": (
        journey.byte_findings,
        (metrics(2.4 * MIB, 160256.0), 20_000, 10_000),
        ["sent_rounded"],
        [
            "2.4 MiB went to the workers for 2.4 MiB of raw features; ±0.05 MiB metric "
            "rounding hides the extra; validity bitmaps alone add 0.04 MiB."
        ],
    ),
    "bytes_missing": (
        journey.byte_findings,
        (NO_METRICS, 20_000, 10_000),
        ["no_counters"],
        [
            "Spark's Python byte counters for this job came back incomplete (its UI listener did "
            "not answer in time): run the cell again."
        ],
    ),
    "sockets_forked": (
        journey.socket_findings,
        (FORKED,),
        ["workers", "py4j"],
        [
            "2 Python workers hold 2 established sockets, all on local port 39035: the daemon's "
            "listening port, inherited when it forked them.",
            "This notebook's own process holds 3 py4j connections to the JVM: they drive the "
            "plan, but no scored row passes through them.",
        ],
    ),
    "sockets_odd": (
        journey.socket_findings,
        (ODD,),
        ["workers", "py4j"],
        [
            "1 Python workers hold 2 established sockets, on local ports 39035, 50000 (the "
            "daemon listens on 39035).",
            None,
        ],
    ),
    "sockets_no_workers": (
        journey.socket_findings,
        (NO_WORKERS,),
        ["workers", "py4j"],
        ["0 Python workers hold 0 established sockets (none is connected now).", None],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_findings_branch(case):
    fn, args, expected_keys, texts = CASES[case]
    found = fn(*args)
    assert [f.key for f in found] == expected_keys
    for f, text in zip(found, texts):
        if text is not None:
            assert f.text() == text


def test_every_template_is_exercised():
    seen = {k for _, _, ks, _ in CASES.values() for k in ks}
    tables = (
        journey.OPERATOR_FINDINGS,
        journey.LAYER_FINDINGS,
        journey.PROCESS_FINDINGS,
        journey.BYTE_FINDINGS,
        journey.CHANGE_FINDINGS,
        journey.SOCKET_FINDINGS,
        journey.COUNTER_FINDINGS,
    )
    assert seen == {k for t in tables for k in t}


def test_every_phrase_is_exercised():
    """The phrases the folded templates pick from the numbers: each one shows up in some case."""
    texts = " ".join(f.text() for fn, args, _, _ in CASES.values() for f in fn(*args))
    for pandas, nth in journey.LAYER_PANDAS.values():
        assert f"are {pandas} its Arrow buffers: the model's matrix is the {nth} copy" in texts
    for phrase in journey.PROCESS_REUSE.values():
        assert phrase in texts
    kinds = {journey.socket_findings(t)[0].values["kind"] for t in (FORKED, ODD, NO_WORKERS)}
    assert kinds == set(journey.SOCKET_WHERE)


def test_process_summary_reads_peaks_and_cpu_per_process():
    s = journey.process_summary(samples())
    assert list(s.columns) == ["peak_rss_mib", "cpu_s"]
    assert s.loc[("jvm", 1), "peak_rss_mib"] == 502.0 and s.loc[("jvm", 1), "cpu_s"] == 1.8
    assert s.loc[("python_worker", 11), "peak_rss_mib"] == 165.0
    assert len(s) == 4


def test_operator_findings_name_what_differs():
    wrong = journey.operator_findings(OPS_ALL_PYTHON_WRONG)[0].values["mismatches"]
    assert "`map_in_arrow` planned MapInPandas" in wrong and "map_in_pandas" not in wrong
    renamed = journey.operator_findings(OPS_RENAMED)[0].values["renamed"]
    assert "`PythonMapInArrow` for `MapInArrow`" in renamed
    assert "`ArrowEvalPython` for `EvalPython`" in renamed
    assert "BatchEvalPython" not in renamed
    jvm_wrong = journey.operator_findings(OPS_JVM_WRONG)[0]
    assert jvm_wrong.values["n_ok"] == 0 and "`synapseml` planned" in jvm_wrong.text()


def test_byte_findings_split_the_extra_into_bitmaps():
    found = journey.byte_findings(metrics(25.0 * MIB, 1602560.0), 200_000, 10_000)[0]
    # 20 batches x 16 columns x 1250 bytes of bits, padded to 1256
    assert found.key == "sent"
    assert found.values["bitmap_mib"] == pytest.approx(20 * 16 * 1256 / MIB)
    assert found.values["extra_mib"] == pytest.approx(25.0 - 200_000 * 128 / MIB)
    # 0.06 MiB over raw, shown to ±0.05 MiB: too coarse to split
    close = journey.byte_findings(metrics(2.5 * MIB, 160256.0), 20_000, 10_000)[0]
    assert close.key == "sent_rounded" and close.values["round_mib"] == pytest.approx(0.05)


def test_validity_bytes_pad_each_bitmap_to_8():
    assert journey.validity_bytes(10_000) == 16 * 1256
    assert journey.validity_bytes(100, columns=1) == 16
    assert journey.validity_bytes(64, columns=1) == 8


def test_change_findings_pick_the_largest_move():
    found = journey.change_findings(change([1.2, 0.5, 1.0]))[0]
    assert found.values["layer"] == "layer 1" and found.values["moved"] == 2
    assert found.values["after"] == 500.0
    one = journey.change_findings(change([1.0, 0.5, 1.02]))[0]
    assert one.values["moved"] == 1 and one.values["layer"] == "layer 1"
    # nothing beyond the band: the count says 0, the largest small move is still named
    none = journey.change_findings(change([1.0, 1.03]))[0]
    assert none.values["moved"] == 0 and none.values["layer"] == "layer 1"
    assert "moved 0 of 2 layers by more than 5%" in none.text()
    # a layer that read 0 bytes before (ratio nan) is not the largest move
    gap = change([1.1, 1.0])
    gap.loc[1, ["before", "ratio"]] = [0.0, float("nan")]
    assert journey.change_findings(gap)[0].values["layer"] == "layer 0"


def test_layer_change_joins_two_runs():
    t = journey.layer_change(layers(), layers(back=40064.0))
    row = t.set_index("layer").loc["Python -> socket: predictions IPC"]
    assert row["before"] == 80128.0 and row["after"] == 40064.0 and row["ratio"] == 0.5


def test_no_workers_still_reports_the_jvm_peak():
    found = journey.process_findings(samples(workers=()), 4, False)[0]
    assert found.key == "no_workers" and found.values["jvm_mib"] == 502.0


def test_layer_findings_read_the_measured_memory():
    views = journey.layer_findings(layers(), 10_000)[0]
    assert views.values["memory"] == "view"
    assert "a 1.22 MiB batch's pandas columns are views over" in views.text()
    copies = journey.layer_findings(layers(pandas="new"), 10_000)[0]
    assert copies.values["memory"] == "new" and "the second copy in Python" in copies.text()

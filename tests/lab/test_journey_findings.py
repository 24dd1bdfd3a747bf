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
        ["some_in_jvm", "as_expected"],
        [
            "3 of 4 paths cross into Python through a dedicated operator; `synapseml` stays in "
            "the JVM (a plain `Project` that calls SynapseML's scoring UDF).",
            None,
        ],
    ),
    "ops_all_python_unexpected": (
        journey.operator_findings,
        (OPS_ALL_PYTHON_WRONG,),
        ["all_python", "unexpected"],
        [None, None],
    ),
    "ops_jvm_without_its_operator": (
        journey.operator_findings,
        (OPS_JVM_WRONG,),
        ["some_in_jvm", "unexpected"],
        [None, None],
    ),
    "ops_renamed": (
        journey.operator_findings,
        (OPS_RENAMED,),
        ["all_python", "as_expected_renamed"],
        [None, None],
    ),
    "layers_views": (
        journey.layer_findings,
        (layers(), 10_000),
        ["largest", "pandas_views"],
        [None, None],
    ),
    "layers_copies_without_socket_bytes": (
        journey.layer_findings,
        (layers(sent=0.0, back=float("nan"), pandas="new"), 10_000),
        ["largest", "pandas_copies", "no_socket_bytes"],
        [None, None, None],
    ),
    "change_one": (journey.change_findings, (change([1.0, 0.5, 1.02]),), ["changed"], [None]),
    "change_many": (journey.change_findings, (change([1.2, 0.5, 1.0]),), ["changed"], [None]),
    "change_none": (journey.change_findings, (change([1.0, 1.03]),), ["unchanged"], [None]),
    "processes": (
        journey.process_findings,
        (samples(), 2),
        ["workers", "peaks", "reuse"],
        [
            "2 Python worker processes ran beside the JVM (cores available to Spark: 2).",
            "The JVM peaked at 502 MiB RSS and the largest worker at 165 MiB: pandas, pyarrow, "
            "LightGBM and a copy of the model live in every worker.",
            None,
        ],
    ),
    "processes_none_seen_no_reuse": (
        journey.process_findings,
        (samples(workers=()), 4, False),
        ["no_workers", "no_reuse"],
        [None, None],
    ),
    "bytes": (
        journey.byte_findings,
        (metrics(25.0 * MIB, 1602560.0), 200_000, 10_000),
        ["sent", "back"],
        [None, "1.53 MiB came back (8.0 bytes per prediction)."],
    ),
    "bytes_rounded_below_raw": (
        journey.byte_findings,
        (metrics(2.4 * MIB, 160256.0), 20_000, 10_000),
        ["sent_rounded", "back"],
        [None, None],
    ),
    "bytes_missing": (journey.byte_findings, (NO_METRICS, 20_000, 10_000), ["no_metrics"], [None]),
    "sockets_forked": (
        journey.socket_findings,
        (FORKED,),
        ["daemon_port", "py4j"],
        [
            "2 Python workers each hold one established socket to the JVM, all on local port "
            "39035: the daemon's listening port, inherited when it forked them; the JVM ends "
            "are ports 32834, 32850.",
            "This notebook's own process holds 3 py4j connections to the JVM: it drives the "
            "plan, but no row it scores ever passes through it.",
        ],
    ),
    "sockets_odd": (
        journey.socket_findings,
        (ODD,),
        ["other_ports", "py4j"],
        [
            "1 Python workers hold 2 established sockets, on local ports 39035, 50000 (the "
            "daemon listens on 39035); the other ends are ports 8080, 32834.",
            None,
        ],
    ),
    "sockets_no_workers": (
        journey.socket_findings,
        (NO_WORKERS,),
        ["no_workers", "py4j"],
        ["No Python worker holds an established socket now.", None],
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
    seen = {(fn, k) for fn, _, ks, _ in CASES.values() for k in ks}
    tables = {
        journey.operator_findings: journey.OPERATOR_FINDINGS,
        journey.layer_findings: journey.LAYER_FINDINGS,
        journey.process_findings: journey.PROCESS_FINDINGS,
        journey.byte_findings: journey.BYTE_FINDINGS,
        journey.change_findings: journey.CHANGE_FINDINGS,
        journey.socket_findings: journey.SOCKET_FINDINGS,
    }
    assert seen == {(fn, k) for fn, t in tables.items() for k in t}


def test_process_summary_reads_peaks_and_cpu_per_process():
    s = journey.process_summary(samples())
    assert list(s.columns) == ["peak_rss_mib", "cpu_s"]
    assert s.loc[("jvm", 1), "peak_rss_mib"] == 502.0 and s.loc[("jvm", 1), "cpu_s"] == 1.8
    assert s.loc[("python_worker", 11), "peak_rss_mib"] == 165.0
    assert len(s) == 4


def test_operator_findings_name_what_differs():
    wrong = journey.operator_findings(OPS_ALL_PYTHON_WRONG)[-1].values["mismatches"]
    assert "`map_in_arrow` planned MapInPandas" in wrong and "map_in_pandas" not in wrong
    renamed = journey.operator_findings(OPS_RENAMED)[-1].values["renamed"]
    assert "`PythonMapInArrow` for `MapInArrow` (map_in_arrow)" in renamed
    assert "`ArrowEvalPython` for `EvalPython` (default_udf)" in renamed
    assert "row_udf" not in renamed


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
    assert found.values["layer"] == "layer 1" and found.values["others"] == "*layer 0*"
    assert journey.change_findings(change([1.0, 0.5, 1.02]))[0].values["others"] == "none"
    assert found.values["after"] == 500.0


def test_layer_change_joins_two_runs():
    t = journey.layer_change(layers(), layers(back=40064.0))
    row = t.set_index("layer").loc["Python -> socket: predictions IPC"]
    assert row["before"] == 80128.0 and row["after"] == 40064.0 and row["ratio"] == 0.5


def test_no_workers_still_reports_the_jvm_peak():
    found = journey.process_findings(samples(workers=()), 4, False)[0]
    assert found.key == "no_workers" and found.values["jvm_mib"] == 502.0

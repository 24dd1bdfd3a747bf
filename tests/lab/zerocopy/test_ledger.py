"""helpers.lab.zerocopy.ledger: the findings of a copy ledger, on a hand-made ledger (pure)."""

from helpers.lab.zerocopy import ledger as zl


def _hops(path: str, queue: bool) -> list[zl.Hop]:
    rows = [("JVM rows -> Arrow vectors -> IPC bytes", 130_000, 0.002, True)]
    rows = ([(zl.ROW_QUEUE_HOP, 150_000, 0.001, True)] if queue else []) + rows
    rows += [
        ("Python IPC read", 128_000, 0.0005, True),
        ("model input matrix", 128_000, 0.0004, True),
        ("predict (LightGBM)", 0, 0.010, False),
    ]
    return [zl.Hop(path, hop, "python", b, s, c, "") for hop, b, s, c in rows]


def _ledger(sent=None) -> zl.Ledger:
    led = zl.Ledger(rows=1000, features=16, batches=2)
    led.hops = _hops("pandas_udf", True) + _hops("map_in_arrow", False)
    led.end_to_end = {"pandas_udf": 0.020, "map_in_arrow": 0.0125}
    led.wire = {"pandas_udf": {"sent": sent}, "map_in_arrow": {}}
    return led


def test_ledger_findings_compare_paths():
    got = zl.ledger_findings(_ledger(sent=131_000))
    assert [f.key for f in got] == ["copies"]
    v = got[0].values
    assert (v["least"], v["most"], v["data_mb"]) == ("map_in_arrow", "pandas_udf", 0.128)
    assert v["verdict"] == "its row queue alone 0.15 MB"
    assert v["most_x"] == (150_000 + 130_000 + 128_000 * 2) / 128_000
    assert v["least_x"] == (130_000 + 128_000 * 2) / 128_000


def test_ledger_findings_without_queue_and_when_paths_copy_the_same():
    led = _ledger(sent=131_000)
    led.hops = [h for h in led.hops if h.hop != zl.ROW_QUEUE_HOP]
    (same,) = zl.ledger_findings(led)
    assert same.values["verdict"] == "within 5%: about the same"
    led.hops = [h for h in led.hops if not (h.path == "map_in_arrow" and h.hop.startswith("model"))]
    (differ,) = zl.ledger_findings(led)
    assert differ.key == "copies" and differ.text().endswith("(no row queue).")


def _with_to_pandas(nbytes: int, worker_calls: str, rename_copies: bool) -> zl.Ledger:
    led = _ledger(sent=131_000)
    led.worker_calls, led.rename_copies = worker_calls, rename_copies
    led.hops.append(
        zl.Hop("pandas_udf", "Arrow -> pandas", "python", nbytes, 0.001, nbytes > 0, "CALL (f.py)")
    )
    return led


def test_ledger_findings_to_pandas_views():
    got = zl.ledger_findings(_with_to_pandas(0, "serializers", False))
    assert [f.key for f in got] == ["copies", "to_pandas"]
    assert got[1].text() == (
        "`pandas_udf`: the worker's Arrow -> pandas call (CALL (f.py)) copied 0.00 MB per batch, "
        "0% of its 16 double columns: the UDF gets views of Arrow's buffers."
    )


def test_ledger_findings_to_pandas_copies_and_why():
    got = zl.ledger_findings(_with_to_pandas(128_000, "conversion", True))
    assert [f.key for f in got] == ["copies", "to_pandas"]
    assert got[1].values["mb"] == 0.128 and got[1].values["share"] == 1.0
    assert "copied 0.13 MB per batch, 100% of its 16 double columns" in got[1].text()
    assert "`series.rename(name)`" in got[1].text()


def test_ledger_findings_to_pandas_copies_without_rename():
    for calls, rename in (("serializers", True), ("conversion", False)):
        got = zl.ledger_findings(_with_to_pandas(64_000, calls, rename))[1]
        assert got.values["verdict"] == ("a copy before the UDF saw a value")


def test_rename_copies_is_measured():
    import numpy as np
    import pandas as pd

    s = pd.Series(np.zeros(4))
    assert zl.rename_copies() == (not np.shares_memory(s.rename("x").to_numpy(), s.to_numpy()))

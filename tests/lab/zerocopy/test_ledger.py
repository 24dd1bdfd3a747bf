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


def test_ledger_findings_queue_then_each_path():
    got = zl.ledger_findings(_ledger(sent=131_000))
    assert [f.key for f in got] == ["row_queue", "path", "path_unmetered"]
    assert got[0].values == {"path": "pandas_udf", "mb": 0.15, "ms": 1.0}
    v = got[1].values
    assert (v["path"], v["copies"], v["slowest"]) == ("pandas_udf", 4, "predict (LightGBM)")
    assert v["copied_over_data"] == (150_000 + 130_000 + 128_000 * 2) / 128_000
    assert v["data_mb"] == 0.128 and v["slowest_ms"] == 10.0
    assert abs(v["sum_ms"] - 13.9) < 1e-9 and abs(v["gap_ms"] - 6.1) < 1e-9
    assert "gap +6.1 ms. Spark counted 0.13 MB sent per batch." in got[1].text()
    w = got[2].values
    assert w["path"] == "map_in_arrow" and w["copies"] == 3 and abs(w["gap_ms"] + 0.4) < 1e-9
    assert "gap -0.4 ms. Spark reported no bytes sent." in got[2].text()


def test_ledger_findings_without_queue():
    led = _ledger(sent=131_000)
    led.hops = [h for h in led.hops if h.hop != zl.ROW_QUEUE_HOP]
    assert [f.key for f in zl.ledger_findings(led)] == ["path", "path_unmetered"]

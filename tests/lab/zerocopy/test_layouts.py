"""helpers.lab.zerocopy.layouts: the layouts' findings, on hand-made tables (pure)."""

import pandas as pd

from helpers.lab.zerocopy import layouts


def _inproc() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "layout": layouts.STACK_LAYOUT,
                "rows": 2500,
                "seconds": 0.00025,
                "copied_bytes": 320_000,
            },
            {"layout": layouts.VIEW_LAYOUT, "rows": 2500, "seconds": 0.000004, "copied_bytes": 0},
        ]
    )


def _checks(shared=(True, True, False), contiguous=(True, True, True)) -> pd.DataFrame:
    return pd.DataFrame({"shared": list(shared), "c_contiguous": list(contiguous)})


def _runs(columns_rps: float, array_rps: float) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "layout": layouts.COLUMNS_RUN,
                "rows_per_s": columns_rps,
                "max_abs_diff": 0.0,
                "batch_rows": 10_000,
                "jvm_write_s_per_batch": 0.004,
            },
            {
                "layout": layouts.ARRAY_RUN,
                "rows_per_s": array_rps,
                "max_abs_diff": 2e-16,
                "batch_rows": 10_000,
                "jvm_write_s_per_batch": 0.0065,
            },
        ]
    )


def test_layout_findings_array_faster():
    got = layouts.layout_findings(_inproc(), _checks(), _runs(400_000, 500_000), n_features=16)
    keys = ["stacking", "workers", "end_to_end", "jvm_write", "array_faster"]
    assert [f.key for f in got] == keys
    assert got[0].text() == (
        "In-process, stacking 2,500 rows copied 320,000 bytes in 0.250 ms; the view copied 0 "
        "bytes in 4.0 µs."
    )
    assert got[1].values == {"shared": 2, "batches": 3, "c_contiguous": True}
    assert "400,000 rows/s with 16 columns vs 500,000 rows/s" in got[2].text()
    assert "within 2.0e-16" in got[2].text()
    assert "one 10,000-row batch took 4.0 ms for 16 columns and 6.5 ms" in got[3].text()


def test_layout_findings_array_slower():
    got = layouts.layout_findings(
        _inproc(), _checks(contiguous=(True, False, True)), _runs(500_000, 400_000)
    )
    assert got[-1].key == "array_slower"
    assert got[1].values["c_contiguous"] is False

"""helpers.lab.zerocopy.layouts: the layouts' findings, on hand-made tables (pure)."""

import pandas as pd
import pytest

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


def _runs(columns: tuple, array: tuple) -> pd.DataFrame:
    """(median, min, max) rows/s of each layout."""
    return pd.DataFrame(
        [
            {
                "layout": layouts.COLUMNS_RUN,
                "rows_per_s": columns[0],
                "rows_per_s_min": columns[1],
                "rows_per_s_max": columns[2],
                "max_abs_diff": 0.0,
                "batch_rows": 10_000,
                "jvm_write_s_per_batch": 0.004,
            },
            {
                "layout": layouts.ARRAY_RUN,
                "rows_per_s": array[0],
                "rows_per_s_min": array[1],
                "rows_per_s_max": array[2],
                "max_abs_diff": 2e-16,
                "batch_rows": 10_000,
                "jvm_write_s_per_batch": 0.0065,
            },
        ]
    )


def test_layout_findings_array_faster():
    runs = _runs((400_000, 390_000, 410_000), (500_000, 480_000, 520_000))
    got = layouts.layout_findings(_inproc(), _checks(), runs, n_features=16)
    assert [f.key for f in got] == ["view", "array"]
    assert got[0].text() == (
        "Stacking 2,500 rows copied 320,000 bytes in 0.250 ms, the view 0 in 4.0 µs; inside the "
        "workers 2 of 3 batches handed the model a view (C-contiguous: True)."
    )
    assert got[1].values["array_lo"] == 480_000 and got[1].values["columns_hi"] == 410_000
    assert got[1].values["verdict"] == layouts.ARRAY_VERDICTS["faster"]
    text = got[1].text()
    assert "the array layout is faster (wall time per row -0.50 µs with the array);" in text


@pytest.mark.parametrize(
    "array, key",
    [
        ((400_000, 380_000, 405_000), "slower"),
        ((430_000, 405_000, 450_000), "same"),  # overlaps 410_000..450_000: noise
    ],
)
def test_layout_findings_slower_or_inside_the_noise(array, key):
    runs = _runs(
        (500_000, 410_000, 520_000) if key == "slower" else (420_000, 410_000, 430_000), array
    )
    got = layouts.layout_findings(_inproc(), _checks(contiguous=(True, False, True)), runs)
    assert got[1].key == "array" and got[1].values["verdict"] == layouts.ARRAY_VERDICTS[key]
    assert got[0].values["c_contiguous"] is False

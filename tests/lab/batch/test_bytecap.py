"""The byte-cap section of notebook 04: every findings branch from made-up tables (pure)."""

from types import SimpleNamespace

import pandas as pd
import pytest

from helpers.core.config import LabError
from helpers.lab.batch import bytecap

MiB = 2**20


def _points():
    rows = []
    for state, peak, tput in (("off", 40 * MiB, 100.0), ("on", 6 * MiB, 90.0)):
        for b in (100, 10_000):
            rows.append(
                {"label": f"map_in_arrow (wide, cap {state})", "batch_size": b,
                 "peak_jvm_offheap_bytes": peak * b / 10_000, "throughput": tput}
            )  # fmt: skip
    return pd.DataFrame(rows)


def _report(first_failure):
    return SimpleNamespace(
        crashed=first_failure is not None, first_failure=first_failure,
        direct_limit_bytes=24 * MiB,
    )  # fmt: skip


def _crash(off, on):
    reports = (_report(off), _report(on))
    return bytecap.byte_cap_findings(_points(), "map_in_arrow", "2m", "4.3.0", *reports)[1]


def test_absent_is_one_computed_sentence():
    (f,) = bytecap.byte_cap_findings(None, "map_in_arrow", "2m", "3.5.9")
    assert f.key == "lever" and f.text() == (
        f"Spark 3.5.9's conf registry has no `{bytecap.BYTES_KEY}`: this section cannot measure a "
        "byte cap per Arrow batch here."
    )


def test_peak_and_crash_branches():
    f = bytecap.byte_cap_findings(_points(), "map_in_arrow", "2m", "4.3.0")
    assert [x.key for x in f] == ["peak"]
    assert f[0].values["on"] == pytest.approx(6.0) and f[0].values["off"] == pytest.approx(40.0)
    assert f[0].values["ratio"] == pytest.approx(0.9) and f[0].values["top"] == 10_000
    assert _crash(10_000, None).text() == (
        "The crash lab (direct memory 24 MiB) failed first at 10,000 rows per batch with Spark's "
        "default cap and ran every batch size with the cap on: the cap moved the boundary."
    )
    assert _crash(10_000, 100_000).values["moved"] == "the cap moved the boundary"
    assert _crash(10_000, 10_000).values["moved"] == "the cap did not move the boundary"
    assert _crash(None, None).values["moved"] == "no boundary to move"


def test_bad_cap_is_refused():
    with pytest.raises(LabError):
        bytecap.byte_cap_sweeps(None, ["map_in_arrow"], [100], 100, None, cap="lots")

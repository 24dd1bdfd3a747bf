"""py-spy mode: parsing its raw output (a fixture recorded from a real mapInPandas run on this kit),
frame normalisation, the native-library table, and one real profiled job."""

from pathlib import Path

import pytest

from helpers.core import env
from helpers.core.config import LabError
from helpers.measure.timing import OverheadResult
from helpers.profile import pyspy as pp
from helpers.profile.classify import categorize, classify_stack

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pyspy_map_in_pandas.raw"
# the path prefixes of the machine that recorded the fixture
ROOTS = [
    "/work/main/.venv/lib/python3.11/site-packages/",
    "/root/.pyenv/versions/3.11.7/lib/python3.11/",
    "/work/main/",
]


@pytest.fixture(scope="module")
def parsed():
    return pp.parse_py_spy_raw(FIXTURE.read_text(), rate=100, roots=ROOTS)


def test_normalize_frame():
    site = ROOTS[0]
    assert (
        pp.normalize_frame(f"Booster.predict ({site}lightgbm/basic.py:4767)", ROOTS)
        == "predict (lightgbm/basic.py)"
    )
    assert (
        pp.normalize_frame(
            "main.<locals>.process (/x/pyspark/python/lib/pyspark.zip/pyspark/worker.py:1239)",
            ROOTS,
        )
        == "process (pyspark/worker.py)"
    )
    assert (
        pp.normalize_frame("0x7fe552e4524a (/usr/lib/x86_64-linux-gnu/libc.so.6)", ROOTS)
        == "[unknown] (libc.so.6)"
    )
    native = f"LightGBM::GBDT::PredictRaw ({site}lightgbm/lib/lib_lightgbm.so)"
    assert (
        pp.normalize_frame(native, ROOTS)
        == "LightGBM::GBDT::PredictRaw (lightgbm/lib/lib_lightgbm.so)"
    )
    assert (
        pp.normalize_frame("_run_code (<frozen runpy>:88)", ROOTS) == "_run_code (<frozen runpy>)"
    )
    assert pp.is_native("write (libc.so.6)") and not pp.is_native("predict (lightgbm/basic.py)")


def test_parse_fixture(parsed):
    stacks, per_pid = parsed
    counts = [int(line.rsplit(" ", 1)[1]) for line in FIXTURE.read_text().splitlines()]
    assert sum(stacks.values()) == sum(counts) * 10_000  # 100 Hz: a sample is 10 ms = 10,000 us
    assert sum(per_pid.values()) == sum(counts) and set(per_pid) == {15431, 15433}
    assert not any(s.startswith("process ") for s in stacks)  # the daemon/worker frames are dropped
    top = max(stacks, key=stacks.get)
    assert "predict (lightgbm/basic.py)" in top.split(";") and top.endswith(
        "(lightgbm/lib/lib_lightgbm.so)"
    )
    assert all("(pyspark/worker.py)" in s for s in stacks if "(pyspark/daemon.py);worker" in s)


def test_native_frames_are_classified(parsed):
    stacks, _ = parsed
    by = {classify_stack(s) for s in stacks}
    assert {"prediction", "serialization", "conversion"} <= by
    ipc = [s for s in stacks if "arrow::ipc::" in s]
    assert ipc and all(classify_stack(s) == "serialization" for s in ipc)
    cats = categorize(stacks)
    assert cats["prediction"] == pytest.approx(0.65)  # 65 samples under LightGBM's predict


def test_library_table(parsed):
    stacks, _ = parsed
    t = pp.library_table(stacks)
    assert t.share.sum() == pytest.approx(1.0)
    assert t.iloc[0].library == "lightgbm/lib/lib_lightgbm.so" and t.iloc[0].native
    assert set(t.library) >= {"libc.so.6", "libpython3.11.so.1.0"}
    assert 0.9 < pp.native_share(stacks) <= 1.0


def test_bad_output_and_rate():
    with pytest.raises(LabError, match="line 1"):
        pp.parse_py_spy_raw("no count here\n")
    with pytest.raises(LabError):
        pp.parse_py_spy_raw("", rate=0)


def test_ptrace_check_says_why():
    check = env.ptrace_check()
    assert isinstance(check.allowed, bool) and check.reason


def test_no_worker_to_attach(spark, tmp_path):
    # synapseml runs in the JVM; on a line without SynapseML the path is not offered at all
    with pytest.raises(LabError, match="no Python worker|not offered"):
        pp.py_spy_profile(spark, "synapseml", 1000, tmp_path)


@pytest.mark.skipif(not env.py_spy_available()[0], reason=env.py_spy_available()[1])
def test_real_job_has_native_lightgbm_frames(spark, tmp_path):
    r = pp.py_spy_profile(spark, "map_in_pandas", 100_000, tmp_path, batch_size=5_000)
    assert r.samples > 0 and r.pids and r.native
    assert (tmp_path / "pyspy.raw").exists() and (tmp_path / "pyspy.collapsed").exists()
    libs = set(pp.library_table(r.stacks).library)
    assert "lightgbm/lib/lib_lightgbm.so" in libs
    assert categorize(r.stacks)["prediction"] > 0


def test_library_table_under_a_frame(parsed):
    stacks, _ = parsed
    t = pp.library_table(stacks, under="predict (lightgbm/basic.py)")
    assert (
        t.seconds.sum() == pytest.approx(0.65)
        and t.iloc[0].library == "lightgbm/lib/lib_lightgbm.so"
    )
    assert pp.library_table(stacks, under="no such frame").empty


# ---- findings ----------------------------------------------------------------------------------

W = "main (pyspark/worker.py)"
SPY_STACKS = {
    f"{W};predict (lightgbm/basic.py);LGBM_BoosterPredictForMat (lightgbm/lib/lib_lightgbm.so)": (
        60_000
    ),
    f"{W};predict (lightgbm/basic.py);_data_from_pandas (lightgbm/basic.py)": 20_000,
    f"{W};load_stream (pyspark/sql/pandas/serializers.py);"
    "arrow::ipc::ReadRecordBatch (pyarrow/libarrow.so.1500)": 10_000,
    f"{W};{W}": 10_000,
}


def test_pyspy_findings_every_branch():
    spy = pp.PySpyProfile("map_in_pandas", 1000, 100, 1.0, 100, True, 10, [1, 2], SPY_STACKS)
    cost = OverheadResult("map_in_pandas", 1000, [1.5, 1.6], [1.0, 1.1])
    fs = pp.pyspy_findings(spy, cost, sampler_ratio=1.02)
    assert [f.key for f in fs] == ["native", "cost"]
    assert fs[0].values["native_share"] == pytest.approx(0.7)
    assert fs[0].values["python_share"] == pytest.approx(0.3)
    assert fs[0].values["lightgbm_share"] == pytest.approx(0.75)
    assert "`predict`, 75% is LightGBM's C++" in fs[0].text()
    v = fs[1].values
    assert (v["ratio"], v["sampler_ratio"], v["noise"]) == pytest.approx((1.5, 1.02, 0.1))
    assert "**1.50**" in fs[1].text() and "1.020" in fs[1].text()
    assert v["verdict"] == pp.COST_VERDICT["more"] and "use it for one run" in fs[1].text()
    cheap = pp.pyspy_findings(spy, cost, sampler_ratio=1.7)[-1]
    assert "not more than the sampler" in cheap.text()
    noisy_sampler = OverheadResult("map_in_pandas", 1000, [1.0, 2.0], [1.0, 1.1])  # +-100%
    wide = pp.pyspy_findings(spy, cost, noisy_sampler)[-1]
    assert wide.values["verdict"] == pp.COST_VERDICT["noise"]
    assert wide.values["noise"] == pytest.approx(1.0)
    close = pp.pyspy_findings(spy, cost, sampler_ratio=1.45)[-1]
    assert "inside the noise" in close.text()
    assert pp.spread([1.0, 1.1]) == pytest.approx(0.1) and pp.spread([]) == 0.0
    (skipped,) = pp.pyspy_findings(None, None, 1.02, "ptrace_scope is 3")
    assert skipped.key == "skipped" and "(ptrace_scope is 3)" in skipped.text()

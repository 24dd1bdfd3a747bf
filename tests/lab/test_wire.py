"""Notebook 08's side-by-side runner: command lines (accepted by the kit's own CLI parser), the
child plumbing with a stand-in python (no Spark), JSON parsing, a missing line, and every branch
of the findings on synthetic records. Values only, never timings."""

import stat
import sys
from pathlib import Path

import pandas as pd
import pytest

from helpers import exercises
from helpers.cli.common import Parser
from helpers.cli.main import COMMANDS as CLI
from helpers.core.config import LabError
from helpers.core.lines import LINES, SINCE
from helpers.lab import wire
from helpers.viz import wire as wire_plots

CI = wire.SIZES["ci"]


def _cli_parser():
    parser = Parser(prog="python -m helpers")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, (_, add_args, _) in CLI.items():
        add_args(sub.add_parser(name))
    return parser


@pytest.mark.parametrize("command", wire.COMMANDS)
@pytest.mark.parametrize("scale", sorted(wire.SIZES))
def test_command_lines_are_accepted_by_the_cli(command, scale, tmp_path):
    argv = wire.command_line(command, wire.SIZES[scale], tmp_path / "x.json")
    assert argv[0] == command and argv[-2:] == ["--json", str(tmp_path / "x.json")]
    args = _cli_parser().parse_args(argv)
    assert args.command == command and args.json == str(tmp_path / "x.json")


def test_command_line_values():
    bench = wire.command_line("bench", CI, "b.json")
    assert bench[bench.index("--rows") + 1] == "10000"
    assert bench[bench.index("--scenarios") + 1] == "row_udf,default_udf,pandas_udf,map_in_arrow"
    sweep = wire.command_line("sweep", CI, "s.json")
    assert sweep[sweep.index("--batch-sizes") + 1] == "100,5000"
    task = wire.command_line("taskcost", CI, "t.json")
    assert task[task.index("--partitions") + 1] == "2,4"
    with pytest.raises(LabError, match="Unknown command 'tune'"):
        wire.command_line("tune", CI, "x.json")


def test_sizes_follow_the_scale(monkeypatch):
    monkeypatch.setenv("LAB_SCALE", "workshop")
    assert wire.wire_sizes() is wire.SIZES["workshop"]
    assert wire.wire_sizes("ci").bench_rows == 10_000
    assert "10,000 rows" in CI.describe() and "2 and 4 partitions" in CI.describe()


def test_setup_commands_and_pythons(tmp_path):
    assert wire.setup_command(LINES["3.5"]) == "make setup"
    assert wire.setup_command(LINES["4"]) == "make setup SPARK=4"
    assert wire.line_python(LINES["4"], tmp_path) == tmp_path / ".venv-spark4" / "bin" / "python"
    for v in ("3.12", "3.13"):  # per-Python venvs of `make ... PYTHON=python3.x`: the newest
        (tmp_path / f".venv-spark4-py{v}" / "bin").mkdir(parents=True)
        (tmp_path / f".venv-spark4-py{v}" / "bin" / "python").touch()
    assert wire.line_python(LINES["4"], tmp_path).parent.parent.name == ".venv-spark4-py3.13"


def test_error_line():
    assert wire.error_line("Traceback\nerror: use SPARK=4.\n", 2) == "use SPARK=4."
    assert wire.error_line("lots\nof\nlog: the end\n", 1) == "log: the end"
    assert wire.error_line("", 137) == "exit code 137."


def test_parse_run_branches():
    ok = wire.parse_run("bench", ["x"], 0, 1.5, "", '[{"name": "a"}]')
    assert ok.ok and ok.records == [{"name": "a"}] and ok.error is None
    failed = wire.parse_run("ledger", ["x"], 2, 1.0, "error: not on this line.", None)
    assert not failed.ok and failed.error == "not on this line."
    silent = wire.parse_run("sweep", ["x"], 0, 1.0, "", None)
    assert not silent.ok and "no JSON" in silent.error
    broken = wire.parse_run("sweep", ["x"], 0, 1.0, "", "{half")
    assert not broken.ok and "unreadable JSON" in broken.error


def test_child_env_drops_the_callers_spark():
    env = wire.child_env(
        {
            "PYSPARK_PYTHON": "/a",
            "SPARK_HOME": "/b",
            "PATH": "/bin",
            "PYTHONPATH": "/c",
            "LAB_SCALE": "ci",
        }
    )
    assert env["PATH"] == "/bin" and env["LAB_SCALE"] == "ci"
    assert not {"PYSPARK_PYTHON", "SPARK_HOME", "PYTHONPATH"} & set(env)


FAKE = """#!{python}
import json, sys
args = sys.argv[1:]
assert args[:2] == ["-m", "helpers"], args
command, path = args[2], args[args.index("--json") + 1]
if command == "ledger":
    print("error: the ledger is not here.", file=sys.stderr)
    sys.exit(2)
if command != "sweep":  # sweep exits 0 without writing JSON
    with open(path, "w") as fh:
        json.dump([{{"command": command}}], fh)
"""


def test_run_line_with_a_stand_in_python(tmp_path):
    python = wire.line_python(LINES["4"], tmp_path)
    python.parent.mkdir(parents=True)
    python.write_text(FAKE.format(python=sys.executable))
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    run = wire.run_line(LINES["4"], CI, out_dir=tmp_path / "out", root=tmp_path)
    assert not run.missing and list(run.runs) == list(wire.COMMANDS)
    assert run.records("bench") == [{"command": "bench"}]
    assert run.records("taskcost") == [{"command": "taskcost"}]
    assert (
        run.runs["ledger"].returncode == 2 and run.runs["ledger"].error == "the ledger is not here."
    )
    assert "no JSON" in run.runs["sweep"].error
    assert (tmp_path / "out" / "4" / "bench.json").exists()
    again = wire.run_line(LINES["4"], CI, commands=("bench",), root=tmp_path)
    assert again.records("bench") == [{"command": "bench"}]
    assert not Path(again.runs["bench"].argv[-1]).parent.exists()  # its temporary folder is gone


def test_missing_line_runs_nothing_and_says_which_make(tmp_path):
    run = wire.run_line(LINES["4"], CI, root=tmp_path)
    assert run.missing and run.runs == {}
    cmp = wire.WireComparison({"3.5": _line("3.5", "3.5.9"), "4": run}, CI)
    keys = [f.key for f in cmp.findings()]
    assert keys == ["missing"]
    text = cmp.findings()[0].text()
    assert "`make setup SPARK=4`" in text and "Spark 4.x" in text
    nothing = wire.WireComparison({"3.5": wire.LineRun("3.5", "/x", missing=True), "4": run}, CI)
    missing = [f.text() for f in nothing.findings()]
    assert len(missing) == 2 and "`make setup` builds it" in missing[0]
    assert [f.key for f in cmp.findings("bench")] == ["alone"]
    assert "Spark 3.5 alone" in cmp.findings("sweep")[0].text()
    assert "no line alone" in nothing.findings("ledger")[0].text()
    assert nothing.bench_table().empty and nothing.side_by_side().empty


# ---- synthetic records ---------------------------------------------------------------------


def _bench(version, ratios, limit=400_000.0, diff=0.0):
    recs = [
        {
            "name": "physical_limit",
            "rows": 20_000,
            "rows_per_s": limit,
            "ratio_to_limit": 1.0,
            "max_abs_diff": 0.0,
            "spark_version": None,
        }
    ]
    for name, r in ratios.items():
        recs.append(
            {
                "name": name,
                "rows": 20_000,
                "rows_per_s": r * limit,
                "ratio_to_limit": r,
                "max_abs_diff": diff,
                "spark_version": version,
            }
        )
    return recs


def _sweep(jvm_cpu, best):
    return [
        {
            "batch_size": b,
            "rows": 20_000,
            "throughput": 300_000.0 if b == best else 200_000.0,
            "jvm_cpu_s": jvm_cpu,
            "python_cpu_s": 0.1,
            "peak_jvm_offheap_bytes": 1e7,
            "batch_bytes": b * 136,
        }
        for b in CI.batch_sizes
    ]


def _taskcost(stock_ms, lean_ms=None, spread_s=0.0):
    recs = []
    for daemon, ms in (("stock", stock_ms), ("lean", lean_ms)):
        if ms is not None:
            recs += [
                {
                    "daemon": daemon,
                    "partitions": p,
                    "wall_s": 1.0 + p * ms / 1e3,
                    "wall_max_s": 1.0 + p * ms / 1e3 + spread_s,
                    "max_abs_diff": 0.0,
                }
                for p in CI.partitions
            ]
    return recs


def _ledger(hops):
    return [
        {"path": p, "hop": f"h{i}", "bytes": 1_000_000, "seconds": 0.001}
        for p in CI.ledger_paths
        for i in range(hops)
    ]


RATIOS_35 = {"row_udf": 0.10, "default_udf": 0.10, "pandas_udf": 0.70, "map_in_arrow": 0.80}
RATIOS_4 = {"row_udf": 0.10, "default_udf": 0.20, "pandas_udf": 0.72, "map_in_arrow": 0.82}


def _line(name, version, ratios=None, ledger=None, lean=None, ledger_error=None, diff=0.0):
    runs = {
        "bench": wire.CommandRun(
            "bench", [], 0, 1.0, _bench(version, ratios or RATIOS_35, diff=diff)
        ),
        "sweep": wire.CommandRun("sweep", [], 0, 1.0, _sweep(0.5 if name == "3.5" else 0.3, 5_000)),
        "taskcost": wire.CommandRun("taskcost", [], 0, 1.0, _taskcost(60.0, lean)),
    }
    runs["ledger"] = (
        wire.CommandRun("ledger", [], 0, 1.0, _ledger(ledger))
        if ledger
        else wire.CommandRun("ledger", [], 2, 1.0, None, ledger_error or "not here.")
    )
    return wire.LineRun(name, f"/{name}/python", runs)


def _both(v35="3.5.9", v4="4.3.0", **kw4):
    a = _line("3.5", v35, RATIOS_35, ledger=5, lean=50.0)
    b = _line("4", v4, RATIOS_4, **kw4)
    return wire.WireComparison({"3.5": a, "4": b}, CI)


def test_findings_3_5_vs_4_3():
    cmp = _both()
    found = {f.key: f.text() for f in cmp.findings()}
    assert list(found) == [
        "versions",
        "limit",
        "parity",
        "moved",
        "default_udf_arrow",
        "runner",
        "sweep_cpu",
        "bytes_cap",
        "taskcost_lean",
        "ledger_one",
    ]
    assert "Spark 3.5.9 and Spark 4.3.0" in found["versions"]
    assert SINCE["arrow_udf_by_default"][1] in found["default_udf_arrow"]
    assert "ran at 2.00x the explicit pickled `row_udf`" in found["default_udf_arrow"]
    assert "The Arrow default gained 100%, more than the 0%" in found["default_udf_arrow"]

    assert (
        SINCE["single_threaded_runner"][1] in found["runner"]
        and "`map_in_arrow`" in found["runner"]
    )
    assert "25.00 s of CPU per million rows on Spark 3.5 and 15.00 s" in found["sweep_cpu"]
    assert (
        "0.68 MB of input values, under the cap" in found["bytes_cap"]
        and SINCE["arrow_max_bytes_per_batch"][1] in found["bytes_cap"]
    )
    assert "Every path on both lines agreed with" in found["parity"]
    moved = next(f for f in cmp.findings("bench") if f.key == "moved")
    assert moved.values["path"] == "default_udf" and moved.values["change"] == pytest.approx(1.0)
    assert found["moved"].endswith("beyond ±15%.")
    assert "60 ms" in found["taskcost_lean"] and "50 ms" in found["taskcost_lean"]
    assert "50 ms, more than the noise" in found["taskcost_lean"]
    assert SINCE["conditional_invalidate_caches"][1] in found["taskcost_lean"]
    assert "5 hops writing 5.00 MB" in found["ledger_one"] and found["ledger_one"].endswith(
        "not here."
    )


def test_findings_other_branches():
    same = _both(v35="4.2.0", v4="4.3.0", ledger=6, lean=40.0)
    found = {f.key: f.text() for f in same.findings()}
    assert "default_udf_same" in found and "runner" not in found
    assert not {"bytes_cap_rows", "bytes_cap_binds"} & set(found)
    assert "taskcost" in found and "taskcost_lean" not in found
    assert "ledger_one" not in found  # the five common hops wrote the same bytes:
    assert "between Spark 3.5 and Spark 4.x are none;" in found["ledger"]


@pytest.mark.parametrize(
    "lean, spread_s, verdict",
    [(50.0, 0.0, "faster"), (70.0, 0.0, "slower"), (50.0, 0.5, "noise")],
)  # fmt: skip
def test_lean_daemon_verdict_against_the_noise_band(lean, spread_s, verdict):
    cmp = _both()
    cmp.runs["3.5"].runs["taskcost"] = wire.CommandRun(
        "taskcost", [], 0, 1.0, _taskcost(60.0, lean, spread_s)
    )
    (f,) = cmp.findings("taskcost")
    p = CI.partitions
    band = 2 * 2 * spread_s * 1e3 / (max(p) - min(p))  # both daemons, both ends, per partition
    assert f.key == "taskcost_lean" and f.values["noise"] == pytest.approx(band)
    assert f.values["verdict"] == wire.LEAN_VERDICTS[verdict]
    assert f"{lean:.0f} ms" in f.text() and "±" in f.text()


def test_ledger_hop_that_differs_between_lines():
    recs = _ledger(5)
    recs[1] = dict(recs[1], bytes=0)  # 4.x: pandas_udf's hop h1 hands views, 3.5 copies 1 MB
    recs[2] = dict(recs[2], bytes=999_500)  # a difference below the noise floor
    cmp = _both(ledger=5)
    cmp.runs["4"].runs["ledger"] = wire.CommandRun("ledger", [], 0, 1.0, recs)
    (found,) = cmp.findings("ledger")
    assert found.key == "ledger"
    assert found.values["hops"] == "`pandas_udf` *h1* (1.00 vs 0.00 MB per batch)"


def test_parity_broken_and_failed_commands():
    cmp = _both(diff=1e-3)
    cmp.runs["4"].runs["sweep"] = wire.CommandRun("sweep", [], 2, 1.0, None, "bad size.")
    found = {f.key: f.text() for f in cmp.findings()}
    broken = [f.values["who"] for f in cmp.findings("bench") if f.key == "parity"]
    assert broken == [f"`{p}` on Spark 4.x" for p in RATIOS_4]
    assert "did NOT agree with the in-process reference: largest |difference| 0.001" in (
        found["parity"]
    )
    assert "agreed with" not in " ".join(f.text() for f in cmp.findings("bench"))
    assert cmp.errors().error.tolist() == ["bad size.", "not here."]  # runs_table shows them
    assert "sweep_cpu" not in found and cmp.findings("overview")[-1].key == "versions"


def test_tables():
    cmp = _both()
    wide = cmp.side_by_side()
    assert list(wide.columns) == ["Spark 3.5", "Spark 4.x"] and wide.index[0] == "physical_limit"
    assert wide.loc["default_udf", "Spark 4.x"] == 0.20
    task = cmp.taskcost_table()
    assert sorted(zip(task.line, task.daemon)) == [
        ("Spark 3.5", "lean"),
        ("Spark 3.5", "stock"),
        ("Spark 4.x", "stock"),
    ]
    assert task.per_task_wall_ms.round(6).tolist() == [60.0, 50.0, 60.0]
    led = cmp.ledger_table()
    assert led.line.unique().tolist() == ["Spark 3.5"] and led.hops.tolist() == [5, 5]
    assert cmp.errors().command.tolist() == ["ledger"]
    assert cmp.runs["4"].spark_version == "4.3.0"


def test_exercise_checkers():
    cmp = _both()
    right = {"Spark 3.5": 7.0, "Spark 4.x": 7.2}
    assert exercises.check_line_speedup(right, cmp).startswith("Correct")
    assert "Spark 4.x" in exercises.check_line_speedup({"Spark 3.5": 7.0}, cmp)
    assert exercises.check_line_speedup(None, cmp).startswith("Not quite")
    best = {"Spark 3.5": 5_000, "Spark 4.x": 5_000}
    assert exercises.check_best_batch(best, cmp).startswith("Correct")
    assert exercises.check_best_batch({"Spark 3.5": 100}, cmp).startswith("Not quite")
    empty = wire.WireComparison({}, CI)
    assert exercises.check_best_batch({}, empty).startswith("Nothing")
    assert exercises.check_line_speedup({}, empty).startswith("Nothing")


def test_charts():
    cmp = _both()
    assert len(wire_plots.ratio_bars(cmp.side_by_side()).axes[0].patches) == 8
    assert len(wire_plots.sweep_lines(cmp.sweep_table()).axes[1].lines) == 4


def test_sections_partition_the_findings():
    cmp = _both()
    keys = [f.key for f in cmp.findings()]
    by_section = [f.key for name in wire.SECTIONS for f in cmp.findings(name)]
    assert sorted(keys) == sorted(by_section)
    assert [f.key for f in cmp.findings("taskcost")] == ["taskcost_lean"]
    assert set(wire.WIRE_FINDINGS) == {k for keys in wire.SECTIONS.values() for k in keys} | {
        "alone"
    }
    assert [f.key for f in cmp.findings("overview")] == ["versions"]
    with pytest.raises(LabError, match="Unknown section"):
        cmp.findings("nope")
    runs = cmp.runs_table()
    assert len(runs) == 8 and runs.ok.sum() == 7
    assert runs[~runs.ok].error.tolist() == ["not here."]


def test_which_path_moved_and_whether_the_cap_bound():
    cmp = _both()
    for r in cmp.runs["4"].runs["bench"].records:  # every path within 5% of its 3.5 ratio
        if r["name"] in RATIOS_35:
            r["ratio_to_limit"] = RATIOS_35[r["name"]] * 1.05
    (moved,) = [f for f in cmp.findings("bench") if f.key == "moved"]
    assert "within ±15%, one run's noise" in moved.values["verdict"]
    cmp = _both()
    for r in cmp.runs["4"].runs["sweep"].records:  # a batch over the 64 MiB cap (full scale)
        r["batch_bytes"] = 128_000_000
    (cap,) = [f for f in cmp.findings("sweep") if f.key == "bytes_cap"]
    assert cap.values["cap_mib"] == 64
    assert "over the cap, so there Spark 4.x cut smaller batches than Spark 3.5" in cap.text()


def test_a_ratio_above_the_limit_is_flagged():
    cmp = _both()
    recs = cmp.runs["4"].runs["bench"].records
    for r in recs:
        if r["name"] in ("pandas_udf", "map_in_arrow"):
            r["ratio_to_limit"] += 0.5
    flagged = [f for f in cmp.findings("bench") if f.key == "above_limit"]
    assert len(flagged) == 1 and "`map_in_arrow` ran at 1.32x" in flagged[0].text()
    assert "Spark 4.x" in flagged[0].text()
    assert not [f for f in _both().findings() if f.key == "above_limit"]


def _job_table(ratio_35=1.0, ratio_4=1.3, defined_35=False, diff=0.0):
    def rec(line, version, variant, rps, defined):
        return {"line": line, "variant": variant, "spark_version": version, "rows": 1000,
                "rows_per_s": rps, "max_abs_diff": diff, "defined": {"k": defined},
                "seen": {"k": "v"}, "error": None}  # fmt: skip

    return pd.DataFrame(
        [
            rec("Spark 3.5", "3.5.9", "without", 100.0, defined_35),
            rec("Spark 3.5", "3.5.9", "with", 100.0 * ratio_35, defined_35),
            rec("Spark 4.x", "4.3.0", "without", 100.0, True),
            rec("Spark 4.x", "4.3.0", "with", 100.0 * ratio_4, True),
        ]
    )


def test_job_findings_per_line():
    found = wire.job_findings(_job_table(), {"k": "v"})
    assert [f.key for f in found] == ["job_change", "job_change", "job_parity"]
    assert found[0].values["verdict"] == "noise, as Spark 3.5.9 defines no `k` for it to read"
    assert found[1].values["ratio"] == pytest.approx(1.3)
    assert found[1].values["verdict"] == "beyond ±15%, a change"
    assert found[2].values["verdict"] == "agree with"
    found = wire.job_findings(_job_table(defined_35=True, ratio_4=1.05, diff=1e-3), {"k": "v"})
    noise = "inside ±15%, one run's noise, not a change"
    assert [f.values["verdict"] for f in found[:2]] == [noise, noise]
    assert found[2].values["verdict"] == "DIFFER from"
    failed = pd.DataFrame([{"line": "Spark 4.x", "error": "not set up (make setup SPARK=4.3)"}])
    (f,) = wire.job_findings(failed, {"k": "v"})
    assert f.key == "job_failed" and "make setup" in f.text()


def test_job_source_reads_the_learners_function():
    def my_job(df, model):
        return df

    assert wire.job_source(my_job).startswith("def my_job(df, model):")
    with pytest.raises(LabError):
        wire.job_source(42)
    with pytest.raises(LabError):
        wire.job_on_lines(my_job, {}, rows=10)


def test_compare_lines_reports_one_step_per_command_per_line(monkeypatch):
    from helpers.lab import wire

    monkeypatch.setattr(wire, "line_python", lambda line, root=None: Path(sys.executable))
    monkeypatch.setattr(wire, "_run_command", lambda python, command, *a: command)
    events = []
    cmp = wire.compare_lines(commands=("bench", "sweep"), progress=events.append)
    steps = [e.label for e in events if not e.finished]
    assert steps == [f"{line.label}: {c}" for line in LINES.values() for c in ("bench", "sweep")]
    assert events[-1].finished and events[-1].total == 2 * len(LINES)
    assert all(run.runs == {"bench": "bench", "sweep": "sweep"} for run in cmp.runs.values())


def test_default_udf_verdict_against_the_same_path_noise():
    v = wire._default_udf_verdict
    assert v(0.94, 1.06).startswith("The Arrow default gained 13%")  # 13% > 6%
    assert v(0.90, 0.95).startswith("The difference (+6%) is within the 10%")
    assert v(1.0, 0.8).startswith("It lost 20%")

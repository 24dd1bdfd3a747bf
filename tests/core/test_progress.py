"""The progress abstraction: counting, nesting, the default sink, and the long lab functions that
report through it (with their measurements replaced by fakes: no Spark)."""

import numpy as np
import pytest

from helpers.core import progress as pg
from helpers.lab.batch import sweep as sw
from helpers.lab.batch import tuner as tn
from helpers.measure import timing


@pytest.fixture(autouse=True)
def no_default_sink():
    pg.set_default_sink(None)
    yield
    pg.set_default_sink(None)


def run(progress, labels, title="work", total=None, at_most=False):
    p = pg.as_progress(progress)
    with p.task(title, total if total is not None else len(labels), at_most):
        for label in labels:
            p.step(label)
    return p


def test_counts_each_point_and_what_remains():
    events = []
    run(events.append, ["a", "b", "c"])
    assert [(e.running, e.total, e.label, e.remaining) for e in events[:-1]] == [
        (1, 3, "a", 2),
        (2, 3, "b", 1),
        (3, 3, "c", 0),
    ]
    end = events[-1]
    assert end.finished and end.running == 3 and end.remaining == 0 and end.title == "work"
    assert events[1].line().startswith("work: 2/3 b (1 remain, ")
    assert end.line().startswith("work: done, 3 points in ")


def test_upper_bound_and_unknown_total():
    events = []
    run(events.append, ["x"], total=5, at_most=True)
    assert events[0].line().startswith("work: 1/<=5 x (<=4 remain, ")
    events.clear()
    p = pg.as_progress(events.append)
    with p.task("open", None):
        p.step("y")
    assert events[0].remaining is None and events[0].line().startswith("open: 1 y (")


def test_a_nested_task_joins_the_outer_count():
    events = []
    p = pg.as_progress(events.append)
    with p.task("outer", 4):
        for part in ("p", "q"):
            run(p, [f"{part}1", f"{part}2"], title="inner")
    assert [e.running for e in events] == [1, 2, 3, 4, 4]
    assert {e.title for e in events} == {"outer"} and {e.total for e in events} == {4}
    assert [e.finished for e in events] == [False] * 4 + [True]


def test_steps_outside_a_task_and_errors_inside_one():
    events = []
    p = pg.as_progress(events.append)
    p.step("ignored")
    assert events == []
    with pytest.raises(ValueError):
        with p.task("fails", 2):
            p.step("one")
            raise ValueError("boom")
    assert events[-1].finished and events[-1].running == 1
    run(p, ["again"])  # the Progress is usable again after the error
    assert events[-1].finished and events[-1].title == "work"


def test_default_sink_is_silent_until_registered():
    run(None, ["a"])  # nothing registered: nothing to see, no error
    made, events = [], []

    def factory():
        made.append(1)
        return events.append

    pg.set_default_sink(factory)
    run(None, ["a", "b"])
    run(None, ["c"])
    assert len(made) == 2 and [e.running for e in events] == [1, 2, 2, 1, 1]
    events.clear()
    run(pg.quiet, ["d"])  # an explicit sink wins over the default
    assert events == []


def fake_point(calls):
    def measure_point(spark, work, batch, interval=0.1):
        calls.append(batch)
        fields = {f: 0 for f in sw.SweepPoint.__dataclass_fields__}
        fields.update(
            label=work.label,
            batch_size=batch,
            throughput=float(min(batch, 1000)),
            peak_jvm_offheap_bytes=batch * 100,
        )
        return sw.SweepPoint(**fields)

    return measure_point


WORK = sw.Workload("fake", lambda: None, rows=100_000, partitions=2, one_row_bytes=136)


def test_sweep_reports_warm_up_and_points_without_changing_the_table(monkeypatch):
    calls = []
    monkeypatch.setattr(sw, "measure_point", fake_point(calls))
    monkeypatch.setattr(sw, "warm", lambda *a, **k: 0.0)
    events = []
    with_bar = sw.sweep(None, WORK, [1000, 10, 100], repeats=2, progress=events.append)
    without = sw.sweep(None, WORK, [1000, 10, 100], repeats=2)
    assert with_bar.equals(without) and list(with_bar.batch_size) == [10, 10, 100, 100, 1000, 1000]
    assert [e.label for e in events[:2]] == ["fake: warm-up", "fake: batch 10"]
    assert events[-1].finished and events[-1].running == 7 == events[0].total


def test_tuner_reports_each_trial_within_its_upper_bound(monkeypatch):
    calls = []
    monkeypatch.setattr(tn, "measure_point", fake_point(calls))
    monkeypatch.setattr(tn, "warm", lambda *a, **k: 0.0)
    events = []
    rec = tn.tune(None, WORK, 64 * 2**20, progress=events.append)
    steps = [e for e in events if not e.finished]
    assert len(steps) == len(calls) + 1  # every evaluation and the warm-up
    assert all(e.at_most and e.running <= e.total for e in steps)
    assert events[-1].finished and rec.batch_size == tn.tune(None, WORK, 64 * 2**20).batch_size


def test_bench_reports_the_limit_then_each_scenario(monkeypatch):
    class FakeRunner:  # the limit's processes, without processes: every round takes 1 s
        def __init__(self, rows):
            self.rounds, self.predictions = [], np.zeros(rows)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def round(self):  # 1 s, 2 s, 3 s, ...
            self.rounds.append((float(len(self.rounds) + 1), 1.0))

        def result(self, rounds=None):
            rounds = self.rounds if rounds is None else rounds
            wall = sorted(r[0] for r in rounds)[(len(rounds) - 1) // 2]
            walls = tuple(r[0] for r in rounds)
            return timing.LimitResult(10, 1, wall, 10 / wall, self.predictions, 1.0, walls)

    def fake_run(spark, name, rows, *a, between=None, **kw):
        for _ in range(3 if name == "pandas_udf" else 1):  # a limit round before each timed run
            between()
        return timing.BenchRecord(name, rows, None, 2.0, 5.0, None, None, "x")

    monkeypatch.setattr(timing, "LimitRunner", FakeRunner)
    monkeypatch.setattr(timing, "run_scenario", fake_run)
    monkeypatch.setattr(timing, "collect_predictions", lambda spark, name, rows: np.zeros(rows))
    events = []
    got_limit, records = timing.bench(None, 10, ["pandas_udf", "row_udf"], progress=events.append)
    assert got_limit.walls == (1.0, 2.0, 3.0, 4.0) and got_limit.wall_s == 2.0
    assert [r.name for r in records] == ["pandas_udf", "row_udf"]
    # three rounds of its own: their median (2 s); one round (4 s): the median of all rounds (2 s)
    assert [(r.ratio_to_limit, r.limit_wall_s, r.max_abs_diff) for r in records] == [
        (1.0, 2.0, 0.0),
        (1.0, 2.0, 0.0),
    ]
    assert [e.label for e in events] == ["physical limit", "pandas_udf", "row_udf", ""]
    assert events[0].total == 3 and events[-1].finished

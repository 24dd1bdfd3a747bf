"""Spark's REST answers about tasks and executor memory (`measure.executor_metrics`), parsed from
answers recorded on the 2-worker standalone cluster (Spark 3.5.9, tests/fixtures/rest). Pure."""

import json
from pathlib import Path

import pandas as pd
import pytest

from helpers.core.config import LabError
from helpers.measure import executor_metrics

REST = Path(__file__).resolve().parents[1] / "fixtures" / "rest"


def _load(name):
    return json.loads((REST / f"{name}.json").read_text())


def test_job_group_stages_and_the_latest_job_only():
    jobs = _load("jobs")
    assert executor_metrics.group_stages(jobs, "lab-profiled-job") == [(6, 0), (7, 0)]
    assert executor_metrics.group_stages(jobs, "no-such-group") == []
    many = [
        {"jobId": 1, "jobGroup": "g", "stageIds": [1, 2]},
        {"jobId": 3, "jobGroup": "g", "stageIds": [5]},
        {"jobId": 2, "jobGroup": "h", "stageIds": [4]},
    ]
    assert executor_metrics.group_stages(many, "g") == [(1, 0), (2, 0), (5, 0)]
    assert executor_metrics.group_stages(many, "g", last=True) == [(5, 0)]


def test_task_list_in_seconds_per_executor():
    tasks = executor_metrics.task_table(_load("taskList"), 7)
    assert list(tasks.columns) == executor_metrics.TASK_COLUMNS
    assert len(tasks) == 2 and set(tasks.executor) == {"0", "1"}
    raw = {t["taskId"]: t for t in _load("taskList")}
    for row in tasks.itertuples():
        assert row.duration_s == pytest.approx(raw[row.task]["duration"] / 1e3)
        assert row.cpu_s == pytest.approx(raw[row.task]["taskMetrics"]["executorCpuTime"] / 1e9)
        assert row.run_s <= row.duration_s
    assert tasks.launch_s.between(1.7e9, 2.0e9).all()  # epoch seconds, 2023..2033
    per = executor_metrics.per_executor(tasks)
    assert per.tasks.sum() == 2 and per.task_s.sum() == pytest.approx(tasks.duration_s.sum())


def test_rest_time_is_utc_epoch_seconds():
    assert executor_metrics.rest_time("1970-01-01T00:00:01.500GMT") == 1.5
    assert executor_metrics.rest_time(None) is None


def test_stragglers_against_the_stage_median():
    tasks = pd.DataFrame(
        {"stage": [1, 1, 1, 1, 2, 2], "duration_s": [1.0, 1.1, 0.9, 3.0, 1.0, 5.0]}
    )
    out = executor_metrics.stragglers(tasks)
    assert out.straggler.tolist() == [False, False, False, True, False, False]  # stage 2: 2 tasks
    assert out.vs_median.iloc[3] == pytest.approx(3.0 / 1.05)


def test_executor_peaks_from_executors_and_stage_answers():
    life = executor_metrics.memory_peaks(_load("executors"))
    assert set(life.metric) == set(executor_metrics.MEMORY_METRICS)
    assert {"0", "1"} <= set(life.executor)
    stage = executor_metrics.stage_memory_peaks(_load("stage"))
    assert set(stage.executor) == {"0", "1"}
    raw = _load("stage")["executorSummary"]
    for row in stage.itertuples():
        assert row.bytes == raw[row.executor]["peakMemoryMetrics"][row.metric]
    py = stage[stage.metric == "ProcessTreePythonRSSMemory"]
    assert (py.bytes > 50 * 2**20).all()  # the executors' pyspark.daemon + worker were seen
    wide = executor_metrics.wide_peaks(stage)
    assert list(wide.executor) == ["0", "1"]
    assert wide["JVMHeapMemory"].iloc[0] == pytest.approx(
        raw["0"]["peakMemoryMetrics"]["JVMHeapMemory"] / 2**20
    )


def test_executors_without_peaks_are_left_out():
    assert executor_metrics.memory_peaks([{"id": "driver"}]).empty
    assert executor_metrics.stage_memory_peaks({}).empty
    assert executor_metrics.wide_peaks(executor_metrics.memory_peaks([])).empty


def _event_log():
    """A few events of a real log's shapes (Spark 3.5.9 / 4.3.0 write the same keys)."""
    metrics = {"ProcessTreePythonRSSMemory": 0, "JVMHeapMemory": 0}
    events = [
        {"Event": "SparkListenerLogStart", "Spark Version": "3.5.9"},
        {"Event": "SparkListenerJobStart", "Job ID": 0, "Stage IDs": [0], "Properties": {}},
        {
            "Event": "SparkListenerJobStart",
            "Job ID": 1,
            "Stage IDs": [5, 6],
            "Properties": {"spark.jobGroup.id": "lab-memory-job"},
        },
    ]
    for stage, eid, py, heap in [
        (0, "0", 900, 1),  # another job's stage: out of the group
        (5, "0", 200, 10),
        (6, "0", 300, 5),
        (5, "1", 250, 7),
        (6, "driver", 0, 99),
    ]:
        m = {**metrics, "ProcessTreePythonRSSMemory": py, "JVMHeapMemory": heap}
        events.append(
            {
                "Event": "SparkListenerStageExecutorMetrics",
                "Executor ID": eid,
                "Stage ID": stage,
                "Stage Attempt ID": 0,
                "Executor Metrics": m,
            }
        )
    return "".join(json.dumps(e) + "\n" for e in events)


def test_event_log_peaks_plain_zstd_and_rolling(tmp_path):
    import pyarrow as pa

    plain = tmp_path / "app-1"
    plain.write_text(_event_log())
    t = executor_metrics.event_log_peaks(plain, "lab-memory-job")
    got = {(r.executor, r.metric): r.bytes for r in t.itertuples()}
    assert got[("0", "ProcessTreePythonRSSMemory")] == 300 and got[("0", "JVMHeapMemory")] == 10
    assert (
        got[("1", "ProcessTreePythonRSSMemory")] == 250 and got[("driver", "JVMHeapMemory")] == 99
    )
    assert executor_metrics.event_log_peaks(plain).bytes.max() == 900  # no group: every stage
    assert executor_metrics.event_log_peaks(plain, "nope").empty
    rolling = tmp_path / "eventlog_v2_app-2"
    rolling.mkdir()
    text = _event_log().splitlines(keepends=True)
    (rolling / "events_2_app-2").write_text("".join(text[4:]))
    with pa.CompressedOutputStream(str(rolling / "events_1_app-2.zstd"), "zstd") as out:
        out.write("".join(text[:4]).encode())
    (rolling / "appstatus_app-2").write_text("")
    assert executor_metrics.event_log_peaks(rolling, "lab-memory-job").equals(t)
    assert list(executor_metrics.event_log_events(rolling))[0]["Event"] == "SparkListenerLogStart"


def test_event_log_errors_name_the_fix(tmp_path):
    with pytest.raises(LabError, match="No event log"):
        list(executor_metrics.event_log_events(tmp_path / "none"))
    with pytest.raises(LabError, match="no event log parts"):
        list(executor_metrics.event_log_events(tmp_path))
    (tmp_path / "app.lz4").write_bytes(b"x")
    with pytest.raises(LabError, match="compression.codec=zstd"):
        list(executor_metrics.event_log_events(tmp_path / "app.lz4"))

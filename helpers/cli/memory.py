"""`python -m helpers memory`: layer timelines and memray peaks of one scenario, in a folder."""

from __future__ import annotations

from pathlib import Path

from helpers.core.session import start_session, stop_session
from helpers.core.validate import require_positive
from helpers.paths.scenarios import get_scenario
from helpers.profile.memory import memory_run, write_run


def run_memory_command(
    scenario: str,
    rows: int,
    batch_size: int | None,
    out_dir,
    partitions: int | None = None,
    interval: float = 0.05,
) -> dict:
    """The `memory` CLI command: a memray-profiled session, one run of `scenario`, the files of
    `write_run` in `out_dir`; the session and all its processes are stopped at the end."""

    get_scenario(scenario)
    require_positive("rows", rows)
    out = Path(out_dir)
    worker_dir = out / "worker-tmp"
    spark = start_session("memory-cli", profile="memray", profile_dir=worker_dir)
    try:
        run = memory_run(
            spark,
            scenario,
            rows,
            worker_dir,
            out / "captures",
            batch_size=batch_size,
            partitions=partitions,
            interval=interval,
        )
        return write_run(run, out)
    finally:
        stop_session()

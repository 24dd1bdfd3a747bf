"""Writes the class-data archive the test JVMs start from (`make test-run`, Makefile TEST_JVM).

usage: python .ci/jvm_archive.py ARCHIVE      (the line's venv python; called by the Makefile)

A Spark JVM spends about half of its start-up CPU loading and verifying the same few thousand
classes from the jars. The JDK's AppCDS keeps them, parsed, in one file that every later JVM
maps: this script starts one local session whose driver JVM writes the archive when it exits
(-XX:ArchiveClassesAtExit), after a small inference job through each kind of Python path, so the
classes of the Arrow and pickle runners are in it. Test JVMs then start with
-XX:SharedArchiveFile (measured on this machine: a session start and first job 5.9-6.7 s of CPU
without, 3.0-3.4 s with). A JVM whose class path does not match the archive's (a tool such as
`jcmd`, Spark's launcher) ignores it and starts as usual; so does every JVM when the file is
missing or was written by another JDK. Only `make test` uses it: `make lab` and the CLI keep
the stock JVM, and no timing a notebook shows in a workshop depends on it.
"""

import sys
from pathlib import Path


def main(archive: str) -> int:
    from helpers.core.session import start_session, stop_session
    from helpers.inference.scenarios import scenario_frame

    target = Path(archive).resolve()
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    spark = start_session(
        "jvm-archive", synapseml=False, java_options=(f"-XX:ArchiveClassesAtExit={tmp}",)
    )
    try:
        for name in ("row_udf", "pandas_udf", "map_in_pandas", "map_in_arrow"):
            scenario_frame(spark, name, rows=2_000).toPandas()
    finally:
        # the driver JVM writes the archive as it exits: 10-20 s on two busy cores, longer than
        # a JVM usually gets to exit
        stop_session(timeout=600)
    if not tmp.exists():
        print(f"jvm_archive: the driver JVM wrote no {tmp.name}; tests start without it.",
              file=sys.stderr)  # fmt: skip
        return 0
    tmp.replace(target)  # whole or not at all: a JVM never maps a half-written archive
    print(f"jvm_archive: {target} ({target.stat().st_size / 2**20:.0f} MiB)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python .ci/jvm_archive.py ARCHIVE", file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(main(sys.argv[1]))
    except Exception as exc:  # the tests run without the archive, only slower
        print(f"jvm_archive: no archive ({type(exc).__name__}: {exc}); tests start without it.",
              file=sys.stderr)  # fmt: skip
        sys.exit(0)

"""Per-file time table from a pytest JUnit XML (`make test` writes one per venv into runs/).

usage: python .ci/durations.py runs/junit-spark4.xml > runs/durations-spark4.txt
Each test's time (setup + call + teardown) is summed per file, slowest file first.
"""

import sys
import xml.etree.ElementTree as ET
from collections import defaultdict


def main(path: str) -> int:
    per_file: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("file") or case.get("classname", "?")
        per_file[name] += float(case.get("time") or 0)
        count[name] += 1
    total = sum(per_file.values())
    print(f"{'seconds':>8}  {'share':>5}  {'tests':>5}  file")
    for name, secs in sorted(per_file.items(), key=lambda kv: -kv[1]):
        print(f"{secs:8.1f}  {secs / total:5.1%}  {count[name]:5d}  {name}")
    print(f"{total:8.1f}  100.0%  {sum(count.values()):5d}  total")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

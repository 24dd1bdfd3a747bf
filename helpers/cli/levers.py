"""`python -m helpers columnar-bench`: the physical limit, then Arrow UDF paths over the sources of
notebook 10 §3 with columnar input on and off, each as a ratio to the limit (notebook 10)."""

from __future__ import annotations

import pandas as pd

from helpers.cli.common import scenario_names, write_json
from helpers.core.config import LabError, scale_rows
from helpers.core.session import start_session, stop_session
from helpers.core.validate import positive_int, row_count
from helpers.lab.levers import (
    COLUMNAR_KEY,
    SOURCES,
    arrow_cache_session,
    columnar_sources,
    conf_entry,
)
from helpers.measure.timing import physical_limit


def parse_sources(text: str) -> list[str]:
    """'a,b' -> ['a', 'b'], each a key of SOURCES (LabError naming them otherwise)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in SOURCES]
    if bad or not names:
        raise LabError(f"Unknown source(s) {bad or text!r}: use some of {', '.join(SOURCES)}.")
    return names


def columnar_bench_args(p):
    p.add_argument("--rows", type=row_count, default=None, help="rows (default: LAB_SCALE)")
    p.add_argument("--sources", default="parquet_scan,cache_default,cache_arrow")
    p.add_argument("--scenarios", default="pandas_udf,map_in_arrow")
    p.add_argument("--repeats", type=positive_int, default=3, help="timed runs per point (median)")
    p.add_argument("--json", default=None, help="write the limit and one record per run here")


def columnar_bench(args) -> int:
    sources, names = parse_sources(args.sources), scenario_names(args.scenarios)
    rows = args.rows or scale_rows()
    limit = physical_limit(rows)
    tables = []
    try:
        spark = start_session("columnar-bench")
        if conf_entry(spark, COLUMNAR_KEY) is None:
            raise LabError(
                f"Spark {spark.version} has no {COLUMNAR_KEY}: use the 4.x line (SPARK=4)."
            )
        arrow = [s for s in sources if s.startswith("cache_arrow")]
        plain = [s for s in sources if s not in arrow]
        if plain:
            tables.append(columnar_sources(spark, rows, plain, names, args.repeats))
        if arrow:
            spark = arrow_cache_session("columnar-bench")
            tables.append(columnar_sources(spark, rows, arrow, names, args.repeats))
    finally:
        stop_session()
    table = pd.concat(tables, ignore_index=True)
    table["ratio_to_limit"] = table["rows_per_s"] / limit.rows_per_s
    cols = ["source", "scenario", "columnar_input", "columnar", "rows_per_s", "ratio_to_limit",
            "max_abs_diff", "error"]  # fmt: skip
    print(f"physical limit: {limit.rows_per_s:,.0f} rows/s ({limit.processes} processes)")
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    write_json(args.json, {"limit": limit.record(), "runs": table.to_dict("records")})
    return 0


COMMANDS = {
    "columnar-bench": (
        "Arrow UDFs over several sources with columnar input on/off, as ratios to the limit",
        columnar_bench_args,
        columnar_bench,
    )
}

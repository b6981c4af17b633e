"""Explaining a change on a 10 M-row table: `explain_change` (one DuckDB scan, the search
over the finest groups in numpy) versus the same search written as plain pandas groupbys
(read the table, then every one-, two- and three-column grouping of the five category
columns summed for both quarters), each in its own child process so peak memory is its
own. Prints `drivers_speedup: X` (pandas seconds / da seconds; target >= 5) and last
`peak_rss_mb: Y` (the da child's peak resident memory; target <= 1024).

The table (Parquet: a date, five category columns, units, unit_price, revenue, with one
planted cause) is generated once into the cache dir and reused.

Run: .venv/bin/python bench/drivers.py [--rows N]
"""

import argparse
from pathlib import Path

import common
from common import ROOT, child  # common also puts the checkout on sys.path

GENERATE = """
COPY (
    SELECT * REPLACE (
        CASE WHEN region = 'West' AND product = 'Espresso' AND order_date >= DATE '2025-07-01'
                  AND (hash(id || 'cause') % 10)::BIGINT < 8
             THEN 0 ELSE units END AS units
    )
    FROM (
        SELECT
            range::VARCHAR AS id,
            DATE '2024-01-01' + CAST(range % 730 AS INTEGER) AS order_date,
            (['North','South','East','West'])[(hash(id || 'r') % 4)::BIGINT + 1] AS region,
            (['Espresso','Grinder','Kettle','Toaster','Blender','Mixer'])
                [(hash(id || 'p') % 6)::BIGINT + 1] AS product,
            (['Online','Retail','Partner'])[(hash(id || 'c') % 3)::BIGINT + 1] AS channel,
            (['Consumer','Business'])[(hash(id || 's') % 2)::BIGINT + 1] AS segment,
            (['A','B','C','D','E','F','G','H'])[(hash(id || 't') % 8)::BIGINT + 1] AS store_type,
            1 + (hash(id || 'u') % 9)::BIGINT AS units,
            round(20 + (hash(id || 'q') % 17)::BIGINT * 3.5, 2) AS unit_price
        FROM range({rows})
    )
) TO '{path}' (FORMAT parquet)
"""

DA_SIDE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from da_cli.data.catalog import build_catalog
from da_cli.data.drivers import explain_change
start = time.perf_counter()
con = build_catalog([{path!r}]).connect()
con.execute("CREATE VIEW sales AS SELECT *, units * unit_price AS revenue FROM {table}")
report = explain_change(con, "sales", "2025-Q3", measure="revenue")
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "rss_mb": rss, "cause": report.cause.groups[0].group}}))
"""

PANDAS_SIDE = """
import json, resource, time
from itertools import combinations
import pandas as pd
start = time.perf_counter()
df = pd.read_parquet({path!r})
df["revenue"] = df["units"] * df["unit_price"]
d = pd.to_datetime(df["order_date"])
df["when"] = None
df.loc[(d >= "2025-04-01") & (d < "2025-07-01"), "when"] = "b"
df.loc[(d >= "2025-07-01") & (d < "2025-10-01"), "when"] = "a"
df = df[df["when"].notna()]
cats = ["region", "product", "channel", "segment", "store_type"]
total = df.groupby("when")["revenue"].sum()
r0 = total["a"] / total["b"]
best = None
for k in (1, 2, 3):
    for cols in combinations(cats, k):
        g = df.groupby(list(cols) + ["when"])["revenue"].sum().unstack("when").fillna(0)
        dev = (g["a"] - g["b"] * r0).abs()
        if best is None or dev.max() > best[0]:
            best = (dev.max(), cols, dev.idxmax())
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "rss_mb": rss, "cause": str(best[1:])}}))
"""


def dataset(rows: int) -> Path:
    return common.dataset(f"drivers-{rows}.parquet", GENERATE, rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    path = dataset(args.rows)
    table = path.stem.replace("-", "_")
    da = child(DA_SIDE.format(root=str(ROOT), path=str(path), table=table))
    pandas = child(PANDAS_SIDE.format(path=str(path)))
    print(f"table: {args.rows:,} rows, 5 category columns")
    print(f"da explain_change: {da['seconds']:6.1f} s, peak RSS {da['rss_mb']:6.0f} MB")
    print(f"  cause: {da['cause']}")
    print(f"pandas groupbys:   {pandas['seconds']:6.1f} s, peak RSS {pandas['rss_mb']:6.0f} MB")
    print(f"drivers_speedup: {pandas['seconds'] / da['seconds']:.2f}")
    print(f"peak_rss_mb: {da['rss_mb']:.0f}")


if __name__ == "__main__":
    main()

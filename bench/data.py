"""Profiling a ~1 GB CSV: `da`'s DuckDB profiler versus pandas (`read_csv` + `describe`),
measured in the same run, each in its own child process so peak memory is its own.
Prints `profile_speedup: X` (pandas seconds / da seconds; target >= 2) and last
`peak_rss_mb: Y` (the da child's peak resident memory; target <= 1024).

The CSV (10 M rows, mixed types) is generated once into the cache dir and reused.

Run: .venv/bin/python bench/data.py [--rows N]
"""

import argparse
from pathlib import Path

import common
from common import ROOT, child  # common also puts the checkout on sys.path

GENERATE = """
COPY (
    SELECT
        range AS id,
        TIMESTAMP '2023-01-01' + to_seconds(range * 3) AS created_at,
        (['Books','Games','Garden','Kitchen','Music','Office','Outdoor','Shoes',
          'Sports','Tools','Toys','Video'])[range % 12 + 1] AS category,
        (['North','South','East','West','Central'])[(range * 7) % 5 + 1] AS region,
        'customer_' || lpad(((range * 2654435761) % 500000)::VARCHAR, 6, '0') AS customer,
        round(((range * 48271) % 100000) / 97.0, 2) AS amount,
        (range * 31) % 17 + 1 AS quantity,
        range % 3 = 0 AS returned,
        CASE WHEN range % 10 = 0 THEN NULL
             ELSE 'note ' || md5(range::VARCHAR)[:20] END AS note
    FROM range({rows})
) TO '{path}' (HEADER, DELIMITER ',')
"""

DA_SIDE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from da_cli.data.catalog import build_catalog
from da_cli.data.profile import profile, render
start = time.perf_counter()
text = render(profile(build_catalog([{path!r}]), cache=False))
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "rss_mb": rss, "chars": len(text)}}))
"""

PANDAS_SIDE = """
import json, resource, time
import pandas as pd
start = time.perf_counter()
df = pd.read_csv({path!r})
text = df.describe(include="all").to_string()
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "rss_mb": rss, "chars": len(text)}}))
"""


def dataset(rows: int) -> Path:
    return common.dataset(f"profile-{rows}.csv", GENERATE, rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    path = dataset(args.rows)
    size_mb = path.stat().st_size / (1 << 20)
    da = child(DA_SIDE.format(root=str(ROOT), path=str(path)))
    pandas = child(PANDAS_SIDE.format(path=str(path)))
    print(f"csv: {size_mb:,.0f} MB, {args.rows:,} rows")
    print(f"da profile:      {da['seconds']:6.1f} s, peak RSS {da['rss_mb']:6.0f} MB")
    print(f"pandas describe: {pandas['seconds']:6.1f} s, peak RSS {pandas['rss_mb']:6.0f} MB")
    print(f"profile_speedup: {pandas['seconds'] / da['seconds']:.2f}")
    print(f"peak_rss_mb: {da['rss_mb']:.0f}")


if __name__ == "__main__":
    main()

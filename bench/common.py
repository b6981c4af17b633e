"""What the data benchmarks share: a generated input cached between runs, and a child
process per side so each side's peak memory is its own."""

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from da_cli import paths  # noqa: E402


def dataset(name: str, generate: str, rows: int) -> Path:
    """`paths.cache_dir()/bench/NAME`, written once by DuckDB's `generate` (a statement
    with {rows} and {path} to fill in) and reused by later runs."""
    path = paths.cache_dir() / "bench" / name
    if not path.is_file():
        import duckdb

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        start = time.perf_counter()
        duckdb.connect().execute(generate.format(rows=rows, path=tmp))
        tmp.replace(path)
        print(f"generated {path} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return path


def child(code: str) -> dict:
    """Run `code` in a fresh interpreter; its last stdout line is a JSON object."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        sys.exit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])

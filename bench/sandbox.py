"""Per-cell latency of a trivial pandas cell: `da`'s persistent worker versus a fresh Python
subprocess that imports pandas for every cell (how DeepAnalyze runs code), measured in the
same run. Prints `sandbox_speedup: X` last (baseline seconds / worker seconds); target >= 50.

Run: .venv/bin/python bench/sandbox.py [--cells N]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from da_cli.data.catalog import build_catalog  # noqa: E402
from da_cli.sandbox import Sandbox  # noqa: E402

CELL = "df = pd.DataFrame({'a': range(100)})\nprint(df['a'].sum())"


def fresh_subprocess(cells: int, workdir: Path) -> float:
    times = []
    for _ in range(cells):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import pandas as pd\n" + CELL],
            cwd=workdir,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def persistent_worker(cells: int, workdir: Path) -> float:
    catalog = build_catalog([str(ROOT / "examples" / "sales.xlsx")])
    with Sandbox(catalog, workdir / "ws") as sandbox:
        sandbox.run(CELL)  # warm-up: the first cell pays nothing extra, but be fair
        times = []
        for _ in range(cells):
            start = time.perf_counter()
            result = sandbox.run(CELL)
            times.append(time.perf_counter() - start)
            assert result.ok and result.output.strip() == "4950", result
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = fresh_subprocess(args.cells, Path(tmp))
        ours = persistent_worker(args.cells, Path(tmp))
    print(f"fresh subprocess per cell: {base * 1000:.1f} ms (median of {args.cells})")
    print(f"persistent worker:         {ours * 1000:.2f} ms (median of {args.cells})")
    print(f"sandbox_speedup: {base / ours:.1f}")


if __name__ == "__main__":
    main()

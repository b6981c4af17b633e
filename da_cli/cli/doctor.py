"""`da doctor`: what this machine gives `da` (sandbox containment, model, GPU, DuckDB)."""

import os
import platform
import sys

import duckdb
from rich.console import Console
from rich.table import Table
from rich.text import Text

from da_cli import __version__, runs
from da_cli.cli.console import examples
from da_cli.data import extensions
from da_cli.errors import DaError
from da_cli.models.catalog import DEFAULT_MODEL, EMBEDDED
from da_cli.sandbox import isolation, selfcheck
from da_cli.sandbox.cgroup import PidsCgroup
from da_cli.sandbox.session import Limits


def _process_cap() -> str:
    limit = Limits().processes
    group = PidsCgroup.create(limit)
    if group is not None:
        group.remove()
        return f"capped at {limit} per worker by a pids cgroup"
    if os.getuid() == 0:
        return "not capped: running as root and no pids cgroup is writable"
    return f"capped by RLIMIT_NPROC (this user's processes + {limit})"


def _worker() -> str:
    """Start a real worker: namespaces that can be made are not yet a worker that runs."""
    check = selfcheck()
    state = "ok" if check.ok else "FAILED"
    return f"{state}: {check.detail} ({check.seconds:.1f} s)"


EXAMPLES = examples("da doctor", "da -v doctor")


def doctor() -> None:
    """Report the sandbox containment level, the default model, GPU offload and DuckDB."""
    rows: list[tuple[str, str]] = [
        ("da", f"{__version__} on Python {platform.python_version()} ({sys.platform})"),
        ("sandbox", isolation.level()),
        ("worker", _worker()),
        ("processes", _process_cap()),
    ]
    stored = runs.usage()
    rows.append(
        (
            "runs",
            f"{stored.runs} stored, {stored.bytes / 1e6:.1f} MB in {runs.root()} "
            "(da history --prune to remove old ones)",
        )
    )
    model = EMBEDDED[DEFAULT_MODEL]
    rows.append(("default model", f"{model.name}: {model.status()}, {model.path}"))
    try:
        import llama_cpp

        gpu = "yes" if llama_cpp.llama_supports_gpu_offload() else "no (CPU build)"
        rows.append(("llama.cpp", f"llama-cpp-python {llama_cpp.__version__}, GPU offload: {gpu}"))
    except ImportError:
        rows.append(("llama.cpp", "llama-cpp-python is not installed"))
    for ext in ("excel", "sqlite"):
        try:
            extensions.extension_path(ext)
            status = "ok"
        except DaError as e:
            status = str(e)
        rows.append((f"duckdb {ext}", f"{status} (DuckDB {duckdb.__version__})"))
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, Text(value))  # values may hold [brackets]: not markup
    Console(highlight=False, soft_wrap=True).print(table)

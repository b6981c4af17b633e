"""`da doctor`: what this machine gives `da` (sandbox containment, model, GPU, DuckDB).

Each row is a fact, a warning (da works, with less: weaker containment, no model installed
yet) or a failed required check (a worker that cannot run a cell, a missing part of the
installation). Any failure ends the command with the setup error's exit code, so a script
or an install check can rely on `da doctor` alone."""

import os
import platform
import sys
from dataclasses import dataclass
from typing import Literal

import duckdb
from rich.console import Console
from rich.table import Table
from rich.text import Text

from da_cli import __version__, runs
from da_cli.cli.console import examples
from da_cli.data import extensions
from da_cli.errors import DaError, SetupError
from da_cli.models import llamacpp
from da_cli.models.catalog import DEFAULT_MODEL, EMBEDDED, is_assembled
from da_cli.sandbox import isolation, selfcheck
from da_cli.sandbox.cgroup import PidsCgroup
from da_cli.sandbox.session import Limits


@dataclass
class Row:
    name: str
    value: str
    # info: a fact; warning: da works with less; failed: a required check did not pass.
    outcome: Literal["info", "warning", "failed"] = "info"


def _process_cap() -> str:
    limit = Limits().processes
    group = PidsCgroup.create(limit)
    if group is not None:
        group.remove()
        return f"capped at {limit} per worker by a pids cgroup"
    if os.getuid() == 0:
        return "not capped: running as root and no pids cgroup is writable"
    return f"capped by RLIMIT_NPROC (this user's processes + {limit})"


def _worker() -> Row:
    """Start a real worker: namespaces that can be made are not yet a worker that runs."""
    check = selfcheck()
    state = "ok" if check.ok else "FAILED"
    detail = f"{state}: {check.detail} ({check.seconds:.1f} s)"
    return Row("worker", detail, "info" if check.ok else "failed")


def _sandbox() -> Row:
    level = isolation.level()
    return Row("sandbox", level, "info" if level == isolation.NAMESPACES else "warning")


def _model() -> Row:
    model = EMBEDDED[DEFAULT_MODEL]
    # Not installed is a warning: a .gguf path or an endpoint (--model) still works.
    ready = is_assembled(model) or model.parts_installed()
    value = f"{model.name}: {model.status()}, {model.path}"
    return Row("default model", value, "info" if ready else "warning")


def _llama_cpp() -> Row:
    try:
        import llama_cpp
    except ImportError:
        return Row("llama.cpp", "FAILED: llama-cpp-python is not installed", "failed")
    # A CPU build is a fact, not a warning: the embedded model is sized for CPUs.
    gpu = "yes" if llama_cpp.llama_supports_gpu_offload() else "no (CPU build)"
    value = f"llama-cpp-python {llama_cpp.__version__}, GPU offload: {gpu}"
    if llamacpp.has_amx_kernels():
        return Row(
            "llama.cpp",
            f"{value}; built with AMX kernels, which crash on some CPUs, so models load "
            "without them and run slower: `make install` rebuilds it without them",
            "warning",
        )
    return Row("llama.cpp", value)


def _duckdb(ext: str) -> Row:
    try:
        extensions.extension_path(ext)
    except DaError as e:
        return Row(f"duckdb {ext}", f"FAILED: {e} (DuckDB {duckdb.__version__})", "failed")
    return Row(f"duckdb {ext}", f"ok (DuckDB {duckdb.__version__})")


def checks() -> list[Row]:
    stored = runs.usage()
    return [
        Row("da", f"{__version__} on Python {platform.python_version()} ({sys.platform})"),
        _sandbox(),
        _worker(),
        Row("processes", _process_cap()),
        Row(
            "runs",
            f"{stored.runs} stored, {stored.bytes / 1e6:.1f} MB in {runs.root()} "
            "(da history --prune to remove old ones)",
        ),
        _model(),
        _llama_cpp(),
        *(_duckdb(ext) for ext in ("excel", "sqlite")),
    ]


EXAMPLES = examples("da doctor", "da -v doctor")


def doctor() -> None:
    """Report the sandbox containment level, the default model, GPU offload and DuckDB.

    Exit codes: 0 every required check passed (warnings allowed), 1 one failed (its row
    says FAILED).
    """
    rows = checks()
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for row in rows:
        style = {"warning": "yellow", "failed": "bold red"}.get(row.outcome, "")
        value = Text(row.value, style=style)  # values may hold [brackets]: not markup
        if row.outcome == "warning":
            value = Text.assemble(("warning: ", style), value)
        table.add_row(row.name, value)
    Console(highlight=False, soft_wrap=True).print(table)
    failed = [row.name for row in rows if row.outcome == "failed"]
    if failed:
        raise SetupError(
            f"{len(failed)} required check{'s' if len(failed) > 1 else ''} failed: "
            f"{', '.join(failed)}.",
            hint="The rows marked FAILED above say what is wrong.",
        )

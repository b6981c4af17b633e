"""`da`: a command-line data analyst that runs a small local language model, offline.

The Python API (see the README): `analyze(sources, question)` returns a typed `Result`;
`build_report(sources)` builds and writes what `da report` does;
`Session` opens an analysis session for follow-ups and `da`'s own cells; `Budget` and
`Limits` are the settings `da analyze`'s flags set. They load on first use, so `import
da_cli` (the CLI's version check) stays cheap.
"""

import contextlib
import functools
import importlib.util
from pathlib import Path

__version__ = "0.1.0"


@functools.cache  # the API calls it on each lazy export; the search runs once
def load_cuda_llama_first() -> None:
    """With a CUDA build of llama.cpp, load it before anything imports numpy: the CLI and
    the Python API call this before their heavy imports (the sandbox worker does not).

    On an H200, such a build segfaulted in llama_model_load_from_file whenever numpy was
    loaded before libllama, and loaded the same model whenever `llama_cpp` came first
    (llama-cpp-python#1581 reports the same with pandas). `da` loads numpy early (pandas,
    DuckDB), so the order is set here. A CPU build (no libggml-cuda) is left to load on
    first use, which keeps `import da_cli` cheap."""
    spec = importlib.util.find_spec("llama_cpp")
    folders = (spec.submodule_search_locations or []) if spec is not None else []
    if any(next(Path(f, "lib").glob("libggml-cuda*"), None) for f in folders):
        # A broken build is reported by the backend when a model is used, in one sentence.
        with contextlib.suppress(Exception):
            import llama_cpp  # noqa: F401


__all__ = ["Budget", "Limits", "Result", "Session", "analyze", "build_report"]

_EXPORTS = {
    "analyze": "da_cli.api",
    "build_report": "da_cli.api",
    "Result": "da_cli.api",
    "Session": "da_cli.agent.session",
    "Budget": "da_cli.agent.loop",
    "Limits": "da_cli.sandbox",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        load_cuda_llama_first()

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'da_cli' has no attribute {name!r}")

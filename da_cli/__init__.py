"""`da`: a command-line data analyst that runs a small local language model, offline.

The Python API (see the README): `analyze(sources, question)` returns a typed `Result`;
`build_report(sources)` builds and writes what `da report` does;
`Session` opens an analysis session for follow-ups and `da`'s own cells; `Budget` and
`Limits` are the settings `da analyze`'s flags set. They load on first use, so `import
da_cli` (the CLI's version check) stays cheap.
"""

__version__ = "0.1.0"

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

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'da_cli' has no attribute {name!r}")

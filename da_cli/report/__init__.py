"""Reports: one model of a result (`document.Report`, built from transcripts) rendered as
HTML, PDF, Markdown or a notebook, chosen by the output file's extension; plus the survey
that plans and runs a report's analyses when there is no question, and the standalone
script that recomputes a report's numbers."""

import os
from dataclasses import dataclass, field
from pathlib import Path

from da_cli.errors import UsageError
from da_cli.report import html, markdown, pdf
from da_cli.report.document import Report

FORMATS = {
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".md": "markdown",
    ".markdown": "markdown",
    ".ipynb": "notebook",
}


def format_of(path: Path) -> str:
    """The format an output path asks for, by its extension."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(
            f"Cannot tell the report format of {path} from its extension "
            f"'{path.suffix or '(none)'}'.",
            hint="Use .html, .pdf, .md or .ipynb.",
        )
    return fmt


def check(paths: list[Path]) -> None:
    """Refuse unusable outputs before any analysis runs: an unknown extension, a folder that
    does not exist or cannot be written, a path that is a folder or a read-only file, or a
    PDF without its renderer."""
    for path in paths:
        fmt = format_of(path)
        folder = path.parent
        if not folder.is_dir():
            raise UsageError(f"The folder of {path} does not exist.")
        if path.is_dir():
            raise UsageError(f"{path} is a folder; give a file name for the report.")
        if not os.access(folder, os.W_OK | os.X_OK) or (
            path.exists() and not os.access(path, os.W_OK)
        ):
            raise UsageError(f"Cannot write {path}: permission denied.")
        if fmt == "pdf":
            pdf.check()


@dataclass
class Written:
    path: Path
    format: str
    pages: int | None = None  # PDF only
    extra: list[Path] = field(default_factory=list)  # figure files beside a Markdown report


def write(report: Report, path: Path) -> Written:
    """Render `report` to `path` in the format its extension names; a file that cannot be
    written is a UsageError (one sentence), not a traceback."""
    fmt = format_of(path)
    try:
        return _write(report, path, fmt)
    except OSError as e:
        raise UsageError(
            f"Could not write {path}: {e.strerror or e}.",
            hint="The analysis itself is saved; `da history` lists it.",
        ) from e


def _write(report: Report, path: Path, fmt: str) -> Written:
    if fmt == "html":
        html.write(report, path)
        return Written(path, fmt)
    if fmt == "pdf":
        return Written(path, fmt, pages=pdf.write(report, path))
    if fmt == "markdown":
        return Written(path, fmt, extra=markdown.write(report, path))
    from da_cli.report import notebook  # nbformat is slow to import; only when asked

    notebook.write(report, path)
    return Written(path, fmt)

"""The report as one self-contained HTML page: the CSS inlined and every figure embedded
as a data URI, so the file can be mailed or archived on its own. The PDF is printed from
this same page."""

import base64
from pathlib import Path

from markupsafe import Markup

from da_cli.report import templates
from da_cli.report.document import Report

MAX_OUTPUT_LINES = 40


def data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def clip(output: str, lines: int = MAX_OUTPUT_LINES) -> str:
    """A cell's output for the appendix: long outputs keep their head and say how much is cut."""
    rows = output.splitlines()
    if len(rows) <= lines:
        return output
    return "\n".join(rows[:lines] + [f"… {len(rows) - lines} more lines"])


def render(report: Report) -> str:
    images = {f.path: data_uri(Path(f.path)) for f in report.figures}
    return templates.render(
        "report.html.j2",
        autoescape=True,
        report=report,
        css=Markup(templates.read("report.css")),  # raw text inside <style>: never escaped
        images=images,
        clip=clip,
    )


def write(report: Report, path: Path) -> None:
    path.write_text(render(report), encoding="utf-8")

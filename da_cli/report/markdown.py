"""The report as Markdown, with its figures as PNG files in `<name>_files/` beside it (or,
printed on stdout, linking to the figures where the run keeps them)."""

import re
import shutil
from pathlib import Path

from da_cli.report import templates
from da_cli.report.document import Report
from da_cli.report.html import clip


def render(report: Report, links: dict[str, str]) -> str:
    text = templates.render("report.md.j2", autoescape=False, report=report, links=links, clip=clip)
    return _tidy(text)


def _tidy(text: str) -> str:
    """Runs of blank lines the layout's conditionals leave become one, except inside fenced
    code (where blank lines are the code's own)."""
    out: list[str] = []
    fence: str | None = None
    for line in text.strip().splitlines():
        m = re.match(r"^(`{3,})", line)
        if m and (fence is None or m.group(1) == fence):
            fence = m.group(1) if fence is None else None
        elif fence is None and not line.strip() and out and not out[-1].strip():
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def text(report: Report) -> str:
    """For stdout: figures linked where the run's workspace keeps them."""
    return render(report, {f.path: f.path for f in report.figures})


def write(report: Report, path: Path) -> list[Path]:
    """Write `path` and its figures; returns the figure files written."""
    folder = path.with_name(f"{path.stem}_files")
    links, written = {}, []
    if report.figures:
        folder.mkdir(parents=True, exist_ok=True)
    for f in report.figures:
        target = folder / f"figure-{f.number}.png"
        shutil.copyfile(f.path, target)
        links[f.path] = f"{folder.name}/{target.name}"
        written.append(target)
    path.write_text(render(report, links), encoding="utf-8")
    return written

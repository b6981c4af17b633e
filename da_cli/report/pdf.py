"""The report as PDF: WeasyPrint prints the HTML page (report.css carries the page rules:
A4, margins, page numbers, no figure split across pages). WeasyPrint needs Pango, a system
library, so a missing one is reported as one sentence with what to install."""

import logging
from pathlib import Path

from da_cli.errors import SetupError
from da_cli.report import html
from da_cli.report.document import Report


def _weasyprint():
    try:
        import weasyprint
    except (ImportError, OSError) as e:  # OSError: the Pango library could not be loaded
        raise SetupError(
            "PDF output needs WeasyPrint and the Pango library, which could not be loaded.",
            hint="Install Pango (Debian/Ubuntu: apt-get install libpango-1.0-0 "
            "libpangoft2-1.0-0; macOS: brew install pango), or write .html instead.",
        ) from e
    return weasyprint


def check() -> None:
    """Fail before any analysis runs if a PDF could not be written at the end."""
    _weasyprint()


def write(report: Report, path: Path) -> int:
    """Write the PDF; returns its number of pages."""
    weasyprint = _weasyprint()
    # WeasyPrint and fontTools log CSS they skip as warnings; that is not the user's concern.
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    document = weasyprint.HTML(string=html.render(report)).render()
    document.write_pdf(path)
    return len(document.pages)

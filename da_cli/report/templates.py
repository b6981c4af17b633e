"""Where the report layouts live, and the Jinja2 environments that render them.

The layouts are the top-level `templates/` directory of the project. In a source checkout
or an editable install they are read from there (beside the `da_cli` package); a built
wheel installs them as data files into `<prefix>/share/da/templates` (pyproject.toml,
`[tool.setuptools.data-files]`), which is searched next. Rendering uses StrictUndefined, so
a layout that names a missing field fails instead of printing nothing.
"""

import os
import re
import sysconfig
from functools import cache
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from da_cli.errors import SetupError

MARKER = "report.html.j2"  # a directory holding this file is the layouts directory
_SHARE = Path("share") / "da" / "templates"


def candidates() -> list[Path]:
    """Where layouts are looked for, in order."""
    found = [Path(__file__).resolve().parents[2] / "templates"]
    schemes = [sysconfig.get_default_scheme(), f"{os.name}_user"]
    for scheme in schemes:
        try:
            found.append(Path(sysconfig.get_path("data", scheme)) / _SHARE)
        except KeyError:
            continue
    return found


@cache
def directory() -> Path:
    for d in candidates():
        if (d / MARKER).is_file():
            return d
    raise SetupError(
        "The report templates are missing from this installation of da.",
        hint="Reinstall da (pip install --force-reinstall da-cli).",
    )


def read(name: str) -> str:
    return (directory() / name).read_text(encoding="utf-8")


@cache
def _markdown() -> MarkdownIt:
    # Raw HTML in model text is shown as text, never passed through: a report must not carry
    # markup (or scripts) that a model wrote.
    return MarkdownIt("commonmark", {"html": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


def markdown_to_html(text: str) -> Markup:
    return Markup(_markdown().render(text or ""))


@cache
def environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory()),
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["markdown"] = markdown_to_html
    env.filters["size"] = human_size
    env.filters["fence"] = fence
    env.filters["pyrepr"] = repr
    return env


def fence(text: str, lang: str = "") -> str:
    """A Markdown fenced block that no backtick run inside `text` can close early."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def render(name: str, *, autoescape: bool, **values: object) -> str:
    return environment(autoescape).get_template(name).render(**values)

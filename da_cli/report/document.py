"""The one model of a report (built from analyses by `da_cli.research.findings`); every
renderer (HTML, PDF, Markdown, notebook, script) reads this and nothing else, so the formats
cannot disagree, and rendering needs no model.

A `Report` holds what a reader needs and nothing the renderers would have to recompute:
the summary, findings whose every number an output backs (with the line that shows it),
figures with captions, the cells that ran (the model's and da's, marked), method and
limitations in plain sentences, and the sources with their sha256 fingerprints.
"""

import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from da_cli import __version__
from da_cli.data.catalog import Catalog

SCHEMA = "da.report/1"


@dataclass
class Figure:
    path: str  # absolute path of the PNG (in the run's workspace)
    caption: str
    by_da: bool
    number: int = 0  # Figure n in the report


@dataclass
class Cell:
    number: int  # Cell n in the report's appendix
    code: str
    output: str
    error: bool
    by_da: bool
    analysis: str = ""  # the model's Analyze text that led to it
    figures: list[Figure] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Backing:
    number: str
    line: str  # the output line that shows it
    cell: int  # the cell whose output it is


@dataclass
class Finding:
    title: str
    question: str
    answer: str  # Markdown: only what outputs back
    reading: str | None = None  # da's one-line reading of its own table, if da ran one
    table: str = ""  # Markdown: da's table, where a chart would say nothing
    dropped: list[str] = field(default_factory=list)  # sentences left out, unbacked numbers
    copied: list[str] = field(default_factory=list)  # left out: the worked example's words
    set_aside: str = ""  # a survey answer left out whole (why: `set_aside_why`)
    set_aside_why: str = ""
    partial: bool = False
    stop_reason: str | None = None
    skipped: str | None = None
    backing: list[Backing] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the loop's notices

    @property
    def figures(self) -> list[Figure]:
        return [f for c in self.cells for f in c.figures]


@dataclass
class Source:
    path: str
    name: str
    size: int
    sha256: str
    modified: str
    tables: list[str]


@dataclass
class Report:
    kind: Literal["analysis", "survey"]
    title: str
    subtitle: str
    question: str | None
    summary: str  # Markdown
    summary_by: Literal["model", "da", "answer"]
    findings: list[Finding]
    method: list[str]
    limitations: list[str]
    sources: list[Source]
    statements: list[str]  # the DuckDB statements that register the tables
    tables: list[str]
    model: str
    created: str
    summary_dropped: list[str] = field(default_factory=list)
    partial: bool = False
    da_version: str = __version__
    schema: str = SCHEMA

    @property
    def figures(self) -> list[Figure]:
        return [f for x in self.findings for f in x.figures]

    @property
    def cells(self) -> list[Cell]:
        return [c for x in self.findings for c in x.cells]

    def to_dict(self) -> dict:
        return asdict(self)


def fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def sources_of(catalog: Catalog) -> list[Source]:
    out = []
    for s in catalog.sources:
        p = Path(s)
        st = p.stat()
        # A folder of Parquet files is one view whose source is the folder.
        tables = [v.name for v in catalog.views if v.source == s or s.startswith(v.source + "/")]
        out.append(
            Source(
                path=str(p),
                name=p.name,
                size=st.st_size,
                sha256=fingerprint(p),
                modified=time.strftime("%Y-%m-%d %H:%M", time.localtime(st.st_mtime)),
                tables=tables,
            )
        )
    return out

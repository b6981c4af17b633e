"""A compact, true picture of the data for the prompt, computed inside DuckDB.

Small models copy what they see, so the profile shows the real view and column names,
types, ranges and a few sample rows, and nothing it did not compute.
"""

from dataclasses import dataclass
from pathlib import Path

import duckdb

from da_cli.data.catalog import Catalog, _ident

MAX_COLUMNS = 40
SAMPLE_ROWS = 3
TOP_VALUES = 6


@dataclass
class ColumnProfile:
    name: str
    type: str
    nulls: float  # share of rows that are null
    distinct: int  # approximate
    min: str | None
    max: str | None
    top: list[str]


@dataclass
class ViewProfile:
    name: str
    source: str
    detail: str
    rows: int
    columns: list[ColumnProfile]
    sample: list[tuple]


def profile(catalog: Catalog, con: duckdb.DuckDBPyConnection | None = None) -> list[ViewProfile]:
    con = con or catalog.connect()
    out = []
    for view in catalog.views:
        v = _ident(view.name)
        rows = con.execute(f"SELECT count(*) FROM {v}").fetchone()[0]
        summary = con.execute(f"SUMMARIZE {v}").fetchall()
        cols = []
        for name, ctype, cmin, cmax, approx, *_rest, null_pct in summary[:MAX_COLUMNS]:
            top: list[str] = []
            if ctype == "VARCHAR" and approx and approx <= 20:
                top = [
                    str(r[0])
                    for r in con.execute(
                        f"SELECT {_ident(name)}, count(*) c FROM {v} GROUP BY 1 "
                        f"ORDER BY c DESC, 1 LIMIT {TOP_VALUES}"
                    ).fetchall()
                ]
            cols.append(
                ColumnProfile(
                    name=name,
                    type=ctype,
                    nulls=float(null_pct or 0) / 100,
                    distinct=int(approx or 0),
                    min=None if cmin is None else str(cmin),
                    max=None if cmax is None else str(cmax),
                    top=top,
                )
            )
        sample = con.execute(f"SELECT * FROM {v} LIMIT {SAMPLE_ROWS}").fetchall()
        out.append(ViewProfile(view.name, view.source, view.detail, rows, cols, sample))
    return out


def render(profiles: list[ViewProfile]) -> str:
    """Plain text for the prompt: one block per table."""
    blocks = []
    for p in profiles:
        # The file name, not its path: the sandbox has a read-only copy in its working dir.
        where = Path(p.source).name + (f", sheet/table {p.detail}" if p.detail else "")
        lines = [f"Table `{p.name}` ({p.rows:,} rows) from {where}", "Columns:"]
        for c in p.columns:
            desc = f"- {c.name} ({c.type})"
            if c.top:
                desc += ": values " + ", ".join(c.top)
            elif c.min is not None and c.type != "VARCHAR":
                desc += f": {_short(c.min)} .. {_short(c.max)}"
            elif c.distinct:
                desc += f": ~{c.distinct:,} distinct"
            if c.nulls:
                desc += f", {c.nulls:.0%} null"
            lines.append(desc)
        if len(p.columns) < _ncols(p):
            lines.append(f"- … {_ncols(p) - len(p.columns)} more columns")
        if p.sample:
            names = [c.name for c in p.columns]
            lines.append("First rows:")
            lines.append(" | ".join(names))
            for row in p.sample:
                lines.append(" | ".join(_short(str(x)) for x in row[: len(names)]))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _ncols(p: ViewProfile) -> int:
    return len(p.sample[0]) if p.sample else len(p.columns)


def _short(s: str | None, n: int = 24) -> str:
    s = "" if s is None else s
    if s.endswith(" 00:00:00"):
        s = s[:-9]
    return s if len(s) <= n else s[: n - 1] + "…"

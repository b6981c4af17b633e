"""Explain a change between two periods: which groups moved the total.

A key-driver breakdown computed in DuckDB: the measure summed per group for the period and
the one before it, for every category column and every pair of them, ranked by how much of
the total change each group carries. Generated code calls it as `explain_change(...)`;
a small model can fill in four names far more reliably than it can write this query.
"""

import re
from dataclasses import dataclass
from itertools import combinations

import duckdb
import pandas as pd

MAX_GROUPS = 50
_ID = re.compile(
    r"(^|_)id$", re.IGNORECASE
)  # a column with more distinct values is an identifier, not a category


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def parse_period(text: str, latest_year: int) -> tuple[int, str, int]:
    """'2025-Q3', 'Q3 2025', 'Q3' (latest year), '2025-07', '2025' → (year, unit, index)."""
    s = text.strip().upper().replace(" ", "")
    if m := re.fullmatch(r"(\d{4})-?Q([1-4])|Q([1-4])-?(\d{4})?", s):
        year = m.group(1) or m.group(4)
        quarter = m.group(2) or m.group(3)
        return int(year) if year else latest_year, "quarter", int(quarter)
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})", s):
        return int(m.group(1)), "month", int(m.group(2))
    if re.fullmatch(r"\d{4}", s):
        return int(s), "year", 1
    raise ValueError(f"cannot read the period {text!r}; use e.g. '2025-Q3', '2025-07' or '2025'")


def previous_period(year: int, unit: str, index: int) -> tuple[int, str, int]:
    per_year = {"quarter": 4, "month": 12, "year": 1}[unit]
    if unit == "year":
        return year - 1, unit, 1
    return (year, unit, index - 1) if index > 1 else (year - 1, unit, per_year)


def _condition(date_col: str, year: int, unit: str, index: int) -> str:
    d = _ident(date_col)
    if unit == "year":
        return f"year({d}) = {year}"
    return f"year({d}) = {year} AND {unit}({d}) = {index}"


def _label(year: int, unit: str, index: int) -> str:
    return {"quarter": f"{year}-Q{index}", "month": f"{year}-{index:02d}", "year": str(year)}[unit]


_NUMERIC = ("INTEGER", "BIGINT", "DOUBLE", "FLOAT", "DECIMAL", "HUGEINT", "SMALLINT", "REAL")


def explain_change(
    con: duckdb.DuckDBPyConnection,
    table: str,
    period: str,
    measure: str | None = None,
    date_column: str | None = None,
    previous: str | None = None,
    by: list[str] | None = None,
    top: int = 8,
) -> "ChangeReport":
    """The errors name the valid choices, so a model can fix its call in one step."""
    t = _ident(table)
    cols = con.execute(f"DESCRIBE {t}").fetchall()
    # Identifiers are numbers too, but summing them means nothing.
    numeric = [c[0] for c in cols if c[1].startswith(_NUMERIC) and not _ID.search(c[0])]
    dates = [c[0] for c in cols if c[1].startswith(("DATE", "TIMESTAMP"))]
    if not numeric:
        raise ValueError(f"{table} has no numeric column to measure a change in")
    if measure is None:
        # The column with the largest total is usually the one that matters (revenue over
        # units, amount over quantity); the report names the column it used.
        sums = con.execute(
            "SELECT " + ", ".join(f"abs(sum({_ident(n)}))" for n in numeric) + f" FROM {t}"
        ).fetchone()
        measure = max(zip(sums, numeric, strict=True), key=lambda x: x[0] or 0)[1]
    elif measure not in numeric:
        raise ValueError(
            f"{measure!r} is not a numeric column of {table}; the numeric columns are "
            f"{', '.join(numeric)}. Leave measure out to use the largest one: "
            f'explain_change("{table}", period="{period}")'
        )
    if date_column is None:
        if not dates:
            raise ValueError(f"{table} has no date column; the columns are {[c[0] for c in cols]}")
        date_column = dates[0]
    elif date_column not in dates:
        raise ValueError(f"{date_column!r} is not a date column of {table}; use one of {dates}")
    d = _ident(date_column)
    latest = con.execute(f"SELECT max(year({d})) FROM {t}").fetchone()[0]
    cur = parse_period(period, latest)
    prev = parse_period(previous, latest) if previous else previous_period(*cur)
    if by is None:
        by = []
        for name, ctype, *_ in cols:
            if name in (measure, date_column) or ctype not in ("VARCHAR", "BOOLEAN"):
                continue
            n = con.execute(f"SELECT count(DISTINCT {_ident(name)}) FROM {t}").fetchone()[0]
            if 1 < n <= MAX_GROUPS:
                by.append(name)
    m = _ident(measure)
    before = f"SUM({m}) FILTER (WHERE {_condition(date_column, *prev)})"
    after = f"SUM({m}) FILTER (WHERE {_condition(date_column, *cur)})"
    total_before, total_after = con.execute(f"SELECT {before}, {after} FROM {t}").fetchone()
    total = Change("total", float(total_before or 0), float(total_after or 0))
    changes: list[Change] = []
    for group in [[c] for c in by] + [list(p) for p in combinations(by, 2)]:
        keys = ", ".join(_ident(c) for c in group)
        for *values, b, a in con.execute(
            f"SELECT {keys}, {before}, {after} FROM {t} GROUP BY ALL"
        ).fetchall():
            label = ", ".join(f"{c}={v}" for c, v in zip(group, values, strict=True))
            changes.append(Change(label, float(b or 0), float(a or 0), tuple(group)))
    falling = total.change < 0
    changes = _drop_superseded(changes)
    changes.sort(key=lambda c: c.change, reverse=not falling)
    return ChangeReport(measure, _label(*prev), _label(*cur), total, changes[:top])


@dataclass
class Change:
    group: str  # "total", or "col=value" joined by ", "
    before: float
    after: float
    columns: tuple[str, ...] = ()

    @property
    def change(self) -> float:
        return self.after - self.before

    @property
    def pct(self) -> float | None:
        return 100 * self.change / self.before if self.before else None


def _drop_superseded(changes: list[Change]) -> list[Change]:
    """When a pair (West, Retail) carries nearly all of the change of one of its single
    groups (West), the pair is the sharper explanation: keep it, drop the single."""
    singles = {c.group: c for c in changes if len(c.columns) == 1}
    dropped = set()
    for c in changes:
        if len(c.columns) != 2:
            continue
        for part in c.group.split(", "):
            s = singles.get(part)
            if s and s.change and c.change / s.change >= 0.95:
                dropped.add(part)
    return [c for c in changes if c.group not in dropped]


@dataclass
class ChangeReport:
    """What `explain_change` returns: printed as plain sentences (small models read those far
    better than a wide table); `.table` has the same figures as a DataFrame."""

    measure: str
    before_label: str
    after_label: str
    total: Change
    changes: list[Change]

    @property
    def table(self) -> pd.DataFrame:
        rows = [self.total, *self.changes]
        share = self.total.change or float("nan")
        return pd.DataFrame(
            {
                "group": [c.group for c in rows],
                self.before_label: [round(c.before, 2) for c in rows],
                self.after_label: [round(c.after, 2) for c in rows],
                "change": [round(c.change, 2) for c in rows],
                "pct_change": [None if c.pct is None else round(c.pct, 1) for c in rows],
                "share_of_total_change_pct": [round(100 * c.change / share, 1) for c in rows],
            }
        )

    def __str__(self) -> str:
        t = self.total
        verb = "fell" if t.change < 0 else "rose"
        lines = [
            f"Total {self.measure} {verb} from {_num(t.before)} in {self.before_label} to "
            f"{_num(t.after)} in {self.after_label}: {_signed(t.change)}{_pct(t.pct)}.",
            "Groups with the biggest changes:",
        ]
        for i, c in enumerate(self.changes, 1):
            share = f", {100 * c.change / t.change:.1f} % of the total change" if t.change else ""
            lines.append(
                f"{i}. {c.group}: from {_num(c.before)} to {_num(c.after)}, "
                f"{_signed(c.change)}{_pct(c.pct)}{share}"
            )
        return "\n".join(lines)

    __repr__ = __str__


def _num(x: float) -> str:
    return f"{x:,.2f}".rstrip("0").rstrip(".") if x % 1 else f"{x:,.0f}"


def _signed(x: float) -> str:
    return ("+" if x >= 0 else "-") + _num(abs(x))


def _pct(p: float | None) -> str:
    return "" if p is None else f" ({p:+.1f} %)"

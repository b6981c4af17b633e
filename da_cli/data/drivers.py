"""Explain a change between two periods: which groups moved the total.

A key-driver breakdown computed in DuckDB: the measure summed per group for the period and
the one before it, for every category column and every pair of them, ranked by how much of
the total change each group carries. Generated code calls it as `explain_change(...)`;
a small model can fill in four names far more reliably than it can write this query.
"""

import re
from itertools import combinations

import duckdb
import pandas as pd

MAX_GROUPS = 50  # a column with more distinct values is an identifier, not a category


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
    measure: str,
    period: str,
    date_column: str | None = None,
    previous: str | None = None,
    by: list[str] | None = None,
    top: int = 8,
) -> pd.DataFrame:
    """The errors name the valid choices, so a model can fix its call in one step."""
    t = _ident(table)
    cols = con.execute(f"DESCRIBE {t}").fetchall()
    numeric = [c[0] for c in cols if c[1].startswith(_NUMERIC)]
    dates = [c[0] for c in cols if c[1].startswith(("DATE", "TIMESTAMP"))]
    if measure not in numeric:
        raise ValueError(f"{measure!r} is not a numeric column of {table}; use one of {numeric}")
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
    total_before, total_after = float(total_before or 0), float(total_after or 0)
    total_change = total_after - total_before
    rows = [("TOTAL", "all", total_before, total_after)]
    for group in [[c] for c in by] + [list(p) for p in combinations(by, 2)]:
        keys = ", ".join(_ident(c) for c in group)
        label = " x ".join(group)
        for *values, b, a in con.execute(
            f"SELECT {keys}, {before}, {after} FROM {t} GROUP BY ALL"
        ).fetchall():
            rows.append((label, " / ".join(str(v) for v in values), float(b or 0), float(a or 0)))
    df = pd.DataFrame(rows, columns=["breakdown", "group", "before", "after"])
    df["change"] = df["after"] - df["before"]
    df["pct_change"] = (100 * df["change"] / df["before"].where(df["before"] != 0)).round(1)
    df["share_of_total_change"] = (
        (100 * df["change"] / total_change).round(1) if total_change else float("nan")
    )
    df[["before", "after", "change"]] = df[["before", "after", "change"]].round(2)
    head, rest = df.iloc[:1], df.iloc[1:]
    rest = rest.sort_values("change", ascending=total_change < 0)
    out = pd.concat([head, rest.head(top)], ignore_index=True)
    out.attrs["periods"] = (_label(*prev), _label(*cur))
    out.columns = [
        "breakdown",
        "group",
        _label(*prev),
        _label(*cur),
        "change",
        "pct_change",
        "share_of_total_change_pct",
    ]
    return out

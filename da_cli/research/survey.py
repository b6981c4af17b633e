"""Angle planning for a report without a question: what to look at, derived from the profile.

A 0.5B model is weak at open-ended research ("what is interesting here?") but can answer a
precise question that names the tables and columns. So `da` chooses the angles itself, from
the profile alone: the main measure broken down by a category column, its trend over a date
column, the top entities reached through an inferred join key, and further breakdowns. Each
angle is a question for the normal agent loop plus a deterministic SQL query for the same
table, which `da` charts when the model's code drew no figure. Nothing here knows any
particular dataset: only column types, statistics and names.
"""

import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from da_cli.data.profile import ColumnProfile, Join, ViewProfile, infer_joins

AngleKind = Literal["breakdown", "trend", "top"]

MAX_CATEGORIES = 20  # more distinct values than this is not a category to break down by
TOP_ENTITIES = 10
MIN_ENTITIES = 20  # a dimension with fewer rows is a category, not a list of entities

_NUMERIC = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|REAL|DECIMAL.*)$")
_DATE_TYPE = re.compile(r"^(DATE|TIMESTAMP.*)$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_KEY = re.compile(r"(^|_)(id|key|code|no|number|year|month|quarter|week|day)$", re.IGNORECASE)
# Per-unit or ratio columns: summing them means nothing (a sum of unit prices is no total).
_NOT_ADDITIVE_WORDS = {
    "unit", "per", "rate", "ratio", "pct", "percent", "share", "avg", "average", "mean",
    "median", "score", "rating", "lat", "lon", "lng", "latitude", "longitude", "age",
}  # fmt: skip
_MONEY = re.compile(
    r"(revenue|sales|amount|total|value|profit|income|spend|turnover|gmv)", re.IGNORECASE
)
_QUANTITY = re.compile(r"(^|_)(qty|quantity|units?|pieces|volume)$", re.IGNORECASE)
_PRICE = re.compile(r"price", re.IGNORECASE)
# Columns that segment a business (better angles) and ones that record a state (worse ones).
_SEGMENT = re.compile(
    r"(categor|segment|region|type|channel|group|class|department|country|kind|tier|brand|"
    r"family|area|market)",
    re.IGNORECASE,
)
_STATE = re.compile(r"(status|state|flag|^is_|^has_)", re.IGNORECASE)
_LABEL = re.compile(r"(name|title|label)", re.IGNORECASE)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Measure:
    name: str  # short, for titles: "revenue", "value", "number of orders"
    label: str  # in prose: "revenue", "value (quantity × unit_price)", "number of orders"
    expr: str  # SQL over the fact table's alias t: SUM(t."revenue"), COUNT(*)
    alias: str  # the result column's name
    real: bool  # a summed column (True) or a row count (False)
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Link:
    """A one-hop join from the fact table to a dimension table (alias d)."""

    table: str
    fact_column: str
    dim_column: str

    @property
    def sql(self) -> str:
        on = f"t.{_ident(self.fact_column)} = d.{_ident(self.dim_column)}"
        return f"JOIN {_ident(self.table)} d ON {on}"


@dataclass(frozen=True)
class ColumnRef:
    table: str
    column: str
    type: str
    link: Link | None = None  # None: a column of the fact table itself

    @property
    def expr(self) -> str:
        return f"{'d' if self.link else 't'}.{_ident(self.column)}"


@dataclass
class Angle:
    kind: AngleKind
    title: str  # a heading: "Revenue by region"
    question: str  # what the model is asked, naming the tables and columns it needs
    sql: str  # da's own query for the same table: a label column, then a value column
    label: str  # the label column of `sql`
    value: str  # the value column of `sql`
    chart: Literal["bar", "barh", "line"]
    measure: str = ""  # the measure in prose, for da's reading: "revenue", "number of orders"
    tables: list[str] = field(default_factory=list)
    joins: bool = False  # the question needs a join (the loop then shows the join example)
    score: float = 0.0


def is_date(c: ColumnProfile) -> bool:
    if _DATE_TYPE.match(c.type):
        return True
    return c.type == "VARCHAR" and bool(c.min and c.max and _ISO_DATE.match(c.min))


def _additive(name: str) -> bool:
    words = set(re.split(r"[^a-z0-9]+", name.lower()))
    return not (words & _NOT_ADDITIVE_WORDS or "price" in name.lower())


def _is_key(name: str) -> bool:
    return bool(_KEY.search(name)) or name.lower() == "id"


def measure_of(p: ViewProfile) -> Measure:
    """The table's main number: a money-like column, quantity × price, another additive
    column (the one with the largest maximum), or else the number of rows."""
    numeric = [
        c
        for c in p.columns
        if _NUMERIC.match(c.type) and not _is_key(c.name) and c.distinct > 1 and not is_date(c)
    ]
    summable = [c for c in numeric if _additive(c.name)]
    for c in summable:
        if _MONEY.search(c.name):
            return Measure(c.name, c.name, f"SUM(t.{_ident(c.name)})", c.name, True, (c.name,))
    qty = next((c for c in summable if _QUANTITY.search(c.name)), None)
    price = next((c for c in numeric if _PRICE.search(c.name)), None)
    if qty and price:
        return Measure(
            "value",
            f"value ({qty.name} × {price.name})",
            f"SUM(t.{_ident(qty.name)} * t.{_ident(price.name)})",
            "value" if "value" not in {c.name for c in p.columns} else "total_value",
            True,
            (qty.name, price.name),
        )
    if summable:
        best = max(summable, key=lambda c: _as_float(c.max))
        sql = f"SUM(t.{_ident(best.name)})"
        return Measure(best.name, best.name, sql, best.name, True, (best.name,))
    alias = p.name if p.name not in {c.name for c in p.columns} else "row_count"
    return Measure(f"number of {p.name}", f"number of {p.name}", "COUNT(*)", alias, False)


def _as_float(s: str | None) -> float:
    try:
        return float(s) if s is not None else 0.0
    except ValueError:
        return 0.0


def _links(p: ViewProfile, joins: list[Join]) -> list[Link]:
    out = []
    for j in joins:
        table, col = j.left.split(".", 1)
        if table == p.name:
            dim, key = j.right.split(".", 1)
            out.append(Link(dim, col, key))
    return out


def _columns(
    p: ViewProfile, links: list[Link], by_name: dict[str, ViewProfile]
) -> list[tuple[ColumnRef, ColumnProfile, int]]:
    """The fact table's own columns, then those of every table one join away, each with
    the row count of the table it lives in."""
    out = [(ColumnRef(p.name, c.name, c.type), c, p.rows) for c in p.columns]
    for link in links:
        dim = by_name[link.table]
        out += [(ColumnRef(dim.name, c.name, c.type, link), c, dim.rows) for c in dim.columns]
    return out


def _is_category(c: ColumnProfile, rows: int, own: bool) -> bool:
    if c.type not in ("VARCHAR", "BOOLEAN") or _is_key(c.name) or is_date(c):
        return False
    if not 2 <= c.distinct <= MAX_CATEGORIES:
        return False
    # In the fact table a category repeats; in a small dimension each row may be its own.
    return c.distinct * 2 <= rows if own else True


def _is_entity(c: ColumnProfile, rows: int) -> bool:
    if c.type != "VARCHAR" or _is_key(c.name) or is_date(c) or rows < MIN_ENTITIES:
        return False
    return c.distinct >= 0.8 * rows


def _period(c: ColumnProfile) -> tuple[str, str]:
    """The unit to bucket a date column by, from its span: (unit, DuckDB label expression)."""
    try:
        first = date.fromisoformat((c.min or "")[:10])
        last = date.fromisoformat((c.max or "")[:10])
        days = (last - first).days
    except ValueError:
        days = 365
    if days > 12 * 365:
        return "year", "CAST(year({d}) AS VARCHAR)"
    if days > 3 * 365:
        return "quarter", "year({d}) || '-Q' || quarter({d})"
    if days > 90:
        return "month", "strftime({d}, '%Y-%m')"
    return "day", "strftime({d}, '%Y-%m-%d')"


def _from(p: ViewProfile, link: Link | None) -> str:
    return f"FROM {_ident(p.name)} t" + (f" {link.sql}" if link else "")


def _join_prose(p: ViewProfile, link: Link | None) -> str:
    if link is None:
        return ""
    return f" (join {p.name}.{link.fact_column} = {link.table}.{link.dim_column})"


def _of(m: Measure, p: ViewProfile) -> str:
    """The measure in a question: "the total revenue of orders", "the number of orders"."""
    return f"the {m.label}" if not m.real else f"the total {m.label} of {p.name}"


def _breakdown(p: ViewProfile, m: Measure, ref: ColumnRef) -> Angle:
    where = f"{ref.column} of {ref.table}" if ref.link else ref.column
    label = ref.column if ref.column != m.alias else f"{ref.column}_group"
    sql = (
        f"SELECT coalesce(CAST({ref.expr} AS VARCHAR), '(none)') AS {_ident(label)}, "
        f"{m.expr} AS {_ident(m.alias)}\n{_from(p, ref.link)}\nGROUP BY 1 ORDER BY 2 DESC"
    )
    question = (
        f"What is {_of(m, p)} for each {where}{_join_prose(p, ref.link)}, "
        f"largest first? Plot it as a bar chart."
    )
    title = f"{_cap(m.name)} by {ref.column}"
    return Angle(
        "breakdown",
        title,
        question,
        sql,
        label,
        m.alias,
        "bar",
        m.name,
        [p.name] + ([ref.table] if ref.link else []),
        ref.link is not None,
    )


def _trend(p: ViewProfile, m: Measure, ref: ColumnRef, c: ColumnProfile) -> Angle:
    unit, label_expr = _period(c)
    # Text dates (ISO strings) are cast; TRY_CAST keeps a malformed value from failing it all.
    d = ref.expr if _DATE_TYPE.match(ref.type) else f"TRY_CAST({ref.expr} AS TIMESTAMP)"
    sql = (
        f"SELECT {label_expr.format(d=d)} AS {_ident(unit)}, {m.expr} AS {_ident(m.alias)}\n"
        f"{_from(p, ref.link)}\nWHERE {d} IS NOT NULL\nGROUP BY 1 ORDER BY 1"
    )
    cast = "" if _DATE_TYPE.match(ref.type) else f" ({ref.column} is text: cast it to a date)"
    where = f"{ref.column} of {ref.table}" if ref.link else ref.column
    question = (
        f"What is {_of(m, p)} in each {unit} of {where}{cast}"
        f"{_join_prose(p, ref.link)}, in time order? Plot it as a line chart."
    )
    return Angle(
        "trend",
        f"{_cap(m.name)} per {unit}",
        question,
        sql,
        unit,
        m.alias,
        "line",
        m.name,
        [p.name] + ([ref.table] if ref.link else []),
        ref.link is not None,
    )


def _top(p: ViewProfile, m: Measure, ref: ColumnRef) -> Angle:
    assert ref.link is not None
    label = ref.column if ref.column != m.alias else f"{ref.column}_label"
    sql = (
        f"SELECT d.{_ident(ref.column)} AS {_ident(label)}, {m.expr} AS {_ident(m.alias)}\n"
        f"{_from(p, ref.link)}\nGROUP BY 1 ORDER BY 2 DESC LIMIT {TOP_ENTITIES}"
    )
    what = m.label if not m.real else f"total {m.label} in {p.name}"
    question = (
        f"Which {TOP_ENTITIES} {ref.table} (by {ref.column}) have the highest {what}"
        f"{_join_prose(p, ref.link)}? Plot them as a horizontal bar chart."
    )
    return Angle(
        "top",
        f"Top {TOP_ENTITIES} {ref.table} by {m.name}",
        question,
        sql,
        label,
        m.alias,
        "barh",
        m.name,
        [p.name, ref.table],
        True,
    )


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def candidates(profiles: list[ViewProfile]) -> list[Angle]:
    """Every angle the profile supports, each with a score: bigger, better-connected
    tables with a real measure first; segment-like columns before state-like ones."""
    joins = infer_joins(profiles)
    by_name = {p.name: p for p in profiles}
    out: list[Angle] = []
    for p in profiles:
        if p.rows < 2:
            continue
        links = _links(p, joins)
        m = measure_of(p)
        weight = math.log10(p.rows + 1) + 0.5 * len(links) + (1.0 if m.real else 0.0)
        for ref, c, rows in _columns(p, links, by_name):
            own = ref.link is None
            if ref.column in m.columns and own:
                continue
            bonus = -0.25 if not own else 0.0
            if _is_category(c, rows, own):
                s = weight + bonus + (1.0 if _SEGMENT.search(c.name) else 0.0)
                s -= 1.0 if _STATE.search(c.name) else 0.0
                s += 0.5 if 3 <= c.distinct <= 12 else 0.0
                out.append(_scored(_breakdown(p, m, ref), s))
            elif is_date(c) and c.distinct > 2:
                out.append(_scored(_trend(p, m, ref, c), weight + (0.5 if own else 0.0)))
            elif not own and _is_entity(c, rows):
                s = weight + bonus + (1.0 if _LABEL.search(c.name) else 0.0)
                out.append(_scored(_top(p, m, ref), s))
    return out


def _scored(a: Angle, score: float) -> Angle:
    a.score = score
    return a


def plan(profiles: list[ViewProfile], n: int = 4) -> list[Angle]:
    """Up to `n` angles: the best breakdown, trend and top-entities angle first, then the
    best of the rest, spread over tables and columns (a column is never used twice)."""
    pool = candidates(profiles)
    chosen: list[Angle] = []
    used_tables: dict[str, int] = {}
    used_kinds: dict[str, int] = {}
    used_columns: set[str] = set()

    def key(a: Angle) -> str:
        return f"{a.tables[-1]}.{a.label}"

    def penalized(a: Angle) -> float:
        return a.score - 1.0 * used_tables.get(a.tables[0], 0) - 0.5 * used_kinds.get(a.kind, 0)

    order: list[AngleKind | None] = ["breakdown", "trend", "top"]
    while len(chosen) < n:
        left = [a for a in pool if a not in chosen and key(a) not in used_columns]
        if not left:
            break
        want = order[len(chosen)] if len(chosen) < len(order) else None
        of_kind = [a for a in left if a.kind == want] or left
        best = max(of_kind, key=penalized)
        chosen.append(best)
        used_tables[best.tables[0]] = used_tables.get(best.tables[0], 0) + 1
        used_kinds[best.kind] = used_kinds.get(best.kind, 0) + 1
        used_columns.add(key(best))
    return chosen

"""What a survey angle is, and which number of a table is its measure.

An angle is one finding of `da report`: a survey fact da computed (`da_cli.data.facts`,
chosen by `da_cli.research.scan`) and, for the top-ranked ones, a precise question the model
answers with its own code in the normal agent loop (a 0.5B model is weak at open-ended
research but can answer a question that names the tables and columns). Nothing here knows any
particular dataset: only column types, statistics and names.
"""

import re
from dataclasses import dataclass, field
from typing import Literal

from da_cli.data.facts import Fact
from da_cli.data.profile import ColumnProfile, ViewProfile

AngleKind = Literal[
    "breakdown",
    "trend",
    "top",
    "overview",
    "quality",
    "share",
    "ratio",
    "rate",
    "mover",
    "correlation",
]


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
    r"(revenue|sales|amount|total|value|profit|income|spend|turnover|gmv|cost|fee|charge|"
    r"payment|paid)",
    re.IGNORECASE,
)
_QUANTITY = re.compile(r"(^|_)(qty|quantity|units?|pieces|volume)$", re.IGNORECASE)
_PRICE = re.compile(r"price", re.IGNORECASE)
# Columns that segment a business: the better groups to break a measure down by.
_SEGMENT = re.compile(
    r"(categor|segment|region|type|channel|group|class|department|country|kind|tier|brand|"
    r"family|area|market)",
    re.IGNORECASE,
)


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
    fact: "Fact | None" = None  # the survey fact da computed for this angle (da_cli.data.facts)
    ask: bool = True  # the model analyses it too (else da's cell alone makes the finding)


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

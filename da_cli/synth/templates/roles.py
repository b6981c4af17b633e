"""What the columns of a table are, and how the templates name them in SQL, pandas and words.

`roles()` sorts a profile's columns into measures, categories, labels, dates and keys; the
families read only those roles, never a column name they know. The rest is shared by every
family: quoting names and values for SQL, saying a name in a sentence, the years a date
column spans, and which aggregates make sense for a measure and how to write them.
"""

import re
from dataclasses import dataclass, field
from functools import cache

import duckdb

from da_cli.data.profile import ColumnProfile, ViewProfile

_NUMERIC = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w*INT|FLOAT|DOUBLE|REAL|DECIMAL.*)$"
)
_INTEGER = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w*INT)$")
_KEY = re.compile(r"(^|_)(id|key|code|no)$", re.IGNORECASE)
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}")
# Summing these makes no sense (a total unit price); they get averages and extremes only.
_NON_ADDITIVE = re.compile(
    r"(price|cost|rate|ratio|pct|percent|share|score|avg|mean|median|age|lat|lon|lng|temp|"
    r"year|month|day|hour|week|grade|rank|rating)",
    re.IGNORECASE,
)
_LABEL_NAMES = re.compile(r"(^|_)(name|title|label|description)$", re.IGNORECASE)
MAX_CATEGORY_VALUES = 50
FILTER_VALUES = 3  # frequent values per category column used as filters
RANKED_ROWS = 10  # rows a ranking query keeps: the candidates an answer is checked against
MAX_YEARS = 12


# --- names -------------------------------------------------------------------------------


@cache
def _reserved() -> frozenset[str]:
    rows = duckdb.sql(
        "SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category <> 'unreserved'"
    ).fetchall()
    return frozenset(r[0].lower() for r in rows)


def ident(name: str) -> str:
    """A column or table name in SQL: bare when it can be (the code items are read and
    imitated), double-quoted otherwise."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name not in _reserved():
        return name
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def human(name: str) -> str:
    """A column name in a sentence: `unit_price` reads "unit price"; a name that words
    cannot carry (symbols, spaces) stays quoted."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        return name.replace("_", " ")
    return f"`{name}`"


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(name: str) -> list[str]:
    """The words of a name that a rewording must keep (at least one of them)."""
    found = [w for w in re.split(r"[^A-Za-z0-9]+", name) if len(w) >= 3]
    return found or [name]


# --- what the columns are ----------------------------------------------------------------


@dataclass
class Roles:
    table: str
    rows: int
    measures: list[ColumnProfile] = field(default_factory=list)
    categories: list[ColumnProfile] = field(default_factory=list)
    labels: list[ColumnProfile] = field(default_factory=list)  # one value per row: names
    dates: list[ColumnProfile] = field(default_factory=list)
    keys: list[ColumnProfile] = field(default_factory=list)  # key-like, repeating
    identifiers: list[ColumnProfile] = field(default_factory=list)  # key-like, unique


def roles(p: ViewProfile) -> Roles:
    r = Roles(p.name, p.rows)
    for c in p.columns:
        if c.nulls >= 0.5:
            continue
        distinct = min(c.distinct, p.rows)  # approximate counts may exceed the rows
        if is_key(c.name):
            # The profile's distinct counts are estimates (a few % off): a key within 10 %
            # of the row count is taken as unique.
            (r.keys if distinct < 0.9 * p.rows else r.identifiers).append(c)
        elif _NUMERIC.match(c.type):
            if distinct >= 2:
                r.measures.append(c)
        elif c.type.startswith(("DATE", "TIMESTAMP")) or (
            c.type == "VARCHAR" and _DATE_TEXT.match(c.min or "") and _DATE_TEXT.match(c.max or "")
        ):
            r.dates.append(c)
        elif c.type in ("VARCHAR", "BOOLEAN"):
            if 2 <= distinct <= MAX_CATEGORY_VALUES and distinct <= 0.5 * p.rows:
                r.categories.append(c)
            elif p.rows >= 2 and distinct >= 0.9 * p.rows:
                r.labels.append(c)
    r.labels.sort(key=lambda c: not _LABEL_NAMES.search(c.name))
    return r


def is_key(name: str) -> bool:
    """Named like a key (`id`, `customer_id`, `sku_code`): never summed or averaged."""
    return bool(_KEY.search(name))


def is_integer(c: ColumnProfile) -> bool:
    return bool(_INTEGER.match(c.type))


def year_expr(c: ColumnProfile, qualifier: str = "") -> str:
    col = qualifier + ident(c.name)
    if c.type.startswith(("DATE", "TIMESTAMP")):
        return f"year({col})"
    return f"year(TRY_CAST({col} AS DATE))"


def years_of(c: ColumnProfile) -> list[int]:
    """The years a date column spans; none when it spans too many to ask about each."""
    lo, hi = (c.min or "")[:4], (c.max or "")[:4]
    if not (lo.isdigit() and hi.isdigit()) or int(hi) - int(lo) >= MAX_YEARS:
        return []
    return list(range(int(lo), int(hi) + 1))


# --- aggregates ------------------------------------------------------------------------------

# name in a question, SQL function, pandas method, ranking word
AGGREGATES = {
    "sum": ("total", "sum", "sum"),
    "avg": ("average", "avg", "mean"),
    "max": ("highest", "max", "max"),
    "min": ("lowest", "min", "min"),
}
AGG_ANCHORS = {
    "sum": ["total", "sum", "overall", "combined", "all"],
    "avg": ["average", "mean", "avg"],
    "max": ["highest", "maximum", "max", "largest", "biggest", "greatest", "top", "most"],
    "min": ["lowest", "minimum", "min", "smallest", "least", "fewest", "bottom"],
}
DIRECTION = {True: AGG_ANCHORS["max"], False: AGG_ANCHORS["min"]}  # keyed by "descending"
# The words that say rows are counted ("the most rows", "the highest number of entries").
COUNTED = ["rows", "row", "entries", "records", "number", "count", "often", "frequent"]


def aggregates_of(m: ColumnProfile) -> list[str]:
    """The aggregates that make sense for a measure, in the order the questions ask them."""
    return ["avg", "max", "min"] if _NON_ADDITIVE.search(m.name) else ["sum", "avg", "max", "min"]


def is_whole(fn: str, m: ColumnProfile) -> bool:
    """The aggregate of an integer column is an integer (a sum, not an average)."""
    return fn in ("sum", "max", "min") and is_integer(m)


def agg_sql(fn: str, col: str, whole: bool, rounded: bool) -> str:
    expr = f"{AGGREGATES[fn][1]}({col})"
    return f"round({expr}, 2)" if rounded and not whole else expr


def round_pd(expr: str, whole: bool) -> str:
    return expr if whole else f"round({expr}, 2)"

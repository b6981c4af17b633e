"""Explain a change between two periods: which groups moved the total, and how.

Generated code calls it as `explain_change(...)`: a small model can fill in a table name and
a period far more reliably than it can write this analysis. It is computed in DuckDB (one
scan that sums the measure per finest group for both periods) and finished in numpy over
those groups, so it costs about the same on ten rows as on ten million.

Root-cause localization, the criterion: for a candidate cause S (one to three groups of the
same one, two or three category columns) the hypothesis is "S changed at its own rate and
everything else at one common rate"; its score is Squeeze's generalized potential score
(Li et al., ISSRE 2019, after HotSpot, Sun et al. 2018), 1 - sum|actual - expected| /
sum|actual - baseline| over the finest groups, where a group inside S is expected to move
with S (the ripple effect) and the baseline moves every group at the total's rate. Among the
candidates scoring within TOLERANCE of the best, the most succinct wins (fewest groups, then
fewest columns), as in Adtributor (Bhagwan et al., NSDI 2014: explanatory power,
succinctness). That drills into a group only when one of its subgroups carries its change:
a region whose products all fell stays the cause; a region where one product collapsed
gives way to that pair. Departures: there is no forecast, so the period before (or the same
period a year earlier) scaled by the rest of the table's rate stands in for one, which
removes trend and uniform seasonality; candidates are the top groups of each cuboid by
deviation from that rate, not a clustering (Squeeze) or MCTS (HotSpot) search; a cause is
one cuboid (groups of the same columns).

Mechanism: when the measure is a product of two columns (revenue = units x price) or a
numerator over a denominator column (conversions <= visits), the change of the total and of
the cause is split into volume, price (or rate) and mix effects, the classic
price-volume-mix decomposition.

This file is also copied verbatim into emitted scripts: it imports only duckdb, numpy,
pandas and the standard library.
"""

import re
from dataclasses import dataclass, field
from itertools import combinations

import duckdb
import numpy as np
import pandas as pd

from da_cli.data.profile import values_named_in

MAX_GROUPS = 50  # a text column with more distinct values is an identifier, not a category
MAX_DEPTH = 3  # causes in up to this many columns
MAX_LEAVES = 500_000  # finest groups the search holds in memory (estimated upper bound)
MAX_CAUSE_GROUPS = 3  # a cause of more groups than this is no succinct explanation
TOLERANCE = 0.1  # a simpler cause within this share of the best score wins
MIN_SCORE = 0.05  # below this no group explains the change: it was spread out
CLEAR_SCORE = 0.25  # below this the cause is named as likely: noise is of its size
DEBUG = False
SAMPLE = 10_000  # rows read to recognise the measure as a product or a ratio

_ID = re.compile(r"(^|_)(id|key|code|uuid|no)$|^id_", re.IGNORECASE)
# Summing these means nothing, so they are never the default measure.
_NOT_ADDITIVE = re.compile(
    r"price|rate|ratio|pct|percent|share|avg|average|mean|median|margin|score|rating|"
    r"(^|_)(age|year|month|week|day|hour|lat|lon|latitude|longitude|temp\w*)$",
    re.IGNORECASE,
)
_PRICE_LIKE = re.compile(r"price|rate|cost|fee|per_|_per|avg|average|value", re.IGNORECASE)
_NUMERIC = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DOUBLE|FLOAT|REAL|DECIMAL.*)$")
_INTEGER = re.compile(r"^U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?$")
_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        1,
    )
    for m in names
}
_UNIT_NAMES = {"quarter": "quarter", "month": "month", "year": "year"}
# The measure that counts rows: "the number of orders", "how many tickets", a table with a
# date and no number. Summing the largest column instead answered "By what percentage did
# the number of orders change?" with the change in the amount ordered.
ROWS = "number of rows"
_ROW_NAMES = {"rows", "row", "count", "count(*)", "n", "number of rows", "row count", "records"}
_COUNTS = re.compile(
    r"\b(number|count)\s+of\b|\bhow\s+many\b(?!\s+(percent|points|times))|\bcount\b", re.IGNORECASE
)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def parse_period(text: str, latest_year: int) -> tuple[int, str, int]:
    """'2025-Q3', 'Q3 2025', 'Q3' (latest year), '2025-07', 'July 2025', 'Jul' (latest
    year), '2025' -> (year, unit, index)."""
    s = text.strip().upper().replace(" ", "")
    if m := re.fullmatch(r"(\d{4})-?Q([1-4])|Q([1-4])[-/]?(\d{4})?", s):
        year = m.group(1) or m.group(4)
        quarter = m.group(2) or m.group(3)
        return int(year) if year else latest_year, "quarter", int(quarter)
    if (m := re.fullmatch(r"(\d{4})[-/](\d{1,2})(-\d{1,2})?", s)) and 1 <= int(m.group(2)) <= 12:
        return int(m.group(1)), "month", int(m.group(2))
    if (m := re.fullmatch(r"([A-Z]+)\.?,?[-/]?(\d{4})?", s)) and m.group(1).lower() in _MONTHS:
        year = int(m.group(2)) if m.group(2) else latest_year
        return year, "month", _MONTHS[m.group(1).lower()]
    if (m := re.fullmatch(r"(\d{4})[-/]?([A-Z]+)", s)) and m.group(2).lower() in _MONTHS:
        return int(m.group(1)), "month", _MONTHS[m.group(2).lower()]
    if re.fullmatch(r"(FY)?\d{4}", s):
        return int(s[-4:]), "year", 1
    raise ValueError(
        f"cannot read the period {text!r}; use e.g. '2025-Q3', 'Q3', '2025-07', 'July' or '2025'"
    )


def previous_period(year: int, unit: str, index: int) -> tuple[int, str, int]:
    per_year = {"quarter": 4, "month": 12, "year": 1}[unit]
    if unit == "year":
        return year - 1, unit, 1
    return (year, unit, index - 1) if index > 1 else (year - 1, unit, per_year)


def _condition(date_col: str, year: int, unit: str, index: int) -> str:
    d = _ident(date_col)
    if unit == "year":
        return f"year({d}) = {year}"
    return f"(year({d}) = {year} AND {unit}({d}) = {index})"


def _label(year: int, unit: str, index: int) -> str:
    return {"quarter": f"{year}-Q{index}", "month": f"{year}-{index:02d}", "year": str(year)}[unit]


def _views(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = 'main' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def _shape(con, table: str) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(columns with types, measure candidates, date columns) of a table."""
    cols = [(c[0], c[1]) for c in con.execute(f"DESCRIBE {_ident(table)}").fetchall()]
    # Identifiers are numbers too, but summing them means nothing.
    numeric = [n for n, t in cols if _NUMERIC.match(t) and not _ID.search(n)]
    dates = [n for n, t in cols if t.startswith(("DATE", "TIMESTAMP"))]
    return cols, numeric, dates


def _resolve_table(con, table: str) -> tuple[str, list[str]]:
    """The table to explain, and a note when it is not the one asked for: a table without a
    date or a number (a `notes` sheet) cannot change over time, and a small model that
    picked it is better served by the one table that can than by an error."""
    views = _views(con)
    if table not in views:
        lowered = {v.lower(): v for v in views}
        if table.lower() in lowered:
            table = lowered[table.lower()]
        else:
            raise ValueError(f"no table {table!r}; the tables are {views}")
    _, numeric, dates = _shape(con, table)
    if dates:  # with no number its rows are counted
        return table, []
    usable = [v for v in views if v != table and _shape(con, v)[2]]
    lacks = "date column"
    if len(usable) == 1:
        return usable[0], [f"{table} has no {lacks}, so this explains {usable[0]} instead."]
    if usable:
        raise ValueError(
            f"{table} has no {lacks} to measure a change in; tables that have both a date "
            f"and a number: {', '.join(usable)}"
        )
    raise ValueError(f"{table} has no {lacks} to measure a change in")


def _match_column(name: str, candidates: list[str]) -> str | None:
    """A column the model named loosely: case, plural, spaces for underscores."""

    def norm(s: str) -> str:
        s = re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")
        return s[:-1] if s.endswith("s") and not s.endswith("ss") else s

    by_norm = {norm(c): c for c in candidates}
    return by_norm.get(norm(name))


def _default_measure(con, table: str, numeric: list[str]) -> str:
    # The largest additive column is usually the one that matters (revenue over units,
    # amount over quantity); prices, rates and averages add up to nothing.
    if not numeric:
        return ROWS
    additive = [n for n in numeric if not _NOT_ADDITIVE.search(n)] or numeric
    sums = con.execute(
        "SELECT " + ", ".join(f"abs(sum({_ident(n)}))" for n in additive) + f" FROM {_ident(table)}"
    ).fetchone()
    return max(zip(sums, additive, strict=True), key=lambda x: x[0] or 0)[1]


def _categories(con, table: str, cols, skip: set[str]) -> list[str]:
    texts = [n for n, t in cols if n not in skip and (t in ("VARCHAR", "BOOLEAN") or "ENUM" in t)]
    texts = [n for n in texts if not _ID.search(n)]
    if not texts:
        return []
    counts = con.execute(
        "SELECT "
        + ", ".join(f"approx_count_distinct({_ident(n)})" for n in texts)
        + f" FROM {_ident(table)}"
    ).fetchone()
    return [n for n, k in zip(texts, counts, strict=True) if 1 < (k or 0) <= MAX_GROUPS]


def _mechanism(con, table: str, measure: str, numeric: list[str]) -> tuple[str, str] | None:
    """(volume column, label of the price or rate) when the measure is volume x price on
    every row (revenue = units x unit_price), or a count out of a larger column
    (conversions out of visits); None otherwise. Read from a sample of rows."""
    others = [n for n in numeric if n != measure]
    if not others:
        return None
    m = _ident(measure)
    sample = f"(SELECT * FROM {_ident(table)} WHERE {m} IS NOT NULL LIMIT {SAMPLE})"
    checks = []
    pairs = list(combinations(others, 2))
    for a, b in pairs:
        x, y = _ident(a), _ident(b)
        checks.append(
            f"avg(CASE WHEN abs({m} - {x} * {y}) <= 0.005 * abs({m}) + 0.011 THEN 1 ELSE 0 END)"
        )
    for d in others:
        checks.append(f"avg(CASE WHEN {m} >= 0 AND {m} <= {_ident(d)} THEN 1 ELSE 0 END)")
    checks.append(f"avg(CASE WHEN {m} > 0 THEN 1 ELSE 0 END)")
    found = con.execute(f"SELECT {', '.join(checks)} FROM {sample}").fetchone()
    if found[-1] is None or found[-1] < 0.5:
        return None
    types = dict((c[0], c[1]) for c in con.execute(f"DESCRIBE {_ident(table)}").fetchall())
    for (a, b), ok in zip(pairs, found, strict=False):
        if ok is not None and ok >= 0.99:
            # The price is the column named like one, else the one that is not whole.
            if (
                _PRICE_LIKE.search(a)
                and not _PRICE_LIKE.search(b)
                or not _PRICE_LIKE.search(b)
                and _INTEGER.match(types[b])
                and not _INTEGER.match(types[a])
            ):
                a, b = b, a
            return a, b
    ratio = found[len(pairs) : len(pairs) + len(others)]
    for d, ok in zip(others, ratio, strict=True):
        if ok is not None and ok >= 0.99 and not _NOT_ADDITIVE.search(d):
            return d, f"{measure} per {d}"
    return None


def explain_change(
    con: duckdb.DuckDBPyConnection,
    table: str,
    period: str | None = None,
    measure: str | None = None,
    date_column: str | None = None,
    previous: str | None = None,
    by: list[str] | None = None,
    top: int = 8,
    base: str = "previous",
    question: str | None = None,
) -> "ChangeReport":
    """Compare `period` of `table` with the period before it (`base="year"`: the same period
    a year earlier; `previous=`: any period) and explain the change: the cause (the most
    succinct set of groups that carries it, see the module docstring), its share of the
    change, what the rest of the table did, the mechanism (volume, price, mix) and the
    biggest group changes. The errors name the valid choices, so a model can fix its call
    in one step.

    `question`: the analyst's question. What it states is what is asked, so the period, the
    measure and the year-ago base it names are used when the call leaves them out, and win
    over a call that says otherwise (a small model copies its worked example's period and
    measure); the output says so when it overrides the call."""
    notes: list[str] = []
    table, notes_t = _resolve_table(con, table)
    notes += notes_t
    t = _ident(table)
    cols, numeric, dates = _shape(con, table)
    if measure is not None and measure.strip().lower() in _ROW_NAMES:
        measure = ROWS
    asked = _asked_measure(question, numeric) or _asked_count(question)
    if asked and asked != measure:
        if measure is not None and _match_column(measure, numeric) != asked:
            notes.append(f"The question asks about {asked}, so this measures {asked}.")
        measure = asked
    if question and base == "previous" and _YEAR_BASE.search(question):
        base = "year"
    if measure is None:
        measure = _default_measure(con, table, numeric)
    elif measure not in numeric and measure != ROWS:
        names = [c for c, _ in cols]
        loose = _match_column(measure, numeric)
        if loose:
            measure = loose
        elif measure in names or _match_column(measure, names):
            raise ValueError(
                f"{measure!r} is not a numeric column of {table}; the numeric columns are "
                f"{', '.join(numeric)}. Leave measure out to use the largest one: "
                f'explain_change("{table}", period="{period}")'
            )
        else:
            chosen = _default_measure(con, table, numeric)
            notes.append(
                f"{table} has no column {measure!r}, so this measures {chosen} (the numeric "
                f"columns are {', '.join(numeric)})."
            )
            measure = chosen
    if date_column is None:
        date_column = dates[0]
    elif date_column not in dates:
        raise ValueError(f"{date_column!r} is not a date column of {table}; use one of {dates}")
    d = _ident(date_column)
    latest, last_date = con.execute(f"SELECT max(year({d})), max({d}) FROM {t}").fetchone()
    pair = asked_periods(question or "", latest)
    if pair and previous is None:
        previous = pair[0]
    named = pair[1] if pair else asked_period(question or "")
    if named and period and _same_period(named, period, latest) is False:
        notes.append(f"The question asks about {named}, so this compares {named}, not {period}.")
        period = named
    period = period or named
    if not period:
        raise ValueError(
            'give the period to explain, e.g. explain_change("'
            + table
            + '", period="2025-Q3"), "2025-07", "July" or "2025"'
        )
    cur = _period(con, t, date_column, period, latest, last_date)
    if previous:
        prev = parse_period(previous, latest)
        base_text = f"{_label(*prev)}, as asked"
    elif base.lower().startswith(("year", "yoy", "same")):
        prev = (cur[0] - 1, cur[1], cur[2])
        base_text = f"the same {_UNIT_NAMES[cur[1]]} a year earlier ({_label(*prev)})"
    elif base.lower().startswith("prev"):
        prev = previous_period(*cur)
        base_text = f"the previous {_UNIT_NAMES[cur[1]]} ({_label(*prev)})"
    else:
        raise ValueError(f"base={base!r}: use base='previous' or base='year'")
    categories = _categories(con, table, cols, {measure, date_column})
    focus = _asked_values(con, table, cols, categories, question)
    source = t
    if focus:
        # "the number of returned orders": the measure is of those rows only.
        source = f"(SELECT * FROM {t} WHERE {_where(focus)})"
        scope = "; ".join(f"{c}={'/'.join(v)}" for c, v in focus.items())
        notes.append(f"Only the rows where {scope}, as the question names it.")
    if by is None:
        by = [c for c in categories if c not in focus]
    else:
        unknown = [b for b in by if b not in [c for c, _ in cols]]
        if unknown:
            raise ValueError(
                f"{unknown} are not columns of {table}; the columns are {[c for c, _ in cols]}"
            )
    mech = _mechanism(con, table, measure, numeric) if measure != ROWS else None
    leaves, by = _leaves(con, source, measure, date_column, prev, cur, by, mech)
    b_tot, a_tot = float(leaves["b"].sum()), float(leaves["a"].sum())
    total = Change("total", b_tot, a_tot)
    label = f"{measure} ({scope})" if focus else measure
    report = ChangeReport(label, _label(*prev), _label(*cur), total, [], base=base_text)
    report.notes = notes
    if cur[0] > latest or (a_tot == 0 and not len(leaves)):
        raise ValueError(f"{table} has no rows in {_label(*cur)}; its last date is {last_date}")
    report.changes = _group_changes(leaves, by, top, total.change < 0)
    if by and len(leaves):
        report.cause = _localize(leaves, by, total)
    if mech:
        report.mechanism = _decompose(leaves, by, mech, report.cause)
    if base_text.startswith("the previous") and cur[1] != "year":
        report.seasonal = _seasonal_hint(
            con, source, measure, date_column, prev, cur, table, period
        )
    return report


_MONTH_WORDS = (
    "january|february|march|april|june|july|august|september|october|november|december|"
    "sept|jan|feb|mar|apr|jun|jul|aug|sep|oct|nov|dec"
)
# Periods as questions name them, most specific first. "May" is also a verb and short month
# names are also words, so those count only capitalised or with a year.
_ASKED_PERIODS = [
    re.compile(r"\b(\d{4})\s*-?\s*Q([1-4])\b", re.IGNORECASE),
    re.compile(r"\bQ([1-4])(?:\s*(?:of\s+)?(?:FY\s*)?(\d{4}))?\b", re.IGNORECASE),
    re.compile(r"\b(\d{4})-(\d{2})\b"),
    re.compile(rf"\b((?i:{_MONTH_WORDS}|may)\s+\d{{4}})\b"),
    re.compile(
        r"\b(January|February|March|April|May|June|July|August|September|October|"
        r"November|December|january|february|april|june|july|august|september|october|"
        r"november|december|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\b"
    ),
    re.compile(r"\b(?:in|of|for|during)\s+((?:19|20)\d{2})\b", re.IGNORECASE),
]
_YEAR_BASE = re.compile(
    r"year[- ]over[- ]year|\byoy\b|a year (?:earlier|before|ago)|same (?:quarter|month|period) "
    r"(?:of |in )?(?:last|the previous|the prior) year|than last year|vs\.? last year|"
    r"(?:compared|relative) (?:to|with) (?:the same \w+ (?:of |in )?)?last year",
    re.IGNORECASE,
)


# Two periods a question compares ("from 2024 to 2025", "between Q2 and Q3 2025"): each a
# quarter, a month or a year as `parse_period` reads it.
_PERIOD_TEXT = (
    rf"(?:\d{{4}}\s*-?\s*Q[1-4]|Q[1-4](?:\s+\d{{4}})?|\d{{4}}-\d{{2}}|"
    rf"(?:{_MONTH_WORDS}|may)(?:\s+\d{{4}})?|(?:19|20)\d{{2}})"
)
_PERIOD_PAIR = re.compile(
    rf"\b(?:from|between)\s+({_PERIOD_TEXT})\s+(?:to|and|vs\.?|versus)\s+({_PERIOD_TEXT})\b",
    re.IGNORECASE,
)


def asked_periods(question: str, latest: int) -> tuple[str, str] | None:
    """The two periods of one kind a question compares, earlier first ('2024', '2025' of
    "from 2024 to 2025"), or None. Asked "By what percentage did the total change from
    2024 to 2025?", explain_change compared 2025's last quarter with the one before."""
    m = _PERIOD_PAIR.search(question)
    if m is None:
        return None
    a, b = m.group(1), m.group(2)
    try:
        pa, pb = parse_period(a, latest), parse_period(b, latest)
    except ValueError:
        return None
    if pa[1] != pb[1] or pa == pb:
        return None
    return (a, b) if pa < pb else (b, a)


def asked_period(question: str) -> str | None:
    """The period a question names, as `parse_period` reads it ('Q4 2025', 'June', '2025-07',
    'March 2024', '2025'), or None."""
    for i, pattern in enumerate(_ASKED_PERIODS):
        m = pattern.search(question)
        if not m:
            continue
        if i == 0:
            return f"{m.group(1)}-Q{m.group(2)}"
        if i == 1:
            return f"Q{m.group(1)}" + (f" {m.group(2)}" if m.group(2) else "")
        return m.group(1) if i != 2 else f"{m.group(1)}-{m.group(2)}"
    return None


def _same_period(a: str, b: str, latest: int) -> bool | None:
    """Whether two period texts name the same period; None when one cannot be read (a
    relative one like 'last month' is left to the call)."""
    try:
        return parse_period(a, latest) == parse_period(b, latest)
    except ValueError:
        return None


def _asked_measure(question: str | None, numeric: list[str]) -> str | None:
    """The numeric column the question names ("why did conversions drop?"), by its name or
    its words (plural or not); the one named first, the longer name on a tie; None when it
    names none."""
    if not question:
        return None
    words = " " + re.sub(r"[^a-z0-9]+", " ", question.lower()) + " "
    found = []
    for col in numeric:
        name = re.sub(r"[^a-z0-9]+", " ", col.lower()).strip()
        if not name or name in {"id", "year", "month", "day"}:
            continue
        singular = name[:-1] if name.endswith("s") and not name.endswith("ss") else name
        m = re.search(rf" {re.escape(singular)}s? ", words)
        if m:
            found.append((m.start(), -len(name), col))
    return min(found)[2] if found else None


def _asked_values(con, table: str, cols, categories: list[str], question: str | None) -> dict:
    """The values of category columns the question names ("returned orders", "Web
    sessions"), by column: the rows the change is of (profile.values_named_in says which
    words name a value). Every category's values come from one scan of the table."""
    if not question or not categories:
        return {}
    names = [table] + [c for c, _ in cols]
    lists = con.execute(
        "SELECT "
        + ", ".join(f"array_agg(DISTINCT CAST({_ident(c)} AS VARCHAR))" for c in categories)
        + f" FROM {_ident(table)}"
    ).fetchone()
    found: dict[str, list[str]] = {}
    for col, values in zip(categories, lists, strict=True):
        named = values_named_in(question, [v for v in values or [] if v is not None], names)
        if named:
            found[col] = named
    return found


def _where(focus: dict[str, list[str]]) -> str:
    def quoted(v: str) -> str:
        return "'" + v.replace("'", "''") + "'"

    return " AND ".join(
        f"CAST({_ident(c)} AS VARCHAR) IN ({', '.join(map(quoted, vs))})" for c, vs in focus.items()
    )


def _asked_count(question: str | None) -> str | None:
    """ROWS when the question counts ("the number of orders", "how many tickets", "order
    count") and names no numeric column; None otherwise."""
    return ROWS if question and _COUNTS.search(question) else None


def _total(measure: str, where: str) -> str:
    """The SQL aggregate of `measure` over the rows `where` selects."""
    agg = "count(*)" if measure == ROWS else f"sum({_ident(measure)})"
    return f"{agg} FILTER (WHERE {where})"


def _period(con, t: str, date_column: str, text: str, latest: int, last_date) -> tuple:
    """The period asked for. 'last month' / 'latest quarter' are read from the data; a
    period named without a year ('Q3', 'March') is the latest one that has data."""
    s = text.strip().lower()
    if m := re.fullmatch(r"(last|latest|this|current|most recent)\s+(month|quarter|year)", s):
        unit = m.group(2)
        y = last_date.year
        index = {"year": 1, "quarter": (last_date.month - 1) // 3 + 1, "month": last_date.month}
        return y, unit, index[unit]
    cur = parse_period(text, latest)
    has_year = re.search(r"\d{4}", text) is not None
    if not has_year and cur[1] != "year":
        n = con.execute(f"SELECT count(*) FROM {t} WHERE {_condition(date_column, *cur)}")
        if n.fetchone()[0] == 0:
            cur = (cur[0] - 1, cur[1], cur[2])
    return cur


def _leaves(con, source, measure, date_column, prev, cur, by, mech) -> tuple[pd.DataFrame, list]:
    """The measure (and the volume column) per finest group, before (b) and after (a): the
    one scan of `source` (the quoted table, or a query of the rows the question names).
    Columns whose combinations would not fit are left out, widest first."""
    distinct = {}
    if by:
        row = con.execute(
            "SELECT "
            + ", ".join(f"approx_count_distinct({_ident(c)})" for c in by)
            + f" FROM {source}"
        ).fetchone()
        distinct = dict(zip(by, row, strict=True))
    by = list(by)
    while by and np.prod([max(distinct[c] or 1, 1) for c in by], dtype=float) > MAX_LEAVES:
        by.remove(max(by, key=lambda c: distinct[c]))
    before = _condition(date_column, *prev)
    after = _condition(date_column, *cur)
    sums = [f"{_total(measure, before)} AS b", f"{_total(measure, after)} AS a"]
    if mech:
        u = _ident(mech[0])
        sums += [
            f"sum({u}) FILTER (WHERE {before}) AS ub",
            f"sum({u}) FILTER (WHERE {after}) AS ua",
        ]
    keys = [f"coalesce(CAST({_ident(c)} AS VARCHAR), '(blank)') AS {_ident(c)}" for c in by]
    select = ", ".join(keys + sums)
    group = " GROUP BY ALL" if by else ""
    df = con.execute(f"SELECT {select} FROM {source} WHERE {before} OR {after}{group}").df()
    for c in ("b", "a", "ub", "ua"):
        if c in df:
            df[c] = df[c].astype(float).fillna(0.0)
    return df, by


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


def _label_of(columns, values) -> str:
    return ", ".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))


def _group_changes(leaves: pd.DataFrame, by: list[str], top: int, falling: bool) -> list[Change]:
    """Every single column and pair of columns, biggest changes first (the plain breakdown
    that non-"why" questions use)."""
    changes: list[Change] = []
    for group in [[c] for c in by] + [list(p) for p in combinations(by, 2)]:
        sums = leaves.groupby(group, sort=False)[["b", "a"]].sum()
        for values, row in sums.iterrows():
            values = values if isinstance(values, tuple) else (values,)
            changes.append(Change(_label_of(group, values), row.b, row.a, tuple(group)))
    changes = _drop_superseded(changes)
    changes.sort(key=lambda c: c.change, reverse=not falling)
    return changes[:top]


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
class Cause:
    """The groups that carry the change, with what the rest of the table did."""

    columns: tuple[str, ...]
    groups: list[Change]  # one to MAX_CAUSE_GROUPS groups of `columns`
    score: float  # the generalized potential score of the hypothesis, <= 1
    rest: list[tuple[str, float | None]] = field(default_factory=list)  # (what, % change)
    parents: list[tuple[Change, float]] = field(default_factory=list)  # (parent, share carried)

    @property
    def before(self) -> float:
        return sum(g.before for g in self.groups)

    @property
    def after(self) -> float:
        return sum(g.after for g in self.groups)

    @property
    def change(self) -> float:
        return self.after - self.before


def _localize(leaves: pd.DataFrame, by: list[str], total: Change) -> "Cause | None":
    b = leaves["b"].to_numpy()
    a = leaves["a"].to_numpy()
    r0 = a.sum() / b.sum() if b.sum() else 1.0
    baseline = np.abs(a - b * r0).sum()
    if baseline == 0:
        return None
    candidates = []  # (simplicity, score, columns, leaf codes, chosen group codes)
    for depth in range(1, min(MAX_DEPTH, len(by)) + 1):
        for cols in combinations(by, depth):
            codes = leaves.groupby(list(cols), sort=False).ngroup().to_numpy()
            eb = np.bincount(codes, weights=b)
            ea = np.bincount(codes, weights=a)
            own = ea / np.where(eb > 0, eb, 1.0)
            deviation = ea - eb * r0
            # The largest deviations either way: a collapse can hide under a seasonal rise.
            prefixes = []
            for sign in (1.0, -1.0):
                order = [
                    i
                    for i in np.argsort(-sign * deviation)[:MAX_CAUSE_GROUPS]
                    if sign * deviation[i] > 0
                ]
                prefixes += [order[:k] for k in range(1, len(order) + 1)]
            for prefix in prefixes:
                chosen = np.array(prefix)
                k = len(prefix)
                inside = np.isin(codes, chosen)
                rb, ra = b[~inside].sum(), a[~inside].sum()
                r = ra / rb if rb else r0
                # Inside the cause every finest group moves with its cause group (a group
                # that is new has no rate: it is taken as it is); outside, at the rest's rate.
                expected = np.where(inside, np.where(eb[codes] > 0, b * own[codes], a), b * r)
                score = 1 - np.abs(a - expected).sum() / baseline
                candidates.append((k + depth, score, cols, codes, chosen))
    if not candidates:
        return None
    if DEBUG:
        for c in sorted(candidates, key=lambda c: -c[1])[:8]:
            print("cand", round(c[1], 3), c[0], c[2], c[4])  # noqa: T201
    best = max(c[1] for c in candidates)
    if best < MIN_SCORE:
        return None
    fit = [c for c in candidates if c[1] >= best - TOLERANCE * max(best, 0.5)]

    def power(c) -> float:  # explanatory power: how much of the change the groups carry
        inside = np.isin(c[3], c[4])
        return abs(a[inside].sum() - b[inside].sum())

    # The most succinct; among equally succinct ones the one that carries the most change
    # (of a two-valued column, the value that fell rather than the one that held).
    _, score, cols, codes, chosen = min(fit, key=lambda c: (c[0], -power(c)))
    cols = list(cols)
    first = pd.Series(np.arange(len(codes))).groupby(codes).first()  # a leaf of each group
    groups = []
    for i in chosen:
        values = tuple(leaves.iloc[first[i]][cols])
        here = codes == i
        groups.append(
            Change(_label_of(cols, values), float(b[here].sum()), float(a[here].sum()), tuple(cols))
        )
    cause = Cause(tuple(cols), groups, float(score))
    inside = np.isin(codes, chosen)
    if len(cols) > 1 and len(groups) == 1:
        # What the rest of each parent did, and how much of the parent's change the cause
        # carries: the drill-down an analyst would show.
        values = tuple(leaves.iloc[first[chosen[0]]][cols])
        outside = np.ones(len(leaves), dtype=bool)
        for col, value in zip(cols, values, strict=True):
            in_parent = (leaves[col] == value).to_numpy()
            outside &= ~in_parent
            parent = Change(
                f"{col}={value}", float(b[in_parent].sum()), float(a[in_parent].sum()), (col,)
            )
            share = groups[0].change / parent.change if parent.change else float("nan")
            cause.parents.append((parent, share))
            rest = in_parent & ~inside
            cause.rest.append((f"the rest of {col}={value}", _pct_of(b[rest].sum(), a[rest].sum())))
        cause.rest.append(("everything else", _pct_of(b[outside].sum(), a[outside].sum())))
    else:
        cause.rest.append(("the rest of the table", _pct_of(b[~inside].sum(), a[~inside].sum())))
    return cause


def _pct_of(before: float, after: float) -> float | None:
    return 100 * (after - before) / before if before else None


@dataclass
class Mechanism:
    """Price-volume-mix split of a change: volume + price + mix = the change."""

    where: str  # "total" or the cause's label
    volume_column: str
    price_label: str
    volume_before: float
    volume_after: float
    price_before: float | None  # measure per unit of volume
    price_after: float | None
    volume: float  # effect on the measure
    price: float
    mix: float

    @property
    def moved(self) -> str:
        effects = {"volume": self.volume, "price": self.price, "mix": self.mix}
        return max(effects, key=lambda k: abs(effects[k]))


def _decompose(leaves, by, mech, cause) -> list[Mechanism]:
    volume_column, price_label = mech
    out = [_pvm(leaves, "total", volume_column, price_label)]
    if cause is not None:
        mask = np.zeros(len(leaves), dtype=bool)
        for g in cause.groups:
            values = [part.split("=", 1)[1] for part in g.group.split(", ")]
            here = np.ones(len(leaves), dtype=bool)
            for col, v in zip(cause.columns, values, strict=True):
                here &= (leaves[col] == v).to_numpy()
            mask |= here
        where = " + ".join(g.group for g in cause.groups)
        out.append(_pvm(leaves[mask], where, volume_column, price_label))
    return out


def _pvm(leaves: pd.DataFrame, where: str, volume_column: str, price_label: str) -> Mechanism:
    r0, r1 = leaves["b"].to_numpy(), leaves["a"].to_numpy()
    u0, u1 = leaves["ub"].to_numpy(), leaves["ua"].to_numpy()
    U0, U1 = u0.sum(), u1.sum()
    P0 = r0.sum() / U0 if U0 else None
    P1 = r1.sum() / U1 if U1 else None
    both = (u0 > 0) & (u1 > 0)
    p0 = np.divide(r0, u0, out=np.zeros_like(r0), where=u0 > 0)
    p1 = np.divide(r1, u1, out=np.zeros_like(r1), where=u1 > 0)
    volume = (U1 - U0) * (P0 or 0.0)
    price = float(((p1 - p0) * u1)[both].sum())
    mix = float(r1.sum() - r0.sum() - volume - price)
    return Mechanism(where, volume_column, price_label, U0, U1, P0, P1, volume, price, mix)


def _seasonal_hint(con, t, measure, date_column, prev, cur, table, period) -> str:
    """When the same two periods a year earlier moved the same way, the previous period is a
    misleading base: say so, with the call that compares with a year earlier."""
    last_prev = (prev[0] - 1, prev[1], prev[2])
    last_cur = (cur[0] - 1, cur[1], cur[2])
    row = con.execute(
        "SELECT "
        + ", ".join(
            _total(measure, _condition(date_column, *p)) for p in (prev, cur, last_prev, last_cur)
        )
        + f" FROM {t}"
    ).fetchone()
    b, a, lb, la = (float(x) if x is not None else None for x in row)
    if not (b and a and lb and la):
        return ""
    now, then = (a - b) / b, (la - lb) / lb
    if then * now > 0 and abs(then) >= 0.5 * abs(now):
        yoy = (a - la) / la
        return (
            f"Seasonality: a year earlier {measure} also moved {100 * then:+.1f} % from "
            f"{_label(*last_prev)} to {_label(*last_cur)}, so part of this change is seasonal; "
            f"against {_label(*last_cur)} it moved {100 * yoy:+.1f} %. Compare with the same "
            f'period a year earlier: explain_change("{table}", period="{period}", base="year")'
        )
    return ""


@dataclass
class ChangeReport:
    """What `explain_change` returns: printed as plain sentences (small models read those far
    better than a wide table) ending in a one-line summary a model can copy; `.table` has
    the group figures as a DataFrame."""

    measure: str
    before_label: str
    after_label: str
    total: Change
    changes: list[Change]
    base: str = ""
    cause: Cause | None = None
    mechanism: list[Mechanism] = field(default_factory=list)
    seasonal: str = ""
    notes: list[str] = field(default_factory=list)

    def chart(self):
        """A contribution (waterfall) chart: the total before, the change each cause group
        carried, what the rest of the table did, the total after; titled with the finding.
        Returns the matplotlib figure (the worker saves it with the cell's output)."""
        import matplotlib.pyplot as plt

        t = self.total
        steps = [
            (g.group.replace(", ", "\n"), g.change)
            for g in (self.cause.groups if self.cause else [])
        ]
        rest = t.change - sum(change for _, change in steps)
        steps.append(("the rest" if steps else "all groups", rest))
        fig, ax = plt.subplots(figsize=(7, 3.8))
        labels = [self.before_label, *(label for label, _ in steps), self.after_label]
        level = t.before
        ax.bar(0, t.before, color="#8a94a6")
        for i, (_, change) in enumerate(steps, 1):
            ax.bar(i, change, bottom=level, color="#c0392b" if change < 0 else "#2e8b57")
            ax.annotate(
                _signed(change), (i, level + max(change, 0)), ha="center", va="bottom", fontsize=8
            )
            level += change
        ax.bar(len(steps) + 1, t.after, color="#8a94a6")
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_ylabel(self.measure)
        # Zoom to where the change happens (the bars' common base says nothing), with room
        # above for the labels; thousands separators on the axis.
        tops, lows, running = [t.before, t.after], [t.before, t.after], t.before
        for _, change in steps:
            tops.append(running + max(change, 0))
            lows.append(running + min(change, 0))
            running += change
        span = (max(tops) - min(lows)) or abs(t.before) or 1.0
        bottom = min(lows) - 0.3 * span
        ax.set_ylim(
            bottom if bottom > 0 else min(0.0, min(lows) - 0.1 * span), max(tops) + 0.15 * span
        )
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
        verb = "fell" if t.change < 0 else "rose"
        size = f"{abs(t.pct):.1f} %" if t.pct is not None else _num(abs(t.change))
        title = f"{self.measure} {verb} {size}, {self.before_label} to {self.after_label}"
        if self.cause is not None and t.change:
            share = 100 * sum(g.change for g in self.cause.groups) / t.change
            title += f"; {self.cause.groups[0].group} carries {share:.0f} %"
        ax.set_title(title, fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        return fig

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

    def _share(self, change: float) -> str:
        t = self.total.change
        if not t:
            return ""
        if abs(change / t) > 3:  # a small net change: the rest moved the other way
            return ", far more than the net change (the rest moved the other way)"
        return f", {100 * change / t:.1f} % of the total change"

    def __str__(self) -> str:
        t = self.total
        verb = "fell" if t.change < 0 else "rose"
        lines = list(self.notes)
        lines.append(
            f"Total {self.measure} {verb} from {_num(t.before)} in {self.before_label} to "
            f"{_num(t.after)} in {self.after_label}: {_signed(t.change)}{_pct(t.pct)}."
        )
        if self.base:
            lines.append(f"Base: {self.base}.")
        c = self.cause
        if c is not None:
            for i, g in enumerate(c.groups):
                head = "Also:"
                if i == 0:
                    head = "Cause:" if c.score >= CLEAR_SCORE else "Likely cause (noise is large):"
                lines.append(
                    f"{head} {g.group}: from {_num(g.before)} to {_num(g.after)}, "
                    f"{_signed(g.change)}{_pct(g.pct)}{self._share(g.change)}."
                )
            for parent, share in c.parents:
                if share == share:  # not NaN
                    lines.append(
                        f"Drill-down: {parent.group} {_signed(parent.change)}{_pct(parent.pct)}; "
                        f"{c.groups[0].group} carries {100 * share:.0f} % of that."
                    )
            rest = "; ".join(f"{what} {_pctword(p)}" for what, p in c.rest)
            lines.append(f"Meanwhile {rest}.")
        else:
            lines.append("No small set of groups explains the change: it is spread out.")
        for mech in self.mechanism:
            lines.append(_mechanism_sentence(self.measure, mech))
        if self.seasonal:
            lines.append(self.seasonal)
        if self.changes:
            lines.append("Groups with the biggest changes:")
        for i, g in enumerate(self.changes, 1):
            lines.append(
                f"{i}. {g.group}: from {_num(g.before)} to {_num(g.after)}, "
                f"{_signed(g.change)}{_pct(g.pct)}{self._share(g.change)}"
            )
        lines.append(self.summary())
        return "\n".join(lines)

    def summary(self) -> str:
        """One sentence with the change, the cause, its share, the mechanism and the base."""
        t = self.total
        verb = "fell" if t.change < 0 else "rose"
        s = (
            # "fell by 136,482.47", not "fell -136,482.47": the verb carries the sign.
            f"In short: {self.measure} {verb} by {_num(abs(t.change))}{_pct(t.pct)} from "
            f"{self.before_label} to {self.after_label}"
        )
        c = self.cause
        if c is None:
            return s + "; the change was spread across the groups."
        names = " and ".join(g.group for g in c.groups)
        s += f"; the cause is {names} ({_signed(c.change)}{self._share(c.change)})"
        mech = self.mechanism[-1] if self.mechanism else None
        if mech is not None and mech.where != "total":
            s += f", through {_moved(mech)}"
        return s + f" (base: {self.base or self.before_label})."

    __repr__ = __str__


def _moved(m: Mechanism) -> str:
    vol = _pct_of(m.volume_before, m.volume_after)
    price = (
        _pct_of(m.price_before, m.price_after)
        if m.price_before and m.price_after is not None
        else None
    )
    if m.moved == "price":
        return f"{m.price_label} ({_pctword(price)}) while {m.volume_column} {_pctword(vol)}"
    if m.moved == "volume":
        return f"{m.volume_column} ({_pctword(vol)}), not {m.price_label} ({_pctword(price)})"
    return f"mix (a shift towards groups with a different {m.price_label})"


def _mechanism_sentence(measure: str, m: Mechanism) -> str:
    vol = _pct_of(m.volume_before, m.volume_after)
    price = (
        _pct_of(m.price_before, m.price_after)
        if m.price_before and m.price_after is not None
        else None
    )
    kind = "rate" if " per " in m.price_label else "price"
    moved = {"volume": m.volume_column, "price": m.price_label, "mix": "the mix"}[m.moved]
    return (
        f"Mechanism ({m.where}): {m.volume_column} {_num(m.volume_before)} -> "
        f"{_num(m.volume_after)} ({_pctword(vol)}), {m.price_label} {_pctword(price)}; "
        f"volume effect {_signed(m.volume)}, {kind} effect {_signed(m.price)}, "
        f"mix effect {_signed(m.mix)}: {moved} moved most."
    )


def _pctword(p: float | None) -> str:
    return "n/a" if p is None else f"{p:+.1f} %"


def _num(x: float) -> str:
    return f"{x:,.2f}".rstrip("0").rstrip(".") if x % 1 else f"{x:,.0f}"


def _signed(x: float) -> str:
    return ("+" if x >= 0 else "-") + _num(abs(x))


def _pct(p: float | None) -> str:
    return "" if p is None else f" ({p:+.1f} %)"

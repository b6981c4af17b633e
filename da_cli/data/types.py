"""Numbers and dates stored as text, read as what they are (and times as durations).

Untyped SQLite columns (`CREATE TABLE t (date, region, sales)`) reach DuckDB as BLOB, and
quoted or decimal-comma CSV numbers (`"1.000,50"` with `;` separators) as VARCHAR: `sum()`
fails on them and the profile shows `b'2.5'`. `retype` wraps a view's SELECT so that such a
column is a number (or a date) everywhere the view is read: the profile, `sql()` and
`explain_change` alike. It only changes how the source is read, never the source.

A column is converted when every non-empty value among the first SAMPLE rows has one
number (or date) format; a later value that does not parse reads as NULL. Values with a
leading zero (`007`, zip codes) and columns named like identifiers stay text.
"""

import re
from dataclasses import dataclass

SAMPLE = 100_000

_ID_NAME = re.compile(r"(^|_)(id|key|code|zip|postcode|postal_code|phone|uuid|no)$", re.I)
_PLAIN = r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
_US = r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?"  # 1,000.50
_EU = r"[-+]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?"  # 1.000,50 or 20,5
_LEADING_ZERO = r"[-+]?0\d.*"
_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
_ISO_TIME = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
_DOT_DATE = r"\d{1,2}\.\d{1,2}\.\d{4}"
_SLASH_ISO = r"\d{4}/\d{1,2}/\d{1,2}"


@dataclass(frozen=True)
class Conversion:
    column: str
    source_type: str  # VARCHAR, BLOB or TIME
    target_type: str  # BIGINT, DOUBLE, DATE, TIMESTAMP, INTERVAL or VARCHAR (BLOB that is text)
    how: str  # "numbers", "decimal commas", "thousands separators", "dates", "text", "times"

    def __str__(self) -> str:
        if self.source_type == "TIME":
            return f"{self.column} (times of day -> INTERVAL since 00:00)"
        source = self.source_type.lower()
        return f"{self.column} ({self.how} stored as {source} -> {self.target_type})"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def retype(con, select: str) -> tuple[str, list[Conversion]]:
    """`select` with its text-stored numbers and dates cast, and what was converted."""
    described = con.execute(f"DESCRIBE {select}").fetchall()
    replace, done = _durations([r[0] for r in described if r[1] == "TIME"])
    texts = [(r[0], r[1]) for r in described if r[1] in ("VARCHAR", "BLOB")]
    if not texts:
        return _replaced(select, replace), done
    # BLOB from an untyped SQLite column is the value's text; a real binary value reads NULL.
    text = {c: (f"try(decode({_ident(c)}))" if t == "BLOB" else _ident(c)) for c, t in texts}
    checks = []
    for c, _ in texts:
        v = f"nullif(trim({text[c]}), '')"
        for pattern in (
            _PLAIN,
            _US,
            _EU,
            _LEADING_ZERO,
            _ISO_DATE,
            _ISO_TIME,
            _DOT_DATE,
            _SLASH_ISO,
        ):
            checks.append(f"count_if(regexp_full_match({v}, {_quote(pattern)}))")
        checks.append(f"count_if(regexp_full_match({v}, '[-+]?\\d+'))")  # whole numbers
        checks.append(f"count({v})")
    row = con.execute(
        f"SELECT {', '.join(checks)} FROM (SELECT * FROM ({select}) LIMIT {SAMPLE})"
    ).fetchone()
    per = 10
    for i, (c, ctype) in enumerate(texts):
        plain, us, eu, zero, iso, iso_time, dot, slash, whole, n = row[per * i : per * (i + 1)]
        v = f"nullif(trim({text[c]}), '')"
        expr, target, how = None, None, None
        if n and not zero and not _ID_NAME.search(c):
            if plain == n:
                target = "BIGINT" if whole == n else "DOUBLE"
                expr, how = f"TRY_CAST({v} AS {target})", "numbers"
            elif us + plain == n and us:
                expr = f"TRY_CAST(replace({v}, ',', '') AS DOUBLE)"
                target, how = "DOUBLE", "thousands separators"
            elif eu == n:
                expr = f"TRY_CAST(replace(replace({v}, '.', ''), ',', '.') AS DOUBLE)"
                target, how = "DOUBLE", "decimal commas"
        if expr is None and n:
            if iso == n:
                expr, target, how = f"TRY_CAST({v} AS DATE)", "DATE", "dates"
            elif iso + iso_time == n:
                expr, target, how = f"TRY_CAST({v} AS TIMESTAMP)", "TIMESTAMP", "dates"
            elif dot == n:
                expr = f"try_strptime({v}, '%d.%m.%Y')::DATE"
                target, how = "DATE", "dates"
            elif slash == n:
                expr = f"try_strptime({v}, '%Y/%m/%d')::DATE"
                target, how = "DATE", "dates"
        if expr is None and ctype == "BLOB":
            expr, target, how = text[c], "VARCHAR", "text"
        if expr is not None:
            replace.append(f"{expr} AS {_ident(c)}")
            done.append(Conversion(c, ctype, target, how))
    return _replaced(select, replace), done


def _durations(columns: list[str]) -> tuple[list[str], list[Conversion]]:
    """TIME columns (`00:01:04`, which DuckDB's CSV sniffer reads as a time of day) as
    INTERVAL, the time since midnight. In pandas a TIME is a column of `datetime.time`
    objects that take no arithmetic: no mean, no difference, no `.dt`, and `pd.to_datetime`
    refuses them, and the 1.5B tried all four on an "average wait time" column. An INTERVAL
    is pandas' timedelta: mean, std, z-scores and `.dt.total_seconds()` work, and SQL still
    compares it with '00:00:30' and takes its max and avg."""
    replace = [f"to_microseconds(epoch_us({_ident(c)})) AS {_ident(c)}" for c in columns]
    return replace, [Conversion(c, "TIME", "INTERVAL", "times") for c in columns]


def _replaced(select: str, replace: list[str]) -> str:
    if not replace:
        return select
    return f"SELECT * REPLACE ({', '.join(replace)}) FROM ({select})"

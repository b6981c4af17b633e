"""A compact, true picture of the data for the prompt, computed inside DuckDB.

Small models copy what they see, so the profile shows the real view and column names,
types, ranges, a few sample rows and the keys that join tables, and nothing it did not
compute. Each view is scanned once (all column statistics in one aggregate), nothing is
pulled into Python but the results, and the text is fitted to a token budget by showing
less detail, never by cutting mid-table. Profiles are cached by a fingerprint of the
sources, so asking a second question about a 2 GB file does not scan it again.
"""

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from da_cli import paths
from da_cli.data.catalog import Catalog, _ident
from da_cli.data.naming import source_names
from da_cli.errors import DataError

VERSION = 8  # bump when the cached structure changes
MAX_COLUMNS = 300  # statistics beyond this many columns are not computed at all
SAMPLE_ROWS = 3
TOP_VALUES = 6
TOP_WHEN_DISTINCT = 20  # a text column with at most this many values lists them
BUDGET_TOKENS = 2000
CHARS_PER_TOKEN = 3.5  # conservative for code-tuned BPE vocabularies on this kind of text

_ORDERED = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w*INT|FLOAT|DOUBLE|"
    r"DECIMAL.*|DATE|TIME.*|TIMESTAMP.*|INTERVAL|VARCHAR|BOOLEAN)$"
)


@dataclass
class ColumnProfile:
    name: str
    type: str
    nulls: float  # share of rows that are null
    distinct: int  # approximate unless `exact`
    min: str | None
    max: str | None
    top: list[str] = field(default_factory=list)  # most frequent first, equal counts by value
    exact: bool = False  # `distinct` was counted, not estimated
    # Text that is mostly numbers, some with text after them (`630308[495000-801000]`,
    # `45%`, `$1,200`): one such value, shown with how to take the number.
    numbers_with_text: str = ""
    # Every value of a text column of at most TOP_WHEN_DISTINCT (not rendered): the values
    # a question can name as the rows it is about ("first visits", "air shipments").
    values: list[str] = field(default_factory=list)


@dataclass
class ViewProfile:
    name: str
    source: str
    detail: str
    rows: int
    columns: list[ColumnProfile]
    sample: list[list[str]]
    total_columns: int
    note: str = ""  # what reading the source skipped or could not be sure of
    converted: str = ""  # text columns read as numbers or dates (data/types.py)


@dataclass
class Join:
    left: str  # "table.column" holding the reference
    right: str  # "table.column" where that value is unique


def profile(
    catalog: Catalog, con: duckdb.DuckDBPyConnection | None = None, *, cache: bool = True
) -> list[ViewProfile]:
    memo = _cache_file(catalog) if cache else None
    if memo and memo.is_file():
        try:
            return [_from_dict(d) for d in json.loads(memo.read_text())]
        except (ValueError, KeyError, TypeError):
            pass  # an older or damaged cache entry: recompute it
    con = con or catalog.connect()
    out = []
    for view in catalog.views:
        try:
            out.append(_profile_view(con, view.name, view.source, view.detail, view.note))
            out[-1].converted = view.converted
        except duckdb.Error as e:
            first = str(e).strip().splitlines()[0].rstrip(".")
            where = Path(view.source).name
            raise DataError(f"Table {view.name} from {where} cannot be read: {first}.") from e
    if memo:
        paths.ensure(memo.parent)
        tmp = memo.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(p) for p in out]))
        tmp.replace(memo)
    return out


def _cache_file(catalog: Catalog) -> Path | None:
    # A view's note is part of what is cached: the same SQL can come with another note.
    parts = [str(VERSION), *catalog.statements, *(v.note for v in catalog.views)]
    for source in catalog.sources:
        try:
            st = Path(source).stat()
        except OSError:
            return None
        parts.append(f"{source}|{st.st_size}|{st.st_mtime_ns}")
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
    return paths.derived_dir() / "profiles" / f"{key}.json"


def _from_dict(d: dict) -> ViewProfile:
    d = dict(d, columns=[ColumnProfile(**c) for c in d["columns"]])
    return ViewProfile(**d)


def _profile_view(con, name: str, source: str, detail: str, note: str = "") -> ViewProfile:
    v = _ident(name)
    described = con.execute(f"DESCRIBE {v}").fetchall()
    schema = [(row[0], row[1]) for row in described]
    shown = schema[:MAX_COLUMNS]
    # One scan for every statistic of every column.
    aggregates = ["count(*)"]
    for col, ctype in shown:
        c = _ident(col)
        ordered = bool(_ORDERED.match(ctype))
        aggregates += [
            f"count({c})",
            f"approx_count_distinct({c})" if ordered else "NULL",
            f"min({c})::VARCHAR" if ordered else "NULL",
            f"max({c})::VARCHAR" if ordered else "NULL",
        ]
    texts = [i for i, (_, ctype) in enumerate(shown) if ctype == "VARCHAR"]
    for i in texts:
        c = _ident(shown[i][0])
        mixed = (
            f"regexp_matches({c}, '{_NUMBER_THEN_TEXT}') "
            f"AND NOT regexp_matches({c}, '{_DAY_MONTH}')"
        )
        aggregates += [
            f"count(*) FILTER (WHERE regexp_full_match(trim({c}), '{_PLAIN_NUMBER}'))",
            f"count(*) FILTER (WHERE {mixed})",
            f"min({c}) FILTER (WHERE {mixed})",
        ]
    stats = con.execute(f"SELECT {', '.join(aggregates)} FROM {v}").fetchone()
    rows = int(stats[0])
    at = 1 + 4 * len(shown)  # where the text columns' three figures start
    text_stats = {i: stats[at + 3 * j : at + 3 * j + 3] for j, i in enumerate(texts)}
    columns = []
    for i, (col, ctype) in enumerate(shown):
        nonnull, distinct, cmin, cmax = stats[1 + 4 * i : 5 + 4 * i]
        plain, annotated, example = text_stats.get(i, (0, 0, ""))
        mostly_numbers = annotated >= 0.2 * nonnull and plain + annotated >= 0.8 * nonnull
        columns.append(
            ColumnProfile(
                name=col,
                type=ctype,
                nulls=(rows - nonnull) / rows if rows else 0.0,
                distinct=int(distinct or 0),
                min=cmin,
                max=cmax,
                numbers_with_text=example if nonnull and mostly_numbers else "",
            )
        )
    _top_values(con, v, columns)
    sample = [
        [_cell(x) for x in row]
        for row in con.execute(f"SELECT * FROM {v} LIMIT {SAMPLE_ROWS}").fetchall()
    ]
    return ViewProfile(name, source, detail, rows, columns, sample, len(schema), note)


# A number alone; a number with text after it: a unit, a percent, a bracketed range or a
# note (`12 kg`, `45%`, `630308[495000-801000]`, `$1,200 (est.)`); a day and month
# (`5 Jan 2017`) is a date, not such a number.
_PLAIN_NUMBER = r"[-+]?[$€£]?\d[\d,]*(\.\d+)?"
_NUMBER_THEN_TEXT = r"^\s*[-+]?[$€£]?\s*\d[\d,]*(\.\d+)?\s*(%|[A-Za-z]|\[|\()"
_DAY_MONTH = r"(?i)^\s*\d{1,2}(st|nd|rd|th)?\s*(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
# How to take the leading number, shown once per table on its first such column.
LEADING_NUMBER = ".str.extract(r'([-+]?\\d[\\d,]*\\.?\\d*)')[0].str.replace(',', '').astype(float)"


def _top_values(con, v: str, columns: list[ColumnProfile]) -> None:
    """Most frequent values of the low-cardinality text columns, all in one scan. The
    estimate that picks them can be low (6 for 7 regions), so the scan, which sees every
    value, sets their exact count: a list is never shown as complete when it is not."""
    few = [c for c in columns if c.type == "VARCHAR" and 0 < c.distinct <= TOP_WHEN_DISTINCT]
    if not few:
        return
    cols = [_ident(c.name) for c in few]
    flags = ", ".join(f"grouping({c})" for c in cols)
    result = con.execute(
        f"SELECT {', '.join(cols)}, {flags}, count(*) AS n FROM {v} "
        f"GROUP BY GROUPING SETS ({', '.join(f'({c})' for c in cols)}) "
        f"ORDER BY n DESC, {', '.join(cols)}"
    ).fetchall()
    k = len(few)
    for c in few:
        c.distinct, c.exact = 0, True
    for row in result:
        values, grouped_out = row[:k], row[k : 2 * k]
        i = grouped_out.index(0)  # the one column this row groups by
        if values[i] is not None:
            few[i].distinct += 1
            few[i].values.append(str(values[i]))
            if len(few[i].top) < TOP_VALUES:
                few[i].top.append(str(values[i]))


def _cell(x: object) -> str:
    s = "" if x is None else str(x)
    return s[:-9] if s.endswith(" 00:00:00") else s


def infer_joins(profiles: list[ViewProfile]) -> list[Join]:
    """Key columns that link tables: a column named like another table's unique key
    (`customer_id` in orders and customers, or `customer_id` against `customers.id`)."""
    unique: dict[str, tuple[str, str]] = {}  # key name -> (table, column) where it is unique
    for p in profiles:
        for c in p.columns:
            if _is_key(c.name) and p.rows and c.nulls == 0 and c.distinct >= 0.97 * p.rows:
                unique.setdefault(c.name.lower(), (p.name, c.name))
                if c.name.lower() == "id":
                    unique.setdefault(f"{_singular(p.name.lower())}_id", (p.name, c.name))
    joins = []
    for p in profiles:
        for c in p.columns:
            target = unique.get(c.name.lower())
            if target and target[0] != p.name and _is_key(c.name) and c.name.lower() != "id":
                joins.append(Join(f"{p.name}.{c.name}", f"{target[0]}.{target[1]}"))
    return joins


def by_relevance(profiles: list[ViewProfile], question: str) -> list[ViewProfile]:
    """Tables the question names come first, then tables with a column it names (the
    measure: "conversions", "MRR"), then tables with a date and a number (what a question
    about a change needs); stable otherwise. A small model tends to use the first table it
    reads that looks close: `order_items` for "orders", or a `notes` table for "why did
    sales drop?"."""
    words = _words(question)

    def named(p: ViewProfile) -> tuple[float, int, int]:
        types = [c.type for c in p.columns]
        dated = any(t.startswith(("DATE", "TIMESTAMP")) for t in types)
        numeric = any(_NUMBER.match(t) for t in types)
        return -_named_share(p, words), -_named_columns(p, words), -int(dated and numeric)

    return sorted(profiles, key=named)


def tables_asked_about(profiles: list[ViewProfile], question: str) -> list[str]:
    """The tables a question is about: those it names, and those holding a column it names
    that no named table has ("which segment ..." with `orders` and `customers`)."""
    words = _words(question)
    named = [p for p in profiles if _named_share(p, words) == 1]
    # "meter_readings" names `meters` too: a table named only inside another's name is not.
    parts = {p.name: set(_parts(p.name)) for p in named}
    named = [p for p in named if not any(parts[p.name] < parts[o] for o in parts)]
    have = {c.name for p in named for c in p.columns}
    by_column = [
        p
        for p in profiles
        if p not in named
        and any(_singular(c.name.lower()) in words and c.name not in have for c in p.columns)
    ]
    return [p.name for p in named + by_column]


# A value a "which <column> ..." question asks for is one of the column's own; past this
# many distinct values the column is an identifier or free text, and no list is read.
WHICH_MAX_VALUES = 1000


# "Which faculty ...", and the same asked as people also write it: "What is the faculty
# with ...", "What was the name of the faculty that ..." (a reworded unseen question whose
# Answer named the second of a ranking went unchecked).
_ASKS_WHICH = r"\b(?:which|what\s+(?:is|was)\s+the(?:\s+name\s+of\s+the)?)"
# "the name of the faculty" asks of `faculty`, not of a column called `name`.
_NOT_OF_ANOTHER = r"(?!\s+of\s+(?:the|each|a|an)\b)"


def column_asked_which(profiles: list[ViewProfile], question: str) -> tuple[str, list[str]] | None:
    """The text or true/false column a question asks which value of ("Which country has the
    highest ...": `country`; "Which on time has ...": `on_time`; "What is the name of the
    faculty with ...": `faculty`), and the tables that hold
    it (those of them the question is about, when any is); None when it names none, or
    names a key or a column of numbers or dates. Asked "which country", the 1.5B answered
    "Brazil" from a column of codes (BR), and asked "which on time", a shipment id. A
    question that names a column by its last word alone ("What is the country with ..."
    of `merchant_country`) asks of it when no other column ends so (`city` of customers'
    `customer_city` and warehouses' `warehouse_city` asks of neither); failing that, one
    word may stand between "which" and the column's ("Which traffic source …": `source`)."""
    asked = set(tables_asked_about(profiles, question))
    by_last_word: list[str] = []
    modified: list[str] = []
    for p in sorted(profiles, key=lambda p: p.name not in asked):
        for c in p.columns:
            # The profile's estimate of distinct values spares a scan of a column of names.
            many = c.distinct > 2 * WHICH_MAX_VALUES
            if c.type not in ("VARCHAR", "BOOLEAN") or _is_key(c.name) or many:
                continue
            words = [w for w in re.split(r"[_\s]+", c.name.lower()) if w]
            if not words:
                continue
            if _asks_which(question, words):
                return c.name, _holders(profiles, c.name, asked)
            if len(words) > 1 and _asks_which(question, words[-1:]):
                by_last_word.append(c.name)
            if _asks_which(question, words, modified=True):
                modified.append(c.name)
    for found in (by_last_word, modified):
        if len(set(found)) == 1:
            return found[0], _holders(profiles, found[0], asked)
    return None


def _asks_which(question: str, words: list[str], modified: bool = False) -> bool:
    """Whether the question asks which value of the column these words name; `modified`:
    with one word before them, after "which" alone ("Which traffic source …" of `source`:
    the 1.5B answered "no", a value of `converted`)."""
    said = r"[\s_]+".join(re.escape(w) for w in words)
    asks = r"\bwhich\s+[a-z]+" if modified else _ASKS_WHICH
    pattern = rf"{asks}\s+{said}(?:e?s)?\b(?!\s*[_(]){_NOT_OF_ANOTHER}"
    return re.search(pattern, question, re.IGNORECASE) is not None


def _holders(profiles: list[ViewProfile], column: str, asked: set[str]) -> list[str]:
    """The tables with `column`: `city` of customers and of warehouses is the asked
    table's, when it has one."""
    holders = [q.name for q in profiles if any(k.name == column for k in q.columns)]
    return [h for h in holders if h in asked] or holders


def distinct_values(con, tables: list[str], column: str) -> list[str] | None:
    """Every distinct value of `column` in `tables`, as text (True/False as DuckDB writes
    them: true, false); None past WHICH_MAX_VALUES."""
    c = _ident(column)
    union = " UNION ".join(
        f"SELECT DISTINCT CAST({c} AS VARCHAR) AS v FROM {_ident(t)} WHERE {c} IS NOT NULL"
        for t in tables
    )
    rows = con.execute(f"SELECT v FROM ({union}) LIMIT {WHICH_MAX_VALUES + 1}").fetchall()
    return None if len(rows) > WHICH_MAX_VALUES else sorted(str(r[0]) for r in rows)


# Values that are words of any question ("no change", "in total"), never read as the rows a
# question names; the ordinals among them only before a table's name ("first visits", not
# "the first quarter").
_PLAIN_VALUES = frozenset(("yes", "no", "none", "true", "false", "unknown", "all", "total"))
_ORDINAL_VALUES = frozenset(("first", "last", "second", "new", "old", "other", "others"))
# A value followed by these is a term of its own ("standard deviation" of a `standard`
# tariff, "normal distribution"), or called a column.
_NOT_ROWS_AFTER = frozenset(
    ("column", "deviation", "deviations", "error", "errors", "distribution", "score", "scores")
)


def values_named_in(question: str, values: list[str], names: list[str]) -> list[str]:
    """The values of a text column the question names as whole words (a plural too):
    "returned orders", "Web sessions". Not a number, not a word under 3 letters, not a
    word of any question, not a word of `names` (the tables' and columns' names: "reviews
    per hotel" is of no `hotel_type` value), not a value the question calls a column
    ("the "JAMES LOGAN" column") or that begins a term ("standard deviation" of a
    `standard` tariff); an ordinal ("first") only before a word of `names`
    ("first visits", not "the first quarter")."""
    words = " " + " ".join(re.findall(r"[a-z0-9]+", question.lower())) + " "
    nouns = {w for n in names for w in _parts(n)}
    found = []
    for value in values:
        key = " ".join(re.findall(r"[a-z0-9]+", value.lower()))
        if len(key) < 3 or key.replace(" ", "").isdigit() or key in _PLAIN_VALUES:
            continue
        if _singular(key) in nouns:
            continue
        m = re.search(rf" {re.escape(key)}(?:e?s)?(?= )(?: (\w+))?", words)
        if m is None or m.group(1) in _NOT_ROWS_AFTER:
            continue
        if key in _ORDINAL_VALUES and _singular(m.group(1) or "") not in nouns:
            continue
        found.append(value)
    return found


def values_named(
    profiles: list[ViewProfile], question: str, skip: str | None = None
) -> list[tuple[str, str]]:
    """(column, value) for each value of a text column the question names as the rows it
    is about ("What is the correlation of age and wait for first visits?": visit_type,
    first), from every value the profile read; not of `skip` (the column a "which"
    question asks of, whose values are answers), nor of a column it names two values of
    (a comparison a groupby may answer)."""
    names = [p.name for p in profiles] + [c.name for p in profiles for c in p.columns]
    out: dict[tuple[str, str], None] = {}
    for p in profiles:
        for c in p.columns:
            if c.name == skip or _is_key(c.name) or not c.values:
                continue
            named = values_named_in(question, c.values, names)
            if len(named) == 1:
                out[(c.name, named[0])] = None
    return list(out)


def _words(text: str) -> set[str]:
    return {_singular(w) for w in re.findall(r"[a-z0-9]+", text.lower())}


def _named_share(p: ViewProfile, words: set[str]) -> float:
    """The share of the table name's parts the question names (`order_items`: 0.5 for
    "orders")."""
    parts = _parts(p.name)
    return sum(w in words for w in parts) / len(parts) if parts else 0


def _parts(name: str) -> list[str]:
    return [_singular(w) for w in name.lower().split("_") if w]


def _named_columns(p: ViewProfile, words: set[str]) -> int:
    return sum(_singular(c.name.lower()) in words for c in p.columns)


_NUMBER = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DOUBLE|FLOAT|REAL|DECIMAL.*)$")


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _is_key(name: str) -> bool:
    return bool(re.search(r"(^|_)(id|key|code|no)$", name.lower()))


def render(profiles: list[ViewProfile], budget_tokens: int = BUDGET_TOKENS) -> str:
    """Plain text for the prompt, at the most detail that fits the budget."""
    joins = infer_joins(profiles)
    budget = int(budget_tokens * CHARS_PER_TOKEN)
    text = ""
    for detail in (3, 2, 1):
        for max_cols in (40, 20, 10):
            text = _render(profiles, joins, detail, max_cols)
            if len(text) <= budget:
                return text
    # Too many tables even for a line each: list as many as fit, then count the rest.
    blocks = text.split("\n\n")[: len(profiles)]
    kept: list[str] = []
    used = 0  # characters so far, separators included
    for block in blocks:
        if used + len(block) + 2 + 200 > budget:  # keep room for the closing line
            break
        kept.append(block)
        used += len(block) + 2
    hidden = profiles[len(kept) :]
    if hidden:
        line = f"… and {len(hidden)} more tables: " + ", ".join(p.name for p in hidden)
        kept.append(line if used + len(line) <= budget else line[: budget - used - 1] + "…")
    return "\n\n".join(kept)


def _render(profiles: list[ViewProfile], joins: list[Join], detail: int, max_cols: int) -> str:
    names = source_names([p.source for p in profiles])
    blocks = [_render_view(p, detail, max_cols, names[p.source]) for p in profiles]
    if joins:
        blocks.append("Join keys:\n" + "\n".join(f"- {j.left} = {j.right}" for j in joins))
    return "\n\n".join(blocks)


def _render_view(p: ViewProfile, detail: int, max_cols: int, where: str) -> str:
    # `where`: the file's name (with folders where two share it), not its path: the sandbox
    # mounts it read-only in its working dir under that name.
    if p.detail:
        kind = "sheet " if where.lower().endswith((".xlsx", ".xlsm")) else "table "
        where += ", " + ("" if " " in p.detail else kind) + p.detail
    head = f"Table `{p.name}` ({p.rows:,} rows) from {where}"
    note = [f"Note: {p.note}"] if p.note else []  # at every detail: it changes the reading
    if detail == 1:
        names = ", ".join(f"{c.name} {c.type}" for c in p.columns[:max_cols])
        more = p.total_columns - min(len(p.columns), max_cols)
        line = f"{head}: {names}" + (f", … {more} more columns" if more > 0 else "")
        return "\n".join([line, *note])
    lines = [head, *note, "Columns:"]
    shown = p.columns[:max_cols]
    for c in shown:
        desc = f"- {c.name} ({c.type})"
        if c.top:
            desc += ": values " + ", ".join(_short(t) for t in c.top)
            if c.distinct > len(c.top) or not c.exact:
                desc += f", … ({'' if c.exact else '~'}{c.distinct} distinct)"
        elif c.min is not None and c.type != "VARCHAR":
            desc += f": {_short(c.min)} .. {_short(c.max)}"
        elif c.distinct:
            desc += f": ~{min(c.distinct, p.rows):,} distinct"
        if c.nulls:
            desc += f", {c.nulls:.0%} null"
        if c.numbers_with_text:
            desc += f"; numbers, some with text after them ({_short(c.numbers_with_text)})"
        lines.append(desc)
    if p.total_columns > len(shown):
        rest = [c.name for c in p.columns[len(shown) : len(shown) + 30]]
        more = p.total_columns - len(shown) - len(rest)
        lines.append(
            f"- {p.total_columns - len(shown)} more columns: {', '.join(rest)}"
            + (f", … {more} more" if more > 0 else "")
        )
    if p.converted:
        lines.append(f"Read as numbers, dates or durations: {p.converted}")
    if "-> INTERVAL since 00:00" in p.converted:  # types.Conversion's text for a TIME
        lines.append(
            "In pandas an INTERVAL is a timedelta: .dt.total_seconds() gives seconds, "
            ".dt.components.hours the hour."
        )
    mixed = [c.name for c in shown if c.numbers_with_text]
    if mixed:  # the table's name is a variable in the sandbox, as is `df` for one table
        lines.append(f"The number in such text: {p.name}[{mixed[0]!r}]{LEADING_NUMBER}")
    if detail == 3 and p.sample:
        lines.append("First rows:")
        lines.append(" | ".join(c.name for c in shown))
        lines += [" | ".join(_short(x) for x in row[: len(shown)]) for row in p.sample]
    return "\n".join(lines)


def _short(s: str | None, n: int = 24) -> str:
    s = "" if s is None else s
    if s.endswith(" 00:00:00"):
        s = s[:-9]
    return s if len(s) <= n else s[: n - 1] + "…"

"""The questioner's templates: every question the profile supports, with its reference
SQL, the same computation in pandas, and how to say the answer.

A small model cannot be trusted to invent a question and its answer, so nothing here is
generated: each template reads the profile (column types, frequent values, ranges, join
keys) and writes the question. Aggregates by category columns, counts, extremes, filters
by frequent values and years, and top-k across validated join keys; open `research`
questions compare groups, describe a table, or follow a measure over the years. Nothing is
specific to any example file: only the profile is read.
"""

import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache

import duckdb

from da_cli.data.profile import ColumnProfile, ViewProfile
from da_cli.synth.questions import Join, Kind, Question

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


def _words(name: str) -> list[str]:
    """The words of a name that a rewording must keep (at least one of them)."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name) if len(w) >= 3]
    return words or [name]


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


def _integer(c: ColumnProfile) -> bool:
    return bool(_INTEGER.match(c.type))


def _year_expr(c: ColumnProfile, qualifier: str = "") -> str:
    col = qualifier + ident(c.name)
    if c.type.startswith(("DATE", "TIMESTAMP")):
        return f"year({col})"
    return f"year(TRY_CAST({col} AS DATE))"


def _years(c: ColumnProfile) -> list[int]:
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
_AGG_ANCHORS = {
    "sum": ["total", "sum", "overall", "combined", "all"],
    "avg": ["average", "mean", "avg"],
    "max": ["highest", "maximum", "max", "largest", "biggest", "greatest", "top", "most"],
    "min": ["lowest", "minimum", "min", "smallest", "least", "fewest", "bottom"],
}
_DIRECTION = {True: _AGG_ANCHORS["max"], False: _AGG_ANCHORS["min"]}


def _aggs(m: ColumnProfile) -> list[str]:
    return ["avg", "max", "min"] if _NON_ADDITIVE.search(m.name) else ["sum", "avg", "max", "min"]


def _whole(fn: str, m: ColumnProfile) -> bool:
    return fn in ("sum", "max", "min") and _integer(m)


def _agg_sql(fn: str, col: str, whole: bool, rounded: bool) -> str:
    expr = f"{AGGREGATES[fn][1]}({col})"
    return f"round({expr}, 2)" if rounded and not whole else expr


def _round_pd(expr: str, whole: bool) -> str:
    return expr if whole else f"round({expr}, 2)"


# --- the templates -------------------------------------------------------------------------


def propose(profiles: list[ViewProfile], joins: list[Join], kind: Kind) -> list[Question]:
    """Every question the templates can ask about these tables, unsettled, in a stable
    order (the sampler shuffles them by seed)."""
    by_name = {p.name: roles(p) for p in profiles}
    out: list[Question] = []
    for r in by_name.values():
        out += _table_research(r) if kind == "research" else _table_questions(r)
    if kind == "qa":
        for j in joins:
            if j.fact in by_name and j.dim in by_name:
                out += _join_questions(by_name[j.fact], by_name[j.dim], j)
    seen: set[str] = set()
    unique = []
    for q in out:
        if q.key not in seen:
            seen.add(q.key)
            unique.append(q)
    return unique


def sample(candidates: list[Question], seed: int) -> list[Question]:
    """All candidates in the order to try them: round-robin over templates (shuffled by
    seed), so a small `--n` still covers every kind of question, not 20 filter values of
    one column."""
    rng = random.Random(seed)
    by_template: dict[str, list[Question]] = defaultdict(list)
    for q in candidates:
        by_template[q.template].append(q)
    queues = []
    for name in sorted(by_template):
        qs = by_template[name][:]
        rng.shuffle(qs)
        queues.append(qs)
    rng.shuffle(queues)
    order: list[Question] = []
    while any(queues):
        for qs in queues:
            if qs:
                order.append(qs.pop())
    return order


def _table_questions(r: Roles) -> list[Question]:
    t, tt = r.table, ident(r.table)
    qs: list[Question] = []
    where = f"in `{t}`"
    qs.append(
        Question(
            "row_count",
            "qa",
            f"How many rows does the `{t}` table have?",
            [t],
            sql=f"SELECT count(*) AS n FROM {tt}",
            code_sql=f"SELECT count(*) AS n FROM {tt}",
            code_pandas=f'print(len(load("{t}")))',
            answer="number",
            integer=True,
            sentence=f"The `{t}` table has {{value}} rows.",
            plan=f"count the rows of `{t}`",
            anchors=[[t]],
            params={"table": t, "agg": "count"},
        )
    )
    for c in r.categories:
        cc, ch = ident(c.name), human(c.name)
        qs.append(
            Question(
                "distinct_count",
                "qa",
                f"How many different values of {ch} are there {where}?",
                [t],
                sql=f"SELECT count(DISTINCT {cc}) AS n FROM {tt}",
                code_sql=f"SELECT count(DISTINCT {cc}) AS n FROM {tt}",
                code_pandas=f'print(load("{t}")["{c.name}"].nunique())',
                answer="number",
                integer=True,
                sentence=f"There are {{value}} different values of {ch} {where}.",
                plan=f"count the distinct values of {c.name} in `{t}`",
                anchors=[[t], _words(c.name), ["different", "distinct", "unique"]],
                params={"table": t, "agg": "nunique", "column": c.name},
            )
        )
        qs.append(
            Question(
                "most_rows",
                "qa",
                f"Which {ch} has the most rows {where}?",
                [t],
                sql=f"SELECT {cc}, count(*) AS n FROM {tt} WHERE {cc} IS NOT NULL "
                f"GROUP BY {cc} ORDER BY n DESC LIMIT {RANKED_ROWS}",
                code_sql=f"SELECT {cc}, count(*) AS n FROM {tt} GROUP BY {cc} "
                f"ORDER BY n DESC LIMIT {RANKED_ROWS}",
                code_pandas=f'print(load("{t}")["{c.name}"].value_counts().head({RANKED_ROWS}))',
                answer="entity",
                integer=True,
                entity_column=c.name,
                sentence=f"{{entity}} has the most rows {where} ({{value}}).",
                plan=f"count the rows of `{t}` per {c.name} and take the largest count",
                anchors=[[t], _words(c.name), _DIRECTION[True]],
                params={"table": t, "agg": "count", "by": c.name, "order": "desc"},
            )
        )
        for v in c.top[:FILTER_VALUES]:
            qs.append(
                Question(
                    "count_where",
                    "qa",
                    f'How many rows {where} have {ch} "{v}"?',
                    [t],
                    sql=f"SELECT count(*) AS n FROM {tt} WHERE {cc} = {literal(v)}",
                    code_sql=f"SELECT count(*) AS n FROM {tt} WHERE {cc} = {literal(v)}",
                    code_pandas=f'df = load("{t}")\nprint((df["{c.name}"] == {v!r}).sum())',
                    answer="number",
                    integer=True,
                    sentence=f'{{value}} rows {where} have {ch} "{v}".',
                    plan=f"count the rows of `{t}` where {c.name} is {v}",
                    anchors=[[t], [v]],
                    params={"table": t, "agg": "count", "where": {c.name: v}},
                )
            )
    for m in r.measures:
        mm, mh = ident(m.name), human(m.name)
        for fn in _aggs(m):
            word, _, pd_fn = AGGREGATES[fn]
            whole = _whole(fn, m)
            qs.append(
                Question(
                    "aggregate",
                    "qa",
                    f"What is the {word} {mh} {where}?",
                    [t],
                    sql=f"SELECT {_agg_sql(fn, mm, whole, False)} AS value FROM {tt}",
                    code_sql=f"SELECT {_agg_sql(fn, mm, whole, True)} AS value FROM {tt}",
                    code_pandas="print("
                    + _round_pd(f'load("{t}")["{m.name}"].{pd_fn}()', whole)
                    + ")",
                    answer="number",
                    integer=whole,
                    sentence=f"The {word} {mh} {where} is {{value}}.",
                    plan=f"take the {word} of {m.name} in `{t}`",
                    anchors=[[t], _words(m.name), _AGG_ANCHORS[fn]],
                    params={"table": t, "agg": fn, "measure": m.name},
                )
            )
        for c in r.categories:
            cc, ch = ident(c.name), human(c.name)
            for fn in [f for f in _aggs(m) if f in ("sum", "avg")]:
                word, sql_fn, pd_fn = AGGREGATES[fn]
                whole = _whole(fn, m)
                for v in c.top[:FILTER_VALUES]:
                    qs.append(
                        Question(
                            "aggregate_where",
                            "qa",
                            f'What is the {word} {mh} {where} for {ch} "{v}"?',
                            [t],
                            sql=f"SELECT {_agg_sql(fn, mm, whole, False)} AS value FROM {tt} "
                            f"WHERE {cc} = {literal(v)}",
                            code_sql=f"SELECT {_agg_sql(fn, mm, whole, True)} AS value "
                            f"FROM {tt} WHERE {cc} = {literal(v)}",
                            code_pandas=f'df = load("{t}")\nprint('
                            + _round_pd(
                                f'df.loc[df["{c.name}"] == {v!r}, "{m.name}"].{pd_fn}()', whole
                            )
                            + ")",
                            answer="number",
                            integer=whole,
                            sentence=f'The {word} {mh} {where} for {ch} "{v}" is {{value}}.',
                            plan=f"filter `{t}` to {c.name} {v} and take the {word} of {m.name}",
                            anchors=[[t], _words(m.name), [v], _AGG_ANCHORS[fn]],
                            params={"table": t, "agg": fn, "measure": m.name, "where": {c.name: v}},
                        )
                    )
            for fn, desc in (("sum", True), ("sum", False), ("avg", True)):
                if fn not in _aggs(m):
                    continue
                word, sql_fn, pd_fn = AGGREGATES[fn]
                rank = "highest" if desc else "lowest"
                whole = _whole(fn, m)
                order = "DESC" if desc else "ASC"
                agg_exact = _agg_sql(fn, mm, whole, False)
                agg_shown = _agg_sql(fn, mm, whole, True)
                qs.append(
                    Question(
                        "group_extreme",
                        "qa",
                        f"Which {ch} has the {rank} {word} {mh} {where}?",
                        [t],
                        sql=f"SELECT {cc}, {agg_exact} AS value FROM {tt} WHERE {cc} IS NOT NULL "
                        f"GROUP BY {cc} ORDER BY value {order} LIMIT {RANKED_ROWS}",
                        code_sql=f"SELECT {cc}, {agg_shown} AS value FROM {tt} GROUP BY {cc} "
                        f"ORDER BY value {order} LIMIT {RANKED_ROWS}",
                        code_pandas=f'df = load("{t}")\nprint(df.groupby("{c.name}")'
                        f'["{m.name}"].{pd_fn}().sort_values(ascending={not desc})'
                        + ("" if whole else ".round(2)")
                        + f".head({RANKED_ROWS}))",
                        answer="entity",
                        integer=whole,
                        entity_column=c.name,
                        sentence=f"{{entity}} has the {rank} {word} {mh} {where} ({{value}}).",
                        plan=f"take the {word} of {m.name} per {c.name} in `{t}` and sort it",
                        anchors=[[t], _words(c.name), _words(m.name), _DIRECTION[desc]],
                        params={
                            "table": t,
                            "agg": fn,
                            "measure": m.name,
                            "by": c.name,
                            "order": order.lower(),
                        },
                    )
                )
        for label in r.labels[:1]:
            lc, lh = ident(label.name), human(label.name)
            thing = human(singular(t))
            give = "" if lh == thing else f" Give its {lh}."
            for desc in (True, False):
                rank = "highest" if desc else "lowest"
                order = "DESC" if desc else "ASC"
                largest = "nlargest" if desc else "nsmallest"
                qs.append(
                    Question(
                        "row_extreme",
                        "qa",
                        f"Which {thing} has the {rank} {mh} {where}?{give}",
                        [t],
                        sql=f"SELECT {lc}, {mm} FROM {tt} WHERE {mm} IS NOT NULL "
                        f"ORDER BY {mm} {order} LIMIT {RANKED_ROWS}",
                        code_sql=f"SELECT {lc}, {mm} FROM {tt} ORDER BY {mm} {order} "
                        f"LIMIT {RANKED_ROWS}",
                        code_pandas=f'df = load("{t}")\nprint(df.{largest}({RANKED_ROWS}, '
                        f'"{m.name}")[["{label.name}", "{m.name}"]])',
                        answer="entity",
                        integer=_integer(m),
                        entity_column=label.name,
                        sentence=f"{{entity}} has the {rank} {mh} {where} ({{value}}).",
                        plan=f"sort `{t}` by {m.name} and read the {label.name} of the "
                        + ("first" if desc else "last")
                        + " row",
                        anchors=[[t], _words(m.name), _DIRECTION[desc]],
                        params={
                            "table": t,
                            "agg": "row",
                            "measure": m.name,
                            "label": label.name,
                            "order": order.lower(),
                        },
                    )
                )
        if "sum" in _aggs(m):
            for d in r.dates:
                years = _years(d)
                whole = _integer(m)
                for y in years:
                    qs.append(
                        Question(
                            "year_total",
                            "qa",
                            f"What is the total {mh} {where} in {y} (by {human(d.name)})?",
                            [t],
                            sql=f"SELECT sum({mm}) AS value FROM {tt} WHERE {_year_expr(d)} = {y}",
                            code_sql=f"SELECT {_agg_sql('sum', mm, whole, True)} AS value "
                            f"FROM {tt} WHERE {_year_expr(d)} = {y}",
                            code_pandas=f'df = load("{t}")\nyear = pd.to_datetime('
                            f'df["{d.name}"], errors="coerce").dt.year\nprint('
                            + _round_pd(f'df.loc[year == {y}, "{m.name}"].sum()', whole)
                            + ")",
                            answer="number",
                            integer=whole,
                            sentence=f"The total {mh} {where} in {y} is {{value}}.",
                            plan=f"keep the rows of `{t}` whose {d.name} is in {y} and sum "
                            f"{m.name}",
                            anchors=[[t], _words(m.name), [str(y)]],
                            params={
                                "table": t,
                                "agg": "sum",
                                "measure": m.name,
                                "date": d.name,
                                "year": y,
                            },
                        )
                    )
                for c in r.categories[:3] if years else []:
                    y = years[-1]
                    cc, ch = ident(c.name), human(c.name)
                    qs.append(
                        Question(
                            "year_group_extreme",
                            "qa",
                            f"In {y}, which {ch} had the highest total {mh} {where}?",
                            [t],
                            sql=f"SELECT {cc}, sum({mm}) AS value FROM {tt} WHERE "
                            f"{_year_expr(d)} = {y} AND {cc} IS NOT NULL GROUP BY {cc} "
                            f"ORDER BY value DESC LIMIT {RANKED_ROWS}",
                            code_sql=f"SELECT {cc}, {_agg_sql('sum', mm, whole, True)} AS value "
                            f"FROM {tt} WHERE {_year_expr(d)} = {y} GROUP BY {cc} "
                            f"ORDER BY value DESC LIMIT {RANKED_ROWS}",
                            code_pandas=f'df = load("{t}")\nyear = pd.to_datetime('
                            f'df["{d.name}"], errors="coerce").dt.year\nprint(df[year == {y}]'
                            f'.groupby("{c.name}")["{m.name}"].sum().sort_values('
                            f"ascending=False)"
                            + ("" if whole else ".round(2)")
                            + f".head({RANKED_ROWS}))",
                            answer="entity",
                            integer=whole,
                            entity_column=c.name,
                            sentence=f"In {y}, {{entity}} had the highest total {mh} {where} "
                            "({value}).",
                            plan=f"keep the rows of `{t}` in {y}, sum {m.name} per {c.name} "
                            "and sort",
                            anchors=[
                                [t],
                                _words(c.name),
                                _words(m.name),
                                [str(y)],
                                _DIRECTION[True],
                            ],
                            params={
                                "table": t,
                                "agg": "sum",
                                "measure": m.name,
                                "by": c.name,
                                "date": d.name,
                                "year": y,
                                "order": "desc",
                            },
                        )
                    )
    return qs


def _merged(f: Roles, d: Roles, j: Join, f_cols: list[str], d_cols: list[str]) -> str:
    """pandas code that joins the needed columns of the two tables into `m`, or "" when
    their names would collide (pandas would rename them `_x`/`_y`)."""
    f_cols = list(dict.fromkeys([j.key, *f_cols]))
    d_cols = list(dict.fromkeys([j.dim_key, *d_cols]))
    shared = set(f_cols) & set(d_cols)
    if shared - ({j.key} if j.key == j.dim_key else set()):
        return ""
    on = f'on="{j.key}"' if j.key == j.dim_key else f'left_on="{j.key}", right_on="{j.dim_key}"'
    return (
        f'f = load("{f.table}")[{f_cols!r}]\nd = load("{d.table}")[{d_cols!r}]\n'
        f"m = f.merge(d, {on})\n"
    )


def _join_questions(f: Roles, d: Roles, j: Join) -> list[Question]:
    """Top-k questions that need a join: the dimension's name for the fact's count or sum."""
    qs: list[Question] = []
    ft, dt = ident(f.table), ident(d.table)
    on = f"f.{ident(j.key)} = d.{ident(j.dim_key)}"
    thing = human(singular(d.table))
    src = f"in `{f.table}`"
    join = {"key": j.key, "dim": d.table, "dim_key": j.dim_key}
    for label in d.labels[:1]:
        lc, lh = ident(label.name), human(label.name)
        by = f"d.{ident(j.dim_key)}, d.{lc}"
        keys = [j.dim_key, label.name]
        merge = _merged(f, d, j, [], [label.name])
        qs.append(
            Question(
                "join_count",
                "qa",
                f"Which {thing} has the most rows {src}? Give its {lh} from `{d.table}`.",
                [f.table, d.table],
                sql=f"SELECT d.{lc}, count(*) AS n FROM {ft} f JOIN {dt} d ON {on} "
                f"GROUP BY {by} ORDER BY n DESC LIMIT {RANKED_ROWS}",
                code_sql=f"SELECT d.{lc}, count(*) AS n FROM {ft} f JOIN {dt} d ON {on} "
                f"GROUP BY {by} ORDER BY n DESC LIMIT {RANKED_ROWS}",
                code_pandas=merge
                and merge
                + f"print(m.groupby({keys!r}).size().sort_values(ascending=False)"
                f".head({RANKED_ROWS}))",
                answer="entity",
                integer=True,
                entity_column=label.name,
                sentence=f"{{entity}} has the most rows {src} ({{value}}).",
                plan=f"join `{f.table}` to `{d.table}` on {j.key}, count the rows per "
                f"{label.name} and sort",
                anchors=[[f.table], _words(d.table), _DIRECTION[True]],
                params={
                    "table": f.table,
                    "agg": "count",
                    "join": join,
                    "by": label.name,
                    "by_key": j.dim_key,
                    "order": "desc",
                },
            )
        )
        for m in f.measures:
            if "sum" not in _aggs(m):
                continue
            mm, mh = ident(m.name), human(m.name)
            whole = _integer(m)
            merge = _merged(f, d, j, [m.name], [label.name])
            qs.append(
                Question(
                    "join_sum",
                    "qa",
                    f"Which {thing} has the highest total {mh} {src}? Give its {lh} from "
                    f"`{d.table}`.",
                    [f.table, d.table],
                    sql=f"SELECT d.{lc}, sum(f.{mm}) AS value FROM {ft} f JOIN {dt} d ON {on} "
                    f"GROUP BY {by} ORDER BY value DESC LIMIT {RANKED_ROWS}",
                    code_sql=f"SELECT d.{lc}, {_agg_sql('sum', 'f.' + mm, whole, True)} AS value "
                    f"FROM {ft} f JOIN {dt} d ON {on} GROUP BY {by} "
                    f"ORDER BY value DESC LIMIT {RANKED_ROWS}",
                    code_pandas=merge
                    and merge
                    + f'print(m.groupby({keys!r})["{m.name}"].sum().sort_values(ascending=False)'
                    + ("" if whole else ".round(2)")
                    + f".head({RANKED_ROWS}))",
                    answer="entity",
                    integer=whole,
                    entity_column=label.name,
                    sentence=f"{{entity}} has the highest total {mh} {src} ({{value}}).",
                    plan=f"join `{f.table}` to `{d.table}` on {j.key}, sum {m.name} per "
                    f"{label.name} and sort",
                    anchors=[[f.table], _words(d.table), _words(m.name), _DIRECTION[True]],
                    params={
                        "table": f.table,
                        "agg": "sum",
                        "measure": m.name,
                        "join": join,
                        "by": label.name,
                        "by_key": j.dim_key,
                        "order": "desc",
                    },
                )
            )
    for c in d.categories[:2]:
        cc, ch = ident(c.name), human(c.name)
        for m in f.measures:
            if "sum" not in _aggs(m):
                continue
            mm, mh = ident(m.name), human(m.name)
            whole = _integer(m)
            merge = _merged(f, d, j, [m.name], [c.name])
            qs.append(
                Question(
                    "join_category",
                    "qa",
                    f"Which {ch} of `{d.table}` has the highest total {mh} {src}?",
                    [f.table, d.table],
                    sql=f"SELECT d.{cc}, sum(f.{mm}) AS value FROM {ft} f JOIN {dt} d ON {on} "
                    f"WHERE d.{cc} IS NOT NULL GROUP BY d.{cc} ORDER BY value DESC "
                    f"LIMIT {RANKED_ROWS}",
                    code_sql=f"SELECT d.{cc}, {_agg_sql('sum', 'f.' + mm, whole, True)} AS value "
                    f"FROM {ft} f JOIN {dt} d ON {on} GROUP BY d.{cc} ORDER BY value DESC "
                    f"LIMIT {RANKED_ROWS}",
                    code_pandas=merge
                    and merge
                    + f'print(m.groupby("{c.name}")["{m.name}"].sum().sort_values(ascending=False)'
                    + ("" if whole else ".round(2)")
                    + ")",
                    answer="entity",
                    integer=whole,
                    entity_column=c.name,
                    sentence=f"{{entity}} has the highest total {mh} {src} ({{value}}).",
                    plan=f"join `{f.table}` to `{d.table}` on {j.key}, sum {m.name} per "
                    f"{c.name} and sort",
                    anchors=[[f.table], _words(c.name), _words(m.name), _DIRECTION[True]],
                    params={
                        "table": f.table,
                        "agg": "sum",
                        "measure": m.name,
                        "join": join,
                        "by": c.name,
                        "order": "desc",
                    },
                )
            )
    return qs


def _table_research(r: Roles) -> list[Question]:
    """Open questions: no single answer, but key facts a good answer names."""
    t, tt = r.table, ident(r.table)
    qs = [
        Question(
            "overview", "research",
            f"Give an overview of the `{t}` table: how many rows it has, what its main columns "
            "hold, and anything notable in its values.", [t],
            sql=f"SELECT count(*) AS n FROM {tt}", code_sql="", code_pandas="",
            answer="number", integer=True,
            sentence=f"`{t}` has {{value}} rows.", plan=f"profile `{t}`",
            anchors=[[t], ["overview", "summary", "describe", "summarize"]],
            params={"table": t, "agg": "count"},
        )
    ]  # fmt: skip
    for m in r.measures[:3]:
        mm, mh = ident(m.name), human(m.name)
        fn = "sum" if "sum" in _aggs(m) else "avg"
        word = AGGREGATES[fn][0]
        whole = _whole(fn, m)
        for c in r.categories[:3]:
            cc, ch = ident(c.name), human(c.name)
            qs.append(
                Question(
                    "compare_groups",
                    "research",
                    f"How does {mh} differ across {ch} in `{t}`? Compare the groups and say "
                    "which stands out.",
                    [t],
                    sql=f"SELECT {cc}, {_agg_sql(fn, mm, whole, False)} AS value FROM {tt} "
                    f"WHERE {cc} IS NOT NULL GROUP BY {cc} ORDER BY value DESC "
                    f"LIMIT {RANKED_ROWS}",
                    code_sql="",
                    code_pandas="",
                    answer="entity",
                    integer=whole,
                    entity_column=c.name,
                    sentence=f"{{entity}} has the highest {word} {mh} ({{value}}).",
                    plan=f"compare {m.name} across {c.name}",
                    anchors=[[t], _words(m.name), _words(c.name)],
                    params={
                        "table": t,
                        "agg": fn,
                        "measure": m.name,
                        "by": c.name,
                        "order": "desc",
                    },
                )
            )
        if fn == "sum":
            for d in r.dates:
                if len(_years(d)) >= 2:
                    qs.append(
                        Question(
                            "trend",
                            "research",
                            f"How has the total {mh} in `{t}` developed over time (by "
                            f"{human(d.name)})? Describe the trend from year to year.",
                            [t],
                            sql=f"SELECT {_year_expr(d)} AS year, sum({mm}) AS value FROM {tt} "
                            f"WHERE {_year_expr(d)} IS NOT NULL GROUP BY year "
                            f"ORDER BY value DESC LIMIT {RANKED_ROWS}",
                            code_sql="",
                            code_pandas="",
                            answer="entity",
                            integer=whole,
                            entity_column="year",
                            sentence=f"{{entity}} had the highest total {mh} ({{value}}).",
                            plan=f"sum {m.name} per year of {d.name}",
                            anchors=[[t], _words(m.name)],
                            params={
                                "table": t,
                                "agg": "sum",
                                "measure": m.name,
                                "by_year": d.name,
                                "order": "desc",
                            },
                        )
                    )
    return qs

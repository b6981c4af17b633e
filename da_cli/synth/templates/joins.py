"""Questions that need a join of a fact table to a dimension on a validated key: which
dimension row (named by its label) has the most fact rows or the highest total, and which
of the dimension's categories has the highest total. The pandas version of each merges
only the columns it needs (`_merged`)."""

from da_cli.data.profile import ColumnProfile
from da_cli.synth.questions import Join, Question
from da_cli.synth.templates.roles import (
    COUNTED,
    DIRECTION,
    RANKED_ROWS,
    Roles,
    agg_sql,
    aggregates_of,
    human,
    ident,
    is_integer,
    singular,
    words,
)


def join_questions(f: Roles, d: Roles, j: Join) -> list[Question]:
    """Top-k questions that need a join: the dimension's name for the fact's count or sum."""
    qs: list[Question] = []
    for label in d.labels[:1]:
        qs.append(join_count(f, d, j, label))
        qs += [join_sum(f, d, j, label, m) for m in _summable(f)]
    for c in d.categories[:2]:
        qs += [join_category(f, d, j, c, m) for m in _summable(f)]
    return qs


def _summable(f: Roles) -> list[ColumnProfile]:
    return [m for m in f.measures if "sum" in aggregates_of(m)]


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


def _on(j: Join) -> str:
    """The SQL join condition, with the fact aliased `f` and the dimension `d`."""
    return f"f.{ident(j.key)} = d.{ident(j.dim_key)}"


def _join_params(d: Roles, j: Join) -> dict:
    return {"key": j.key, "dim": d.table, "dim_key": j.dim_key}


def join_count(f: Roles, d: Roles, j: Join, label: ColumnProfile) -> Question:
    ft, dt, on, src = ident(f.table), ident(d.table), _on(j), f"in `{f.table}`"
    lc, lh = ident(label.name), human(label.name)
    by = f"d.{ident(j.dim_key)}, d.{lc}"
    keys = [j.dim_key, label.name]
    merge = _merged(f, d, j, [], [label.name])
    return Question(
        "join_count",
        "qa",
        f"Which {human(singular(d.table))} has the most rows {src}? Give its {lh} from "
        f"`{d.table}`.",
        [f.table, d.table],
        sql=f"SELECT d.{lc}, count(*) AS n FROM {ft} f JOIN {dt} d ON {on} "
        f"GROUP BY {by} ORDER BY n DESC LIMIT {RANKED_ROWS}",
        code_sql=f"SELECT d.{lc}, count(*) AS n FROM {ft} f JOIN {dt} d ON {on} "
        f"GROUP BY {by} ORDER BY n DESC LIMIT {RANKED_ROWS}",
        code_pandas=merge
        and merge
        + f"print(m.groupby({keys!r}).size().sort_values(ascending=False).head({RANKED_ROWS}))",
        answer="entity",
        integer=True,
        entity_column=label.name,
        sentence=f"{{entity}} has the most rows {src} ({{value}}).",
        plan=f"join `{f.table}` to `{d.table}` on {j.key}, count the rows per "
        f"{label.name} and sort",
        anchors=[[f.table], words(d.table), DIRECTION[True], COUNTED],
        params={
            "table": f.table,
            "agg": "count",
            "join": _join_params(d, j),
            "by": label.name,
            "by_key": j.dim_key,
            "order": "desc",
        },
    )


def join_sum(f: Roles, d: Roles, j: Join, label: ColumnProfile, m: ColumnProfile) -> Question:
    ft, dt, on, src = ident(f.table), ident(d.table), _on(j), f"in `{f.table}`"
    lc, lh = ident(label.name), human(label.name)
    mm, mh = ident(m.name), human(m.name)
    by = f"d.{ident(j.dim_key)}, d.{lc}"
    keys = [j.dim_key, label.name]
    whole = is_integer(m)
    merge = _merged(f, d, j, [m.name], [label.name])
    return Question(
        "join_sum",
        "qa",
        f"Which {human(singular(d.table))} has the highest total {mh} {src}? Give its {lh} "
        f"from `{d.table}`.",
        [f.table, d.table],
        sql=f"SELECT d.{lc}, sum(f.{mm}) AS value FROM {ft} f JOIN {dt} d ON {on} "
        f"GROUP BY {by} ORDER BY value DESC LIMIT {RANKED_ROWS}",
        code_sql=f"SELECT d.{lc}, {agg_sql('sum', 'f.' + mm, whole, True)} AS value "
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
        plan=f"join `{f.table}` to `{d.table}` on {j.key}, sum {m.name} per {label.name} and sort",
        anchors=[[f.table], words(d.table), words(m.name), DIRECTION[True]],
        params={
            "table": f.table,
            "agg": "sum",
            "measure": m.name,
            "join": _join_params(d, j),
            "by": label.name,
            "by_key": j.dim_key,
            "order": "desc",
        },
    )


def join_category(f: Roles, d: Roles, j: Join, c: ColumnProfile, m: ColumnProfile) -> Question:
    ft, dt, on, src = ident(f.table), ident(d.table), _on(j), f"in `{f.table}`"
    cc, ch = ident(c.name), human(c.name)
    mm, mh = ident(m.name), human(m.name)
    whole = is_integer(m)
    merge = _merged(f, d, j, [m.name], [c.name])
    return Question(
        "join_category",
        "qa",
        f"Which {ch} of `{d.table}` has the highest total {mh} {src}?",
        [f.table, d.table],
        sql=f"SELECT d.{cc}, sum(f.{mm}) AS value FROM {ft} f JOIN {dt} d ON {on} "
        f"WHERE d.{cc} IS NOT NULL GROUP BY d.{cc} ORDER BY value DESC "
        f"LIMIT {RANKED_ROWS}",
        code_sql=f"SELECT d.{cc}, {agg_sql('sum', 'f.' + mm, whole, True)} AS value "
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
        plan=f"join `{f.table}` to `{d.table}` on {j.key}, sum {m.name} per {c.name} and sort",
        anchors=[[f.table], words(c.name), words(m.name), DIRECTION[True]],
        params={
            "table": f.table,
            "agg": "sum",
            "measure": m.name,
            "join": _join_params(d, j),
            "by": c.name,
            "order": "desc",
        },
    )

"""Ranking questions: which category value has the highest or lowest total or average of a
measure, and which row (named by its label column) has the highest or lowest value."""

from da_cli.data.profile import ColumnProfile
from da_cli.synth.questions import Question
from da_cli.synth.templates.roles import (
    AGGREGATES,
    DIRECTION,
    RANKED_ROWS,
    Roles,
    agg_sql,
    aggregates_of,
    human,
    ident,
    is_integer,
    is_whole,
    singular,
    words,
)


def group_extreme(r: Roles, m: ColumnProfile, c: ColumnProfile) -> list[Question]:
    """The category value with the highest and the lowest total, and the highest average."""
    t, tt, where = r.table, ident(r.table), f"in `{r.table}`"
    mm, mh = ident(m.name), human(m.name)
    cc, ch = ident(c.name), human(c.name)
    qs: list[Question] = []
    for fn, desc in (("sum", True), ("sum", False), ("avg", True)):
        if fn not in aggregates_of(m):
            continue
        word, _, pd_fn = AGGREGATES[fn]
        rank = "highest" if desc else "lowest"
        whole = is_whole(fn, m)
        order = "DESC" if desc else "ASC"
        agg_exact = agg_sql(fn, mm, whole, False)
        agg_shown = agg_sql(fn, mm, whole, True)
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
                anchors=[[t], words(c.name), words(m.name), DIRECTION[desc]],
                params={
                    "table": t,
                    "agg": fn,
                    "measure": m.name,
                    "by": c.name,
                    "order": order.lower(),
                },
            )
        )
    return qs


def row_extreme(r: Roles, m: ColumnProfile) -> list[Question]:
    """The row with the highest and the lowest value, named by the table's first label
    column; none when the table has no label."""
    t, tt, where = r.table, ident(r.table), f"in `{r.table}`"
    mm, mh = ident(m.name), human(m.name)
    qs: list[Question] = []
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
                    integer=is_integer(m),
                    entity_column=label.name,
                    sentence=f"{{entity}} has the {rank} {mh} {where} ({{value}}).",
                    plan=f"sort `{t}` by {m.name} and read the {label.name} of the "
                    + ("first" if desc else "last")
                    + " row",
                    anchors=[[t], words(m.name), DIRECTION[desc]],
                    params={
                        "table": t,
                        "agg": "row",
                        "measure": m.name,
                        "label": label.name,
                        "order": order.lower(),
                    },
                )
            )
    return qs

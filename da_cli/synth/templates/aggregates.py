"""Aggregate questions: the total, average, highest or lowest value of a measure over a
whole table, and its total or average over the rows with one frequent category value."""

from da_cli.data.profile import ColumnProfile
from da_cli.synth.questions import Question
from da_cli.synth.templates.roles import (
    AGG_ANCHORS,
    AGGREGATES,
    FILTER_VALUES,
    Roles,
    agg_sql,
    aggregates_of,
    human,
    ident,
    is_whole,
    literal,
    round_pd,
    words,
)


def aggregate(r: Roles, m: ColumnProfile) -> list[Question]:
    """One question per aggregate that makes sense for the measure."""
    t, tt, where = r.table, ident(r.table), f"in `{r.table}`"
    mm, mh = ident(m.name), human(m.name)
    qs: list[Question] = []
    for fn in aggregates_of(m):
        word, _, pd_fn = AGGREGATES[fn]
        whole = is_whole(fn, m)
        qs.append(
            Question(
                "aggregate",
                "qa",
                f"What is the {word} {mh} {where}?",
                [t],
                sql=f"SELECT {agg_sql(fn, mm, whole, False)} AS value FROM {tt}",
                code_sql=f"SELECT {agg_sql(fn, mm, whole, True)} AS value FROM {tt}",
                code_pandas="print(" + round_pd(f'load("{t}")["{m.name}"].{pd_fn}()', whole) + ")",
                answer="number",
                integer=whole,
                sentence=f"The {word} {mh} {where} is {{value}}.",
                plan=f"take the {word} of {m.name} in `{t}`",
                anchors=[[t], words(m.name), AGG_ANCHORS[fn]],
                params={"table": t, "agg": fn, "measure": m.name},
            )
        )
    return qs


def aggregate_where(r: Roles, m: ColumnProfile, c: ColumnProfile) -> list[Question]:
    """The measure's total and average for each frequent value of the category."""
    t, tt, where = r.table, ident(r.table), f"in `{r.table}`"
    mm, mh = ident(m.name), human(m.name)
    cc, ch = ident(c.name), human(c.name)
    qs: list[Question] = []
    for fn in [f for f in aggregates_of(m) if f in ("sum", "avg")]:
        word, _, pd_fn = AGGREGATES[fn]
        whole = is_whole(fn, m)
        for v in c.top[:FILTER_VALUES]:
            qs.append(
                Question(
                    "aggregate_where",
                    "qa",
                    f'What is the {word} {mh} {where} for {ch} "{v}"?',
                    [t],
                    sql=f"SELECT {agg_sql(fn, mm, whole, False)} AS value FROM {tt} "
                    f"WHERE {cc} = {literal(v)}",
                    code_sql=f"SELECT {agg_sql(fn, mm, whole, True)} AS value "
                    f"FROM {tt} WHERE {cc} = {literal(v)}",
                    code_pandas=f'df = load("{t}")\nprint('
                    + round_pd(f'df.loc[df["{c.name}"] == {v!r}, "{m.name}"].{pd_fn}()', whole)
                    + ")",
                    answer="number",
                    integer=whole,
                    sentence=f'The {word} {mh} {where} for {ch} "{v}" is {{value}}.',
                    plan=f"filter `{t}` to {c.name} {v} and take the {word} of {m.name}",
                    anchors=[[t], words(m.name), [v], AGG_ANCHORS[fn]],
                    params={"table": t, "agg": fn, "measure": m.name, "where": {c.name: v}},
                )
            )
    return qs

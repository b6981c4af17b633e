"""Counting questions: the rows of a table, the distinct values of a category, the category
value with the most rows, and the rows with one frequent value."""

from da_cli.data.profile import ColumnProfile
from da_cli.synth.questions import Question
from da_cli.synth.templates.roles import (
    COUNTED,
    DIRECTION,
    FILTER_VALUES,
    RANKED_ROWS,
    Roles,
    human,
    ident,
    literal,
    words,
)


def row_count(r: Roles) -> Question:
    t, tt = r.table, ident(r.table)
    return Question(
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


def distinct_count(r: Roles, c: ColumnProfile) -> Question:
    t, tt, where = r.table, ident(r.table), f"in `{r.table}`"
    cc, ch = ident(c.name), human(c.name)
    return Question(
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
        anchors=[[t], words(c.name), ["different", "distinct", "unique"]],
        params={"table": t, "agg": "nunique", "column": c.name},
    )


def most_rows(r: Roles, c: ColumnProfile) -> Question:
    t, tt, where = r.table, ident(r.table), f"in `{r.table}`"
    cc, ch = ident(c.name), human(c.name)
    return Question(
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
        # What is counted: "What is the highest level in `employees`?" lost it.
        anchors=[[t], words(c.name), DIRECTION[True], COUNTED],
        params={"table": t, "agg": "count", "by": c.name, "order": "desc"},
    )


def count_where(r: Roles, c: ColumnProfile) -> list[Question]:
    """One question per frequent value of the category."""
    t, tt, where = r.table, ident(r.table), f"in `{r.table}`"
    cc, ch = ident(c.name), human(c.name)
    return [
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
        for v in c.top[:FILTER_VALUES]
    ]

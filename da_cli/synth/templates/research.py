"""Open `research` questions: an overview of a table, a measure compared across a
category's groups, and a measure's total followed over the years. They have no single
answer; the reference query gives the key facts a good answer names."""

from da_cli.data.profile import ColumnProfile
from da_cli.synth.questions import Question
from da_cli.synth.templates.roles import (
    AGGREGATES,
    RANKED_ROWS,
    Roles,
    agg_sql,
    aggregates_of,
    human,
    ident,
    is_whole,
    words,
    year_expr,
    years_of,
)


def table_research(r: Roles) -> list[Question]:
    """Open questions: no single answer, but key facts a good answer names. The first three
    measures, each against the first three categories and over each date column."""
    qs = [overview(r)]
    for m in r.measures[:3]:
        qs += [compare_groups(r, m, c) for c in r.categories[:3]]
        qs += [q for d in r.dates if (q := trend(r, m, d))]
    return qs


def overview(r: Roles) -> Question:
    t, tt = r.table, ident(r.table)
    return Question(
        "overview", "research",
        f"Give an overview of the `{t}` table: how many rows it has, what its main columns "
        "hold, and anything notable in its values.", [t],
        sql=f"SELECT count(*) AS n FROM {tt}", code_sql="", code_pandas="",
        answer="number", integer=True,
        sentence=f"`{t}` has {{value}} rows.", plan=f"profile `{t}`",
        anchors=[[t], ["overview", "summary", "describe", "summarize"]],
        params={"table": t, "agg": "count"},
    )  # fmt: skip


def _research_agg(m: ColumnProfile) -> str:
    """The one aggregate a research question compares: the total, or the average when
    summing the measure makes no sense."""
    return "sum" if "sum" in aggregates_of(m) else "avg"


def compare_groups(r: Roles, m: ColumnProfile, c: ColumnProfile) -> Question:
    t, tt = r.table, ident(r.table)
    mm, mh = ident(m.name), human(m.name)
    cc, ch = ident(c.name), human(c.name)
    fn = _research_agg(m)
    word = AGGREGATES[fn][0]
    whole = is_whole(fn, m)
    return Question(
        "compare_groups",
        "research",
        f"How does {mh} differ across {ch} in `{t}`? Compare the groups and say which stands out.",
        [t],
        sql=f"SELECT {cc}, {agg_sql(fn, mm, whole, False)} AS value FROM {tt} "
        f"WHERE {cc} IS NOT NULL GROUP BY {cc} ORDER BY value DESC "
        f"LIMIT {RANKED_ROWS}",
        code_sql="",
        code_pandas="",
        answer="entity",
        integer=whole,
        entity_column=c.name,
        sentence=f"{{entity}} has the highest {word} {mh} ({{value}}).",
        plan=f"compare {m.name} across {c.name}",
        anchors=[[t], words(m.name), words(c.name)],
        params={
            "table": t,
            "agg": fn,
            "measure": m.name,
            "by": c.name,
            "order": "desc",
        },
    )


def trend(r: Roles, m: ColumnProfile, d: ColumnProfile) -> Question | None:
    """The measure's total per year; None for a measure that is not summed or a date column
    that spans fewer than two years (or too many)."""
    if _research_agg(m) != "sum" or len(years_of(d)) < 2:
        return None
    t, tt = r.table, ident(r.table)
    mm, mh = ident(m.name), human(m.name)
    return Question(
        "trend",
        "research",
        f"How has the total {mh} in `{t}` developed over time (by "
        f"{human(d.name)})? Describe the trend from year to year.",
        [t],
        sql=f"SELECT {year_expr(d)} AS year, sum({mm}) AS value FROM {tt} "
        f"WHERE {year_expr(d)} IS NOT NULL GROUP BY year "
        f"ORDER BY value DESC LIMIT {RANKED_ROWS}",
        code_sql="",
        code_pandas="",
        answer="entity",
        integer=is_whole("sum", m),
        entity_column="year",
        sentence=f"{{entity}} had the highest total {mh} ({{value}}).",
        plan=f"sum {m.name} per year of {d.name}",
        anchors=[[t], words(m.name)],
        params={
            "table": t,
            "agg": "sum",
            "measure": m.name,
            "by_year": d.name,
            "order": "desc",
        },
    )

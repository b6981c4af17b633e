"""Questions about one year of a date column: a measure's total in each year the column
spans, and the category value with the highest total in the last of them. Only additive
measures are asked about, and only dates that span few enough years (`years_of`)."""

from da_cli.data.profile import ColumnProfile
from da_cli.synth.questions import Question
from da_cli.synth.templates.roles import (
    DIRECTION,
    RANKED_ROWS,
    Roles,
    agg_sql,
    aggregates_of,
    human,
    ident,
    is_integer,
    round_pd,
    words,
    year_expr,
    years_of,
)


def year_total(r: Roles, m: ColumnProfile, d: ColumnProfile) -> list[Question]:
    """The measure's total in each year of the date column."""
    if "sum" not in aggregates_of(m):
        return []
    t, tt, where = r.table, ident(r.table), f"in `{r.table}`"
    mm, mh = ident(m.name), human(m.name)
    whole = is_integer(m)
    return [
        Question(
            "year_total",
            "qa",
            f"What is the total {mh} {where} in {y} (by {human(d.name)})?",
            [t],
            sql=f"SELECT sum({mm}) AS value FROM {tt} WHERE {year_expr(d)} = {y}",
            code_sql=f"SELECT {agg_sql('sum', mm, whole, True)} AS value "
            f"FROM {tt} WHERE {year_expr(d)} = {y}",
            code_pandas=f'df = load("{t}")\nyear = pd.to_datetime('
            f'df["{d.name}"], errors="coerce").dt.year\nprint('
            + round_pd(f'df.loc[year == {y}, "{m.name}"].sum()', whole)
            + ")",
            answer="number",
            integer=whole,
            sentence=f"The total {mh} {where} in {y} is {{value}}.",
            plan=f"keep the rows of `{t}` whose {d.name} is in {y} and sum {m.name}",
            anchors=[[t], words(m.name), [str(y)]],
            params={"table": t, "agg": "sum", "measure": m.name, "date": d.name, "year": y},
        )
        for y in years_of(d)
    ]


def year_group_extreme(r: Roles, m: ColumnProfile, d: ColumnProfile) -> list[Question]:
    """For the first three category columns: the value with the highest total in the last
    year of the date column."""
    years = years_of(d)
    if "sum" not in aggregates_of(m) or not years:
        return []
    t, tt, where = r.table, ident(r.table), f"in `{r.table}`"
    mm, mh = ident(m.name), human(m.name)
    whole = is_integer(m)
    y = years[-1]
    qs: list[Question] = []
    for c in r.categories[:3]:
        cc, ch = ident(c.name), human(c.name)
        qs.append(
            Question(
                "year_group_extreme",
                "qa",
                f"In {y}, which {ch} had the highest total {mh} {where}?",
                [t],
                sql=f"SELECT {cc}, sum({mm}) AS value FROM {tt} WHERE "
                f"{year_expr(d)} = {y} AND {cc} IS NOT NULL GROUP BY {cc} "
                f"ORDER BY value DESC LIMIT {RANKED_ROWS}",
                code_sql=f"SELECT {cc}, {agg_sql('sum', mm, whole, True)} AS value "
                f"FROM {tt} WHERE {year_expr(d)} = {y} GROUP BY {cc} "
                f"ORDER BY value DESC LIMIT {RANKED_ROWS}",
                code_pandas=f'df = load("{t}")\nyear = pd.to_datetime('
                f'df["{d.name}"], errors="coerce").dt.year\nprint(df[year == {y}]'
                f'.groupby("{c.name}")["{m.name}"].sum().sort_values('
                f"ascending=False)" + ("" if whole else ".round(2)") + f".head({RANKED_ROWS}))",
                answer="entity",
                integer=whole,
                entity_column=c.name,
                sentence=f"In {y}, {{entity}} had the highest total {mh} {where} ({{value}}).",
                plan=f"keep the rows of `{t}` in {y}, sum {m.name} per {c.name} and sort",
                anchors=[[t], words(c.name), words(m.name), [str(y)], DIRECTION[True]],
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

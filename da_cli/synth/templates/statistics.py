"""Statistics questions, the ones analysts ask beyond totals: a measure's middle and spread
(median, sample standard deviation), how many values are missing or lie far from the rest,
how two measures move together (Pearson correlation, the slope of a linear fit), and which
category value moved a total most between the last two years (a change broken down).

Every definition a number depends on is in the question's words (sample standard deviation,
three standard deviations from the mean, change = later year minus earlier), so the label is
the one answer a careful analyst would give, and pandas computes the same as DuckDB."""

from itertools import combinations

from da_cli.data.profile import ColumnProfile
from da_cli.synth.questions import PRECISION, Question
from da_cli.synth.templates.roles import (
    AGG_ANCHORS,
    RANKED_ROWS,
    Roles,
    aggregates_of,
    human,
    ident,
    is_integer,
    words,
    year_expr,
    years_of,
)

OUTLIER_SD = 3  # how many standard deviations from the mean make a value an outlier
PAIRED_MEASURES = 4  # correlation and slope for pairs among the first this many measures


def spread(r: Roles, m: ColumnProfile) -> list[Question]:
    """The measure's median and sample standard deviation."""
    t, tt, where = r.table, ident(r.table), f"in `{r.table}`"
    mm, mh = ident(m.name), human(m.name)
    col = f'load("{t}")["{m.name}"]'
    stats = (
        ("median", "median", "median", ["median", "middle"]),
        ("std", "sample standard deviation", "stddev_samp", ["standard", "deviation", "std"]),
    )
    return [
        Question(
            "spread",
            "qa",
            f"What is the {word} of {mh} {where}?{PRECISION}",
            [t],
            sql=f"SELECT {fn}({mm}) AS value FROM {tt}",
            code_sql=f"SELECT {fn}({mm}) AS value FROM {tt}",
            code_pandas=f"print({col}.{agg}())",
            answer="number",
            sentence=f"The {word} of {mh} {where} is {{value}}.",
            plan=f"take the {word} of {m.name} in `{t}`",
            anchors=[[t], words(m.name), anchor],
            params={"table": t, "agg": agg, "measure": m.name},
        )
        for agg, word, fn, anchor in stats
    ]


def missing(r: Roles) -> list[Question]:
    """For each column with some missing values: how many rows lack one."""
    t, tt, where = r.table, ident(r.table), f"in `{r.table}`"
    cols = [*r.measures, *r.categories, *r.dates, *r.labels]
    return [
        Question(
            "missing_count",
            "qa",
            f"How many rows {where} have no value (a missing value) for {human(c.name)}?",
            [t],
            sql=f"SELECT count(*) - count({ident(c.name)}) AS value FROM {tt}",
            code_sql=f"SELECT count(*) - count({ident(c.name)}) AS value FROM {tt}",
            code_pandas=f'print(load("{t}")["{c.name}"].isna().sum())',
            answer="number",
            integer=True,
            sentence=f"{{value}} rows {where} have no {human(c.name)}.",
            plan=f"count the rows of `{t}` where {c.name} is missing",
            anchors=[[t], words(c.name), ["missing", "null", "no", "empty", "without"]],
            params={"table": t, "agg": "missing", "column": c.name},
        )
        for c in cols
        if c.nulls > 0
    ]


def outliers(r: Roles, m: ColumnProfile) -> list[Question]:
    """How many rows have a value more than `OUTLIER_SD` sample standard deviations from the
    measure's mean."""
    t, tt, where = r.table, ident(r.table), f"in `{r.table}`"
    mm, mh = ident(m.name), human(m.name)
    query = (
        f"SELECT count(*) AS value FROM {tt} WHERE abs({mm} - (SELECT avg({mm}) FROM {tt})) "
        f"> {OUTLIER_SD} * (SELECT stddev_samp({mm}) FROM {tt})"
    )
    return [
        Question(
            "outlier_count",
            "qa",
            f"How many rows {where} have a {mh} more than {OUTLIER_SD} standard deviations "
            "(sample) away from its mean?",
            [t],
            sql=query,
            code_sql=query,
            code_pandas=f'x = load("{t}")["{m.name}"]\n'
            f"print(((x - x.mean()).abs() > {OUTLIER_SD} * x.std()).sum())",
            answer="number",
            integer=True,
            sentence=f"{{value}} rows {where} have a {mh} more than {OUTLIER_SD} standard "
            "deviations from its mean.",
            plan=f"take the mean and standard deviation of {m.name} in `{t}` and count the "
            f"rows more than {OUTLIER_SD} deviations away",
            # "sample": the count depends on it, and the 1.5B teacher dropped it in 2 of 8.
            anchors=[
                [t],
                words(m.name),
                ["standard", "deviation", "deviations", "outlier"],
                ["sample"],
            ],
            params={"table": t, "agg": "outliers", "measure": m.name, "sd": OUTLIER_SD},
        )
    ]


def relations(r: Roles) -> list[Question]:
    """For pairs of measures: their Pearson correlation, and the slope of the second fitted
    linearly on the first (least squares, rows where both are present)."""
    t, tt, where = r.table, ident(r.table), f"in `{r.table}`"
    qs: list[Question] = []
    for a, b in combinations(r.measures[:PAIRED_MEASURES], 2):
        aa, ah, bb, bh = ident(a.name), human(a.name), ident(b.name), human(b.name)
        pair = f'd = load("{t}")[["{a.name}", "{b.name}"]].dropna()\n'
        qs += [
            Question(
                "correlation",
                "qa",
                f"What is the Pearson correlation between {ah} and {bh} {where}?{PRECISION}",
                [t],
                sql=f"SELECT corr({aa}, {bb}) AS value FROM {tt}",
                code_sql=f"SELECT corr({aa}, {bb}) AS value FROM {tt}",
                code_pandas=f'{pair}print(d["{a.name}"].corr(d["{b.name}"]))',
                answer="number",
                sentence=f"The Pearson correlation between {ah} and {bh} {where} is {{value}}.",
                plan=f"take the Pearson correlation of {a.name} and {b.name} in `{t}`",
                anchors=[[t], words(a.name), words(b.name), ["correlation", "corr"]],
                params={"table": t, "agg": "corr", "x": a.name, "y": b.name},
            ),
            Question(
                "slope",
                "qa",
                f"If {bh} is fitted as a straight line of {ah} {where} (least squares), what "
                f"is the slope?{PRECISION}",
                [t],
                sql=f"SELECT regr_slope({bb}, {aa}) AS value FROM {tt}",
                code_sql=f"SELECT regr_slope({bb}, {aa}) AS value FROM {tt}",
                code_pandas=f'{pair}print(d["{a.name}"].cov(d["{b.name}"]) / d["{a.name}"].var())',
                answer="number",
                sentence=f"The slope of {bh} on {ah} {where} is {{value}}.",
                plan=f"fit {b.name} on {a.name} in `{t}` by least squares and read the slope",
                anchors=[[t], words(a.name), words(b.name), ["slope", "regression", "fit"]],
                params={"table": t, "agg": "slope", "x": a.name, "y": b.name},
            ),
        ]
    return qs


def change_breakdown(r: Roles, m: ColumnProfile, d: ColumnProfile) -> list[Question]:
    """For the first two category columns: the value whose total changed most (up or down)
    from the date column's second-to-last year to its last: the first thing to look at when
    a total rose or fell."""
    years = years_of(d)
    if "sum" not in aggregates_of(m) or len(years) < 2:
        return []
    t, tt, where = r.table, ident(r.table), f"in `{r.table}`"
    mm, mh = ident(m.name), human(m.name)
    whole = is_integer(m)
    y0, y1 = years[-2], years[-1]
    year = year_expr(d)
    qs: list[Question] = []
    for c in r.categories[:2]:
        cc, ch = ident(c.name), human(c.name)
        change = (
            f"coalesce(sum({mm}) FILTER (WHERE {year} = {y1}), 0) - "
            f"coalesce(sum({mm}) FILTER (WHERE {year} = {y0}), 0)"
        )
        query = (
            f"SELECT {cc}, {change} AS value FROM {tt} WHERE {cc} IS NOT NULL "
            f"GROUP BY {cc} ORDER BY abs(value) DESC LIMIT {RANKED_ROWS}"
        )
        qs.append(
            Question(
                "change_breakdown",
                "qa",
                f"Total {mh} {where} changed from {y0} to {y1} (by {human(d.name)}). Which "
                f"{ch} changed the most, up or down, and by how much ({y1} minus {y0})?",
                [t],
                sql=query,
                code_sql=query,
                code_pandas=f'df = load("{t}")\nyear = pd.to_datetime('
                f'df["{d.name}"], errors="coerce").dt.year\n'
                f'new = df[year == {y1}].groupby("{c.name}")["{m.name}"].sum()\n'
                f'old = df[year == {y0}].groupby("{c.name}")["{m.name}"].sum()\n'
                "change = new.sub(old, fill_value=0)\n"
                "print(change.loc[change.abs().sort_values(ascending=False).index]"
                + ("" if whole else ".round(2)")
                + f".head({RANKED_ROWS}))",
                answer="entity",
                integer=whole,
                entity_column=c.name,
                sentence=f"{{entity}} changed the most from {y0} to {y1}: {mh} {where} "
                "moved by {value}.",
                plan=f"sum {m.name} per {c.name} in {y0} and in {y1} in `{t}`, subtract, and "
                "sort by the size of the change",
                anchors=[[t], words(c.name), words(m.name), [str(y1)], AGG_ANCHORS["max"]],
                params={
                    "table": t,
                    "agg": "change",
                    "measure": m.name,
                    "by": c.name,
                    "date": d.name,
                    "years": [y0, y1],
                },
            )
        )
    return qs

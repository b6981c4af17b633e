"""The questioner's templates: every question the profile supports, with its reference
SQL, the same computation in pandas, and how to say the answer.

A small model cannot be trusted to invent a question and its answer, so nothing here is
generated: each template reads the profile (column types, frequent values, ranges, join
keys) and writes the question. Nothing is specific to any example file: only the profile
is read. One module per family of questions:

- `roles`: what each column is (measure, category, label, date, key) and how to name it in
  SQL, pandas and words; the aggregates a measure allows.
- `counts`: rows, distinct values, the category value with most rows, rows with a value.
- `aggregates`: a measure's total, average, highest, lowest; total and average per value.
- `rankings`: the category value or the row with the highest or lowest figure.
- `years`: a measure's total in one year, and the leading category value in the last year.
- `joins`: top-k across a validated join key (the dimension's name for the fact's figure).
- `statistics`: median and standard deviation, missing values, outliers, correlation and
  regression slope, and the category value behind a change between two years.
- `research`: open questions: an overview, groups compared, a trend over the years.

This module puts them in order: `propose` lists every question, `sample` orders them to try.
"""

import random
from collections import defaultdict

from da_cli.data.profile import ViewProfile
from da_cli.synth.questions import Join, Kind, Question
from da_cli.synth.templates.aggregates import aggregate, aggregate_where
from da_cli.synth.templates.counts import count_where, distinct_count, most_rows, row_count
from da_cli.synth.templates.joins import join_questions
from da_cli.synth.templates.rankings import group_extreme, row_extreme
from da_cli.synth.templates.research import table_research
from da_cli.synth.templates.roles import Roles, human, ident, roles, singular
from da_cli.synth.templates.statistics import change_breakdown, missing, outliers, relations, spread
from da_cli.synth.templates.years import year_group_extreme, year_total

__all__ = ["Roles", "human", "ident", "propose", "roles", "sample", "singular"]


def propose(profiles: list[ViewProfile], joins: list[Join], kind: Kind) -> list[Question]:
    """Every question the templates can ask about these tables, unsettled, in a stable
    order (the sampler shuffles them by seed)."""
    by_name = {p.name: roles(p) for p in profiles}
    out: list[Question] = []
    for r in by_name.values():
        out += table_research(r) if kind == "research" else table_questions(r)
    if kind == "qa":
        for j in joins:
            if j.fact in by_name and j.dim in by_name:
                out += join_questions(by_name[j.fact], by_name[j.dim], j)
    seen: set[str] = set()
    unique = []
    for q in out:
        if q.key not in seen:
            seen.add(q.key)
            unique.append(q)
    return unique


def table_questions(r: Roles) -> list[Question]:
    """The closed questions about one table. The families interleave per column (all of one
    measure's questions before the next measure's): this order is what `sample` shuffles
    by seed, so changing it changes every seeded run."""
    qs = [row_count(r), *missing(r)]
    for c in r.categories:
        qs += [distinct_count(r, c), most_rows(r, c), *count_where(r, c)]
    for m in r.measures:
        qs += aggregate(r, m) + spread(r, m) + outliers(r, m)
        for c in r.categories:
            qs += aggregate_where(r, m, c) + group_extreme(r, m, c)
        qs += row_extreme(r, m)
        for d in r.dates:
            qs += year_total(r, m, d) + year_group_extreme(r, m, d) + change_breakdown(r, m, d)
    return qs + relations(r)


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

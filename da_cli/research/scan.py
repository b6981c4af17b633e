"""Which facts a survey computes, and which matter most: the plan of `da report`.

The profile says what each table holds; from it this module lists every candidate fact the
tables support (`da_cli.data.facts`: trends and their breaks, shares, leading entities,
ratios and rates that differ across segments, correlations, data quality), computes each
with one cheap DuckDB query, and ranks them by how much they matter. The model's time goes
to the top few only. A fact table reaches the columns of tables up to two joins away
(order_items -> orders -> customers), since that is where its dates and segments often live.
Nothing here knows any particular dataset: only column types, statistics and names.
"""

import math
import re
import time
from dataclasses import dataclass

import duckdb

from da_cli.data import facts
from da_cli.data.facts import Fact, Join
from da_cli.data.profile import ColumnProfile, ViewProfile, infer_joins
from da_cli.research.survey import _NUMERIC, _SEGMENT, Angle, is_date, measure_of

MAX_CATEGORIES = 20
MAX_STATE_VALUES = 8  # a column with at most this many values can be a state (status)
MAX_CANDIDATES = 80  # queries the scan may run (each one scan of a table)
PER_KIND = 2  # facts of one kind in a report, at most
MIN_SCORE = 0.25  # a weaker fact is noise an analyst would not report
_KEYISH = re.compile(r"(^|_)(id|key|code|no|number|zip|postcode|phone)$", re.IGNORECASE)
_LABEL = re.compile(r"(name|title|label)", re.IGNORECASE)
# A column that records what happened to a row (its rate by segment is a finding), as
# opposed to one that segments the business.
_OUTCOME = re.compile(
    r"(status|state|outcome|result|flag|^is_|^has_|churn|convert|return|cancel|resolved)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Col:
    ref: str  # "table.column"
    profile: ColumnProfile
    rows: int  # rows of the table it lives in
    own: bool  # a column of the fact table itself
    via: str | None = None  # the first table joined on the way to it (None: own column)


@dataclass
class View:
    """A fact table with the tables it reaches through keys."""

    table: str
    rows: int
    joins: list[Join]
    columns: list[Col]
    measure_sql: str
    measure_name: str
    real: bool  # a summed column (True) or a row count
    per: str | None  # the key of the parent record (order_items.order_id), for averages
    per_name: str


def _singular(word: str) -> str:
    return word[:-3] + "y" if word.endswith("ies") else word[:-1] if word.endswith("s") else word


def views(profiles: list[ViewProfile]) -> list[View]:
    joins = infer_joins(profiles)
    by_name = {p.name: p for p in profiles}
    out_links: dict[str, list[Join]] = {}
    for j in joins:
        lt, lc = j.left.split(".", 1)
        rt, rc = j.right.split(".", 1)
        out_links.setdefault(lt, []).append((lt, lc, rt, rc))
    out = []
    for p in profiles:
        if p.rows < 2:
            continue
        path: list[Join] = []
        via: dict[str, str] = {}
        frontier = [p.name]
        for _ in range(2):  # two hops
            nxt = []
            for t in frontier:
                for j in out_links.get(t, []):
                    if j[2] != p.name and j[2] not in via:
                        via[j[2]] = via.get(t, j[2])
                        path.append(j)
                        nxt.append(j[2])
            frontier = nxt
        cols = [Col(f"{p.name}.{c.name}", c, p.rows, True) for c in p.columns]
        for j in path:
            d = by_name[j[2]]
            cols += [Col(f"{d.name}.{c.name}", c, d.rows, False, via[d.name]) for c in _distinct(d)]
        m = measure_of(p)
        cols_sql = [f'"{p.name}"."{c}"' for c in m.columns]
        if not m.real:
            expr, name = "COUNT(*)", f"number of {p.name}"
        elif len(cols_sql) == 2:
            expr, name = f"SUM({cols_sql[0]} * {cols_sql[1]})", m.label
        else:
            expr, name = f"SUM({cols_sql[0]})", m.name
        # The parent record: a key to a table that holds a date (order_items -> orders), so
        # "per order" is the natural unit of an average; else each row is its own unit.
        parent = next(
            (
                j
                for j in out_links.get(p.name, [])
                if any(is_date(c) for c in by_name[j[2]].columns)
            ),
            None,
        )
        per, per_name = (
            (f"{p.name}.{parent[1]}", _singular(parent[2]))
            if parent
            else (None, _singular(p.name) if _singular(p.name) != p.name else f"{p.name} row")
        )
        out.append(View(p.name, p.rows, path, cols, expr, name, m.real, per, per_name))
    return out


def _distinct(d: ViewProfile) -> list[ColumnProfile]:
    """A dimension's columns, less those that only rename its rows: in a table of four
    warehouses, name and city each tell the four apart, so grouping by either is one fact."""
    out, seen_unique = [], False
    for c in sorted(d.columns, key=lambda c: not _LABEL.search(c.name)):
        if c.type == "VARCHAR" and c.distinct >= d.rows and not _KEYISH.search(c.name):
            if seen_unique:
                continue
            seen_unique = True
        out.append(c)
    return out


def _parent(v: View) -> str | None:
    if v.per is None:
        return None
    col = v.per.split(".", 1)[1]
    return next((j[2] for j in v.joins if j[0] == v.table and j[1] == col), None)


def _category(c: Col) -> bool:
    p = c.profile
    if p.type not in ("VARCHAR", "BOOLEAN") or _KEYISH.search(p.name) or is_date(p):
        return False
    if not 2 <= p.distinct <= MAX_CATEGORIES:
        return False
    return p.distinct * 2 <= c.rows if c.own else True


def _entity(c: Col, fact_rows: int) -> bool:
    p = c.profile
    if p.type != "VARCHAR" or _KEYISH.search(p.name) or is_date(p) or p.distinct < 20:
        return False
    if c.own:  # a name repeated across the fact table's rows (a customer in a flat sales file)
        return p.distinct * 2 <= fact_rows
    return p.distinct >= 0.8 * c.rows and c.rows >= 20


@dataclass
class Candidate:
    kind: str
    params: dict
    subject: str  # what it is about, so one subject is reported once
    weight: float  # how central its table is


def _needed(joins: list[Join], refs: list[str]) -> list[Join] | None:
    """The joins a query over `refs` ("table.column") needs: the path to each table."""
    want = {r.split(".", 1)[0] for r in refs}
    keep: list[Join] = []
    for j in reversed(joins):  # a path's later hops first, so their sources are wanted too
        if j[2] in want:
            keep.insert(0, j)
            want.add(j[0])
    return keep or None


def _trim(c: Candidate) -> Candidate:
    refs = [v for k, v in c.params.items() if k in ("date", "by", "entity", "state")]
    if "joins" in c.params:
        c.params["joins"] = _needed(c.params["joins"] or [], refs)
    return c


def candidates(profiles: list[ViewProfile]) -> list[Candidate]:
    """Every fact the tables support, each with the weight of its table (bigger, better
    connected tables hold the business's facts; a lookup table does not)."""
    vs = views(profiles)
    if not vs:
        return []
    biggest = max(v.rows for v in vs)
    out: list[Candidate] = []
    for v in vs:
        w = 0.6 + 0.4 * math.log10(v.rows + 1) / math.log10(biggest + 1)
        w = min(1.0, w + 0.1 * len(v.joins))
        base = {"table": v.table, "joins": v.joins or None}
        meas = {"measure": v.measure_sql, "name": v.measure_name}
        dates = [c for c in v.columns if is_date(c.profile) and c.profile.distinct > 3]
        for c in dates[:1]:  # the fact table's own date first (columns are own-first)
            out.append(Candidate("trend", {**base, "date": c.ref, **meas}, f"trend:{c.ref}", w))
        cats = [c for c in v.columns if _category(c)]
        cats.sort(key=lambda c: (not _SEGMENT.search(c.profile.name), not c.own))
        for c in cats:
            if _OUTCOME.search(c.profile.name):
                continue  # a state's shares are its rates, below
            out.append(Candidate("share", {**base, "by": c.ref, **meas}, f"share:{c.ref}", w))
            if dates:
                out.append(
                    Candidate(
                        "mover",
                        {**base, "date": dates[0].ref, "by": c.ref, **meas},
                        f"mover:{c.ref}",
                        w,
                    )  # fmt: skip
                )
            # An average per order compares orders, so only what describes an order (its
            # own columns and those reached through it) can group it; a product category
            # of one order line cannot.
            if v.real and (v.per is None or c.via == _parent(v)):
                out.append(
                    Candidate(
                        "ratio",
                        {**base, "by": c.ref, **meas, "per": v.per, "per_name": v.per_name},
                        f"ratio:{c.ref}",
                        w,
                    )
                )
        states = [
            c
            for c in cats
            if c.own and c.profile.distinct <= MAX_STATE_VALUES and _OUTCOME.search(c.profile.name)
        ]
        for s in states:
            values = s.profile.top[1:4]  # the commonest state is the norm
            for val in values:
                for seg in cats:
                    if seg.ref != s.ref:
                        out.append(
                            Candidate(
                                "rate",
                                {**base, "state": s.ref, "value": val, "by": seg.ref},
                                f"rate:{s.ref}",
                                w,
                            )
                        )
        for c in v.columns:
            if _entity(c, v.rows):
                out.append(Candidate("top", {**base, "entity": c.ref, **meas}, f"top:{c.ref}", w))
        numeric = [
            c.profile.name
            for c in v.columns
            if c.own
            and _NUMERIC.match(c.profile.type)
            and not _KEYISH.search(c.profile.name)
            and c.profile.distinct > 5
        ]
        if len(numeric) >= 2:
            out.append(
                Candidate(
                    "correlation", {"table": v.table, "columns": numeric[:8]}, f"corr:{v.table}", w
                )  # fmt: skip
            )
    return [_trim(c) for c in out]


@dataclass
class Plan:
    overview: Fact
    facts: list[Fact]  # ranked, most important first
    considered: int  # candidates computed
    seconds: float


def plan(con: duckdb.DuckDBPyConnection, profiles: list[ViewProfile], n: int = 6) -> Plan:
    """The overview, then up to `n` facts ranked by score × how central their table is,
    one per subject and at most PER_KIND of a kind."""
    started = time.monotonic()
    tables = [p.name for p in profiles]
    joins = [
        (j.left.split(".", 1)[0], j.left.split(".", 1)[1], *j.right.split(".", 1))
        for j in infer_joins(profiles)
    ]
    overview = facts.overview(con, tables, joins)
    scored: list[tuple[float, str, Fact]] = []
    quality = facts.quality(con, tables, joins)
    scored.append((quality.score, "quality", quality))
    pool = candidates(profiles)[:MAX_CANDIDATES]
    for c in pool:
        try:
            f = facts.compute(con, c.kind, **c.params)
        except (duckdb.Error, ValueError, ZeroDivisionError, OverflowError):
            continue  # a candidate the data cannot support (a text date that will not cast)
        scored.append((f.score * c.weight, c.subject, f))
    best: dict[str, tuple[float, Fact]] = {}
    for s, subject, f in scored:
        if subject not in best or best[subject][0] < s:
            best[subject] = (s, f)
    ranked = sorted(best.values(), key=lambda x: -x[0])
    chosen: list[Fact] = []
    kinds: dict[str, int] = {}
    marks: set[tuple[str, str | None]] = set()
    for s, f in ranked:
        # Two facts about one thing (one category leads two measures) are one finding.
        same = f.kind in ("share", "top") and (f.kind, f.mark) in marks
        if s < MIN_SCORE or same or kinds.get(f.kind, 0) >= PER_KIND:
            continue
        chosen.append(f)
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
        marks.add((f.kind, f.mark))
        if len(chosen) == n:
            break
    return Plan(overview, chosen, len(pool) + 1, time.monotonic() - started)


def _joined(params: dict) -> str:
    joins = params.get("joins") or []
    if not joins:
        return ""
    return " (join " + ", ".join(f"{a}.{b} = {c}.{d}" for a, b, c, d in joins) + ")"


def question(f: Fact) -> str | None:
    """What the model is asked about a fact: the same subject, none of da's numbers, so its
    own code reaches them (or does not) independently. None: da's table says it all."""
    p = f.params
    j = _joined(p)
    name = p.get("name", "")
    if f.kind == "trend":
        return (
            f"What is the {name} of {p['table']} in each {f.label} of {p['date']}{j}, in time "
            f"order? Which {f.label} differs most from the {f.label}s around it, and by how "
            "much? Plot it as a line chart."
        )
    if f.kind == "share":
        return (
            f"What is the {name} of {p['table']} for each {p['by']}{j}, largest first, and "
            "each one's share of the total in percent? Plot it as a bar chart."
        )
    if f.kind == "top":
        return (
            f"Which {p['entity']} has the highest {name} in {p['table']}{j}, and how many "
            "times the next one's is it? Show the top 5 as a horizontal bar chart."
        )
    if f.kind == "ratio":
        per = f"per {p['per_name']}" + (f" (count distinct {p['per']})" if p.get("per") else "")
        return (
            f"What is the average {name} {per} in {p['table']} for each {p['by']}{j}? Which "
            f"{p['by']} differs most from the others, and by how many times?"
        )
    if f.kind == "rate":
        return (
            f"For each {p['by']}{j}, what percent of {p['table']} rows have {p['state']} = "
            f"'{p['value']}'? Which {p['by']} has the highest percent, and how does it compare "
            "with the rest?"
        )
    if f.kind == "mover":
        return (
            f"How did the {name} of {p['table']} for each {p['by']}{j} change from the first "
            f"year of {p['date']} to the last? Which {p['by']} grew or shrank the most "
            "against the total?"
        )
    if f.kind == "correlation":
        return (
            f"Which pair of the numeric columns {', '.join(p['columns'])} of {p['table']} has "
            "the strongest Pearson correlation, and what is it?"
        )
    return None


def angles(pl: Plan, ask: int) -> list[Angle]:
    """The report's angles: the overview, then each fact, the model asked about the first
    `ask` facts it can analyse (da's own cell makes every finding either way)."""
    out = []
    asked = 0
    for f in [pl.overview, *pl.facts]:
        q = question(f)
        tables = [f.params["table"]] if "table" in f.params else list(f.params.get("tables", []))
        a = Angle(
            f.kind,  # type: ignore[arg-type]
            f.title,
            q or f.sentence,
            "",
            f.label,
            f.value,
            "bar",
            f.params.get("name", ""),
            tables,
            bool(f.params.get("joins")),
            f.score,
            fact=f,
            ask=q is not None and asked < ask,
        )
        asked += a.ask
        out.append(a)
    return out

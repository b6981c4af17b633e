"""What a first survey of a database finds: candidate facts from cheap DuckDB queries.

An analyst surveying tables they have never seen looks for the same few things: what is
there, what is wrong with it (missing values, duplicates, orphaned keys), how the main
measure moves over time and where it breaks from its trend, which segments and entities
carry it, which ratios differ across segments, and which columns move together. Each
function here computes one such fact for explicit tables and columns and rates how much it
matters (`score`, 0 to 1); `da_cli.research.scan` decides which candidates to compute and
ranks them. Nothing here knows any particular dataset.

Generated code calls `survey_fact(kind, ...)` (the worker binds it to its connection), so a
report's fact is computed inside the sandbox like any other cell and its output is evidence.
This file is also copied verbatim into emitted scripts: it imports only duckdb, numpy,
pandas and the standard library.
"""

import math
import re
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

MIN_ROWS = 30  # fewer rows in a segment than this and its ratio is noise
ANOMALY_Z = 2.5  # robust z-score of a period against its neighbours that counts as a break
ANOMALY_SIZE = 0.25  # ...and the least relative size of that break
WINDOW = 3  # neighbours on each side that define a period's expected value
COLOR, MARK_COLOR = "#2f6690", "#c0392b"
READING = "Reading: "  # the prefix of the reading line in a fact's printed output

Join = tuple[str, str, str, str]  # (table, column, referenced table, referenced column)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _col(ref: str) -> str:
    """'table.column' -> "table"."column" (the column may itself contain dots)."""
    table, _, column = ref.partition(".")
    return f"{_ident(table)}.{_ident(column)}"


def _from(table: str, joins: list[Join] | None) -> str:
    sql = f"FROM {_ident(table)}"
    for left, col, right, key in joins or []:
        sql += (
            f"\nLEFT JOIN {_ident(right)} ON {_col(left + '.' + col)} = {_col(right + '.' + key)}"
        )
    return sql


def num(v: float) -> str:
    """Thousands separators; two decimals unless the value is whole."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    v = float(v)
    return f"{v:,.0f}" if v == int(v) and abs(v) < 1e15 else f"{v:,.2f}"


# A unit or currency the column's name states ("cost_eur", "weight_kg", "price_usd"):
# the measure's numbers then carry it, as an analyst writes them.
_UNITS = {
    "eur": "EUR", "usd": "USD", "gbp": "GBP", "chf": "CHF", "jpy": "JPY", "inr": "INR",
    "kg": "kg", "g": "g", "t": "t", "km": "km", "m": "m", "kwh": "kWh", "mwh": "MWh",
    "h": "h", "hours": "h", "min": "min", "minutes": "min", "s": "s", "sec": "s", "ms": "ms",
    "days": "days", "l": "l", "pct": "%", "percent": "%",
}  # fmt: skip


def unit_of_name(name: str) -> str:
    """The unit a measure's name states in its last word ("" when none does)."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    return _UNITS.get(words[-1], "") if len(words) > 1 else ""


def amount(v: float, name: str) -> str:
    """A value of the measure `name`, with the unit its name states."""
    unit = unit_of_name(name)
    return num(v) + (f" {unit}" if unit else "")


def pct(share: float) -> str:
    return f"{100 * share:.1f} %"


def _times(r: float) -> str:
    return f"{r:.1f} times"


def _clamp(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def _strength(x: float) -> float:
    """0 for nothing, approaching 1 for a large effect (unlike a clamp, it keeps ranking
    effects beyond the scale)."""
    return float(1.0 - math.exp(-max(0.0, x)))


_GENERIC = {"name", "title", "label", "description"}


def _named(ref: str, table: str) -> str:
    """How a column is named in prose: its own name in the fact table; with its table's
    name (singular) when it comes through a join: "warehouse" for warehouses.name,
    "customer segment" for customers.segment."""
    t, _, c = ref.partition(".")
    if not c or t == table:
        return c or ref
    one = t[:-3] + "y" if t.endswith("ies") else t[:-1] if t.endswith("s") else t
    return one if c.lower() in _GENERIC else f"{one} {c}"


@dataclass
class Fact:
    kind: str
    title: str  # states the finding, not the method
    sentence: str  # the reading: names the table, the measure and the period
    score: float  # how much it matters, 0..1
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    chart_kind: str = "table"  # line, bar, barh, scatter or table (no chart)
    label: str = ""  # the table's label column (x of a chart)
    value: str = ""  # the table's value column
    mark: str | None = None  # the label to highlight (the anomalous period, the top segment)
    params: dict = field(default_factory=dict)  # what `compute` needs to recompute it

    def __str__(self) -> str:
        shown = self.table.head(25)
        text = shown.to_string(index=False, float_format=num) if len(shown) else ""
        if len(self.table) > len(shown):
            text += f"\n({len(self.table) - len(shown)} more rows)"
        return (text + "\n" if text else "") + READING + self.sentence

    def markdown(self, rows: int = 12) -> str:
        """The table as Markdown, numbers formatted as the cell prints them."""
        t = self.table.head(rows)
        if t.empty:
            return ""

        def cell(v: object) -> str:
            text = num(v) if isinstance(v, (int, float, np.number)) else str(v)
            return text.replace("|", "\\|")

        lines = ["| " + " | ".join(map(str, t.columns)) + " |"]
        lines.append(
            "|" + "|".join("---:" if t[c].dtype.kind in "iuf" else "---" for c in t.columns) + "|"
        )
        lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in t.itertuples(index=False)]
        if len(self.table) > rows:
            lines.append(f"\n({len(self.table) - rows} more rows in the appendix)")
        return "\n".join(lines)

    def chart(self):
        """A chart that fits the finding (None for a table): a line for a trend with the
        break marked, bars for shares, a scatter for a correlation. Returns the figure."""
        if self.chart_kind == "table" or self.table.empty:
            return None
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter

        axis = FuncFormatter(lambda v, _: _axis(v))
        fig, ax = plt.subplots(figsize=(7, 3.4))
        t = self.table
        if self.chart_kind == "scatter":
            x, y = t.columns[:2]
            ax.scatter(t[x], t[y], s=6, alpha=0.5, color=COLOR)
            ax.set_xlabel(x)
            ax.set_ylabel(y)
            ax.xaxis.set_major_formatter(axis)
        else:
            names = [str(v) for v in t[self.label]]
            values = [float(v) for v in t[self.value]]
            colors = [MARK_COLOR if n == self.mark else COLOR for n in names]
            if self.chart_kind == "line":
                ax.plot(names, values, marker="o", markersize=3, color=COLOR)
                if "expected" in t.columns:
                    ax.plot(names, t["expected"], ls="--", lw=1, color="grey", label="expected")
                if self.mark in names:
                    i = names.index(self.mark)
                    ax.plot([i], [values[i]], "o", markersize=8, color=MARK_COLOR)
                    ax.annotate(
                        self.mark, (i, values[i]), textcoords="offset points",
                        xytext=(0, -14), ha="center", fontsize=8, color=MARK_COLOR,
                    )  # fmt: skip
                step = max(1, len(names) // 12)
                ax.set_xticks(range(0, len(names), step))
                ax.set_xticklabels(names[::step], rotation=45, ha="right")
                ax.set_ylim(bottom=0)
            elif self.chart_kind == "barh":
                ax.barh(names[::-1], values[::-1], color=colors[::-1])
                ax.xaxis.set_major_formatter(axis)
            else:
                ax.bar(names, values, color=colors)
                if len(names) > 5 or max(len(n) for n in names) > 10:
                    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
            if self.chart_kind != "barh":
                ax.yaxis.set_major_formatter(axis)
                ax.set_ylabel(self.value)
            else:
                ax.set_xlabel(self.value)
        ax.set_title(self.title, fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        return fig


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _short(name: str) -> str:
    """A measure's name for a title: "value" for "value (quantity × unit_price)"."""
    return name.split(" (")[0]


def _axis(v: float) -> str:
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= size:
            return f"{v / size:g}{unit}"
    return f"{v:g}"


def _df(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return con.sql(sql).df()


# -- the kinds ---------------------------------------------------------------------------


def overview(con: duckdb.DuckDBPyConnection, tables: list[str], joins: list[Join]) -> Fact:
    """What is there: each table's rows and columns, its date range, the keys that join."""
    rows = []
    for t in tables:
        n = con.sql(f"SELECT COUNT(*) FROM {_ident(t)}").fetchone()[0]
        cols = con.sql(f"DESCRIBE {_ident(t)}").fetchall()
        dates = [c[0] for c in cols if c[1] in ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE")]
        span = ""
        if dates:
            lo, hi = con.sql(
                f"SELECT MIN({_ident(dates[0])}), MAX({_ident(dates[0])}) FROM {_ident(t)}"
            ).fetchone()
            if lo is not None:
                span = f"{dates[0]}: {str(lo)[:10]} to {str(hi)[:10]}"
        rows.append({"table": t, "rows": int(n), "columns": len(cols), "dates": span})
    rows.sort(key=lambda r: -r["rows"])
    table = pd.DataFrame(rows)
    keys = "; ".join(f"{a}.{b} → {c}.{d}" for a, b, c, d in joins) or "none found"
    spans = [r for r in rows if r["dates"]]  # the largest table's dates are the business's
    when = f" {spans[0]['table']}.{spans[0]['dates']}." if spans else ""
    sentence = (
        f"The data has {len(tables)} table{'s' if len(tables) != 1 else ''} with "
        f"{num(sum(r['rows'] for r in rows))} rows in all; the largest is "
        f"{max(rows, key=lambda r: r['rows'])['table']} "
        f"({num(max(r['rows'] for r in rows))} rows).{when} Keys: {keys}."
    )
    return Fact("overview", "What the data holds", sentence, 1.0, table,
                params={"tables": tables, "joins": joins})  # fmt: skip


def quality(con: duckdb.DuckDBPyConnection, tables: list[str], joins: list[Join]) -> Fact:
    """Missing values, rows duplicated apart from their key, keys that reference nothing."""
    problems = []
    for t in tables:
        n = con.sql(f"SELECT COUNT(*) FROM {_ident(t)}").fetchone()[0]
        if not n:
            continue
        cols = [c[0] for c in con.sql(f"DESCRIBE {_ident(t)}").fetchall()]
        counts = con.sql(
            "SELECT " + ", ".join(f"COUNT(*) - COUNT({_ident(c)})" for c in cols)
            + f" FROM {_ident(t)}"
        ).fetchone()  # fmt: skip
        for c, missing in zip(cols, counts, strict=True):
            if missing:
                problems.append((t, c, "missing values", int(missing), missing / n))
        # A duplicate is a row that repeats another in everything but its own unique key
        # (the same order entered twice under two ids), or in everything when it has none.
        unique = [
            c
            for c in cols
            if _is_key(c)
            and con.sql(f"SELECT COUNT(DISTINCT {_ident(c)}) FROM {_ident(t)}").fetchone()[0] == n
        ][:1]
        plain = [c for c in cols if c not in unique]
        if plain and n > 1:
            distinct = con.sql(
                f"SELECT COUNT(*) FROM (SELECT DISTINCT {', '.join(map(_ident, plain))} "
                f"FROM {_ident(t)})"
            ).fetchone()[0]
            if n - distinct:
                problems.append((t, "(all but keys)", "duplicate rows", n - distinct,
                                 (n - distinct) / n))  # fmt: skip
    for left, col, right, key in joins:
        orphans, n = con.sql(
            f"SELECT COUNT(*) FILTER (WHERE r.{_ident(key)} IS NULL AND l.{_ident(col)} IS NOT "
            f"NULL), COUNT(*) FROM {_ident(left)} l LEFT JOIN {_ident(right)} r "
            f"ON l.{_ident(col)} = r.{_ident(key)}"
        ).fetchone()
        if orphans:
            problems.append((left, col, f"keys not in {right}", int(orphans), orphans / n))
    weight = {"missing values": 10, "duplicate rows": 15}
    problems.sort(key=lambda p: -p[4] * weight.get(p[2], 40))
    table = pd.DataFrame(problems, columns=["table", "column", "problem", "rows", "share"])
    if len(table):
        table["share"] = [pct(s) for s in table["share"]]
    if not problems:
        return Fact("quality", "No missing values, duplicates or broken keys",
                    "No table has missing values, rows duplicated apart from their key, or "
                    "keys that reference nothing.", 0.05, table,
                    params={"tables": tables, "joins": joins})  # fmt: skip
    parts = []
    for t, c, what, k, share in problems[:3]:
        where = f"{t}.{c}" if not c.startswith("(") else t
        if what == "missing values":
            parts.append(f"{where} is missing in {num(k)} rows ({pct(share)})")
        elif what == "duplicate rows":
            parts.append(f"{t} has {num(k)} rows that repeat another apart from the key "
                         f"({pct(share)})")  # fmt: skip
        else:
            parts.append(f"{num(k)} values of {t}.{c} ({pct(share)}) are {what}")
    t0, c0, what0, _, share0 = problems[0]
    score = _clamp(share0 * weight.get(what0, 40))
    title = (
        f"{t0}.{c0} is missing in {pct(share0)} of rows"
        if what0 == "missing values"
        else f"Data quality: {parts[0]}"
    )
    more = f" ({len(problems) - 3} more in the table)" if len(problems) > 3 else ""
    return Fact("quality", title, "Data quality: " + "; ".join(parts) + "." + more, score,
                table, params={"tables": tables, "joins": joins})  # fmt: skip


def _is_key(name: str) -> bool:
    n = name.lower()
    return n == "id" or n.endswith("_id") or n.endswith("_key") or n.endswith("_code")


def _period_expr(date: str, unit: str) -> str:
    d = f"TRY_CAST({_col(date)} AS TIMESTAMP)"
    return {
        "year": f"CAST(year({d}) AS VARCHAR)",
        "quarter": f"year({d}) || '-Q' || quarter({d})",
        "month": f"strftime({d}, '%Y-%m')",
        "week": f"strftime(date_trunc('week', {d}), '%Y-%m-%d')",
        "day": f"strftime({d}, '%Y-%m-%d')",
    }[unit]


def unit_of(con: duckdb.DuckDBPyConnection, table: str, date: str, joins=None) -> str:
    lo, hi = con.sql(
        f"SELECT MIN(TRY_CAST({_col(date)} AS TIMESTAMP)), MAX(TRY_CAST({_col(date)} AS "
        f"TIMESTAMP)) {_from(table, joins)}"
    ).fetchone()
    days = (hi - lo).days if lo is not None and hi is not None else 0
    if days > 12 * 365:
        return "year"
    if days > 5 * 365:
        return "quarter"
    if days > 120:
        return "month"
    if days > 30:
        return "week"
    return "day"


def trend(
    con: duckdb.DuckDBPyConnection,
    table: str,
    date: str,
    measure: str,
    name: str,
    joins: list[Join] | None = None,
    where: str = "",
) -> Fact:
    """The measure per period: its overall change and the period that breaks most from its
    neighbours (robust z-score against the median of the periods around it)."""
    unit = unit_of(con, table, date, joins)
    p = _period_expr(date, unit)
    d = f"TRY_CAST({_col(date)} AS TIMESTAMP)"
    cond = f"WHERE {d} IS NOT NULL" + (f" AND ({where})" if where else "")
    t = _df(
        con,
        f"SELECT {p} AS {_ident(unit)}, {measure} AS value, COUNT(DISTINCT CAST({d} AS DATE)) "
        f"AS days, COUNT(*) AS n\n{_from(table, joins)}\n{cond}\nGROUP BY 1 ORDER BY 1",
    )
    t = t.rename(columns={"value": name})
    params = {"table": table, "date": date, "measure": measure, "name": name, "joins": joins,
              "where": where}  # fmt: skip
    if len(t) < 4:
        return Fact("trend", f"{name} per {unit}", f"{table} covers only {len(t)} {unit}s.",
                    0.0, t, "line", unit, name, params=params)  # fmt: skip
    values = t[name].astype(float).to_numpy()
    days = t["days"].to_numpy()
    rows = t["n"].to_numpy()
    # A first or last period with far fewer days of data than usual is incomplete: its
    # total says nothing about the trend.
    full = np.ones(len(t), dtype=bool)
    typical = float(np.median(days))
    for i in (0, len(t) - 1):
        if days[i] < 0.6 * typical:
            full[i] = False
    expected = np.full(len(t), np.nan)
    idx = np.flatnonzero(full)
    for k, i in enumerate(idx):
        around = [values[j] for j in idx[max(0, k - WINDOW) : k + WINDOW + 1] if j != i]
        expected[i] = float(np.median(around))
    resid = values - expected
    ok = ~np.isnan(resid)
    scale = 1.4826 * float(np.median(np.abs(resid[ok] - np.median(resid[ok])))) or 1e-9
    z = np.where(ok, resid / scale, 0.0)
    t = t.drop(columns=["days", "n"])
    t["expected"] = np.round(expected, 2)
    labels = [str(v) for v in t[unit]]
    first, last = idx[0], idx[-1]
    change = (values[last] - values[first]) / values[first] if values[first] else 0.0
    overall = (
        f"{name} went from {amount(values[first], name)} in {labels[first]} to "
        f"{amount(values[last], name)} in "
        f"{labels[last]} ({change:+.1%})".replace("%", " %")
    )
    partial = [labels[i] for i in range(len(t)) if not full[i]]
    tail = (
        f"; {', '.join(partial)} {'is' if len(partial) == 1 else 'are'} incomplete"
        if partial
        else ""
    )
    i = int(np.argmax(np.abs(z)))
    rel = resid[i] / expected[i] if ok[i] and expected[i] else 0.0
    # A period of a few rows swings by chance: its row count must break from the rows of
    # the periods around it by more than counting noise (3 Poisson standard deviations).
    around_rows = float(np.median([rows[j] for j in idx if j != i] or [rows[i]]))
    noise_ok = abs(rows[i] - around_rows) >= 3 * math.sqrt(max(around_rows, 1.0)) or (
        measure != "COUNT(*)" and around_rows >= MIN_ROWS
    )
    if abs(z[i]) >= ANOMALY_Z and abs(rel) >= ANOMALY_SIZE and noise_ok:
        verb = "fell to" if resid[i] < 0 else "rose to"
        where_ = "below" if resid[i] < 0 else "above"
        sentence = (
            f"In {table}, {name} per {unit} {verb} {amount(values[i], name)} in {labels[i]}, "
            f"{pct(abs(rel))} {where_} the {unit}s around it (expected about "
            f"{amount(round(expected[i], 2), name)}). Over the whole span {overall}{tail}."
        )
        title = _cap(f"{_short(name)} {'fell' if resid[i] < 0 else 'rose'} {abs(rel):.0%} "
                     f"against the trend in {labels[i]}".replace("%", " %"))  # fmt: skip
        score = _clamp(0.5 + 0.5 * min(1.0, abs(rel) / 0.4))
        params["anomaly"] = labels[i]
        return Fact("trend", title, sentence, score, t, "line", unit, name, labels[i], params)
    sentence = f"In {table}, {overall}; no {unit} breaks from the trend{tail}."
    title = _cap(f"{_short(name)} {'grew' if change > 0 else 'shrank'} {abs(change):.0%} from "
                 f"{labels[first]} to {labels[last]}".replace("%", " %"))  # fmt: skip
    return Fact("trend", title, sentence, 0.25 + 0.4 * min(1.0, abs(change)), t, "line", unit,
                name, params=params)  # fmt: skip


def _ranked(
    con: duckdb.DuckDBPyConnection,
    table: str,
    ref: str,
    label: str,
    measure: str,
    name: str,
    joins: list[Join] | None,
    *,
    keep_missing: bool,
) -> pd.DataFrame:
    """The measure per value of `ref`, largest first; missing values as '(none)', or left
    out (an entity without a name is no leader)."""
    key = f"CAST({_col(ref)} AS VARCHAR)"
    if keep_missing:
        key, where = f"coalesce({key}, '(none)')", ""
    else:
        where = f"\nWHERE {_col(ref)} IS NOT NULL"
    return _df(
        con,
        f"SELECT {key} AS {_ident(label)}, {measure} AS {_ident(name)}\n{_from(table, joins)}"
        f"{where}\nGROUP BY 1 ORDER BY 2 DESC",
    )


def share(
    con: duckdb.DuckDBPyConnection,
    table: str,
    by: str,
    measure: str,
    name: str,
    joins: list[Join] | None = None,
) -> Fact:
    """The measure by a category: the largest group's share (and how concentrated it is)."""
    label = _named(by, table)
    t = _ranked(con, table, by, label, measure, name, joins, keep_missing=True)
    params = {"table": table, "by": by, "measure": measure, "name": name, "joins": joins}
    total = float(t[name].sum()) if len(t) else 0.0
    if len(t) < 2 or total <= 0:
        return Fact("share", f"{name} by {label}", f"{by} has one group.", 0.0, t, "bar", label,
                    name, params=params)  # fmt: skip
    t["share"] = [pct(v / total) for v in t[name]]
    top, second = t.iloc[0], t.iloc[1]
    s = float(top[name]) / total
    n = len(t)
    # The main breakdown belongs in any survey; a concentrated one matters more.
    score = 0.25 + 0.75 * _clamp((s - 1 / n) / (1 - 1 / n))
    sentence = (
        f"In {table}, {label} {top[label]} has the largest {name}, {amount(top[name], name)} of "
        f"{amount(total, name)} ({pct(s)}), ahead of {second[label]} "
        f"({amount(second[name], name)}, {pct(float(second[name]) / total)}); {n} {label} "
        "values in all."
    )
    title = _cap(f"{label} {top[label]} carries {pct(s)} of {_short(name)}")
    return Fact("share", title, sentence, score, t, "bar", label, name, str(top[label]), params)


def top_entity(
    con: duckdb.DuckDBPyConnection,
    table: str,
    entity: str,
    measure: str,
    name: str,
    joins: list[Join] | None = None,
) -> Fact:
    """The entities (customers, products…) with the most of the measure: the leader's lead."""
    label = _named(entity, table)
    t = _ranked(con, table, entity, label, measure, name, joins, keep_missing=False)
    params = {"table": table, "entity": entity, "measure": measure, "name": name, "joins": joins}
    if len(t) < 3 or float(t[name].iloc[1]) <= 0:
        return Fact("top", f"Top {label} by {name}", f"{entity} has too few values.", 0.0,
                    t.head(10), "barh", label, name, params=params)  # fmt: skip
    total = float(t[name].sum())
    top, second = t.iloc[0], t.iloc[1]
    ratio = float(top[name]) / float(second[name])
    typical = float(t[name].median())
    score = _strength(math.log(ratio) / math.log(2.0))
    sentence = (
        f"In {table}, {label} {top[label]} has the highest {name}: {amount(top[name], name)} "
        f"({pct(float(top[name]) / total)} of the total, across {len(t)} {label} values), "
        f"{_times(ratio)} the next, "
        f"{second[label]} ({amount(second[name], name)}); the median {label} has "
        f"{amount(typical, name)}."
    )
    title = _cap(f"{label} {top[label]} leads {_short(name)}, {ratio:.1f}× the next")
    return Fact("top", title, sentence, score, t.head(10), "barh", label, name,
                str(top[label]), params)  # fmt: skip


def ratio(
    con: duckdb.DuckDBPyConnection,
    table: str,
    by: str,
    measure: str,
    name: str,
    per: str | None = None,
    per_name: str = "row",
    joins: list[Join] | None = None,
) -> Fact:
    """The measure per unit (per order, per row) by a category: the group whose average
    differs most from the rest."""
    label = _named(by, table)
    count = f"COUNT(DISTINCT {_col(per)})" if per else "COUNT(*)"
    avg = f"average {name} per {per_name}"
    t = _df(
        con,
        f"SELECT coalesce(CAST({_col(by)} AS VARCHAR), '(none)') AS {_ident(label)}, "
        f"{measure} AS total, {count} AS n\n{_from(table, joins)}\nGROUP BY 1 ORDER BY 1",
    )
    params = {"table": table, "by": by, "measure": measure, "name": name, "per": per,
              "per_name": per_name, "joins": joins}  # fmt: skip
    t = t[t["n"] > 0].reset_index(drop=True)
    if len(t) < 2:
        return Fact("ratio", avg, f"{by} has one group.", 0.0, params=params)
    t[avg] = (t["total"].astype(float) / t["n"]).round(2)
    total, n = float(t["total"].sum()), int(t["n"].sum())
    best, best_r, best_rest, score = None, 1.0, 0.0, 0.0
    for _, r in t.iterrows():
        rest_n = n - int(r["n"])
        if r["n"] < MIN_ROWS or rest_n < MIN_ROWS:
            continue
        rest = (total - float(r["total"])) / rest_n
        if rest > 0 and r[avg] > 0:
            q = float(r[avg]) / rest
            # Weighed by how much of the data the group holds: a tiny group's average is
            # no finding.
            s_ = _strength(abs(math.log(q)) / math.log(2.0)) * _clamp(r["n"] / (0.05 * n))
            if s_ > score:
                best, best_r, best_rest, score = r, q, rest, s_
    t = t.rename(columns={"total": name, "n": f"{per_name}s"}).sort_values(avg, ascending=False)
    if best is None:
        return Fact("ratio", f"{avg} by {label}", f"No {label} has enough rows to compare.",
                    0.0, t, "bar", label, avg, params=params)  # fmt: skip
    others = f"the other {label} values together"
    sentence = (
        f"In {table}, the {avg} for {label} {best[label]} is {amount(best[avg], name)}, "
        f"{_times(best_r) if best_r >= 1 else pct(1 - best_r) + ' less than'} "
        f"{'that of ' if best_r >= 1 else ''}{others} ({amount(round(best_rest, 2), name)})."
    )
    more = f"{best_r:.1f}× the rest" if best_r >= 1 else f"{1 - best_r:.0%} below the rest"
    short = f"average {_short(name)} per {per_name}"
    title = _cap(f"{label} {best[label]}: {short} {more}".replace("%", " %"))
    return Fact("ratio", title, sentence, score, t.reset_index(drop=True), "bar", label, avg,
                str(best[label]), params)  # fmt: skip


def rate(
    con: duckdb.DuckDBPyConnection,
    table: str,
    state: str,
    value: str,
    by: str,
    joins: list[Join] | None = None,
) -> Fact:
    """How often a state (status = 'cancelled') occurs in each group of a category: the
    group whose rate differs most from the rest."""
    label, what = _named(by, table), _named(state, table)
    name = f"{what} = {value}"
    lit = "'" + value.replace("'", "''") + "'"
    t = _df(
        con,
        f"SELECT coalesce(CAST({_col(by)} AS VARCHAR), '(none)') AS {_ident(label)}, "
        f"COUNT(*) AS rows, COUNT(*) FILTER (WHERE CAST({_col(state)} AS VARCHAR) = {lit}) "
        f"AS hits\n{_from(table, joins)}\nGROUP BY 1 ORDER BY 1",
    )
    params = {"table": table, "state": state, "value": value, "by": by, "joins": joins}
    t["rate"] = (t["hits"] / t["rows"]).round(4)
    total, hits = int(t["rows"].sum()), int(t["hits"].sum())
    best, best_r, best_rest, score = None, 1.0, 0.0, 0.0
    for _, r in t.iterrows():
        rest_n = total - int(r["rows"])
        if r["rows"] < MIN_ROWS or rest_n < MIN_ROWS:
            continue
        rest = (hits - int(r["hits"])) / rest_n
        mine = float(r["rate"])
        if rest > 0 and mine > 0:
            q = mine / rest
            # Weighed by the rows the difference touches: 5 extra cancellations are no
            # finding; a rate above the rest (a problem) counts more than one below it.
            excess = float(r["hits"]) - float(r["rows"]) * rest
            s_ = _strength(abs(math.log(q)) / math.log(2.0)) * _clamp(abs(excess) / (0.01 * total))
            s_ *= 1.0 if q > 1 else 0.6
            if s_ > score:
                best, best_r, best_rest, score = r, q, rest, s_
    t["share"] = [pct(x) for x in t["rate"]]
    col = f"share {name}"
    t = t.rename(columns={"rate": col})
    if best is None:
        return Fact("rate", f"{name} by {label}", f"No {label} has enough rows to compare.",
                    0.0, t, "bar", label, col, params=params)  # fmt: skip
    sentence = (
        f"In {table}, {pct(float(best['rate']))} of rows for {label} {best[label]} have "
        f"{what} {value} ({num(best['hits'])} of {num(best['rows'])}), against "
        f"{pct(best_rest)} for the other {label} values ({_times(best_r)} as often)."
        if best_r >= 1
        else f"In {table}, only {pct(float(best['rate']))} of rows for {label} {best[label]} have "
        f"{what} {value}, against {pct(best_rest)} for the other {label} values."
    )
    title = _cap(
        f"{label} {best[label]}: {what} {value} {best_r:.1f}× as often as the rest "
        f"({pct(float(best['rate']))} against {pct(best_rest)})"
    )
    return Fact("rate", title, sentence, score, t.sort_values(col, ascending=False)
                .reset_index(drop=True), "bar", label, col, str(best[label]), params)  # fmt: skip


def mover(
    con: duckdb.DuckDBPyConnection,
    table: str,
    date: str,
    by: str,
    measure: str,
    name: str,
    joins: list[Join] | None = None,
) -> Fact:
    """The group whose measure grew (or shrank) most against the whole, first year of the
    data against the last (first half against second when it spans less than two years)."""
    label = _named(by, table)
    d = f"TRY_CAST({_col(date)} AS TIMESTAMP)"
    lo, hi = con.sql(f"SELECT MIN({d}), MAX({d}) {_from(table, joins)}").fetchone()
    params = {"table": table, "date": date, "by": by, "measure": measure, "name": name,
              "joins": joins}  # fmt: skip
    if lo is None or hi is None or (hi - lo).days < 60:
        return Fact("mover", f"{name} by {label} over time", "The data spans too short a time.",
                    0.0, params=params)  # fmt: skip
    if hi.year - lo.year >= 1 and (hi - lo).days >= 700:
        first, last = str(lo.year), str(hi.year)
        split = f"CASE WHEN year({d}) = {lo.year} THEN 'first' WHEN year({d}) = {hi.year} " \
                "THEN 'last' END"  # fmt: skip
    else:
        mid = lo + (hi - lo) / 2
        first, last = f"{str(lo)[:10]} to {str(mid)[:10]}", f"{str(mid)[:10]} to {str(hi)[:10]}"
        split = f"CASE WHEN {d} < TIMESTAMP '{mid}' THEN 'first' ELSE 'last' END"
    t = _df(
        con,
        f"SELECT coalesce(CAST({_col(by)} AS VARCHAR), '(none)') AS {_ident(label)}, "
        f"{measure} FILTER (WHERE {split} = 'first') AS a, "
        f"{measure} FILTER (WHERE {split} = 'last') AS b, "
        f"COUNT(*) FILTER (WHERE {split} = 'first') AS n_a, "
        f"COUNT(*) FILTER (WHERE {split} = 'last') AS n_b\n{_from(table, joins)}\nGROUP BY 1",
    ).fillna(0.0)
    a_all, b_all = float(t["a"].sum()), float(t["b"].sum())
    if len(t) < 2 or a_all <= 0 or b_all <= 0:
        return Fact("mover", f"{name} by {label} over time", "Too little data to compare.", 0.0,
                    params=params)  # fmt: skip
    g_all = b_all / a_all
    best, score = None, 0.0
    for _, r in t.iterrows():
        # A group needs enough rows in both spans that its change is not a count's noise.
        if r["a"] <= 0 or r["b"] <= 0 or min(r["n_a"], r["n_b"]) < MIN_ROWS:
            continue
        q = (r["b"] / r["a"]) / g_all
        weight = _clamp((r["a"] + r["b"]) / (0.1 * (a_all + b_all)))
        s_ = _strength(abs(math.log(q)) / math.log(1.6)) * weight
        if s_ > score:
            best, score = r, s_
    t["change"] = [f"{(b / a - 1):+.1%}".replace("%", " %") if a else "n/a"
                   for a, b in zip(t["a"], t["b"], strict=True)]  # fmt: skip
    t = t.drop(columns=["n_a", "n_b"]).rename(columns={"a": first, "b": last})
    t = t.sort_values(last, ascending=False)
    t = t.reset_index(drop=True)
    if best is None:
        return Fact("mover", f"{name} by {label} over time", "No group changed apart.", 0.0,
                    t, params=params)  # fmt: skip
    g = best["b"] / best["a"]
    sentence = (
        f"In {table}, {name} of {label} {best[label]} went from "
        f"{amount(round(best['a'], 2), name)} in {first} to {amount(round(best['b'], 2), name)} "
        f"in {last} ({g - 1:+.1%}), while the total went from {amount(round(a_all, 2), name)} "
        f"to {amount(round(b_all, 2), name)} ({g_all - 1:+.1%})."
    ).replace("%)", " %)")
    verb = "grew" if g > 1 else "shrank"
    title = _cap(f"{label} {best[label]} {verb} {abs(g - 1):.0%} from {first} to {last}, the "
                 f"total {g_all - 1:+.0%}".replace("%", " %"))  # fmt: skip
    return Fact("mover", title, sentence, score * 0.9, t, "table", label, last,
                str(best[label]), params)  # fmt: skip


def correlation(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> Fact:
    """The strongest linear relationship between two numeric columns of a table."""
    params = {"table": table, "columns": columns}
    cols = ", ".join(f"CAST({_ident(c)} AS DOUBLE) AS {_ident(c)}" for c in columns)
    data = _df(con, f"SELECT {cols} FROM {_ident(table)} USING SAMPLE 20000 ROWS")
    data = data.dropna()
    if len(data) < MIN_ROWS or len(columns) < 2:
        return Fact("correlation", "Correlations", "Too few rows to correlate.", 0.0,
                    params=params)  # fmt: skip
    r = data.corr()
    best = (0.0, "", "")
    for i, a in enumerate(columns):
        for b in columns[i + 1 :]:
            v = r.loc[a, b]
            # |r| near 1 is one column derived from the other (cost from price), not a finding.
            if not math.isnan(v) and abs(v) < 0.98 and abs(v) > abs(best[0]):
                best = (float(v), a, b)
    v, a, b = best
    if not a:
        return Fact("correlation", "Correlations", "No pair of columns varies together.", 0.0,
                    params=params)  # fmt: skip
    sentence = (
        f"In {table}, {a} and {b} are {'strongly' if abs(v) >= 0.7 else 'moderately'} "
        f"{'positively' if v > 0 else 'negatively'} correlated (Pearson r = {v:.2f} over "
        f"{num(len(data))} rows)."
    )
    # Column names keep their case: "unit_price", not "Unit_price".
    title = f"{a} and {b} move {'together' if v > 0 else 'in opposite directions'} (r = {v:.2f})"
    return Fact("correlation", title, sentence, _clamp((abs(v) - 0.4) / 0.5) * 0.8,
                data[[a, b]].head(2000), "scatter", a, b, params=params)  # fmt: skip


KINDS = {
    "overview": overview,
    "quality": quality,
    "trend": trend,
    "share": share,
    "top": top_entity,
    "ratio": ratio,
    "rate": rate,
    "mover": mover,
    "correlation": correlation,
}


def compute(con: duckdb.DuckDBPyConnection, kind: str, **params) -> Fact:
    """One fact of `kind` (see KINDS) with its parameters, as `Fact.params` records them."""
    if kind not in KINDS:
        raise ValueError(f"no fact kind {kind!r}; the kinds are {sorted(KINDS)}")
    return KINDS[kind](con, **params)

"""Generated tables with one planted cause of a change, for testing `explain_change` and
`da analyze` on "why did it drop?" the way a new user would try them.

Each `Spec` is drawn from its seed: a domain (its column names), a file format, the period
asked about, and a cause: one group of 1, 2 or 3 category columns whose volume collapses
(or whose price / conversion rate is cut) from the start of that period on. Around it:
trend, seasonality, noise on every row (multiplicative, and Poisson on the counts), no row
where nothing was counted. A planted cause is one an analyst would be asked about: its
group holds at least MIN_CAUSE_SHARE of the measure before the change (the cause's columns
are drawn again until they have such a group). Nothing here is written to the repository;
files go to the folder the caller gives.
"""

import csv
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

MIN_CAUSE_SHARE = 0.08
MONTHS = "January February March April May June July August September October November December"


@dataclass(frozen=True)
class Domain:
    table: str
    categories: dict[str, list[str]]
    volume: str  # the count
    price: str  # per unit of volume (a rate for conversions)
    measure: str  # volume x price, or conversions out of visits
    named: str  # how the question names the measure
    list_price: tuple[float, float]  # price range across the first category's values
    conversions: bool = False  # measure = conversions (a count out of visits), not a product


DOMAINS = {
    "retail": Domain(
        "sales",
        {
            "region": ["North", "South", "East", "West"],
            "product": ["Espresso Machine", "Grinder", "Kettle", "Toaster", "Blender"],
            "channel": ["Online", "Retail", "Partner"],
            "customer_type": ["Consumer", "Business"],
        },
        "units",
        "unit_price",
        "revenue",
        "revenue",
        (20.0, 600.0),
    ),
    "saas": Domain(
        "subscriptions",
        {
            "plan": ["Basic", "Pro", "Enterprise"],
            "country": ["US", "UK", "Germany", "France", "Brazil", "India"],
            "segment": ["SMB", "Mid-Market", "Large"],
            "billing": ["Monthly", "Annual"],
        },
        "seats",
        "price_per_seat",
        "mrr",
        "MRR",
        (10.0, 90.0),
    ),
    "clinic": Domain(
        "appointments",
        {
            "service": ["X-ray", "MRI", "Physio", "Dental", "Lab", "Checkup"],
            "clinic": ["Northside", "Riverside", "Hilltop", "Lakeview", "Downtown"],
            "payer": ["Private", "Public", "Self-pay"],
            "shift": ["Morning", "Evening"],
        },
        "visits",
        "fee",
        "billings",
        "billings",
        (40.0, 400.0),
    ),
    "marketing": Domain(
        "traffic",
        {
            "campaign": ["Spring Sale", "Brand", "Retargeting", "Newsletter", "Affiliates"],
            "market": ["USA", "Canada", "Mexico", "Spain", "Italy"],
            "device": ["Mobile", "Desktop", "Tablet"],
            "audience": ["New", "Returning"],
        },
        "visits",
        "conversion_rate",
        "conversions",
        "conversions",
        (0.01, 0.06),
        conversions=True,
    ),
}
FORMATS = ["csv", "xlsx", "sqlite", "sqlite_untyped", "csv_eu", "csv_quoted"]


@dataclass(frozen=True)
class Spec:
    seed: int
    domain: str
    fmt: str
    period: str  # month, quarter or year
    depth: int  # columns in the cause
    mechanism: str  # volume or price
    notes: bool  # an unrelated `notes` table beside the data (SQLite and XLSX)

    @property
    def id(self) -> str:
        extra = "+notes" if self.notes else ""
        return (
            f"{self.seed}-{self.domain}-{self.fmt}{extra}-{self.period}-"
            f"{self.depth}col-{self.mechanism}"
        )


def specs(n: int = 30) -> list[Spec]:
    """A spread over every dimension: each domain, format, period, depth and mechanism
    appears several times, in combinations that cycle at different rates."""
    out = []
    domains = list(DOMAINS)
    for i in range(n):
        fmt = FORMATS[i % len(FORMATS)]
        depth = 1 + (i // 2) % 3
        price = (i // 4) % 2 == 1 and depth < 3
        out.append(
            Spec(
                seed=1000 + i,
                domain=domains[i % 4],
                fmt=fmt,
                period=["quarter", "month", "year"][(i // 3) % 3],
                depth=depth,
                mechanism="price" if price else "volume",
                notes=fmt in ("xlsx", "sqlite", "sqlite_untyped") and i % 2 == 0,
            )
        )
    return out


@dataclass
class Case:
    spec: Spec
    path: Path
    table: str
    question: str
    period: str  # as the question says it
    measure: str  # as the question names it
    cause: dict[str, str]  # column -> value of the planted group
    change_pct: float  # of the total, target period against the base period


def generate(spec: Spec, folder: Path) -> Case:
    rng = np.random.default_rng(spec.seed)
    dom = DOMAINS[spec.domain]
    cats = dom.categories
    names = list(cats)
    weights = {c: rng.dirichlet(np.full(len(v), 2.0)) for c, v in cats.items()}
    first = names[0]
    lo, hi = dom.list_price
    prices = dict(zip(cats[first], rng.uniform(lo, hi, len(cats[first])), strict=True))

    if spec.period == "year":
        times = pd.date_range("2021-01-01", "2024-12-01", freq="MS")
        target_start, target_end = pd.Timestamp("2024-01-01"), pd.Timestamp("2025-01-01")
        period_text, label = "2024", "2024"
    else:
        times = pd.date_range("2024-01-01", "2025-12-31", freq="7D")
        if spec.period == "quarter":
            q = int(rng.integers(2, 5))
            target_start = pd.Timestamp(2025, 3 * q - 2, 1)
            target_end = target_start + pd.DateOffset(months=3)
            period_text = f"Q{q}"
            label = f"Q{q} 2025" if rng.random() < 0.5 else f"Q{q}"
        else:
            m = int(rng.integers(2, 13))
            target_start = pd.Timestamp(2025, m, 1)
            target_end = target_start + pd.DateOffset(months=1)
            month = MONTHS.split()[m - 1]
            period_text = f"{month} 2025"
            label = period_text if rng.random() < 0.5 else month

    grid = pd.MultiIndex.from_product([times, *cats.values()], names=["date", *names])
    df = grid.to_frame(index=False)
    w = np.ones(len(df))
    for c in names:
        w *= weights[c][df[c].map({v: i for i, v in enumerate(cats[c])}).to_numpy()]
    years = (df["date"] - times[0]).dt.days.to_numpy() / 365.25
    trend = 1 + rng.uniform(-0.05, 0.12) * years
    amplitude = rng.uniform(0.0, 0.25)
    season = 1 + amplitude * np.sin(2 * np.pi * (df["date"].dt.month.to_numpy() - 3) / 12)
    noise = rng.lognormal(0.0, 0.12, len(df))
    scale = 400.0 if dom.conversions else 60.0
    level = scale * len(df) / len(times) * w * trend * season * noise
    if spec.period != "year":
        level = level / 4.3  # weekly rows

    # The cause: `depth` columns, a group that carries enough of the measure.
    for _ in range(50):  # columns that have such a group (a triple seldom does)
        cause_cols = sorted(rng.choice(names, size=spec.depth, replace=False), key=names.index)
        share = df.assign(w=w).groupby(cause_cols)["w"].sum() / w.sum()
        big = share[share >= MIN_CAUSE_SHARE]
        if len(big):
            break
    pick = big.index[rng.integers(len(big))] if len(big) else share.idxmax()
    pick = pick if isinstance(pick, tuple) else (pick,)
    cause = dict(zip(cause_cols, pick, strict=True))
    hit = np.ones(len(df), dtype=bool)
    for c, v in cause.items():
        hit &= (df[c] == v).to_numpy()
    hit &= (df["date"] >= target_start).to_numpy()
    hit_volume = hit if spec.mechanism == "volume" else np.zeros_like(hit)
    hit_price = hit if spec.mechanism == "price" else np.zeros_like(hit)
    level = np.where(hit_volume, level * (1 - rng.uniform(0.5, 0.85)), level)

    base_price = df[first].map(prices).to_numpy() * rng.lognormal(0.0, 0.03, len(df))
    price = np.where(hit_price, base_price * (1 - rng.uniform(0.3, 0.5)), base_price)
    if dom.conversions:
        visits = rng.poisson(level)
        conversions = rng.binomial(visits, np.clip(price, 0, 1))
        df[dom.volume] = visits
        df[dom.measure] = conversions
    else:
        units = rng.poisson(level)
        price = np.round(price, 2)
        df[dom.volume] = units
        df[dom.price] = price
        df[dom.measure] = np.round(units * price, 2)
    df = df[df[dom.volume] > 0].reset_index(drop=True)  # nothing sold, no row
    df["date"] = df["date"].dt.date

    in_target = (pd.to_datetime(df["date"]) >= target_start) & (
        pd.to_datetime(df["date"]) < target_end
    )
    if spec.period == "year":
        base_start = target_start - pd.DateOffset(years=1)
    elif spec.period == "quarter":
        base_start = target_start - pd.DateOffset(months=3)
    else:
        base_start = target_start - pd.DateOffset(months=1)
    in_base = (pd.to_datetime(df["date"]) >= base_start) & (
        pd.to_datetime(df["date"]) < target_start
    )
    after, before = df.loc[in_target, dom.measure].sum(), df.loc[in_base, dom.measure].sum()
    change = 100 * (after - before) / before
    verb = "drop" if change < 0 else "change"
    question = f"why did {dom.named} {verb} in {label}?"

    notes = pd.DataFrame(
        {
            "created": pd.date_range("2024-01-05", periods=40, freq="11D").date,
            "author": rng.choice(["ana", "ben", "chen", "dora"], 40),
            "note": [f"call notes {i}: follow up next week" for i in range(40)],
            "word_count": rng.integers(5, 400, 40),
        }
    )
    path = _write(df, notes if spec.notes else None, spec, dom.table, folder)
    return Case(spec, path, dom.table, question, label, dom.named, cause, float(change))


def _write(df: pd.DataFrame, notes, spec: Spec, table: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{table}_{spec.seed}"
    if spec.fmt == "csv":
        path = folder / f"{stem}.csv"
        df.to_csv(path, index=False)
    elif spec.fmt == "csv_quoted":
        # Every field quoted, money with thousands separators, as some exports write it.
        path = folder / f"{stem}.csv"
        out = df.copy()
        for c in out.columns:
            if out[c].dtype.kind == "f":
                out[c] = out[c].map(lambda x: f"{x:,.2f}")
        out.to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    elif spec.fmt == "csv_eu":
        # A German-locale export: ';' separators, decimal commas, day.month.year, a BOM.
        path = folder / f"{stem}.csv"
        out = df.copy()
        for c in out.columns:
            if out[c].dtype.kind == "f":
                out[c] = out[c].map(
                    lambda x: f"{x:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
                )
        out["date"] = pd.to_datetime(out["date"]).dt.strftime("%d.%m.%Y")
        out.to_csv(path, index=False, sep=";", encoding="utf-8-sig")
    elif spec.fmt == "xlsx":
        path = folder / f"{stem}.xlsx"
        with pd.ExcelWriter(path, engine="openpyxl") as xw:
            out = df.assign(date=pd.to_datetime(df["date"]))
            out.to_excel(xw, sheet_name=table, index=False)
            if notes is not None:
                notes.assign(created=pd.to_datetime(notes["created"])).to_excel(
                    xw, sheet_name="notes", index=False
                )
    else:
        path = folder / f"{stem}.db"
        path.unlink(missing_ok=True)
        con = sqlite3.connect(path)
        untyped = spec.fmt == "sqlite_untyped"
        for name, frame in [(table, df)] + ([("notes", notes)] if notes is not None else []):
            if untyped:
                # `CREATE TABLE t (date, region, sales)` filled as the sqlite3 shell's
                # .import does: every value stored as text.
                con.execute(f"CREATE TABLE {name} ({', '.join(frame.columns)})")
                rows = [[str(x) for x in r] for r in frame.itertuples(index=False)]
            else:
                types = {"i": "INTEGER", "f": "REAL"}
                cols = ", ".join(
                    f"{c} {types.get(frame[c].dtype.kind, 'TEXT')}" for c in frame.columns
                )
                con.execute(f"CREATE TABLE {name} ({cols})")
                rows = [
                    [x.isoformat() if hasattr(x, "isoformat") else x for x in r]
                    for r in frame.itertuples(index=False)
                ]
                rows = [[x.item() if hasattr(x, "item") else x for x in r] for r in rows]
            marks = ", ".join("?" * len(frame.columns))
            con.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
        con.commit()
        con.close()
    return path

"""A training corpus that is not the evaluation set: realistic tables made from seeds.

`python -m train.corpus OUT --n 36` writes N datasets across domains (sales, HR, sensors,
finance, clinics, web traffic, logistics, energy, education), each drawn from its own seed:
one to three tables, joined by keys where there are several, in CSV, XLSX or SQLite, with
what real tables have — dates over a span, skewed amounts (log-normal), a few outliers, missing
values in some columns, text categories with uneven frequencies, and entity names. Nothing is
downloaded and nothing comes from DABench.

Whole datasets are held out (`--heldout`, a share, by a hash of the dataset's name, so adding
datasets never moves an existing one between splits): `da synth` turns the training split into
stage-1 items and stage-2 trajectories (and holds out whole question templates on its own),
and the held-out split is what `da eval` measures before and after training. `manifest.json`
lists every dataset with its domain, format, tables, split and seed.

    python -m train.corpus corpus/ --n 36
    da synth corpus/train/* -o stage2.jsonl --n 400        # trajectories (the solver, checked)
    da synth corpus/train/* -o code.jsonl --kind code --n 2000
    da synth corpus/heldout/* -o heldout.jsonl --questions-only
"""

import argparse
import hashlib
import json
import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

FORMATS = ("csv", "xlsx", "sqlite")


@dataclass(frozen=True)
class Col:
    """One column: `kind` is id, ref (a key of another table), category, entity, date,
    amount (log-normal), count (Poisson), measure (normal) or flag."""

    name: str
    kind: str
    values: tuple[str, ...] = ()  # category values (their frequencies are drawn per dataset)
    mean: float = 100.0  # amount: median; count: mean; measure: mean
    spread: float = 0.6  # amount: log sd; measure: sd as a share of the mean
    ref: str = ""  # ref: the referenced table
    missing: float = 0.0  # share of missing values (drawn around this)


@dataclass(frozen=True)
class Table:
    name: str
    rows: int
    cols: tuple[Col, ...]


@dataclass(frozen=True)
class Domain:
    name: str
    tables: tuple[Table, ...]  # dimensions first, the fact table last
    words: tuple[str, ...] = field(default=())  # stems for entity names


def C(name: str, *values: str, missing: float = 0.0) -> Col:  # noqa: N802 - a spec shorthand
    return Col(name, "category", tuple(values), missing=missing)


DOMAINS: tuple[Domain, ...] = (
    Domain("sales", (
        Table("customers", 300, (Col("customer_id", "id"), Col("name", "entity"),
              C("segment", "Consumer", "Small Business", "Enterprise"),
              C("country", "Germany", "France", "Spain", "Italy", "Poland", "Sweden"),
              Col("signup_date", "date"))),
        Table("orders", 4000, (Col("order_id", "id"), Col("customer_id", "ref", ref="customers"),
              Col("order_date", "date"), C("channel", "Web", "Store", "Phone", "Partner"),
              C("status", "delivered", "returned", "cancelled"),
              Col("amount", "amount", mean=80), Col("discount", "measure", mean=5, spread=0.8,
              missing=0.1))),
    ), ("Nova", "Apex", "Vista", "Orion", "Lumen", "Cobalt", "Atlas", "Zenith")),
    Domain("hr", (
        Table("employees", 800, (Col("employee_id", "id"), Col("name", "entity"),
              C("department", "Engineering", "Sales", "Support", "Finance", "Operations", "HR"),
              C("level", "Junior", "Mid", "Senior", "Lead"), Col("hire_date", "date"),
              Col("salary", "amount", mean=52000, spread=0.35),
              Col("performance_score", "measure", mean=3.4, spread=0.2, missing=0.06),
              C("remote", "yes", "no"), Col("sick_days", "count", mean=4))),
    ), ("Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jin")),
    Domain("sensors", (
        Table("devices", 40, (Col("device_id", "id"), Col("name", "entity"),
              C("site", "North Plant", "South Plant", "Warehouse"),
              C("model", "TX-100", "TX-200", "RX-9"))),
        Table("readings", 6000, (Col("reading_id", "id"), Col("device_id", "ref", ref="devices"),
              Col("recorded_at", "date"), Col("temperature_c", "measure", mean=21, spread=0.15),
              Col("humidity_pct", "measure", mean=45, spread=0.2, missing=0.05),
              Col("vibration", "amount", mean=0.8, spread=0.9), C("alarm", "none", "warning",
              "critical"))),
    ), ("Sensor", "Probe", "Node", "Unit")),
    Domain("finance", (
        Table("accounts", 200, (Col("account_id", "id"), Col("holder", "entity"),
              C("account_type", "Checking", "Savings", "Business", "Brokerage"),
              C("branch", "Downtown", "Airport", "Harbor", "Old Town", "University"),
              Col("opened_on", "date"))),
        Table("transactions", 7000, (Col("transaction_id", "id"),
              Col("account_id", "ref", ref="accounts"), Col("booked_on", "date"),
              C("category", "groceries", "rent", "salary", "travel", "utilities", "dining"),
              Col("amount", "amount", mean=60, spread=1.0), C("direction", "debit", "credit"),
              C("merchant_country", "DE", "FR", "US", "GB", "NL", missing=0.08))),
    ), ("Holm", "Reyes", "Kaur", "Novak", "Sato", "Berg", "Costa", "Idris")),
    Domain("clinic", (
        Table("doctors", 25, (Col("doctor_id", "id"), Col("name", "entity"),
              C("specialty", "Cardiology", "Dermatology", "Pediatrics", "Neurology",
                "Orthopedics"))),
        Table("visits", 5000, (Col("visit_id", "id"), Col("doctor_id", "ref", ref="doctors"),
              Col("visit_date", "date"), C("visit_type", "first", "follow-up", "emergency"),
              Col("wait_minutes", "amount", mean=18, spread=0.7),
              Col("fee", "amount", mean=90, spread=0.4), C("insurer", "Public", "Mutua",
              "Salus", "Vita", missing=0.09), Col("patient_age", "measure", mean=46,
              spread=0.4))),
    ), ("Dr Amsel", "Dr Brook", "Dr Chen", "Dr Diaz", "Dr Eze", "Dr Fors")),
    Domain("web", (
        Table("sessions", 9000, (Col("session_id", "id"), Col("started_at", "date"),
              C("source", "organic", "ads", "social", "email", "direct"),
              C("device", "mobile", "desktop", "tablet"),
              C("country", "US", "DE", "IN", "BR", "GB", "FR"),
              Col("pages", "count", mean=4), Col("duration_s", "amount", mean=120, spread=1.0),
              C("converted", "no", "yes"), Col("revenue", "amount", mean=35, spread=0.8,
              missing=0.6))),
    ), ()),
    Domain("logistics", (
        Table("carriers", 12, (Col("carrier_id", "id"), Col("name", "entity"),
              C("mode", "road", "rail", "air", "sea"))),
        Table("shipments", 5000, (Col("shipment_id", "id"),
              Col("carrier_id", "ref", ref="carriers"), Col("shipped_on", "date"),
              C("origin", "Rotterdam", "Hamburg", "Antwerp", "Le Havre"),
              C("destination_region", "Nordics", "Iberia", "Alps", "Baltics", "Balkans"),
              Col("weight_kg", "amount", mean=40, spread=1.0),
              Col("cost", "amount", mean=120, spread=0.7),
              Col("transit_days", "count", mean=4), C("on_time", "yes", "no"))),
    ), ("Swift", "Terra", "Blue", "Cargo", "Parcel", "Link")),
    Domain("energy", (
        Table("meters", 150, (Col("meter_id", "id"), C("district", "North", "South",
              "East", "West", "Center"), C("tariff", "standard", "night", "green"),
              Col("installed_on", "date"))),
        Table("meter_readings", 8000, (Col("reading_id", "id"),
              Col("meter_id", "ref", ref="meters"), Col("read_on", "date"),
              Col("kwh", "amount", mean=9, spread=0.6),
              Col("peak_kw", "measure", mean=3.2, spread=0.3, missing=0.04),
              Col("outdoor_temp_c", "measure", mean=11, spread=0.8))),
    ), ()),
    Domain("education", (
        Table("courses", 30, (Col("course_id", "id"), Col("title", "entity"),
              C("faculty", "Science", "Arts", "Business", "Engineering"),
              Col("credits", "count", mean=5))),
        Table("enrollments", 4500, (Col("enrollment_id", "id"),
              Col("course_id", "ref", ref="courses"), Col("enrolled_on", "date"),
              C("year_of_study", "1", "2", "3", "4"), Col("grade", "measure", mean=68,
              spread=0.18, missing=0.07), C("passed", "yes", "no"),
              Col("attendance_pct", "measure", mean=82, spread=0.15))),
    ), ("Intro to", "Advanced", "Applied", "Modern", "History of")),
)  # fmt: skip


def _weights(rng: np.random.Generator, n: int) -> np.ndarray:
    """Uneven category frequencies: a Dirichlet draw, sorted so the first value leads."""
    return np.sort(rng.dirichlet(np.full(n, 1.2)))[::-1]


def _names(rng: np.random.Generator, words: tuple[str, ...], n: int) -> list[str]:
    tails = ["Group", "Labs", "Works", "Partners", "Co", "Systems", "Studio", "Trading"]
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        stem = str(rng.choice(words)) if words else "Item"
        name = f"{stem} {rng.choice(tails)} {int(rng.integers(1, 999))}"
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def _column(rng, col: Col, n: int, keys: dict[str, int], words, start: date, days: int):
    if col.kind == "id":
        values: object = np.arange(1, n + 1)
    elif col.kind == "ref":
        # Skewed: a few referenced rows (customers, devices) carry many fact rows.
        k = keys[col.ref]
        p = rng.pareto(1.5, k) + 0.1
        values = rng.choice(np.arange(1, k + 1), size=n, p=p / p.sum())
    elif col.kind == "category":
        values = rng.choice(list(col.values), size=n, p=_weights(rng, len(col.values)))
    elif col.kind == "entity":
        values = np.array(_names(rng, words, n), dtype=object)
    elif col.kind == "date":
        values = pd.to_datetime(
            [start + timedelta(days=int(d)) for d in np.sort(rng.integers(0, days, n))]
        )
    elif col.kind == "amount":
        values = np.round(rng.lognormal(np.log(col.mean), col.spread, n), 2)
        outliers = rng.random(n) < 0.004  # a few entries off by an order of magnitude
        values = np.where(outliers, values * rng.uniform(8, 25, n), values).round(2)
    elif col.kind == "count":
        values = rng.poisson(col.mean, n)
    elif col.kind == "measure":
        values = np.round(rng.normal(col.mean, abs(col.mean) * col.spread, n), 2)
    else:
        raise ValueError(f"unknown column kind {col.kind}")
    s = pd.Series(values, name=col.name)
    if col.missing:
        share = min(0.9, col.missing * rng.uniform(0.6, 1.4))
        s = s.astype(object).where(rng.random(n) >= share, None)
    return s


@dataclass
class Dataset:
    name: str
    domain: str
    fmt: str
    seed: int
    split: str
    tables: dict[str, pd.DataFrame]


def dataset(domain: Domain, seed: int, fmt: str, heldout: float) -> Dataset:
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 1.5)
    start = date(2019, 1, 1) + timedelta(days=int(rng.integers(0, 5 * 365)))
    days = int(rng.integers(180, 4 * 365))
    keys: dict[str, int] = {}
    tables: dict[str, pd.DataFrame] = {}
    for t in domain.tables:
        n = max(10, int(t.rows * scale))
        keys[t.name] = n
        cols = [_column(rng, c, n, keys, domain.words, start, days) for c in t.cols]
        tables[t.name] = pd.concat(cols, axis=1)
    name = f"{domain.name}-{seed:04d}"
    digest = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return Dataset(name, domain.name, fmt, seed, "heldout" if digest < heldout else "train", tables)


def write(ds: Dataset, folder: Path) -> list[Path]:
    """The dataset's files under folder/<split>/: one CSV per table (in a folder of its own
    when there are several), one XLSX workbook with a sheet per table, or one SQLite file."""
    base = folder / ds.split
    base.mkdir(parents=True, exist_ok=True)
    if ds.fmt == "sqlite":
        path = base / f"{ds.name}.db"
        path.unlink(missing_ok=True)
        con = sqlite3.connect(path)
        for name, df in ds.tables.items():
            out = df.copy()
            for c in out.columns:
                if pd.api.types.is_datetime64_any_dtype(out[c]):
                    out[c] = out[c].dt.strftime("%Y-%m-%d")
            out.to_sql(name, con, index=False)
        con.close()
        return [path]
    if ds.fmt == "xlsx":
        path = base / f"{ds.name}.xlsx"
        with pd.ExcelWriter(path, engine="openpyxl") as xl:
            for name, df in ds.tables.items():
                df.to_excel(xl, sheet_name=name, index=False)
        return [path]
    if len(ds.tables) == 1:
        ((name, df),) = ds.tables.items()
        path = base / f"{ds.name}.csv"
        df.to_csv(path, index=False, date_format="%Y-%m-%d")
        return [path]
    folder = base / ds.name
    folder.mkdir(exist_ok=True)
    paths = []
    for name, df in ds.tables.items():
        path = folder / f"{name}.csv"
        df.to_csv(path, index=False, date_format="%Y-%m-%d")
        paths.append(path)
    return paths


def build(folder: Path, n: int = 36, seed: int = 0, heldout: float = 0.2) -> list[dict]:
    """N datasets, the domains in turn and the formats rotating, each from its own seed."""
    manifest = []
    for i in range(n):
        domain = DOMAINS[i % len(DOMAINS)]
        fmt = FORMATS[(i // len(DOMAINS) + i) % len(FORMATS)]
        ds = dataset(domain, seed * 10_000 + i, fmt, heldout)
        paths = write(ds, folder)
        manifest.append({
            "name": ds.name, "domain": ds.domain, "format": ds.fmt, "seed": ds.seed,
            "split": ds.split, "tables": {t: len(df) for t, df in ds.tables.items()},
            "files": [str(p.relative_to(folder)) for p in paths],
        })  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.corpus", description=__doc__.split("\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--n", type=int, default=36, help="datasets (default 36)")
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    p.add_argument("--heldout", type=float, default=0.2, help="share of whole datasets held out")
    a = p.parse_args(argv)
    manifest = build(a.folder, a.n, a.seed, a.heldout)
    held = sum(m["split"] == "heldout" for m in manifest)
    domains = len({m["domain"] for m in manifest})
    print(
        f"{len(manifest)} datasets ({domains} domains), {len(manifest) - held} for training and "
        f"{held} held out, in {a.folder}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

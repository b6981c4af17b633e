"""Generated databases with planted facts, for testing what `da report` finds on data it has
never seen, the way an analyst would judge a first survey.

Each database is drawn from a seed and has several tables joined by keys, a date column, noise
on every row, and at least five planted facts of the kinds a good first survey leads with: a
customer (or carrier, doctor) far ahead of the rest, a month that breaks from the trend, a
column with missing values, a segment whose average differs, a segment whose rate of a state
(cancelled, late, no-show) differs, the category that carries most of the measure, two
columns that move together, rows entered twice. The facts are written down here, beside the
generator, as `Planted` checks (the words that must appear together and the true numbers,
computed from the written rows by plain SQL), and never given to the model. Nothing here is
written to the repository; files go to the folder the caller gives.
"""

import math
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np


@dataclass
class Planted:
    kind: str
    words: list[str]  # all must appear in one passage (a sentence, a table row, a title)
    numbers: list[float]  # any one of these, as the report prints it
    note: str = ""

    def found_in(self, text: str) -> bool:
        """Whether a passage of `text` names every word and states one of the numbers."""
        for passage in _passages(text):
            low = passage.lower()
            if all(w.lower() in low for w in self.words) and _has_number(passage, self.numbers):
                return True
        return False


@dataclass
class Database:
    name: str
    path: Path
    facts: list[Planted] = field(default_factory=list)

    def score(self, text: str) -> list[bool]:
        return [f.found_in(text) for f in self.facts]


_NUM = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")


def _passages(text: str) -> list[str]:
    """Paragraphs and list items, and each with the heading above it (a finding's title
    names its subject; its sentences may not repeat it)."""
    out, heading = [], ""
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if block.startswith("#"):
            heading = block
            continue
        for item in re.split(r"\n(?=[-*] |\d+\. |\|)", block):
            out.append(heading + "\n" + item)
    return out


def _has_number(passage: str, numbers: list[float]) -> bool:
    seen = []
    for m in _NUM.findall(passage):
        try:
            seen.append(float(m.replace(",", "")))
        except ValueError:
            continue
    for want in numbers:
        tol = max(abs(want) * 0.005, 0.051 if abs(want) < 100 else 0.51)
        if any(math.isclose(x, want, abs_tol=tol) or math.isclose(x, -want, abs_tol=tol)
               for x in seen):  # fmt: skip
            return True
    return False


def _months(first: date, n: int) -> list[date]:
    out, y, m = [], first.year, first.month
    for _ in range(n):
        out.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _day_in(rng: np.random.Generator, month: date) -> date:
    nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return month + timedelta(days=int(rng.integers(0, (nxt - month).days)))


def _one(con: sqlite3.Connection, sql: str) -> object:
    return con.execute(sql).fetchone()[0]


# -- a shop ------------------------------------------------------------------------------

FIRST_NAMES = ["Aster", "Birch", "Cedar", "Dune", "Ember", "Fjord", "Grove", "Heath", "Iris",
               "Juniper", "Kelp", "Linden", "Moss", "Nettle", "Oak", "Pine", "Quill", "Reed",
               "Sage", "Thistle", "Umber", "Vale", "Willow", "Yarrow", "Zephyr"]  # fmt: skip
TRADES = ["Foods", "Outfitters", "Studio", "Works", "Partners", "Goods", "Supply", "Labs"]


def _names(rng: np.random.Generator, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        out.add(f"{rng.choice(FIRST_NAMES)} {rng.choice(TRADES)} {int(rng.integers(10, 99))}")
    return sorted(out)


def shop(folder: Path, seed: int) -> Database:
    """customers, products, orders, order_items: a top customer, a dip month, missing phone
    numbers, a channel with larger orders, the category that carries most revenue."""
    rng = np.random.default_rng(seed)
    path = folder / f"shop_{seed}.db"
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, name TEXT, city TEXT,
                                phone TEXT, signup_date TEXT);
        CREATE TABLE products (product_id INTEGER PRIMARY KEY, name TEXT, category TEXT,
                               price REAL);
        CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER,
                             order_date TEXT, channel TEXT, status TEXT);
        CREATE TABLE order_items (order_id INTEGER, product_id INTEGER, quantity INTEGER,
                                  unit_price REAL);
        """
    )
    names = _names(rng, 150)
    cities = ["Porto", "Ghent", "Bergen", "Graz", "Turku", "Cork", "Lille", "Bremen"]
    for i, n in enumerate(names, 1):
        phone = None if rng.uniform() < 1 / 11 else f"+{int(rng.integers(10**9, 10**10))}"
        signup = date(2022, 1, 1) + timedelta(days=int(rng.integers(0, 700)))
        con.execute("INSERT INTO customers VALUES (?,?,?,?,?)",
                    (i, n, str(rng.choice(cities)), phone, signup.isoformat()))  # fmt: skip
    cats = {"Appliances": (180, 520), "Kitchen": (15, 60), "Garden": (20, 90),
            "Lighting": (25, 110), "Textiles": (10, 45)}  # fmt: skip
    pid = 0
    product_cat = {}
    for cat, (lo, hi) in cats.items():
        for k in range(8):
            pid += 1
            price = round(float(rng.uniform(lo, hi)), 2)
            con.execute(
                "INSERT INTO products VALUES (?,?,?,?)", (pid, f"{cat[:4]}-{k}", cat, price)
            )
            product_cat[pid] = (cat, price)
    months = _months(date(2024, 1, 1), 24)
    dip = months[int(rng.integers(8, 20))]
    top = int(rng.integers(1, len(names) + 1))
    weights = rng.gamma(2.0, 1.0, len(names))
    weights[top - 1] = 0
    weights = weights / weights.sum()
    channels = ["Web", "App", "Store", "Marketplace"]
    big = str(rng.choice(channels))
    oid = 0
    for k, m in enumerate(months):
        n = int(rng.poisson(140 * (1 + 0.015 * k)))
        if m == dip:
            n = int(n * 0.5)
        for _ in range(n):
            oid += 1
            cust = int(rng.choice(len(names), p=weights)) + 1
            ch = str(rng.choice(channels, p=[0.4, 0.3, 0.2, 0.1]))
            status = "returned" if rng.uniform() < 0.05 else "delivered"
            con.execute("INSERT INTO orders VALUES (?,?,?,?,?)",
                        (oid, cust, _day_in(rng, m).isoformat(), ch, status))  # fmt: skip
            for p in rng.choice(pid, size=int(rng.integers(1, 4)), replace=False):
                cat, price = product_cat[int(p) + 1]
                q = int(rng.poisson(2.0 if ch == big else 1.0)) + 1
                con.execute("INSERT INTO order_items VALUES (?,?,?,?)",
                            (oid, int(p) + 1, q, price))  # fmt: skip
    # The top customer: about four times the value of the next.
    value = dict(con.execute(
        "SELECT o.customer_id, SUM(quantity * unit_price) FROM order_items i JOIN orders o "
        "USING (order_id) GROUP BY 1").fetchall())  # fmt: skip
    target = 4.0 * max(value.values())
    got = 0.0
    while got < target:
        oid += 1
        m = months[int(rng.integers(0, 24))]
        con.execute("INSERT INTO orders VALUES (?,?,?,?,?)",
                    (oid, top, _day_in(rng, m).isoformat(), "Web", "delivered"))  # fmt: skip
        p = int(rng.integers(1, 9))  # an appliance
        cat, price = product_cat[p]
        q = int(rng.integers(2, 6))
        con.execute("INSERT INTO order_items VALUES (?,?,?,?)", (oid, p, q, price))
        got += q * price
    con.commit()
    value_sql = (
        "SELECT {g} AS g, SUM(quantity * unit_price) AS v FROM order_items i "
        "JOIN orders o USING (order_id) JOIN customers c USING (customer_id) "
        "JOIN products p USING (product_id) GROUP BY 1 ORDER BY 2 DESC"
    )
    rows = con.execute(value_sql.format(g="c.name")).fetchall()
    ratio = rows[0][1] / rows[1][1]
    cats_v = con.execute(value_sql.format(g="p.category")).fetchall()
    total = sum(v for _, v in cats_v)
    month_v = dict(con.execute(
        "SELECT substr(order_date, 1, 7), SUM(quantity * unit_price) FROM order_items "
        "JOIN orders USING (order_id) GROUP BY 1").fetchall())  # fmt: skip
    month_n = dict(con.execute(
        "SELECT substr(order_date, 1, 7), COUNT(*) FROM orders GROUP BY 1").fetchall())  # fmt: skip
    missing = _one(con, "SELECT COUNT(*) FROM customers WHERE phone IS NULL")
    n_cust = _one(con, "SELECT COUNT(*) FROM customers")
    aov = con.execute(
        "SELECT channel = ?, SUM(quantity * unit_price) / COUNT(DISTINCT order_id) "
        "FROM order_items JOIN orders USING (order_id) GROUP BY 1 ORDER BY 1 DESC",
        (big,),
    ).fetchall()
    con.close()
    d = dip.strftime("%Y-%m")
    return Database("shop", path, [
        Planted("top", [rows[0][0]], [round(ratio, 1), round(rows[0][1], 2)],
                "the customer far ahead of the next"),
        Planted("dip", [d], [round(month_v[d], 2), month_n[d]], "the month orders fell"),
        Planted("missing", ["phone"], [round(100 * missing / n_cust, 1), missing],
                "customers.phone is missing in about one row in eleven"),
        Planted("ratio", [big], [round(aov[0][1], 2), round(aov[0][1] / aov[1][1], 1)],
                "the channel whose orders are worth more"),
        Planted("share", [cats_v[0][0]], [round(100 * cats_v[0][1] / total, 1),
                                          round(cats_v[0][1], 2)],
                "the category that carries most revenue"),
    ])  # fmt: skip


# -- a clinic ----------------------------------------------------------------------------


def clinic(folder: Path, seed: int) -> Database:
    """patients, doctors, visits: a department with many no-shows, a surge month, missing
    insurers, fee moving with visit length, the department that carries most fees."""
    rng = np.random.default_rng(seed)
    path = folder / f"clinic_{seed}.db"
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE patients (patient_id INTEGER PRIMARY KEY, birth_year INTEGER,
                               insurer TEXT, district TEXT);
        CREATE TABLE doctors (doctor_id INTEGER PRIMARY KEY, name TEXT, department TEXT);
        CREATE TABLE visits (visit_id INTEGER PRIMARY KEY, patient_id INTEGER,
                             doctor_id INTEGER, visit_date TEXT, status TEXT,
                             duration_min REAL, fee REAL);
        """
    )
    insurers = ["Mutua", "Salus", "Vita", "Public"]
    for i in range(1, 801):
        ins = None if rng.uniform() < 0.09 else str(rng.choice(insurers))
        con.execute("INSERT INTO patients VALUES (?,?,?,?)",
                    (i, int(rng.integers(1940, 2015)), ins,
                     str(rng.choice(["North", "South", "Harbour", "Old Town"]))))  # fmt: skip
    depts = ["Cardiology", "Dermatology", "Pediatrics", "Orthopedics", "Neurology"]
    noshow_dept = str(rng.choice(depts[1:]))
    docs = []
    for k, n in enumerate(_names(rng, 20), 1):
        dept = depts[k % len(depts)]
        con.execute("INSERT INTO doctors VALUES (?,?,?)", (k, "Dr " + n.split()[0] + f" {k}", dept))
        docs.append(dept)
    months = _months(date(2024, 1, 1), 24)
    surge = months[int(rng.integers(6, 20))]
    vid = 0
    for m in months:
        n = int(rng.poisson(260))
        if m == surge:
            n = int(n * 1.7)
        for _ in range(n):
            vid += 1
            doc = int(rng.integers(1, 21))
            dept = docs[doc - 1]
            p_noshow = 0.24 if dept == noshow_dept else 0.06
            status = "no-show" if rng.uniform() < p_noshow else "completed"
            base = 45 if dept == "Cardiology" else 25
            dur = max(5.0, float(rng.normal(base, 8)))
            fee = round(dur * 3.2 + float(rng.normal(0, 12)) + 20, 2)
            con.execute("INSERT INTO visits VALUES (?,?,?,?,?,?,?)",
                        (vid, int(rng.integers(1, 801)), doc, _day_in(rng, m).isoformat(),
                         status, round(dur, 1), fee))  # fmt: skip
    con.commit()
    rate = con.execute(
        "SELECT d.department = ?, AVG(v.status = 'no-show') FROM visits v JOIN doctors d "
        "USING (doctor_id) GROUP BY 1 ORDER BY 1 DESC", (noshow_dept,)).fetchall()  # fmt: skip
    s = surge.strftime("%Y-%m")
    n_s = _one(con, f"SELECT COUNT(*) FROM visits WHERE visit_date LIKE '{s}%'")
    fee_s = _one(con, f"SELECT SUM(fee) FROM visits WHERE visit_date LIKE '{s}%'")
    miss = _one(con, "SELECT COUNT(*) FROM patients WHERE insurer IS NULL")
    xs = np.array(con.execute("SELECT duration_min, fee FROM visits").fetchall())
    r = float(np.corrcoef(xs[:, 0], xs[:, 1])[0, 1])
    fees = con.execute("SELECT d.department, SUM(fee) FROM visits JOIN doctors d "
                       "USING (doctor_id) GROUP BY 1 ORDER BY 2 DESC").fetchall()  # fmt: skip
    total = sum(v for _, v in fees)
    con.close()
    return Database("clinic", path, [
        Planted("rate", [noshow_dept, "no-show"], [round(100 * rate[0][1], 1),
                                                   round(rate[0][1] / rate[1][1], 1)],
                "the department with many no-shows"),
        Planted("surge", [s], [n_s, round(fee_s, 2)], "the month visits surged"),
        Planted("missing", ["insurer"], [round(100 * miss / 800, 1), miss],
                "patients.insurer is missing in about one row in eleven"),
        Planted("correlation", ["duration_min", "fee"], [round(r, 2)],
                "fee moves with visit length"),
        Planted("share", [fees[0][0]], [round(100 * fees[0][1] / total, 1), round(fees[0][1], 2)],
                "the department that carries most fees"),
    ])  # fmt: skip


# -- a carrier network -------------------------------------------------------------------


def logistics(folder: Path, seed: int) -> Database:
    """carriers, shipments: a carrier that is late far more often, rows entered twice, a
    month whose cost fell, a region that carries most cost, weight driving cost."""
    rng = np.random.default_rng(seed)
    path = folder / f"logistics_{seed}.db"
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE carriers (carrier_id INTEGER PRIMARY KEY, name TEXT, mode TEXT);
        CREATE TABLE shipments (shipment_id INTEGER PRIMARY KEY, carrier_id INTEGER,
                                ship_date TEXT, dest_region TEXT, weight_kg REAL,
                                cost REAL, status TEXT);
        """
    )
    carriers = ["NorthLink", "BlueRoute", "SwiftLine", "Cargo Nine", "Terra Freight", "Parcel One"]
    modes = ["road", "road", "air", "road", "rail", "road"]
    for i, (n, md) in enumerate(zip(carriers, modes, strict=True), 1):
        con.execute("INSERT INTO carriers VALUES (?,?,?)", (i, n, md))
    late_carrier = int(rng.integers(1, 7))
    regions = ["Nordics", "Benelux", "Iberia", "Alps", "Baltics"]
    region_p = [0.46, 0.18, 0.14, 0.12, 0.10]
    months = _months(date(2024, 1, 1), 24)
    dip = months[int(rng.integers(6, 20))]
    sid = 0
    rows = []
    for k, m in enumerate(months):
        n = int(rng.poisson(220 * (1 + 0.01 * k)))
        if m == dip:
            n = int(n * 0.55)
        for _ in range(n):
            sid += 1
            c = int(rng.integers(1, 7))
            w = float(rng.gamma(2.0, 40.0))
            cost = round(12 + 0.9 * w + float(rng.normal(0, 30)), 2)
            p_late = 0.27 if c == late_carrier else 0.07
            status = "late" if rng.uniform() < p_late else "on time"
            row = (sid, c, _day_in(rng, m).isoformat(), str(rng.choice(regions, p=region_p)),
                   round(w, 1), max(cost, 5.0), status)  # fmt: skip
            rows.append(row)
    dups = rng.choice(len(rows), size=int(0.04 * len(rows)), replace=False)
    for i in dups:
        sid += 1
        rows.append((sid, *rows[int(i)][1:]))
    con.executemany("INSERT INTO shipments VALUES (?,?,?,?,?,?,?)", rows)
    con.commit()
    late = con.execute(
        "SELECT carrier_id = ?, AVG(status = 'late') FROM shipments GROUP BY 1 ORDER BY 1 DESC",
        (late_carrier,)).fetchall()  # fmt: skip
    d = dip.strftime("%Y-%m")
    cost_d = _one(con, f"SELECT SUM(cost) FROM shipments WHERE ship_date LIKE '{d}%'")
    n_d = _one(con, f"SELECT COUNT(*) FROM shipments WHERE ship_date LIKE '{d}%'")
    total_rows = _one(con, "SELECT COUNT(*) FROM shipments")
    reg = con.execute("SELECT dest_region, SUM(cost) FROM shipments GROUP BY 1 ORDER BY 2 DESC"
                      ).fetchall()  # fmt: skip
    total = sum(v for _, v in reg)
    xs = np.array(con.execute("SELECT weight_kg, cost FROM shipments").fetchall())
    r = float(np.corrcoef(xs[:, 0], xs[:, 1])[0, 1])
    con.close()
    return Database("logistics", path, [
        Planted("rate", [carriers[late_carrier - 1], "late"],
                [round(100 * late[0][1], 1), round(late[0][1] / late[1][1], 1)],
                "the carrier that is late far more often"),
        Planted("duplicates", ["shipments"], [len(dups), round(100 * len(dups) / total_rows, 1)],
                "rows entered twice under a new id"),
        Planted("dip", [d], [round(cost_d, 2), n_d], "the month cost fell"),
        Planted("share", [reg[0][0]], [round(100 * reg[0][1] / total, 1), round(reg[0][1], 2)],
                "the region that carries most cost"),
        Planted("correlation", ["weight_kg", "cost"], [round(r, 2)], "weight drives cost"),
    ])  # fmt: skip


def databases(folder: Path, seeds: tuple[int, ...] = (1, 2, 3)) -> list[Database]:
    """One database of each kind per seed round-robin: shop, clinic, logistics, shop, …"""
    makers = [shop, clinic, logistics]
    return [makers[i % 3](folder, s) for i, s in enumerate(seeds)]


# -- examples/warehouse.db ---------------------------------------------------------------


def warehouse(path: Path) -> Database:
    """The facts examples/make_examples.py planted in warehouse.db (HIGH_CANCEL_WAREHOUSE,
    TOP_CUSTOMER_BOOST, GROWING_CATEGORY, the category margins and prices), with the true
    numbers computed from the file."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    cancel = con.execute(
        "SELECT w.name, AVG(o.status = 'cancelled') FROM orders o JOIN warehouses w "
        "USING (warehouse_id) GROUP BY 1 ORDER BY 2 DESC").fetchall()  # fmt: skip
    top = con.execute(
        "SELECT c.name, COUNT(*) FROM orders o JOIN customers c USING (customer_id) "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 2").fetchall()  # fmt: skip
    value = (
        "SELECT p.category, SUM(i.quantity * i.unit_price) FROM order_items i "
        "JOIN products p USING (product_id) JOIN orders o USING (order_id) {w} "
        "GROUP BY 1 ORDER BY 2 DESC"
    )
    cats = con.execute(value.format(w="")).fetchall()
    total = sum(v for _, v in cats)
    y24 = dict(con.execute(value.format(w="WHERE o.order_date LIKE '2024%'")).fetchall())
    y25 = dict(con.execute(value.format(w="WHERE o.order_date LIKE '2025%'")).fetchall())
    per_month = dict(con.execute(
        "SELECT substr(order_date, 1, 7), COUNT(*) FROM orders GROUP BY 1").fetchall())  # fmt: skip
    con.close()
    grow = 100 * (y25["Smart Home"] / y24["Smart Home"] - 1)
    return Database("warehouse", path, [
        Planted("rate", [cancel[0][0], "cancel"], [round(100 * cancel[0][1], 1)],
                "the warehouse that cancels far more orders"),
        Planted("top", [top[0][0]], [top[0][1], round(top[0][1] / top[1][1], 1)],
                "the customer with the most orders"),
        Planted("share", [cats[0][0]], [round(100 * cats[0][1] / total, 1), round(cats[0][1], 2)],
                "the category that carries most value"),
        Planted("mover", ["Smart Home"], [round(grow, 1), round(y25["Smart Home"], 2)],
                "the category that grows far faster than the rest"),
        Planted("trend", ["2024-01", "2025-12"], [per_month["2024-01"], per_month["2025-12"]],
                "orders grow over the two years"),
    ])  # fmt: skip

"""Generate the example data files shipped with `da`.

Writes two files next to this script:

* ``sales.xlsx`` - the order book of a small consumer-electronics company, 2024-01-01 to
  2025-12-31 (sheets ``orders``, ``products``, ``regions``).
* ``warehouse.db`` - a SQLite database of a B2B electronics distributor with related tables
  (``customers``, ``products``, ``warehouses``, ``orders``, ``order_items``, ``inventory``).

Why: they give the agent realistic files to work on in demos and tests, and each one hides a few
planted patterns with known true answers (documented in ``README.md``, never inside the files),
so that an analysis can be checked against the truth. The planted patterns are verified at the
end of every run; generation fails loudly if they do not hold.

Everything is deterministic (fixed seeds, fixed workbook metadata and zip timestamps), so
re-running with the same library versions produces byte-identical files.

Usage::

    python examples/make_examples.py          # (re)write both files, then print the facts
    python examples/make_examples.py --facts  # only print the facts from the existing files
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.functions import tostring

HERE = Path(__file__).resolve().parent
SALES_PATH = HERE / "sales.xlsx"
WAREHOUSE_PATH = HERE / "warehouse.db"

SALES_SEED = 20240101
WAREHOUSE_SEED = 20250101
FIXED_TIMESTAMP = datetime(2026, 1, 1)

START = date(2024, 1, 1)
END = date(2025, 12, 31)

# --------------------------------------------------------------------------------------------
# sales.xlsx
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    name: str
    category: str
    list_price: float
    launch_date: date
    mix: float  # share of order lines


PRODUCTS: tuple[Product, ...] = (
    Product("AeroBook 14", "Laptops", 1099.00, date(2022, 9, 15), 0.14),
    Product("NovaTab 11", "Tablets", 479.00, date(2023, 3, 1), 0.15),
    Product("ClearView 27", "Monitors", 329.00, date(2021, 11, 10), 0.16),
    Product("PulseBuds Pro", "Audio", 149.00, date(2023, 5, 22), 0.22),
    Product("HomeHub Mini", "Smart Home", 89.00, date(2022, 10, 5), 0.18),
    Product("Stride Watch 2", "Wearables", 249.00, date(2023, 9, 12), 0.15),
)

REGIONS: tuple[str, ...] = ("North", "South", "East", "West")
CHANNELS: tuple[str, ...] = ("Online", "Retail", "Partner")

MANAGERS: dict[str, str] = {
    "North": "Hannah Berg",
    "South": "Marco Rossi",
    "East": "Priya Nair",
    "West": "Daniel Ortiz",
}
QUARTERLY_TARGETS: dict[str, float] = {
    "North": 160_000.0,
    "South": 110_000.0,
    "East": 155_000.0,
    "West": 215_000.0,
}

# Expected share of company revenue per region x channel (sums to 1).
REVENUE_SHARE: dict[tuple[str, str], float] = {
    ("North", "Online"): 0.080,
    ("North", "Retail"): 0.100,
    ("North", "Partner"): 0.070,
    ("South", "Online"): 0.055,
    ("South", "Retail"): 0.065,
    ("South", "Partner"): 0.050,
    ("East", "Online"): 0.080,
    ("East", "Retail"): 0.090,
    ("East", "Partner"): 0.070,
    ("West", "Online"): 0.045,
    ("West", "Retail"): 0.250,
    ("West", "Partner"): 0.045,
}

# Company revenue per month at seasonality 1.0 in January 2024.
BASE_MONTHLY_REVENUE = 190_000.0
ANNUAL_GROWTH = 0.08
SEASONALITY: tuple[float, ...] = (
    0.88, 0.86, 0.95,  # Q1
    0.97, 1.00, 1.01,  # Q2
    0.95, 0.97, 1.03,  # Q3
    1.04, 1.18, 1.30,  # Q4
)  # fmt: skip
MONTHLY_NOISE_SD = 0.02
# Orders on Saturday/Sunday relative to a weekday.
WEEKEND_FACTOR: dict[str, float] = {"Online": 1.15, "Retail": 0.60, "Partner": 0.15}
CHANNEL_PRICE_FACTOR: dict[str, float] = {"Online": 1.00, "Retail": 0.86, "Partner": 0.80}

# The planted event: the West retail distributor contract ends on 2025-06-30.
LOST_SEGMENT = ("West", "Retail")
LOST_FROM = date(2025, 7, 1)
LOST_LEVEL = 0.11  # share of the segment's business that remains afterwards
# A quarter is closed after this many consecutive drawn orders no longer fit its revenue.
MAX_MISSES = 30


def draw_units(rng: np.random.Generator, channel: str) -> int:
    """Units in one order: consumers buy one or two, stores and partners buy in batches."""
    if channel == "Online":
        return 1 + int(rng.poisson(0.4))
    if channel == "Retail":
        return 1 + int(rng.poisson(3.0))
    return 2 + int(rng.poisson(4.0))


def draw_unit_price(rng: np.random.Generator, product: Product, channel: str) -> float:
    """Channel price with small deal-to-deal variation (before any promotion)."""
    return product.list_price * CHANNEL_PRICE_FACTOR[channel] * (1 + rng.normal(0, 0.015))


def apply_promotion(price: float, channel: str, day: date) -> float:
    """November online promotion (Black Friday), 10 % off."""
    if channel == "Online" and day.month == 11:
        price *= 0.90
    return round(price, 2)


def daily_revenue_curve(
    rng: np.random.Generator, days: pd.DatetimeIndex, region: str, channel: str
) -> np.ndarray:
    """Expected revenue per day for one region x channel segment."""
    month_index = np.asarray((days.year - START.year) * 12 + days.month - 1)
    n_months = int(month_index.max()) + 1
    noise = 1 + rng.normal(0, MONTHLY_NOISE_SD, n_months)
    weekday_weight = np.where(days.day_of_week >= 5, WEEKEND_FACTOR[channel], 1.0)
    # Spread each month's revenue over its days in proportion to the weekday weights.
    month_weight_sum = np.bincount(month_index, weights=weekday_weight)
    years = np.asarray((days - pd.Timestamp(START)).days) / 365.25
    monthly = (
        BASE_MONTHLY_REVENUE
        * REVENUE_SHARE[(region, channel)]
        * np.asarray(SEASONALITY)[np.asarray(days.month) - 1]
        * (1 + ANNUAL_GROWTH) ** years
        * noise[month_index]
    )
    curve = monthly * weekday_weight / month_weight_sum[month_index]
    if (region, channel) == LOST_SEGMENT:
        curve = np.where(days >= pd.Timestamp(LOST_FROM), curve * LOST_LEVEL, curve)
    return np.asarray(curve, dtype=float)


def generate_segment_orders(
    rng: np.random.Generator, days: pd.DatetimeIndex, region: str, channel: str
) -> list[dict[str, object]]:
    """Draw random orders for one segment and place them along its expected revenue curve.

    Quarter by quarter, random orders (product, units, price) are drawn until the quarter's
    expected revenue is used up; each order lands on the day where the cumulative expected
    revenue reaches the running total plus a random fraction of the order. Orders, days and
    monthly figures are random, while quarterly segment revenue stays on the curve.
    """
    curve = daily_revenue_curve(rng, days, region, channel)
    quarter_of_day = np.asarray((days.year - START.year) * 4 + (days.month - 1) // 3)
    mix = np.array([p.mix for p in PRODUCTS])
    mix = mix / mix.sum()
    rows: list[dict[str, object]] = []
    for quarter in np.unique(quarter_of_day):
        day_indices = np.flatnonzero(quarter_of_day == quarter)
        cumulative = np.cumsum(curve[day_indices])
        running = 0.0
        misses = 0
        while misses < MAX_MISSES:
            product = PRODUCTS[int(rng.choice(len(PRODUCTS), p=mix))]
            units = draw_units(rng, channel)
            base_price = draw_unit_price(rng, product, channel)
            value = units * base_price
            if running + value > cumulative[-1]:
                misses += 1
                continue
            misses = 0
            position = running + rng.uniform() * value
            day_index = int(np.searchsorted(cumulative, position, side="right"))
            day = days[day_indices[day_index]].date()
            unit_price = apply_promotion(base_price, channel, day)
            revenue = round(units * unit_price, 2)
            running += revenue
            rows.append(
                {
                    "order_date": day,
                    "region": region,
                    "product": product.name,
                    "channel": channel,
                    "units": units,
                    "unit_price": unit_price,
                    "revenue": revenue,
                }
            )
    return rows


def build_sales_orders() -> pd.DataFrame:
    rng = np.random.default_rng(SALES_SEED)
    days = pd.date_range(START, END, freq="D")
    rows: list[dict[str, object]] = []
    for region in REGIONS:
        for channel in CHANNELS:
            rows.extend(generate_segment_orders(rng, days, region, channel))
    orders = pd.DataFrame(rows)
    orders["tiebreak"] = rng.permutation(len(orders))
    orders = orders.sort_values(["order_date", "tiebreak"], kind="stable").drop(columns="tiebreak")
    orders.insert(0, "order_id", np.arange(100001, 100001 + len(orders)))
    columns = [
        "order_id", "order_date", "region", "product", "channel", "units", "unit_price",
        "revenue",
    ]  # fmt: skip
    return orders[columns].reset_index(drop=True)


def write_sheet(
    ws: Worksheet,
    header: list[str],
    rows: list[list[object]],
    formats: dict[str, str],
    widths: dict[str, int],
) -> None:
    ws.append(header)
    for row in rows:
        ws.append(row)
    for col_index, name in enumerate(header, start=1):
        letter = get_column_letter(col_index)
        ws.column_dimensions[letter].width = widths.get(name, 12)
        if name in formats:
            for (cell,) in ws.iter_rows(min_row=2, min_col=col_index, max_col=col_index):
                cell.number_format = formats[name]
    ws.freeze_panes = "A2"


def save_reproducible(wb: Workbook, path: Path) -> None:
    """Save with fixed document properties and zip entry timestamps (byte-reproducible)."""
    wb.properties.creator = "make_examples.py"
    wb.properties.lastModifiedBy = "make_examples.py"
    wb.properties.created = FIXED_TIMESTAMP
    buffer = io.BytesIO()
    wb.save(buffer)  # openpyxl stamps `modified` with the current time; patched below
    wb.properties.modified = FIXED_TIMESTAMP
    core_xml = wb.properties.to_tree()
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            data = tostring(core_xml) if info.filename == "docProps/core.xml" else src.read(info)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIMESTAMP.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, data)


def write_sales(orders: pd.DataFrame, path: Path) -> None:
    wb = Workbook()
    ws_orders = wb.worksheets[0]
    ws_orders.title = "orders"
    order_rows = [
        [
            int(r.order_id),
            r.order_date,  # a date cell; pandas and DuckDB read it back as a date
            r.region,
            r.product,
            r.channel,
            int(r.units),
            float(r.unit_price),
            float(r.revenue),
        ]
        for r in orders.itertuples(index=False)
    ]
    write_sheet(
        ws_orders,
        list(orders.columns),
        order_rows,
        formats={"order_date": "yyyy-mm-dd", "unit_price": "#,##0.00", "revenue": "#,##0.00"},
        widths={"order_date": 12, "product": 16},
    )
    product_rows = [[p.name, p.category, p.list_price, p.launch_date] for p in PRODUCTS]
    write_sheet(
        wb.create_sheet("products"),
        ["product", "category", "list_price", "launch_date"],
        product_rows,
        formats={"list_price": "#,##0.00", "launch_date": "yyyy-mm-dd"},
        widths={"product": 16, "launch_date": 12},
    )
    region_rows = [[r, MANAGERS[r], QUARTERLY_TARGETS[r]] for r in REGIONS]
    write_sheet(
        wb.create_sheet("regions"),
        ["region", "manager", "quarterly_target"],
        region_rows,
        formats={"quarterly_target": "#,##0.00"},
        widths={"manager": 16, "quarterly_target": 16},
    )
    save_reproducible(wb, path)


# --------------------------------------------------------------------------------------------
# warehouse.db
# --------------------------------------------------------------------------------------------

CITIES: tuple[tuple[str, str], ...] = (
    ("Berlin", "Germany"), ("Hamburg", "Germany"), ("Munich", "Germany"),
    ("Vienna", "Austria"), ("Warsaw", "Poland"), ("Stockholm", "Sweden"),
    ("Copenhagen", "Denmark"), ("Oslo", "Norway"), ("Helsinki", "Finland"),
    ("Amsterdam", "Netherlands"), ("Rotterdam", "Netherlands"), ("Brussels", "Belgium"),
    ("Paris", "France"), ("Lyon", "France"), ("Madrid", "Spain"), ("Barcelona", "Spain"),
    ("Milan", "Italy"), ("London", "United Kingdom"), ("Manchester", "United Kingdom"),
    ("Dublin", "Ireland"),
)  # fmt: skip
LEGAL_SUFFIX: dict[str, str] = {
    "Germany": "GmbH", "Austria": "GmbH", "Poland": "Sp. z o.o.", "Sweden": "AB",
    "Denmark": "A/S", "Norway": "AS", "Finland": "Oy", "Netherlands": "B.V.",
    "Belgium": "NV", "France": "SAS", "Spain": "S.L.", "Italy": "S.r.l.",
    "United Kingdom": "Ltd", "Ireland": "Ltd",
}  # fmt: skip
NAME_STEMS: tuple[str, ...] = (
    "Northgate", "Bluewater", "Silverline", "Ironbridge", "Harborview", "Summit", "Redwood",
    "Crescent", "Oakridge", "Brightpath", "Keystone", "Pioneer", "Meridian", "Evergreen",
    "Granite", "Lakeside", "Westfield", "Horizon", "Falcon", "Beacon", "Cobalt", "Atlas",
    "Sterling", "Copperfield", "Maplewood", "Riverside", "Highland", "Pinecrest", "Seabright",
    "Stonegate", "Nordlicht", "Alpenrose", "Vantage", "Orchard", "Kestrel", "Lighthouse",
)  # fmt: skip
NAME_TRADES: tuple[str, ...] = (
    "Electronics", "Supply", "Trading", "Retail", "Systems", "Distribution", "Technologies",
    "Stores", "Office Solutions", "Digital",
)  # fmt: skip
SEGMENTS: tuple[str, ...] = ("Enterprise", "Mid-Market", "Small Business")
SEGMENT_WEIGHT: dict[str, float] = {"Enterprise": 3.0, "Mid-Market": 1.5, "Small Business": 0.7}
SEGMENT_DISCOUNT: dict[str, float] = {"Enterprise": 0.08, "Mid-Market": 0.04, "Small Business": 0.0}
SEGMENT_QTY_MEAN: dict[str, float] = {"Enterprise": 7.0, "Mid-Market": 3.5, "Small Business": 1.2}
N_CUSTOMERS = 200
N_DB_ORDERS = 3000
TOP_CUSTOMER_BOOST = 1.7  # the planted top customer orders 1.7x as often as the next best

WAREHOUSES: tuple[tuple[int, str, str, int], ...] = (
    (1, "Rotterdam Central DC", "Rotterdam", 120_000),
    (2, "Leipzig Hub", "Leipzig", 80_000),
    (3, "Lyon South Depot", "Lyon", 45_000),
    (4, "Manchester North DC", "Manchester", 60_000),
)
WAREHOUSE_BY_COUNTRY: dict[str, int] = {
    "Netherlands": 1, "Belgium": 1, "Germany": 2, "Austria": 2, "Poland": 2, "Sweden": 2,
    "Denmark": 2, "Norway": 2, "Finland": 2, "France": 3, "Spain": 3, "Italy": 3,
    "United Kingdom": 4, "Ireland": 4,
}  # fmt: skip
OVERFLOW_TO_CENTRAL = 0.15  # share of orders served from Rotterdam regardless of country
CANCEL_RATE: dict[int, float] = {1: 0.035, 2: 0.035, 3: 0.18, 4: 0.035}
RETURN_RATE = 0.04
HIGH_CANCEL_WAREHOUSE = "Lyon South Depot"  # warehouse 3, see CANCEL_RATE
IN_TRANSIT_FROM = date(2025, 12, 22)  # later orders are still 'shipped', not 'delivered'

# name, category, unit_price. Cost is derived from a per-category margin.
DB_PRODUCTS: tuple[tuple[str, str, float], ...] = (
    ("Studio Headphones X2", "Audio", 189.00), ("Noise-Cancelling Earbuds", "Audio", 129.00),
    ("Portable Speaker Go", "Audio", 79.00), ("Soundbar 300", "Audio", 249.00),
    ("Conference Speakerphone", "Audio", 159.00), ("USB Microphone Pro", "Audio", 99.00),
    ("Wireless Earbuds Lite", "Audio", 59.00), ("Hi-Fi Bookshelf Pair", "Audio", 329.00),
    ("Ultrabook 13", "Computers", 1149.00), ("Business Laptop 15", "Computers", 949.00),
    ("Mini PC i5", "Computers", 599.00), ("Workstation Tower", "Computers", 1799.00),
    ("Chromebook 11", "Computers", 329.00), ("2-in-1 Convertible 14", "Computers", 879.00),
    ("Gaming Laptop 16", "Computers", 1499.00), ("All-in-One 24", "Computers", 1099.00),
    ("USB-C Dock", "Accessories", 149.00), ("Wireless Keyboard", "Accessories", 49.00),
    ("Ergonomic Mouse", "Accessories", 39.00), ("27in 4K Monitor", "Accessories", 379.00),
    ("Webcam 1080p", "Accessories", 69.00), ("Laptop Backpack", "Accessories", 59.00),
    ("65W GaN Charger", "Accessories", 45.00), ("Portable SSD 1TB", "Accessories", 119.00),
    ("Smart Thermostat", "Smart Home", 199.00), ("Video Doorbell", "Smart Home", 149.00),
    ("Smart Plug 4-Pack", "Smart Home", 49.00), ("Indoor Camera", "Smart Home", 59.00),
    ("Smart Light Starter Kit", "Smart Home", 129.00), ("Smart Lock", "Smart Home", 229.00),
    ("Home Hub Display", "Smart Home", 99.00), ("Motion Sensor 3-Pack", "Smart Home", 69.00),
    ("Wi-Fi 6 Router", "Networking", 179.00), ("Mesh System 3-Pack", "Networking", 299.00),
    ("8-Port Switch", "Networking", 89.00), ("Access Point Pro", "Networking", 199.00),
    ("Powerline Adapter Kit", "Networking", 79.00), ("NAS 2-Bay", "Networking", 329.00),
    ("5G Mobile Hotspot", "Networking", 249.00), ("Network Cable Kit", "Networking", 29.00),
)  # fmt: skip
SKU_PREFIX: dict[str, str] = {
    "Audio": "AUD", "Computers": "CMP", "Accessories": "ACC", "Smart Home": "SMH",
    "Networking": "NET",
}  # fmt: skip
CATEGORY_MARGIN: dict[str, float] = {
    "Audio": 0.38, "Computers": 0.18, "Accessories": 0.45, "Smart Home": 0.35, "Networking": 0.30,
}  # fmt: skip
# Smart Home demand ramps up linearly from 1x (Jan 2024) to this factor (Dec 2025).
GROWING_CATEGORY = "Smart Home"
GROWING_CATEGORY_END_FACTOR = 3.0

SCHEMA = """
CREATE TABLE customers (
    customer_id INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    city        TEXT NOT NULL,
    country     TEXT NOT NULL,
    segment     TEXT NOT NULL CHECK (segment IN ('Enterprise', 'Mid-Market', 'Small Business')),
    signup_date TEXT NOT NULL
);
CREATE TABLE products (
    product_id INTEGER PRIMARY KEY,
    sku        TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    category   TEXT NOT NULL,
    unit_cost  REAL NOT NULL,
    unit_price REAL NOT NULL
);
CREATE TABLE warehouses (
    warehouse_id INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    city         TEXT NOT NULL,
    capacity     INTEGER NOT NULL
);
CREATE TABLE orders (
    order_id     INTEGER PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers (customer_id),
    order_date   TEXT NOT NULL,
    warehouse_id INTEGER NOT NULL REFERENCES warehouses (warehouse_id),
    status       TEXT NOT NULL
        CHECK (status IN ('shipped', 'delivered', 'cancelled', 'returned'))
);
CREATE TABLE order_items (
    order_id   INTEGER NOT NULL REFERENCES orders (order_id),
    product_id INTEGER NOT NULL REFERENCES products (product_id),
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    unit_price REAL NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
CREATE TABLE inventory (
    warehouse_id INTEGER NOT NULL REFERENCES warehouses (warehouse_id),
    product_id   INTEGER NOT NULL REFERENCES products (product_id),
    on_hand      INTEGER NOT NULL CHECK (on_hand >= 0),
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (warehouse_id, product_id)
);
CREATE INDEX idx_orders_customer ON orders (customer_id);
CREATE INDEX idx_orders_date ON orders (order_date);
CREATE INDEX idx_order_items_product ON order_items (product_id);
"""


@dataclass(frozen=True)
class Customer:
    customer_id: int
    name: str
    city: str
    country: str
    segment: str
    signup_date: date


def random_date(rng: np.random.Generator, first: date, last: date) -> date:
    return first + timedelta(days=int(rng.integers(0, (last - first).days + 1)))


def build_customers(rng: np.random.Generator) -> list[Customer]:
    pairs = [(stem, trade) for stem in NAME_STEMS for trade in NAME_TRADES]
    chosen = rng.choice(len(pairs), size=N_CUSTOMERS, replace=False)
    customers = []
    for customer_id, pair_index in enumerate(chosen, start=1):
        stem, trade = pairs[int(pair_index)]
        city, country = CITIES[int(rng.integers(len(CITIES)))]
        segment = str(rng.choice(SEGMENTS, p=[0.15, 0.35, 0.50]))
        # About one customer in six signs up during 2024-2025.
        if rng.uniform() < 0.17:
            signup = random_date(rng, date(2024, 1, 1), date(2025, 9, 30))
        else:
            signup = random_date(rng, date(2019, 1, 1), date(2023, 12, 31))
        name = f"{stem} {trade} {LEGAL_SUFFIX[country]}"
        customers.append(Customer(customer_id, name, city, country, segment, signup))
    return customers


def customer_weights(rng: np.random.Generator, customers: list[Customer]) -> np.ndarray:
    """Order propensity per customer, with one planted clear leader."""
    weights = np.array([SEGMENT_WEIGHT[c.segment] for c in customers])
    weights = weights * rng.lognormal(0.0, 0.35, len(customers))
    # The leader is the long-standing Enterprise customer with the highest propensity.
    candidates = [
        i for i, c in enumerate(customers)
        if c.segment == "Enterprise" and c.signup_date < START
    ]  # fmt: skip
    leader = max(candidates, key=lambda i: weights[i])
    others = np.delete(weights, leader)
    weights[leader] = TOP_CUSTOMER_BOOST * others.max()
    return weights


def order_dates(rng: np.random.Generator) -> list[date]:
    days = pd.date_range(START, END, freq="D")
    years = (days - pd.Timestamp(START)).days / 365.25
    weight = np.where(days.day_of_week >= 5, 0.2, 1.0) * np.asarray(1.12**years)
    weight = weight / weight.sum()
    picks = np.sort(rng.choice(len(days), size=N_DB_ORDERS, p=weight))
    return [days[i].date() for i in picks]


def build_warehouse_tables(rng: np.random.Generator) -> dict[str, list[tuple[object, ...]]]:
    customers = build_customers(rng)
    weights = customer_weights(rng, customers)
    signup = np.array([c.signup_date.toordinal() for c in customers])

    products = []
    for product_id, (name, category, price) in enumerate(DB_PRODUCTS, start=1):
        cost = round(price * (1 - CATEGORY_MARGIN[category]) * rng.uniform(0.95, 1.05), 2)
        sku = f"{SKU_PREFIX[category]}-{1000 + product_id * 7}"
        products.append((product_id, sku, name, category, cost, price))
    popularity = rng.lognormal(0.0, 0.4, len(products))
    is_growing = np.array([p[3] == GROWING_CATEGORY for p in products])
    span_days = (END - START).days

    orders: list[tuple[object, ...]] = []
    items: list[tuple[object, ...]] = []
    for order_id, day in enumerate(order_dates(rng), start=1):
        eligible = weights * (signup <= day.toordinal())
        c_index = int(rng.choice(len(customers), p=eligible / eligible.sum()))
        customer = customers[c_index]
        if rng.uniform() < OVERFLOW_TO_CENTRAL:
            warehouse_id = 1
        else:
            warehouse_id = WAREHOUSE_BY_COUNTRY[customer.country]
        if rng.uniform() < CANCEL_RATE[warehouse_id]:
            status = "cancelled"
        elif day >= IN_TRANSIT_FROM:
            status = "shipped"
        elif rng.uniform() < RETURN_RATE:
            status = "returned"
        else:
            status = "delivered"
        orders.append((order_id, customer.customer_id, day.isoformat(), warehouse_id, status))

        progress = (day - START).days / span_days
        growth = 1 + (GROWING_CATEGORY_END_FACTOR - 1) * progress
        p = popularity * np.where(is_growing, growth, 1.0)
        n_items = int(rng.choice([1, 2, 3, 4, 5], p=[0.35, 0.27, 0.18, 0.12, 0.08]))
        picked = rng.choice(len(products), size=n_items, replace=False, p=p / p.sum())
        for product_index in sorted(int(i) for i in picked):
            product = products[product_index]
            quantity = 1 + int(rng.poisson(SEGMENT_QTY_MEAN[customer.segment]))
            price = round(float(product[5]) * (1 - SEGMENT_DISCOUNT[customer.segment]), 2)
            items.append((order_id, product[0], quantity, price))

    inventory = []
    for warehouse_id, _, _, capacity in WAREHOUSES:
        for product in products:
            if rng.uniform() < 0.05:
                on_hand = 0
            else:
                on_hand = int(rng.poisson(capacity / 400 * rng.uniform(0.3, 1.7)))
            hour, minute = int(rng.integers(6, 20)), int(rng.integers(0, 60))
            updated = datetime(2025, 12, 31, hour, minute) - timedelta(days=int(rng.integers(3)))
            inventory.append((warehouse_id, product[0], on_hand, updated.isoformat(sep=" ")))

    return {
        "customers": [
            (c.customer_id, c.name, c.city, c.country, c.segment, c.signup_date.isoformat())
            for c in customers
        ],
        "products": products,
        "warehouses": list(WAREHOUSES),
        "orders": orders,
        "order_items": items,
        "inventory": inventory,
    }


def write_warehouse(tables: dict[str, list[tuple[object, ...]]], path: Path) -> None:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA foreign_keys = ON")
        con.executescript(SCHEMA)
        for table, rows in tables.items():
            placeholders = ", ".join("?" * len(rows[0]))
            con.executemany(f"INSERT INTO {table} VALUES ({placeholders})", rows)
        con.commit()
        if con.execute("PRAGMA foreign_key_check").fetchall():
            raise RuntimeError("foreign key violations in warehouse.db")
        con.execute("VACUUM")
    finally:
        con.close()


# --------------------------------------------------------------------------------------------
# Facts (computed from the files on disk) and checks of the planted stories
# --------------------------------------------------------------------------------------------


def pct(new: float, old: float) -> float:
    return (new / old - 1) * 100


def sales_facts(path: Path) -> list[str]:
    orders = pd.read_excel(path, sheet_name="orders")
    orders["quarter"] = orders["order_date"].dt.to_period("Q").astype(str)
    by_quarter = orders.groupby("quarter")["revenue"].sum().round(2)
    seg = orders.groupby(["region", "channel", "quarter"])["revenue"].sum()
    total_q2, total_q3 = by_quarter["2025Q2"], by_quarter["2025Q3"]
    wr = seg.loc[LOST_SEGMENT]
    other_changes = {
        f"{r}/{c}": pct(seg[(r, c, "2025Q3")], seg[(r, c, "2025Q2")])
        for r in REGIONS
        for c in CHANNELS
        if (r, c) != LOST_SEGMENT
    }
    drop = total_q2 - total_q3
    is_wr = (orders.region == LOST_SEGMENT[0]) & (orders.channel == LOST_SEGMENT[1])
    wr_2025 = orders[is_wr & (orders.order_date.dt.year == 2025)]
    wr_orders_2025 = wr_2025.groupby(wr_2025.order_date.dt.month).size()
    wr_drop = wr["2025Q2"] - wr["2025Q3"]
    lines = [
        "sales.xlsx",
        f"  dtypes: {dict(orders.drop(columns='quarter').dtypes.astype(str))}",
        f"  orders: {len(orders)} (order_id {orders.order_id.min()}..{orders.order_id.max()}), "
        f"{orders.order_date.min():%Y-%m-%d}..{orders.order_date.max():%Y-%m-%d}",
        f"  total revenue: {orders.revenue.sum():,.2f}  "
        f"(2024: {orders.loc[orders.order_date.dt.year == 2024, 'revenue'].sum():,.2f}, "
        f"2025: {orders.loc[orders.order_date.dt.year == 2025, 'revenue'].sum():,.2f})",
        "  revenue per quarter (change vs previous quarter):",
    ]
    previous = None
    for quarter, value in by_quarter.items():
        change = "" if previous is None else f"  ({pct(value, previous):+.1f} %)"
        lines.append(f"    {quarter}: {value:>12,.2f}{change}")
        previous = value
    lines += [
        f"  Q2->Q3 2024 total: {pct(by_quarter['2024Q3'], by_quarter['2024Q2']):+.1f} %",
        f"  Q2->Q3 2025 total: {total_q2:,.2f} -> {total_q3:,.2f} "
        f"({pct(total_q3, total_q2):+.1f} %, -{drop:,.2f})",
        f"  West/Retail: Q2 2025 {wr['2025Q2']:,.2f} -> Q3 2025 {wr['2025Q3']:,.2f} "
        f"({pct(wr['2025Q3'], wr['2025Q2']):+.1f} %); Q4 2025 {wr['2025Q4']:,.2f} "
        f"({pct(wr['2025Q4'], wr['2025Q2']):+.1f} % vs Q2)",
        f"  West/Retail share of revenue: Q2 2025 {wr['2025Q2'] / total_q2 * 100:.1f} %, "
        f"Q3 2025 {wr['2025Q3'] / total_q3 * 100:.1f} %",
        f"  West/Retail loss = {wr_drop / drop * 100:.1f} % of the company's Q2->Q3 2025 drop",
        f"  other 11 region/channel segments Q2->Q3 2025: "
        f"{min(other_changes.values()):+.1f} % .. {max(other_changes.values()):+.1f} %",
        "    " + ", ".join(f"{k} {v:+.1f} %" for k, v in other_changes.items()),
        "  West/Retail orders per month 2025: " + ", ".join(str(n) for n in wr_orders_2025),
    ]
    by_region = orders[orders.order_date.dt.year == 2025].pivot_table(
        index="region", columns="quarter", values="revenue", aggfunc="sum"
    )
    targets = pd.read_excel(path, sheet_name="regions").set_index("region")["quarterly_target"]
    lines.append("  2025 revenue by region and quarter (quarterly_target):")
    for region in REGIONS:
        values = "  ".join(f"{v:>11,.2f}" for v in by_region.loc[region])
        lines.append(f"    {region:<5} {values}  ({targets[region]:,.0f})")
    return lines


def check_sales(path: Path) -> None:
    """Fail if the planted sales story does not hold."""
    orders = pd.read_excel(path, sheet_name="orders")
    if orders.isna().any().any() or not orders.order_id.is_unique:
        raise RuntimeError("sales: blank cells or duplicate order ids")
    if not pd.api.types.is_datetime64_any_dtype(orders.order_date):
        raise RuntimeError("sales: order_date is not read back as datetime")
    if not 4000 <= len(orders) <= 6000:
        raise RuntimeError(f"sales: {len(orders)} orders, expected 4000-6000")
    q = orders.order_date.dt.to_period("Q").astype(str)
    total = orders.groupby(q)["revenue"].sum()
    seg = orders.groupby([orders.region, orders.channel, q])["revenue"].sum()
    problems = []
    if total["2024Q3"] < total["2024Q2"]:
        problems.append("Q3 2024 is a drop")
    if not -25 <= pct(total["2025Q3"], total["2025Q2"]) <= -20:
        problems.append("company Q2->Q3 2025 change not in -25..-20 %")
    wr = seg.loc[LOST_SEGMENT]
    if not -90 <= pct(wr["2025Q3"], wr["2025Q2"]) <= -85:
        problems.append("West/Retail Q2->Q3 2025 change not in -90..-85 %")
    if not 0.20 <= wr["2025Q2"] / total["2025Q2"] <= 0.26:
        problems.append("West/Retail share of Q2 2025 not in 20..26 %")
    if wr["2025Q4"] > 0.2 * wr["2025Q2"]:
        problems.append("West/Retail recovers in Q4 2025")
    for region in REGIONS:
        for channel in CHANNELS:
            if (region, channel) == LOST_SEGMENT:
                continue
            change = pct(seg[(region, channel, "2025Q3")], seg[(region, channel, "2025Q2")])
            if abs(change) > 8:
                problems.append(f"{region}/{channel} Q2->Q3 2025 {change:+.1f} %")
    if problems:
        raise RuntimeError("sales story does not hold: " + "; ".join(problems))


ORDER_COUNTS_SQL = """
SELECT c.customer_id, c.name, COUNT(*) AS n_orders
FROM orders o JOIN customers c USING (customer_id)
GROUP BY c.customer_id ORDER BY n_orders DESC, c.customer_id LIMIT 3
"""
NET_REVENUE_SQL = """
SELECT strftime('%Y', o.order_date) AS year, p.category,
       ROUND(SUM(oi.quantity * oi.unit_price), 2) AS revenue
FROM orders o
JOIN order_items oi USING (order_id)
JOIN products p USING (product_id)
WHERE o.status IN ('shipped', 'delivered')
GROUP BY year, p.category ORDER BY year, revenue DESC
"""
CANCEL_SQL = """
SELECT w.name, COUNT(*) AS n_orders,
       SUM(o.status = 'cancelled') AS n_cancelled,
       ROUND(100.0 * SUM(o.status = 'cancelled') / COUNT(*), 1) AS cancel_pct
FROM orders o JOIN warehouses w USING (warehouse_id)
GROUP BY w.warehouse_id ORDER BY w.warehouse_id
"""


def warehouse_facts(path: Path) -> list[str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        counts = {
            t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("customers", "products", "warehouses", "orders", "order_items", "inventory")
        }
        top = con.execute(ORDER_COUNTS_SQL).fetchall()
        top_valid = con.execute(
            ORDER_COUNTS_SQL.replace("GROUP BY", "WHERE o.status != 'cancelled' GROUP BY")
        ).fetchall()
        status = con.execute(
            "SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY COUNT(*) DESC"
        ).fetchall()
        cancel = con.execute(CANCEL_SQL).fetchall()
        revenue = con.execute(NET_REVENUE_SQL).fetchall()
        date_range = con.execute("SELECT MIN(order_date), MAX(order_date) FROM orders").fetchone()
        stockouts = con.execute("SELECT COUNT(*) FROM inventory WHERE on_hand = 0").fetchone()[0]
        per_year = con.execute(
            "SELECT strftime('%Y', order_date), COUNT(*) FROM orders GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    year_total: dict[str, float] = {}
    by_category: dict[str, dict[str, float]] = {}
    for year, category, value in revenue:
        year_total[year] = year_total.get(year, 0.0) + value
        by_category.setdefault(category, {})[year] = value
    other_cancel = sum(nc for name, _, nc, _ in cancel if name != HIGH_CANCEL_WAREHOUSE)
    other_orders = sum(n for name, n, _, _ in cancel if name != HIGH_CANCEL_WAREHOUSE)
    lines = [
        "warehouse.db",
        "  rows: " + ", ".join(f"{t} {n}" for t, n in counts.items()),
        f"  order dates: {date_range[0]}..{date_range[1]}",
        "  orders per year: " + ", ".join(f"{y} {n}" for y, n in per_year),
        "  orders by status: " + ", ".join(f"{s} {n}" for s, n in status),
        f"  most orders (all statuses): #{top[0][0]} {top[0][1]} {top[0][2]}; "
        f"runner-up #{top[1][0]} {top[1][1]} {top[1][2]}; third {top[2][1]} {top[2][2]}",
        f"  most orders (excl. cancelled): {top_valid[0][1]} {top_valid[0][2]}; "
        f"runner-up {top_valid[1][1]} {top_valid[1][2]}",
        "  cancellation rate by warehouse: "
        + ", ".join(f"{name} {pct_:.1f} % ({nc}/{n})" for name, n, nc, pct_ in cancel),
        f"  cancellation rate of the other three warehouses together: "
        f"{other_cancel / other_orders * 100:.1f} % ({other_cancel}/{other_orders})",
        "  net revenue (shipped + delivered) by year and category:",
    ]
    for year, category, value in revenue:
        share = value / year_total[year] * 100
        lines.append(f"    {year} {category:<12} {value:>12,.2f}  ({share:.1f} %)")
    for year, value in year_total.items():
        lines.append(f"    {year} total        {value:>12,.2f}")
    lines.append(
        "  net revenue change 2024->2025: "
        + ", ".join(f"{c} {pct(v['2025'], v['2024']):+.1f} %" for c, v in by_category.items())
        + f", total {pct(year_total['2025'], year_total['2024']):+.1f} %"
    )
    lines.append(f"  inventory rows with on_hand = 0: {stockouts}")
    return lines


def check_warehouse(path: Path) -> None:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        top = con.execute(ORDER_COUNTS_SQL).fetchall()
        top_valid = con.execute(
            ORDER_COUNTS_SQL.replace("GROUP BY", "WHERE o.status != 'cancelled' GROUP BY")
        ).fetchall()
        names_unique = con.execute(
            "SELECT COUNT(*) = COUNT(DISTINCT name) FROM customers"
        ).fetchone()[0]
        cancel = {name: rate for name, _, _, rate in con.execute(CANCEL_SQL)}
        revenue = {(y, c): v for y, c, v in con.execute(NET_REVENUE_SQL)}
    finally:
        con.close()
    if cancel.pop(HIGH_CANCEL_WAREHOUSE) < 3 * max(cancel.values()):
        raise RuntimeError("warehouse: Lyon cancellation rate is not clearly the highest")
    if revenue[("2025", GROWING_CATEGORY)] < 1.3 * revenue[("2024", GROWING_CATEGORY)]:
        raise RuntimeError("warehouse: Smart Home is not clearly growing")
    if top[0][2] - top[1][2] < 5 or top_valid[0][0] != top[0][0]:
        raise RuntimeError("warehouse: no clear top customer")
    if top_valid[0][2] - top_valid[1][2] < 5:
        raise RuntimeError("warehouse: no clear top customer excluding cancellations")
    if not names_unique:
        raise RuntimeError("warehouse: customer names are not unique")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--facts", action="store_true", help="only print facts from the existing files"
    )
    args = parser.parse_args()
    if not args.facts:
        write_sales(build_sales_orders(), SALES_PATH)
        write_warehouse(
            build_warehouse_tables(np.random.default_rng(WAREHOUSE_SEED)), WAREHOUSE_PATH
        )
        check_sales(SALES_PATH)
        check_warehouse(WAREHOUSE_PATH)
        print(f"wrote {SALES_PATH} and {WAREHOUSE_PATH}\n")
    print("\n".join(sales_facts(SALES_PATH) + [""] + warehouse_facts(WAREHOUSE_PATH)))


if __name__ == "__main__":
    main()

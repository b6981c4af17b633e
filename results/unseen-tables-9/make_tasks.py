"""Set 9's questions: written by hand, of kinds neither the synth templates nor set 8 ask
(the second of a ranking, a weekday, days before a date, a top-ten share,
a change between two named months, a value closest to the average, a per-group spread, a
fraction asked in three decimals), their labels computed here with pandas. Run from
results/unseen-tables-9 after making the corpus."""

import os
import sys

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from handwritten import ent, load, num, top, write, yes  # noqa: E402

# sales, a folder of CSVs
f = "sales-690000"
d = load(f)
o, c = d["orders"], d["customers"]
n = c.groupby("country").size().sort_values(ascending=False)
ent("Which country has the second most customers?", f, n.index[1], n.index)
day = pd.to_datetime(o.order_date).dt.day_name()
top("On which day of the week are the most orders placed?", f, o.groupby(day).size())
spent = o.groupby("customer_id").amount.sum().sort_values(ascending=False)
num(
    "What share of the total order amount comes from the 10 customers who spent the most, in "
    "percent? Round to two decimals.",
    f,
    100 * spent.head(10).sum() / spent.sum(),
)
# sales, XLSX
f = "sales-690009.xlsx"
o = load(f)["orders"]
month = o.order_date.dt.to_period("M").astype(str)
counts = o.groupby(month).size()
m1, m2 = counts.index[-3], counts.index[-2]
num(
    f"By what percentage did the number of orders change from {m1} to {m2}? Round to one decimal.",
    f,
    100 * (counts[m2] / counts[m1] - 1),
    1,
)
web = o[(o.channel == "Web") & o.discount.notna() & (o.discount > 0)]
num(
    "What is the average discount of Web orders that had a discount? Round to two decimals.",
    f,
    web.discount.mean(),
)
# sales, SQLite
f = "sales-690018.db"
o = load(f)["orders"]
num(
    "How many orders have an amount more than twice the median amount?",
    f,
    int((o.amount > 2 * o.amount.median()).sum()),
    0,
)
# clinic, a folder of CSVs
f = "clinic-690022"
d = load(f)
v, dr = d["visits"], d["doctors"]
num(
    "What is the median patient age of emergency visits? Round to two decimals.",
    f,
    v[v.visit_type == "emergency"].patient_age.median(),
)
day = pd.to_datetime(v.visit_date).dt.day_name()
top("On which weekday is the average wait the longest?", f, v.groupby(day).wait_minutes.mean())
fee = v.merge(dr, on="doctor_id").groupby("specialty").fee.mean()
closest = (fee - v.fee.mean()).abs()
top("Which specialty's average fee is closest to the overall average fee?", f, closest, low=True)
# clinic, SQLite
f = "clinic-690013.db"
v = load(f)["visits"]
num(
    "What fraction of visits are follow-up visits? Answer with three decimals.",
    f,
    (v.visit_type == "follow-up").mean(),
    3,
)
# logistics, a folder of CSVs
f = "logistics-690006"
d = load(f)
s, ca = d["shipments"], d["carriers"]
sea = s.merge(ca, on="carrier_id").query("mode == 'sea'")
num(
    "What is the cost per kg of sea shipments (their total cost divided by their total weight)? "
    "Round to three decimals.",
    f,
    sea.cost.sum() / sea.weight_kg.sum(),
    3,
)
late = (s.on_time == "no").groupby(s.destination_region).mean()
top("Which destination region has the highest share of late shipments?", f, late)
num(
    "How many shipments took longer than the average transit time?",
    f,
    int((s.transit_days > s.transit_days.mean()).sum()),
    0,
)
# finance, a folder of CSVs
f = "finance-690003"
d = load(f)
t, a = d["transactions"], d["accounts"]
credit = t[t.direction == "credit"].merge(a, on="account_id").groupby("holder").amount.sum()
top("Which account holder has the largest total credit amount?", f, credit)
weekend = pd.to_datetime(t.booked_on).dt.day_of_week >= 5
num(
    "What is the average transaction amount on weekends? Round to two decimals.",
    f,
    t[weekend].amount.mean(),
)
num("How many transactions have no merchant country?", f, int(t.merchant_country.isna().sum()), 0)
# finance, XLSX
f = "finance-690012.xlsx"
t = load(f)["transactions"]
year = sorted(t.booked_on.dt.year.unique())[1]
q1 = t[(t.booked_on.dt.year == year) & (t.booked_on.dt.quarter == 1) & (t.direction == "debit")]
num(
    f"What was the total debit amount in the first quarter of {year}? Round to two decimals.",
    f,
    q1.amount.sum(),
)
# finance, SQLite
f = "finance-690021.db"
t = load(f)["transactions"]
n = t.groupby("account_id").size()
num("How many accounts have more than 50 transactions?", f, int((n > 50).sum()), 0)
# education, a folder of CSVs
f = "education-690017"
d = load(f)
e, co = d["enrollments"], d["courses"]
top(
    "Which course title has the highest average attendance?",
    f,
    e.merge(co, on="course_id").groupby("title").attendance_pct.mean(),
)
num(
    "What is the standard deviation of grades of year 1 students? Round to two decimals.",
    f,
    e[e.year_of_study == 1].grade.std(),
)
# education, SQLite
f = "education-690008.db"
e = load(f)["enrollments"]
num(
    "What percentage of enrollments have no grade? Round to two decimals.",
    f,
    100 * e.grade.isna().mean(),
)
# sensors, a folder of CSVs
f = "sensors-690011"
d = load(f)
r, dv = d["readings"], d["devices"]
warnings = r[r.alarm == "warning"].merge(dv, on="device_id").groupby("name").size()
top("Which device, by name, has the most warning alarms?", f, warnings)
sites = r.merge(dv, on="device_id").groupby("site").temperature_c.mean()
hot, cold = sites.idxmax(), sites.idxmin()
num(
    f"How much higher is the average temperature at {hot} than at {cold}? Round to two decimals.",
    f,
    sites[hot] - sites[cold],
)
# sensors, XLSX
f = "sensors-690020.xlsx"
r = load(f)["readings"]
top(
    "In which month (YYYY-MM) was the average humidity lowest?",
    f,
    r.groupby(r.recorded_at.dt.to_period("M").astype(str)).humidity_pct.mean(),
    low=True,
)
# HR, one CSV
f = "hr-690019.csv"
h = load(f)["hr-690019"]
days = (pd.Timestamp("2026-01-01") - pd.to_datetime(h.hire_date)).dt.days
num(
    "On average, how many days before 2026-01-01 were employees hired? Round to one decimal.",
    f,
    days.mean(),
    1,
)
g = h.groupby("department").salary
top(
    "Which department has the largest gap between its highest and lowest salary?",
    f,
    g.max() - g.min(),
)
# HR, SQLite
f = "hr-690010.db"
h = load(f)["employees"]
num(
    "How many remote employees have a performance score above 4?",
    f,
    int(((h.remote == "yes") & (h.performance_score > 4)).sum()),
    0,
)
# web, one CSV
f = "web-690014.csv"
w = load(f)["web-690014"]
conv = yes(w.converted)
num(
    "How many more pages does a converted session view on average than a session that did "
    "not convert? Round to two decimals.",
    f,
    w[conv].pages.mean() - w[~conv].pages.mean(),
)
top(
    "Which device has the longest median session duration?",
    f,
    w.groupby("device").duration_s.median(),
)
# web, SQLite and XLSX
f = "web-690005.db"
w = load(f)["sessions"]
num(
    "What percentage of the total revenue comes from sessions in the US? Round to two decimals.",
    f,
    100 * w[w.country == "US"].revenue.sum() / w.revenue.sum(),
)
f = "web-690023.xlsx"
w = load(f)["sessions"]
top(
    "On which day were the most sessions started? Give the date as YYYY-MM-DD.",
    f,
    w.groupby(w.started_at.dt.strftime("%Y-%m-%d")).size(),
)
# energy, XLSX and SQLite
f = "energy-690007.xlsx"
d = load(f)
m = d["meter_readings"].merge(d["meters"], on="meter_id")
top("Which tariff has the highest average kWh per reading?", f, m.groupby("tariff").kwh.mean())
num(
    "What is the 95th percentile of peak kW? Round to two decimals.",
    f,
    d["meter_readings"].peak_kw.quantile(0.95),
)
f = "energy-690016.db"
me = load(f)["meters"]
installed = pd.to_datetime(me.installed_on).dt.year
num(
    f"How many meters were installed in {installed.max()}?",
    f,
    int((installed == installed.max()).sum()),
    0,
)
# logistics, XLSX
f = "logistics-690015.xlsx"
d = load(f)
top(
    "Which transport mode has the lowest average transit time?",
    f,
    d["shipments"].merge(d["carriers"], on="carrier_id").groupby("mode").transit_days.mean(),
    low=True,
)

write()

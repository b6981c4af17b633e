"""Set 8's questions: written by hand, of kinds the synth templates lack (a median, a share,
a rate by group, a change between two years, rows with no match in another table, a
percentile, an interquartile range, a per-group threshold, the busiest month), their labels
computed here with pandas. Run from results/unseen-tables-8 after making the corpus."""

import os
import sys

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from handwritten import load, num, top, write, yes  # noqa: E402

# sales, a folder of CSVs
f = "sales-610000"
d = load(f)
o, c = d["orders"], d["customers"]
num("What is the median order amount?", f, o.amount.median())
num(
    "What percentage of orders were returned? Round to two decimals.",
    f,
    100 * (o.status == "returned").mean(),
)
top(
    "Which sales channel gives the highest average discount?",
    f,
    o.groupby("channel").discount.mean(),
)
n = o.groupby("customer_id").size()
num("How many customers placed more than 15 orders?", f, int((n > 15).sum()), 0)
m = o.merge(c, on="customer_id")
top("Which customer segment spent the most in total?", f, m.groupby("segment").amount.sum())
total = o.groupby(pd.to_datetime(o.order_date).dt.year).amount.sum()
y1, y2 = sorted(total.index)[-2:]
num(
    f"By what percentage did the total order amount change from {y1} to {y2}? Round to one "
    "decimal.",
    f,
    100 * (total[y2] / total[y1] - 1),
    1,
)
# sales, XLSX
f = "sales-610009.xlsx"
d = load(f)
o, c = d["orders"], d["customers"]
month = o.order_date.dt.to_period("M").astype(str)
top("In which month (YYYY-MM) were the most orders placed?", f, o.groupby(month).size())
num(
    "How many customers never placed an order?",
    f,
    int((~c.customer_id.isin(o.customer_id)).sum()),
    0,
)
# clinic, a folder of CSVs
f = "clinic-610022"
d = load(f)
v, dr = d["visits"], d["doctors"]
wait = v.groupby("visit_type").wait_minutes.mean()
num(
    "What is the average wait of first visits minus the average wait of follow-up visits, in "
    "minutes? Round to two decimals.",
    f,
    wait["first"] - wait["follow-up"],
)
top(
    "Which specialty sees the most visits?",
    f,
    v.merge(dr, on="doctor_id").groupby("specialty").size(),
)
num(
    "What share of visits have no insurer recorded, in percent? Round to two decimals.",
    f,
    100 * v.insurer.isna().mean(),
)
num(
    "What is the interquartile range of the wait time in minutes? Round to two decimals.",
    f,
    v.wait_minutes.quantile(0.75) - v.wait_minutes.quantile(0.25),
)
# clinic, XLSX
f = "clinic-610004.xlsx"
v = load(f)["visits"]
top("Which insurer has the highest median fee?", f, v.groupby("insurer").fee.median())
# logistics, a folder of CSVs
f = "logistics-610006"
d = load(f)
s, ca = d["shipments"], d["carriers"]
m = s.merge(ca, on="carrier_id")
num(
    "What percentage of road shipments arrived on time? Round to two decimals.",
    f,
    100 * (m[m["mode"] == "road"].on_time == "yes").mean(),
)
num(
    "What is the average transit time in days for shipments to the Nordics? Round to two decimals.",
    f,
    s[s.destination_region == "Nordics"].transit_days.mean(),
)
top("Which origin has the highest median shipping cost?", f, s.groupby("origin").cost.median())
rate = m.groupby("name").on_time.apply(lambda x: (x == "yes").mean())
rate = rate[m.groupby("name").size() >= 20]
top(
    "Among carriers with at least 20 shipments, which one has the lowest on-time rate?",
    f,
    rate,
    low=True,
)
# logistics, XLSX
f = "logistics-610015.xlsx"
s = load(f)["shipments"]
num(
    "What is the total cost divided by the total weight in kg across all shipments (cost per "
    "kg)? Round to three decimals.",
    f,
    s.cost.sum() / s.weight_kg.sum(),
    3,
)
# finance, a folder of CSVs
f = "finance-610003"
d = load(f)
t, a = d["transactions"], d["accounts"]
m = t.merge(a, on="account_id")
sv = m[m.account_type == "Savings"]
num(
    "What is the net flow (credits minus debits) of Savings accounts? Round to two decimals.",
    f,
    sv[sv.direction == "credit"].amount.sum() - sv[sv.direction == "debit"].amount.sum(),
)
num(
    "How many accounts have no transactions at all?",
    f,
    int((~a.account_id.isin(t.account_id)).sum()),
    0,
)
debits = t[t.direction == "debit"]
top(
    "Which category has the largest total debit amount?", f, debits.groupby("category").amount.sum()
)
year = sorted(pd.to_datetime(t.booked_on).dt.year.unique())[1]
num(
    f"What was the largest single debit transaction in {year}?",
    f,
    debits[pd.to_datetime(debits.booked_on).dt.year == year].amount.max(),
)
# finance, SQLite
f = "finance-610021.db"
d = load(f)
m = d["transactions"].merge(d["accounts"], on="account_id")
top(
    "Which branch has the most accounts with at least one transaction?",
    f,
    m.groupby("branch").account_id.nunique(),
)
# education, a folder of CSVs
f = "education-610017"
d = load(f)
e, co = d["enrollments"], d["courses"]
m = e.merge(co, on="course_id")
num(
    "What is the pass rate, in percent, of enrollments in Arts courses? Round to two decimals.",
    f,
    100 * (m[m.faculty == "Arts"].passed == "yes").mean(),
)
num("What is the 90th percentile of grades? Round to two decimals.", f, e.grade.quantile(0.9))
top("Which faculty has the lowest average grade?", f, m.groupby("faculty").grade.mean(), low=True)
# education, SQLite
f = "education-610008.db"
e = load(f)["enrollments"]
num(
    "How many enrollments have an attendance below 50 percent but still passed?",
    f,
    int(((e.attendance_pct < 50) & (e.passed == "yes")).sum()),
    0,
)
# sensors, a folder of CSVs
f = "sensors-610011"
d = load(f)
r, dv = d["readings"], d["devices"]
critical = r[r.alarm == "critical"].merge(dv, on="device_id")
top("Which site has the most critical alarm readings?", f, critical.groupby("site").size())
top(
    "On which date was the average temperature highest? Give the date as YYYY-MM-DD.",
    f,
    r.groupby(r.recorded_at.str[:10]).temperature_c.mean(),
)
num(
    "What is the average humidity of readings whose temperature is above 30 degrees? Round to "
    "two decimals.",
    f,
    r[r.temperature_c > 30].humidity_pct.mean(),
)
# sensors, SQLite
f = "sensors-610002.db"
d = load(f)
m = d["readings"].merge(d["devices"], on="device_id")
top("Which device model recorded the highest vibration?", f, m.groupby("model").vibration.max())
# HR, one CSV
f = "hr-610019.csv"
h = load(f)["hr-610019"]
above = h.salary > h.groupby("department").salary.transform("mean")
num(
    "How many employees earn more than the average salary of their own department?",
    f,
    int(above.sum()),
    0,
)
top(
    "Which level has the highest median performance score?",
    f,
    h.groupby("level").performance_score.median(),
)
pay = h.groupby("remote").salary.mean()
num(
    "How much higher is the average salary of remote employees than of non-remote ones? Round "
    "to two decimals.",
    f,
    pay["yes"] - pay["no"],
)
# HR, XLSX
f = "hr-610001.xlsx"
hired = load(f)["employees"].hire_date.dt.year
num(
    f"How many employees were hired in {hired.max() - 1} or later?",
    f,
    int((hired >= hired.max() - 1).sum()),
    0,
)
# web, one CSV
f = "web-610014.csv"
w = load(f)["web-610014"]
conv = yes(w.converted)
num(
    "What is the conversion rate, in percent, of mobile sessions? Round to two decimals.",
    f,
    100 * conv[w.device == "mobile"].mean(),
)
num(
    "What is the average revenue per converted session from the email source? Round to two "
    "decimals.",
    f,
    w[conv & (w.source == "email")].revenue.mean(),
)
month = w.started_at.str[:7]
top(
    "Which country had the most sessions in the last month of the data?",
    f,
    w[month == month.max()].groupby("country").size(),
)
# web, XLSX
f = "web-610023.xlsx"
w = load(f)["sessions"]
top(
    "Which traffic source has the highest conversion rate?",
    f,
    yes(w.converted).groupby(w.source).mean(),
)
# energy, XLSX and SQLite
f = "energy-610007.xlsx"
d = load(f)
m = d["meter_readings"].merge(d["meters"], on="meter_id")
top("Which district used the most electricity in total?", f, m.groupby("district").kwh.sum())
f = "energy-610016.db"
mr = load(f)["meter_readings"]
num(
    "What is the correlation between outdoor temperature and kWh? Round to three decimals.",
    f,
    mr.outdoor_temp_c.corr(mr.kwh),
    3,
)

write()
